"""ESRGAN (Wang et al. 2018): the RRDB generator, the VGG-style discriminator and network interpolation,
laid out as XPixelGroup/BasicSR ``basicsr/archs/rrdbnet_arch.py`` and ``discriminator_arch.py`` build them.

Generator (``RRDBNet``, the paper's x4 model: ``nf=64, nb=23, gc=32``)::

    conv_first 3x3 (in -> nf)
    body: nb x RRDB, then conv_body 3x3; long skip: feat = feat + conv_body(body(feat))
    upsampling, log2(scale) times: nearest x2 -> conv 3x3 -> LeakyReLU 0.2
    conv_hr 3x3 -> LeakyReLU 0.2 -> conv_last 3x3 (nf -> out)

    RRDB (residual in residual dense block) = 3 dense blocks, out = x + 0.2 * rdb3(rdb2(rdb1(x)))
    dense block: x1 = lrelu(conv1(x)), x2 = lrelu(conv2([x, x1])), ..., x5 = conv5([x, x1, x2, x3, x4])
                 out = x + 0.2 * x5               (growth channels gc, LeakyReLU 0.2, NO batch norm)

Two changes of ESRGAN over SRResNet live here: no batch norm (BN brings artefacts when train and test
statistics differ) and residual scaling 0.2 with a scaled initialisation (Kaiming normal x 0.1 in every dense
block), which together let a very deep network train stably. The other two are the relativistic average
discriminator (the losses in ``coursekit.losses``: D says how much *more* real a real image is than the
average fake) and the perceptual loss on VGG19 conv5_4 *before* the activation.

Images are in [0, 1] at the interface; the generator output is not clamped while training (clamp to view).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import expect_positive_int, expect_tensor

RESIDUAL_SCALE = 0.2
INIT_SCALE = 0.1
SCALES = (1, 2, 4, 8)
LECTURE_CONFIG = {"scale": 4, "nf": 32, "nb": 2, "gc": 16}  # the small x4 model lecture 06 trains on a CPU


def scaled_init(modules, scale: float = INIT_SCALE) -> None:
    """BasicSR's ``default_init_weights``: Kaiming normal (fan_in) times ``scale``, biases 0."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                m.weight.data.mul_(scale)
                if m.bias is not None:
                    m.bias.data.zero_()


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs with dense connections; ``out = x + res_scale * x5`` (ESRGAN fig. 4)."""

    def __init__(self, nf: int = 64, gc: int = 32, res_scale: float = RESIDUAL_SCALE):
        super().__init__()
        self.nf, self.gc, self.res_scale = (
            expect_positive_int("nf", nf),
            expect_positive_int("gc", gc),
            res_scale,
        )
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        scaled_init([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + self.res_scale * x5


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks and a scaled skip around them."""

    def __init__(self, nf: int = 64, gc: int = 32, res_scale: float = RESIDUAL_SCALE):
        super().__init__()
        self.res_scale = res_scale
        self.rdb1 = ResidualDenseBlock(nf, gc, res_scale)
        self.rdb2 = ResidualDenseBlock(nf, gc, res_scale)
        self.rdb3 = ResidualDenseBlock(nf, gc, res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN generator: (B, in_ch, h, w) in [0, 1] -> (B, out_ch, h * scale, w * scale).

    The paper's model is ``RRDBNet(scale=4)`` (nf 64, nb 23, gc 32: 16,697,987 parameters); the lecture trains
    a small one (e.g. ``nf=32, nb=2, gc=16``) on a CPU. ``scale`` in (1, 2, 4, 8): log2(scale) nearest-x2 +
    conv stages (BasicSR uses pixel-unshuffle for x1 and x2; here x1 simply has no upsampling stage).
    """

    def __init__(
        self, in_ch: int = 3, out_ch: int = 3, scale: int = 4, nf: int = 64, nb: int = 23, gc: int = 32
    ):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale: expected one of {', '.join(map(str, SCALES))}, got {scale!r}")
        self.in_ch, self.out_ch, self.scale = (
            expect_positive_int("in_ch", in_ch),
            expect_positive_int("out_ch", out_ch),
            scale,
        )
        self.nf, self.nb, self.gc = (
            expect_positive_int("nf", nf),
            expect_positive_int("nb", nb, minimum=0),
            gc,
        )
        self.conv_first = nn.Conv2d(in_ch, nf, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.ups = nn.ModuleList([nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(int(math.log2(scale)))])
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("RRDBNet input", x, ndim=4, channels=self.in_ch)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in self.ups:  # reassigning feat frees each map as soon as possible (large images)
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_hr(feat))
        return self.conv_last(feat)

    def receptive_radius(self) -> int:
        """Theoretical receptive-field radius in input pixels: one per 3x3 conv at low resolution, plus the
        convs after upsampling counted at their own scale (rounded up)."""
        low = 2 + 15 * self.nb  # conv_first, 5 convs x 3 dense blocks per RRDB, conv_body
        high = sum(1 / 2 ** (i + 1) for i in range(len(self.ups))) + 2 / self.scale
        return low + math.ceil(high)


class VGGStyleDiscriminator(nn.Module):
    """ESRGAN's discriminator (BasicSR ``VGGStyleDiscriminator``): (B, C, size, size) -> logits (B, 1).

    Stage k (k = 0..n-1, n = log2(size / 4)): conv 3x3 stride 1 then conv 4x4 stride 2, widths
    nf * (1, 2, 4, 8, 8, ...), BatchNorm after every conv but the first, LeakyReLU 0.2; then flatten the 4x4
    map -> Linear 100 -> LeakyReLU -> Linear 1. The paper's input is 128x128 (5 stages). The output is a raw
    logit C(x): the relativistic average losses compare C(x_real) with the mean C over fakes.
    """

    def __init__(self, size: int = 128, channels: int = 3, nf: int = 64):
        super().__init__()
        if not (isinstance(size, int) and size >= 8 and size & (size - 1) == 0):
            raise ValueError(f"size: expected a power of two >= 8 (e.g. 32, 64, 128), got {size!r}")
        self.size, self.channels = size, expect_positive_int("channels", channels)
        expect_positive_int("nf", nf)
        stages = int(math.log2(size // 4))
        layers: list[nn.Module] = []
        c_in = channels
        for k in range(stages):
            width = nf * min(2**k, 8)
            layers.append(nn.Conv2d(c_in, width, 3, 1, 1, bias=k == 0))
            if k > 0:
                layers.append(nn.BatchNorm2d(width, affine=True))
            layers += [nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(width, width, 4, 2, 1, bias=False)]
            layers += [nn.BatchNorm2d(width, affine=True), nn.LeakyReLU(0.2, inplace=True)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * 16, 100), nn.LeakyReLU(0.2, inplace=True), nn.Linear(100, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("VGGStyleDiscriminator input", x, ndim=4, channels=self.channels)
        if tuple(x.shape[2:]) != (self.size, self.size):
            raise ValueError(
                f"VGGStyleDiscriminator input: expected {self.size}x{self.size} images, got "
                f"{tuple(x.shape[2:])}"
            )
        return self.classifier(self.features(x))


def interpolate_state(psnr_state: dict, gan_state: dict, alpha: float) -> dict:
    """Network interpolation (ESRGAN section 3.4): theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN.

    ``alpha`` = 0 gives the PSNR-oriented net (smooth), 1 the GAN net (sharp, with artefacts); in between
    trades one for the other without retraining. Both states must come from the same architecture.
    """
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    if psnr_state.keys() != gan_state.keys():
        missing = sorted(set(psnr_state) ^ set(gan_state))[:3]
        raise ValueError(f"gan_state: expected the same parameter names as psnr_state, differing: {missing}")
    out = {}
    for key, a in psnr_state.items():
        b = gan_state[key]
        if a.shape != b.shape:
            raise ValueError(
                f"{key}: expected the same shape in both states, got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        out[key] = (1 - alpha) * a + alpha * b if a.is_floating_point() else b.clone()
    return out


def interpolate(
    psnr_net: nn.Module, gan_net: nn.Module, alpha: float, into: nn.Module | None = None
) -> nn.Module:
    """A network whose weights are :func:`interpolate_state` of the two; written into ``into`` if given
    (reuse one module for a slider), otherwise into a deep copy of ``psnr_net``."""
    import copy

    target = into if into is not None else copy.deepcopy(psnr_net)
    target.load_state_dict(interpolate_state(psnr_net.state_dict(), gan_net.state_dict(), alpha))
    return target


__all__ = [
    "LECTURE_CONFIG",
    "RRDB",
    "RRDBNet",
    "ResidualDenseBlock",
    "VGGStyleDiscriminator",
    "interpolate",
    "interpolate_state",
    "scaled_init",
]
