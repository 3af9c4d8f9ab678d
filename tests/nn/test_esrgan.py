"""ESRGAN (coursekit.nn.esrgan and its losses): the paper's parameter count, residual scaling, scaled init,
no batch norm, relativistic average losses against their formula, interpolation, a loss that falls."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from coursekit import losses
from coursekit.nn import count_parameters as count
from coursekit.nn.esrgan import (
    RRDB,
    ResidualDenseBlock,
    RRDBNet,
    VGGStyleDiscriminator,
    interpolate,
    interpolate_state,
)


def test_paper_sizes():
    assert count(RRDBNet(scale=4)) == 16_697_987  # BasicSR RRDBNet x4, width 64, 23 blocks, growth 32
    assert count(VGGStyleDiscriminator(128)) == 14_499_401  # BasicSR VGGStyleDiscriminator, 128x128 input
    net = RRDBNet(scale=4, width=16, n_blocks=1, growth=8)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    assert net(torch.rand(2, 3, 6, 5)).shape == (2, 3, 24, 20)
    assert RRDBNet(scale=2, width=8, n_blocks=1, growth=4)(torch.rand(1, 3, 5, 5)).shape == (1, 3, 10, 10)


# Seeded blocks' state dicts, input and outputs, written by tests/fixtures/nn/make_esrgan_reference.py.
REFERENCE = Path(__file__).parents[1] / "fixtures" / "nn" / "esrgan_blocks.npz"


def with_stored_weights(block: nn.Module, reference: dict, name: str) -> nn.Module:
    state = {key.split(".", 1)[1]: torch.from_numpy(value) for key, value in reference.items()
             if key.startswith(f"{name}.")}
    block.load_state_dict(state, strict=True)
    return block


def test_dense_block_and_rrdb_give_the_stored_reference_outputs():
    """The dense wiring (conv k reads x and every earlier output) and the residual scaling, as outputs."""
    with np.load(REFERENCE, allow_pickle=False) as stored:
        reference = dict(stored)
    x = torch.from_numpy(reference["x"])
    channels, growth = x.shape[1], reference["rdb.conv1.weight"].shape[0]
    for name, block in (("rdb", ResidualDenseBlock(channels, growth)), ("rrdb", RRDB(channels, growth))):
        with torch.no_grad():
            out = with_stored_weights(block, reference, name)(x)
        torch.testing.assert_close(out, torch.from_numpy(reference[f"{name}_out"]), rtol=1e-5, atol=1e-5)


def output_of(block: nn.Module, part: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(block(x), what ``part`` of the block returned during that call)."""
    seen = []
    part.register_forward_hook(lambda module, args, out: seen.append(out.clone()))
    with torch.no_grad():
        out = block(x)
    return out, seen[0]


def test_dense_block_residual_scaling_and_scaled_init():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    block = ResidualDenseBlock(channels=8, growth=4)
    out, x5 = output_of(block, block.conv5, x)
    torch.testing.assert_close(out, x + 0.2 * x5)  # ESRGAN fig. 4: x + beta * x5, beta = 0.2
    rrdb = RRDB(channels=8, growth=4)
    out, inner = output_of(rrdb, rrdb.rdb3, x)
    torch.testing.assert_close(out, x + 0.2 * inner)
    # Kaiming normal (std sqrt(2 / fan_in)) times 0.1
    w = ResidualDenseBlock(channels=64, growth=32).conv5.weight.detach()
    assert abs(float(w.std()) - 0.1 * (2 / (w.shape[1] * 9)) ** 0.5) < 0.002


def test_relativistic_losses_match_the_formula():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(6, 1, generator=g), torch.randn(6, 1, generator=g)
    sig = torch.sigmoid
    d_ref = -torch.log(sig(real - fake.mean())).mean() - torch.log(1 - sig(fake - real.mean())).mean()
    g_ref = -torch.log(1 - sig(real - fake.mean())).mean() - torch.log(sig(fake - real.mean())).mean()
    assert torch.allclose(losses.relativistic_discriminator_loss(real, fake), d_ref, atol=1e-6)
    assert torch.allclose(losses.relativistic_generator_loss(real, fake), g_ref, atol=1e-6)
    # shifting every logit by the same constant changes nothing: only differences matter
    assert torch.allclose(losses.relativistic_discriminator_loss(real + 3, fake + 3), d_ref, atol=1e-6)
    with pytest.raises(ValueError, match="at least one logit"):
        losses.relativistic_discriminator_loss(torch.zeros(0), fake)


def test_generator_terms_use_the_paper_weights():
    g = torch.Generator().manual_seed(1)
    sr, hr = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    real, fake = torch.randn(2, 1, generator=g), torch.randn(2, 1, generator=g)
    t = losses.esrgan_generator_terms(sr, hr, real, fake)
    expected = 1e-2 * (sr - hr).abs().mean() + 5e-3 * losses.relativistic_generator_loss(real, fake)
    assert torch.allclose(t["loss"], expected, atol=1e-7)
    assert losses.ESRGAN_WEIGHTS == {"pixel": 1e-2, "perceptual": 1.0, "gan": 5e-3}
    with pytest.raises(ValueError, match=r"expected the same shape, got \(2, 3, 8, 8\) and \(2, 3, 4, 4\)"):
        losses.esrgan_generator_terms(sr, hr[..., :4, :4], real, fake)


def test_perceptual_loss_uses_conv5_4_before_activation():
    from coursekit.nn.vgg import VGGFeatures

    vgg = VGGFeatures(("conv5_4",), weights="random")
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    feats = vgg(x)["conv5_4"]
    assert (feats < 0).any()  # before the ReLU
    assert float(losses.perceptual_loss(vgg, x, x)) == 0.0
    assert float(losses.perceptual_loss(vgg, x, x.flip(-1))) > 0.0


def test_interpolation_is_linear_in_the_weights():
    torch.manual_seed(0)
    a, b = RRDBNet(scale=2, width=8, n_blocks=1, growth=4), RRDBNet(scale=2, width=8, n_blocks=1, growth=4)
    mid = interpolate(a, b, 0.25)
    for (k, pa), pb, pm in zip(
        a.state_dict().items(), b.state_dict().values(), mid.state_dict().values(), strict=True
    ):
        assert torch.allclose(pm, 0.75 * pa + 0.25 * pb), k
    assert torch.equal(
        interpolate_state(a.state_dict(), b.state_dict(), 0.0)["conv_first.weight"], a.conv_first.weight
    )
    with pytest.raises(ValueError, match=r"alpha: expected a number in \[0, 1\], got 1.5"):
        interpolate(a, b, 1.5)


def test_psnr_pretraining_loss_falls():
    torch.manual_seed(0)
    net = RRDBNet(scale=2, width=8, n_blocks=1, growth=4)
    hr = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    first = None
    for _ in range(20):
        loss = (net(lr) - hr).abs().mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first


def test_bad_input():
    with pytest.raises(ValueError, match="scale: expected one of 1, 2, 4, 8, got 3"):
        RRDBNet(scale=3)
    with pytest.raises(ValueError, match=r"expected 32x32 images, got \(16, 16\)"):
        VGGStyleDiscriminator(32)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="expected 3 channels, got 1"):
        RRDBNet(width=8, n_blocks=1, growth=4)(torch.rand(1, 1, 8, 8))


def basicsr_rrdbnet_layout(num_feat: int, num_block: int, num_grow_ch: int, num_in_ch=3, num_out_ch=3):
    """Parameter names and shapes of BasicSR's x4 ``RRDBNet(num_in_ch, num_out_ch, 4, num_feat, num_block,
    num_grow_ch)``, written from its architecture: conv_first, body.N.rdbK.conv1..conv5, conv_body, conv_up1,
    conv_up2, conv_hr, conv_last, all 3x3 convolutions with biases."""

    def conv(name, c_out, c_in):
        return [(f"{name}.weight", (c_out, c_in, 3, 3)), (f"{name}.bias", (c_out,))]

    f, g = num_feat, num_grow_ch
    layout = conv("conv_first", f, num_in_ch)
    for n in range(num_block):
        for k in (1, 2, 3):
            block = f"body.{n}.rdb{k}"
            for i in range(4):
                layout += conv(f"{block}.conv{i + 1}", g, f + i * g)
            layout += conv(f"{block}.conv5", f, f + 4 * g)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        layout += conv(name, f, f)
    return layout + conv("conv_last", num_out_ch, f)


@pytest.mark.parametrize(("width", "n_blocks", "growth"), [(64, 23, 32), (8, 2, 4)])
def test_rrdbnet_state_dict_has_basicsr_keys_and_shapes(width, n_blocks, growth):
    ours = [(k, tuple(v.shape)) for k, v in RRDBNet(scale=4, width=width, n_blocks=n_blocks,
                                                     growth=growth).state_dict().items()]
    assert ours == basicsr_rrdbnet_layout(width, n_blocks, growth)


def test_a_state_dict_in_basicsr_layout_loads_and_drives_the_output():
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=gen) * 0.05 for k, shape in basicsr_rrdbnet_layout(8, 1, 4)}
    net = RRDBNet(scale=4, width=8, n_blocks=1, growth=4)
    net.load_state_dict(state)  # strict: every key present, none left over
    assert torch.equal(net.conv_up2.weight, state["conv_up2.weight"])
    assert torch.equal(net.body[0].rdb3.conv5.bias, state["body.0.rdb3.conv5.bias"])
    x = torch.rand(1, 3, 6, 6, generator=gen)
    before = net(x)
    state["conv_last.bias"] = state["conv_last.bias"] + 1.0
    net.load_state_dict(state)
    torch.testing.assert_close(net(x), before + 1.0)
