"""Variational autoencoders (Kingma & Welling 2014) and plain autoencoders of the same size (module 01).

``MLPVAE`` is the model of pytorch/examples ``vae/main.py``: 784-400-(20 mu, 20 logvar), decoder 20-400-784
with a sigmoid. ``ConvVAE`` is a convolutional VAE for any square image size and channel count, reused by
later modules (03 beta-VAE, 09, 10 old photos). ``MLPAutoencoder`` / ``ConvAutoencoder`` have the same
layers with a deterministic code (one latent vector instead of mu and logvar): the baseline of module 01.

A VAE's forward pass returns ``(recon, mu, logvar)``, the arguments of ``coursekit.losses.elbo_loss``;
``coursekit.losses.elbo_terms`` is the matching ``loss_fn`` for ``coursekit.train.vae_step``::

    model = ConvVAE(image_size=28, channels=1, latent_dim=20)
    recon, mu, logvar = model(x)               # x: (B, 1, 28, 28) in [0, 1]
    images = model.sample(16, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import expect_positive_int, expect_tensor
from ..losses import reparameterize
from . import count_parameters  # noqa: F401  (vae.count_parameters, as the lectures use it)


class EncoderDecoder(nn.Module):
    """An encoder and a decoder for images of shape ``image_shape`` = (C, H, W) and codes of ``latent_dim``.

    The common part of :class:`VAE` and :class:`Autoencoder`: input checks and ``decode``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, image_shape: tuple[int, int, int],
                 latent_dim: int):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.image_shape = tuple(image_shape)
        self.latent_dim = expect_positive_int("latent_dim", latent_dim)

    def _check_images(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor("x", x, ndim=4)
        if tuple(x.shape[1:]) != self.image_shape:
            wanted = ", ".join(map(str, self.image_shape))
            raise ValueError(f"x: expected images of shape (B, {wanted}), got {tuple(x.shape)}")
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] (a VAE's Bernoulli means of p(x | z)) from codes (B, latent_dim)."""
        expect_tensor("z", z, ndim=2)
        if z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z: expected latent codes of shape (B, {self.latent_dim}), got {tuple(z.shape)}"
            )
        return self.decoder(z)


class VAE(EncoderDecoder):
    """Encoder x -> (mu, logvar) of q(z | x) = N(mu, diag(exp(logvar))), decoder z -> p(x | z), prior N(0, I).

    ``encoder`` maps images (B, C, H, W) to (B, 2 * latent_dim), mu and logvar side by side.
    """

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of q(z | x): mu and logvar = log sigma^2, each (B, latent_dim)."""
        mu, logvar = self.encoder(self._check_images(x)).chunk(2, dim=1)
        return mu, logvar

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
        return self.decode(torch.randn((n, self.latent_dim), generator=generator, device=device))


class Autoencoder(EncoderDecoder):
    """A plain autoencoder: encoder x -> z (B, latent_dim), decoder z -> images. No noise, no prior on z."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z (B, latent_dim) of each image."""
        return self.encoder(self._check_images(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction decode(encode(x))."""
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction decode(encode(x)) (the same name as ``VAE.reconstruct``)."""
        return self(x)


def _image_shape(image_size: int, channels: int) -> tuple[int, int, int]:
    expect_positive_int("image_size", image_size, minimum=4)
    return (expect_positive_int("channels", channels), image_size, image_size)


def _mlp(image_size: int, channels: int, hidden: int, latent_dim: int, code: int):
    """pytorch/examples' layers: fc1 (pixels -> hidden), ReLU, one linear layer to ``code`` numbers (fc21 and
    fc22 side by side for a VAE); fc3 (latent -> hidden), ReLU, fc4 (hidden -> pixels), sigmoid."""
    shape = _image_shape(image_size, channels)
    pixels = channels * image_size * image_size
    expect_positive_int("hidden", hidden)
    expect_positive_int("latent_dim", latent_dim)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, code))
    decoder = nn.Sequential(
        nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, pixels), nn.Sigmoid(),
        nn.Unflatten(1, shape),
    )
    return encoder, decoder, shape


class MLPVAE(VAE):
    """The VAE of pytorch/examples ``vae/main.py``: 784-400-(20, 20) encoder, 20-400-784 sigmoid decoder.

    ReLU hidden layers; 652,824 parameters at the defaults (28x28x1 images, hidden 400, latent 20).
    """

    def __init__(self, image_size: int = 28, channels: int = 1, hidden: int = 400, latent_dim: int = 20):
        encoder, decoder, shape = _mlp(image_size, channels, hidden, latent_dim, 2 * latent_dim)
        super().__init__(encoder, decoder, shape, latent_dim)


class MLPAutoencoder(Autoencoder):
    """``MLPVAE``'s layers with a deterministic 20-d code: 784-400-20-400-784 (644,804 parameters)."""

    def __init__(self, image_size: int = 28, channels: int = 1, hidden: int = 400, latent_dim: int = 20):
        encoder, decoder, shape = _mlp(image_size, channels, hidden, latent_dim, latent_dim)
        super().__init__(encoder, decoder, shape, latent_dim)


def conv_widths(image_size: int, width: int = 32, max_width: int = 256) -> list[int]:
    """Channel widths of the stride-2 convolutions: halve the image while its side is even and above 7.

    28 -> 14 -> 7 gives two convolutions, 32 -> 4 three, 64 -> 4 four; the width doubles at each one,
    capped at ``max_width``: [32, 64] for 28x28, [32, 64, 128, 256] for 64x64.
    """
    expect_positive_int("width", width)
    expect_positive_int("max_width", max_width)
    widths, side = [], image_size
    while side % 2 == 0 and side > 7:
        widths.append(min(width * 2 ** len(widths), max_width))
        side //= 2
    if not widths:
        raise ValueError(f"image_size: expected an even size >= 8 (e.g. 28, 32, 64), got {image_size}")
    return widths


def _conv(image_size: int, channels: int, latent_dim: int, code: int, width: int, max_width: int,
          hidden: int):
    """Encoder: [Conv 4x4 stride 2, ReLU] per width, flatten, Linear -> hidden, ReLU, Linear -> ``code``.
    Decoder, the mirror image: Linear -> hidden, ReLU, Linear -> feature map, ReLU, [ConvTranspose 4x4
    stride 2, ReLU] per width, the last one to ``channels`` with a sigmoid."""
    shape = _image_shape(image_size, channels)
    widths = conv_widths(image_size, width, max_width)
    expect_positive_int("hidden", hidden)
    expect_positive_int("latent_dim", latent_dim)
    side = image_size // 2 ** len(widths)
    features = widths[-1] * side * side

    down, c_in = [], channels
    for w in widths:
        down += [nn.Conv2d(c_in, w, 4, 2, 1), nn.ReLU()]
        c_in = w
    encoder = nn.Sequential(
        *down, nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, code)
    )

    up = [nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, features), nn.ReLU(),
          nn.Unflatten(1, (widths[-1], side, side))]
    outs = [*reversed(widths[:-1]), channels]
    for w_in, w_out in zip(reversed(widths), outs, strict=True):
        up += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.ReLU()]
    up[-1] = nn.Sigmoid()
    return encoder, nn.Sequential(*up), shape


class ConvVAE(VAE):
    """A convolutional VAE for square images of any even side >= 8 (28x28 digits, 64x64 shapes or faces).

    Encoder: stride-2 4x4 convolutions with ReLU (widths from :func:`conv_widths`: 32, 64, ... up to
    ``max_width``), a ``hidden``-unit layer, then mu and logvar (``latent_dim`` each). The decoder mirrors it
    with transposed convolutions and ends in a sigmoid (Bernoulli means). 28x28x1, latent 20: two
    convolutions (32 and 64 channels), 1,691,369 parameters.
    """

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 20, width: int = 32,
                 max_width: int = 256, hidden: int = 256):
        encoder, decoder, shape = _conv(
            image_size, channels, latent_dim, 2 * latent_dim, width, max_width, hidden
        )
        super().__init__(encoder, decoder, shape, latent_dim)


class ConvAutoencoder(Autoencoder):
    """``ConvVAE``'s layers with a deterministic code of ``latent_dim`` numbers."""

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 20, width: int = 32,
                 max_width: int = 256, hidden: int = 256):
        encoder, decoder, shape = _conv(
            image_size, channels, latent_dim, latent_dim, width, max_width, hidden
        )
        super().__init__(encoder, decoder, shape, latent_dim)
