"""Tests for coursekit.data.degrade: contracts of every degradation, their behaviour, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from coursekit.data import degrade as dg

FAST = settings(max_examples=25, deadline=None, derandomize=True)


def rand_images(b: int, c: int, h: int, w: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def smooth_images(b: int = 2, c: int = 3, size: int = 32) -> torch.Tensor:
    """Photo-like content: smooth gradients and a soft disc, different per channel."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    disc = torch.sigmoid((0.3 - torch.hypot(ys - 0.5, xs - 0.5)) * 30)
    channels = [(0.2 + 0.6 * (ys * (k + 1) % 1.0) * 0.5 + 0.3 * disc) for k in range(c)]
    image = torch.stack(channels).clamp(0, 1)
    return image.expand(b, -1, -1, -1).clone()


def random_mask_like(x: torch.Tensor, seed: int) -> torch.Tensor:
    mask = dg.irregular_mask(1 if x.ndim == 3 else x.shape[0], tuple(x.shape[-2:]), seed)
    return mask[0] if x.ndim == 3 else mask


def total_variation(x: torch.Tensor) -> float:
    vertical = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return float(vertical + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


# ----------------------------------------------------------------------------------------------------------
# the contract every degradation keeps


@dataclass
class Case:
    call: Callable[[torch.Tensor, int], torch.Tensor]
    random: bool  # different seeds must give different outputs
    channels: tuple[int, ...] = (1, 3)
    shape: Callable[[tuple[int, ...]], tuple[int, ...]] = tuple


def _quarter(shape):
    return (*shape[:-2], shape[-2] // 4, shape[-1] // 4)


def _double(shape):
    return (*shape[:-2], shape[-2] * 2, shape[-1] * 2)


CASES = {
    "gaussian_blur": Case(lambda x, s: dg.gaussian_blur(x, 1.2), random=False),
    "gaussian_blur_random_sigma": Case(lambda x, s: dg.gaussian_blur(x, (0.3, 3.0), seed=s), random=True),
    "gaussian_noise": Case(lambda x, s: dg.gaussian_noise(x, 0.1, s), random=True),
    "gaussian_noise_random_sigma": Case(lambda x, s: dg.gaussian_noise(x, (0.05, 0.2), s), random=True),
    "speckle_noise": Case(lambda x, s: dg.speckle_noise(x, 0.2, s), random=True),
    "salt_pepper_noise": Case(lambda x, s: dg.salt_pepper_noise(x, 0.2, s), random=True),
    "jpeg": Case(lambda x, s: dg.jpeg(x, 30), random=False),
    "jpeg_random_quality": Case(lambda x, s: dg.jpeg(x, (10, 90), seed=s), random=False),
    "downsample": Case(lambda x, s: dg.downsample(x, 4), random=False, shape=_quarter),
    "downsample_area": Case(lambda x, s: dg.downsample(x, 4, method="area"), random=False, shape=_quarter),
    "upsample": Case(lambda x, s: dg.upsample(x, 2), random=False, shape=_double),
    "low_resolution": Case(lambda x, s: dg.low_resolution(x, 2), random=False),
    "quantize": Case(lambda x, s: dg.quantize(x, 5), random=False),
    "grayscale": Case(lambda x, s: dg.grayscale(x), random=False),
    "color_fade": Case(lambda x, s: dg.color_fade(x, 0.6), random=False),
    "sepia": Case(lambda x, s: dg.sepia(x, 0.8), random=False, channels=(3,)),
    "scratches": Case(lambda x, s: dg.scratches(x, 3, s)[0], random=True),
    "old_photo": Case(lambda x, s: dg.old_photo(x, s), random=True),
    "apply_mask": Case(lambda x, s: dg.apply_mask(x, random_mask_like(x, s)), random=True),
}


@pytest.mark.parametrize("name", list(CASES))
@FAST
@given(data=st.data())
def test_degradation_contract(name, data):
    case = CASES[name]
    b = data.draw(st.integers(1, 3), label="batch")
    c = data.draw(st.sampled_from(case.channels), label="channels")
    h = data.draw(st.integers(8, 24), label="height")
    w = data.draw(st.integers(8, 24), label="width")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]), label="dtype")
    single = data.draw(st.booleans(), label="single image")
    x = rand_images(b, c, h, w, seed % 1000, dtype)
    if single:
        x = x[0]
    before = x.clone()

    y = case.call(x, seed)

    assert y.shape == case.shape(tuple(x.shape))
    assert y.dtype == x.dtype and y.device == x.device
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.equal(x, before), "the input was modified in place"
    assert torch.equal(case.call(x, seed), y), "same seed, different output"
    if case.random:
        assert not torch.equal(case.call(x, seed + 1), y), "different seeds, same output"


def test_registry_lists_the_image_to_image_degradations():
    x = smooth_images(1, 3, 16)
    expected = {"gaussian_blur", "gaussian_noise", "jpeg", "quantize", "sepia", "old_photo", "low_resolution"}
    assert expected <= set(dg.DEGRADATIONS)
    assert all(callable(function) for function in dg.DEGRADATIONS.values())
    assert torch.equal(dg.apply("jpeg", x, quality=10), dg.jpeg(x, 10))
    assert torch.equal(dg.apply("gaussian_noise", x, sigma=0.1, seed=3), dg.gaussian_noise(x, 0.1, 3))


# ----------------------------------------------------------------------------------------------------------
# blur


def test_blur_removes_high_frequencies_and_keeps_the_mean():
    x = rand_images(2, 3, 32, 32)
    y = dg.gaussian_blur(x, 2.0)
    assert total_variation(y) < 0.25 * total_variation(x)
    assert torch.allclose(y.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.01)


def test_blur_matches_scipy_mirror_padded_gaussian():
    x = rand_images(2, 3, 20, 17, dtype=torch.float64)
    ours = dg.gaussian_blur(x, 1.5, kernel_size=7)
    # scipy's 'mirror' is reflection without repeating the edge; truncate 2 sigma = radius 3 = kernel 7
    reference = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, 1.5, 1.5), mode="mirror", truncate=2.0)
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-12)


def test_blur_sigma_zero_is_identity_and_large_kernels_work_on_tiny_images():
    x = rand_images(1, 3, 6, 6)
    torch.testing.assert_close(dg.gaussian_blur(x, 0.0), x)
    constant = torch.full((1, 1, 3, 4), 0.3)
    torch.testing.assert_close(dg.gaussian_blur(constant, 4.0), constant)


def test_blur_with_a_sigma_range_blurs_each_image_differently():
    x = rand_images(1, 3, 24, 24).expand(4, -1, -1, -1)
    y = dg.gaussian_blur(x, (0.5, 4.0), seed=7)
    variations = {round(total_variation(image), 5) for image in y}
    assert len(variations) == 4


# ----------------------------------------------------------------------------------------------------------
# noise


@pytest.mark.parametrize("sigma", [0.02, 0.1])
def test_gaussian_noise_on_mid_grey_has_std_sigma(sigma):
    grey = torch.full((2, 3, 64, 64), 0.5)
    noise = dg.gaussian_noise(grey, sigma, seed=0) - grey
    assert abs(float(noise.std()) - sigma) < 0.03 * sigma
    assert abs(float(noise.mean())) < 0.1 * sigma


def test_speckle_noise_scales_with_brightness():
    grey = torch.full((1, 3, 64, 64), 0.5)
    assert abs(float((dg.speckle_noise(grey, 0.2, seed=1) - grey).std()) - 0.1) < 0.005
    black = torch.zeros(1, 3, 16, 16)
    assert torch.equal(dg.speckle_noise(black, 0.5, seed=1), black)


@pytest.mark.parametrize("amount", [0.05, 0.3])
def test_salt_pepper_replaces_about_amount_of_values(amount):
    grey = torch.full((2, 3, 64, 64), 0.5)
    y = dg.salt_pepper_noise(grey, amount, seed=0)
    flipped = (y == 0) | (y == 1)
    assert abs(float(flipped.float().mean()) - amount) < 0.1 * amount
    assert torch.all((y == 0) | (y == 1) | (y == 0.5))
    only_salt = dg.salt_pepper_noise(grey, amount, seed=0, salt_ratio=1.0)
    assert not torch.any(only_salt == 0) and torch.any(only_salt == 1)


# ----------------------------------------------------------------------------------------------------------
# JPEG, resolution, quantization


def test_jpeg_low_quality_loses_more_than_high_quality():
    x = smooth_images(2, 3, 32)
    error_10 = float((dg.jpeg(x, 10) - x).abs().mean())
    error_95 = float((dg.jpeg(x, 95) - x).abs().mean())
    assert error_10 > 2 * error_95
    assert error_95 < 0.03


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_round_trips_rgb_and_grayscale_to_8_bit_values(channels):
    x = smooth_images(2, channels, 24)
    y = dg.jpeg(x, 50)
    assert y.shape == x.shape
    torch.testing.assert_close(y * 255, (y * 255).round(), atol=1e-4, rtol=0)
    assert 0 < float((y - x).abs().mean()) < 0.05


def test_jpeg_quality_range_draws_a_quality_per_image():
    x = smooth_images(1, 3, 32).expand(6, -1, -1, -1)
    y = dg.jpeg(x, (5, 100), seed=2)
    assert len({round(float((image - x[0]).abs().mean()), 6) for image in y}) > 1


def test_downsample_by_4_and_constant_images():
    x = rand_images(2, 3, 64, 48)
    assert dg.downsample(x, 4).shape == (2, 3, 16, 12)
    constant = torch.full((1, 3, 64, 64), 0.37)
    for method in ("bicubic", "area"):
        small = dg.downsample(constant, 4, method=method)
        torch.testing.assert_close(small, torch.full((1, 3, 16, 16), 0.37))


def test_area_downsample_averages_blocks_and_upsample_restores_the_size():
    x = rand_images(1, 3, 16, 16)
    torch.testing.assert_close(dg.downsample(x, 2, method="area"), torch.nn.functional.avg_pool2d(x, 2))
    assert dg.upsample(dg.downsample(x, 4), 4).shape == x.shape
    assert dg.resize(x, (10, 7), "nearest").shape == (1, 3, 10, 7)


def test_low_resolution_keeps_the_size_and_loses_detail():
    x = rand_images(2, 3, 32, 32)
    y = dg.low_resolution(x, 4)
    assert y.shape == x.shape
    assert total_variation(y) < 0.5 * total_variation(x)


def test_quantize_to_5_levels_gives_at_most_5_values_per_channel():
    x = rand_images(2, 3, 32, 32)
    y = dg.quantize(x, 5)
    for channel in y.transpose(0, 1):
        values = torch.unique(channel)
        assert len(values) <= 5
        assert set(values.tolist()) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert float((y - x).abs().max()) <= 0.125 + 1e-6


# ----------------------------------------------------------------------------------------------------------
# colour


def test_grayscale_uses_bt601_luma_like_pil():
    x = rand_images(2, 3, 16, 16)
    y = dg.grayscale(x)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(y[:, 0], expected)
    assert dg.grayscale(x, keep_channels=False).shape == (2, 1, 16, 16)
    pixels = (x[0] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    pil_luma = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float32) / 255
    quantized = dg.grayscale((x[:1] * 255).round() / 255, keep_channels=False)[0, 0].numpy()
    assert np.abs(quantized - pil_luma).max() <= 1 / 255 + 1e-6


def test_sepia_turns_white_warm_and_amount_zero_is_identity():
    white = torch.ones(1, 3, 4, 4)
    r, g, b = dg.sepia(white)[0, :, 0, 0].tolist()
    assert r >= g >= b > 0.9 and r > b
    x = rand_images(1, 3, 8, 8)
    torch.testing.assert_close(dg.sepia(x, 0.0), x)


def test_color_fade_washes_out_colour_and_contrast():
    x = rand_images(2, 3, 16, 16)
    faded = dg.color_fade(x, 1.0)
    torch.testing.assert_close(faded[:, 0], faded[:, 2])
    assert float(faded.min()) >= 0.3 - 1e-6 and float(faded.max()) <= 0.9 + 1e-6
    assert float(dg.color_fade(x, 0.5).std()) < float(x.std())
    torch.testing.assert_close(dg.color_fade(x, 0.0), x)


# ----------------------------------------------------------------------------------------------------------
# scratches and masks


def test_scratches_change_the_masked_pixels_and_return_a_binary_mask():
    x = torch.full((2, 3, 48, 48), 0.5)
    y, mask = dg.scratches(x, 4, seed=3)
    assert mask.shape == (2, 1, 48, 48)
    assert set(torch.unique(mask).tolist()) <= {0.0, 1.0}
    change = (y - x).abs().amax(dim=1, keepdim=True)
    assert float((change[mask == 1] > 0.1).float().mean()) > 0.95
    assert float((change[mask == 0] > 0.3).float().mean()) < 0.01
    assert 0.005 < float(mask.mean()) < 0.3


def test_no_scratches_leave_the_image_alone_and_more_scratches_cover_more():
    x = rand_images(2, 3, 32, 32)
    y, mask = dg.scratches(x, 0, seed=1)
    torch.testing.assert_close(y, x)
    assert not mask.any()
    assert float(dg.scratches(x, 12, seed=1)[1].mean()) > float(dg.scratches(x, 2, seed=1)[1].mean())


def test_scratches_of_a_single_image_keep_its_layout():
    y, mask = dg.scratches(rand_images(1, 3, 16, 16)[0], 2, seed=0)
    assert y.shape == (3, 16, 16) and mask.shape == (1, 16, 16)


@FAST
@given(size=st.integers(4, 64), hole_fraction=st.floats(0.05, 1.0), batch=st.integers(1, 3))
def test_center_mask_has_exactly_hole_squared_missing_pixels_in_the_centre(size, hole_fraction, batch):
    hole = max(1, int(size * hole_fraction))
    mask = dg.center_mask(size, hole, batch=batch)
    assert mask.shape == (batch, 1, size, size)
    assert torch.all(mask.sum(dim=(1, 2, 3)) == hole * hole)
    top = (size - hole) // 2
    assert torch.all(mask[..., top : top + hole, top : top + hole] == 1)


def test_center_mask_of_the_gan_prior_experiment():
    mask = dg.center_mask(64, 32)
    assert int(mask.sum()) == 32 * 32 and torch.all(mask[0, 0, 16:48, 16:48] == 1)
    assert dg.center_mask((32, 48), 8).shape == (1, 1, 32, 48)


@pytest.mark.parametrize("coverage", [(0.1, 0.2), (0.3, 0.4), 0.25])
def test_irregular_mask_coverage_lands_in_the_requested_range(coverage):
    lo, hi = coverage if isinstance(coverage, tuple) else (coverage, coverage)
    mask = dg.irregular_mask(8, 64, seed=0, coverage=coverage)
    fractions = mask.mean(dim=(1, 2, 3))
    assert torch.all(fractions >= lo) and torch.all(fractions <= hi + 0.15), fractions
    assert set(torch.unique(mask).tolist()) == {0.0, 1.0}


@FAST
@given(batch=st.integers(1, 3), h=st.integers(8, 40), w=st.integers(8, 40), seed=st.integers(0, 2**31 - 1))
def test_irregular_mask_shape_values_and_determinism(batch, h, w, seed):
    mask = dg.irregular_mask(batch, (h, w), seed)
    assert mask.shape == (batch, 1, h, w) and mask.dtype == torch.float32
    assert set(torch.unique(mask).tolist()) <= {0.0, 1.0}
    assert torch.equal(dg.irregular_mask(batch, (h, w), seed), mask)
    assert not torch.equal(dg.irregular_mask(batch, (h, w), seed + 1), mask)


def test_irregular_mask_with_zero_coverage_is_empty():
    assert not dg.irregular_mask(2, 32, seed=0, coverage=0.0).any()


def test_apply_mask_fills_the_missing_pixels_only():
    x = rand_images(2, 3, 16, 16)
    mask = dg.center_mask(16, 8)
    y = dg.apply_mask(x, mask, fill=1.0)
    assert torch.all(y[:, :, 4:12, 4:12] == 1.0)
    torch.testing.assert_close(y * (1 - mask), x * (1 - mask))
    single = dg.apply_mask(x[0], mask[0])
    assert single.shape == (3, 16, 16) and torch.all(single[:, 4:12, 4:12] == 0)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda v: dg.apply_mask(v, dg.center_mask(16, 8)),
        lambda v: dg.grayscale(v),
        lambda v: dg.downsample(v, 4),
        lambda v: dg.gaussian_blur(v, 1.0),
    ],
    ids=["inpainting", "colorization", "super_resolution", "blur"],
)
def test_gan_prior_corruptions_pass_gradients(corrupt):
    """The GAN-prior method optimises z through A(G(z)), so these corruptions A must be differentiable."""
    x = rand_images(2, 3, 16, 16).requires_grad_()
    (grad,) = torch.autograd.grad(corrupt(x).sum(), x)
    assert float(grad.abs().sum()) > 0


# ----------------------------------------------------------------------------------------------------------
# old photo


def test_old_photo_with_no_steps_is_the_identity_and_gray_p_one_is_grey():
    x = smooth_images(2, 3, 24)
    torch.testing.assert_close(dg.old_photo(x, seed=0, p=0.0, gray_p=0.0), x)
    torch.testing.assert_close(dg.old_photo(x, seed=0, p=0.0, gray_p=1.0), dg.grayscale(x))


def test_old_photo_degrades_each_image_its_own_way():
    x = smooth_images(1, 3, 32).expand(6, -1, -1, -1)
    y = dg.old_photo(x, seed=5, p=1.0)
    errors = (y - x).abs().mean(dim=(1, 2, 3))
    assert torch.all(errors > 0.001)
    assert len({round(float(e), 6) for e in errors}) == 6


def test_old_photo_works_on_grayscale_images():
    x = smooth_images(2, 1, 24)
    y = dg.old_photo(x, seed=1, p=1.0)
    assert y.shape == x.shape and not torch.equal(y, x)


# ----------------------------------------------------------------------------------------------------------
# bad input: ValueError naming what was expected and what came

X = rand_images(1, 3, 8, 8)

BAD_INPUT = {
    "wrong ndim": (
        lambda: dg.gaussian_blur(torch.rand(8, 8), 1.0),
        r"expected a 3-D \(C, H, W\) or 4-D \(B, C, H, W\) tensor, got shape \(8, 8\)",
    ),
    "int dtype": (
        lambda: dg.gaussian_noise(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 0.1, 0),
        r"expected a floating-point tensor, got dtype torch.uint8",
    ),
    "values above 1": (
        lambda: dg.jpeg(torch.full((1, 3, 8, 8), 2.0), 50),
        r"images: expected values in \[0.0, 1.0\], got values in \[2, 2\]",
    ),
    "negative values": (
        lambda: dg.quantize(torch.full((3, 8, 8), -0.5), 5),
        r"images: expected values in \[0.0, 1.0\], got values in \[-0.5, -0.5\]",
    ),
    "NaN": (lambda: dg.sepia(X * float("nan")), r"expected finite values in \[0.0, 1.0\], got NaN or inf"),
    "not a tensor": (lambda: dg.grayscale(X.numpy()), r"expected a torch.Tensor, got ndarray"),
    "negative sigma": (lambda: dg.gaussian_noise(X, -0.1, 0), r"sigma: expected a number >= 0, got -0.1"),
    "negative blur sigma": (lambda: dg.gaussian_blur(X, -1), r"sigma: expected a number >= 0, got -1"),
    "sigma range reversed": (
        lambda: dg.gaussian_blur(X, (3.0, 1.0), seed=0),
        r"sigma: expected a \(lo, hi\) pair with lo <= hi, got \(3.0, 1.0\)",
    ),
    "sigma range without seed": (lambda: dg.gaussian_blur(X, (1.0, 2.0)), r"needs a seed, got seed=None"),
    "quality range without seed": (lambda: dg.jpeg(X, (10, 90)), r"quality: .*needs a seed, got seed=None"),
    "even kernel": (lambda: dg.gaussian_blur(X, 1.0, kernel_size=4), r"kernel_size: expected an odd integer"),
    "quality 0": (lambda: dg.jpeg(X, 0), r"quality: expected an integer in \[1, 100\], got 0"),
    "quality 101": (lambda: dg.jpeg(X, 101), r"quality: expected an integer in \[1, 100\], got 101"),
    "quality float": (lambda: dg.jpeg(X, 50.5), r"quality: expected an integer in \[1, 100\], got 50.5"),
    "jpeg of 2 channels": (lambda: dg.jpeg(X[:, :2], 50), r"expected 1 or 3 channels, got 2"),
    "levels 1": (lambda: dg.quantize(X, 1), r"levels: expected an integer >= 2, got 1"),
    "amount above 1": (
        lambda: dg.salt_pepper_noise(X, 1.5, 0),
        r"amount: expected a number in \[0, 1\], got 1.5",
    ),
    "negative seed": (lambda: dg.gaussian_noise(X, 0.1, -1), r"seed: expected an integer >= 0, got -1"),
    "string seed": (lambda: dg.old_photo(X, "7"), r"seed: expected an integer >= 0, got '7'"),
    "sepia of grey": (lambda: dg.sepia(X[:, :1]), r"expected 3 channels, got 1"),
    "scale below 1": (lambda: dg.downsample(X, 0.5), r"scale: expected a number >= 1, got 0.5"),
    "unknown method": (
        lambda: dg.downsample(X, 2, method="bicubc"),
        r"unknown downsample method 'bicubc': expected one of 'bicubic', 'area'; did you mean 'bicubic'\?",
    ),
    "hole too big": (lambda: dg.center_mask(64, 65), r"hole: expected a side <= the image side 64, got 65"),
    "coverage too high": (
        lambda: dg.irregular_mask(1, 32, 0, coverage=0.9),
        r"coverage: expected a fraction in \[0, 0.8\], got 0.9",
    ),
    "mask shape": (
        lambda: dg.apply_mask(X, torch.zeros(1, 1, 4, 4)),
        r"mask: expected shape \(1, 1, 8, 8\) to match the images, got Tensor of shape \(1, 1, 4, 4\)",
    ),
    "negative scratch count": (lambda: dg.scratches(X, -1, 0), r"n: expected an integer >= 0, got -1"),
    "unknown degradation": (
        lambda: dg.apply("gausian_blur", X, sigma=1.0),
        r"unknown degradation 'gausian_blur': expected one of .*did you mean 'gaussian_blur'",
    ),
}


# a wrong type raises TypeError, a bad value of the right type ValueError
WRONG_TYPES = {"int dtype", "not a tensor", "string seed", "quality float"}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_raises_an_error_naming_expected_and_actual(case):
    call, message = BAD_INPUT[case]
    with pytest.raises(TypeError if case in WRONG_TYPES else ValueError, match=message):
        call()
