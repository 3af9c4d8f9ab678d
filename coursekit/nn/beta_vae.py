"""beta-VAE (Higgins et al. 2017) with the conv encoder and decoder used for 64x64 dSprites (module 03).

The architecture is the one of Locatello et al. 2019 (their Table 1; google-research/disentanglement_lib
``methods/shared/architectures.py`` ``conv_encoder`` / ``deconv_decoder``), which is the convolutional model
Higgins et al. 2017 used for CelebA (their dSprites model is fully connected); Burgess et al. 2018 use a
similar one:

    encoder  Conv 32 4x4 s2 - Conv 32 4x4 s2 - Conv 64 4x4 s2 - Conv 64 4x4 s2 (ReLU) - FC 256 (ReLU)
             - FC 2 x 10 (mu, log sigma^2: the heads ``fc_mu`` and ``fc_logvar`` of coursekit.nn.vae.VAE)
    decoder  FC 256 (ReLU) - FC 64 x 4 x 4 (ReLU) - ConvT 64 - ConvT 32 - ConvT 32 (4x4 s2, ReLU)
             - ConvT 1 4x4 s2, sigmoid (Bernoulli probabilities)

For 64x64 images the last feature map is 4x4; for 32x32 images (the CPU setting of the lecture) the same
layers end on a 2x2 map. Train it with ``coursekit.losses.beta_vae_terms(beta)`` and
``coursekit.train.vae_step``; beta = 1 is the plain VAE baseline::

    model = BetaVAE(size=64)
    step = ck.train.vae_step(model, torch.optim.Adam(model.parameters(), 1e-3), ck.losses.beta_vae_terms(4))
"""

from __future__ import annotations

import torch
from torch import nn

from ..deprecation import renamed_keywords
from ..errors import expect_positive_int
from .vae import VAE

CONV_WIDTHS = (32, 32, 64, 64)
HIDDEN = 256


def _side_after_convs(size: int) -> int:
    expect_positive_int("size", size)
    factor = 2 ** len(CONV_WIDTHS)
    if size % factor:
        raise ValueError(
            f"size: expected a multiple of {factor} (four stride-2 convolutions), e.g. 32 or 64, got {size}"
        )
    return size // factor


@renamed_keywords(image_size="size")
def conv_encoder(size: int = 64, channels: int = 1) -> nn.Sequential:
    """Images (B, C, S, S) -> (B, 256) features, which the VAE's heads ``fc_mu`` and ``fc_logvar`` read."""
    side = _side_after_convs(size)
    layers, c_in, s = [], channels, size
    for width in CONV_WIDTHS:
        layers += [nn.Conv2d(c_in, width, 4, 2, 1), nn.ReLU()]
        c_in, s = width, s // 2  # state size. width x s x s; 64x64: 32 x 32, 32 x 16, 64 x 8, 64 x 4 (side)
    return nn.Sequential(
        *layers,
        nn.Flatten(),                                 # (B, 64 * side * side)
        nn.Linear(c_in * side * side, HIDDEN),        # (B, 256)
        nn.ReLU(),
    )


@renamed_keywords(image_size="size", latent_dim="z_dim")
def deconv_decoder(size: int = 64, channels: int = 1, z_dim: int = 10) -> nn.Sequential:
    """Codes (B, z_dim) -> Bernoulli probabilities (B, C, S, S): the encoder's mirror image."""
    side = _side_after_convs(size)
    widths = (*reversed(CONV_WIDTHS), channels)  # 64 -> 64 -> 32 -> 32 -> channels
    layers: list[nn.Module] = [
        nn.Linear(z_dim, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, widths[0] * side * side),
        nn.ReLU(),
        nn.Unflatten(1, (widths[0], side, side)),  # state size. 64 x side x side (64x64: 64 x 4 x 4)
    ]
    for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.ReLU()]  # state size. w_out x 2s x 2s
    layers[-1] = nn.Sigmoid()
    return nn.Sequential(*layers)


@renamed_keywords(image_size="size", latent_dim="z_dim")
class BetaVAE(VAE):
    """The beta-VAE model: ``conv_encoder`` + ``deconv_decoder``, latent 10, for 1-channel 64x64 shapes.

    A :class:`coursekit.nn.vae.VAE`: ``forward(x) -> (recon, mu, logvar)``, ``encode``, ``decode``,
    ``reconstruct``, ``sample``. beta only enters the loss (``coursekit.losses.beta_vae_terms``), so the
    same class is the beta = 1 baseline. 764,245 parameters for 64x64x1 images, 370,261 for 32x32x1.
    ``traverse`` draws the latent traversals of Higgins et al. 2017 (Fig. 7).
    """

    def __init__(self, size: int = 64, channels: int = 1, z_dim: int = 10):
        expect_positive_int("channels", channels)
        expect_positive_int("z_dim", z_dim)
        super().__init__(
            conv_encoder(size, channels),
            deconv_decoder(size, channels, z_dim),
            (channels, size, size),
            z_dim,
            HIDDEN,
        )

    @torch.no_grad()
    def traverse(self, x: torch.Tensor, values=(-2.0, -1.0, 0.0, 1.0, 2.0)) -> torch.Tensor:
        """Latent traversals: decode mu(x) with one latent at a time set to each of ``values``.

        x: one image (C, H, W) or (1, C, H, W). Returns (z_dim * len(values), C, H, W): row j (of
        ``len(values)`` images) changes latent j only, the grid of Higgins et al. 2017, Fig. 7.
        """
        if x.ndim == 3:
            x = x.unsqueeze(0)
        mu = self.encode(x[:1])[0]
        steps = torch.as_tensor(values, dtype=mu.dtype, device=mu.device)
        codes = mu.repeat(self.z_dim * len(steps), 1)
        rows = torch.arange(self.z_dim, device=mu.device).repeat_interleave(len(steps))
        codes[torch.arange(len(codes)), rows] = steps.repeat(self.z_dim)
        return self.decode(codes)
