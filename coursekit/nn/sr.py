"""Single-image super-resolution networks: SRCNN (Dong et al. 2014), SRResNet and the SRGAN discriminator
(Ledig et al. 2017), written to be read beside the papers.

- :func:`bicubic`: the baseline every SR paper reports, bicubic interpolation of the low-resolution image.
- :class:`SRCNN`: three convolutions (9x9 -> 1x1 -> 5x5, 64 and 32 filters: "9-1-5") applied to the
  bicubic-upsampled image; patch extraction, non-linear mapping, reconstruction. Trained with MSE.
- :class:`SRResNet`: works at low resolution and upsamples at the end with sub-pixel convolutions
  (PixelShuffle, Shi et al. 2016): conv 9x9 + PReLU, B residual blocks [conv BN PReLU conv BN] + skip,
  conv BN + a long skip, log2(scale) x [conv 3x3 to 4C -> PixelShuffle(2) -> PReLU], conv 9x9 -> 3.
  Trained with MSE it is the PSNR-oriented model; trained with a VGG content loss + adversarial loss it is
  SRGAN's generator.
- :class:`Discriminator`: SRGAN's D, eight 3x3 conv blocks (64-64-128-128-256-256-512-512, stride 2 on every
  second, BN except the first, LeakyReLU 0.2), Dense 1024, LeakyReLU, Dense 1. It returns a LOGIT
  (the paper ends in a sigmoid; the course's GAN losses take logits, see ``coursekit.losses``).

All networks take and return images in [0, 1] (B, C, H, W); the SR networks' output is not clamped during
training (the loss sees the raw values); use :func:`super_resolve` to get clamped images for evaluation.
The defaults are the papers' sizes (SRResNet x4: 1,549,462 parameters); notebooks shrink width and depth
on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..deprecation import renamed_keywords
from ..errors import expect_positive_int, expect_tensor
from . import count_parameters  # noqa: F401  (sr.count_parameters, as the lecture uses it)

SCALES = (2, 3, 4, 8)


def _expect_scale(scale) -> int:
    if scale not in SCALES:
        raise ValueError(f"scale: expected one of {', '.join(map(str, SCALES))}, got {scale!r}")
    return scale


def bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling of (B, C, h, w) by ``scale`` to (B, C, h * scale, w * scale), clamped to [0, 1].

    The baseline of the SR tables, and SRCNN's input (SRCNN refines a bicubic interpolation).
    """
    expect_tensor("lr", lr, ndim=4)
    expect_positive_int("scale", scale, minimum=1)
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0.0, 1.0)


# --------------------------------------------------------------------------------------------- SRCNN
class SRCNN(nn.Module):
    """SRCNN (Dong et al. 2014/2016), the 9-1-5 network: f1 x f1 conv to n1 maps + ReLU (patch extraction),
    f2 x f2 conv to n2 maps + ReLU (non-linear mapping), f3 x f3 conv to the image (reconstruction).

    Its input is the bicubic-upsampled low-resolution image (same size as the output). ``channels=1``
    (luminance only, as the paper) has 8,032 weights + 97 biases; the course uses 3 (RGB). The paper
    pads nothing and loses a border; here every conv is zero-padded to keep the size.
    """

    def __init__(self, channels: int = 3, n1: int = 64, n2: int = 32, f1: int = 9, f2: int = 1, f3: int = 5):
        super().__init__()
        for what, value in (("channels", channels), ("n1", n1), ("n2", n2)):
            expect_positive_int(what, value)
        for what, value in (("f1", f1), ("f2", f2), ("f3", f3)):
            if expect_positive_int(what, value) % 2 == 0:
                raise ValueError(f"{what}: expected an odd kernel size >= 1, got {value!r}")
        self.channels = channels
        self.body = nn.Sequential(
            nn.Conv2d(channels, n1, f1, padding=f1 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, f2, padding=f2 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(n2, channels, f3, padding=f3 // 2),
        )

    @torch.no_grad()
    def init_identity(self) -> SRCNN:
        """Start as the identity map (so as the bicubic answer), a CPU shortcut and NOT the paper's init.

        Inputs are >= 0, so a ReLU passes them unchanged: filter c of the first conv is a centred delta on
        channel c, map c of the second conv copies it, and the last conv reads channel c back from map c
        (its other weights start at 0). Every other filter keeps its random init and learns the correction
        from the first step on. The paper starts from N(0, 0.001) and trains for ~10^8 backpropagations;
        from that start, a few minutes of CPU leave SRCNN below bicubic.
        """
        first, mid, last = (m for m in self.body if isinstance(m, nn.Conv2d))
        c = self.channels
        if first.out_channels < c or mid.out_channels < c:
            raise ValueError(
                f"init_identity: expected n1, n2 >= channels ({c}), "
                f"got {first.out_channels}, {mid.out_channels}"
            )
        for conv in (first, mid):
            for parameter in conv.parameters():  # weight and bias, output channels first
                parameter[:c].zero_()
        for parameter in last.parameters():
            parameter.zero_()
        for i in range(c):
            first.weight[i, i, first.kernel_size[0] // 2, first.kernel_size[1] // 2] = 1.0
            mid.weight[i, i, mid.kernel_size[0] // 2, mid.kernel_size[1] // 2] = 1.0
            last.weight[i, i, last.kernel_size[0] // 2, last.kernel_size[1] // 2] = 1.0
        return self

    def forward(self, upsampled: torch.Tensor) -> torch.Tensor:
        expect_tensor("SRCNN input (bicubic-upsampled image)", upsampled, ndim=4, channels=self.channels)
        return self.body(upsampled)


# --------------------------------------------------------------------------------------------- SRResNet
@renamed_keywords(n_feats="channels")
class ResidualBlock(nn.Module):
    """SRResNet's block (Ledig et al. 2017, Fig. 4): x + BN(conv(PReLU(BN(conv(x))))), 3x3 convs."""

    def __init__(self, channels: int = 64, batch_norm: bool = True):
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(channels)) if batch_norm else nn.Identity
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            norm(),
            nn.PReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            norm(),
        )

    def forward(self, x):
        return x + self.body(x)


@renamed_keywords(n_feats="channels")
class Upsample(nn.Sequential):
    """Sub-pixel convolution (Shi et al. 2016): conv 3x3 to r^2 C maps, PixelShuffle(r), PReLU; r = 2 or 3."""

    def __init__(self, channels: int, factor: int = 2):
        super().__init__(
            nn.Conv2d(channels, channels * factor**2, 3, padding=1), nn.PixelShuffle(factor), nn.PReLU()
        )


@renamed_keywords(n_feats="width")
class SRResNet(nn.Module):
    """SRResNet / SRGAN generator (Ledig et al. 2017, Fig. 4), for scale 2, 3, 4 or 8.

    ``width`` (64) maps, ``n_blocks`` (16) residual blocks; ``batch_norm=False`` drops BN (as EDSR and
    ESRGAN later do). Input LR (B, C, h, w) in [0, 1] -> output (B, C, h * scale, w * scale), unclamped.

    ``bicubic_skip=True`` (NOT in the paper) adds the bicubic upsample of the input to the output and starts
    the last conv at 0, so the network starts as bicubic and learns only the missing detail (the residual);
    BasicSR's MSRResNet adds an interpolated input the same way. It makes a few CPU minutes enough to beat
    bicubic; the paper's network learns the whole image (and needs ~10^6 GPU iterations).
    """

    def __init__(
        self,
        scale: int = 4,
        channels: int = 3,
        width: int = 64,
        n_blocks: int = 16,
        batch_norm: bool = True,
        bicubic_skip: bool = False,
    ):
        super().__init__()
        self.scale = _expect_scale(scale)
        expect_positive_int("channels", channels)
        expect_positive_int("width", width)
        expect_positive_int("n_blocks", n_blocks, minimum=0)
        self.channels = channels
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU())
        norm = nn.BatchNorm2d(width) if batch_norm else nn.Identity()
        self.body = nn.Sequential(
            *(ResidualBlock(width, batch_norm) for _ in range(n_blocks)),
            nn.Conv2d(width, width, 3, padding=1),
            norm,
        )
        factors = [3] if scale == 3 else [2] * int(math.log2(scale))
        self.upsample = nn.Sequential(*(Upsample(width, f) for f in factors))
        self.tail = nn.Conv2d(width, channels, 9, padding=4)
        self.bicubic_skip = bool(bicubic_skip)
        if self.bicubic_skip:
            for parameter in self.tail.parameters():
                nn.init.zeros_(parameter)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        expect_tensor("SRResNet input (low-resolution image)", lr, ndim=4, channels=self.channels)
        features = self.head(lr)
        features = features + self.body(features)  # the long skip connection
        out = self.tail(self.upsample(features))
        if self.bicubic_skip:
            out = out + F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out


# --------------------------------------------------------------------------------------------- SRGAN D
@renamed_keywords(width="ndf")
class Discriminator(nn.Module):
    """SRGAN's discriminator (Ledig et al. 2017, Fig. 4) for ``size`` x ``size`` HR patches (96 in the paper).

    Eight conv blocks k3 with widths w, w, 2w, 2w, 4w, 4w, 8w, 8w (w = ``ndf``, 64), stride 2 on the 2nd,
    4th, 6th and 8th, BatchNorm on all but the first, LeakyReLU(0.2); then Dense(1024), LeakyReLU(0.2),
    Dense(1). Returns logits of shape (B,) (D(x) = sigmoid(logit)). ``size`` must be a multiple of 16.
    """

    def __init__(self, size: int = 96, channels: int = 3, ndf: int = 64, hidden: int = 1024):
        super().__init__()
        expect_positive_int("size", size, minimum=16)
        if size % 16:
            raise ValueError(f"size: expected a multiple of 16 (four stride-2 convs), got {size}")
        expect_positive_int("ndf", ndf)
        self.size, self.channels = size, channels
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate(
            [ndf, ndf, 2 * ndf, 2 * ndf, 4 * ndf, 4 * ndf, 8 * ndf, 8 * ndf]
        ):
            first = i == 0
            layers.append(nn.Conv2d(c_in, c_out, 3, stride=1 + i % 2, padding=1, bias=first))
            if not first:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * (size // 16) ** 2, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("SRGAN discriminator input", x, ndim=4, channels=self.channels)
        if tuple(x.shape[-2:]) != (self.size, self.size):
            raise ValueError(
                f"SRGAN discriminator input: expected {self.size}x{self.size} patches, "
                f"got {x.shape[-2]}x{x.shape[-1]}"
            )
        return self.classifier(self.features(x)).squeeze(1)


# --------------------------------------------------------------------------------------------- inference


@torch.no_grad()
def super_resolve(model, lr: torch.Tensor, scale: int, batch: int = 1) -> torch.Tensor:
    """Evaluate an SR model on (B, C, h, w) or (C, h, w) LR images: eval mode, no grad, output clamped to
    [0, 1]. ``model=None`` or ``"bicubic"`` gives bicubic; an :class:`SRCNN` gets the bicubic upsample as
    input; anything else gets the LR image. The model's train/eval mode is restored afterwards."""
    single = lr.ndim == 3
    lr = expect_tensor("lr", lr[None] if single else lr, ndim=4, value_range=(0.0, 1.0))
    if model is None or (isinstance(model, str) and model == "bicubic"):
        out = bicubic(lr, scale)
        return out[0] if single else out
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        outs = []
        for i in range(0, len(lr), batch):
            x = lr[i : i + batch].to(device)
            x = bicubic(x, scale) if isinstance(model, SRCNN) else x
            outs.append(model(x).clamp(0.0, 1.0).cpu())
        out = torch.cat(outs)
    finally:
        model.train(was_training)
    return out[0] if single else out
