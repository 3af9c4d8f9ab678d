"""Learned degradation (coursekit.nn.learned_degradation, the 06 losses, coursekit.data.real_lr)."""

import importlib
import sys

import pytest
import torch

from coursekit import losses
from coursekit.nn import learned_degradation
from coursekit.nn.learned_degradation import (
    HighToLow,
    LowToHigh,
    SNDiscriminator,
    high_to_low_step,
    low_to_high_step,
    optimizers,
    target_lr,
)


def test_shapes_and_starting_point():
    torch.manual_seed(0)
    h2l, l2h = HighToLow(width=8), LowToHigh(width=8, n_blocks=1)
    hr = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    z = h2l.sample_noise(3, torch.Generator().manual_seed(1))
    lr = h2l(hr, z)
    assert lr.shape == (3, 3, 16, 16) and z.shape == (3, 64)
    assert torch.allclose(lr, target_lr(hr), atol=1e-6)  # zero-initialised head: starts at avgpool4(hr)
    sr = l2h(lr)
    assert sr.shape == (3, 3, 64, 64) and 0 <= float(sr.detach().min()) and float(sr.detach().max()) <= 1
    assert SNDiscriminator(16)(lr).shape == (3, 1) and SNDiscriminator(64, ndf=8)(sr).shape == (3, 1)


def test_optimizers_follow_the_paper():
    opt_g, opt_d = optimizers(HighToLow(width=8), SNDiscriminator(16, ndf=8))
    for opt in (opt_g, opt_d):
        assert opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.0, 0.9)


def test_degradation_terms_formula_and_hinge():
    g = torch.Generator().manual_seed(2)
    out, tgt, logits = (
        torch.rand(2, 3, 4, 4, generator=g),
        torch.rand(2, 3, 4, 4, generator=g),
        torch.randn(2, 1, generator=g),
    )
    t = losses.degradation_terms(out, tgt, logits)
    assert torch.allclose(t["loss"], ((out - tgt) ** 2).mean() - 0.05 * logits.mean(), atol=1e-7)
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert float(losses.hinge_discriminator_loss(real, fake)) == pytest.approx(0.25 + 0.5)
    with pytest.raises(ValueError, match="expected the same shape"):
        losses.degradation_terms(out, tgt[:, :, :2], logits)


def test_high_to_low_step_learns_to_fool_its_discriminator():
    """Real LR faces are darker than avgpool(HR): with beta large the generator moves towards them."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(3)
    hr = 0.3 + 0.4 * torch.rand(8, 3, 64, 64, generator=g)
    real = 0.1 * torch.rand(8, 3, 16, 16, generator=g)
    h2l, disc = HighToLow(width=8), SNDiscriminator(16, ndf=8)
    opt_g, opt_d = optimizers(h2l, disc, lr=2e-3)
    before = float(h2l(hr, h2l.sample_noise(8)).detach().mean())
    for _ in range(15):
        logs = high_to_low_step(h2l, disc, opt_g, opt_d, hr, real, d_steps=2, beta=1.0, generator=g)
    after = float(h2l(hr, h2l.sample_noise(8)).detach().mean())
    assert set(logs) == {"d_loss", "g_loss", "pixel", "gan"}
    assert after < before - 0.02


def test_low_to_high_pixel_loss_falls():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4)
    hr = torch.nn.functional.interpolate(torch.rand(4, 3, 16, 16, generator=g), scale_factor=4)  # blocky
    lr = target_lr(hr)
    l2h, disc = LowToHigh(width=8, n_blocks=1), SNDiscriminator(64, ndf=4)
    opt_g, opt_d = optimizers(l2h, disc, lr=2e-3)
    first = low_to_high_step(l2h, disc, opt_g, opt_d, lr, hr, d_steps=0, beta=0.0)["pixel"]
    for _ in range(15):
        last = low_to_high_step(l2h, disc, opt_g, opt_d, lr, hr, d_steps=0, beta=0.0)["pixel"]
    assert last < 0.9 * first


def test_real_lr_faces_are_disjoint_and_degraded(capsys):
    from coursekit.data.real_lr import hr_faces, real_lr_faces

    real = real_lr_faces(16, seed=1, source="offline")
    hr = hr_faces(16, seed=0, source="offline")
    assert (
        real.lr.shape == (16, 3, 16, 16) and real.hr.shape == (16, 3, 64, 64) and hr.shape == (16, 3, 64, 64)
    )
    assert not any(torch.equal(a, b) for a in real.hr for b in hr)
    assert float((real.lr - target_lr(real.hr)).abs().mean()) > 0.005  # not a plain average pooling
    assert torch.equal(real_lr_faces(16, seed=1, source="offline").lr, real.lr)
    assert "real_lr_faces" in capsys.readouterr().out


def test_bad_input():
    with pytest.raises(ValueError, match=r"hr: expected 64x64 images, got \(32, 32\)"):
        HighToLow(width=8)(torch.rand(1, 3, 32, 32), torch.randn(1, 64))
    with pytest.raises(ValueError, match=r"z: expected shape \(1, 64\), got \(1, 10\)"):
        HighToLow(width=8)(torch.rand(1, 3, 64, 64), torch.randn(1, 10))
    with pytest.raises(ValueError, match="size: expected one of"):
        SNDiscriminator(24)


def test_the_old_module_name_gives_the_learned_degradation_and_warns_at_the_importing_line(monkeypatch):
    monkeypatch.delitem(sys.modules, "coursekit.nn.degradation", raising=False)
    old = importlib.import_module("coursekit.nn.degradation")
    moved = "coursekit.nn.degradation moved to coursekit.nn.learned_degradation"
    with pytest.warns(DeprecationWarning, match=moved):
        assert old.HighToLow is learned_degradation.HighToLow
    assert old.high_to_low_step is learned_degradation.high_to_low_step and old.D_STEPS == 5
    assert old.__all__ == learned_degradation.__all__
    monkeypatch.delitem(sys.modules, "coursekit.nn.degradation")
    with pytest.warns(DeprecationWarning) as record:
        from coursekit.nn.degradation import HighToLow as OldHighToLow  # a saved notebook's import line
    assert OldHighToLow is learned_degradation.HighToLow
    assert record[0].filename == __file__  # the warning points at the importing line
