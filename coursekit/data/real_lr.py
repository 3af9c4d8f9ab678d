"""Unpaired face sets for learned degradation (module 06, after Bulat et al. 2018).

The paper trains High-to-Low on two disjoint sets: clean HR faces, and *real* low-resolution faces
(Widerface) whose degradation nobody knows. We make a miniature of that situation from what is installed:

- ``hr_faces``: clean 64x64 faces: procedural faces (``coursekit.data.faces``; CelebA when cached) plus the
  first half of scikit-image's ``lfw_subset`` real faces.
- ``real_lr_faces``: OTHER faces (procedural faces with another seed, or CelebA's held-out partitions, and
  the second half of ``lfw_subset``)
  put through a hidden random mix of blur, down-sampling, noise and JPEG, to 16x16. Models never see the
  recipe (:func:`unknown_degradation`), only its outputs. The clean originals are kept in ``.hr``, only to
  score super-resolution at the end (PSNR needs ground truth; the paper's real test set has none, which is
  why it reports a Frechet distance there).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import expect_positive_int
from . import degrade
from .download import announce
from .faces import faces, lfw_faces, reads_celeba

HR_SIZE, LR_SIZE = 64, 16
LFW_SPLIT = 50  # lfw_subset faces 0..49 go to the HR set, 50..99 to the real-LR set
REAL_SEED_OFFSET = 10_007  # procedural faces of the real-LR set never share a seed with the HR set's
# With CelebA, faces(seed=s) reads partition s % 3 (0 train, 1 test, 2 validation), block s // 3 of n images.
# hr_faces(seed=s) starts at image (s % 4) * CELEBA_HR_SLOT of the train partition (162,770 images), so the
# lecture's HR training set and its Frechet reference (two seeds) are different faces; real_lr_faces takes
# the test partition for odd seeds and the validation partition for even ones (the lecture's two real sets).
CELEBA_HR_SLOT = 40_000


@dataclass
class FacePairs:
    """``lr`` (N, 3, 16, 16) degraded faces and ``hr`` (N, 3, 64, 64) their clean originals, in [0, 1]."""

    lr: torch.Tensor
    hr: torch.Tensor
    source: str

    def __len__(self) -> int:
        return len(self.lr)

    def __repr__(self) -> str:
        shapes = f"LR {tuple(self.lr.shape[1:])} / HR {tuple(self.hr.shape[1:])}"
        return f"FacePairs({len(self)} {shapes}, {self.source})"


def _mixed_faces(n: int, seed: int, lfw: slice, source: str, celeba_seed=None) -> torch.Tensor:
    """n faces: lfw_subset faces ``lfw`` (up to n/4) and the course's faces, shuffled by ``seed``. With
    CelebA, ``celeba_seed(count)`` is the ``faces`` seed for ``count`` images (the procedural faces use
    ``seed``)."""
    real = lfw_faces(size=HR_SIZE).images[lfw]
    n_real = min(len(real), n // 4)
    face_seed = celeba_seed(n - n_real) if celeba_seed and reads_celeba(source) else seed
    made = faces(n=n - n_real, size=HR_SIZE, seed=face_seed, source=source).images
    mixed = torch.cat((made, real[:n_real]))
    order = torch.randperm(len(mixed), generator=torch.Generator().manual_seed(seed))
    return mixed[order].contiguous()


def hr_faces(n: int = 512, seed: int = 0, source: str = "auto") -> torch.Tensor:
    """(n, 3, 64, 64) clean faces: procedural (or CelebA) plus up to n/4 of lfw_subset faces 0..49."""
    expect_positive_int("n", n, minimum=2)

    def celeba_seed(count: int) -> int:  # train partition, block starting at or after image (seed % 4) * slot
        return 3 * -(-(seed % 4) * CELEBA_HR_SLOT // count)

    return _mixed_faces(n, seed, slice(0, LFW_SPLIT), source, celeba_seed)


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)


def unknown_degradation(hr: torch.Tensor, seed: int) -> torch.Tensor:
    """The hidden recipe that makes the "real" LR faces: (N, 3, 64, 64) -> (N, 3, 16, 16).

    Per image: Gaussian blur sigma U(0.5, 2.0) with p 0.8; x4 down-sampling, antialiased bicubic or area
    (half each); then noise (Gaussian sigma U(0.01, 0.06)) with p 0.7 and JPEG quality 20..60 with p 0.7, in
    a random order; 20% of the images lose their colour. Models in the lecture must not call this.
    """
    g = torch.Generator().manual_seed(seed)
    n = len(hr)

    def coin(p: float) -> torch.Tensor:
        return torch.rand(n, generator=g) < p

    sub = [int(s) for s in torch.randint(0, 2**31 - 1, (4,), generator=g)]
    x = _where(coin(0.8), degrade.gaussian_blur(hr, (0.5, 2.0), kernel_size=9, seed=sub[0]), hr)
    x = _where(coin(0.5), degrade.resize(x, LR_SIZE, "bicubic"), degrade.resize(x, LR_SIZE, "area"))
    noisy, compressed, noise_first = coin(0.7), coin(0.7), coin(0.5)
    for first in (True, False):
        for step in ("noise", "jpeg") if first else ("jpeg", "noise"):
            rows = noise_first if first else ~noise_first
            if step == "noise":
                rows = rows & noisy
                if rows.any():
                    x[rows] = degrade.gaussian_noise(x[rows], (0.01, 0.06), seed=sub[1] + int(first))
            else:
                rows = rows & compressed
                if rows.any():
                    x[rows] = degrade.jpeg(x[rows], (20, 60), seed=sub[2] + int(first))
    gray = coin(0.2)
    x = _where(gray, degrade.grayscale(x), x)
    return x.clamp(0, 1).contiguous()


def real_lr_faces(n: int = 512, seed: int = 1, source: str = "auto") -> FacePairs:
    """``n`` "real" LR faces (16x16, degraded by :func:`unknown_degradation`) with their clean 64x64
    originals.

    The faces are disjoint from :func:`hr_faces` (other procedural seed, the other half of lfw_subset).
    """
    expect_positive_int("n", n, minimum=2)
    hr = _mixed_faces(n, seed + REAL_SEED_OFFSET, slice(LFW_SPLIT, None), source,
                      lambda count: 1 if seed % 2 else 2)  # CelebA: test or validation partition, block 0
    lr = unknown_degradation(hr, seed)
    what = (
        f"{n} 'real' low-resolution faces 16x16 (procedural + lfw_subset 50..99, hidden mix of blur, "
        f"down-sampling, noise, JPEG; seed {seed})"
    )
    announce("real_lr_faces", what)
    return FacePairs(lr, hr, what)


__all__ = ["FacePairs", "hr_faces", "real_lr_faces", "unknown_degradation"]
