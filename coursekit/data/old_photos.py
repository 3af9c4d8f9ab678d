"""The three domains of old-photo restoration (Wan et al. 2020): clean Y, synthetic old X and "real old" R.

- **Y** (clean): photo patches from the bundled photos (train / held-out test split, see
  :mod:`coursekit.data.photos`) and procedural faces (:mod:`coursekit.data.faces`), mixed.
- **X** (synthetic old, ``synthetic_old``): the paper's degradation synthesis (``online_add_degradation_v2``,
  implemented in :func:`coursekit.data.degrade.old_photo`: random order of blur, noise, low resolution and
  JPEG, each with p = 0.7, 10% grayscale), then colour fading (p = 0.5) and thin scratches (p = 0.5).
  This is what a restoration model is trained on, paired with Y.
- **R** ("real old", ``real_old``): a stand-in for scanned old prints, made with a DIFFERENT mix that no model
  sees during supervised training: lens softness, a faded tone curve, strong sepia toning, vignetting,
  monochrome film grain (spatially correlated, stronger in the shadows), heavy scratches and dust, with
  parameters drawn per image from ranges the models never learn. Real old photos have no ground truth; this
  stand-in keeps it, so the *domain gap* (how much worse a model does on R than on X) can be measured.

Every function is a pure function of its seed (a local CPU ``torch.Generator``). Masks follow
:mod:`coursekit.data.degrade`: (B, 1, H, W), 1 where a scratch or speck covers the pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import rng
from ..errors import expect_choice, expect_positive_int, expect_probability, expect_tensor
from ..metrics import gaussian_window
from . import degrade

__all__ = [
    "OldPhotoDomains",
    "clean_images",
    "dust",
    "film_grain",
    "make_domains",
    "real_old",
    "synthetic_old",
    "vignette",
]

SOURCES = ("photos", "faces", "mixed")
PHOTO_SHRINK = 2  # photos are halved before cropping, so a small patch holds a recognisable structure


def _check_batch(what: str, x: torch.Tensor) -> torch.Tensor:
    expect_tensor(what, x, ndim=4, channels=3, value_range=(0.0, 1.0))
    return x


# ------------------------------------------------------------------------------------------------ clean Y
def _photo_patches(split: str, n: int, size: int, seed: int) -> torch.Tensor:
    from .photos import photos, random_patches

    pool = photos(split).images
    pool = [F.interpolate(im[None], scale_factor=1 / PHOTO_SHRINK, mode="area")[0] for im in pool]
    return random_patches(pool, n, size, seed=seed).clamp(0, 1)


def _faces(split: str, n: int, size: int, seed: int, faces_source: str = "auto") -> torch.Tensor:
    from .faces import faces, reads_celeba

    # train and test faces come from disjoint seeds, so test faces are new people; with CelebA (faces:
    # the seed modulo 3 picks the partition, its quotient the block) from its train and its test partition
    face_seed = seed if split == "train" else 10_000 + seed
    if reads_celeba(faces_source):
        face_seed = 3 * seed + (0 if split == "train" else 1)
    images = faces(n=n, size=64, seed=face_seed, source=faces_source).images
    return F.interpolate(images, size=(size, size), mode="area").clamp(0, 1) if size != 64 else images


def clean_images(
    n: int,
    size: int = 32,
    split: str = "train",
    seed: int = 0,
    source: str = "mixed",
    faces_source: str = "auto",
) -> torch.Tensor:
    """``n`` clean images Y (n, 3, size, size) in [0, 1].

    ``source``: "photos" (random patches of the bundled photos of ``split``, halved first), "faces"
    (``coursekit.data.faces``: CelebA when cached, else procedural faces, downsized; train and test
    use disjoint seeds) or "mixed" (half of each, shuffled). ``faces_source`` is passed to ``faces``
    ("auto" or "offline").
    """
    expect_positive_int("n", n)
    expect_positive_int("size", size, minimum=8)
    expect_choice("split", split, ("train", "test"))
    expect_choice("source", source, SOURCES)
    if source == "photos":
        return _photo_patches(split, n, size, seed)
    if source == "faces":
        return _faces(split, n, size, seed, faces_source)
    half = n // 2
    parts = [_photo_patches(split, n - half, size, seed)]
    if half:
        parts.append(_faces(split, half, size, seed, faces_source))
    images = torch.cat(parts)
    return images[torch.randperm(n, generator=rng.generator(seed + 1))].contiguous()


# ---------------------------------------------------------------------------------------- synthetic X
def synthetic_old(
    y: torch.Tensor, seed: int, p: float = 0.7, fade_p: float = 0.5, scratch_p: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training degradation X = degrade(Y) after Wan et al. 2020: returns ``(x, mask)``.

    1. ``degrade.old_photo`` (the paper's ``online_add_degradation_v2``: blur, noise, low resolution, JPEG in
       a random order, each with probability ``p``; 10% grayscale);
    2. with probability ``fade_p``: colour fading, ``degrade.color_fade`` with amount ~ U(0.1, 0.5);
    3. with probability ``scratch_p``: 1-3 thin scratches (width 1-2 px), ``degrade.scratches``.
    """
    _check_batch("y", y)
    p, fade_p, scratch_p = (
        expect_probability(n, v) for n, v in (("p", p), ("fade_p", fade_p), ("scratch_p", scratch_p))
    )
    gen = rng.generator(seed)
    x = degrade.old_photo(y, seed=rng.sub_seed(gen), p=p)
    out, masks = [], []
    for img in x.split(1):
        if rng.uniform_float(gen, 0, 1) < fade_p:
            img = degrade.color_fade(img, rng.uniform_float(gen, 0.1, 0.5))
        mask = torch.zeros_like(img[:, :1])
        if rng.uniform_float(gen, 0, 1) < scratch_p:
            img, mask = degrade.scratches(
                img, n=rng.randint(gen, 1, 3), seed=rng.sub_seed(gen), width=(1.0, 2.0)
            )
        out.append(img)
        masks.append(mask)
    return torch.cat(out), torch.cat(masks)


# ------------------------------------------------------------------------------------------- "real" R
def film_grain(x: torch.Tensor, strength: float, seed: int, grain: float = 0.8) -> torch.Tensor:
    """Monochrome film grain: Gaussian noise blurred to grains of about ``grain`` px, the same in every
    channel, scaled by ``strength`` and stronger in the shadows (amplitude x (1.5 - luma))."""
    _check_batch("x", x)
    gen = rng.generator(seed)
    b, _, h, w = x.shape
    noise = torch.randn((b, 1, h + 8, w + 8), generator=gen).to(x)
    if grain > 0:
        kernel = gaussian_window(9, grain).to(x)
        noise = F.conv2d(F.conv2d(noise, kernel.view(1, 1, 1, 9)), kernel.view(1, 1, 9, 1))
        noise = noise / noise.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    else:
        noise = noise[..., 4:-4, 4:-4]
    luma = (x * torch.tensor(degrade.BT601_LUMA, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return (x + strength * (1.5 - luma) * noise).clamp(0, 1)


def vignette(x: torch.Tensor, amount: float) -> torch.Tensor:
    """Darken the corners: multiply by 1 - amount * r^2, r the distance from the centre (1 at the corners)."""
    _check_batch("x", x)
    h, w = x.shape[-2:]
    ys = torch.linspace(-1, 1, h, dtype=x.dtype).view(h, 1)
    xs = torch.linspace(-1, 1, w, dtype=x.dtype).view(1, w)
    return (x * (1 - amount * (ys**2 + xs**2) / 2)).clamp(0, 1)


def dust(x: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` dust specks per image: small bright or dark discs of radius 0.5-1.5 px. Returns (x, mask)."""
    _check_batch("x", x)
    gen = rng.generator(seed)
    b, _, h, w = x.shape
    ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    cy = torch.rand(b, n, 1, 1, generator=gen) * h
    cx = torch.rand(b, n, 1, 1, generator=gen) * w
    radius = 0.5 + torch.rand(b, n, 1, 1, generator=gen)
    value = (torch.rand(b, n, 1, 1, generator=gen) < 0.5).float() * 0.9 + 0.05
    inside = ((ys - cy) ** 2 + (xs - cx) ** 2) <= radius**2
    covered = inside.any(1, keepdim=True)
    speck = (inside.float() * value).amax(1, keepdim=True)
    out = torch.where(covered, speck.to(x), x)
    return out, covered.to(x.dtype)


def real_old(y: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The "real old photo" stand-in R: returns ``(r, mask)``. A mix no supervised model is trained on.

    Per image, with parameters drawn from ranges the lecture does not reveal to the models: lens softness
    (Gaussian blur sigma 0.4-1.0), a faded tone curve (blacks lifted to 0.08-0.2, whites to 0.75-0.92), sepia
    toning (amount 0.7-1), vignetting (0.2-0.6), film grain (strength 0.03-0.08), 3-7 heavy scratches
    (width 1.5-3 px, half of them dark) and 2-6 dust specks.
    """
    _check_batch("y", y)
    gen = rng.generator(seed)
    out, masks = [], []
    for img in y.split(1):
        img = degrade.gaussian_blur(img, rng.uniform_float(gen, 0.4, 1.0), kernel_size=5)
        lo, hi = rng.uniform_float(gen, 0.08, 0.2), rng.uniform_float(gen, 0.75, 0.92)
        img = lo + (hi - lo) * img
        img = degrade.sepia(img.clamp(0, 1), rng.uniform_float(gen, 0.7, 1.0))
        img = vignette(img, rng.uniform_float(gen, 0.2, 0.6))
        img = film_grain(
            img,
            rng.uniform_float(gen, 0.03, 0.08),
            seed=rng.sub_seed(gen),
            grain=rng.uniform_float(gen, 0.5, 1.0),
        )
        img, m1 = degrade.scratches(
            img,
            n=rng.randint(gen, 3, 7),
            seed=rng.sub_seed(gen),
            width=(1.5, 3.0),
            bright_fraction=0.5,
        )
        img, m2 = dust(img, rng.randint(gen, 2, 6), seed=rng.sub_seed(gen))
        out.append(img)
        masks.append(torch.maximum(m1, m2))
    return torch.cat(out), torch.cat(masks)


# --------------------------------------------------------------------------------------- all domains
@dataclass
class OldPhotoDomains:
    """Training and test sets of the three domains (all (N, 3, S, S) in [0, 1]; masks (N, 1, S, S)).

    Training: ``y`` clean, ``x`` = synthetic_old(y) with ``x_mask`` (paired with y), ``r`` real-old images of
    OTHER clean images (unpaired: their ground truth ``r_clean`` is kept only for honesty checks and never
    used in training). Test (held-out photos and faces): ``test_y``, ``test_x`` / ``test_x_mask`` and
    ``test_r`` / ``test_r_mask``, both made from the same ``test_y``.
    """

    y: torch.Tensor
    x: torch.Tensor
    x_mask: torch.Tensor
    r: torch.Tensor
    r_mask: torch.Tensor
    r_clean: torch.Tensor
    test_y: torch.Tensor
    test_x: torch.Tensor
    test_x_mask: torch.Tensor
    test_r: torch.Tensor
    test_r_mask: torch.Tensor

    def __repr__(self) -> str:
        s = self.y.shape[-1]
        return (
            f"OldPhotoDomains({len(self.y)} train pairs (y, x), {len(self.r)} unpaired real-old r, "
            f"{len(self.test_y)} test images; {s}x{s})"
        )


def make_domains(
    n_train: int = 1024,
    n_real: int = 512,
    n_test: int = 64,
    size: int = 32,
    seed: int = 0,
    source: str = "mixed",
    faces_source: str = "auto",
) -> OldPhotoDomains:
    """Build Y, X and R for training and testing (see :class:`OldPhotoDomains`)."""
    expect_positive_int("n_train", n_train)
    expect_positive_int("n_real", n_real)
    expect_positive_int("n_test", n_test)
    y = clean_images(n_train, size, "train", seed, source, faces_source)
    x, x_mask = synthetic_old(y, seed=seed + 1)
    r_clean = clean_images(n_real, size, "train", seed + 7, source, faces_source)
    r, r_mask = real_old(r_clean, seed=seed + 2)
    test_y = clean_images(n_test, size, "test", seed + 3, source, faces_source)
    test_x, test_x_mask = synthetic_old(test_y, seed=seed + 4)
    test_r, test_r_mask = real_old(test_y, seed=seed + 5)
    return OldPhotoDomains(y, x, x_mask, r, r_mask, r_clean, test_y, test_x, test_x_mask, test_r, test_r_mask)
