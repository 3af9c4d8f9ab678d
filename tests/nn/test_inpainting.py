"""coursekit.nn.inpainting (PG-GAN, Demir & Unal 2018) and the PG-GAN losses of coursekit.losses."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn

from coursekit import losses
from coursekit.data import degrade
from coursekit.nn import count_parameters as count
from coursekit.nn import inpainting as ip


def reference_generator_count(channels=3, ngf=64, n_blocks=9, n_down=2):
    """Parameters from the layer list: 7x7 in (C + 1 -> ngf), stride-2 3x3 convs, blocks of two 3x3 convs,
    3x3 transposed convs back, 7x7 out; every conv has a bias, every instance norm an affine (w, b)."""
    total = (channels + 1) * ngf * 49 + ngf + 2 * ngf
    width = ngf
    for _ in range(n_down):
        total += width * 2 * width * 9 + 2 * width + 2 * (2 * width)
        width *= 2
    total += n_blocks * 2 * (width * width * 9 + width + 2 * width)
    for _ in range(n_down):
        total += width * (width // 2) * 9 + width // 2 + 2 * (width // 2)
        width //= 2
    return total + width * channels * 49 + channels


def reference_discriminator_count(size=64, channels=3, ndf=64):
    """Trunk 4x4 convs C -> ndf -> 2 ndf -> 4 ndf (norm from the second), patch head 4 ndf -> 8 ndf -> 1,
    global head 4x4 stride-2 convs down to 4x4 then a linear layer."""
    trunk = (channels * ndf * 16 + ndf) + (ndf * 2 * ndf * 16 + 2 * ndf + 4 * ndf) + (
        2 * ndf * 4 * ndf * 16 + 4 * ndf + 8 * ndf)
    f = 4 * ndf
    patch = f * 2 * f * 16 + 2 * f + 4 * f + 2 * f * 16 + 1
    side, width, glob = size // 8, f, 0
    while side > 4:
        glob += width * 2 * width * 16 + 2 * width + 4 * width
        width, side = 2 * width, side // 2
    glob += width * side * side + 1
    return trunk + patch + glob


def test_parameter_counts_follow_the_layer_list():
    G, D = ip.build(64, 3)
    assert count(G) == reference_generator_count() == 11_391_811
    assert count(D) == reference_discriminator_count() == 4_873_410
    G, D = ip.build(32, 3, ngf=16, ndf=16, n_blocks=4)
    assert count(G) == reference_generator_count(ngf=16, n_blocks=4)
    assert count(D) == reference_discriminator_count(32, ndf=16)


def test_generator_structure_downsamples_dilates_and_upsamples():
    G = ip.Generator(3, ngf=16, n_blocks=3, n_down=2, dilation=2)
    blocks = [m for m in G.net if isinstance(m, ip.DilatedResidualBlock)]
    assert len(blocks) == 3
    assert all(c.dilation == (2, 2) for b in blocks for c in b.modules() if isinstance(c, nn.Conv2d))
    strided = [m for m in G.net if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert [m.out_channels for m in strided] == [32, 64]
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.net) == 2
    assert G.net[1].in_channels == 4, "G takes the holed image and the mask"
    assert isinstance(G.net[-1], nn.Tanh)


def test_generator_output_shape_range_and_it_ignores_the_hidden_pixels():
    G, _ = ip.build(32, 3, ngf=8, ndf=8, n_blocks=2)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 32, generator=gen)
    mask = degrade.center_mask(32, 16, 3)
    out = G(x, mask)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    changed = x.clone()
    changed[:, :, 8:24, 8:24] = torch.rand(3, 3, 16, 16, generator=gen)
    assert torch.allclose(G(changed, mask), out), "pixels under the hole must not reach G"
    done = G.inpaint(x, mask)
    assert torch.equal(done * (1 - mask), x * (1 - mask)), "known pixels are kept"
    assert torch.allclose(done * mask, out * mask)


def test_dilated_block_is_residual_and_sees_far():
    block = ip.DilatedResidualBlock(4, dilation=2, norm="none")
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(1, 4, 16, 16)
    assert torch.equal(block(x), x), "zero weights: the block is the identity"
    block = ip.DilatedResidualBlock(1, dilation=2, norm="none")
    for p in block.parameters():  # positive weights and biases: the ReLU passes, so gradients reach the input
        nn.init.constant_(p, 0.1)
    x = torch.zeros(1, 1, 17, 17, requires_grad=True)
    block(x)[0, 0, 8, 8].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert int(rows.max() - rows.min()) + 1 == 9, "two 3x3 convs with dilation 2 see a 9x9 window"


def test_discriminator_two_heads_share_the_trunk():
    D = ip.Discriminator(64, 3, ndf=8)
    x = torch.rand(2, 3, 64, 64)
    glob, patch = D(x)
    assert glob.shape == (2,) and patch.shape == (2, 1, 6, 6)
    assert D.patch_receptive_field() == 70, "pix2pix's 70x70 PatchGAN"
    for head in (0, 1):
        D.zero_grad()
        D(x)[head].sum().backward()
        assert D.trunk[0].weight.grad.abs().sum() > 0, "both heads send gradients into the shared trunk"
    D.zero_grad()
    glob.sum()  # graph of the first call still alive; the patch head does not influence the global score
    D(x)[0].sum().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in D.patch_head.parameters())


def test_bad_input_raises_value_errors_that_name_the_problem(monkeypatch):
    G, D = ip.build(32, 3, ngf=8, ndf=8, n_blocks=1)
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(ValueError, match="mask"):
        G(x, torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="divisible by 4"):
        G(torch.rand(1, 3, 30, 30), torch.zeros(1, 1, 30, 30))
    with pytest.raises(ValueError, match=r"hole_psnr|\[0.0, 1.0\]"):
        ip.hole_psnr(x * 3, x, torch.zeros(2, 1, 32, 32))  # an entry point checks ranges on every call
    monkeypatch.setenv("COURSEKIT_DEBUG", "1")  # forward passes (every training step) only in debug mode
    with pytest.raises(ValueError, match=r"\[0.0, 1.0\]"):
        G(x * 3, torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\[0.0, 1.0\]"):
        D(x * 3)
    with pytest.raises(ValueError, match="32x32"):
        D(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="multiple of 8"):
        ip.Discriminator(36)
    with pytest.raises(ValueError, match="at least 32"):
        ip.Discriminator(16)
    with pytest.raises(ValueError, match="weights"):
        losses.pggan_generator_loss(x, x, torch.zeros(2), torch.zeros(2, 1, 2, 2), weights=(1, 2))
    with pytest.raises(ValueError, match="same shape"):
        losses.reconstruction_l1(x, x[:1])


def test_losses_agree_with_the_formulas():
    gen = torch.Generator().manual_seed(1)
    out, target = torch.rand(2, 3, 8, 8, generator=gen), torch.rand(2, 3, 8, 8, generator=gen)
    gl, pl = torch.randn(2, generator=gen), torch.randn(2, 1, 3, 3, generator=gen)
    bce = nn.functional.binary_cross_entropy_with_logits
    expected = (0.995 * (out - target).abs().mean() + 0.0025 * bce(gl, torch.ones_like(gl))
                + 0.0025 * bce(pl, torch.ones_like(pl)))
    assert torch.isclose(losses.pggan_generator_loss(out, target, gl, pl), expected)
    assert losses.PGGAN_WEIGHTS == ip.PGGAN_WEIGHTS == (0.995, 0.0025, 0.0025)
    terms = losses.pggan_generator_terms(out, target, gl, pl, weights=(1, 0, 0))
    assert torch.isclose(terms["loss"], nn.functional.l1_loss(out, target))
    rg, rp = torch.randn(2, generator=gen), torch.randn(2, 1, 3, 3, generator=gen)
    d = losses.pggan_discriminator_loss(rg, rp, gl, pl)
    by_hand = (bce(rg, torch.ones(2)) + bce(gl, torch.zeros(2)) + bce(rp, torch.ones_like(rp))
               + bce(pl, torch.zeros_like(pl)))
    assert torch.isclose(d, by_hand)


def test_hole_metrics_agree_with_skimage_and_ignore_known_pixels():
    gen = torch.Generator().manual_seed(2)
    y = torch.rand(2, 3, 32, 32, generator=gen)
    x = (y + 0.1 * torch.randn(2, 3, 32, 32, generator=gen)).clamp(0, 1)
    mask = degrade.center_mask(32, 16, 2)
    filled = ip.composite(x, y, mask)
    psnr = ip.hole_psnr(filled, y, mask)
    crop = (slice(None), slice(None), slice(8, 24), slice(8, 24))
    for i in range(2):
        ref = peak_signal_noise_ratio(y[crop][i].numpy(), filled[crop][i].numpy(), data_range=1.0)
        assert abs(float(psnr[i]) - ref) < 1e-6
    ssim_all = ip.hole_ssim(filled, y, torch.ones(2, 1, 32, 32))
    ref = structural_similarity(y[0].numpy(), filled[0].numpy(), data_range=1.0, channel_axis=0,
                                gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert abs(float(ssim_all[0]) - ref) < 1e-5
    assert torch.allclose(ip.hole_ssim(y, y, mask), torch.ones(2, dtype=torch.float64))


def test_baselines_fill_only_the_hole():
    y = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    mask = degrade.irregular_mask(2, 32, seed=0, coverage=0.2)
    for fill in (ip.mean_fill(y, mask), ip.biharmonic_fill(y, mask)):
        assert fill.shape == y.shape
        assert torch.allclose(fill * (1 - mask), y * (1 - mask), atol=1e-6)
    mean = ip.mean_fill(y, mask)
    known = (1 - mask).bool().expand_as(y)
    hole_values = mean[0, 0][mask[0, 0].bool()]
    assert torch.allclose(hole_values, y[0, 0][known[0, 0]].mean().expand(len(hole_values)))
    # a linear ramp is biharmonic: the biharmonic fill restores it exactly
    ramp = torch.linspace(0.1, 0.9, 32).expand(1, 3, 32, 32).contiguous()
    m = degrade.center_mask(32, 12)
    biharmonic = float(ip.hole_psnr(ip.biharmonic_fill(ramp, m), ramp, m))
    assert biharmonic > 50 and biharmonic > float(ip.hole_psnr(ip.mean_fill(ramp, m), ramp, m))


def test_a_few_steps_on_one_batch_reduce_the_hole_error():
    torch.manual_seed(0)
    G, D = ip.build(16, 3, ngf=8, ndf=8, n_blocks=1, seed=0, n_trunk=2)
    opt_g, opt_d = ip.optimizers(G, D, lr=2e-3)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing="ij")
    x = torch.stack([yy, xx, 0.5 * (yy + xx)])[None].repeat(4, 1, 1, 1)
    mask = degrade.center_mask(16, 6, 4)
    with torch.no_grad():
        before = float(ip.hole_psnr(G.inpaint(x, mask), x, mask).mean())
    for _ in range(40):
        out = G(x, mask)
        done = ip.composite(out, x, mask)
        opt_d.zero_grad()
        losses.pggan_discriminator_loss(*D(x), *D(done.detach())).backward()
        opt_d.step()
        opt_g.zero_grad()
        losses.pggan_generator_loss(out, x, *D(done)).backward()
        opt_g.step()
    with torch.no_grad():
        after = float(ip.hole_psnr(G.inpaint(x, mask), x, mask).mean())
    assert np.isfinite(after) and after > before + 3
