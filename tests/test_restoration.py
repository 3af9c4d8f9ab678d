"""coursekit.restoration: operators A, the TV primal-dual solver, Poisson blending (module 09)."""

import numpy as np
import pytest
import torch

from coursekit import restoration as R


def images(n=2, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_gradient_and_divergence_are_negative_adjoints():
    x = images()
    p = torch.randn(2, 3, 2, 32, 32, generator=torch.Generator().manual_seed(1))
    assert torch.isclose((R.gradient(x) * p).sum(), -(x * R.divergence(p)).sum(), atol=1e-3)


def test_total_variation_of_a_step_edge():
    x = torch.zeros(1, 1, 8, 8)
    x[..., 4:] = 1.0  # one vertical edge of height 8 and jump 1
    assert float(R.total_variation(x)) == pytest.approx(8.0)


@pytest.mark.parametrize("name", R.TASKS)
def test_tasks_match_seed_004(name):
    x = images(size=64)
    task = R.make_task(name, 64)
    y = task.corrupt(x, 0)
    expected = {"inpainting": (2, 3, 64, 64), "colorization": (2, 1, 64, 64),
                "super_resolution": (2, 3, 16, 16), "denoising": (2, 3, 64, 64),
                "quantization": (2, 3, 64, 64)}[name]
    assert tuple(y.shape) == expected
    assert tuple(task.A(x).shape) == expected
    if name == "inpainting":
        assert int(task.A.missing.sum()) == 32 * 32  # the centre 32x32 hole
        assert torch.all(y[..., 16:48, 16:48] == 0) and torch.equal(y[..., :16, :], x[..., :16, :])
    if name == "colorization":
        assert torch.equal(y[:, 0], x.max(1).values)  # V of HSV
    if name == "denoising":
        assert 0.08 < float((y - x).std()) < 0.1  # sigma 0.1, a little less after clamping to [0, 1]
    if name == "quantization":
        assert set(torch.unique(y).tolist()) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert task.show(y, 64).shape == (2, 3, 64, 64)


def test_hole_scales_with_the_image():
    assert int(R.make_task("inpainting", 32).A.missing.sum()) == 16 * 16


@pytest.mark.parametrize("name", ["inpainting", "super_resolution", "denoising"])
def test_linear_operators_have_exact_adjoints(name):
    A = R.make_task(name, 32).A
    x = images()
    q = torch.randn_like(A(x))
    assert torch.isclose((A(x) * q).sum(), (x * A.adjoint(q, x)).sum(), rtol=1e-4, atol=1e-3)


def test_downsample_is_low_pass_then_decimate():
    A = R.Downsample(4)
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(A(flat), torch.full((1, 3, 8, 8), 0.3), atol=1e-6)  # normalised low-pass
    checker = (torch.arange(32)[None, :] + torch.arange(32)[:, None]) % 2
    y = A(checker.float().expand(1, 3, 32, 32))
    assert float(y.std()) < 0.05  # the highest frequency is (almost) removed before decimation


def test_operators_are_differentiable():
    x = images().requires_grad_(True)
    for name in R.TASKS:
        R.make_task(name, 32).A(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_tv_matches_skimage_chambolle_for_denoising():
    from skimage.restoration import denoise_tv_chambolle

    clean = torch.zeros(1, 1, 32, 32)
    clean[..., 8:24, 8:24] = 0.6
    clean += 0.2
    y = (clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    lam = 0.1
    ours = R.tv_restore(y, R.Identity(), lam, iters=1500)
    ref = denoise_tv_chambolle(y[0, 0].double().numpy(), weight=lam, max_num_iter=2000, eps=1e-8)
    ref = torch.from_numpy(ref)
    obj = R.tv_objective(ours, y, R.Identity(), lam)
    obj_ref = R.tv_objective(ref.float()[None, None].clamp(0, 1), y, R.Identity(), lam)
    assert float(obj) <= float(obj_ref) * 1.002
    assert float((ours[0, 0] - ref).abs().mean()) < 5e-3


def test_tv_lowers_the_objective_and_fills_the_hole():
    task = R.make_task("inpainting", 32)
    clean = torch.full((1, 3, 32, 32), 0.5)
    y = task.corrupt(clean)
    out = R.tv_restore(y, task.A, 0.05, iters=400)
    assert float(R.tv_objective(out, y, task.A, 0.05)) < float(R.tv_objective(y, y, task.A, 0.05))
    assert float((out - clean).abs().max()) < 0.02  # a flat image is TV's favourite fill


def test_tv_super_resolution_output_size():
    task = R.make_task("super_resolution", 32)
    x = images(1)
    out = R.tv_restore(task.corrupt(x), task.A, 0.01, iters=50, like=x)
    assert out.shape == x.shape and 0 <= float(out.min()) and float(out.max()) <= 1


def test_tv_rejects_colorization_and_bad_input():
    with pytest.raises(ValueError, match="linear"):
        R.tv_restore(torch.rand(1, 1, 8, 8), R.Value(), 0.1)
    with pytest.raises(ValueError, match="expected"):
        R.tv_restore(torch.rand(8, 8), R.Identity(), 0.1)
    with pytest.raises(ValueError, match="unknown task"):
        R.make_task("deblurring", 32)
    with pytest.raises(ValueError, match="divisible by 4"):
        R.Downsample(4)(torch.rand(1, 3, 30, 30))


def test_poisson_blend_reproduces_harmonic_fills_and_keeps_the_outside():
    mask = R.make_task("inpainting", 32).A.missing
    ramp = torch.linspace(0, 1, 32)
    target = ((ramp[None, :] + ramp[:, None]) / 2).expand(1, 3, 32, 32).clone()
    # a linear ramp is harmonic: with a flat source (zero guidance) the solve restores it exactly
    out = R.poisson_blend(target * (1 - mask), torch.full_like(target, 0.9), mask)
    assert torch.allclose(out, target, atol=1e-5)
    # the source's gradients are kept: a source = target + constant gives back the target
    x = images(1)
    assert torch.allclose(R.poisson_blend(x, x + 0.1, mask), x, atol=1e-5)
    src = images(1, seed=3)
    out = R.poisson_blend(x, src, mask)
    assert torch.equal(out * (1 - mask), x * (1 - mask))


def test_poisson_blend_solves_the_discrete_poisson_equation():
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 3:9, 3:9] = 1
    target, source = 0.45 + 0.1 * images(1, 12, seed=4), 0.1 * images(1, 12, seed=5)  # no clipping needed
    out = R.poisson_blend(target, source, mask)[0].double().numpy()
    src = source[0].double().numpy()

    def lap(a, i, j):
        return 4 * a[:, i, j] - a[:, i - 1, j] - a[:, i + 1, j] - a[:, i, j - 1] - a[:, i, j + 1]

    residual = max(np.abs(lap(out, i, j) - lap(src, i, j)).max() for i in range(3, 9) for j in range(3, 9))
    assert residual < 1e-5


def test_poisson_blend_rejects_bad_shapes():
    with pytest.raises(ValueError, match="source: expected"):
        R.poisson_blend(images(1), images(1, 16), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="missing: expected"):
        R.poisson_blend(images(1), images(1), torch.zeros(1, 1, 16, 16))
