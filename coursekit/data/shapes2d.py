"""shapes2d: a procedural equivalent of dSprites (Matthey et al. 2017) with its ground-truth factors.

Five independent factors on a full grid, as in dSprites (whose constant 'color' factor is dropped):

=========== ==== ==========================================
factor      size values
=========== ==== ==========================================
shape       3    square, ellipse, heart
scale       6    linspace(0.5, 1, 6)
orientation 40   2*pi*k/40, k = 0..39 (dSprites repeats 0 and 2*pi; we do not)
pos_x       32   linspace(0, 1, 32)
pos_y       32   linspace(0, 1, 32)
=========== ==== ==========================================

3 * 6 * 40 * 32 * 32 = 737,280 binary 64x64 images, never stored: each is rendered on demand from an implicit
inside/outside test on a pixel grid. Index i has the factor classes of i in the mixed-radix grid above (last
factor fastest), exactly like dSprites' ``latents_classes``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import expect_positive_int
from .download import announce

IMAGE_SIZE = 64
RENDER_CHUNK = 256
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
SCALES = torch.linspace(0.5, 1.0, 6)
ORIENTATIONS = torch.arange(40) * (2 * math.pi / 40)
POSITIONS = torch.linspace(0.0, 1.0, 32)
# Geometry in image units (0..1): a scale-1 shape has radius 0.18; centres span [0.2, 0.8].
BASE_RADIUS = 0.18
POSITION_LOW, POSITION_SPAN = 0.2, 0.6
NUM_IMAGES = int(np.prod(FACTOR_SIZES))
_RADICES = torch.tensor([int(np.prod(FACTOR_SIZES[i + 1 :])) for i in range(len(FACTOR_SIZES))])
_PIXEL_CENTRES = (torch.arange(IMAGE_SIZE, dtype=torch.float32) + 0.5) / IMAGE_SIZE


def _as_index_tensor(what: str, values, ndim: int) -> torch.Tensor:
    tensor = torch.as_tensor(values)
    if tensor.is_floating_point() or tensor.dtype == torch.bool:
        raise ValueError(f"{what}: expected integers, got dtype {tensor.dtype}")
    tensor = tensor.long()
    if tensor.ndim == ndim - 1:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != ndim:
        raise ValueError(f"{what}: expected a {ndim}-D array (or one row), got shape {tuple(tensor.shape)}")
    return tensor


def factors(indices) -> torch.Tensor:
    """Factor classes (n, 5) int64 of dataset indices (int or 1-D array), like dSprites' latents_classes."""
    index = _as_index_tensor("indices", indices, 1)
    if index.numel() and (index.min() < 0 or index.max() >= NUM_IMAGES):
        raise ValueError(
            f"indices: expected values in [0, {NUM_IMAGES - 1}], got [{int(index.min())}, {int(index.max())}]"
        )
    return (index[:, None] // _RADICES) % torch.tensor(FACTOR_SIZES)


def index_of(factor_classes) -> torch.Tensor:
    """The dataset index (n,) of factor classes (n, 5): the inverse of :func:`factors`."""
    classes = _check_factors(factor_classes)
    return (classes * _RADICES).sum(dim=1)


def _check_factors(factor_classes) -> torch.Tensor:
    classes = _as_index_tensor("factors", factor_classes, 2)
    if classes.shape[1] != len(FACTOR_SIZES):
        raise ValueError(
            f"factors: expected {len(FACTOR_SIZES)} columns {FACTOR_NAMES}, got shape {tuple(classes.shape)}"
        )
    sizes = torch.tensor(FACTOR_SIZES)
    bad = (classes < 0) | (classes >= sizes)
    if bad.any():
        column = int(bad.any(dim=0).nonzero()[0])
        raise ValueError(
            f"factors: {FACTOR_NAMES[column]} must be in [0, {FACTOR_SIZES[column] - 1}], got "
            f"{int(classes[bad.any(dim=1)][0, column])}"
        )
    return classes


def _inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inside test in shape-local units (radius 1, v pointing up) for one shape kind."""
    if shape == 0:  # square with the area of a radius-0.85 disc
        return torch.maximum(u.abs(), v.abs()) <= 0.75
    if shape == 1:  # ellipse, axes 1 and 0.5: rotation changes it (period pi)
        return u * u + 4.0 * v * v <= 1.0
    x, y = (
        u * 1.1,
        v * 1.1 + 0.15,
    )  # heart (x^2 + y^2 - 1)^3 <= x^2 y^3, point down: symmetric only about x = 0
    r = x * x + y * y - 1.0
    return r * r * r <= x * x * y * y * y


def render(factor_classes) -> torch.Tensor:
    """Render factor classes (n, 5) as (n, 1, 64, 64) float32 images in {0, 1}, batched (no pixel loops)."""
    classes = _check_factors(factor_classes)
    n = len(classes)
    if n > RENDER_CHUNK:  # bounded memory for large requests
        return torch.cat([render(classes[i : i + RENDER_CHUNK]) for i in range(0, n, RENDER_CHUNK)])
    out = torch.zeros(n, 1, IMAGE_SIZE, IMAGE_SIZE)
    radius = BASE_RADIUS * SCALES[classes[:, 1]]
    angle = ORIENTATIONS[classes[:, 2]]
    cx = POSITION_LOW + POSITION_SPAN * POSITIONS[classes[:, 3]]
    cy = POSITION_LOW + POSITION_SPAN * POSITIONS[classes[:, 4]]
    # pos_y grows upwards in the picture (row 0 is the top), as y in dSprites' plots.
    dx = (_PIXEL_CENTRES[None, None, :] - cx[:, None, None]) / radius[:, None, None]
    dy = ((1.0 - _PIXEL_CENTRES)[None, :, None] - cy[:, None, None]) / radius[:, None, None]
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    for shape in range(len(SHAPE_NAMES)):
        rows = (classes[:, 0] == shape).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        x, y, c, s = dx[rows], dy[rows], cos[rows], sin[rows]
        u = c * x + s * y  # rotate the sample points by -angle = rotate the shape by +angle
        v = c * y - s * x
        out[rows, 0] = _inside(shape, u, v).float()
    return out


class Shapes2D(Dataset):
    """The factor grid as a lazily rendered Dataset: ``dataset[i] -> (image (1, 64, 64), factors (5,))``.

    Implements ``__getitems__`` so a DataLoader renders each batch in one vectorised call.
    """

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    shape_names = SHAPE_NAMES
    source = (
        "procedural dSprites equivalent (3 shapes x 6 scales x 40 orientations x 32 x 32 positions = "
        "737,280 64x64 images, rendered on demand)"
    )

    def __len__(self) -> int:
        return NUM_IMAGES

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        classes = factors(int(index))
        return render(classes)[0], classes[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        classes = factors(torch.as_tensor(indices, dtype=torch.long))
        return list(zip(render(classes), classes, strict=True))

    factors = staticmethod(factors)
    index_of = staticmethod(index_of)
    render = staticmethod(render)

    def sample(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` images drawn uniformly from the grid (with replacement), seeded: (images, factors)."""
        expect_positive_int("n", n)
        generator = torch.Generator().manual_seed(seed)
        indices = torch.randint(len(self), (n,), generator=generator)
        classes = factors(indices)
        return render(classes), classes

    def __repr__(self) -> str:
        return f"Shapes2D({len(self):,} images, factors {dict(zip(FACTOR_NAMES, FACTOR_SIZES, strict=True))})"


def shapes2d() -> Shapes2D:
    """The procedural dSprites equivalent (see the module docstring); prints its one source line."""
    dataset = Shapes2D()
    announce("shapes2d", dataset.source)
    return dataset
