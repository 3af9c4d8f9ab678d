"""Images for the TensorFlow lecture: course images to TF batches, resizing, and a psychedelic stand-in style.

The course's images are torch tensors (C, H, W) or (B, C, H, W) in [0, 1]; TensorFlow wants channels last.
:func:`as_batch` accepts either (and numpy or TF tensors in channels-last layout) and returns a float32
``tf.Tensor`` (N, H, W, 3) in [0, 1], raising ValueError naming what was expected and what came otherwise.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import describe, expect_positive_int


def _channels_last(what: str, image) -> np.ndarray:
    """A torch (C, H, W) / (B, C, H, W) tensor or a numpy / TF (H, W, 3) / (N, H, W, 3) array, as NHWC."""
    if hasattr(image, "detach") and hasattr(image, "cpu"):
        array = image.detach().cpu().float().numpy()
        if array.ndim not in (3, 4) or array.shape[-3] != 3:
            raise ValueError(
                f"{what}: expected a torch tensor (3, H, W) or (B, 3, H, W), got {describe(image)}"
            )
        return np.moveaxis(array, -3, -1).reshape((-1, *array.shape[-2:], 3))
    if isinstance(image, (tf.Tensor, tf.Variable)):
        image = image.numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what}: expected a torch, TF or numpy image, got {describe(image)}")
    if image.ndim not in (3, 4) or image.shape[-1] != 3:
        raise ValueError(f"{what}: expected an array (H, W, 3) or (N, H, W, 3), got {describe(image)}")
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"{what}: expected floats in [0, 1], got dtype {image.dtype}")
    return image.reshape((-1, *image.shape[-3:]))


def as_batch(what: str, image) -> tf.Tensor:
    """``image`` as a float32 tf.Tensor (N, H, W, 3) in [0, 1]; bad layout, dtype or range -> ValueError."""
    array = _channels_last(what, image).astype(np.float32)
    if array.shape[0] == 0 or min(array.shape[1:3]) == 0:
        raise ValueError(f"{what}: expected at least one non-empty image, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: expected finite values in [0, 1], got NaN or inf")
    low, high = float(array.min()), float(array.max())
    if low < -1e-6 or high > 1 + 1e-6:
        raise ValueError(f"{what}: expected values in [0, 1], got values in [{low:.4g}, {high:.4g}]")
    return tf.constant(np.clip(array, 0.0, 1.0))


def resize_max_side(images: tf.Tensor, max_side: int) -> tf.Tensor:
    """Resize (N, H, W, 3) so its longer side is ``max_side`` pixels, keeping the aspect ratio (area-averaged
    when shrinking, bilinear when enlarging); values stay in [0, 1]."""
    expect_positive_int("max_side", max_side)
    images = as_batch("images", images)
    height, width = images.shape[1:3]
    scale = max_side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return tf.clip_by_value(tf.image.resize(images, size, antialias=True), 0.0, 1.0)


def square(images: tf.Tensor, size: int) -> tf.Tensor:
    """The central square crop of (N, H, W, 3), resized to ``size`` x ``size`` (how style images are fed to
    the fast stylization network, which expects 256 x 256 styles)."""
    expect_positive_int("size", size)
    images = as_batch("images", images)
    height, width = images.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = images[:, top : top + side, left : left + side]
    return tf.clip_by_value(tf.image.resize(crop, (size, size), antialias=True), 0.0, 1.0)


def to_course(images) -> np.ndarray:
    """A TF/numpy batch (N, H, W, 3) as the course layout, numpy (N, 3, H, W) in [0, 1] (for ``ck.show``)."""
    array = as_batch("images", images).numpy()
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2))


def psychedelic(size: int = 256, seed: int = 0) -> tf.Tensor:
    """A seeded psychedelic poster (1, size, size, 3): rainbow swirls and ringed bubbles near the border.

    The offline stand-in for the psychedelic poster of Sharma, Sharma & Uplap (Figure 18): saturated colours
    and strong
    local structure, unlike the grey bundled textures.
    """
    expect_positive_int("size", size, minimum=8)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    radius, angle = np.hypot(x, y), np.arctan2(y, x)
    arms, twist = int(rng.integers(3, 7)), rng.uniform(6, 12)
    warp = 0.3 * np.sin(3 * x + rng.uniform(0, 6)) * np.cos(4 * y + rng.uniform(0, 6))
    phase = arms * angle + twist * radius + 4 * warp
    channels = [0.5 + 0.5 * np.sin(phase + shift) for shift in (0.0, 2.1, 4.2)]
    image = np.stack(channels, axis=-1)
    for _ in range(int(rng.integers(12, 20))):
        centre_angle, centre_radius = rng.uniform(0, 2 * np.pi), rng.uniform(0.55, 1.0)
        cx, cy = centre_radius * np.cos(centre_angle), centre_radius * np.sin(centre_angle)
        bubble_radius = rng.uniform(0.05, 0.16)
        distance = np.hypot(x - cx, y - cy) / bubble_radius
        inside = distance < 1
        colour = rng.uniform(0, 1, size=3)
        ring = np.clip(1 - np.abs(distance - 0.85) * 8, 0, 1)[..., None]
        fill = np.where(inside[..., None], 0.6 * colour + 0.4 * (1 - distance[..., None]), image)
        image = fill * (1 - ring) + ring * (1 - colour)
    return tf.constant(np.clip(image, 0, 1).astype(np.float32)[None])
