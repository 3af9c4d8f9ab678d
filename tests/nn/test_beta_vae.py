"""The beta-VAE of module 03: architecture, traversals and its loss."""

import pytest
import torch

from coursekit import losses
from coursekit.nn.beta_vae import BetaVAE
from coursekit.nn.vae import count_parameters


@pytest.mark.parametrize(("size", "params"), [(64, 764_245), (32, 370_261)])
def test_architecture_shapes_and_parameter_count(size, params):
    torch.manual_seed(0)
    model = BetaVAE(size)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert count_parameters(model) == params
    x = torch.rand(3, 1, size, size)
    with torch.no_grad():
        recon, mu, logvar = model(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (3, 10)
    assert 0.0 <= float(recon.min()) and float(recon.max()) <= 1.0


def test_size_must_survive_four_halvings():
    with pytest.raises(ValueError, match="size: expected a multiple of 16"):
        BetaVAE(28)
    with pytest.raises(ValueError, match=r"x: expected images of shape \(B, 1, 64, 64\)"):
        BetaVAE(64).encode(torch.rand(2, 1, 32, 32))


def test_traverse_changes_one_latent_per_row():
    torch.manual_seed(0)
    model = BetaVAE(32).eval()
    x = torch.rand(1, 32, 32)
    values = (-2.0, 0.0, 2.0)
    grid = model.traverse(x, values)
    assert grid.shape == (10 * 3, 1, 32, 32)
    mu = model.encode(x[None])[0][0]
    for j in range(10):
        for i, value in enumerate(values):
            z = mu.clone()
            z[j] = value
            torch.testing.assert_close(grid[3 * j + i], model.decode(z[None])[0])


def test_beta_vae_loss_weights_the_kl_by_beta():
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 1, 8, 8, generator=gen) > 0.5).float()
    recon = torch.rand(4, 1, 8, 8, generator=gen).clamp(0.01, 0.99)
    mu, logvar = torch.randn(4, 10, generator=gen), torch.randn(4, 10, generator=gen)
    torch.testing.assert_close(
        losses.beta_vae_loss(recon, x, mu, logvar, beta=1), losses.elbo_loss(recon, x, mu, logvar)
    )
    nll = losses.bernoulli_nll(recon, x).mean()
    kl = losses.kl_divergence(mu, logvar).mean()
    torch.testing.assert_close(losses.beta_vae_loss(recon, x, mu, logvar, beta=4), nll + 4 * kl)
    terms = losses.beta_vae_terms(4)((recon, mu, logvar), x)
    torch.testing.assert_close(terms["loss"], nll + 4 * kl)
    torch.testing.assert_close(terms["kl"], kl)
    with pytest.raises(ValueError, match="beta: expected a number >= 0"):
        losses.beta_vae_terms(-1.0)
    for bad in (True, "4"):
        with pytest.raises(TypeError, match="beta: expected a number >= 0"):
            losses.beta_vae_terms(bad)


def test_a_few_steps_of_training_lower_the_loss():
    torch.manual_seed(0)
    model = BetaVAE(32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.zeros(16, 1, 32, 32)
    x[:, :, 8:24, 8:24] = 1.0
    loss_fn = losses.beta_vae_terms(4)
    first = None
    for _ in range(15):
        loss = loss_fn(model(x), x)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.8 * first
