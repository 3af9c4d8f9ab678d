"""Loss functions of the course's models, one section per model family.

Each function cites the equation it implements. Losses are means over the batch unless the docstring says
otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import expect_choice, expect_tensor


# ------------------------------------------------------------------------------------------------- GAN
# All GAN losses take the discriminator's raw logits l (any shape: (B,), (B, 1), a PatchGAN map), with
# D(x) = sigmoid(l). Since log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l), every
# log D and log(1 - D) below is a softplus of the logit: the same numbers as BCELoss on sigmoid outputs,
# without overflow or log(0) when D is sure of itself.
def _logits(what: str, logits) -> torch.Tensor:
    expect_tensor(what, logits)
    if logits.numel() == 0:
        raise ValueError(
            f"{what}: expected at least one logit, got an empty tensor of shape {tuple(logits.shape)}"
        )
    return logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]: D maximises V(G, D), Goodfellow et al. 2014 eq. 1.

    (Seed 004 eq. 2 writes the same game.) Equivalently binary cross-entropy with label 1 for real and 0
    for generated images (what pytorch/examples computes as ``errD_real + errD_fake``). At the optimum
    D*(x) = p_data / (p_data + p_g) (their Prop. 1).
    """
    real_logits = _logits("real_logits", real_logits)
    fake_logits = _logits("fake_logits", fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the generator's side of the minimax game as written (eq. 1), to be minimised.

    Its gradient vanishes where D confidently rejects the samples (D(G(z)) ~ 0, early in training):
    d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0 as l -> -inf.
    """
    return -F.softplus(_logits("fake_logits", fake_logits)).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss (Goodfellow et al. 2014, section 3).

    Same fixed point as the saturating loss, but a strong gradient early on:
    d/dl -log sigmoid(l) = sigmoid(l) - 1 -> -1 as l -> -inf. It is BCE with the labels flipped
    (generated images labelled "real"), the generator loss of DCGAN.
    """
    return F.softplus(-_logits("fake_logits", fake_logits)).mean()


def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the best D for a fixed G (seed 004 eq. 4).

    Goodfellow et al. 2014, Proposition 1. Takes densities (tensors or arrays) evaluated at the same
    points; where both are 0 it returns 1/2.
    """
    p_data, p_g = torch.as_tensor(p_data, dtype=torch.float64), torch.as_tensor(p_g, dtype=torch.float64)
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("p_data, p_g: expected densities (>= 0), got negative values")
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), 0.5)


# ------------------------------------------------------------------------------------------------- VAE
# Kingma & Welling 2014, "Auto-Encoding Variational Bayes" (module 01). Per-image losses are in nats:
# summed over pixels and latent dimensions, then reduced over the batch ("mean" by default).
VAE_REDUCTIONS = ("mean", "sum", "none")


def _gaussian_params(mu, logvar) -> None:
    """mu and logvar: floating tensors (B, D) (or (B, C, H, W) for spatial latents) of the same shape."""
    expect_tensor("mu", mu, ndim=(2, 3, 4))
    expect_tensor("logvar", logvar, ndim=(2, 3, 4))
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar: expected the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )


def _reduce_images(per_image: torch.Tensor, reduction: str) -> torch.Tensor:
    expect_choice("reduction", reduction, VAE_REDUCTIONS)
    if reduction == "none":
        return per_image
    return per_image.sum() if reduction == "sum" else per_image.mean()


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None):
    """z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(logvar / 2): Kingma & Welling 2014, sec. 2.4, Eq. 10.

    The noise is drawn outside the network, so z is a differentiable function of mu and logvar and the
    gradient of the ELBO flows back into the encoder: the reparameterisation trick. ``generator`` (a
    ``torch.Generator`` on mu's device) makes the draw repeatable.
    """
    _gaussian_params(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """KL(N(mu, diag(sigma^2)) || N(0, I)) in nats per image: shape (B,) with ``reduction="none"`` (default).

    The closed form of Kingma & Welling 2014, Appendix B, the regulariser of Eq. 10:
    -D_KL = 1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2), summed over all latent dimensions j.
    It is >= 0 and 0 only for mu = 0, sigma = 1. ``reduction`` "mean" / "sum" reduce over the batch.
    """
    _gaussian_params(mu, logvar)
    per_dim = 1 + logvar - mu.pow(2) - logvar.exp()
    return _reduce_images(-0.5 * per_dim.flatten(1).sum(1), reduction)


def bernoulli_nll(recon: torch.Tensor, x: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """-log p(x | z) of a Bernoulli decoder in nats per image: binary cross-entropy summed over pixels.

    The reconstruction term of Kingma & Welling 2014, Eq. 10, with the Bernoulli decoder of their Appendix
    C.1 and one sample z per image. ``recon`` holds the decoder's probabilities, ``x`` the images; both in
    [0, 1] and of the same shape.
    """
    expect_tensor("recon", recon, value_range=(0.0, 1.0))
    expect_tensor("x", x, value_range=(0.0, 1.0))
    if recon.shape != x.shape:
        raise ValueError(
            f"recon and x: expected the same shape, got {tuple(recon.shape)} and {tuple(x.shape)}"
        )
    per_pixel = F.binary_cross_entropy(recon, x, reduction="none")
    return _reduce_images(per_pixel.flatten(1).sum(1), reduction)


def elbo_loss(recon, x, mu, logvar, reduction: str = "mean") -> torch.Tensor:
    """The negative ELBO in nats per image: BCE summed over pixels + closed-form KL, averaged over the batch.

    -L(theta, phi; x) = -log p_theta(x | z) + D_KL(q_phi(z | x) || p(z)) with z = mu + sigma * eps: the SGVB
    estimator of Kingma & Welling 2014, Eq. 10 (the bound of Eq. 3 / Eq. 7 with the KL in closed form,
    Appendix B), computed as pytorch/examples ``vae/main.py`` does. It bounds -log p(x) from above: lower is
    better.
    """
    return _reduce_images(bernoulli_nll(recon, x) + kl_divergence(mu, logvar), reduction)


def elbo_terms(outputs, x) -> dict[str, torch.Tensor]:
    """``{"loss": -ELBO, "recon": BCE, "kl": KL}``, each in nats per image, averaged over the batch.

    ``outputs`` is a VAE's ``(recon, mu, logvar)``: this is the ``loss_fn`` of
    ``coursekit.train.vae_step(model, optimizer, elbo_terms)``.
    """
    recon, mu, logvar = outputs
    nll = bernoulli_nll(recon, x, reduction="mean")
    kl = kl_divergence(mu, logvar, reduction="mean")
    return {"loss": nll + kl, "recon": nll, "kl": kl}


# ------------------------------------------------------------------------------------------------- beta-VAE
# Higgins et al. 2017, "beta-VAE: Learning basic visual concepts with a constrained variational framework"
# (module 03): the VAE objective with the KL term weighted by beta; beta = 1 is the plain VAE.
def beta_vae_loss(recon, x, mu, logvar, beta: float = 4.0, reduction: str = "mean") -> torch.Tensor:
    """-log p(x | z) + beta * KL(q(z | x) || p(z)) in nats per image: Higgins et al. 2017, Eq. 4.

    beta > 1 presses the posterior towards the factorised prior N(0, I) harder than the ELBO does, which
    pushes independent factors of variation into separate latents (at the cost of blurrier
    reconstructions); beta = 1 gives back :func:`elbo_loss`. Bernoulli decoder as in the paper's dSprites
    experiments; ``recon`` holds its probabilities.
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
        raise ValueError(f"beta: expected a number >= 0 (1 is the plain VAE), got {beta!r}")
    per_image = bernoulli_nll(recon, x) + beta * kl_divergence(mu, logvar)
    return _reduce_images(per_image, reduction)


def beta_vae_terms(beta: float = 4.0):
    """The ``loss_fn`` of ``coursekit.train.vae_step`` for a beta-VAE with this beta.

    Returns ``f(outputs, x) -> {"loss": recon + beta * kl, "recon": ..., "kl": ...}`` (nats per image,
    batch means; Higgins et al. 2017, Eq. 4), ``outputs`` being the VAE's ``(recon, mu, logvar)``. The
    logged "kl" is the unweighted KL, so runs with different betas can be compared.
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
        raise ValueError(f"beta: expected a number >= 0 (1 is the plain VAE), got {beta!r}")

    def terms(outputs, x) -> dict[str, torch.Tensor]:
        recon, mu, logvar = outputs
        nll = bernoulli_nll(recon, x, reduction="mean")
        kl = kl_divergence(mu, logvar, reduction="mean")
        return {"loss": nll + beta * kl, "recon": nll, "kl": kl}

    return terms
