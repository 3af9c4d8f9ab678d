"""Tiled inference: run an image-to-image network on pictures of any size with bounded memory.

A convolutional network's output pixel depends only on the input pixels inside its receptive field, so a
large image can be cut into tiles, each tile run on its own (read with a margin of ``overlap`` pixels on every
side) and the outputs put back together. Memory then grows with the tile, not with the photo: this is the
answer to "CUDA runs out of memory when large images are given to the model" (Sharma, Sharma & Uplap).

How the pieces are joined (each axis separately, the 2-D weight is the outer product):

- the image is split into ``n = ceil(H / tile)`` nearly equal *cores* of at most ``tile`` pixels;
- each tile is read as its core plus ``overlap`` pixels of context on every side (clipped at the border);
- the output of a tile is used over its core grown by ``overlap // 2`` pixels; around every boundary between
  two cores there is a band of ``2 * (overlap // 2)`` pixels where both tiles contribute, with linear ramp
  weights that sum to exactly 1 (a partition of unity, so no normalising weight map is stored).

Every used pixel has at least ``overlap - overlap // 2 >= overlap / 2`` pixels of context on each side. If
the network's receptive-field radius ``r`` satisfies ``overlap >= 2 r`` (overlap at least the receptive field
width, minus one), every tile computes exactly the pixels the whole-image run computes, and the result equals
the untiled one up to float rounding. With a smaller overlap the ramps feather the small differences so
that no hard seams show. :func:`receptive_radius` measures ``r`` of any network with autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .errors import describe, expect_positive_int

__all__ = ["receptive_radius", "tile_spans", "tiled_apply", "upscale"]


def _expect_image(image) -> tuple[torch.Tensor, bool]:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image: expected a torch.Tensor (C, H, W) or (1, C, H, W), got {describe(image)}")
    if not image.is_floating_point():
        raise TypeError(f"image: expected a floating-point tensor in [0, 1], got dtype {image.dtype}")
    if image.ndim == 3:
        return image.unsqueeze(0), True
    if image.ndim == 4 and image.shape[0] == 1:
        return image, False
    raise ValueError(f"image: expected shape (C, H, W) or (1, C, H, W), got {tuple(image.shape)}")


def _expect_int(what: str, value, minimum: int) -> int:
    return expect_positive_int(what, value, minimum)


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """The tiles along one axis of ``length`` pixels: a list of (read_start, read_end, core_start, core_end).

    Cores are ``ceil(length / tile)`` nearly equal intervals that cover [0, length) without gaps; each tile
    is read with ``overlap`` pixels of context on both sides, clipped to the image.
    """
    _expect_int("length", length, 1)
    _expect_int("tile", tile, 1)
    _expect_int("overlap", overlap, 0)
    n = math.ceil(length / tile)
    bounds = [round(k * length / n) for k in range(n + 1)]
    return [
        (max(0, a - overlap), min(length, b + overlap), a, b)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _axis_weights(length: int, spans, half: int, scale: int) -> list[tuple[int, int, torch.Tensor]]:
    """Per tile along one axis (in output pixels): the used interval [start, end) and its blend weights."""
    out = []
    n = len(spans)
    for i, (_, _, a, b) in enumerate(spans):
        lo = a - half if i > 0 else 0
        hi = b + half if i < n - 1 else length
        start, end = lo * scale, hi * scale
        w = torch.ones(end - start, dtype=torch.float64)
        width = 2 * half * scale
        if width:
            ramp = (torch.arange(width, dtype=torch.float64) + 0.5) / width  # rises from ~0 to ~1
            if i > 0:
                w[:width] = ramp
            if i < n - 1:
                w[-width:] = 1 - ramp
        out.append((start, end, w))
    return out


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    scale: int = 1,
    tile: int = 128,
    overlap: int = 16,
) -> torch.Tensor:
    """Apply ``fn`` to ``image`` tile by tile and blend the outputs (see the module docstring).

    ``image``: (C, H, W) or (1, C, H, W) in [0, 1]; ``fn`` maps a (1, C, h, w) tile to (1, C', h * scale,
    w * scale). Returns (C', H * scale, W * scale), or (1, C', ...) for a 4-D input, on ``image``'s device.
    At most one tile of (tile + 2 * overlap)^2 input pixels is in flight; the result is accumulated in place.
    Exact (equal to ``fn(image)`` up to rounding) when ``overlap >= 2 * receptive_radius``.
    """
    x, single = _expect_image(image)
    scale = _expect_int("scale", scale, 1)
    tile = _expect_int("tile", tile, 1)
    overlap = _expect_int("overlap", overlap, 0)
    if 2 * overlap > tile:
        raise ValueError(
            f"overlap: expected at most tile // 2 = {tile // 2} so that blend bands do not cross, got "
            f"{overlap} "
            f"(tile {tile}); use a larger tile"
        )
    _, _, h, w = x.shape
    half = overlap // 2
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    row_w, col_w = _axis_weights(h, rows, half, scale), _axis_weights(w, cols, half, scale)
    out: torch.Tensor | None = None
    for (r0, r1, _, _), (ys, ye, wy) in zip(rows, row_w, strict=True):
        for (c0, c1, _, _), (xs, xe, wx) in zip(cols, col_w, strict=True):
            piece = fn(x[:, :, r0:r1, c0:c1])
            expected = (1, None, (r1 - r0) * scale, (c1 - c0) * scale)
            if (
                not isinstance(piece, torch.Tensor)
                or piece.ndim != 4
                or piece.shape[0] != 1
                or tuple(piece.shape[2:]) != expected[2:]
            ):
                raise ValueError(
                    f"fn: expected an output of shape (1, C', {expected[2]}, {expected[3]}) for a tile "
                    f"of shape "
                    f"{tuple(x[:, :, r0:r1, c0:c1].shape)} at scale {scale}, got {describe(piece)}"
                )
            piece = piece.detach().to(x.device, torch.float32)
            if out is None:
                out = torch.zeros(
                    1, piece.shape[1], h * scale, w * scale, dtype=torch.float32, device=x.device
                )
            weight = (wy[:, None] * wx[None, :]).to(out)
            oy, ox = ys - r0 * scale, xs - c0 * scale
            out[:, :, ys:ye, xs:xe] += piece[:, :, oy : oy + ye - ys, ox : ox + xe - xs] * weight
            del piece, weight
    assert out is not None  # tile_spans gives every axis at least one tile
    return out[0] if single else out


def upscale(
    model, image: torch.Tensor, scale: int, tile: int = 128, overlap: int = 16, device=None
) -> torch.Tensor:
    """Super-resolve ``image`` with ``model`` tile by tile: eval mode, no gradients, one tile on ``device``
    (default: the model's device) at a time; the result is assembled on ``image``'s device.

    ``model`` maps (1, C, h, w) to (1, C', h * scale, w * scale). Its training mode is restored afterwards.
    """
    if not isinstance(model, torch.nn.Module) and not callable(model):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}")
    if device is None:
        param = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    was_training = getattr(model, "training", False)
    if isinstance(model, torch.nn.Module):
        model.eval()

    def run(piece: torch.Tensor) -> torch.Tensor:
        return model(piece.to(device)).float().cpu() if device.type != "cpu" else model(piece)

    try:
        with torch.no_grad():
            return tiled_apply(run, image, scale=scale, tile=tile, overlap=overlap)
    finally:
        if isinstance(model, torch.nn.Module):
            model.train(was_training)


def receptive_radius(fn, scale: int = 1, channels: int = 3, size: int = 65) -> int:
    """The receptive-field radius of ``fn`` in input pixels, measured with autograd.

    Back-propagates from the centre output pixel of a ``size`` x ``size`` random input and returns how
    far from
    the centre the input gradient is non-zero. ``size`` must exceed 2 * radius + 1 to see the whole field
    (a radius of ``size // 2`` means "at least this"). Deep nets have a huge theoretical field; what counts
    for tiling is where the influence is non-zero.
    """
    size = _expect_int("size", size, 3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, channels, size, size, generator=g, dtype=torch.float64)
    params = list(fn.parameters()) if isinstance(fn, torch.nn.Module) else []
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")
    x = x.to(device, dtype).requires_grad_(True)
    was_training = getattr(fn, "training", False)
    if isinstance(fn, torch.nn.Module):
        fn.eval()
    try:
        y = fn(x)
        c = size * scale // 2
        y[0, :, c, c].sum().backward()
    finally:
        if isinstance(fn, torch.nn.Module):
            fn.train(was_training)
    if x.grad is None:  # the output does not depend on the input at all
        return 0
    hit = (x.grad[0].abs().sum(0) > 0).nonzero()
    centre = size // 2
    return int((hit - centre).abs().max()) if len(hit) else 0
