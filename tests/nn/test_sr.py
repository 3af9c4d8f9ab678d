"""coursekit.nn.sr, the 05 losses and the sharpness metric: paper parameter counts, shapes, behaviour."""

import pytest
import torch
import torch.nn.functional as F

from coursekit import losses, metrics
from coursekit.nn import count_parameters as count
from coursekit.nn import sr


def conv(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def test_srcnn_915_parameter_count_matches_the_paper():
    # Dong et al. 2016: the 9-1-5 network with n1 = 64, n2 = 32 on the Y channel has 8,032 weights.
    y_only = sr.SRCNN(channels=1)
    weights = sum(m.weight.numel() for m in y_only.modules() if isinstance(m, torch.nn.Conv2d))
    assert weights == 8_032
    assert count(y_only) == 8_032 + 64 + 32 + 1
    assert count(sr.SRCNN(channels=3)) == conv(3, 64, 9) + conv(64, 32, 1) + conv(32, 3, 5) == 20_099
    kernels = [m.kernel_size for m in y_only.modules() if isinstance(m, torch.nn.Conv2d)]
    assert kernels == [(9, 9), (1, 1), (5, 5)]


def srresnet_reference(scale=4, c=3, n=64, blocks=16):
    """Ledig et al. 2017, Fig. 4, counted from the layer list (PReLU with one shared slope)."""
    head = conv(c, n, 9) + 1
    block = 2 * conv(n, n, 3) + 2 * 2 * n + 1
    trunk_end = conv(n, n, 3) + 2 * n
    ups = {2: 1, 4: 2, 8: 3}[scale] * (conv(n, 4 * n, 3) + 1)
    return head + blocks * block + trunk_end + ups + conv(n, c, 9)


def test_srresnet_parameter_count_matches_the_paper():
    model = sr.SRResNet(scale=4)
    assert count(model) == srresnet_reference() == 1_549_462  # the count PyTorch SRResNet ports print
    assert count(sr.SRResNet(scale=2, width=32, n_blocks=4)) == srresnet_reference(2, 3, 32, 4)
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in model.modules()) == 2
    assert sum(isinstance(m, sr.ResidualBlock) for m in model.modules()) == 16
    no_bn = sr.SRResNet(scale=4, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in no_bn.modules())


def test_discriminator_parameter_count_and_layout():
    d = sr.Discriminator(size=96)
    widths = [64, 64, 128, 128, 256, 256, 512, 512]
    convs = conv(3, 64, 3) + sum(
        conv(a, b, 3, bias=False) + 2 * b for a, b in zip(widths[:-1], widths[1:], strict=True)
    )
    dense = (512 * 6 * 6 + 1) * 1024 + 1024 + 1
    assert count(d) == convs + dense
    strides = [m.stride[0] for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 2]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == 7
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, torch.nn.LeakyReLU))
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d.modules()), "D returns logits"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shapes(scale):
    lr = torch.rand(2, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    g = sr.SRResNet(scale=scale, width=8, n_blocks=1)
    assert g(lr).shape == (2, 3, 8 * scale, 10 * scale)
    up = sr.bicubic(lr, scale)
    assert up.shape == (2, 3, 8 * scale, 10 * scale) and 0 <= up.min() and up.max() <= 1
    assert sr.SRCNN(n1=8, n2=4)(up).shape == up.shape
    d = sr.Discriminator(size=16, ndf=4, hidden=8)
    assert d(torch.rand(5, 3, 16, 16)).shape == (5,)


def test_identity_starts_reproduce_bicubic():
    lr = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    up = sr.bicubic(lr, 2)
    assert torch.allclose(sr.SRCNN().init_identity()(up), up, atol=1e-6)
    skip = sr.SRResNet(scale=2, width=8, n_blocks=1, bicubic_skip=True)
    exact = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.allclose(skip(lr), exact, atol=1e-6)
    out = sr.super_resolve(skip, lr[0], 2)
    assert out.shape == (3, 24, 24) and torch.allclose(out, up[0], atol=1e-6)
    assert torch.allclose(sr.super_resolve("bicubic", lr, 2), up)


def test_srcnn_learns_to_beat_bicubic_on_a_tiny_problem():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    phases = torch.rand(8, 1, 1, generator=gen) * 6
    hr = (0.5 + 0.4 * torch.sin(0.9 * xx + phases) * torch.cos(0.7 * yy)).unsqueeze(1).repeat(1, 3, 1, 1)
    lr = F.interpolate(hr, scale_factor=0.5, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    up = sr.bicubic(lr, 2)
    model = sr.SRCNN(n1=16, n2=8).init_identity()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = F.mse_loss(model(up), hr).item()
    for _ in range(40):
        loss = F.mse_loss(model(up), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * start


def test_vgg_content_loss_formula_and_gradient():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 4, 3, 5, generator=gen, requires_grad=True)
    b = torch.randn(2, 4, 3, 5, generator=gen)
    loss = losses.vgg_content_loss(a, b)
    by_hand = sum(((a[i] - b[i]) ** 2).sum() / (3 * 5) for i in range(2)) / 2
    assert torch.allclose(loss, by_hand)
    assert torch.allclose(loss, 4 * F.mse_loss(a, b)), "normalised by W*H, not C*W*H"
    loss.backward()
    assert torch.allclose(a.grad, 2 * (a - b).detach() / (3 * 5) / 2)
    assert losses.vgg_content_loss(b, b) == 0
    with pytest.raises(
        ValueError, match=r"expected the shape of sr_features \(2, 4, 3, 5\), got \(2, 4, 3, 4\)"
    ):
        losses.vgg_content_loss(a, b[..., :4])


def test_srgan_generator_loss_weights_the_adversarial_term():
    gen = torch.Generator().manual_seed(1)
    f_sr, f_hr = torch.randn(2, 3, 4, 4, generator=gen), torch.randn(2, 3, 4, 4, generator=gen)
    logits = torch.tensor([-2.0, 1.0])
    out = losses.srgan_generator_loss(f_sr, f_hr, logits)
    adversarial = -torch.log(torch.sigmoid(logits)).mean()
    assert torch.allclose(out["adversarial"], adversarial)
    assert torch.allclose(out["loss"], losses.vgg_content_loss(f_sr, f_hr) + 1e-3 * adversarial)
    assert losses.SRGAN_ADVERSARIAL_WEIGHT == 1e-3
    with pytest.raises(ValueError, match="adversarial_weight"):
        losses.srgan_generator_loss(f_sr, f_hr, logits, adversarial_weight=-1)


def test_high_frequency_energy_ranks_blur_below_sharp():
    gen = torch.Generator().manual_seed(2)
    sharp = torch.rand(2, 1, 64, 64, generator=gen)
    blurred = F.avg_pool2d(F.pad(sharp, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    hf_sharp = metrics.high_frequency_energy(sharp, reduction="none")
    hf_blur = metrics.high_frequency_energy(blurred, reduction="none")
    assert hf_sharp.shape == (2,) and (hf_blur < 0.3 * hf_sharp).all()
    flat = torch.full((1, 64, 64), 0.5)
    assert metrics.high_frequency_energy(flat) == 0
    # white noise: the power is flat, so the share above the cutoff is the area share of the spectrum
    area = 1 - torch.pi * 0.25**2
    assert abs(float(hf_sharp.mean()) / float(sharp.var()) - area) < 0.1
    with pytest.raises(ValueError, match="cutoff"):
        metrics.high_frequency_energy(sharp, cutoff=0.7)
    with pytest.raises(TypeError, match=r"cutoff: expected a frequency in \(0, 0.5\) .* of type str"):
        metrics.high_frequency_energy(sharp, cutoff="0.25")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sr.SRResNet(scale=5), "one of 2, 3, 4, 8, got 5"),
        (lambda: sr.Discriminator(size=40), "multiple of 16"),
        (lambda: sr.Discriminator(size=32)(torch.rand(1, 3, 48, 48)), "expected 32x32 patches, got 48x48"),
        (lambda: sr.SRResNet(scale=2, width=4, n_blocks=1)(torch.rand(1, 1, 8, 8)), "3 channels, got 1"),
        (lambda: sr.SRCNN()(torch.rand(3, 8, 8)), "4-D"),
        (lambda: sr.SRCNN(f1=4), "odd kernel size"),
        (lambda: sr.super_resolve("bicubic", torch.rand(1, 3, 4, 4) * 2, 2), r"\[0.0, 1.0\]"),
    ],
)
def test_bad_input_raises_naming_expected_and_actual(call, match):
    with pytest.raises(ValueError, match=match):
        call()
