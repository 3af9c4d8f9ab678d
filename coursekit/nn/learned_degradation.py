"""Learned degradation for real-world super-resolution (Bulat et al. 2018, "To learn image
super-resolution, use a GAN to learn how to do image degradation first"), sized for a CPU.

Two generators, each trained with l = alpha * pixel(L2) + beta * GAN (alpha 1, beta 0.05), Adam lr 1e-4,
betas (0, 0.9), 5 discriminator updates per generator update:

- ``HighToLow``: an HR face 64x64 and a noise vector z -> a degraded 16x16 LR face. Trained on UNPAIRED
  data: its discriminator compares its outputs with real low-resolution faces whose degradation nobody
  knows; the pixel term ties the output to the HR face average-pooled to 16x16 so the content stays.
- ``LowToHigh``: 16x16 -> 64x64, trained on pairs (High-to-Low(HR, z), HR) with a fresh z for every batch,
  so it learns to undo the degradations seen in the real data rather than bicubic down-sampling.

Architectures, in the paper's spirit (pre-activation residual blocks BN-ReLU-conv; noise projected by a
linear layer to one extra 64x64 input channel; spectral-norm discriminators with the hinge loss) but much
smaller. One addition of ours to train in minutes: each generator adds its output to a fixed path (the
average-pooled input for High-to-Low, the bicubic-upsampled input for Low-to-High), so it starts from a
sensible image and learns the residual. Images are in [0, 1]; generator outputs are clamped to [0, 1].

The hand-made degradations (blur, noise, JPEG, down-sampling, ...) are ``coursekit.data.degrade``.
"""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ..deprecation import renamed_keywords
from ..errors import expect_positive_int, expect_tensor


class AdamSettings(TypedDict):
    """Keyword arguments of ``torch.optim.Adam``."""

    lr: float
    betas: tuple[float, float]


HR_SIZE, LR_SIZE, SCALE = 64, 16, 4
NOISE_DIM = 64
ADAM: AdamSettings = {"lr": 1e-4, "betas": (0.0, 0.9)}
D_STEPS = 5


@renamed_keywords(nf="channels")
class PreActBlock(nn.Module):
    """Pre-activation residual block (He et al. 2016): x + conv(relu(bn(conv(relu(bn(x))))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _head(width: int, channels: int) -> nn.Sequential:
    out = nn.Conv2d(width, channels, 3, 1, 1)
    for parameter in out.parameters():  # start exactly at the fixed path (see the module docstring)
        nn.init.zeros_(parameter)
    return nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), out)


def target_lr(hr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """The pixel-loss target of High-to-Low: the HR image average-pooled by ``scale`` (64x64 -> 16x16)."""
    expect_tensor("hr", hr, ndim=4)
    return F.avg_pool2d(hr, scale)


@renamed_keywords(nf="width", blocks="n_blocks")
class HighToLow(nn.Module):
    """(hr (B, C, 64, 64), z (B, noise_dim)) -> degraded lr (B, C, 16, 16) in [0, 1].

    z -> Linear -> one 64x64 channel, concatenated with the HR image -> conv 3x3 -> [avgpool 2, residual
    blocks] x 2 -> BN-ReLU-conv head, added to the average-pooled HR image and clamped to [0, 1].
    """

    def __init__(self, channels: int = 3, width: int = 32, noise_dim: int = NOISE_DIM, n_blocks: int = 1):
        super().__init__()
        self.channels, self.noise_dim = (
            expect_positive_int("channels", channels),
            expect_positive_int("noise_dim", noise_dim),
        )
        expect_positive_int("width", width)
        expect_positive_int("n_blocks", n_blocks)
        self.noise_fc = nn.Linear(noise_dim, HR_SIZE * HR_SIZE)
        self.conv_in = nn.Conv2d(channels + 1, width, 3, 1, 1)
        stages: list[nn.Module] = []
        for _ in range(2):  # 64 -> 32 -> 16, residual blocks after each pooling (cheap at low resolution)
            stages += [nn.AvgPool2d(2)] + [PreActBlock(width) for _ in range(n_blocks)]
        self.body = nn.Sequential(*stages)
        self.head = _head(width, channels)

    def forward(self, hr: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        expect_tensor("hr", hr, ndim=4, channels=self.channels)
        if tuple(hr.shape[2:]) != (HR_SIZE, HR_SIZE):
            raise ValueError(f"hr: expected {HR_SIZE}x{HR_SIZE} images, got {tuple(hr.shape[2:])}")
        expect_tensor("z", z, ndim=2)
        if z.shape != (hr.shape[0], self.noise_dim):
            raise ValueError(f"z: expected shape ({hr.shape[0]}, {self.noise_dim}), got {tuple(z.shape)}")
        noise = self.noise_fc(z).view(-1, 1, HR_SIZE, HR_SIZE)
        residual = self.head(self.body(self.conv_in(torch.cat((hr, noise), 1))))
        return (target_lr(hr) + residual).clamp(0, 1)

    def sample_noise(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """z ~ N(0, I) of shape (n, noise_dim): one degradation per row."""
        z = torch.randn(n, self.noise_dim, generator=generator)
        return z.to(device if device is not None else self.noise_fc.weight.device)


@renamed_keywords(nf="width", blocks="n_blocks")
class LowToHigh(nn.Module):
    """lr (B, C, 16, 16) -> sr (B, C, 64, 64) in [0, 1]: residual blocks at 16x16, then two nearest-x2 +
    conv + residual-block stages; the output is added to the bicubic upsampling of the input."""

    def __init__(self, channels: int = 3, width: int = 32, n_blocks: int = 2):
        super().__init__()
        self.channels = expect_positive_int("channels", channels)
        expect_positive_int("width", width)
        expect_positive_int("n_blocks", n_blocks)
        self.conv_in = nn.Conv2d(channels, width, 3, 1, 1)
        self.body = nn.Sequential(*[PreActBlock(width) for _ in range(n_blocks)])
        ups = []
        for _ in range(2):
            ups += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, 1, 1)]
            ups.append(PreActBlock(width))
        self.up = nn.Sequential(*ups)
        self.head = _head(width, channels)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        expect_tensor("lr", lr, ndim=4, channels=self.channels)
        base = F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False)
        return (base + self.head(self.up(self.body(self.conv_in(lr))))).clamp(0, 1)


@renamed_keywords(nf="ndf")
class SNDiscriminator(nn.Module):
    """Spectral-norm conv discriminator for ``size`` x ``size`` images -> logits (B, 1).

    conv 3x3 (ndf) then stride-2 4x4 convs doubling the width until 4x4, LeakyReLU 0.2, a linear layer;
    every layer spectrally normalised (Miyato et al. 2018). The reference repository uses SN ResNet
    discriminators; this plain stack is the small CPU version. Used for 16x16 (High-to-Low) and 64x64
    (Low-to-High) images.
    """

    def __init__(self, size: int, channels: int = 3, ndf: int = 32):
        super().__init__()
        if size not in (8, 16, 32, 64, 128):
            raise ValueError(f"size: expected one of 8, 16, 32, 64, 128, got {size!r}")
        self.size, self.channels = size, expect_positive_int("channels", channels)
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(channels, ndf, 3, 1, 1)), nn.LeakyReLU(0.2)]
        width, s = ndf, size
        while s > 4:
            layers += [spectral_norm(nn.Conv2d(width, min(width * 2, 8 * ndf), 4, 2, 1)), nn.LeakyReLU(0.2)]
            width, s = min(width * 2, 8 * ndf), s // 2
        self.features = nn.Sequential(*layers)
        self.fc = spectral_norm(nn.Linear(width * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("SNDiscriminator input", x, ndim=4, channels=self.channels)
        if tuple(x.shape[2:]) != (self.size, self.size):
            raise ValueError(
                f"SNDiscriminator input: expected {self.size}x{self.size} images, got {tuple(x.shape[2:])}"
            )
        return self.fc(self.features(x).flatten(1))


def optimizers(generator: nn.Module, discriminator: nn.Module, lr: float = ADAM["lr"], betas=ADAM["betas"]):
    """Adam(lr 1e-4, betas (0, 0.9)) for each network, as Bulat et al. section 4."""
    return (
        torch.optim.Adam(generator.parameters(), lr=lr, betas=betas),
        torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas),
    )


def _step_logs(d_loss: torch.Tensor, terms: dict) -> dict[str, float]:
    """The numbers a training step reports to ``ck.train.fit``: D's loss and G's loss with its two terms."""
    return {
        "d_loss": d_loss.item(),
        "g_loss": terms["loss"].item(),
        "pixel": terms["pixel"].item(),
        "gan": terms["gan"].item(),
    }


def high_to_low_step(
    h2l,
    disc,
    opt_g,
    opt_d,
    hr,
    real_lr,
    d_steps: int = D_STEPS,
    alpha: float = 1.0,
    beta: float = 0.05,
    generator: torch.Generator | None = None,
) -> dict:
    """One High-to-Low update: ``d_steps`` discriminator updates (a fresh z each), then one generator update.

    D (hinge loss) learns to tell the real LR faces ``real_lr`` (B', C, 16, 16; unpaired with ``hr``) from
    High-to-Low(hr, z); G minimises alpha * MSE(G(hr, z), avgpool4(hr)) + beta * (-E[D(G(hr, z))]).
    Returns the last losses as floats: d_loss, g_loss, pixel, gan.
    """
    from ..losses import degradation_terms, hinge_discriminator_loss

    for _ in range(d_steps):
        with torch.no_grad():
            fake = h2l(hr, h2l.sample_noise(len(hr), generator, hr.device))
        d_loss = hinge_discriminator_loss(disc(real_lr), disc(fake))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    fake = h2l(hr, h2l.sample_noise(len(hr), generator, hr.device))
    terms = degradation_terms(fake, target_lr(hr), disc(fake), alpha, beta)
    opt_g.zero_grad(set_to_none=True)
    terms["loss"].backward()
    opt_g.step()
    return _step_logs(d_loss, terms)


def low_to_high_step(
    l2h, disc, opt_g, opt_d, lr, hr, d_steps: int = D_STEPS, alpha: float = 1.0, beta: float = 0.05
) -> dict:
    """One Low-to-High update on pairs (lr, hr): ``d_steps`` D updates (hinge: hr real, l2h(lr) fake), then G
    minimises alpha * MSE(l2h(lr), hr) + beta * GAN. ``d_steps=0`` or ``beta=0`` trains on the pixel
    loss only."""
    from ..losses import degradation_terms, hinge_discriminator_loss

    d_loss = torch.zeros(())
    if beta > 0 and d_steps:
        with torch.no_grad():
            fake = l2h(lr)  # Low-to-High has no noise input: one fake batch serves the d_steps updates
    for _ in range(d_steps if beta > 0 else 0):
        d_loss = hinge_discriminator_loss(disc(hr), disc(fake))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    sr = l2h(lr)
    logits = disc(sr) if beta > 0 else sr.new_zeros(len(sr), 1)
    terms = degradation_terms(sr, hr, logits, alpha, beta)
    opt_g.zero_grad(set_to_none=True)
    terms["loss"].backward()
    opt_g.step()
    return _step_logs(d_loss, terms)


__all__ = [
    "ADAM",
    "D_STEPS",
    "HR_SIZE",
    "LR_SIZE",
    "NOISE_DIM",
    "SCALE",
    "HighToLow",
    "LowToHigh",
    "PreActBlock",
    "SNDiscriminator",
    "high_to_low_step",
    "low_to_high_step",
    "optimizers",
    "target_lr",
]
