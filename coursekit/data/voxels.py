"""Procedural 3D objects as binary voxel grids: the offline stand-in for ShapeNet in 3D-GAN (Wu et al. 2016).

Six classes, each with random proportions per sample: chair (seat, four legs, backrest), table (top, four
legs), sphere, box, cylinder and torus. Every object is also turned by a random multiple of 90 degrees about
the vertical axis. The grid is indexed ``[x, y, z]`` with z pointing up, so matplotlib's ``ax.voxels(v[0])``
shows an object standing upright. Every shape is an inside test on a coordinate grid in [-1, 1]^3, evaluated
for a whole class of samples at once.
"""

from __future__ import annotations

import torch

from ..errors import expect_positive_int
from .digits import LabelledImages
from .download import announce

CLASS_NAMES = ("chair", "table", "sphere", "box", "cylinder", "torus")
RESOLUTIONS = (16, 32, 64)
FLOOR = -0.9


def _axes(resolution: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    centres = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    return centres.view(1, -1, 1, 1), centres.view(1, 1, -1, 1), centres.view(1, 1, 1, -1)


def _box(x, y, z, cx, cy, cz, hx, hy, hz) -> torch.Tensor:
    """Inside an axis-aligned box with centre (cx, cy, cz) and half sizes (hx, hy, hz), each (m, 1, 1, 1)."""
    return ((x - cx).abs() <= hx) & ((y - cy).abs() <= hy) & ((z - cz).abs() <= hz)


def _legs(x, y, z, half_x, half_y, leg, top) -> torch.Tensor:
    """Four square legs of half width ``leg`` at the corners of a (half_x, half_y) footprint, up to top."""
    inset_x, inset_y = half_x - leg, half_y - leg
    corner = ((x.abs() - inset_x).abs() <= leg) & ((y.abs() - inset_y).abs() <= leg)
    return corner & (z >= FLOOR) & (z <= top)


def _shape(name: str, x, y, z, u) -> torch.Tensor:
    """Inside test of class ``name`` for m samples; ``u`` (m, 8) uniform numbers set the proportions."""

    def p(i: int, low: float, high: float) -> torch.Tensor:
        return (low + (high - low) * u[:, i]).view(-1, 1, 1, 1)

    if name == "sphere":
        return (x - p(1, -0.1, 0.1)) ** 2 + (y - p(2, -0.1, 0.1)) ** 2 + (z - p(3, -0.1, 0.1)) ** 2 <= p(
            0, 0.45, 0.85
        ) ** 2
    if name == "box":
        return _box(x, y, z, 0, 0, 0, p(0, 0.3, 0.85), p(1, 0.3, 0.85), p(2, 0.3, 0.85))
    if name == "cylinder":
        return (x * x + y * y <= p(0, 0.3, 0.8) ** 2) & (z.abs() <= p(1, 0.35, 0.9))
    if name == "torus":
        ring = (x * x + y * y).sqrt() - p(0, 0.45, 0.65)
        return ring * ring + z * z <= p(1, 0.14, 0.28) ** 2
    half_x, half_y, leg = p(0, 0.45, 0.85), p(1, 0.45, 0.85), p(2, 0.07, 0.13)
    if name == "table":
        top, thickness = p(3, 0.0, 0.45), p(4, 0.07, 0.15)
        slab = _box(x, y, z, 0, 0, top - thickness, half_x, half_y, thickness)
        return slab | _legs(x, y, z, half_x, half_y, leg, top)
    seat, thickness, back_top = p(3, -0.35, -0.05), p(4, 0.07, 0.13), p(5, 0.5, 0.95)  # chair
    slab = _box(x, y, z, 0, 0, seat - thickness, half_x, half_y, thickness)
    back = _box(
        x, y, z, 0, -half_y + thickness, (seat + back_top) / 2, half_x, thickness, (back_top - seat) / 2
    )
    return slab | back | _legs(x, y, z, half_x, half_y, leg, seat)


def voxels(n: int = 256, resolution: int = 32, seed: int = 0, classes=CLASS_NAMES) -> LabelledImages:
    """``n`` voxel objects (n, 1, R, R, R) float32 in {0, 1} with labels (n,) int64 indexing ``.class_names``.

    Labels are drawn uniformly from ``classes`` (a subset of CLASS_NAMES, kept in that order) by a seeded
    generator; everything is a pure function of (n, resolution, seed, classes).
    """
    expect_positive_int("n", n)
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution: expected one of {RESOLUTIONS}, got {resolution!r}")
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if isinstance(classes, str) or unknown or not classes:
        raise ValueError(f"classes: expected a non-empty list drawn from {CLASS_NAMES}, got {classes!r}")
    names = [c for c in CLASS_NAMES if c in classes]
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(names), (n,), generator=generator)
    proportions = torch.rand(n, 8, generator=generator)
    turns = torch.randint(4, (n,), generator=generator)
    x, y, z = _axes(resolution)
    grid = torch.zeros(n, resolution, resolution, resolution, dtype=torch.bool)
    for k, name in enumerate(names):
        rows = (labels == k).nonzero().squeeze(1)
        if rows.numel():
            grid[rows] = _shape(name, x, y, z, proportions[rows])
    for quarter in range(1, 4):  # turn about z: rot90 over the (x, y) axes
        rows = (turns == quarter).nonzero().squeeze(1)
        grid[rows] = torch.rot90(grid[rows], quarter, dims=(1, 2))
    what = f"procedural voxel objects ({n:,} at {resolution}^3, seed {seed}; classes {', '.join(names)})"
    announce("voxels", what)
    return LabelledImages(grid.unsqueeze(1).float(), labels, what, names)
