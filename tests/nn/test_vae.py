"""VAE models (coursekit.nn.vae) and VAE losses (coursekit.losses): sizes, equations, gradients, bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from coursekit import losses
from coursekit.nn.vae import (
    MLPVAE,
    VAE,
    ConvAutoencoder,
    ConvVAE,
    MLPAutoencoder,
    conv_widths,
    count_parameters,
)

# pytorch/examples vae/main.py: fc1 784->400, fc21 and fc22 400->20, fc3 20->400, fc4 400->784 (with biases)
REFERENCE_VAE_PARAMETERS = (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784)
REFERENCE_AE_PARAMETERS = REFERENCE_VAE_PARAMETERS - (400 * 20 + 20)


def gaussian(batch=5, dim=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, dim, generator=gen), torch.randn(batch, dim, generator=gen)


def test_mlp_vae_has_exactly_the_reference_parameter_count():
    assert REFERENCE_VAE_PARAMETERS == 652_824
    assert count_parameters(MLPVAE()) == REFERENCE_VAE_PARAMETERS
    assert count_parameters(MLPAutoencoder()) == REFERENCE_AE_PARAMETERS == 644_804


def test_mlp_vae_layers_are_784_400_20_with_the_names_of_pytorch_examples():
    model = MLPVAE()
    layers = {"encoder.fc1": (784, 400), "fc_mu": (400, 20), "fc_logvar": (400, 20), "decoder.fc3": (20, 400),
              "decoder.fc4": (400, 784)}  # fc_mu and fc_logvar are vae/main.py's fc21 and fc22
    linears = {name: (m.in_features, m.out_features) for name, m in model.named_modules()
               if isinstance(m, torch.nn.Linear)}
    assert linears == layers


@pytest.mark.parametrize("model_class", [MLPVAE, ConvVAE])
def test_vae_shapes_and_output_range(model_class):
    model = model_class()
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    recon, mu, logvar = model(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (3, 20)
    assert 0 <= recon.min() and recon.max() <= 1
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 28, 28)
    assert torch.equal(model.reconstruct(x), model.decode(mu))


@pytest.mark.parametrize(
    ("size", "channels", "widths"),
    [(28, 1, [32, 64]), (32, 3, [32, 64, 128]), (64, 1, [32, 64, 128, 256]), (64, 3, [32, 64, 128, 256])],
)
def test_conv_vae_serves_other_image_sizes_and_channels(size, channels, widths):
    assert conv_widths(size) == widths
    model = ConvVAE(size=size, channels=channels, z_dim=10)
    recon, mu, _ = model(torch.rand(2, channels, size, size))
    assert recon.shape == (2, channels, size, size) and mu.shape == (2, 10)
    ae = ConvAutoencoder(size=size, channels=channels, z_dim=10)
    assert ae(torch.rand(2, channels, size, size)).shape == (2, channels, size, size)
    assert count_parameters(model) - count_parameters(ae) == 256 * 10 + 10  # only the logvar head differs


def test_forward_is_repeatable_with_a_generator():
    model = ConvVAE()
    x = torch.rand(2, 1, 28, 28)
    first = model(x, generator=torch.Generator().manual_seed(3))[0]
    again = model(x, generator=torch.Generator().manual_seed(3))[0]
    other = model(x, generator=torch.Generator().manual_seed(4))[0]
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m(torch.rand(2, 1, 32, 32)),
         r"expected images of shape \(B, 1, 28, 28\), got \(2, 1, 32, 32\)"),
        (lambda m: m(torch.rand(2, 784)), r"expected a 4-D"),
        (lambda m: m.decode(torch.randn(2, 40)), r"expected latent codes of shape \(B, 20\), got \(2, 40\)"),
        (lambda m: m.sample(0), r"n: expected an integer >= 1"),
    ],
)
def test_models_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(MLPVAE())


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="x: expected a floating-point tensor, got dtype torch.int64"):
        MLPVAE()(torch.randint(0, 2, (2, 1, 28, 28)))
    with pytest.raises(TypeError, match="mu: expected a torch.Tensor, got list"):
        losses.reparameterize([0.0], [0.0])
    with pytest.raises(TypeError, match="z_dim: expected an integer >= 1, got 2.5 of type float"):
        MLPVAE(z_dim=2.5)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="size: expected an even image size >= 8"):
        ConvVAE(size=7)
    with pytest.raises(ValueError, match="z_dim: expected an integer >= 1"):
        MLPVAE(z_dim=0)
    with pytest.raises(ValueError, match="channels"):
        ConvAutoencoder(channels=0)


def test_kl_matches_torch_distributions():
    mu, logvar = gaussian()
    q = Normal(mu, torch.exp(0.5 * logvar))
    expected = torch_kl(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    got = losses.kl_divergence(mu, logvar)
    assert got.shape == (5,)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(losses.kl_divergence(mu, logvar, reduction="mean"), expected.mean())
    torch.testing.assert_close(losses.kl_divergence(mu, logvar, reduction="sum"), expected.sum())


def test_kl_matches_a_monte_carlo_estimate():
    mu, logvar = gaussian(batch=2, dim=3, seed=1)
    gen = torch.Generator().manual_seed(0)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, 2, 3, generator=gen)
    q, p = Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(losses.kl_divergence(mu, logvar), monte_carlo, rtol=0.02, atol=0.02)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=2), st.lists(st.floats(-5, 5), min_size=2, max_size=2))
def test_kl_is_non_negative_and_zero_only_at_the_prior(mu, logvar):
    kl = losses.kl_divergence(torch.tensor([mu]), torch.tensor([logvar]))
    assert kl.item() >= -1e-6
    assert losses.kl_divergence(torch.zeros(1, 2), torch.zeros(1, 2)).item() == 0.0


def test_reparameterize_is_mu_plus_sigma_eps_and_repeatable():
    mu, logvar = gaussian()
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
    z = losses.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)


def test_reparameterize_has_the_right_distribution():
    mu, logvar = torch.full((100_000, 1), 2.0), torch.full((100_000, 1), math.log(0.25))
    z = losses.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 2.0) < 0.01 and abs(z.std().item() - 0.5) < 0.01


def test_gradients_flow_through_reparameterize_into_mu_and_logvar():
    mu, logvar = (t.requires_grad_() for t in gaussian())
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    losses.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0)).sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones_like(mu))  # dz/dmu = 1
    torch.testing.assert_close(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)  # dz/dlogvar


def test_elbo_loss_is_bce_sum_plus_kl_per_image():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=gen)
    recon = torch.rand(4, 1, 28, 28, generator=gen).clamp(0.01, 0.99)
    mu, logvar = gaussian(batch=4)
    bce = -(x * recon.log() + (1 - x) * (1 - recon).log()).sum(dim=(1, 2, 3))
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)
    torch.testing.assert_close(losses.elbo_loss(recon, x, mu, logvar), (bce + kl).mean())
    torch.testing.assert_close(losses.elbo_loss(recon, x, mu, logvar, reduction="none"), bce + kl)
    terms = losses.elbo_terms((recon, mu, logvar), x)
    torch.testing.assert_close(terms["loss"], (bce + kl).mean())
    torch.testing.assert_close(terms["recon"] + terms["kl"], terms["loss"])


def test_training_steps_lower_the_negative_elbo():
    torch.manual_seed(0)
    model = MLPVAE(size=8, hidden=32, z_dim=2)
    x = (torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def negative_elbo(generator=None):
        recon, mu, logvar = model(x, generator=generator)
        return losses.elbo_loss(recon, x, mu, logvar)

    before = negative_elbo(torch.Generator().manual_seed(0)).item()
    for _ in range(30):
        loss = negative_elbo()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert negative_elbo(torch.Generator().manual_seed(0)).item() < before - 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: losses.kl_divergence(torch.zeros(2, 20), torch.zeros(2, 40)),
         r"mu and logvar: expected the same shape, got \(2, 20\) and \(2, 40\)"),
        (lambda: losses.kl_divergence(torch.zeros(20), torch.zeros(20)), r"mu: expected a 2-D"),
        (lambda: losses.kl_divergence(torch.zeros(2, 2), torch.zeros(2, 2), reduction="avg"),
         r"unknown reduction 'avg'"),
        (lambda: losses.elbo_loss(torch.full((2, 1, 4, 4), 2.0), torch.rand(2, 1, 4, 4), torch.zeros(2, 2),
                                  torch.zeros(2, 2)), r"recon: expected values in \[0.0, 1.0\]"),
        (lambda: losses.elbo_loss(torch.rand(2, 784), torch.rand(2, 1, 28, 28), torch.zeros(2, 2),
                                  torch.zeros(2, 2)), r"recon and x: expected the same shape"),
    ],
)
def test_losses_reject_bad_input(call, message, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DEBUG", "1")  # the per-step losses check value ranges only then
    with pytest.raises(ValueError, match=message):
        call()


def test_vae_base_class_reads_mu_and_logvar_from_the_encoder_features_with_two_heads():
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 6))
    decoder = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 2, 2)))
    model = VAE(encoder, decoder, (1, 2, 2), z_dim=3, hidden=6)
    x = torch.rand(5, 1, 2, 2)
    mu, logvar = model.encode(x)
    torch.testing.assert_close(mu, model.fc_mu(encoder(x)))
    torch.testing.assert_close(logvar, model.fc_logvar(encoder(x)))
