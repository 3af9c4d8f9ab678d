"""Photos and textures bundled with scikit-image and scikit-learn, plus patch and LR/HR pair sampling.

The photos are split by image, once and for all, so a model evaluated on the test split has never seen any
part of those pictures:

- train: astronaut, rocket, motorcycle (left view of ``stereo_motorcycle``), hubble_deep_field,
  immunohistochemistry, china
- test (held out, never trained on): chelsea (a cat), coffee (a cup), flower

Textures (brick, grass, gravel: grayscale, repeated to 3 channels) serve as offline style images.
Every image is a float32 (3, H, W) tensor in [0, 1] at its own size.

``photos(split, source="auto")`` uses DIV2K instead (Agustsson & Timofte 2017: train = DIV2K train HR, test =
DIV2K validation HR, the SR literature's training set), read straight from the registry's zip files. The
downloads are large (3.5 GB / 450 MB), so the default is the bundled photos; ``max_images`` bounds memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import expect_choice, expect_positive_int, expect_tensor
from .download import announce, resolve
from .registry import entry

TRAIN_PHOTOS = ("astronaut", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry", "china")
TEST_PHOTOS = ("chelsea", "coffee", "flower")
TEXTURES = ("brick", "grass", "gravel")
SPLITS = ("train", "test", "all")
SOURCES = ("bundled", "auto", "online", "offline")
DIV2K_ENTRIES = {
    "train": ("div2k_train_hr",),
    "test": ("div2k_valid_hr",),
    "all": ("div2k_train_hr", "div2k_valid_hr"),
}
DIV2K_MAX_IMAGES = 32


@dataclass
class Photos:
    """Named images of their own sizes: ``images[i]`` is (3, H_i, W_i) float32 in [0, 1]."""

    names: list[str]
    images: list[torch.Tensor]
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]

    def by_name(self, name: str) -> torch.Tensor:
        """The image called ``name``."""
        return self.images[self.names.index(expect_choice("image", name, self.names))]


def _load_array(name: str) -> np.ndarray:
    """One bundled image as a uint8 (H, W) or (H, W, 3) array; no network is used."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) or (H, W, 3) -> float32 (3, H, W) in [0, 1] (gray repeated to 3 channels)."""
    image = torch.from_numpy(np.array(array, dtype=np.float32)) / 255.0
    if image.ndim == 2:
        return image.unsqueeze(0).repeat(3, 1, 1)
    return image[..., :3].permute(2, 0, 1).contiguous()


def _bundled(split: str) -> Photos:
    chosen = {"train": TRAIN_PHOTOS, "test": TEST_PHOTOS, "all": TRAIN_PHOTOS + TEST_PHOTOS}[split]
    images = [_to_tensor(_load_array(name)) for name in chosen]
    what = (
        f"scikit-image + scikit-learn bundled photos, {split} split ({len(chosen)} images: "
        f"{', '.join(chosen)})"
    )
    announce("photos", what)
    return Photos(list(chosen), images, what)


def _open_zip(path: Path, expected: str) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)``, or a ValueError naming ``expected`` when the file is not a complete zip."""
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        size = path.stat().st_size if path.exists() else 0
        raise ValueError(
            f"{path}: expected {expected}, got {size:,} bytes that are not a complete zip ({error}); "
            "delete the file and download it again"
        ) from None


def _zip_pngs(path: Path, limit: int) -> tuple[list[str], list[torch.Tensor]]:
    """The first ``limit`` PNGs of a zip (by name), decoded without extracting the archive."""
    from PIL import Image

    archive = _open_zip(path, "a zip archive of PNGs (DIV2K_*_HR/0001.png ...)")
    with archive:
        every = archive.namelist()
        members = sorted(m for m in every if m.lower().endswith(".png"))[:limit]
        if not members:
            files = [m for m in every if not m.endswith("/")]
            raise ValueError(
                f"{path}: expected PNG images in the DIV2K zip, found none ({len(files)} member"
                f"{'' if len(files) == 1 else 's'}: {', '.join(files[:3]) or 'empty'})"
            )
        images = []
        for member in members:
            with archive.open(member) as handle, Image.open(handle) as picture:
                images.append(_to_tensor(np.asarray(picture.convert("RGB"))))
    return [Path(m).stem for m in members], images


def _div2k(split: str, source: str, max_images: int) -> Photos | None:
    """DIV2K images of ``split`` from the registry (None after a one-line notice when unavailable)."""
    names: list[str] = []
    images: list[torch.Tensor] = []
    for name in DIV2K_ENTRIES[split]:
        folder = resolve(name, source, dataset="photos (DIV2K)")
        if folder is None:
            return None
        found = _zip_pngs(folder / entry(name).files[0].filename, max_images - len(images))
        names += found[0]
        images += found[1]
        if len(images) >= max_images:
            break
    what = f"DIV2K HR, {split} split ({len(images)} images, max_images={max_images})"
    announce("photos", what)
    return Photos(names, images, what)


def photos(split: str = "train", source: str = "bundled", max_images: int = DIV2K_MAX_IMAGES) -> Photos:
    """Photos of one split: 'train', 'test' or 'all' (held-out test images are never in train).

    ``source``: 'bundled' (default; scikit-image / scikit-learn photos, no network), 'auto' (DIV2K when
    cached or reachable, else the bundled photos after a one-line notice), 'online' (DIV2K or an error),
    'offline' (bundled). DIV2K keeps the first ``max_images`` images of the split (a 2K image is ~33 MB as
    float32).
    """
    expect_choice("split", split, SPLITS)
    expect_choice("photos source", source, SOURCES)
    expect_positive_int("max_images", max_images)
    if source in ("auto", "online"):
        found = _div2k(split, source, max_images)
        if found is not None:
            return found
    return _bundled(split)


def textures() -> Photos:
    """scikit-image's brick, grass and gravel textures (512x512 grayscale, repeated to 3 channels)."""
    images = [_to_tensor(_load_array(name)) for name in TEXTURES]
    what = "scikit-image bundled textures (brick, grass, gravel; 512x512 grayscale -> 3 channels)"
    announce("textures", what)
    return Photos(list(TEXTURES), images, what)


def _image_list(images) -> list[torch.Tensor]:
    """Accept a Photos, a list of (C, H, W) tensors or a (B, C, H, W) tensor; check each image."""
    if isinstance(images, Photos):
        images = images.images
    if isinstance(images, torch.Tensor):
        expect_tensor("images", images, ndim=4, value_range=(0, 1))
        return list(images)
    if not isinstance(images, Sequence) or not images:
        raise (ValueError if isinstance(images, Sequence) else TypeError)(
            f"images: expected a non-empty list of (C, H, W) tensors or a (B, C, H, W) tensor, "
            f"got {type(images).__name__}"
        )
    return [expect_tensor(f"images[{i}]", im, ndim=3, value_range=(0, 1)) for i, im in enumerate(images)]


def random_patches(images, n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` random size x size crops (n, C, size, size): an image chosen uniformly, then a uniform position.

    Raises ValueError if any image is smaller than ``size`` on either side.
    """
    expect_positive_int("n", n)
    expect_positive_int("size", size)
    pool = _image_list(images)
    small = [(i, tuple(im.shape[-2:])) for i, im in enumerate(pool) if min(im.shape[-2:]) < size]
    if small:
        raise ValueError(
            f"random_patches: expected every image to be at least {size}x{size}, got image "
            f"{small[0][0]} of size {small[0][1][0]}x{small[0][1][1]}"
        )
    generator = torch.Generator().manual_seed(seed)
    choice = torch.randint(len(pool), (n,), generator=generator).tolist()
    corner = torch.rand(n, 2, generator=generator)
    patches = []
    for k, i in enumerate(choice):
        height, width = pool[i].shape[-2:]
        top = int(corner[k, 0] * (height - size + 1))
        left = int(corner[k, 1] * (width - size + 1))
        patches.append(pool[i][:, top : top + size, left : left + size])
    return torch.stack(patches)


def downsample(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic, antialiased downsampling of (B, C, H, W) by an integer ``scale``, clamped to [0, 1] (the
    'bicubic degradation' of SR benchmarks, as MATLAB's imresize)."""
    height, width = images.shape[-2:]
    small = (height // scale, width // scale)
    return F.interpolate(images, size=small, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def lr_hr_pairs(
    images, n: int, hr_size: int, scale: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` super-resolution training pairs: hr (n, C, hr_size, hr_size) random crops and lr (n, C,
    hr_size/scale, hr_size/scale) their bicubic antialiased downsamples. ``hr_size`` must be divisible by
    ``scale``."""
    expect_positive_int("scale", scale, minimum=2)
    expect_positive_int("hr_size", hr_size)
    if hr_size % scale:
        raise ValueError(f"hr_size: expected a multiple of scale {scale}, got {hr_size}")
    hr = random_patches(images, n, hr_size, seed)
    return downsample(hr, scale), hr
