"""Variational autoencoders (Kingma & Welling 2014) and plain autoencoders of the same size (module 01).

``MLPVAE`` is the model of pytorch/examples ``vae/main.py``: 784-400-(20 mu, 20 logvar), decoder 20-400-784
with a sigmoid; its layers carry that file's names (``encoder.fc1``, ``fc_mu`` = fc21, ``fc_logvar`` = fc22,
``decoder.fc3``, ``decoder.fc4``). ``ConvVAE`` is a convolutional VAE for any square image size and channel
count, reused by later modules (03 beta-VAE, 09, 10 old photos). ``MLPAutoencoder`` / ``ConvAutoencoder``
have the same layers with a deterministic code (one latent vector instead of mu and logvar): the baseline of
module 01.

A VAE's forward pass returns ``(recon, mu, logvar)``, the arguments of ``coursekit.losses.elbo_loss``;
``coursekit.losses.elbo_terms`` is the matching ``loss_fn`` for ``coursekit.train.vae_step``::

    model = ConvVAE(size=28, channels=1, z_dim=20)
    recon, mu, logvar = model(x)               # x: (B, 1, 28, 28) in [0, 1]
    images = model.sample(16, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..deprecation import renamed_keywords
from ..errors import expect_positive_int, expect_tensor
from ..losses import reparameterize
from . import count_parameters  # noqa: F401  (vae.count_parameters, as the lectures use it)


class EncoderDecoder(nn.Module):
    """An encoder and a decoder for images of shape ``image_shape`` = (C, H, W) and codes z of ``z_dim``.

    The common part of :class:`VAE` and :class:`Autoencoder`: input checks and ``decode``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, image_shape: tuple[int, int, int], z_dim: int):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.image_shape = tuple(image_shape)
        self.z_dim = expect_positive_int("z_dim", z_dim)

    def _check_images(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("x", x, ndim=4)
        if tuple(x.shape[1:]) != self.image_shape:
            wanted = ", ".join(map(str, self.image_shape))
            raise ValueError(f"x: expected images of shape (B, {wanted}), got {tuple(x.shape)}")
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] (a VAE's Bernoulli means of p(x | z)) from codes (B, z_dim)."""
        expect_tensor("z", z, ndim=2)
        if z.shape[1] != self.z_dim:
            raise ValueError(f"z: expected latent codes of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        return self.decoder(z)


class VAE(EncoderDecoder):
    """Encoder x -> (mu, logvar) of q(z | x) = N(mu, diag(exp(logvar))), decoder z -> p(x | z), prior N(0, I).

    ``encoder`` maps images (B, C, H, W) to ``hidden`` features; two linear heads read them: ``fc_mu`` (mu)
    and ``fc_logvar`` (logvar = log sigma^2), ``z_dim`` numbers each (Kingma & Welling 2014, appendix C.2).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, image_shape: tuple[int, int, int], z_dim: int,
                 hidden: int):
        super().__init__(encoder, decoder, image_shape, z_dim)
        expect_positive_int("hidden", hidden)
        self.fc_mu = nn.Linear(hidden, z_dim)
        self.fc_logvar = nn.Linear(hidden, z_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of q(z | x): mu and logvar = log sigma^2, each (B, z_dim)."""
        features = self.encoder(self._check_images(x))
        return self.fc_mu(features), self.fc_logvar(features)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """``(recon, mu, logvar)``, recon decoded from one z = mu + sigma * eps (Eq. 10 with L = 1 sample)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the mean code mu: the reconstruction without sampling noise (for display)."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images: decode z ~ p(z) = N(0, I), drawn on the model's device."""
        expect_positive_int("n", n)
        device = next(self.parameters()).device
        return self.decode(torch.randn((n, self.z_dim), generator=generator, device=device))


class Autoencoder(EncoderDecoder):
    """A plain autoencoder: encoder x -> z (B, z_dim), decoder z -> images. No noise, no prior on z."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z (B, z_dim) of each image."""
        return self.encoder(self._check_images(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction decode(encode(x))."""
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction decode(encode(x)) (the same name as ``VAE.reconstruct``)."""
        return self(x)


def _image_shape(size: int, channels: int) -> tuple[int, int, int]:
    expect_positive_int("size", size, minimum=4)
    return (expect_positive_int("channels", channels), size, size)


def _mlp(size: int, channels: int, hidden: int, z_dim: int):
    """pytorch/examples' layers, with its names: encoder fc1 (pixels -> hidden), ReLU (the VAE's heads
    fc21 and fc22 are ``fc_mu`` and ``fc_logvar``); decoder fc3 (z -> hidden), ReLU, fc4 (hidden -> pixels),
    sigmoid."""
    shape = _image_shape(size, channels)
    pixels = channels * size * size
    expect_positive_int("hidden", hidden)
    expect_positive_int("z_dim", z_dim)
    encoder = nn.Sequential(OrderedDict(
        flatten=nn.Flatten(),                   # (B, C, S, S) -> (B, pixels): 784 for 28x28 digits
        fc1=nn.Linear(pixels, hidden),          # -> (B, hidden): 400
        relu1=nn.ReLU(),
    ))
    decoder = nn.Sequential(OrderedDict(
        fc3=nn.Linear(z_dim, hidden),           # z (B, z_dim) -> (B, hidden)
        relu3=nn.ReLU(),
        fc4=nn.Linear(hidden, pixels),          # -> (B, pixels)
        sigmoid=nn.Sigmoid(),
        unflatten=nn.Unflatten(1, shape),       # -> (B, C, S, S) Bernoulli means
    ))
    return encoder, decoder, shape


def _code_head(encoder: nn.Sequential, hidden: int, z_dim: int) -> nn.Sequential:
    """An autoencoder's encoder: ``encoder``'s features, then one linear layer to the code z (B, z_dim)."""
    return nn.Sequential(OrderedDict([*encoder.named_children(), ("fc_z", nn.Linear(hidden, z_dim))]))


@renamed_keywords(image_size="size", latent_dim="z_dim")
class MLPVAE(VAE):
    """The VAE of pytorch/examples ``vae/main.py``: 784-400-(20, 20) encoder, 20-400-784 sigmoid decoder.

    ReLU hidden layers; 652,824 parameters at the defaults (28x28x1 images, hidden 400, z_dim 20).
    """

    def __init__(self, size: int = 28, channels: int = 1, hidden: int = 400, z_dim: int = 20):
        encoder, decoder, shape = _mlp(size, channels, hidden, z_dim)
        super().__init__(encoder, decoder, shape, z_dim, hidden)


@renamed_keywords(image_size="size", latent_dim="z_dim")
class MLPAutoencoder(Autoencoder):
    """``MLPVAE``'s layers with a deterministic 20-d code: 784-400-20-400-784 (644,804 parameters)."""

    def __init__(self, size: int = 28, channels: int = 1, hidden: int = 400, z_dim: int = 20):
        encoder, decoder, shape = _mlp(size, channels, hidden, z_dim)
        super().__init__(_code_head(encoder, hidden, z_dim), decoder, shape, z_dim)


@renamed_keywords(image_size="size")
def conv_widths(size: int, width: int = 32, max_width: int = 256) -> list[int]:
    """Channel widths of the stride-2 convolutions: halve the image while its side is even and above 7.

    28 -> 14 -> 7 gives two convolutions, 32 -> 4 three, 64 -> 4 four; the width doubles at each one,
    capped at ``max_width``: [32, 64] for 28x28, [32, 64, 128, 256] for 64x64.
    """
    expect_positive_int("width", width)
    expect_positive_int("max_width", max_width)
    widths: list[int] = []
    side = size
    while side % 2 == 0 and side > 7:
        widths.append(min(width * 2 ** len(widths), max_width))
        side //= 2
    if not widths:
        raise ValueError(f"size: expected an even image size >= 8 (e.g. 28, 32, 64), got {size}")
    return widths


def _conv(size: int, channels: int, z_dim: int, width: int, max_width: int, hidden: int):
    """Encoder: [Conv 4x4 stride 2, ReLU] per width, flatten, Linear -> hidden, ReLU (the features the
    heads read). Decoder, the mirror image: Linear -> hidden, ReLU, Linear -> feature map, ReLU,
    [ConvTranspose 4x4 stride 2, ReLU] per width, the last one to ``channels`` with a sigmoid."""
    shape = _image_shape(size, channels)
    widths = conv_widths(size, width, max_width)
    expect_positive_int("hidden", hidden)
    expect_positive_int("z_dim", z_dim)
    side = size // 2 ** len(widths)
    features = widths[-1] * side * side

    down, c_in, s = [], channels, size
    for i, w in enumerate(widths, 1):
        s //= 2  # state size. w x s x s; 28x28 digits: 32 x 14 x 14, then 64 x 7 x 7
        down += [(f"conv{i}", nn.Conv2d(c_in, w, 4, 2, 1)), (f"relu{i}", nn.ReLU())]
        c_in = w
    encoder = nn.Sequential(OrderedDict([
        *down,
        ("flatten", nn.Flatten()),               # (B, widths[-1] * side * side)
        ("fc1", nn.Linear(features, hidden)),    # (B, hidden): what fc_mu and fc_logvar read
        ("relu_fc1", nn.ReLU()),
    ]))

    up = [("fc1", nn.Linear(z_dim, hidden)), ("relu_fc1", nn.ReLU()),
          ("fc2", nn.Linear(hidden, features)), ("relu_fc2", nn.ReLU()),
          ("unflatten", nn.Unflatten(1, (widths[-1], side, side)))]  # state size. widths[-1] x side x side
    outs = [*reversed(widths[:-1]), channels]
    for i, (w_in, w_out) in enumerate(zip(reversed(widths), outs, strict=True), 1):
        # state size. w_out x 2s x 2s; 28x28 digits: 32 x 14 x 14, then channels x 28 x 28
        up += [(f"deconv{i}", nn.ConvTranspose2d(w_in, w_out, 4, 2, 1)), (f"relu_deconv{i}", nn.ReLU())]
    up[-1] = ("sigmoid", nn.Sigmoid())
    return encoder, nn.Sequential(OrderedDict(up)), shape


@renamed_keywords(image_size="size", latent_dim="z_dim")
class ConvVAE(VAE):
    """A convolutional VAE for square images of any even side >= 8 (28x28 digits, 64x64 shapes or faces).

    Encoder: stride-2 4x4 convolutions with ReLU (widths from :func:`conv_widths`: 32, 64, ... up to
    ``max_width``), a ``hidden``-unit layer, then mu and logvar (``z_dim`` each). The decoder mirrors it
    with transposed convolutions and ends in a sigmoid (Bernoulli means). 28x28x1, z_dim 20: two
    convolutions (32 and 64 channels), 1,691,369 parameters.
    """

    def __init__(self, size: int = 28, channels: int = 1, z_dim: int = 20, width: int = 32,
                 max_width: int = 256, hidden: int = 256):
        encoder, decoder, shape = _conv(size, channels, z_dim, width, max_width, hidden)
        super().__init__(encoder, decoder, shape, z_dim, hidden)


@renamed_keywords(image_size="size", latent_dim="z_dim")
class ConvAutoencoder(Autoencoder):
    """``ConvVAE``'s layers with a deterministic code of ``z_dim`` numbers."""

    def __init__(self, size: int = 28, channels: int = 1, z_dim: int = 20, width: int = 32,
                 max_width: int = 256, hidden: int = 256):
        encoder, decoder, shape = _conv(size, channels, z_dim, width, max_width, hidden)
        super().__init__(_code_head(encoder, hidden, z_dim), decoder, shape, z_dim)
