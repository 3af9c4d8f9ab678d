"""Image degradations for restoration lectures: blur, noise, JPEG, low resolution, quantization, colour
ageing, scratches, inpainting masks and the composite old-photo degradation.

Conventions (shared by every function here):

- Images are float tensors in [0, 1], batched ``(B, C, H, W)``; a single ``(C, H, W)`` image is accepted and
  comes back in the same layout. Outputs keep the input's dtype and device and lie in [0, 1] (clamped).
- Functions are pure: the input is never modified, and randomness comes only from a local
  ``torch.Generator`` seeded by the ``seed`` argument (drawn on the CPU, so a seed gives the same result on
  every device). The same seed gives the same output; the global RNG is never touched.
- Masks are ``(B, 1, H, W)`` float tensors with **mask == 1 where pixels are MISSING** (the hole to fill or
  the scratch to repair) and 0 where the image is known, as in the inpainting and old-photo papers.
- Bad input raises ``ValueError`` naming what was expected and what came (see ``coursekit.errors``).

References: Yeh et al. 2018 (GAN-prior restoration: 32x32 centre hole, x4 down-sampling, Gaussian noise
sigma 0.1, 5 quantization levels); Wan et al. 2020, microsoft/Bringing-Old-Photos-Back-to-Life
(``online_add_degradation_v2``); Yu et al. 2019 (free-form brush-stroke masks).

These are hand-made; the degradation learned by a GAN (Bulat et al. 2018) is
``coursekit.nn.learned_degradation``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F

from .. import rng
from ..errors import describe, expect_choice, expect_positive_int, expect_probability, expect_tensor

__all__ = [
    "DEGRADATIONS",
    "apply",
    "apply_mask",
    "center_mask",
    "color_fade",
    "downsample",
    "gaussian_blur",
    "gaussian_noise",
    "grayscale",
    "irregular_mask",
    "jpeg",
    "low_resolution",
    "old_photo",
    "quantize",
    "resize",
    "salt_pepper_noise",
    "scratches",
    "sepia",
    "speckle_noise",
    "upsample",
]

RESIZE_METHODS = ("bicubic", "bilinear", "area", "nearest")
BT601_LUMA = (0.299, 0.587, 0.114)
SEPIA_MATRIX = (
    (0.393, 0.769, 0.189),
    (0.349, 0.686, 0.168),
    (0.272, 0.534, 0.131),
)
_MAX_STROKES = 100

NumberOrRange = float | int | tuple[float, float]


# ----------------------------------------------------------------------------------------------------------
# validation and small shared helpers


def _values(x):
    """A tensor detached from autograd for checking its values (reading them does not need the graph)."""
    return x.detach() if isinstance(x, torch.Tensor) else x


def _images(
    x, what: str = "images", channels: int | Sequence[int] | None = None
) -> tuple[torch.Tensor, bool]:
    """Check an image tensor and return it as a batch plus whether it came as a single (C, H, W) image."""
    expect_tensor(what, _values(x), ndim=(3, 4), channels=channels, value_range=(0.0, 1.0))
    return (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)


def _work(x: torch.Tensor) -> torch.Tensor:
    """The tensor in the precision we compute in: float64 stays float64, everything else float32."""
    return x if x.dtype == torch.float64 else x.float()


def _finish(y: torch.Tensor, like: torch.Tensor, single: bool) -> torch.Tensor:
    """Clamp to [0, 1], restore the input dtype and the input layout."""
    y = y.clamp(0.0, 1.0).to(like.dtype)
    return y[0] if single else y


def _expect_number(what: str, value, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{what}: expected a number >= {minimum:g}, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{what}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def _expect_int_in(what: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{what}: expected an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{what}: expected an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def _is_range(value) -> bool:
    return isinstance(value, (tuple, list))


def _expect_range(what: str, value, check: Callable[[str, object], float]) -> tuple[float, float]:
    """Check a ``(lo, hi)`` pair whose ends each pass ``check`` and satisfy lo <= hi."""
    if len(value) != 2:
        raise ValueError(f"{what}: expected a number or a (lo, hi) pair, got {value!r}")
    lo, hi = check(f"{what} low end", value[0]), check(f"{what} high end", value[1])
    if lo > hi:
        raise ValueError(f"{what}: expected a (lo, hi) pair with lo <= hi, got {value!r}")
    return lo, hi


def _per_image(
    what: str, value, batch: int, gen: torch.Generator | None, check: Callable[[str, object], float]
) -> torch.Tensor:
    """One value per image: ``value`` itself, or draws from U(lo, hi) if ``value`` is a ``(lo, hi)`` pair."""
    if not _is_range(value):
        return torch.full((batch,), check(what, value), dtype=torch.float64)
    lo, hi = _expect_range(what, value, check)
    if gen is None:
        raise ValueError(f"{what}: a (lo, hi) range draws a value per image and needs a seed, got seed=None")
    return rng.uniform(gen, lo, hi, (batch,))


def _size(what: str, size) -> tuple[int, int]:
    """``size`` as (H, W): an int means a square."""
    if _is_range(size) and len(size) == 2:
        return expect_positive_int(f"{what} height", size[0]), expect_positive_int(f"{what} width", size[1])
    if not isinstance(size, bool) and isinstance(size, Integral):
        side = expect_positive_int(what, int(size))
        return side, side
    raise ValueError(f"{what}: expected an int or an (H, W) pair of ints, got {size!r}")


def _luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B of a (B, 3, H, W) batch (1 channel is luma)."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(BT601_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


# ----------------------------------------------------------------------------------------------------------
# blur


def _reflect_indices(n: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices that pad a length-``n`` axis by ``pad`` on each side with reflection (edge not repeated).

    Works for any ``pad``, even wider than the image, by reflecting back and forth (period 2 (n - 1)).
    """
    idx = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = idx.remainder(period)
    return torch.where(idx >= n, period - idx, idx)


def _gaussian_kernels(sigmas: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised 1-D Gaussian kernels, one row per sigma; sigma 0 gives the identity (a delta)."""
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    s = sigmas.view(-1, 1)
    k = torch.exp(-(t**2) / (2 * s.clamp_min(1e-12) ** 2))
    k = torch.where(s > 0, k, (t == 0).to(torch.float64).expand_as(k))
    return k / k.sum(dim=1, keepdim=True)


def gaussian_blur(
    x: torch.Tensor, sigma: NumberOrRange, kernel_size: int | None = None, seed: int | None = None
) -> torch.Tensor:
    """Gaussian blur: a separable convolution (rows, then columns) with reflect padding.

    ``sigma`` is in pixels; a ``(lo, hi)`` pair draws one sigma per image from U(lo, hi) and needs ``seed``.
    ``kernel_size`` (odd) defaults to 2 * ceil(3 * sigma_max) + 1, which holds 99.7% of the Gaussian.
    """
    xb, single = _images(x)
    gen = rng.generator(seed) if seed is not None else None
    sigmas = _per_image("sigma", sigma, xb.shape[0], gen, _expect_number)
    if kernel_size is None:
        kernel_size = 2 * math.ceil(3 * float(sigmas.max())) + 1
    elif expect_positive_int("kernel_size", kernel_size) % 2 == 0:
        raise ValueError(f"kernel_size: expected an odd integer >= 1, got {kernel_size!r}")
    b, c, h, w = xb.shape
    work = _work(xb)
    kernels = _gaussian_kernels(sigmas, int(kernel_size)).to(work).repeat_interleave(c, dim=0)
    pad = int(kernel_size) // 2
    flat = work.reshape(1, b * c, h, w)
    flat = flat.index_select(3, _reflect_indices(w, pad, work.device))
    flat = F.conv2d(flat, kernels.view(b * c, 1, 1, -1), groups=b * c)
    flat = flat.index_select(2, _reflect_indices(h, pad, work.device))
    flat = F.conv2d(flat, kernels.view(b * c, 1, -1, 1), groups=b * c)
    return _finish(flat.view(b, c, h, w), x, single)


# ----------------------------------------------------------------------------------------------------------
# noise


def _normal_like(work: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(work.shape, generator=gen, dtype=work.dtype).to(work.device)


def gaussian_noise(x: torch.Tensor, sigma: NumberOrRange, seed: int) -> torch.Tensor:
    """Additive white Gaussian noise ``x + sigma * n``, n ~ N(0, 1), clamped to [0, 1].

    ``sigma`` is on the [0, 1] intensity scale (the GAN-prior paper uses 0.1; 25/255 is a classic level);
    a ``(lo, hi)`` pair draws one sigma per image.
    """
    xb, single = _images(x)
    gen = rng.generator(seed)
    work = _work(xb)
    sigmas = _per_image("sigma", sigma, xb.shape[0], gen, _expect_number).to(work).view(-1, 1, 1, 1)
    return _finish(work + sigmas * _normal_like(work, gen), x, single)


def speckle_noise(x: torch.Tensor, sigma: NumberOrRange, seed: int) -> torch.Tensor:
    """Multiplicative (speckle) noise ``x + x * n``, n ~ N(0, sigma^2): brighter pixels get more noise."""
    xb, single = _images(x)
    gen = rng.generator(seed)
    work = _work(xb)
    sigmas = _per_image("sigma", sigma, xb.shape[0], gen, _expect_number).to(work).view(-1, 1, 1, 1)
    return _finish(work + work * sigmas * _normal_like(work, gen), x, single)


def salt_pepper_noise(x: torch.Tensor, amount: float, seed: int, salt_ratio: float = 0.5) -> torch.Tensor:
    """Impulse noise: each value (pixel and channel independently, as in the old-photo reference) is
    replaced with probability ``amount``, by 1 (salt) with probability ``salt_ratio`` and otherwise by 0."""
    xb, single = _images(x)
    amount = expect_probability("amount", amount)
    salt_ratio = expect_probability("salt_ratio", salt_ratio)
    gen = rng.generator(seed)
    work = _work(xb)
    flipped = (torch.rand(work.shape, generator=gen) < amount).to(work.device)
    salted = (torch.rand(work.shape, generator=gen) < salt_ratio).to(work.device)
    out = torch.where(flipped, salted.to(work.dtype), work)
    return _finish(out, x, single)


# ----------------------------------------------------------------------------------------------------------
# compression, resolution, quantization


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode one uint8 (H, W) or (H, W, 3) array with Pillow's JPEG codec."""
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(image))
    with io.BytesIO() as buffer:
        pil.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert(pil.mode))


def _expect_quality(what: str, value) -> float:
    return float(_expect_int_in(what, value, 1, 100))


def jpeg(x: torch.Tensor, quality: int | tuple[int, int], seed: int | None = None) -> torch.Tensor:
    """A real JPEG round trip through Pillow, image by image (1 channel as 'L', 3 channels as 'RGB').

    ``quality`` is an integer 1..100 (Pillow's scale: 95 is near-lossless, 10 is blocky); a ``(lo, hi)``
    pair draws one integer quality per image and needs ``seed``. The round trip also quantizes to 8 bits.
    """
    xb, single = _images(x, channels=(1, 3))
    gen = rng.generator(seed) if seed is not None else None
    if _is_range(quality):
        lo, hi = (int(q) for q in _expect_range("quality", quality, _expect_quality))
        if gen is None:
            raise ValueError(
                "quality: a (lo, hi) range draws a quality per image and needs a seed, got seed=None"
            )
        qualities = [rng.randint(gen, lo, hi) for _ in range(xb.shape[0])]
    else:
        qualities = [int(_expect_quality("quality", quality))] * xb.shape[0]
    pixels = (xb.detach().float().cpu() * 255).round().to(torch.uint8)
    pixels = pixels[:, 0] if xb.shape[1] == 1 else pixels.permute(0, 2, 3, 1)
    decoded = np.stack([_jpeg_round_trip(img.numpy(), q) for img, q in zip(pixels, qualities, strict=True)])
    out = torch.from_numpy(decoded).to(torch.float32) / 255
    out = out.unsqueeze(1) if xb.shape[1] == 1 else out.permute(0, 3, 1, 2)
    return _finish(out.to(xb.device), x, single)


def resize(x: torch.Tensor, size: int | tuple[int, int], method: str = "bicubic") -> torch.Tensor:
    """Resize to ``size`` (H, W) with ``torch.nn.functional.interpolate``.

    'bicubic' and 'bilinear' are antialiased (``antialias=True``: the kernel is stretched when shrinking, like
    PIL/MATLAB ``imresize``), 'area' averages blocks, 'nearest' copies pixels. Bicubic overshoot is clamped.
    """
    xb, single = _images(x)
    method = expect_choice("resize method", method, RESIZE_METHODS)
    h, w = _size("size", size)
    work = _work(xb)
    if method in ("bicubic", "bilinear"):
        out = F.interpolate(work, size=(h, w), mode=method, align_corners=False, antialias=True)
    else:
        out = F.interpolate(work, size=(h, w), mode=method)
    return _finish(out, x, single)


def _scaled(n: int, scale: float) -> int:
    return max(1, math.floor(n * scale + 1e-9))


def downsample(x: torch.Tensor, scale: float, method: str = "bicubic") -> torch.Tensor:
    """Shrink by the factor ``scale`` >= 1 (scale 4: 64x64 -> 16x16), antialiased 'bicubic' or 'area'."""
    _, single = _images(x)
    scale = _expect_number("scale", scale, minimum=1.0)
    method = expect_choice("downsample method", method, ("bicubic", "area"))
    h, w = x.shape[-2:]
    return resize(x, (_scaled(h, 1 / scale), _scaled(w, 1 / scale)), method)


def upsample(x: torch.Tensor, scale: float, method: str = "bicubic") -> torch.Tensor:
    """Enlarge by the factor ``scale`` >= 1 (scale 4: 16x16 -> 64x64): 'bicubic', 'bilinear' or 'nearest'."""
    _images(x)
    scale = _expect_number("scale", scale, minimum=1.0)
    method = expect_choice("upsample method", method, ("bicubic", "bilinear", "nearest"))
    h, w = x.shape[-2:]
    return resize(x, (_scaled(h, scale), _scaled(w, scale)), method)


def low_resolution(x: torch.Tensor, scale: float, method: str = "bicubic") -> torch.Tensor:
    """Lose detail but keep the size: ``downsample`` by ``scale`` then bicubic back to the original size.

    This is the super-resolution corruption A of the GAN-prior paper (x4) shown at full size.
    """
    _images(x)
    h, w = x.shape[-2:]
    return resize(downsample(x, scale, method), (h, w), "bicubic")


def quantize(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Uniform quantization to ``levels`` values per channel: round(x (L - 1)) / (L - 1).

    The GAN-prior paper uses 5 levels (values 0, 0.25, 0.5, 0.75, 1).
    """
    xb, single = _images(x)
    steps = expect_positive_int("levels", levels, minimum=2) - 1
    work = _work(xb)
    return _finish(torch.round(work * steps) / steps, x, single)


# ----------------------------------------------------------------------------------------------------------
# colour


def grayscale(x: torch.Tensor, keep_channels: bool = True) -> torch.Tensor:
    """ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B (what PIL's ``convert('L')`` uses).

    With ``keep_channels`` an RGB input stays 3 channels (Y copied to R, G and B), otherwise 1 channel.
    A 1-channel input is already grey and comes back unchanged (as a copy).
    """
    xb, single = _images(x, channels=(1, 3))
    y = _luma(_work(xb))
    if keep_channels:
        y = y.expand(-1, xb.shape[1], -1, -1)
    return _finish(y, x, single)


def color_fade(x: torch.Tensor, amount: float) -> torch.Tensor:
    """Fading of an old print: colours wash out and contrast drops towards a light paper grey.

    out = (1 - a) x + a (0.3 + 0.6 Y), with Y the BT.601 luma: at a = 1 the image is grey, blacks are lifted
    to 0.3 and whites dimmed to 0.9.
    """
    xb, single = _images(x, channels=(1, 3))
    amount = expect_probability("amount", amount)
    work = _work(xb)
    faded = 0.3 + 0.6 * _luma(work)
    return _finish((1 - amount) * work + amount * faded, x, single)


def sepia(x: torch.Tensor, amount: float = 1.0) -> torch.Tensor:
    """Sepia toning with the standard sepia matrix (rows R', G', B' = SEPIA_MATRIX @ RGB), blended by
    ``amount``: out = clamp((1 - a) x + a M x). White becomes a warm (1, 1, 0.94)."""
    xb, single = _images(x, channels=3)
    amount = expect_probability("amount", amount)
    work = _work(xb)
    matrix = torch.tensor(SEPIA_MATRIX, dtype=work.dtype, device=work.device)
    toned = torch.einsum("oc,bchw->bohw", matrix, work)
    return _finish((1 - amount) * work + amount * toned, x, single)


# ----------------------------------------------------------------------------------------------------------
# geometry: distance to polylines (scratches and brush strokes)


def _pixel_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ys = torch.arange(h, dtype=torch.float32, device=device).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32, device=device).view(1, w)
    return ys, xs


def _polyline_distance(points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Distance from every pixel to polylines: points (..., P, 2) as (y, x) -> (..., H, W).

    Vectorised over the leading dims; the loop runs over the P - 1 segments, keeping the running minimum of
    the point-to-segment distance |p - (a + t (b - a))|, t = clamp(<p - a, b - a> / |b - a|^2, 0, 1).
    """
    ys, xs = _pixel_grid(h, w, points.device)
    # the running minimum starts at infinity (a polyline of one point has no segment)
    best = torch.full((*points.shape[:-2], h, w), math.inf, device=points.device)
    for a, b in zip(points.unbind(-2)[:-1], points.unbind(-2)[1:], strict=True):
        ay, ax = a[..., 0, None, None], a[..., 1, None, None]
        dy, dx = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]
        t = (((ys - ay) * dy + (xs - ax) * dx) / (dy**2 + dx**2).clamp_min(1e-12)).clamp(0.0, 1.0)
        d = torch.hypot(ys - ay - t * dy, xs - ax - t * dx)
        best = torch.minimum(best, d)
    return best


def _bezier(start: torch.Tensor, control: torch.Tensor, end: torch.Tensor, segments: int) -> torch.Tensor:
    """Quadratic Bezier curves sampled at ``segments + 1`` points: (..., 2) each -> (..., segments + 1, 2)."""
    t = torch.linspace(0, 1, segments + 1, dtype=start.dtype).view(-1, 1)
    s, c, e = start.unsqueeze(-2), control.unsqueeze(-2), end.unsqueeze(-2)
    return (1 - t) ** 2 * s + 2 * (1 - t) * t * c + t**2 * e


def scratches(
    x: torch.Tensor,
    n: int,
    seed: int,
    width: NumberOrRange = (1.0, 2.5),
    bright_fraction: float = 0.75,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` thin random scratches on each image, like the cracks and scratches of old prints.

    Each scratch is a long, gently curved line (a quadratic Bezier) of ``width`` pixels (a ``(lo, hi)`` pair
    draws one width per scratch); it is bright (paper showing through, probability ``bright_fraction``) or
    dark, drawn with an antialiased edge and an opacity in [0.6, 1]. Distances from every pixel to every
    curve are computed at once on the pixel grid. Returns ``(scratched images, mask)``, mask (B, 1, H, W)
    with 1 where a scratch covers the pixel (the pixels a restoration model must fill).
    """
    xb, single = _images(x)
    n = expect_positive_int("n", n, minimum=0)
    bright_fraction = expect_probability("bright_fraction", bright_fraction)
    gen = rng.generator(seed)
    if _is_range(width):
        lo, hi = _expect_range("width", width, _expect_number)
    else:
        lo = hi = _expect_number("width", width)
    b, _, h, w = xb.shape
    extent = torch.tensor([h, w], dtype=torch.float64)
    start = torch.rand((b, n, 2), generator=gen, dtype=torch.float64) * extent
    angle = rng.uniform(gen, 0.0, math.pi, (b, n))
    length = rng.uniform(gen, 0.3, 1.0, (b, n)) * max(h, w)
    direction = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)
    normal = torch.stack([-direction[..., 1], direction[..., 0]], dim=-1)
    end = start + length[..., None] * direction
    bend = rng.uniform(gen, -0.15, 0.15, (b, n)) * length
    control = (start + end) / 2 + bend[..., None] * normal
    widths = rng.uniform(gen, lo, hi, (b, n))
    bright = torch.rand((b, n), generator=gen) < bright_fraction
    values = torch.where(bright, rng.uniform(gen, 0.85, 1.0, (b, n)), rng.uniform(gen, 0.0, 0.15, (b, n)))
    opacity = rng.uniform(gen, 0.6, 1.0, (b, n))

    work = _work(xb)
    distance = _polyline_distance(_bezier(start, control, end, 8).to(work.device, torch.float32), h, w)
    cover = (widths.to(distance).view(b, n, 1, 1) / 2 + 0.5 - distance).clamp(0.0, 1.0)
    alphas = (cover * opacity.to(cover).view(b, n, 1, 1)).to(work.dtype)
    values = values.to(work.device, work.dtype)
    out = work
    for j in range(n):
        alpha = alphas[:, j : j + 1]
        out = out * (1 - alpha) + values[:, j].view(b, 1, 1, 1) * alpha
    mask = (cover >= 0.5).any(dim=1, keepdim=True).to(x.dtype)
    return _finish(out, x, single), (mask[0] if single else mask)


# ----------------------------------------------------------------------------------------------------------
# inpainting masks (mask == 1 where pixels are MISSING)


def center_mask(size: int | tuple[int, int], hole: int, batch: int = 1) -> torch.Tensor:
    """A centred square hole: (batch, 1, H, W) float, 1 on the ``hole`` x ``hole`` missing pixels.

    The GAN-prior inpainting experiment uses a 32x32 hole in a 64x64 face: ``center_mask(64, 32)``.
    """
    h, w = _size("size", size)
    hole = expect_positive_int("hole", hole)
    batch = expect_positive_int("batch", batch)
    if hole > min(h, w):
        raise ValueError(f"hole: expected a side <= the image side {min(h, w)}, got {hole}")
    top, left = (h - hole) // 2, (w - hole) // 2
    mask = torch.zeros(batch, 1, h, w)
    mask[:, :, top : top + hole, left : left + hole] = 1.0
    return mask


def _expect_coverage(what: str, value) -> float:
    value = expect_probability(what, value)
    if value > 0.8:
        raise ValueError(f"{what}: expected a fraction in [0, 0.8], got {value!r}")
    return value


def _brush_strokes(batch: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """One random free-form brush stroke per image (Yu et al. 2019 style): (batch, H, W) bool.

    A random walk of 4 segments that turns by up to 90 degrees per step, each 8-20% of the image side,
    painted with a round brush 4-9% of the side wide (at least 1.5 px).
    """
    side = max(h, w)
    start = torch.rand((batch, 2), generator=gen, dtype=torch.float64) * torch.tensor([h - 1, w - 1])
    heading = rng.uniform(gen, 0.0, 2 * math.pi, (batch,))
    turns = rng.uniform(gen, -math.pi / 2, math.pi / 2, (batch, 4)).cumsum(dim=1) + heading[:, None]
    steps = rng.uniform(gen, 0.08, 0.2, (batch, 4)) * side
    moves = torch.stack([torch.sin(turns), torch.cos(turns)], dim=-1) * steps[..., None]
    points = torch.cat([start[:, None], start[:, None] + moves.cumsum(dim=1)], dim=1)
    points = torch.minimum(points.clamp_min(0.0), torch.tensor([h - 1.0, w - 1.0], dtype=torch.float64))
    radius = (rng.uniform(gen, 0.04, 0.09, (batch,)) * min(h, w)).clamp_min(1.5) / 2
    return _polyline_distance(points.float(), h, w) <= radius.float().view(-1, 1, 1)


def irregular_mask(
    batch: int,
    size: int | tuple[int, int],
    seed: int,
    coverage: NumberOrRange = (0.1, 0.3),
) -> torch.Tensor:
    """Free-form inpainting masks made of random brush strokes: (batch, 1, H, W) float, 1 = MISSING.

    Each image draws a target fraction from ``coverage`` (a number or a ``(lo, hi)`` pair, at most 0.8) and
    receives strokes until its missing fraction reaches the target, so the coverage lands at or just above
    the target (one stroke more at most; up to 100 strokes).
    """
    batch = expect_positive_int("batch", batch)
    h, w = _size("size", size)
    gen = rng.generator(seed)
    targets = _per_image("coverage", coverage, batch, gen, _expect_coverage).float()
    mask = torch.zeros(batch, h, w, dtype=torch.bool)
    for _ in range(_MAX_STROKES):
        active = mask.float().mean(dim=(1, 2)) < targets
        if not active.any():
            break
        mask |= _brush_strokes(batch, h, w, gen) & active.view(-1, 1, 1)
    return mask.unsqueeze(1).float()


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Blank the missing pixels: x (1 - mask) + fill mask, with mask == 1 where pixels are MISSING.

    ``mask`` is (B, 1, H, W) or (1, 1, H, W) for a batch, (1, H, W) for a single image; values in [0, 1]
    (soft masks blend). It is moved to the images' device and dtype.
    """
    xb, single = _images(x)
    expect_tensor("mask", _values(mask), ndim=x.ndim, value_range=(0.0, 1.0))
    fill = expect_probability("fill", fill)
    mb = mask.unsqueeze(0) if single else mask
    if mb.shape[1] != 1 or mb.shape[-2:] != xb.shape[-2:] or mb.shape[0] not in (1, xb.shape[0]):
        batch = f"{xb.shape[0]} or 1" if xb.shape[0] > 1 else "1"
        expected = f"({batch}, 1, {xb.shape[2]}, {xb.shape[3]})"
        raise ValueError(f"mask: expected shape {expected} to match the images, got {describe(mask)}")
    work = _work(xb)
    mb = mb.to(work.device, work.dtype)
    return _finish(work * (1 - mb) + fill * mb, x, single)


# ----------------------------------------------------------------------------------------------------------
# the composite old-photo degradation


def _old_blur(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    kernel_size = (3, 5, 7)[rng.randint(gen, 0, 2)]
    return gaussian_blur(img, rng.uniform_float(gen, 1.0, 5.0), kernel_size=kernel_size)


def _old_noise(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    kind = rng.randint(gen, 0, 2)
    if kind == 2:
        amount, salt = rng.uniform_float(gen, 0.0, 0.01), rng.uniform_float(gen, 0.3, 0.8)
        return salt_pepper_noise(img, amount, rng.sub_seed(gen), salt_ratio=salt)
    sigma = rng.uniform_float(gen, 5.0, 50.0) / 255
    noise = gaussian_noise if kind == 0 else speckle_noise
    return noise(img, sigma, rng.sub_seed(gen))


def _old_low_resolution(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    h, w = img.shape[-2:]
    small = (rng.randint(gen, max(1, h // 2), h), rng.randint(gen, max(1, w // 2), w))
    back = ("nearest", "bilinear")[rng.randint(gen, 0, 1)]
    return resize(resize(img, small, "bicubic"), (h, w), back)


def _old_jpeg(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return jpeg(img, rng.randint(gen, 40, 100))


_OLD_PHOTO_STEPS = (_old_blur, _old_noise, _old_low_resolution, _old_jpeg)


def old_photo(x: torch.Tensor, seed: int, p: float = 0.7, gray_p: float = 0.1) -> torch.Tensor:
    """Synthetic old-photo degradation after ``online_add_degradation_v2`` (Wan et al. 2020).

    Per image, in a random order, each step happens with probability ``p``:
    blur (kernel 3, 5 or 7, sigma ~ U(1, 5)); noise (Gaussian or speckle with sigma ~ U(5, 50)/255, or
    salt-and-pepper with amount ~ U(0, 0.01)); low resolution (bicubic down to U(H/2, H) x U(W/2, W), back
    with nearest or bilinear); JPEG with quality 40..100. Then with probability ``gray_p`` the image turns
    grey (3 channels kept). Every image draws its own steps from the one seeded generator.
    Scratches are separate: see ``scratches``.
    """
    xb, single = _images(x, channels=(1, 3))
    p = expect_probability("p", p)
    gray_p = expect_probability("gray_p", gray_p)
    gen = rng.generator(seed)
    out = []
    for img in xb.split(1):
        for step in torch.randperm(len(_OLD_PHOTO_STEPS), generator=gen).tolist():
            if rng.uniform_float(gen, 0.0, 1.0) < p:
                img = _OLD_PHOTO_STEPS[step](img, gen)
        if rng.uniform_float(gen, 0.0, 1.0) < gray_p:
            img = grayscale(img)
        out.append(img)
    return _finish(torch.cat(out), x, single)


# ----------------------------------------------------------------------------------------------------------
# registry

DEGRADATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian_blur": gaussian_blur,
    "gaussian_noise": gaussian_noise,
    "speckle_noise": speckle_noise,
    "salt_pepper_noise": salt_pepper_noise,
    "jpeg": jpeg,
    "downsample": downsample,
    "upsample": upsample,
    "low_resolution": low_resolution,
    "quantize": quantize,
    "grayscale": grayscale,
    "color_fade": color_fade,
    "sepia": sepia,
    "old_photo": old_photo,
}
"""Image -> image degradations by name. ``scratches`` and the masks are left out: they return masks too."""


def apply(name: str, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """Apply the degradation called ``name``, e.g. ``apply("jpeg", x, quality=10)`` (a gallery by name)."""
    return DEGRADATIONS[expect_choice("degradation", name, list(DEGRADATIONS))](x, **kwargs)
