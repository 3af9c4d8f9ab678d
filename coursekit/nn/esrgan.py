"""ESRGAN (Wang et al. 2018): the RRDB generator, the VGG-style discriminator and network interpolation,
laid out as XPixelGroup/BasicSR ``basicsr/archs/rrdbnet_arch.py`` and ``discriminator_arch.py`` build them.

Generator (``RRDBNet``, the paper's x4 model: ``width=64, n_blocks=23, growth=32``; BasicSR's num_feat,
num_block, num_grow_ch)::

    conv_first 3x3 (in_channels -> width)
    body: n_blocks x RRDB, then conv_body 3x3; long skip: feat = feat + conv_body(body(feat))
    upsampling, log2(scale) times (conv_up1, conv_up2, ...): nearest x2 -> conv 3x3 -> LeakyReLU 0.2
    conv_hr 3x3 -> LeakyReLU 0.2 -> conv_last 3x3 (width -> out_channels)

    RRDB (residual in residual dense block) = 3 dense blocks, out = x + 0.2 * rdb3(rdb2(rdb1(x)))
    dense block: x1 = lrelu(conv1(x)), x2 = lrelu(conv2([x, x1])), ..., x5 = conv5([x, x1, x2, x3, x4])
                 out = x + 0.2 * x5               (``growth`` channels per conv, LeakyReLU 0.2, NO batch norm)

The parameter names are BasicSR's (``conv_first``, ``body.N.rdb1.conv1`` .. ``conv5``, ``conv_body``,
``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``), so a x4 RRDBNet state dict saved by BasicSR loads
with ``load_state_dict``.

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

from ..deprecation import renamed_keywords
from ..errors import expect_positive_int, expect_tensor

RESIDUAL_SCALE = 0.2
INIT_SCALE = 0.1
SCALES = (1, 2, 4, 8)


def scaled_init(modules, scale: float = INIT_SCALE) -> None:
    """BasicSR's ``default_init_weights``: Kaiming normal (fan_in) times ``scale``, biases 0."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                m.weight.data.mul_(scale)
                if m.bias is not None:
                    m.bias.data.zero_()


@renamed_keywords(nf="channels", gc="growth")
class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs with dense connections; ``out = x + res_scale * x5`` (ESRGAN fig. 4).

    ``channels`` in and out; each of conv1..conv4 adds ``growth`` channels to the concatenation.
    """

    def __init__(self, channels: int = 64, growth: int = 32, res_scale: float = RESIDUAL_SCALE):
        super().__init__()
        c, g = expect_positive_int("channels", channels), expect_positive_int("growth", growth)
        self.channels, self.growth, self.res_scale = c, g, res_scale
        self.conv1 = nn.Conv2d(c, g, 3, 1, 1)
        self.conv2 = nn.Conv2d(c + g, g, 3, 1, 1)
        self.conv3 = nn.Conv2d(c + 2 * g, g, 3, 1, 1)
        self.conv4 = nn.Conv2d(c + 3 * g, g, 3, 1, 1)
        self.conv5 = nn.Conv2d(c + 4 * g, c, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        scaled_init([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + self.res_scale * x5


@renamed_keywords(nf="channels", gc="growth")
class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks and a scaled skip around them."""

    def __init__(self, channels: int = 64, growth: int = 32, res_scale: float = RESIDUAL_SCALE):
        super().__init__()
        self.res_scale = res_scale
        self.rdb1 = ResidualDenseBlock(channels, growth, res_scale)
        self.rdb2 = ResidualDenseBlock(channels, growth, res_scale)
        self.rdb3 = ResidualDenseBlock(channels, growth, res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.rdb3(self.rdb2(self.rdb1(x)))


@renamed_keywords(in_ch="in_channels", out_ch="out_channels", nf="width", nb="n_blocks", gc="growth")
class RRDBNet(nn.Module):
    """ESRGAN generator: (B, in_channels, h, w) in [0, 1] -> (B, out_channels, h * scale, w * scale).

    The paper's model is ``RRDBNet(scale=4)`` (width 64, 23 RRDBs, growth 32: 16,697,987 parameters); the
    lecture trains a small one (e.g. ``width=32, n_blocks=2, growth=16``) on a CPU. ``scale`` in (1, 2, 4, 8):
    log2(scale) nearest-x2 + conv stages ``conv_up1``, ``conv_up2``, ... (BasicSR has exactly two, for x4,
    and uses pixel-unshuffle for x1 and x2; here x1 simply has no upsampling stage).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, scale: int = 4, width: int = 64,
                 n_blocks: int = 23, growth: int = 32):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale: expected one of {', '.join(map(str, SCALES))}, got {scale!r}")
        self.in_channels = expect_positive_int("in_channels", in_channels)
        self.out_channels = expect_positive_int("out_channels", out_channels)
        self.scale, self.width = scale, expect_positive_int("width", width)
        self.n_blocks = expect_positive_int("n_blocks", n_blocks, minimum=0)
        self.growth = expect_positive_int("growth", growth)
        self.conv_first = nn.Conv2d(in_channels, width, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(width, growth) for _ in range(n_blocks)])
        self.conv_body = nn.Conv2d(width, width, 3, 1, 1)
        self.n_upsampling = int(math.log2(scale))
        for i in range(1, self.n_upsampling + 1):
            self.add_module(f"conv_up{i}", nn.Conv2d(width, width, 3, 1, 1))
        self.conv_hr = nn.Conv2d(width, width, 3, 1, 1)
        self.conv_last = nn.Conv2d(width, out_channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("RRDBNet input", x, ndim=4, channels=self.in_channels)
        feat = self.conv_first(x)  # state size. width x h x w
        feat = feat + self.conv_body(self.body(feat))
        for i in range(1, self.n_upsampling + 1):  # reassigning feat frees each map early (large images)
            conv_up = getattr(self, f"conv_up{i}")
            # state size. width x (2^i h) x (2^i w)
            feat = self.lrelu(conv_up(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_hr(feat))
        return self.conv_last(feat)  # state size. out_channels x (scale h) x (scale w)

    def receptive_radius(self) -> int:
        """Theoretical receptive-field radius in input pixels: one per 3x3 conv at low resolution, plus the
        convs after upsampling counted at their own scale (rounded up)."""
        low = 2 + 15 * self.n_blocks  # conv_first, 5 convs x 3 dense blocks per RRDB, conv_body
        high = sum(1 / 2 ** (i + 1) for i in range(self.n_upsampling)) + 2 / self.scale
        return low + math.ceil(high)


@renamed_keywords(nf="ndf")
class VGGStyleDiscriminator(nn.Module):
    """ESRGAN's discriminator (BasicSR ``VGGStyleDiscriminator``): (B, C, size, size) -> logits (B, 1).

    Stage k (k = 0..n-1, n = log2(size / 4)): conv 3x3 stride 1 then conv 4x4 stride 2, widths
    ndf * (1, 2, 4, 8, 8, ...), BatchNorm after every conv but the first, LeakyReLU 0.2; then flatten the 4x4
    map -> Linear 100 -> LeakyReLU -> Linear 1. The paper's input is 128x128 (5 stages). The output is a raw
    logit C(x): the relativistic average losses compare C(x_real) with the mean C over fakes.
    """

    def __init__(self, size: int = 128, channels: int = 3, ndf: int = 64):
        super().__init__()
        if not (expect_positive_int("size", size, minimum=8) & (size - 1) == 0):
            raise ValueError(f"size: expected a power of two >= 8 (e.g. 32, 64, 128), got {size!r}")
        self.size, self.channels = size, expect_positive_int("channels", channels)
        expect_positive_int("ndf", ndf)
        stages = int(math.log2(size // 4))
        layers: list[nn.Module] = []
        c_in = channels
        for k in range(stages):
            width = ndf * min(2**k, 8)  # state size after the stage: width x size/2^(k+1) x size/2^(k+1)
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
    "RRDB",
    "RRDBNet",
    "ResidualDenseBlock",
    "VGGStyleDiscriminator",
    "interpolate",
    "interpolate_state",
    "scaled_init",
]
