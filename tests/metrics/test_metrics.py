"""coursekit.metrics against scikit-image on its bundled photos; the Frechet distance against closed forms."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage import color, data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from coursekit import metrics
from coursekit.metrics import disentanglement, fidelity, frechet, sharpness

TOL = 1e-4
PHOTOS = ("astronaut", "chelsea", "coffee", "camera")


def test_the_package_exports_every_function_and_class_of_its_families():
    defined = {
        name
        for family in (fidelity, frechet, disentanglement, sharpness)
        for name, value in vars(family).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == family.__name__
    }
    assert defined and defined <= set(metrics.__all__)
    assert all(hasattr(metrics, name) for name in metrics.__all__)
    assert metrics.mig is disentanglement.mig and callable(metrics.mig)  # the function, not a module


def load_photo(name: str, size: int | None = 256) -> np.ndarray:
    """A bundled scikit-image photo as float64 in [0, 1], (H, W) or (H, W, 3): its central size^2 crop."""
    image = getattr(data, name)().astype(np.float64) / 255.0
    if size is None:
        return image
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def distort(image: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return np.clip(image + rng.normal(0.0, 0.05, image.shape), 0.0, 1.0)
    if kind == "blur":
        return gaussian_filter(image, (1.5, 1.5, 0) if image.ndim == 3 else 1.5)
    if kind == "contrast":
        return 0.7 * image + 0.2
    raise AssertionError(kind)


def to_tensor(image: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    """(H, W) or (H, W, C) numpy -> (C, H, W) torch."""
    t = torch.from_numpy(np.ascontiguousarray(image))
    return (t[None] if t.ndim == 2 else t.permute(2, 0, 1)).to(dtype)


def skimage_ssim(a: np.ndarray, b: np.ndarray, **kwargs) -> float:
    options = dict(data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    options.update(kwargs)
    return structural_similarity(a, b, channel_axis=2 if a.ndim == 3 else None, **options)


@pytest.fixture(scope="module")
def photos():
    return {name: load_photo(name) for name in PHOTOS}


# --------------------------------------------------------------------------------------------- SSIM / PSNR
@pytest.mark.parametrize("name", [*PHOTOS, "astronaut_gray"])
@pytest.mark.parametrize("kind", ["noise", "blur", "contrast"])
def test_ssim_and_psnr_match_skimage(photos, name, kind):
    clean = color.rgb2gray(photos["astronaut"]) if name == "astronaut_gray" else photos[name]
    dirty = distort(clean, kind)
    expected_ssim = skimage_ssim(clean, dirty)
    expected_psnr = peak_signal_noise_ratio(clean, dirty, data_range=1.0)
    for dtype in (torch.float64, torch.float32):
        x, y = to_tensor(clean, dtype), to_tensor(dirty, dtype)
        assert metrics.ssim(x, y).item() == pytest.approx(expected_ssim, abs=TOL)
        assert metrics.psnr(x, y).item() == pytest.approx(expected_psnr, abs=TOL)


def test_float64_ssim_is_exact_to_round_off_on_a_whole_photo():
    clean = load_photo("chelsea", size=None)
    dirty = distort(clean, "noise")
    ours = metrics.ssim(to_tensor(clean), to_tensor(dirty)).item()
    assert ours == pytest.approx(skimage_ssim(clean, dirty), abs=1e-10)


def test_a_uniform_window_would_fail_the_tolerance(photos):
    """The 1e-4 tolerance matters: skimage's uniform-window SSIM is far from the Gaussian one."""
    clean = photos["coffee"]
    dirty = distort(clean, "noise")
    ours = metrics.ssim(to_tensor(clean), to_tensor(dirty)).item()
    uniform = skimage_ssim(clean, dirty, gaussian_weights=False, win_size=11)
    assert abs(ours - uniform) > 100 * TOL


def test_uniform_window_option_matches_skimage(photos):
    clean = photos["camera"]
    dirty = distort(clean, "blur")
    ours = metrics.ssim(to_tensor(clean), to_tensor(dirty), gaussian=False, win_size=7).item()
    assert ours == pytest.approx(skimage_ssim(clean, dirty, gaussian_weights=False, win_size=7), abs=TOL)


def test_other_sigma_matches_skimage_with_the_documented_window(photos):
    clean = photos["camera"][:128, :128]
    dirty = distort(clean, "noise")
    ours = metrics.ssim(to_tensor(clean), to_tensor(dirty), sigma=1.0, win_size=2 * int(3.5 * 1.0 + 0.5) + 1)
    assert ours.item() == pytest.approx(skimage_ssim(clean, dirty, sigma=1.0), abs=TOL)


@pytest.fixture(scope="module")
def batch(photos):
    """Four 96x96 RGB crops and their distorted versions, as (4, 3, 96, 96) float32."""
    crops = [
        photos["astronaut"][0:96, 0:96],
        photos["chelsea"][80:176, 100:196],
        photos["coffee"][150:246, 150:246],
        photos["astronaut"][160:256, 0:96],
    ]
    kinds = ["noise", "blur", "contrast", "noise"]
    clean = torch.stack([to_tensor(c, torch.float32) for c in crops])
    dirty = torch.stack(
        [
            to_tensor(distort(c, k, seed=i), torch.float32)
            for i, (c, k) in enumerate(zip(crops, kinds, strict=True))
        ]
    )
    return (
        clean,
        dirty,
        crops,
        [distort(c, k, seed=i) for i, (c, k) in enumerate(zip(crops, kinds, strict=True))],
    )


@pytest.mark.parametrize("metric", [metrics.ssim, metrics.psnr])
def test_batched_equals_per_image(batch, metric):
    clean, dirty, _, _ = batch
    per_image = metric(clean, dirty, reduction="none")
    assert per_image.shape == (4,)
    singles = torch.stack([metric(clean[i], dirty[i]) for i in range(4)])
    assert singles.shape == (4,)
    torch.testing.assert_close(per_image, singles, atol=1e-6, rtol=0)
    assert metric(clean, dirty).item() == pytest.approx(per_image.mean().item(), abs=1e-6)
    assert metric(clean[0], dirty[0], reduction="none").shape == ()


@pytest.mark.parametrize("metric", [metrics.ssim, metrics.psnr])
def test_chunked_batches_equal_one_chunk(batch, metric, monkeypatch):
    clean, dirty, _, _ = batch
    whole = metric(clean, dirty, reduction="none")
    monkeypatch.setattr(fidelity, "CHUNK_ELEMENTS", clean[0].numel() * 3 // 2)  # chunks of one image
    torch.testing.assert_close(metric(clean, dirty, reduction="none"), whole, atol=1e-6, rtol=0)


def test_batched_ssim_matches_skimage_per_image(batch):
    clean, dirty, crops, distorted = batch
    per_image = metrics.ssim(clean, dirty, reduction="none")
    expected = [skimage_ssim(a, b) for a, b in zip(crops, distorted, strict=True)]
    np.testing.assert_allclose(per_image.numpy(), expected, atol=TOL, rtol=0)
    assert len(set(np.round(expected, 3))) == 4  # the distortions differ, so a mixed-up batch would fail


def test_identical_images():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(metrics.psnr(x, x)).item()
    assert metrics.ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_psnr_of_a_known_error():
    x = torch.zeros(1, 1, 8, 8)
    y = torch.full((1, 1, 8, 8), 0.1)  # MSE 0.01 -> 20 dB
    assert metrics.psnr(x, y).item() == pytest.approx(20.0, abs=1e-4)
    assert metrics.psnr(x * 255, y * 255, data_range=255).item() == pytest.approx(20.0, abs=1e-4)


def test_ssim_is_differentiable():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=gen)
    y = torch.rand(2, 3, 24, 24, generator=gen).requires_grad_()
    (1 - metrics.ssim(x, y)).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


# --------------------------------------------------------------------------------------------- Y channel
def test_rgb_to_y_known_values():
    white, black = torch.ones(3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert torch.allclose(metrics.rgb_to_y(white), torch.full((1, 2, 2), 235 / 255), atol=1e-5)
    assert metrics.rgb_to_y(black).shape == (1, 1, 2, 2)
    assert torch.allclose(metrics.rgb_to_y(black), torch.full((1, 1, 2, 2), 16 / 255))


@pytest.mark.parametrize("shave", [0, 4])
def test_y_channel_with_shave_matches_skimage(photos, shave):
    hr = photos["astronaut"][100:228, 100:228]
    sr = distort(hr, "blur")
    crop = (slice(shave, -shave), slice(shave, -shave)) if shave else (slice(None), slice(None))
    y_hr, y_sr = (color.rgb2ycbcr(im)[..., 0][crop] / 255.0 for im in (hr, sr))
    x_hr, x_sr = metrics.rgb_to_y(to_tensor(hr)), metrics.rgb_to_y(to_tensor(sr))
    psnr = metrics.psnr(x_hr, x_sr, shave=shave).item()
    ssim = metrics.ssim(x_hr, x_sr, shave=shave).item()
    assert psnr == pytest.approx(peak_signal_noise_ratio(y_hr, y_sr, data_range=1.0), abs=TOL)
    assert ssim == pytest.approx(skimage_ssim(y_hr, y_sr), abs=TOL)


def test_shave_changes_the_result(photos):
    hr = to_tensor(photos["camera"][:64, :64])
    sr = hr.clone()
    sr[..., :4, :] = 0.0  # damage only the border
    assert metrics.psnr(hr, sr, shave=4).item() == float("inf")
    assert metrics.psnr(hr, sr).item() < 40


# --------------------------------------------------------------------------------------------- validation
GOOD = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("metric", [metrics.psnr, metrics.ssim])
@pytest.mark.parametrize(
    ("x", "y", "kwargs", "message"),
    [
        (
            GOOD,
            GOOD[:, :, :8],
            {},
            r"x and y: expected the same shape, got \(2, 3, 16, 16\) and \(2, 3, 8, 16\)",
        ),
        (
            GOOD[0, 0],
            GOOD[0, 0],
            {},
            r"x: expected a 3-D \(C, H, W\) or 4-D \(B, C, H, W\) tensor, got shape",
        ),
        (GOOD * 2, GOOD, {}, r"x: expected values in \[0.0, 1.0\], got values in"),
        (GOOD, GOOD * 255, {"data_range": 1.0}, r"y: expected values in \[0.0, 1.0\]"),
        (GOOD, GOOD, {"reduction": "sum"}, r"unknown reduction 'sum': expected one of 'mean', 'none'"),
        (GOOD, GOOD, {"shave": 8}, r"shave: expected fewer than half the smaller side \(16 pixels\), got 8"),
        (GOOD, GOOD, {"shave": -1}, r"shave: expected an integer >= 0, got -1"),
        (GOOD, GOOD, {"data_range": 0}, r"data_range: expected a positive number"),
    ],
)
def test_bad_inputs_raise(metric, x, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metric(x, y, **kwargs)


@pytest.mark.parametrize("metric", [metrics.psnr, metrics.ssim])
@pytest.mark.parametrize(
    ("x", "message"),
    [
        ((GOOD * 255).to(torch.uint8), r"x: expected a floating-point tensor, got dtype torch.uint8"),
        (GOOD.numpy(), r"x: expected a torch.Tensor, got ndarray of shape"),
    ],
)
def test_inputs_of_the_wrong_type_raise_type_error(metric, x, message):
    with pytest.raises(TypeError, match=message):
        metric(x, GOOD)


@pytest.mark.parametrize(
    ("metric", "kwargs", "message"),
    [
        (metrics.psnr, {"data_range": "255"}, r"data_range: expected a positive number .* of type str"),
        (metrics.ssim, {"data_range": True}, r"data_range: expected a positive number .* of type bool"),
        (metrics.ssim, {"sigma": "1.5"}, r"sigma: expected a positive number, got '1.5' of type str"),
        (metrics.ssim, {"K1": None}, r"K1: expected a positive number, got None"),
    ],
)
def test_options_of_the_wrong_type_raise_type_error(metric, kwargs, message):
    with pytest.raises(TypeError, match=message):
        metric(GOOD, GOOD, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"win_size": 8}, r"win_size: expected an odd window size such as 7 or 11, got 8"),
        (
            {"win_size": 17},
            r"expected images at least win_size=17 pixels on each side \(after shaving\), got \(16, 16\)",
        ),
        ({"shave": 3}, r"win_size=11 .*got \(10, 10\)"),
        ({"sigma": 0}, r"sigma: expected a positive number, got 0"),
    ],
)
def test_bad_ssim_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.ssim(GOOD, GOOD, **kwargs)


def test_rgb_to_y_needs_three_channels():
    with pytest.raises(ValueError, match=r"x: expected 3 channels, got 1"):
        metrics.rgb_to_y(torch.rand(1, 1, 4, 4))


# --------------------------------------------------------------------------------------------- Frechet
def gaussian_samples(mean: np.ndarray, variances: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n samples whose sample mean is exactly ``mean`` and sample covariance exactly diag(variances)."""
    z = np.random.default_rng(seed).normal(size=(n, mean.size))
    z -= z.mean(axis=0)
    whitening = np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)))
    return (z @ whitening.T) * np.sqrt(variances) + mean


def closed_form(mu1, s1, mu2, s2) -> float:
    return float(np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2)))


def test_frechet_distance_matches_diagonal_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.2, 3.0, 8), rng.uniform(0.2, 3.0, 8)
    a, b = gaussian_samples(mu1, s1, 400, seed=1), gaussian_samples(mu2, s2, 300, seed=2)
    expected = closed_form(mu1, s1, mu2, s2)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert metrics.gaussian_frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(
        expected, rel=1e-10
    )


def test_frechet_distance_of_plain_samples_is_close_to_the_population_value():
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 1.0, size=(20000, 4))
    b = rng.normal(0.5, 2.0, size=(20000, 4))
    expected = closed_form(np.zeros(4), np.ones(4), np.full(4, 0.5), np.full(4, 4.0))  # 4 * (0.25 + 1) = 5
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=0.05)


def test_frechet_distance_is_zero_for_identical_sets_and_symmetric():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(200, 16))
    b = rng.normal(0.3, 1.5, size=(150, 16))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a), rel=1e-8)
    assert metrics.frechet_distance(a, b) > 1.0


def test_frechet_distance_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(10, 32)), rng.normal(1.0, 1.0, size=(10, 32))
    value = metrics.frechet_distance(torch.from_numpy(a), b)
    assert np.isfinite(value) and value > 0


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (
            np.zeros((5, 3)),
            np.zeros((5, 4)),
            r"feats_a and feats_b: expected the same feature size D, got 3 and 4",
        ),
        (
            np.zeros(5),
            np.zeros((5, 4)),
            r"feats_a: expected an \(N, D\) array of features, got ndarray of shape \(5,\)",
        ),
        (np.zeros((1, 3)), np.zeros((5, 3)), r"feats_a: expected at least 2 feature vectors .* got 1"),
        (np.zeros((5, 3)), np.full((5, 3), np.nan), r"feats_b: expected finite features"),
    ],
)
def test_frechet_bad_inputs_raise(a, b, message):
    with pytest.raises(ValueError, match=message):
        metrics.frechet_distance(a, b)


@pytest.mark.parametrize(
    ("a", "message"),
    [
        ([[1.0, 2.0]], r"feats_a: expected an \(N, D\) array of features, got list"),
        (np.array([["a", "b"], ["c", "d"]]), r"feats_a: expected numeric features, got dtype <U1"),
    ],
)
def test_frechet_features_of_the_wrong_type_raise_type_error(a, message):
    with pytest.raises(TypeError, match=message):
        metrics.frechet_distance(a, np.zeros((5, 2)))


class TinyExtractor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.conv(x)).mean(dim=(2, 3))


def test_frechet_distance_of_runs_the_extractor_in_eval_mode_and_restores_it():
    torch.manual_seed(0)
    extractor = TinyExtractor().train()
    gen = torch.Generator().manual_seed(0)
    images_a = torch.rand(24, 3, 8, 8, generator=gen)
    images_b = torch.rand(20, 3, 8, 8, generator=gen) * 0.5
    value = metrics.frechet_distance_of(extractor, images_a, images_b, batch_size=7)
    assert extractor.training
    with torch.no_grad():
        extractor.eval()
        expected = metrics.frechet_distance(extractor(images_a), extractor(images_b))
    assert value == pytest.approx(expected, rel=1e-6)
    assert metrics.extract_features(extractor, images_a, batch_size=5).shape == (24, 4)
    assert metrics.frechet_label(extractor) == "Frechet distance on TinyExtractor features"


def test_extract_features_validates_images():
    with pytest.raises(
        ValueError, match=r"images: expected a 4-D \(B, C, H, W\) tensor, got shape \(3, 8, 8\)"
    ):
        metrics.extract_features(TinyExtractor(), torch.rand(3, 8, 8))


def test_frechet_square_root_fallbacks(monkeypatch):
    """Reference-FID handling: retry with eps on the diagonal, drop round-off imaginary parts, else raise."""
    from scipy import linalg

    real_sqrtm = linalg.sqrtm
    mu, s1, s2 = np.zeros(3), np.diag([1.0, 2.0, 3.0]), np.diag([2.0, 2.0, 2.0])
    expected = closed_form(mu, np.diag(s1), mu, np.diag(s2))
    calls = []

    def not_finite_first(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(linalg, "sqrtm", not_finite_first)
    assert metrics.gaussian_frechet_distance(mu, s1, mu, s2, eps=1e-6) == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(3)) @ (s2 + 1e-6 * np.eye(3)))

    monkeypatch.setattr(linalg, "sqrtm", lambda a: real_sqrtm(a) + 1e-9j)
    assert metrics.gaussian_frechet_distance(mu, s1, mu, s2) == pytest.approx(expected, rel=1e-10)

    monkeypatch.setattr(linalg, "sqrtm", lambda a: real_sqrtm(a) + 0.5j)
    with pytest.raises(ValueError, match=r"expected a real square root, got imaginary parts up to 0.5"):
        metrics.gaussian_frechet_distance(mu, s1, mu, s2)


def test_gaussian_frechet_distance_checks_shapes():
    with pytest.raises(ValueError, match=r"sigma2: expected shape \(2, 2\) to match mu1, got \(3, 3\)"):
        metrics.gaussian_frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
