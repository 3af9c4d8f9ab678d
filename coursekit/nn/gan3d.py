"""3D-GAN (Wu et al. 2016): a 200-d z turned into a voxel object by volumetric transposed convolutions.

For 64^3 objects (``ngf = ndf = 64``), as in the paper's Fig. 1 and rimchang/3DGAN-Pytorch::

    G: z (200, 1, 1, 1) -> ConvT3d 512 (4^3) -> ConvT3d 256 (8^3) -> ConvT3d 128 (16^3) -> ConvT3d 64 (32^3)
       -> ConvT3d 1 (64^3) -> Sigmoid;  kernel 4, stride 2, padding 1 (the first: stride 1, padding 0),
       BatchNorm + ReLU after every layer but the last, no biases.
    D: Conv3d 64 (32^3) -> 128 (16^3) -> 256 (8^3) -> 512 (4^3), LeakyReLU 0.2 (batch norm from the second
       layer on) -> Conv3d 1 (4^3 kernel, 1^3 output): one logit per object.

The output is an occupancy probability per voxel in [0, 1]; a threshold of 0.5 turns it into a shape.
Smaller grids follow the course's DCGAN convention (``coursekit.nn.dcgan``): each halving of the side drops
the widest layer and keeps ``ngf`` channels next to the grid, so a 32^3 generator is
z -> 256 (4^3) -> 128 (8^3) -> 64 (16^3) -> 1 (32^3). ``ngf`` / ``ndf`` scale every width (CPU profiles use
8 or 16).

Training (section 3.1 and 4 of the paper): Adam with beta1 = 0.5, G learning rate 2.5e-3, D learning rate
1e-5, batch 100, and the **adaptive update rule**: the discriminator is updated only when its accuracy on
the current batch is at most 80%, so that it cannot run away from the generator early on
(:func:`discriminator_accuracy`, :func:`accuracy_rule` for ``coursekit.train.gan_step``).

As in ``coursekit.nn.dcgan``, D returns **logits** (``D(x) = sigmoid(logit)``); the losses are the ones of
``coursekit.losses`` (``discriminator_loss`` = the paper's L_3D-GAN = log D(x) + log(1 - D(G(z))) with the
sign D minimises, and the non-saturating generator loss). Choices the paper leaves open, made here and named:
no convolution biases (every conv but the last is followed by batch norm), no batch norm on D's first layer
(DCGAN's rule; rimchang's code puts one there), weights from N(0, 0.02) as in DCGAN.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..errors import expect_positive_int, expect_probability, expect_tensor
from .dcgan import sample_from_prior

SIZES = (16, 32, 64)
Z_DIM = 200
G_LR, D_LR, BETAS = 2.5e-3, 1e-5, (0.5, 0.999)
D_ACCURACY_THRESHOLD = 0.8


def _stride2_layers(size: int) -> int:
    """Stride-2 layers between the 4^3 start and the grid: 4 for 64^3, 3 for 32^3, 2 for 16^3."""
    if isinstance(size, bool) or size not in SIZES:
        raise ValueError(f"grid size: expected one of {', '.join(map(str, SIZES))}, got {size!r}")
    return int(math.log2(size)) - 2


def generator_block(c_in: int, c_out: int, first: bool = False) -> nn.Sequential:
    """One volumetric up-sampling block: ConvTranspose3d(k4, s2, p1) doubling each side, BatchNorm3d, ReLU.

    ``first=True`` is the block that turns z (c_in, 1, 1, 1) into a (c_out, 4, 4, 4) volume (stride 1,
    padding 0).
    """
    stride, padding = (1, 0) if first else (2, 1)
    return nn.Sequential(
        nn.ConvTranspose3d(c_in, c_out, 4, stride, padding, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(True),
    )


def discriminator_block(c_in: int, c_out: int, batch_norm: bool = True) -> nn.Sequential:
    """Conv3d(k4, s2, p1) halving each side, (BatchNorm3d), LeakyReLU(0.2): the mirror of a G block."""
    layers: list[nn.Module] = [nn.Conv3d(c_in, c_out, 4, 2, 1, bias=False)]
    if batch_norm:
        layers.append(nn.BatchNorm3d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


def _check_volumes(what: str, x: torch.Tensor, size: int) -> torch.Tensor:
    expect_tensor(what, x, ndim=5, channels=1)
    if tuple(x.shape[2:]) != (size, size, size):
        raise ValueError(
            f"{what}: expected {size}^3 voxel grids (B, 1, {size}, {size}, {size}),"
            f" got shape {tuple(x.shape)}"
            " (build the network with the size of your grids)"
        )
    return x


class Generator(nn.Module):
    """z of shape (B, z_dim) or (B, z_dim, 1, 1, 1) -> occupancy (B, 1, size, size, size) in [0, 1]."""

    def __init__(self, size: int = 64, z_dim: int = Z_DIM, ngf: int = 64):
        super().__init__()
        n_up = _stride2_layers(size)
        self.size = size
        self.z_dim = expect_positive_int("z_dim", z_dim)
        expect_positive_int("ngf", ngf)
        widths = [ngf * 2 ** (n_up - 1 - i) for i in range(n_up)]  # 64^3: 512, 256, 128, 64
        blocks = [generator_block(z_dim, widths[0], first=True)]
        blocks += [generator_block(a, b) for a, b in zip(widths, widths[1:], strict=False)]
        self.net = nn.Sequential(
            *blocks, nn.ConvTranspose3d(widths[-1], 1, 4, 2, 1, bias=False), nn.Sigmoid()
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        expect_tensor("z", z, ndim=(2, 5))
        if z.shape[1] != self.z_dim or (z.ndim == 5 and tuple(z.shape[2:]) != (1, 1, 1)):
            raise ValueError(
                f"z: expected shape (B, {self.z_dim}) or (B, {self.z_dim}, 1, 1, 1), got {tuple(z.shape)}"
            )
        return self.net(z.reshape(z.shape[0], self.z_dim, 1, 1, 1))

    def sample(self, n: int, seed: int | None = None, device=None) -> torch.Tensor:
        """``n`` volumes from z ~ N(0, I) (drawn on the CPU from ``seed`` when given), without gradients."""
        return sample_from_prior(self, n, seed, device)


class Discriminator(nn.Module):
    """Voxel grids (B, 1, size, size, size) in [0, 1] -> logits (B,); D(x) = sigmoid(logit) = P(real)."""

    def __init__(self, size: int = 64, ndf: int = 64):
        super().__init__()
        n_down = _stride2_layers(size)
        self.size = size
        expect_positive_int("ndf", ndf)
        widths = [ndf * 2**i for i in range(n_down)]  # 64^3: 64, 128, 256, 512
        blocks = [discriminator_block(1, widths[0], batch_norm=False)]
        blocks += [discriminator_block(a, b) for a, b in zip(widths, widths[1:], strict=False)]
        self.net = nn.Sequential(*blocks, nn.Conv3d(widths[-1], 1, 4, 1, 0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(_check_volumes("volumes", x, self.size)).reshape(-1)


def init_weights(module: nn.Module, seed: int | None = None) -> nn.Module:
    """N(0, 0.02) convolution weights, batch-norm weights N(1, 0.02) and biases 0 (DCGAN's initialisation).

    Draws come from a local CPU generator when ``seed`` is given (the global random state is left alone).
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv3d, nn.ConvTranspose3d)):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.02)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.BatchNorm3d):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.02 + 1.0)
                layer.bias.zero_()
    return module


def build(size: int = 64, z_dim: int = Z_DIM, ngf: int = 64, ndf: int = 64, seed: int = 0):
    """A 3D-GAN pair ``(G, D)`` for ``size``^3 grids, initialised from ``seed`` (D from seed + 1)."""
    with torch.random.fork_rng(devices=[]):  # torch's default init, overwritten, draws globally
        generator = init_weights(Generator(size, z_dim, ngf), seed=seed)
        discriminator = init_weights(Discriminator(size, ndf), seed=seed + 1)
    return generator, discriminator


def optimizers(
    generator: nn.Module, discriminator: nn.Module, lr_g: float = G_LR, lr_d: float = D_LR, betas=BETAS
):
    """Adam for G (lr 2.5e-3) and for D (lr 1e-5), beta1 = 0.5: the paper's settings (section 4)."""
    return (
        torch.optim.Adam(generator.parameters(), lr=lr_g, betas=betas),
        torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=betas),
    )


def discriminator_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The fraction of a batch D classifies correctly: real with logit > 0, generated with logit < 0.

    Both halves count equally when they have the same size (the mean over the concatenated decisions).
    A logit of exactly 0 (D(x) = 1/2) counts as wrong.
    """
    expect_tensor("real_logits", real_logits)
    expect_tensor("fake_logits", fake_logits)
    if real_logits.numel() == 0 or fake_logits.numel() == 0:
        raise ValueError(
            "logits: expected non-empty tensors, got shapes"
            f" {tuple(real_logits.shape)} and {tuple(fake_logits.shape)}"
        )
    correct = torch.cat([(real_logits.detach() > 0).flatten(), (fake_logits.detach() < 0).flatten()])
    return correct.float().mean()


def should_update_discriminator(accuracy, threshold: float = D_ACCURACY_THRESHOLD) -> bool:
    """The paper's adaptive rule: update D only while its accuracy on the batch is <= ``threshold`` (80%)."""
    expect_probability("threshold", threshold)
    return float(accuracy) <= threshold


def accuracy_rule(threshold: float = D_ACCURACY_THRESHOLD):
    """3D-GAN's condition on D's update (Wu et al. 2016, section 4), for ``coursekit.train.gan_step``'s
    ``update_d_if``: update D only while its accuracy on the batch is <= ``threshold`` (80%).

    The returned rule maps D's logits on the batch (real, generated), before the update, to
    ``(update, {"d_acc": accuracy})``::

        step = ck.train.gan_step(G, D, opt_g, opt_d, z_dim=G.z_dim, update_d_if=gan3d.accuracy_rule())
    """
    expect_probability("threshold", threshold)

    def rule(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[bool, dict[str, float]]:
        accuracy = float(discriminator_accuracy(real_logits, fake_logits))
        return should_update_discriminator(accuracy, threshold), {"d_acc": accuracy}

    return rule


def occupancy_stats(volumes, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per object: fill ratio (occupied fraction of the grid), connected components (26-connectivity,
    ``scipy.ndimage.label``) and the share of occupied voxels in the largest component.

    ``volumes``: (B, 1, R, R, R) or (B, R, R, R) occupancies; a voxel is occupied when > ``threshold``.
    """
    from scipy import ndimage

    v = volumes.detach().cpu().numpy() if isinstance(volumes, torch.Tensor) else np.asarray(volumes)
    if v.ndim == 5 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 4:
        raise ValueError(f"volumes: expected (B, 1, R, R, R) or (B, R, R, R), got shape {v.shape}")
    occupied = v > threshold
    structure = np.ones((3, 3, 3), dtype=bool)
    fill, components, largest = [], [], []
    for grid in occupied:
        labels, n = ndimage.label(grid, structure=structure)
        fill.append(grid.mean())
        components.append(n)
        sizes = np.bincount(labels.ravel())[1:]
        largest.append(sizes.max() / sizes.sum() if n else 0.0)
    return {"fill": np.array(fill), "components": np.array(components), "largest_share": np.array(largest)}


__all__ = [
    "BETAS",
    "D_ACCURACY_THRESHOLD",
    "D_LR",
    "Discriminator",
    "G_LR",
    "Generator",
    "SIZES",
    "Z_DIM",
    "accuracy_rule",
    "build",
    "discriminator_accuracy",
    "discriminator_block",
    "generator_block",
    "init_weights",
    "occupancy_stats",
    "optimizers",
    "should_update_discriminator",
]
