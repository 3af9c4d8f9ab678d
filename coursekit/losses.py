"""Loss functions of the course's models, one section per model family.

Each function cites the equation it implements. Losses are means over the batch unless the docstring says
otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import expect_choice, expect_number, expect_tensor, step_range


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

    (Yeh et al. 2018, eq. 2, write the same game.) Equivalently binary cross-entropy with label 1 for real
    and 0
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
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the best D for a fixed G (Yeh et al. 2018, eq. 4).

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
    [0, 1] and of the same shape (checked under ``COURSEKIT_DEBUG=1``: a range check waits for the GPU, and
    this runs every step).
    """
    expect_tensor("recon", recon, value_range=step_range(0.0, 1.0))
    expect_tensor("x", x, value_range=step_range(0.0, 1.0))
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
    if not expect_number("beta", beta, "a number >= 0 (1 is the plain VAE)") >= 0:
        raise ValueError(f"beta: expected a number >= 0 (1 is the plain VAE), got {beta!r}")
    per_image = bernoulli_nll(recon, x) + beta * kl_divergence(mu, logvar)
    return _reduce_images(per_image, reduction)


def beta_vae_terms(beta: float = 4.0):
    """The ``loss_fn`` of ``coursekit.train.vae_step`` for a beta-VAE with this beta.

    Returns ``f(outputs, x) -> {"loss": recon + beta * kl, "recon": ..., "kl": ...}`` (nats per image,
    batch means; Higgins et al. 2017, Eq. 4), ``outputs`` being the VAE's ``(recon, mu, logvar)``. The
    logged "kl" is the unweighted KL, so runs with different betas can be compared.
    """
    if not expect_number("beta", beta, "a number >= 0 (1 is the plain VAE)") >= 0:
        raise ValueError(f"beta: expected a number >= 0 (1 is the plain VAE), got {beta!r}")

    def terms(outputs, x) -> dict[str, torch.Tensor]:
        recon, mu, logvar = outputs
        nll = bernoulli_nll(recon, x, reduction="mean")
        kl = kl_divergence(mu, logvar, reduction="mean")
        return {"loss": nll + beta * kl, "recon": nll, "kl": kl}

    return terms


# ---------- 04 icgan
# Perarnau et al. 2016, "Invertible Conditional GANs for image editing" (module 04).
# The conditional D sees (image, attributes) pairs; its logits follow the GAN convention above.
def conditional_discriminator_loss(real_logits, fake_logits, wrong_logits=None) -> torch.Tensor:
    """-log D(x, y) - log(1 - D(G(z, y'), y')), plus "a real image with a wrong y counts as fake".

    Perarnau et al. 2016: D maximises E[log D(x, y)] + E[log(1 - D(G(z, y'), y'))]. With ``wrong_logits`` =
    D(x, y_wrong) on real images paired with wrong attributes, the fake term is the mean of the two kinds of
    negatives, as in GAN-CLS (Reed et al. 2016, Algorithm 1), which IcGAN follows:
    L_D = -log D(x, y) - 1/2 [log(1 - D(G(z, y'), y')) + log(1 - D(x, y_wrong))]. Without it, the plain
    :func:`discriminator_loss`. Means over the batch.
    """
    real_logits = _logits("real_logits", real_logits)
    fake_logits = _logits("fake_logits", fake_logits)
    if wrong_logits is None:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    wrong_logits = _logits("wrong_logits", wrong_logits)
    negatives = 0.5 * (F.softplus(fake_logits).mean() + F.softplus(wrong_logits).mean())
    return F.softplus(-real_logits).mean() + negatives


def _icgan_same_shape(what: str, predicted, target) -> None:
    expect_tensor(f"{what} prediction", predicted, ndim=2)
    expect_tensor(f"{what} target", target, ndim=2)
    if predicted.shape != target.shape:
        raise ValueError(
            f"{what}: expected prediction and target of the same shape (B, D), got {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}"
        )


def encoder_z_loss(z_predicted: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """L_Ez = E ||z - E_z(G(z, y'))||^2 (Perarnau et al. 2016), as a mean over batch and latent dimensions.

    ``z_predicted`` = E_z(G(z, y')) for generated images, ``z`` the latents they were generated from: the
    encoder learns G's inverse on pairs G itself produced (no real image has a known z). The mean (rather
    than the sum over the 100 dimensions) is torch's ``MSELoss`` and the reference's ``nn.MSECriterion``.
    """
    _icgan_same_shape("encoder_z_loss", z_predicted, z)
    return (z_predicted - z).pow(2).mean()


def encoder_y_loss(y_predicted: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L_Ey = E ||y - E_y(x)||^2 on REAL (image, attributes) pairs (Perarnau et al. 2016), a mean over batch
    and
    attributes; y in {0, 1}."""
    _icgan_same_shape("encoder_y_loss", y_predicted, y)
    return (y_predicted - y.to(y_predicted.dtype)).pow(2).mean()


# ---------- 08 inpainting
# PG-GAN (Demir & Unal 2018, arXiv 1803.07422): the generator minimises
# L = l1 * L_rec + l2 * L_g,adv + l3 * L_p,adv, L_rec the per-pixel L1 distance to the ground truth, the two
# adversarial terms from the global head (one logit per image) and the PatchGAN head (a logit map) of one
# shared discriminator. Weights (0.995, 0.0025, 0.0025): our reading of the paper, not confirmed in code.
PGGAN_WEIGHTS = (0.995, 0.0025, 0.0025)


def _pggan_weights(weights) -> tuple[float, float, float]:
    expected = "three numbers >= 0 (l1, l2, l3)"
    if not isinstance(weights, (tuple, list)):
        raise TypeError(f"weights: expected {expected}, got {weights!r}")
    if len(weights) != 3 or not all(expect_number("weights", w, expected) >= 0 for w in weights):
        raise ValueError(f"weights: expected {expected}, got {weights!r}")
    l1, l2, l3 = (float(w) for w in weights)
    return l1, l2, l3


def reconstruction_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_rec = 1/N sum_i 1/(W H C) ||y_i - x_i||_1: the mean absolute error over all pixels.

    Demir & Unal 2018 (PG-GAN's reconstruction loss)."""
    expect_tensor("output", output)
    expect_tensor("target", target)
    if output.shape != target.shape:
        raise ValueError(
            f"output and target: expected the same shape, got {tuple(output.shape)} and {tuple(target.shape)}"
        )
    return (output - target).abs().mean()


def pggan_generator_terms(output, target, global_logits, patch_logits, weights=PGGAN_WEIGHTS) -> dict:
    """``{"loss": L, "rec": L_rec, "adv_global": ..., "adv_patch": ...}`` for PG-GAN's generator.

    L = l1 * L_rec + l2 * L_g,adv + l3 * L_p,adv (Demir & Unal 2018). Each adversarial
    term is the non-saturating -E[log D(G(x))] of its head (:func:`generator_loss_nonsaturating`), so the
    patch term averages over every patch of the map. ``global_logits``, ``patch_logits``: D's outputs on the
    generated (completed) images.
    """
    l1, l2, l3 = _pggan_weights(weights)
    rec = reconstruction_l1(output, target)
    adv_global = generator_loss_nonsaturating(global_logits)
    adv_patch = generator_loss_nonsaturating(patch_logits)
    return {"loss": l1 * rec + l2 * adv_global + l3 * adv_patch, "rec": rec,
            "adv_global": adv_global, "adv_patch": adv_patch}


def pggan_generator_loss(output, target, global_logits, patch_logits, weights=PGGAN_WEIGHTS) -> torch.Tensor:
    """L = l1 * L1(output, target) + l2 * L_g,adv + l3 * L_p,adv: see :func:`pggan_generator_terms`."""
    return pggan_generator_terms(output, target, global_logits, patch_logits, weights)["loss"]


def pggan_discriminator_loss(real_global, real_patch, fake_global, fake_patch) -> torch.Tensor:
    """D's loss: the GAN loss of the global head plus that of the patch head (both heads, one trunk).

    Each is :func:`discriminator_loss` (-E log D(x) - E log(1 - D(G(x')))); the patch head's is a mean over
    all patches, every patch of a real image labelled real and every patch of a completed image fake.
    """
    return discriminator_loss(real_global, fake_global) + discriminator_loss(real_patch, fake_patch)


# ---------- 06 esrgan_degradation
# ESRGAN (Wang et al. 2018) and learned degradation (Bulat et al. 2018). The discriminators return raw
# logits C(x). Relativistic average D (ESRGAN eq. 1-2): D_Ra(x_r, x_f) = sigmoid(C(x_r) - E_xf[C(x_f)]),
# "how much more real is this real image than the average fake"; log sigmoid is again a softplus.
ESRGAN_WEIGHTS = {"pixel": 1e-2, "perceptual": 1.0, "gan": 5e-3}  # BasicSR train_ESRGAN_x4.yml


def _same_shape(names: tuple[str, str], a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]}: expected the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def relativistic_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D^Ra = -E_xr[log D_Ra(x_r, x_f)] - E_xf[log(1 - D_Ra(x_f, x_r))] (ESRGAN eq. 2).

    D_Ra(x_r, x_f) = sigmoid(C(x_r) - mean C(x_f)), D_Ra(x_f, x_r) = sigmoid(C(x_f) - mean C(x_r)); the means
    run over the batch. ``real_logits``, ``fake_logits``: C on real HR and generated SR images (fakes
    detached).
    """
    real = _logits("real_logits", real_logits)
    fake = _logits("fake_logits", fake_logits)
    real_vs_fake = real - fake.mean()
    fake_vs_real = fake - real.mean()
    return F.softplus(-real_vs_fake).mean() + F.softplus(fake_vs_real).mean()


def relativistic_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G^Ra = -E_xr[log(1 - D_Ra(x_r, x_f))] - E_xf[log D_Ra(x_f, x_r)] (ESRGAN eq. 3): the symmetric form,
    so G gets gradients from both real and generated images. Pass ``real_logits`` detached (as BasicSR
    does)."""
    real = _logits("real_logits", real_logits)
    fake = _logits("fake_logits", fake_logits)
    real_vs_fake = real - fake.mean()
    fake_vs_real = fake - real.mean()
    return F.softplus(real_vs_fake).mean() + F.softplus(-fake_vs_real).mean()


def perceptual_loss(vgg, output: torch.Tensor, target: torch.Tensor, layer: str = "conv5_4") -> torch.Tensor:
    """L_percep = mean |phi(output) - phi(target)| on VGG19 ``layer`` BEFORE its ReLU (ESRGAN section 3.3:
    features before activation are denser and keep brightness). ``vgg``: a ``VGGFeatures`` computing
    ``layer``; the criterion is L1 as in BasicSR's ESRGAN config. The target's features carry no gradient."""
    expect_tensor("output", output, ndim=4)
    expect_tensor("target", target, ndim=4)
    _same_shape(("output", "target"), output, target)
    if layer not in getattr(vgg, "layers", (layer,)):
        raise ValueError(f"vgg: expected a VGGFeatures computing {layer!r}, got layers {vgg.layers}")
    with torch.no_grad():
        wanted = vgg(target)[layer]
    return (vgg(output)[layer] - wanted).abs().mean()


def esrgan_generator_terms(output, target, real_logits, fake_logits, vgg=None, weights=None) -> dict:
    """``{"loss", "pixel", "perceptual", "gan"}`` for ESRGAN's generator (eq. 4):

    L_G = L_percep + lambda * L_G^Ra + eta * L_1, with lambda = 5e-3 and eta = 1e-2 (``ESRGAN_WEIGHTS``).
    ``vgg=None`` drops the perceptual term (useful for a test without VGG); ``real_logits`` is detached here.
    """
    w = dict(ESRGAN_WEIGHTS if weights is None else weights)
    expect_tensor("output", output, ndim=4)
    expect_tensor("target", target, ndim=4)
    _same_shape(("output", "target"), output, target)
    pixel = (output - target).abs().mean()
    percep = perceptual_loss(vgg, output, target) if vgg is not None else output.new_zeros(())
    gan = relativistic_generator_loss(real_logits.detach(), fake_logits)
    loss = w["pixel"] * pixel + w["perceptual"] * percep + w["gan"] * gan
    return {"loss": loss, "pixel": pixel, "perceptual": percep, "gan": gan}


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - C(x_r))] + E[max(0, 1 + C(x_f))]: the hinge GAN loss of spectral-norm GANs (Miyato et al.
    2018), used for the High-to-Low and Low-to-High discriminators."""
    real = _logits("real_logits", real_logits)
    fake = _logits("fake_logits", fake_logits)
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[C(G(z))]: the generator side of the hinge GAN loss."""
    return -_logits("fake_logits", fake_logits).mean()


def degradation_terms(output, target, fake_logits, alpha: float = 1.0, beta: float = 0.05) -> dict:
    """``{"loss", "pixel", "gan"}`` with l = alpha * pixel + beta * GAN (Bulat et al. 2018 eq. 1; alpha 1,
    beta 0.05), pixel = mean squared error (L2) and GAN = the hinge generator loss on ``fake_logits``.

    High-to-Low: ``output`` is the generated 16x16 LR and ``target`` the HR average-pooled to 16x16 (the pixel
    term only keeps the content; the GAN term against unpaired real LR faces brings the degradation).
    Low-to-High: ``output`` the super-resolved 64x64 and ``target`` the HR image.
    """
    expect_tensor("output", output, ndim=4)
    expect_tensor("target", target, ndim=4)
    _same_shape(("output", "target"), output, target)
    pixel = F.mse_loss(output, target)
    gan = hinge_generator_loss(fake_logits)
    return {"loss": alpha * pixel + beta * gan, "pixel": pixel, "gan": gan}


# ---------- 10 old_photos
# Wan et al. 2020 (Bringing Old Photos Back to Life). The latent discriminator returns raw LSGAN scores
# (no sigmoid); label 1 = real old photo R, 0 = synthetic old photo X.
def latent_discriminator_loss(scores_r: torch.Tensor, scores_x: torch.Tensor) -> torch.Tensor:
    """LSGAN loss of the latent discriminator: mean((D(z_r) - 1)^2) + mean(D(z_x)^2) (Wan et al. 2020, Eq. 2:
    D learns to tell the latents of real old photos (1) from those of synthetic ones (0))."""
    expect_tensor("scores_r", scores_r)
    expect_tensor("scores_x", scores_x)
    return ((scores_r - 1) ** 2).mean() + (scores_x**2).mean()


def latent_alignment_loss(scores_r: torch.Tensor, scores_x: torch.Tensor) -> torch.Tensor:
    """The encoder's side of the latent GAN (labels swapped): mean(D(z_r)^2) + mean((D(z_x) - 1)^2).

    Minimised by the shared encoder E_{R,X}, it makes the latents of the two domains indistinguishable, so
    Z_R ~ Z_X and a mapping trained on Z_X also applies to Z_R."""
    expect_tensor("scores_r", scores_r)
    expect_tensor("scores_x", scores_x)
    return (scores_r**2).mean() + ((scores_x - 1) ** 2).mean()


def spatial_vae_terms(recon, x, mu, logvar, kl_weight: float = 1e-3) -> dict[str, torch.Tensor]:
    """The VAE part of the paper's VAE objective with an L1 reconstruction (Wan et al. 2020, Eq. 1):
    {"loss": L1 + kl_weight * KL, "l1": mean |recon - x|, "kl": KL per latent element}, the KL of
    N(mu, exp(logvar)) from N(0, I) averaged over every latent element (spatial latents)."""
    expect_tensor("recon", recon)
    if recon.shape != x.shape:
        raise ValueError(f"recon: expected the shape of x {tuple(x.shape)}, got {tuple(recon.shape)}")
    if mu.shape != logvar.shape:
        raise ValueError(f"logvar: expected the shape of mu {tuple(mu.shape)}, got {tuple(logvar.shape)}")
    l1 = (recon - x).abs().mean()
    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).mean()
    return {"loss": l1 + kl_weight * kl, "l1": l1, "kl": kl}


def mapping_loss(mapped: torch.Tensor, z_y: torch.Tensor, restored=None, y=None, image_weight: float = 0.0):
    """The mapping's loss: L1 between T(z_x) and z_y = E_Y(y) (Wan et al. 2020, Eq. 6, lambda_1 term), plus
    ``image_weight`` x L1 between the decoded restoration G_Y(T(z_x)) and y when both are given (our
    stand-in for the paper's image-space GAN and feature-matching terms)."""
    expect_tensor("mapped", mapped)
    if mapped.shape != z_y.shape:
        raise ValueError(f"mapped: expected the shape of z_y {tuple(z_y.shape)}, got {tuple(mapped.shape)}")
    loss = (mapped - z_y).abs().mean()
    if image_weight and restored is not None and y is not None:
        loss = loss + image_weight * (restored - y).abs().mean()
    return loss


# ---------- 05 super_resolution
# Ledig et al. 2017 (SRGAN), section 2.2. The content loss compares VGG19 feature maps phi_i,j (the j-th
# conv after its ReLU, before the i-th max-pool: phi_5,4 = "relu5_4", phi_2,2 = "relu2_2"; see
# coursekit.nn.vgg.VGGFeatures), the adversarial loss is the non-saturating -log D(G(I_LR)).
SRGAN_ADVERSARIAL_WEIGHT = 1e-3


def vgg_content_loss(sr_features: torch.Tensor, hr_features: torch.Tensor) -> torch.Tensor:
    """l_VGG/i,j = 1/(W_ij H_ij) sum_x sum_y ||phi_ij(I_HR)_x,y - phi_ij(G(I_LR))_x,y||^2 (SRGAN eq. 5).

    ``sr_features``, ``hr_features``: (B, C, H, W) feature maps of the same layer. Squared differences are
    summed over channels and positions and divided by the map's W * H (not by C), then averaged over the
    batch: C times the element-wise MSE. Gradients flow into ``sr_features`` (compute the HR features
    under ``torch.no_grad()``).
    """
    expect_tensor("sr_features", sr_features, ndim=4)
    expect_tensor("hr_features", hr_features, ndim=4)
    if sr_features.shape != hr_features.shape:
        raise ValueError(
            f"hr_features: expected the shape of sr_features {tuple(sr_features.shape)}, "
            f"got {tuple(hr_features.shape)}"
        )
    height, width = sr_features.shape[-2:]
    per_image = (sr_features - hr_features).pow(2).flatten(1).sum(1) / (height * width)
    return per_image.mean()


def srgan_generator_loss(
    sr_features: torch.Tensor,
    hr_features: torch.Tensor,
    fake_logits: torch.Tensor,
    adversarial_weight: float = SRGAN_ADVERSARIAL_WEIGHT,
) -> dict[str, torch.Tensor]:
    """SRGAN's perceptual loss l_SR = l_VGG/i,j + 10^-3 l_Gen (eq. 3), l_Gen = -log D(G(I_LR)) (eq. 6).

    ``fake_logits``: the discriminator's logits on the super-resolved images (D = sigmoid(logit)); l_Gen is
    averaged over the batch (the paper sums over training samples). Returns
    ``{"loss": l_SR, "content": l_VGG, "adversarial": l_Gen}``.
    """
    weight = adversarial_weight
    if expect_number("adversarial_weight", weight, "a number >= 0 such as 1e-3") < 0:
        raise ValueError(f"adversarial_weight: expected a number >= 0 such as 1e-3, got {weight!r}")
    content = vgg_content_loss(sr_features, hr_features)
    adversarial = generator_loss_nonsaturating(fake_logits)
    return {"loss": content + weight * adversarial, "content": content, "adversarial": adversarial}
