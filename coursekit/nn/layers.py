"""Small building blocks shared by several models."""

from __future__ import annotations

from torch import nn

NORMS = ("instance", "batch", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The normalisation after a convolution: ``instance`` (affine, as pix2pix), ``batch`` or ``none``.

    ``kind`` is checked by the model that takes it (``expect_choice(..., NORMS)``).
    """
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()
