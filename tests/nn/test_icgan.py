"""coursekit.nn.icgan and the IcGAN losses of coursekit.losses: conditioning, encoders, losses, editing."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit import losses
from coursekit.nn import count_parameters as count
from coursekit.nn import dcgan, icgan
from coursekit.train import fit


def test_generator_is_dcgan_with_y_concatenated_at_the_input():
    g = icgan.ConditionalGenerator(18, size=64)
    # the reference cGAN: DCGAN 64x64 whose input has nz + ny = 100 + 18 channels
    assert count(g) == count(dcgan.Generator(64, 3, z_dim=118)) == 3_576_704 + 16 * 18 * 512
    first = g.dcgan.main[0]
    assert isinstance(first, nn.ConvTranspose2d) and first.in_channels == 118
    g = icgan.ConditionalGenerator(7, size=32, ngf=16)
    z, y = torch.randn(5, 100), torch.ones(5, 7)
    x = g(z, y)
    assert x.shape == (5, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    g.eval()
    assert torch.equal(g(z, y), g.dcgan(torch.cat([z, y], 1)))
    assert not torch.allclose(g(z, y), g(z, torch.zeros(5, 7)))


def test_discriminator_concatenates_replicated_y_after_its_first_conv():
    ndf, n_attr = 64, 18
    d = icgan.ConditionalDiscriminator(n_attr, size=64, ndf=ndf)
    assert d.rest[0].in_channels == ndf + n_attr
    # DCGAN D's parameters plus the 4x4 kernels from the ny extra channels into the second conv (128 out)
    assert count(d) == 2_765_568 + 16 * n_attr * 2 * ndf
    d = icgan.ConditionalDiscriminator(7, size=32, ndf=16)
    x = torch.rand(4, 3, 32, 32)
    y = torch.zeros(4, 7)
    assert d(x, y).shape == (4,)
    seen = {}
    d.rest[0].register_forward_hook(lambda m, inp, out: seen.update(input=inp[0]))
    d.eval()
    d(x, y + torch.arange(7.0) / 10)
    planes = seen["input"][:, 16:]
    assert planes.shape == (4, 7, 16, 16)
    assert torch.allclose(planes, (torch.arange(7.0) / 10)[None, :, None, None].expand(4, 7, 16, 16))
    assert not torch.allclose(d(x, y), d(x, y + 1))


def test_replicate_fills_one_constant_plane_per_attribute():
    y = torch.tensor([[0.0, 1.0], [1.0, 0.5]])
    planes = icgan.replicate(y, 3, 2)
    assert planes.shape == (2, 2, 3, 2)
    assert torch.equal(planes[1, 1], torch.full((3, 2), 0.5))


def test_encoders_follow_the_reference_layout():
    e = icgan.Encoder(100, size=64, nef=32)
    convs = [m for m in e.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5)] * 4 and all(c.stride == (2, 2) for c in convs)
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in e.modules()) == 4
    convs_params = 25 * (3 * 32 + 32 * 64 + 64 * 128 + 128 * 256)
    assert count(e) == convs_params + 2 * (32 + 64 + 128 + 256) + 256 * 16 * 100 + 100
    e_z, e_y = icgan.build_encoders(7, size=32, nef=8, seed=0)
    again, _ = icgan.build_encoders(7, size=32, nef=8, seed=0)
    assert all(
        torch.equal(a, b) for a, b in zip(e_z.state_dict().values(), again.state_dict().values(), strict=True)
    )
    x = torch.rand(3, 3, 32, 32)
    assert e_z(x).shape == (3, 100) and e_y(x).shape == (3, 7)


def test_build_is_seeded_and_dcgan_initialised():
    g1, d1 = icgan.build(7, size=32, ngf=16, ndf=16, seed=3)
    g2, _ = icgan.build(7, size=32, ngf=16, ndf=16, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(g1.parameters(), g2.parameters(), strict=True))
    w = torch.cat([m.weight.flatten() for m in d1.modules() if isinstance(m, nn.Conv2d)])
    assert abs(float(w.detach().std()) - 0.02) < 0.002


def test_conditional_discriminator_loss_matches_the_formula():
    gen = torch.Generator().manual_seed(0)
    r, f, w = (torch.randn(16, generator=gen) for _ in range(3))
    bce = F.binary_cross_entropy
    want = bce(torch.sigmoid(r), torch.ones(16)) + 0.5 * (
        bce(torch.sigmoid(f), torch.zeros(16)) + bce(torch.sigmoid(w), torch.zeros(16))
    )
    assert torch.isclose(losses.conditional_discriminator_loss(r, f, w), want, atol=1e-6)
    assert torch.isclose(losses.conditional_discriminator_loss(r, f), losses.discriminator_loss(r, f))
    # a D that calls real/right 1 and fake and real/wrong 0, sure of itself: loss -> 0, and finite
    big = torch.full((4,), 100.0)
    assert float(losses.conditional_discriminator_loss(big, -big, -big)) < 1e-6
    with pytest.raises(ValueError, match="wrong_logits"):
        losses.conditional_discriminator_loss(r, f, torch.zeros(0))


def test_encoder_losses_are_mean_squared_errors():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(8, 100, generator=gen), torch.randn(8, 100, generator=gen)
    assert torch.isclose(losses.encoder_z_loss(a, b), F.mse_loss(a, b))
    y = (torch.rand(8, 7, generator=gen) > 0.5).float()
    assert torch.isclose(losses.encoder_y_loss(a[:, :7], y), F.mse_loss(a[:, :7], y))
    with pytest.raises(ValueError, match=r"\(8, 100\).*\(8, 7\)"):
        losses.encoder_z_loss(a, y)
    with pytest.raises(ValueError, match="2-D"):
        losses.encoder_y_loss(a.flatten(), y.flatten())


def test_mismatched_attributes_flip_exactly_one_attribute_per_image():
    y = (torch.rand(200, 7, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    wrong = icgan.mismatched_attributes(y, torch.Generator().manual_seed(3))
    assert torch.equal((wrong != y).sum(1), torch.ones(200, dtype=torch.long))
    assert set(wrong.unique().tolist()) <= {0.0, 1.0}
    assert len((wrong != y).float().argmax(1).unique()) == 7  # every attribute gets flipped somewhere


def test_flip_and_edit():
    y = torch.tensor([[0.0, 1.0, 1.0]])
    assert torch.equal(icgan.flip(y, 1), torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.equal(y, torch.tensor([[0.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\[0, 2\], got 3"):
        icgan.flip(y, 3)
    g, _ = icgan.build(3, size=16, ngf=8, ndf=8)
    e_z, e_y = icgan.build_encoders(3, size=16, nef=8)
    x = torch.rand(2, 3, 16, 16)
    z, y_hat = icgan.encode(e_z, e_y, x)
    assert z.shape == (2, 100) and set(y_hat.unique().tolist()) <= {0.0, 1.0}
    g.eval()
    assert torch.allclose(icgan.edit(g, e_z, e_y, x), g(z, y_hat))
    assert torch.allclose(
        icgan.edit(g, e_z, e_y, x, {0: 1.0, 2: 0.0}),
        g(z, torch.stack([torch.ones(2), y_hat[:, 1], torch.zeros(2)], 1)),
    )


def test_bad_input_names_expected_and_actual():
    g, d = icgan.build(7, size=32, ngf=8, ndf=8)
    with pytest.raises(ValueError, match=r"y: expected shape \(4, 7\).*got \(4, 5\)"):
        g(torch.randn(4, 100), torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"z: expected shape \(B, 100\), got \(4, 90\)"):
        g(torch.randn(4, 90), torch.zeros(4, 7))
    with pytest.raises(ValueError, match=r"32x32 pixels, got \(64, 64\)"):
        d(torch.rand(2, 3, 64, 64), torch.zeros(2, 7))
    with pytest.raises(ValueError, match="image size: expected one of 16, 32, 64, 128, got 48"):
        icgan.Encoder(10, size=48)


def test_cgan_step_trains_and_the_encoders_learn_on_a_tiny_problem():
    torch.manual_seed(0)
    from coursekit.data.faces import render_faces, sample_face_params

    params = sample_face_params(64, seed=0)
    images, attributes = render_faces(params, 16), params["attributes"]
    g, d = icgan.build(7, size=16, z_dim=8, ngf=8, ndf=8)
    opt_g, opt_d = icgan.optimizers(g, d)
    batches = [(images[i : i + 32], attributes[i : i + 32]) for i in (0, 32)]
    result = fit(icgan.cgan_step(g, d, opt_g, opt_d), batches, 4, seed=0, progress=False)
    assert len(result.history["loss_d"]) == 4
    assert all(torch.isfinite(torch.tensor(result.history[k])).all() for k in ("loss_d", "loss_g"))

    e_z, e_y = icgan.build_encoders(7, size=16, z_dim=8, nef=8, seed=0)
    (opt_ez, opt_ey) = icgan.optimizers(e_z, e_y, lr=1e-3)
    hz = fit(
        icgan.encoder_z_step(e_z, g, opt_ez, attributes, batch_size=32),
        lambda: None,
        60,
        seed=0,
        progress=False,
    ).history["loss_ez"]
    hy = fit(icgan.encoder_y_step(e_y, opt_ey), batches, 60, seed=0, progress=False).history["loss_ey"]
    assert sum(hz[-10:]) < 0.6 * sum(hz[:10]), "E_z's loss must fall"
    assert sum(hy[-10:]) < 0.5 * sum(hy[:10]), "E_y's loss must fall"
