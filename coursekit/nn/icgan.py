"""IcGAN: an invertible conditional GAN for face editing (Perarnau et al. 2016; reference code Guim3/IcGAN).

Three parts (Perarnau et al. 2016):

- a **conditional DCGAN**. G(z, y) takes the latent z (100-d) and the attribute vector y (one entry per binary
  attribute, 0 or 1) **concatenated at its input**: it is the DCGAN generator of :mod:`coursekit.nn.dcgan`
  with ``z_dim = nz + ny``. D(x, y) is the DCGAN discriminator with y **replicated over the feature map after
  its first convolution** and concatenated with those features (ndf + ny channels into the second conv)::

      x (3, S, S) -> Conv 4x4 s2, LeakyReLU -> (ndf, S/2, S/2) ++ y as ny constant planes
                  -> Conv (ndf + ny -> 2 ndf) BN LReLU -> ... -> Conv 4x4 -> logit

- an **encoder** E = (E_z, E_y). Both are 4 x [conv 5x5 stride 2, BN, ReLU] + a fully connected layer (for
  64x64 images; one stride-2 block fewer per halving of the size). E_z : x -> z is trained on generated
  pairs (z, G(z, y')); E_y : x -> y on real pairs (x, y); both with a mean squared error.
- **editing**: (z, y) = E(x); change some entries of y; x' = G(z, y').

Images are in [0, 1] at every interface (the DCGAN networks map to and from [-1, 1] inside); D returns logits.
Attributes are floats in {0, 1}; E_y's output is a real number per attribute, thresholded at 1/2 to edit.

The faces come from :func:`coursekit.data.icgan_faces` (CelebA with the reference's 18 attributes when its
files are cached, else the procedural faces with 7); the editing widget is
:func:`coursekit.ui.attribute_editor`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import expect_positive_int, expect_tensor
from . import dcgan
from .dcgan import SIZES, init_weights

Z_DIM = 100


def _n_halvings(size: int) -> int:
    if size not in SIZES:
        raise ValueError(f"image size: expected one of {', '.join(map(str, SIZES))}, got {size!r}")
    return size.bit_length() - 3  # 64 -> 4, 32 -> 3, 16 -> 2


def _expect_attributes(y, n_attributes: int, batch: int | None = None) -> torch.Tensor:
    expect_tensor("y", y, ndim=2)
    if y.shape[1] != n_attributes or (batch is not None and y.shape[0] != batch):
        rows = "B" if batch is None else str(batch)
        raise ValueError(
            f"y: expected shape ({rows}, {n_attributes}) (one entry per attribute), got {tuple(y.shape)}"
        )
    return y


class ConditionalGenerator(nn.Module):
    """G(z, y): z (B, z_dim) and attributes y (B, n_attributes) -> images (B, channels, size, size) in [0, 1].

    The conditioning is one concatenation: ``dcgan.Generator(z_dim=z_dim + n_attributes)`` applied to
    ``torch.cat([z, y], 1)``.
    """

    def __init__(
        self, n_attributes: int, size: int = 64, channels: int = 3, z_dim: int = Z_DIM, ngf: int = 64
    ):
        super().__init__()
        self.n_attributes = expect_positive_int("n_attributes", n_attributes)
        self.z_dim = expect_positive_int("z_dim", z_dim)
        self.size, self.channels = size, channels
        self.dcgan = dcgan.Generator(size, channels, z_dim + n_attributes, ngf)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        expect_tensor("z", z, ndim=2)
        if z.shape[1] != self.z_dim:
            raise ValueError(f"z: expected shape (B, {self.z_dim}), got {tuple(z.shape)}")
        y = _expect_attributes(y, self.n_attributes, z.shape[0])
        return self.dcgan(torch.cat([z, y.to(z.dtype)], dim=1))


def replicate(y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Attributes (B, A) -> constant feature maps (B, A, height, width): plane a is filled with y[:, a]."""
    return y[:, :, None, None].expand(-1, -1, height, width)


class ConditionalDiscriminator(nn.Module):
    """D(x, y): images (B, channels, size, size) in [0, 1] and attributes (B, A) -> logits (B,).

    ``first`` is DCGAN's first layer (conv 4x4 stride 2, LeakyReLU 0.2, no BN); y is replicated over its
    (size/2 x size/2) output and concatenated as A extra channels; ``rest`` is the rest of the DCGAN
    discriminator with ndf + A input channels.
    """

    def __init__(self, n_attributes: int, size: int = 64, channels: int = 3, ndf: int = 64):
        super().__init__()
        n_down = _n_halvings(size)
        self.n_attributes = expect_positive_int("n_attributes", n_attributes)
        self.size, self.channels = size, expect_positive_int("channels", channels)
        expect_positive_int("ndf", ndf)
        widths = [ndf * 2**i for i in range(n_down)]  # 64x64: 64, 128, 256, 512
        self.first = nn.Sequential(
            nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)
        )
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:], strict=False)):
            c_in = c_in + n_attributes if i == 0 else c_in
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.rest = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        expect_tensor("images", x, ndim=4, channels=self.channels)
        if x.shape[2:] != (self.size, self.size):
            raise ValueError(
                f"images: expected {self.size}x{self.size} pixels, got {tuple(x.shape[2:])}"
                " (build the discriminator with the size of your images)"
            )
        y = _expect_attributes(y, self.n_attributes, x.shape[0])
        h = self.first(2 * x - 1)
        h = torch.cat([h, replicate(y.to(h.dtype), *h.shape[2:])], dim=1)
        return self.rest(h).reshape(-1)


class Encoder(nn.Module):
    """E_z or E_y: images (B, channels, size, size) in [0, 1] -> vectors (B, out_dim).

    n x [conv 5x5 stride 2 (padding 2), BN, ReLU] (n = 4 for 64x64: 64 -> 4 pixels) with widths nef, 2 nef,
    4 nef, 8 nef, then a fully connected layer from the flattened 4x4 map to ``out_dim`` (linear output).
    """

    def __init__(self, out_dim: int, size: int = 64, channels: int = 3, nef: int = 32):
        super().__init__()
        n_down = _n_halvings(size)
        self.out_dim = expect_positive_int("out_dim", out_dim)
        self.size, self.channels = size, expect_positive_int("channels", channels)
        expect_positive_int("nef", nef)
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(n_down):
            c_out = nef * 2**i
            layers += [nn.Conv2d(c_in, c_out, 5, 2, 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Linear(c_in * 4 * 4, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("images", x, ndim=4, channels=self.channels)
        if x.shape[2:] != (self.size, self.size):
            raise ValueError(f"images: expected {self.size}x{self.size} pixels, got {tuple(x.shape[2:])}")
        return self.fc(self.features(2 * x - 1))


def init_encoder(encoder: nn.Module, seed: int | None = None) -> nn.Module:
    """DCGAN init for the convolutions and BN of an encoder (:func:`dcgan.init_weights`); the FC layer keeps
    PyTorch's default initialisation, drawn from ``seed`` too."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for layer in encoder.modules():
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
    return init_weights(encoder, seed=seed)


def build(
    n_attributes: int,
    size: int = 64,
    channels: int = 3,
    z_dim: int = Z_DIM,
    ngf: int = 64,
    ndf: int = 64,
    seed: int = 0,
):
    """A conditional DCGAN pair ``(G, D)``, DCGAN-initialised (N(0, 0.02)) from ``seed`` (D: seed + 1)."""
    with torch.random.fork_rng(devices=[]):
        generator = init_weights(ConditionalGenerator(n_attributes, size, channels, z_dim, ngf), seed=seed)
        discriminator = init_weights(
            ConditionalDiscriminator(n_attributes, size, channels, ndf), seed=seed + 1
        )
    return generator, discriminator


def build_encoders(
    n_attributes: int, size: int = 64, channels: int = 3, z_dim: int = Z_DIM, nef: int = 32, seed: int = 0
):
    """``(E_z, E_y)``: E_z maps images to z (z_dim), E_y to attributes; seeds seed and seed + 1."""
    with torch.random.fork_rng(devices=[]):
        e_z = init_encoder(Encoder(z_dim, size, channels, nef), seed=seed)
        e_y = init_encoder(Encoder(n_attributes, size, channels, nef), seed=seed + 1)
    return e_z, e_y


def optimizers(*modules: nn.Module, lr: float = 2e-4, betas=(0.5, 0.999)):
    """One Adam per module (cGAN: DCGAN's 2e-4, beta1 0.5; the reference trains the encoders with 1e-4)."""
    return tuple(torch.optim.Adam(m.parameters(), lr=lr, betas=betas) for m in modules)


def mismatched_attributes(y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A wrong attribute vector for every image: y with one randomly chosen attribute flipped per row.

    These are the "real image, wrong y" pairs D must call fake, so that it checks every attribute.
    """
    expect_tensor("y", y, ndim=2)
    index = torch.randint(y.shape[1], (y.shape[0],), generator=generator).to(y.device)
    flip = torch.nn.functional.one_hot(index, y.shape[1]).to(y.dtype)
    return (y - flip).abs()


def sample_attributes(
    attributes: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """y' for generation: ``n`` rows drawn with replacement from the data's attribute vectors (keeps their
    frequencies and correlations, e.g. CelebA's 'Male' and 'Heavy_Makeup')."""
    expect_positive_int("n", n)
    return attributes[torch.randint(len(attributes), (n,), generator=generator)]


def cgan_step(generator, discriminator, opt_g, opt_d, *, device=None):
    """A ``ck.train.fit`` step function for the conditional GAN; batches are (images, attributes).

    D step: real (x, y) -> 1; generated (G(z, y'), y') -> 0; real image with a wrong attribute vector
    (x, y_wrong) -> 0 (:func:`coursekit.losses.conditional_discriminator_loss`). G step: the non-saturating
    loss on D(G(z, y'), y'), y' drawn from the batch's attribute vectors (shuffled). Logs loss_d, loss_g.
    """
    from ..losses import conditional_discriminator_loss, generator_loss_nonsaturating

    def step(batch, step_index: int) -> dict[str, float]:
        dev = device or next(generator.parameters()).device
        x, y = (t.to(dev) for t in batch)
        y = y.float()
        generator.train()
        discriminator.train()
        y_fake = y[torch.randperm(len(y), device=dev)]
        fake = generator(torch.randn(len(x), generator.z_dim, device=dev), y_fake)

        opt_d.zero_grad(set_to_none=True)
        loss_d = conditional_discriminator_loss(
            discriminator(x, y),
            discriminator(fake.detach(), y_fake),
            discriminator(x, mismatched_attributes(y)),
        )
        loss_d.backward()
        opt_d.step()

        opt_g.zero_grad(set_to_none=True)
        loss_g = generator_loss_nonsaturating(discriminator(fake, y_fake))
        loss_g.backward()
        opt_g.step()
        return {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach())}

    return step


def encoder_z_step(
    encoder_z, generator, optimizer, attributes: torch.Tensor, batch_size: int = 64, *, device=None
):
    """A ``ck.train.fit`` step (call it with ``data=lambda: None``) training E_z on generated pairs.

    Each step draws z ~ N(0, I) and y' from ``attributes`` (the data's vectors), makes x' = G(z, y') without
    gradients (G fixed, in eval mode) and minimises ``encoder_z_loss(E_z(x'), z)``. Logs loss_ez.
    """
    from ..losses import encoder_z_loss

    def step(batch, step_index: int) -> dict[str, float]:
        dev = device or next(encoder_z.parameters()).device
        y = sample_attributes(attributes, batch_size).to(dev).float()
        z = torch.randn(batch_size, generator.z_dim, device=dev)
        generator.eval()
        with torch.no_grad():
            x = generator(z, y)
        encoder_z.train()
        loss = encoder_z_loss(encoder_z(x), z)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss_ez": float(loss.detach())}

    return step


def encoder_y_step(encoder_y, optimizer, *, device=None):
    """A ``ck.train.fit`` step training E_y on real (images, attributes) batches with ``encoder_y_loss``."""
    from ..losses import encoder_y_loss

    def step(batch, step_index: int) -> dict[str, float]:
        dev = device or next(encoder_y.parameters()).device
        x, y = (t.to(dev) for t in batch)
        encoder_y.train()
        loss = encoder_y_loss(encoder_y(x), y.float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss_ey": float(loss.detach())}

    return step


@torch.no_grad()
def encode(encoder_z, encoder_y, x: torch.Tensor, binarize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, y) = E(x) with both encoders in eval mode; y thresholded at 1/2 to {0, 1} when ``binarize``."""
    encoder_z.eval()
    encoder_y.eval()
    z, y = encoder_z(x), encoder_y(x)
    return z, ((y > 0.5).to(y.dtype) if binarize else y)


def flip(y: torch.Tensor, attribute: int) -> torch.Tensor:
    """y with attribute number ``attribute`` flipped (0 <-> 1) in every row."""
    expect_tensor("y", y, ndim=2)
    if not 0 <= attribute < y.shape[1]:
        raise ValueError(f"attribute: expected an index in [0, {y.shape[1] - 1}], got {attribute!r}")
    y = y.clone()
    y[:, attribute] = 1 - y[:, attribute]
    return y


@torch.no_grad()
def edit(generator, encoder_z, encoder_y, x: torch.Tensor, changes: dict[int, float] | None = None):
    """IcGAN editing (Perarnau et al. 2016): (z, y) = E(x); set y[:, a] = v for every a: v in ``changes``;
    return G(z, y') with G in eval mode. ``changes=None`` reconstructs (x -> E -> G)."""
    z, y = encode(encoder_z, encoder_y, x)
    for attribute, value in (changes or {}).items():
        y[:, attribute] = value
    generator.eval()
    return generator(z, y)


__all__ = [
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "Encoder",
    "Z_DIM",
    "build",
    "build_encoders",
    "cgan_step",
    "edit",
    "encode",
    "encoder_y_step",
    "encoder_z_step",
    "flip",
    "init_encoder",
    "mismatched_attributes",
    "optimizers",
    "replicate",
    "sample_attributes",
]
