"""Argument checks and the per-image reduction shared by the image metrics (fidelity and sharpness)."""

from __future__ import annotations

import math

from ..errors import expect_number, expect_positive_int

REDUCTIONS = ("mean", "none")


def expect_data_range(data_range) -> float:
    """``data_range`` (the L of PSNR and SSIM) as a positive float."""
    if not expect_number("data_range", data_range, "a positive number such as 1.0 or 255") > 0:
        raise ValueError(f"data_range: expected a positive number such as 1.0 or 255, got {data_range!r}")
    return float(data_range)


def expect_shave(shave) -> int:
    """``shave``, the border pixels to drop from each side (SR convention: the scale), as an int >= 0."""
    return expect_positive_int("shave", shave, minimum=0)


def expect_in_range(what: str, x, hi: float) -> None:
    """``expect_tensor``'s range check for [0, hi] in one pass (``aminmax``; NaN fails every comparison).

    Metrics run on whole validation sets inside training loops, where the generic check (several passes
    and a boolean copy of the batch) cost more than the metric itself.
    """
    import torch

    if not x.numel():
        return
    xmin, xmax = (float(v) for v in torch.aminmax(x.detach()))
    tol = 1e-6 * max(1.0, hi)
    if xmin >= -tol and xmax <= hi + tol:
        return
    if not (math.isfinite(xmin) and math.isfinite(xmax)):
        raise ValueError(f"{what}: expected finite values in [0.0, {hi}], got NaN or inf")
    raise ValueError(f"{what}: expected values in [0.0, {hi}], got values in [{xmin:.4g}, {xmax:.4g}]")


def reduce_per_image(per_image, reduction: str, batched: bool):
    """The mean of the (B,) per-image values, or them (one value for an unbatched image)."""
    if reduction == "mean":
        return per_image.mean()
    return per_image if batched else per_image[0]
