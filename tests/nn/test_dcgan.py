"""coursekit.nn.dcgan and the GAN losses of coursekit.losses: architecture, init, the optimal D, gradients."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import losses
from coursekit.nn import count_parameters as count
from coursekit.nn import dcgan
from coursekit.train import fit, gan_step


def reference_counts(size: int, channels: int, z_dim: int = 100, width: int = 64) -> tuple[int, int]:
    """Parameters of pytorch/examples' DCGAN from its layer list: 4x4 kernels, no conv biases, BN (w, b)."""
    n = int(math.log2(size)) - 2
    g_widths = [width * 2 ** (n - 1 - i) for i in range(n)]  # 64x64: 512, 256, 128, 64
    g_convs = [(z_dim, g_widths[0]), *zip(g_widths[:-1], g_widths[1:], strict=True), (g_widths[-1], channels)]
    g = sum(16 * a * b for a, b in g_convs) + sum(2 * c for c in g_widths)
    d_widths = [width * 2**i for i in range(n)]  # 64x64: 64, 128, 256, 512
    d_convs = [(channels, d_widths[0]), *zip(d_widths[:-1], d_widths[1:], strict=True), (d_widths[-1], 1)]
    d = sum(16 * a * b for a, b in d_convs) + sum(2 * c for c in d_widths[1:])  # no BN after the first conv
    return g, d



def test_parameter_counts_match_the_reference_architecture():
    g, d = dcgan.Generator(64, 3), dcgan.Discriminator(64, 3)
    assert (count(g), count(d)) == reference_counts(64, 3)
    assert (count(g), count(d)) == (3_576_704, 2_765_568)  # the PyTorch DCGAN tutorial's printed totals
    g32, d32 = dcgan.Generator(32, 1, ngf=32), dcgan.Discriminator(32, 1, ndf=32)
    assert (count(g32), count(d32)) == reference_counts(32, 1, width=32)


def test_layer_structure_follows_the_paper():
    g, d = dcgan.Generator(64, 3), dcgan.Discriminator(64, 3)
    g_convs = [m for m in g.main if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in g_convs] == [512, 256, 128, 64, 3]
    assert all(m.kernel_size == (4, 4) for m in g_convs)
    assert [m.stride for m in g_convs] == [(1, 1)] + [(2, 2)] * 4
    assert isinstance(g.main[-1], torch.nn.Tanh)
    d_layers = list(d.main)
    assert isinstance(d_layers[0], torch.nn.Conv2d) and isinstance(d_layers[1], torch.nn.LeakyReLU)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d_layers) == 3
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, torch.nn.LeakyReLU))
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d_layers), "D returns logits"


@pytest.mark.parametrize(("size", "channels"), [(32, 1), (64, 3)])
def test_output_shapes_and_ranges(size, channels):
    g, d = dcgan.build(size, channels, ngf=16, ndf=16, seed=0)
    z = torch.randn(5, 100, generator=torch.Generator().manual_seed(0))
    images = g(z)
    assert images.shape == (5, channels, size, size)
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.01
    assert torch.allclose(g(z[:, :, None, None]), images)
    logits = d(images)
    assert logits.shape == (5,)
    g.eval()
    assert torch.allclose(g.sample(4, seed=3), g.sample(4, seed=3))


def test_discriminator_sees_the_papers_minus_one_to_one_range():
    d = dcgan.build(32, 1, ngf=8, ndf=8)[1].eval()
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(d(x), d.main(2 * x - 1).reshape(-1))


def test_bad_inputs_name_what_was_expected():
    with pytest.raises(ValueError, match="image size: expected one of 16, 32, 64, 128, got 48"):
        dcgan.Generator(48)
    g, d = dcgan.build(32, 1, ngf=8, ndf=8)
    with pytest.raises(ValueError, match=r"expected shape \(B, 100\)"):
        g(torch.randn(2, 64))
    with pytest.raises(ValueError, match="expected 32x32 pixels"):
        d(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="expected 1 channels"):
        d(torch.rand(2, 3, 32, 32))


def test_init_statistics_and_seeding():
    before = torch.get_rng_state()
    g, d = dcgan.build(64, 3, seed=0)
    assert torch.equal(torch.get_rng_state(), before), "seeded init must not touch the global RNG"
    for net in (g, d):
        convs = torch.cat(
            [m.weight.flatten() for m in net.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
        )
        bn = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        bn_weight = torch.cat([m.weight for m in bn])
        convs, bn_weight = convs.detach(), bn_weight.detach()
        assert abs(convs.mean()) < 1e-3 and convs.std() == pytest.approx(0.02, rel=0.01)
        assert bn_weight.mean() == pytest.approx(1.0, abs=0.005) and bn_weight.std() == pytest.approx(
            0.02, rel=0.2
        )
        assert all(torch.count_nonzero(m.bias) == 0 for m in bn)
    again = dcgan.build(64, 3, seed=0)[0]
    assert all(torch.equal(a, b) for a, b in zip(g.parameters(), again.parameters(), strict=True))
    other = dcgan.build(64, 3, seed=1)[0]
    assert not torch.equal(next(g.parameters()), next(other.parameters()))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-15, 15), min_size=1, max_size=8), st.lists(st.floats(-15, 15), min_size=1, max_size=8)
)
def test_losses_equal_binary_cross_entropy_on_sigmoid_outputs(real, fake):
    real, fake = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    bce = torch.nn.functional.binary_cross_entropy
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = bce(d_real, torch.ones_like(real)) + bce(d_fake, torch.zeros_like(fake))
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(
        expected_d.item(), rel=1e-6, abs=1e-6
    )
    # |logit| <= 15: the float64 reference log(1 - sigmoid(l)) keeps ~10 digits (softplus is exact beyond)
    ns = bce(d_fake, torch.ones_like(fake))
    assert losses.generator_loss_nonsaturating(fake).item() == pytest.approx(ns.item(), rel=1e-6, abs=1e-6)
    sat = torch.log1p(-d_fake).mean()
    assert losses.generator_loss_saturating(fake).item() == pytest.approx(sat.item(), rel=1e-6, abs=1e-6)


def test_losses_stay_finite_when_the_discriminator_is_certain():
    logits = torch.tensor([-200.0, 200.0], requires_grad=True)
    for loss in (losses.discriminator_loss(logits, logits), losses.generator_loss_nonsaturating(logits)):
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


def gaussian(x, mean):
    return torch.exp(-0.5 * (x - mean) ** 2) / math.sqrt(2 * math.pi)


def test_optimal_discriminator_identity_in_one_dimension():
    """p_data = N(1, 1), p_g = N(-1, 1): D*(x) = p_data / (p_data + p_g) = sigmoid(2x), and it maximises V."""
    x = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    p_data, p_g = gaussian(x, 1.0), gaussian(x, -1.0)
    d_star = losses.optimal_discriminator(p_data, p_g)
    assert torch.allclose(d_star, torch.sigmoid(2 * x), atol=1e-12)
    assert losses.optimal_discriminator(torch.zeros(2), torch.zeros(2)).tolist() == [0.5, 0.5]

    def value(d):  # V(G, D) = E_data log D + E_g log(1 - D), by quadrature
        dx = x[1] - x[0]
        return float(((p_data * torch.log(d) + p_g * torch.log1p(-d)) * dx).sum())

    best = value(d_star)
    for other in (torch.sigmoid(1.5 * x), torch.sigmoid(2 * x + 0.3), torch.full_like(x, 0.5)):
        assert value(other) < best
    js = 0.5 * float(
        ((p_data * torch.log(2 * d_star) + p_g * torch.log(2 * (1 - d_star))) * (x[1] - x[0])).sum()
    )
    assert best == pytest.approx(-math.log(4) + 2 * js, abs=1e-9)  # Goodfellow et al. Theorem 1

    # A logistic discriminator trained with discriminator_loss on samples finds D* (w ~ 2, b ~ 0).
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(4000, generator=gen) + 1, torch.randn(4000, generator=gen) - 1
    w, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        losses.discriminator_loss(w * real + b, w * fake + b).backward()
        opt.step()
    assert w.item() == pytest.approx(2.0, abs=0.15) and abs(b.item()) < 0.1


def test_nonsaturating_gradient_dominates_when_the_discriminator_rejects_fakes():
    """D(G(z)) ~ 0: d log(1 - D)/dl = -D ~ 0 (saturates); d -log D/dl = D - 1 ~ -1."""
    logits = torch.full((16,), -6.0, requires_grad=True)  # D(G(z)) = 0.0025
    (g_sat,) = torch.autograd.grad(losses.generator_loss_saturating(logits), logits)
    (g_ns,) = torch.autograd.grad(losses.generator_loss_nonsaturating(logits), logits)
    assert (g_sat < 0).all() and (g_ns < 0).all(), "both losses push D(G(z)) up"
    assert (g_ns.abs() > 100 * g_sat.abs()).all()
    # the same through a generator: gradient on G's parameters
    g, d = dcgan.build(32, 1, ngf=8, ndf=8, seed=0)

    def rejecting_d(x):  # a discriminator that confidently calls everything fake
        return d(x) - 8.0

    z = torch.randn(8, 100, generator=torch.Generator().manual_seed(0))
    norms = {}
    for name, loss_fn in (
        ("sat", losses.generator_loss_saturating),
        ("ns", losses.generator_loss_nonsaturating),
    ):
        g.zero_grad()
        loss_fn(rejecting_d(g(z))).backward()
        norms[name] = torch.cat([p.grad.flatten() for p in g.parameters()]).norm()
    assert norms["ns"] > 100 * norms["sat"]


def test_optimal_discriminator_rejects_negative_densities():
    with pytest.raises(ValueError, match="expected densities"):
        losses.optimal_discriminator(torch.tensor([-0.1]), torch.tensor([0.2]))


def test_gan_step_defaults_are_the_course_losses_and_train_a_dcgan():
    g, d = dcgan.build(16, 1, ngf=8, ndf=8, seed=0)
    opt_g, opt_d = dcgan.optimizers(g, d)
    real = [(torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(i)),) for i in range(2)]
    result = fit(gan_step(g, d, opt_g, opt_d, z_dim=100), real, 3, progress=False, seed=0)
    assert len(result.history["loss_d"]) == 3 and all(math.isfinite(v) for v in result.history["loss_g"])
    assert result.history["loss_d"][0] == pytest.approx(2 * math.log(2), abs=0.3)  # D ~ 1/2 at init


def pytorch_examples_layout(nz=100, ngf=64, ndf=64, nc=3):
    """State-dict names and shapes of pytorch/examples ``dcgan/main.py``'s netG and netD (64x64): one
    Sequential ``main``; ConvTranspose/Conv weights without biases, BatchNorm with running statistics."""

    def bn(i, c):
        return [(f"main.{i}.weight", (c,)), (f"main.{i}.bias", (c,)), (f"main.{i}.running_mean", (c,)),
                (f"main.{i}.running_var", (c,)), (f"main.{i}.num_batches_tracked", ())]

    g = [("main.0.weight", (nz, ngf * 8, 4, 4)), *bn(1, ngf * 8), ("main.3.weight", (ngf * 8, ngf * 4, 4, 4)),
         *bn(4, ngf * 4), ("main.6.weight", (ngf * 4, ngf * 2, 4, 4)), *bn(7, ngf * 2),
         ("main.9.weight", (ngf * 2, ngf, 4, 4)), *bn(10, ngf), ("main.12.weight", (ngf, nc, 4, 4))]
    d = [("main.0.weight", (ndf, nc, 4, 4)), ("main.2.weight", (ndf * 2, ndf, 4, 4)), *bn(3, ndf * 2),
         ("main.5.weight", (ndf * 4, ndf * 2, 4, 4)), *bn(6, ndf * 4),
         ("main.8.weight", (ndf * 8, ndf * 4, 4, 4)), *bn(9, ndf * 8), ("main.11.weight", (1, ndf * 8, 4, 4))]
    return g, d


def test_state_dicts_have_the_keys_and_shapes_of_pytorch_examples():
    g_layout, d_layout = pytorch_examples_layout()
    g, d = dcgan.build(64)
    assert [(k, tuple(v.shape)) for k, v in g.state_dict().items()] == g_layout
    assert [(k, tuple(v.shape)) for k, v in d.state_dict().items()] == d_layout
    netg = {k: torch.full(shape, 0.5) if shape else torch.tensor(7) for k, shape in g_layout}
    g.load_state_dict(netg)  # a netG.pth of dcgan/main.py loads as is (strict)
    assert int(g.main[1].num_batches_tracked) == 7
