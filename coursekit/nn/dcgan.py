"""DCGAN generator and discriminator (Radford et al. 2016), as pytorch/examples ``dcgan/main.py`` builds them.

For 64x64 images (``ngf = ndf = 64``)::

    G: z (100, 1, 1) -> ConvT 512 (4x4) -> ConvT 256 (8x8) -> ConvT 128 (16x16) -> ConvT 64 (32x32)
       -> ConvT nc (64x64) -> Tanh;  kernel 4, stride 2, padding 1 (the first: stride 1, padding 0),
       BatchNorm + ReLU after every layer but the last, no biases.
    D: Conv 64 (32x32, no BN) -> Conv 128 (16x16) -> Conv 256 (8x8) -> Conv 512 (4x4), BN + LeakyReLU 0.2
       -> Conv 1 (4x4 kernel, 1x1 output).

Other sizes (16, 32, 128) add or remove one stride-2 layer per factor of two, keeping ``ngf`` channels next
to the image: a 32x32 generator is z -> 256 (4x4) -> 128 -> 64 -> nc. Weights start as N(0, 0.02), batch-norm
scales as N(1, 0.02) and shifts at 0 (:func:`init_weights`, section 4 of the paper).

Two deliberate differences from the reference code, both exact re-parametrisations:

- Images are in [0, 1] at the interface, like everywhere in coursekit. The generator's Tanh output t in
  [-1, 1] is returned as (t + 1) / 2, and the discriminator maps its input back with 2x - 1, so D sees
  exactly the [-1, 1] images of the paper.
- The discriminator returns **logits** l, not probabilities: D(x) = sigmoid(l). The paper's last layer is a
  Sigmoid followed by ``BCELoss``; ``BCEWithLogitsLoss(l) = BCELoss(sigmoid(l))`` mathematically, but
  computed as ``softplus`` it neither overflows nor returns log(0) when D is very sure (see
  ``coursekit.losses``). Call ``torch.sigmoid(D(x))`` for the probability that x is real.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import torch
from torch import nn

from ..errors import expect_positive_int, expect_tensor

SIZES = (16, 32, 64, 128)
Z_DIM = 100


def _upsampling_layers(size: int) -> int:
    """Stride-2 layers between the 4x4 start and the image: 4 for 64x64, 3 for 32x32."""
    if size not in SIZES:
        raise ValueError(f"image size: expected one of {', '.join(map(str, SIZES))}, got {size!r}")
    return int(math.log2(size)) - 2


class LatentGenerator(Protocol):
    """A network mapping codes z of size ``z_dim`` to samples (this module's and gan3d's Generator)."""

    z_dim: int

    def __call__(self, z: torch.Tensor) -> torch.Tensor: ...

    def parameters(self) -> Iterator[nn.Parameter]: ...


def sample_from_prior(
    generator: LatentGenerator, n: int, seed: int | None = None, device=None
) -> torch.Tensor:
    """``generator(z)`` for ``n`` draws z ~ N(0, I) of size ``generator.z_dim``, without gradients (z drawn on
    the CPU from ``seed`` when given, so the samples do not depend on the device)."""
    expect_positive_int("n", n)
    device = device or next(generator.parameters()).device
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.randn(n, generator.z_dim, generator=gen).to(device)
    with torch.no_grad():
        return generator(z)


class Generator(nn.Module):
    """z of shape (B, z_dim) or (B, z_dim, 1, 1) -> images (B, channels, size, size) in [0, 1].

    ``main`` is the paper's stack of transposed convolutions ending in Tanh (values in [-1, 1]); ``forward``
    rescales it to [0, 1]. ``main`` has pytorch/examples' layer indices, so a ``netG.pth`` written by
    ``dcgan/main.py`` (nz=100, 64x64) loads with ``load_state_dict``.
    """

    def __init__(self, size: int = 64, channels: int = 3, z_dim: int = Z_DIM, ngf: int = 64):
        super().__init__()
        n_up = _upsampling_layers(size)
        self.size = size
        self.channels = expect_positive_int("channels", channels)
        self.z_dim = expect_positive_int("z_dim", z_dim)
        expect_positive_int("ngf", ngf)
        widths = [ngf * 2 ** (n_up - 1 - i) for i in range(n_up)]  # 64x64: 512, 256, 128, 64
        # input is z, going into a convolution: state size. z_dim x 1 x 1
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        # state size. (ngf * 2^(n_up - 1)) x 4 x 4; 64x64: (ngf*8) x 4 x 4
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
            # state size. c_out x 2s x 2s; 64x64: (ngf*4) x 8 x 8, (ngf*2) x 16 x 16, ngf x 32 x 32
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        # state size. channels x size x size (64x64: nc x 64 x 64)
        self.main = nn.Sequential(*layers)  # pytorch/examples' name: its netG state dict loads as is

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        expect_tensor("z", z, ndim=(2, 4))
        if z.shape[1] != self.z_dim or (z.ndim == 4 and z.shape[2:] != (1, 1)):
            raise ValueError(
                f"z: expected shape (B, {self.z_dim}) or (B, {self.z_dim}, 1, 1), got {tuple(z.shape)}"
            )
        return (self.main(z.reshape(z.shape[0], self.z_dim, 1, 1)) + 1) / 2

    def sample(self, n: int, seed: int | None = None, device=None) -> torch.Tensor:
        """``n`` images from z ~ N(0, I) (drawn on the CPU from ``seed`` when given), without gradients."""
        return sample_from_prior(self, n, seed, device)


class Discriminator(nn.Module):
    """Images (B, channels, size, size) in [0, 1] -> logits (B,); D(x) = sigmoid(logit) = P(x is real)."""

    def __init__(self, size: int = 64, channels: int = 3, ndf: int = 64):
        super().__init__()
        n_down = _upsampling_layers(size)
        self.size = size
        self.channels = expect_positive_int("channels", channels)
        expect_positive_int("ndf", ndf)
        widths = [ndf * 2**i for i in range(n_down)]  # 64x64: 64, 128, 256, 512
        # input is (channels) x size x size (64x64: nc x 64 x 64)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        # state size. ndf x size/2 x size/2 (64x64: ndf x 32 x 32)
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
            # state size. c_out x s/2 x s/2; 64x64: (ndf*2) x 16 x 16, (ndf*4) x 8 x 8, (ndf*8) x 4 x 4
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        # state size. 1 x 1 x 1: one logit (pytorch/examples adds a Sigmoid here, a layer without weights)
        self.main = nn.Sequential(*layers)  # pytorch/examples' name: its netD state dict loads as is

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("images", x, ndim=4, channels=self.channels)
        if x.shape[2:] != (self.size, self.size):
            raise ValueError(
                f"images: expected {self.size}x{self.size} pixels, got {tuple(x.shape[2:])}"
                " (build the Discriminator with the size of your images)"
            )
        return self.main(2 * x - 1).reshape(-1)


def init_weights(module: nn.Module, seed: int | None = None) -> nn.Module:
    """DCGAN initialisation (Radford et al. 2016, section 4), applied to every layer of ``module``.

    Convolution and transposed-convolution weights ~ N(0, 0.02); batch-norm weights ~ N(1, 0.02), biases 0.
    With ``seed`` the draws come from a local generator (the global random state is left alone). Returns
    ``module`` so it can be chained: ``G = init_weights(Generator(), seed=0)``.
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                _normal_(layer.weight, 0.0, 0.02, gen)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.BatchNorm2d):
                _normal_(layer.weight, 1.0, 0.02, gen)
                layer.bias.zero_()
    return module


def _normal_(tensor: torch.Tensor, mean: float, std: float, gen: torch.Generator | None) -> None:
    """Fill ``tensor`` from N(mean, std^2), drawn on the CPU: one seed, same weights on any device."""
    tensor.copy_(torch.randn(tensor.shape, generator=gen) * std + mean)


def build(size: int = 64, channels: int = 3, z_dim: int = Z_DIM, ngf: int = 64, ndf: int = 64, seed: int = 0):
    """A DCGAN pair ``(G, D)`` for ``size`` x ``size`` images, initialised from ``seed`` (D from seed + 1)."""
    with torch.random.fork_rng(devices=[]):  # torch's default init, overwritten below, draws globally
        generator = init_weights(Generator(size, channels, z_dim, ngf), seed=seed)
        discriminator = init_weights(Discriminator(size, channels, ndf), seed=seed + 1)
    return generator, discriminator


def optimizers(generator: nn.Module, discriminator: nn.Module, lr: float = 2e-4, betas=(0.5, 0.999)):
    """Adam for G and for D with the paper's learning rate 2e-4 and beta1 = 0.5."""
    return (
        torch.optim.Adam(generator.parameters(), lr=lr, betas=betas),
        torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas),
    )


__all__ = ["Discriminator", "Generator", "SIZES", "Z_DIM", "build", "init_weights", "optimizers"]
