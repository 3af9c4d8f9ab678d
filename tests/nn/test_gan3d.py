"""coursekit.nn.gan3d: the 3D-GAN of Wu et al. 2016, its parameter counts, the adaptive D rule, the viewer."""

import math

import numpy as np
import pytest
import torch

from coursekit import losses
from coursekit.nn import count_parameters as count
from coursekit.nn import gan3d
from coursekit.train import gan_step


def reference_counts(size: int, z_dim: int = 200, width: int = 64) -> tuple[int, int]:
    """Parameters from the layer list of REFERENCES.md (3D-GAN): 4^3 kernels, no conv biases, BN (w, b).

    64^3: G = 200*512*64 + 512*256*64 + 256*128*64 + 128*64*64 + 64*1*64 + 2*(512+256+128+64);
    D mirrors it with batch norm from its second layer on (as in DCGAN).
    """
    n = int(math.log2(size)) - 2
    g_widths = [width * 2 ** (n - 1 - i) for i in range(n)]
    g_convs = [(z_dim, g_widths[0]), *zip(g_widths[:-1], g_widths[1:], strict=True), (g_widths[-1], 1)]
    g = sum(64 * a * b for a, b in g_convs) + sum(2 * c for c in g_widths)
    d_widths = [width * 2**i for i in range(n)]
    d_convs = [(1, d_widths[0]), *zip(d_widths[:-1], d_widths[1:], strict=True), (d_widths[-1], 1)]
    d = sum(64 * a * b for a, b in d_convs) + sum(2 * c for c in d_widths[1:])
    return g, d



def test_parameter_counts_match_the_paper_architecture():
    g, d = gan3d.Generator(64), gan3d.Discriminator(64)
    assert (count(g), count(d)) == reference_counts(64)
    assert (count(g), count(d)) == (17_569_664, 11_048_704)
    g32, d32 = gan3d.Generator(32, ngf=16), gan3d.Discriminator(32, ndf=16)
    assert (count(g32), count(d32)) == reference_counts(32, width=16)


def test_layer_structure_follows_the_paper():
    g, d = gan3d.Generator(64), gan3d.Discriminator(64)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose3d)]
    assert [m.out_channels for m in convs] == [512, 256, 128, 64, 1]
    assert convs[0].in_channels == gan3d.Z_DIM == 200
    assert all(m.kernel_size == (4, 4, 4) and m.bias is None for m in convs)
    assert [m.stride for m in convs] == [(1, 1, 1)] + [(2, 2, 2)] * 4
    assert isinstance(g.net[-1], torch.nn.Sigmoid)
    d_convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [m.out_channels for m in d_convs] == [64, 128, 256, 512, 1]
    assert sum(isinstance(m, torch.nn.BatchNorm3d) for m in d.modules()) == 3
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, torch.nn.LeakyReLU))
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d.modules()), "D returns logits"
    assert (gan3d.G_LR, gan3d.D_LR, gan3d.BETAS[0], gan3d.D_ACCURACY_THRESHOLD) == (2.5e-3, 1e-5, 0.5, 0.8)


@pytest.mark.parametrize("size", [16, 32])
def test_output_shapes_and_ranges(size):
    g, d = gan3d.build(size, ngf=4, ndf=4, seed=0)
    z = torch.randn(3, 200, generator=torch.Generator().manual_seed(0))
    v = g(z)
    assert v.shape == (3, 1, size, size, size)
    assert 0.0 <= v.min() and v.max() <= 1.0 and v.std() > 1e-3
    assert torch.allclose(g(z[:, :, None, None, None]), v)
    assert d(v).shape == (3,)
    assert g.sample(2, seed=1).shape == (2, 1, size, size, size)
    assert torch.equal(g.sample(2, seed=1), g.sample(2, seed=1))


def test_generator_block_doubles_each_side():
    block = gan3d.generator_block(8, 4)
    assert block(torch.randn(2, 8, 5, 5, 5)).shape == (2, 4, 10, 10, 10)
    first = gan3d.generator_block(200, 4, first=True)
    assert first(torch.randn(2, 200, 1, 1, 1)).shape == (2, 4, 4, 4, 4)
    assert gan3d.discriminator_block(4, 8)(torch.randn(2, 4, 8, 8, 8)).shape == (2, 8, 4, 4, 4)


def test_bad_input_names_expected_and_actual():
    g, d = gan3d.build(16, ngf=4, ndf=4)
    with pytest.raises(ValueError, match=r"expected shape \(B, 200\).*got \(2, 100\)"):
        g(torch.randn(2, 100))
    with pytest.raises(ValueError, match=r"expected 16\^3 .*got shape \(2, 1, 32, 32, 32\)"):
        d(torch.rand(2, 1, 32, 32, 32))
    with pytest.raises(ValueError, match="expected 1 channels"):
        d(torch.rand(2, 3, 16, 16, 16))
    with pytest.raises(ValueError, match=r"grid size: expected one of 16, 32, 64, got 48"):
        gan3d.Generator(48)
    with pytest.raises(ValueError, match="threshold"):
        gan3d.should_update_discriminator(0.5, threshold=1.5)


def test_init_is_dcgan_style_and_seeded():
    g1, _ = gan3d.build(32, ngf=8, seed=3)
    g2, _ = gan3d.build(32, ngf=8, seed=3)
    w = torch.cat([m.weight.flatten() for m in g1.modules() if isinstance(m, torch.nn.ConvTranspose3d)])
    w = w.detach()
    assert abs(float(w.std()) - 0.02) < 1e-3 and abs(float(w.mean())) < 1e-3
    pairs = zip(g1.state_dict().values(), g2.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_discriminator_accuracy_and_the_adaptive_rule():
    real, fake = torch.tensor([2.0, -1.0, 0.5, 3.0]), torch.tensor([-2.0, -0.1, 1.0, 0.0])
    # real right: 3 of 4; fake right (logit < 0): 2 of 4 (0.0 counts as wrong)
    assert float(gan3d.discriminator_accuracy(real, fake)) == pytest.approx(5 / 8)
    assert gan3d.should_update_discriminator(0.8) and gan3d.should_update_discriminator(0.5)
    assert not gan3d.should_update_discriminator(0.81)


def tiny_pair(seed=0):
    g, d = gan3d.build(16, ngf=4, ndf=4, seed=seed)
    return g, d, *gan3d.optimizers(g, d, lr_d=1e-2)


def test_gan_step_with_the_accuracy_rule_skips_the_d_update_when_d_is_too_accurate():
    g, d, opt_g, opt_d = tiny_pair()
    real = (torch.rand(4, 1, 16, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.7).float()
    before = [p.detach().clone() for p in d.parameters()]
    torch.manual_seed(2)
    logs = gan_step(g, d, opt_g, opt_d, z_dim=200, update_d_if=gan3d.accuracy_rule(0.0))(real, 0)
    skipped = logs["d_acc"] > 0.0  # threshold 0: D may only update while it is always wrong
    assert logs["d_updated"] == (0.0 if skipped else 1.0)
    assert set(logs) == {"loss_d", "loss_g", "d_acc", "d_updated"}
    changed = any(not torch.equal(a, b) for a, b in zip(before, d.parameters(), strict=True))
    assert changed != skipped
    always = gan_step(g, d, opt_g, opt_d, z_dim=200, update_d_if=gan3d.accuracy_rule(1.0))
    assert always(real, 1)["d_updated"] == 1.0


def test_the_rule_sees_the_logits_of_the_d_loss_before_the_update():
    g, d, opt_g, opt_d = tiny_pair()
    real = (torch.rand(4, 1, 16, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.7).float()
    z = torch.randn(4, 200, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected_loss = float(losses.discriminator_loss(d(real), d(g(z))))
        expected_acc = float(gan3d.discriminator_accuracy(d(real), d(g(z))))
    torch.manual_seed(2)  # gan_step draws the same z
    logs = gan_step(g, d, opt_g, opt_d, z_dim=200, update_d_if=gan3d.accuracy_rule())(real, 0)
    assert logs["loss_d"] == pytest.approx(expected_loss, rel=1e-5)
    assert logs["d_acc"] == pytest.approx(expected_acc)


def test_d_learns_to_separate_solid_from_empty_on_a_tiny_problem():
    torch.manual_seed(0)
    _, d = gan3d.build(16, ngf=4, ndf=4, seed=0)
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=gan3d.BETAS)
    gen = torch.Generator().manual_seed(0)
    history = []
    for _ in range(25):
        real = (torch.rand(8, 1, 16, 16, 16, generator=gen) > 0.3).float()
        fake = (torch.rand(8, 1, 16, 16, 16, generator=gen) > 0.9).float()
        loss = losses.discriminator_loss(d(real), d(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert np.mean(history[-5:]) < 0.5 * np.mean(history[:3])
    assert float(gan3d.discriminator_accuracy(d(real), d(fake))) == 1.0


def test_occupancy_stats_counts_components_and_fill():
    v = torch.zeros(2, 1, 8, 8, 8)
    v[0, 0, :2, :2, :2] = 1  # one cube of 8 voxels
    v[0, 0, 5:, 5:, 5:] = 1  # and a second cube of 27
    v[1, 0, 3, 3, 3] = 0.7
    v[1, 0, 4, 4, 4] = 0.9  # diagonal neighbours: one component under 26-connectivity
    stats = gan3d.occupancy_stats(v)
    assert stats["components"].tolist() == [2, 1]
    assert stats["fill"] == pytest.approx([35 / 512, 2 / 512])
    assert stats["largest_share"] == pytest.approx([27 / 35, 1.0])
    with pytest.raises(ValueError, match="expected"):
        gan3d.occupancy_stats(torch.zeros(8, 8, 8))


def test_voxel_viewer_static_and_interaction():
    from coursekit.ui import voxel_viewer

    g, _ = gan3d.build(16, ngf=4, ndf=4, seed=0)
    g.eval()
    viewer = voxel_viewer(g, static=True, threshold=0.95)  # untrained G ~ 0.5: draw (almost) nothing, fast
    assert viewer.png.startswith(b"\x89PNG")
    a, b = viewer.volume(0.0), viewer.volume(1.0)
    assert a.shape == (16, 16, 16) and not np.allclose(a, b)
    mid = viewer.volume(0.5)
    with torch.no_grad():
        expected = g(((viewer.z_a + viewer.z_b) / 2)[None])[0, 0].numpy()
    assert np.allclose(mid, expected, atol=1e-6)
    assert viewer.set(azim=30, threshold=0.9).startswith(b"\x89PNG")
    z_before = viewer.z_a.clone()
    viewer.new_sample()
    assert not torch.equal(z_before, viewer.z_a)
    with pytest.raises(ValueError, match="expected some of"):
        viewer.set(zoom=2)
    volumes = voxel_viewer((torch.rand(3, 1, 8, 8, 8) > 0.97).float(), static=True)
    assert volumes.volume(0.0).shape == (8, 8, 8)
    with pytest.raises(ValueError, match=r"expected a \(B, 1, R, R, R\)"):
        voxel_viewer(torch.rand(8, 8, 8), static=True)
