"""Image-quality and distribution metrics: PSNR, SSIM, the Y channel of super-resolution papers, and the
Frechet distance between two sets of features.

PSNR and SSIM are batched torch functions over images in ``[0, data_range]`` with layout (B, C, H, W) or
(C, H, W). They agree with ``skimage.metrics.peak_signal_noise_ratio`` and
``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
to 1e-4 (see tests/test_metrics.py), run on any device, and are differentiable (``1 - ssim`` is a loss).

Super-resolution papers (SRCNN, SRResNet/SRGAN, ESRGAN) report PSNR/SSIM on the BT.601 luma channel with
``scale`` border pixels shaved::

    psnr(rgb_to_y(sr), rgb_to_y(hr), shave=4)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import describe, expect_choice, expect_positive_int, expect_tensor

REDUCTIONS = ("mean", "none")


# --------------------------------------------------------------------------------------------- validation
def _expect_data_range(data_range) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not data_range > 0:
        raise ValueError(f"data_range: expected a positive number such as 1.0 or 255, got {data_range!r}")
    return float(data_range)


def _expect_shave(shave) -> int:
    return expect_positive_int("shave", shave, minimum=0)


def _expect_in_range(what: str, x, hi: float) -> None:
    """``expect_tensor``'s range check for [0, hi] in one pass (``aminmax``; NaN fails every comparison).

    Metrics run on whole validation sets inside training loops, where the generic check (several passes
    and a boolean copy of the batch) cost more than the metric itself.
    """
    import torch

    if not x.numel():
        return
    xmin, xmax = (float(v) for v in torch.aminmax(x.detach()))
    tol = 1e-6 * max(1.0, hi)
    if xmin >= -tol and xmax <= hi + tol:
        return
    if not (math.isfinite(xmin) and math.isfinite(xmax)):
        raise ValueError(f"{what}: expected finite values in [0.0, {hi}], got NaN or inf")
    raise ValueError(f"{what}: expected values in [0.0, {hi}], got values in [{xmin:.4g}, {xmax:.4g}]")


def _expect_image_pair(x, y, data_range: float, shave: int):
    """Check two images/batches for PSNR/SSIM; return them as (B, C, H, W) with the border shaved."""
    for name, image in (("x", x), ("y", y)):
        expect_tensor(name, image, ndim=(3, 4))
        _expect_in_range(name, image, data_range)
    if x.shape != y.shape:
        raise ValueError(f"x and y: expected the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.ndim == 3:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    height, width = x.shape[-2:]
    if 2 * shave >= min(height, width):
        raise ValueError(
            f"shave: expected fewer than half the smaller side ({min(height, width)} pixels), got {shave}"
        )
    if shave:
        x = x[..., shave:-shave, shave:-shave]
        y = y[..., shave:-shave, shave:-shave]
    return x, y


def _reduce(per_image, reduction: str, batched: bool):
    if reduction == "mean":
        return per_image.mean()
    return per_image if batched else per_image[0]


# --------------------------------------------------------------------------------------------- colour
def rgb_to_y(x):
    """The ITU-R BT.601 luma (Y) channel that super-resolution papers evaluate on, in [0, 1].

    ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255`` for R, G, B in [0, 1] (MATLAB's ``rgb2ycbcr``,
    as used by SRCNN, SRGAN, ESRGAN and BasicSR), so Y lies in [16/255, 235/255].
    (B, 3, H, W) -> (B, 1, H, W) and (3, H, W) -> (1, H, W).
    """
    expect_tensor("x", x, ndim=(3, 4), channels=3, value_range=(0.0, 1.0))
    channel_dim = x.ndim - 3
    weights = x.new_tensor([65.481, 128.553, 24.966]) / 255.0
    weights = weights.view(3, 1, 1)
    return (x * weights).sum(dim=channel_dim, keepdim=True) + 16.0 / 255.0


# --------------------------------------------------------------------------------------------- batching
CHUNK_ELEMENTS = 1 << 20


def _per_image_in_chunks(per_image_fn, x, y):
    """``per_image_fn(x_chunk, y_chunk) -> (b,)`` over chunks of whole images of about CHUNK_ELEMENTS values.

    On a CPU, large temporaries are slow (every call maps fresh memory, and it falls out of cache), so SSIM
    of a big batch runs faster in chunks of about a million values, and peak memory stays bounded whatever
    the batch size.
    """
    import torch

    step = max(1, CHUNK_ELEMENTS // max(1, x[0].numel()))
    return torch.cat([per_image_fn(x[i : i + step], y[i : i + step]) for i in range(0, x.shape[0], step)])


def _mean_squared_error(x, y):
    """Per-image MSE, accumulated in float64 (the squared differences of [0, L] values are exact enough)."""
    import torch

    return torch.mean((x - y).pow(2).flatten(1), dim=1, dtype=torch.float64)


# --------------------------------------------------------------------------------------------- PSNR
def psnr(x, y, data_range: float = 1.0, reduction: str = "mean", shave: int = 0):
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``, one value per image.

    x, y: (B, C, H, W) or (C, H, W) float tensors in [0, data_range]. The MSE of each image is taken over
    all its channels and pixels (as ``skimage.metrics.peak_signal_noise_ratio``), in float64.
    ``shave`` removes that many border pixels from each side first (SR convention: shave = scale).
    ``reduction="mean"`` averages the per-image PSNRs (not the MSEs); ``"none"`` returns one per image,
    shape (B,) for a batch and a 0-d tensor for one image. Identical images have MSE 0 and PSNR ``inf``
    (and then a mean over the batch is ``inf`` too). The result has the dtype of ``x``.
    """
    data_range = _expect_data_range(data_range)
    expect_choice("reduction", reduction, REDUCTIONS)
    batched = getattr(x, "ndim", 0) == 4
    x, y = _expect_image_pair(x, y, data_range, _expect_shave(shave))
    mse = _per_image_in_chunks(_mean_squared_error, x, y)
    per_image = 10.0 * (data_range**2 / mse).log10()
    return _reduce(per_image.to(x.dtype), reduction, batched)


# --------------------------------------------------------------------------------------------- SSIM
def gaussian_window(win_size: int = 11, sigma: float = 1.5):
    """The normalised 1-D Gaussian window of SSIM (Wang et al. 2004: 11 taps, sigma 1.5).

    Taps are ``exp(-t^2 / (2 sigma^2))`` for t = -(win_size-1)/2 ... (win_size-1)/2, divided by their sum,
    as ``scipy.ndimage.gaussian_filter`` builds them (float64). The 2-D window is its outer product.
    """
    import torch

    radius = (win_size - 1) // 2
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-(t**2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _separable_filter(maps, taps: list[float]):
    """Valid-mode 2-D filtering of (..., H, W) maps with the separable window ``taps`` (K weights).

    Written as K shifted, weighted sums per axis: on a CPU this is several times faster than ``conv2d``
    with a one-channel kernel, and it runs unchanged on any device and in any float dtype.
    """
    weights = [float(w) for w in taps]
    k = len(weights)
    width = maps.shape[-1] - k + 1
    rows = maps[..., :, 0:width] * weights[0]
    for i in range(1, k):
        rows.add_(maps[..., :, i : i + width], alpha=weights[i])
    height = maps.shape[-2] - k + 1
    out = rows[..., 0:height, :] * weights[0]
    for i in range(1, k):
        out.add_(rows[..., i : i + height, :], alpha=weights[i])
    return out


def ssim_map(
    x,
    y,
    data_range: float = 1.0,
    gaussian: bool = True,
    win_size: int = 11,
    sigma: float = 1.5,
    K1: float = 0.01,
    K2: float = 0.03,
):
    """The local SSIM index of Wang et al. 2004, Eq. (13), for (B, C, H, W) tensors (validated by ``ssim``).

    Local means, variances and the covariance are weighted by the window (Eqs. 14-16, population
    normalisation), C1 = (K1 L)^2 and C2 = (K2 L)^2 with L = data_range. Only window positions that lie
    fully inside the image are kept, so the map is (B, C, H - win_size + 1, W - win_size + 1): this is the
    same set of pixels skimage keeps when it crops (win_size - 1) // 2 from each side of its SSIM map.
    Each image is shifted by its own mean before filtering (SSIM's variances and covariance do not change)
    so that float32 keeps 1e-4 accuracy: E[x^2] - E[x]^2 then cancels small numbers, not large ones.
    """
    batch, channels, height, width = x.shape
    planes_x = x.reshape(batch * channels, 1, height, width)
    planes_y = y.reshape(batch * channels, 1, height, width)
    offset_x = planes_x.mean(dim=(2, 3), keepdim=True)
    offset_y = planes_y.mean(dim=(2, 3), keepdim=True)
    cx, cy = planes_x - offset_x, planes_y - offset_y
    taps = gaussian_window(win_size, sigma).tolist() if gaussian else [1.0 / win_size] * win_size
    mean_cx, mean_cy, mean_xx, mean_yy, mean_xy = (
        _separable_filter(plane, taps) for plane in (cx, cy, cx * cx, cy * cy, cx * cy)
    )
    var_x = mean_xx - mean_cx**2
    var_y = mean_yy - mean_cy**2
    cov_xy = mean_xy - mean_cx * mean_cy
    mu_x, mu_y = mean_cx + offset_x, mean_cy + offset_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    local = numerator / denominator
    return local.reshape(batch, channels, *local.shape[-2:])


def ssim(
    x,
    y,
    data_range: float = 1.0,
    reduction: str = "mean",
    gaussian: bool = True,
    win_size: int = 11,
    sigma: float = 1.5,
    K1: float = 0.01,
    K2: float = 0.03,
    shave: int = 0,
):
    """Mean structural similarity (Wang et al. 2004, Eq. 13), one value per image.

    x, y: (B, C, H, W) or (C, H, W) float tensors in [0, data_range]. Each channel gets its own SSIM map
    (``ssim_map``); an image's SSIM is the mean over its channels and over the window positions that fit
    inside it. With the defaults this equals
    ``skimage.metrics.structural_similarity(x, y, data_range=..., channel_axis=..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)``. ``gaussian=False`` uses a uniform win_size x win_size window
    (skimage's ``gaussian_weights=False, use_sample_covariance=False, win_size=...``). skimage sizes its
    Gaussian filter by sigma (radius ``int(3.5 sigma + 0.5)``), so for other sigmas pass
    ``win_size = 2 * int(3.5 * sigma + 0.5) + 1`` to keep agreeing with it.
    ``shave`` removes that many border pixels first; ``reduction`` as in ``psnr``.
    """
    data_range = _expect_data_range(data_range)
    expect_choice("reduction", reduction, REDUCTIONS)
    batched = getattr(x, "ndim", 0) == 4
    x, y = _expect_image_pair(x, y, data_range, _expect_shave(shave))
    expect_positive_int("win_size", win_size)
    if win_size % 2 == 0:
        raise ValueError(f"win_size: expected an odd window size such as 7 or 11, got {win_size}")
    if min(x.shape[-2:]) < win_size:
        raise ValueError(
            f"x and y: expected images at least win_size={win_size} pixels on each side (after shaving), "
            f"got {tuple(x.shape[-2:])}"
        )
    for name, value in (("sigma", sigma), ("K1", K1), ("K2", K2)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name}: expected a positive number, got {value!r}")

    def mean_ssim(x_chunk, y_chunk):
        local = ssim_map(x_chunk, y_chunk, data_range, gaussian, win_size, sigma, K1, K2)
        return local.flatten(1).mean(dim=1)

    return _reduce(_per_image_in_chunks(mean_ssim, x, y), reduction, batched)


# --------------------------------------------------------------------------------------------- Frechet
def _expect_features(what: str, feats) -> np.ndarray:
    if hasattr(feats, "detach"):
        feats = feats.detach().cpu().numpy()
    if not isinstance(feats, np.ndarray) or feats.ndim != 2:
        raise ValueError(f"{what}: expected an (N, D) array of features, got {describe(feats)}")
    if not np.issubdtype(feats.dtype, np.number):
        raise ValueError(f"{what}: expected numeric features, got dtype {feats.dtype}")
    if feats.shape[0] < 2:
        raise ValueError(
            f"{what}: expected at least 2 feature vectors to estimate a covariance, got {feats.shape[0]}"
        )
    feats = feats.astype(np.float64)
    if not np.isfinite(feats).all():
        raise ValueError(f"{what}: expected finite features, got NaN or inf")
    return feats


def gaussian_frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`` (Dowson & Landau 1982; the formula
    of FID, Heusel et al. 2017). The matrix square root is ``scipy.linalg.sqrtm``, handled as the reference
    FID code does: if the product is near singular and the root is not finite, ``eps`` is added to both
    diagonals and the root taken again; a root that comes back complex from round-off keeps its real part,
    unless its diagonal has an imaginary part above 1e-3 (then a ValueError). Round-off below zero is
    returned as 0.
    """
    from scipy import linalg

    mu1, mu2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, np.float64)) for s in (sigma1, sigma2))
    dim = mu1.shape[0]
    expected = (("mu2", mu2, (dim,)), ("sigma1", sigma1, (dim, dim)), ("sigma2", sigma2, (dim, dim)))
    for name, value, shape in expected:
        if value.shape != shape:
            raise ValueError(f"{name}: expected shape {shape} to match mu1, got {value.shape}")
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(dim) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        largest = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if largest > 1e-3:
            raise ValueError(
                f"sqrtm(sigma1 sigma2): expected a real square root, got imaginary parts up to {largest:.3g}"
            )
        covmean = covmean.real
    diff = mu1 - mu2
    distance = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(distance, 0.0)


def frechet_distance(feats_a, feats_b, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two (N, D) feature sets (numpy or torch).

    Means and covariances (``np.cov``, unbiased) are estimated in float64, then
    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (see ``gaussian_frechet_distance`` for how the
    square root of a near-singular product is handled). Symmetric, 0 for identical sets. With fewer
    vectors than dimensions the covariances are singular and the estimate is biased upwards: compare
    distances computed from the same number of samples.
    """
    a = _expect_features("feats_a", feats_a)
    b = _expect_features("feats_b", feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feats_a and feats_b: expected the same feature size D, got {a.shape[1]} and {b.shape[1]}"
        )
    return gaussian_frechet_distance(
        a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False), eps
    )


def frechet_label(extractor) -> str:
    """What to call a Frechet distance on this extractor's features, e.g. 'Frechet distance on VGG features'.

    It is FID only with the Inception-v3 pool features of Heusel et al. 2017; the course uses other
    (often randomly initialised, offline) extractors, so the number must not be called FID.
    """
    name = getattr(extractor, "name", None) or type(extractor).__name__
    return f"Frechet distance on {name} features"


def extract_features(extractor: Callable, images, batch_size: int = 64, device=None) -> np.ndarray:
    """Run ``extractor`` over (N, C, H, W) images in batches without gradients; return (N, D) float64.

    Outputs of any shape (B, ...) are flattened to (B, D). A torch Module is put in eval mode for the run
    and given back its previous mode afterwards; it is not moved: ``device`` (default: the device of its
    first parameter, else CPU) is where the images are sent.
    """
    import torch

    expect_tensor("images", images, ndim=4)
    expect_positive_int("batch_size", batch_size)
    if device is None:
        params = list(extractor.parameters()) if isinstance(extractor, torch.nn.Module) else []
        device = params[0].device if params else torch.device("cpu")
    was_training = isinstance(extractor, torch.nn.Module) and extractor.training
    if isinstance(extractor, torch.nn.Module):
        extractor.eval()
    try:
        chunks = []
        with torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                batch = images[start : start + batch_size].to(device)
                chunks.append(extractor(batch).reshape(batch.shape[0], -1).double().cpu())
    finally:
        if was_training:
            extractor.train()
    return torch.cat(chunks).numpy()


def frechet_distance_of(extractor: Callable, images_a, images_b, batch_size: int = 64, device=None) -> float:
    """The Frechet distance between two image sets (N, C, H, W) in the feature space of ``extractor``.

    This is the FID recipe with a feature extractor of your choice. Without Inception-v3 weights the result
    is a "Frechet distance on <extractor>" (see ``frechet_label``), not FID: its values are not comparable
    with published FIDs, only with each other for the same extractor and sample sizes.
    """
    feats_a = extract_features(extractor, images_a, batch_size, device)
    feats_b = extract_features(extractor, images_b, batch_size, device)
    return frechet_distance(feats_a, feats_b)


__all__ = [
    "extract_features",
    "frechet_distance",
    "frechet_distance_of",
    "frechet_label",
    "gaussian_frechet_distance",
    "gaussian_window",
    "psnr",
    "rgb_to_y",
    "ssim",
    "ssim_map",
]


# --------------------------------------------------------------------------------------------- MIG
# Module 03: the mutual information gap (Chen et al. 2018) with the recipe of google-research's
# disentanglement_lib (evaluation/metrics/mig.py): latent means discretised into 20 equal-width histogram
# bins, discrete mutual information in nats (as sklearn.metrics.mutual_info_score), H(v_k) = I(v_k; v_k).
MIG_BINS = 20
_MIG_CHUNK_VALUES = 1 << 20  # joint-histogram indices built per chunk of rows (4 MB of int32)
_MIG_BLOCK_VALUES = 1 << 11  # factors are combined into blocks of at most this many joint values
_MIG_MAX_COUNTS = 1 << 27  # joint histogram cells (1 GB of int64): more means labels that are not discrete


@dataclass
class MIGResult:
    """What :func:`mig_report` and :func:`mig_from_mutual_info` return.

    ``score`` is the MIG, the mean of ``gaps`` over the factors that vary; ``gaps[k]`` is factor k's
    normalised gap (I(z_top1; v_k) - I(z_top2; v_k)) / H(v_k), NaN for a single-valued factor (skipped);
    ``mutual_info`` is the (L, K) matrix I(z_j; v_k) in nats; ``entropy`` the (K,) factor entropies H(v_k);
    ``top_latent[k]`` the latent with the most information about factor k. ``float(result)`` is the score.
    """

    score: float
    gaps: np.ndarray
    mutual_info: np.ndarray
    entropy: np.ndarray
    top_latent: np.ndarray

    def __float__(self) -> float:
        return self.score


def _as_columns(what: str, values, *, finite: bool = True) -> np.ndarray:
    """A (N,) or (N, D) numpy array / torch tensor / list as an (N, D) numeric numpy array, validated."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{what}: expected a non-empty (N,) or (N, D) array (N samples), got {describe(array)}"
        )
    if array.dtype == bool:
        array = array.astype(np.int64)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{what}: expected integer or floating-point values, got dtype {array.dtype}")
    if finite and np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            column = int(np.nonzero(bad.any(axis=0))[0][0])
            raise ValueError(
                f"{what}: expected finite values, got {int(bad.sum())} NaN or inf entries (first in column "
                f"{column}); drop those samples or check the encoder"
            )
    return array


def _expect_same_length(names: tuple[str, str], a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]}: expected the same number of samples N (one row per sample), "
            f"got {a.shape[0]} and {b.shape[0]}"
        )


def _dense_labels(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's values as labels 0..n_d-1: (labels (N, D) int64, label counts n_d (D,)).

    Integer columns are shifted to start at 0 (a value that never occurs is an empty histogram bin, which
    changes no entropy or MI); other columns are ranked by one sort per column, all columns at once.
    """
    n = array.shape[0]
    if np.issubdtype(array.dtype, np.integer):
        shifted = np.subtract(array, array.min(axis=0), dtype=np.int64)
        sizes = shifted.max(axis=0) + 1
        if sizes.max() <= n:
            return shifted, sizes
    order = np.argsort(array, axis=0, kind="stable")
    ordered = np.take_along_axis(array, order, axis=0)
    ranks = np.zeros(array.shape, np.int64)
    ranks[1:] = np.cumsum(ordered[1:] != ordered[:-1], axis=0)
    labels = np.empty_like(ranks)
    np.put_along_axis(labels, order, ranks, axis=0)
    return labels, ranks[-1] + 1


def discretize(latents, bins: int = MIG_BINS) -> np.ndarray:
    """Each latent column cut into ``bins`` equal-width bins over its own range: (N, L) codes 0..bins-1.

    The histogram discretisation of disentanglement_lib (``utils._histogram_discretize``), column by
    column ``np.digitize(x, np.histogram(x, bins)[1][:-1]) - 1``, for all columns at once: the bin is
    computed arithmetically, and the few values that land within round-off of a bin edge are compared with
    numpy's exact edges (the same ``np.linspace`` in the input's float dtype), so the codes equal numpy's.
    A constant column gets numpy's range (x - 0.5, x + 0.5) and one code.
    """
    expect_positive_int("bins", bins)
    x = _as_columns("latents", latents)
    dtype = x.dtype.type if np.issubdtype(x.dtype, np.floating) else np.float64
    x = x.astype(dtype, copy=False)
    low, high = x.min(axis=0), x.max(axis=0)
    constant = low == high
    low = np.where(constant, low - dtype(0.5), low).astype(dtype)
    high = np.where(constant, high + dtype(0.5), high).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        position = x - low
        position *= (bins / (high.astype(np.float64) - low)).astype(dtype)
        whole = np.floor(position)
        position -= whole + dtype(0.5)  # the offset from the middle of the bin: -0.5 to 0.5
        near_edge = ~(np.abs(position, out=position) <= 0.5 - 1e-3)  # also catches overflow (inf, NaN)
    codes = np.clip(whole, 0, bins - 1, out=whole).astype(np.int32)
    rows, cols = np.nonzero(near_edge)
    if rows.size:
        inner_edges = np.linspace(low, high, bins + 1, axis=1, dtype=dtype)[:, 1:-1]  # as np.histogram's
        codes[rows, cols] = (x[rows, cols][:, None] >= inner_edges[cols]).sum(axis=1)
    return codes


def _factor_blocks(sizes: np.ndarray, limit: int) -> list[list[int]]:
    """Consecutive columns grouped so that the product of sizes in a group stays <= limit (or one column)."""
    blocks: list[list[int]] = []
    product = limit + 1
    for column, size in enumerate(sizes.tolist()):
        if product * size > limit:
            blocks.append([])
            product = 1
        blocks[-1].append(column)
        product *= size
    return blocks


def _joint_counts(codes: np.ndarray, code_sizes: np.ndarray, labels: np.ndarray, label_sizes: np.ndarray):
    """Joint histograms of every (code column j, label column k) pair: counts (L, K, B, V) by one bincount.

    Label columns are first combined into blocks (e.g. shape x scale x orientation = 720 values and
    pos_x x pos_y = 1,024 for shapes2d), so each sample adds L x (number of blocks) counts instead of
    L x K; block values sit side by side in a row of width W, and sample n adds 1 at the flat index
    (j B + codes[n, j]) W + offset(block) + value(block) for every code column j and block. The per-factor
    joints are then sums over the other factors of a block. Rows go in chunks so memory stays bounded.
    """
    n, num_latents = codes.shape
    width_b = int(code_sizes.max())
    blocks = _factor_blocks(label_sizes, _MIG_BLOCK_VALUES)
    block_sizes = [int(np.prod(label_sizes[block])) for block in blocks]
    offsets = np.cumsum([0, *block_sizes])
    width = int(offsets[-1])
    size = num_latents * width_b * width
    if size > _MIG_MAX_COUNTS:
        raise ValueError(
            f"codes and factors: {num_latents} code columns with up to {width_b:,} distinct values against "
            f"factor blocks of {width:,} joint values need {size:,} histogram cells (at most "
            f"{_MIG_MAX_COUNTS:,}): discretise continuous latents first (coursekit.metrics.discretize)"
        )
    index_dtype = np.int32 if size < 2**31 else np.int64
    block_values = np.empty((n, len(blocks)), index_dtype)
    for b, block in enumerate(blocks):  # one pass per block of factors (2 for shapes2d)
        sizes = tuple(int(label_sizes[k]) for k in block)
        block_values[:, b] = np.ravel_multi_index(tuple(labels[:, k] for k in block), sizes) + offsets[b]
    code_base = codes.astype(index_dtype)
    code_base += (np.arange(num_latents) * width_b).astype(index_dtype)
    code_base *= width
    counts = np.zeros(size, np.int64)
    rows = max(1, _MIG_CHUNK_VALUES // (num_latents * len(blocks)))
    for start in range(0, n, rows):
        flat = code_base[start : start + rows, :, None] + block_values[start : start + rows, None, :]
        counts += np.bincount(flat.ravel(), minlength=size)
    counts = counts.reshape(num_latents, width_b, width)
    joint = np.zeros((num_latents, labels.shape[1], width_b, int(label_sizes.max())), np.int64)
    for b, block in enumerate(blocks):
        grid = counts[:, :, offsets[b] : offsets[b + 1]].reshape(num_latents, width_b, *label_sizes[block])
        for position, k in enumerate(block):
            others = tuple(2 + i for i in range(len(block)) if i != position)
            joint[:, k, :, : label_sizes[k]] = grid.sum(axis=others)
    return joint


def _entropy_from_counts(counts: np.ndarray, n: int) -> np.ndarray:
    """Entropy in nats of histograms along the last axis, sum_i (c_i / n) (log n - log c_i)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, counts / n * (math.log(n) - np.log(counts)), 0.0)
    return terms.sum(axis=-1)


def _mutual_info_from_joint(joint: np.ndarray, n: int) -> np.ndarray:
    """I(a; b) in nats from joint counts (..., A, B), as sklearn's ``mutual_info_score`` sums it.

    sum_{a,b} (c_ab / n) (log c_ab + log n - log c_a - log c_b) over the non-empty cells; terms below
    machine epsilon become 0 and the sum is clipped at 0. A column with a single value carries no
    information: its MI is exactly 0 (sklearn's rule too, rather than a round-off of 1e-16).
    """
    rows = joint.sum(axis=-1, keepdims=True)
    cols = joint.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = joint / n * (np.log(joint) + math.log(n) - np.log(rows) - np.log(cols))
    terms = np.where((joint > 0) & (np.abs(terms) >= np.finfo(np.float64).eps), terms, 0.0)
    single_valued = ((rows > 0).sum(axis=(-2, -1)) <= 1) | ((cols > 0).sum(axis=(-2, -1)) <= 1)
    return np.where(single_valued, 0.0, np.clip(terms.sum(axis=(-2, -1)), 0.0, None))


def discrete_entropy(factors) -> np.ndarray:
    """Entropy H(v_k) in nats of each column of discrete values (N,) or (N, K) -> (K,).

    Equals ``sklearn.metrics.mutual_info_score(v, v)``, which is how disentanglement_lib computes the
    normaliser of MIG (Chen et al. 2018, Eq. 6). Any integer, float or bool labels; no loop over columns.
    """
    labels, sizes = _dense_labels(_as_columns("factors", factors))
    num_factors, width = labels.shape[1], int(sizes.max())
    flat = (labels + np.arange(num_factors)[None, :] * width).ravel()
    counts = np.bincount(flat, minlength=num_factors * width).reshape(num_factors, width)
    return _entropy_from_counts(counts, labels.shape[0])


def discrete_mutual_info(codes, factors) -> np.ndarray:
    """The (L, K) matrix of discrete mutual information I(z_j; v_k) in nats between label columns.

    ``codes`` (N,) or (N, L) and ``factors`` (N,) or (N, K) hold discrete labels (integers, or floats used
    as labels): discretise continuous latents first with :func:`discretize`. Entry (j, k) equals
    ``sklearn.metrics.mutual_info_score(factors[:, k], codes[:, j])`` (to 1e-9, see tests/test_mig.py); all
    L x K joint histograms come from a single ``np.bincount``, with no loop over pairs.
    """
    codes_2d = _as_columns("codes", codes)
    factors_2d = _as_columns("factors", factors)
    _expect_same_length(("codes", "factors"), codes_2d, factors_2d)
    code_labels, code_sizes = _dense_labels(codes_2d)
    factor_labels, factor_sizes = _dense_labels(factors_2d)
    joint = _joint_counts(code_labels, code_sizes, factor_labels, factor_sizes)
    return _mutual_info_from_joint(joint, codes_2d.shape[0])


def mig_from_mutual_info(mutual_info, entropy, factor_names=None) -> MIGResult:
    """MIG from an (L, K) mutual-information matrix and the (K,) factor entropies (Chen et al. 2018, Eq. 6).

    MIG = (1/K) sum_k (I(z_j(k); v_k) - I(z_j'; v_k)) / H(v_k), with j(k) the latent of largest MI with
    factor k and j' the second largest: the *gap*, so a factor spread over two latents scores low even
    when both carry much information. Factors with H(v_k) = 0 (single-valued) are skipped with a warning.
    """
    mi = np.asarray(mutual_info, dtype=np.float64)
    h = np.asarray(entropy, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[0] < 2:
        raise ValueError(
            f"mutual_info: expected an (L, K) matrix with at least 2 latents (the gap is the top MI minus "
            f"the second), got shape {mi.shape}"
        )
    if h.shape != (mi.shape[1],):
        raise ValueError(f"entropy: expected shape ({mi.shape[1]},), one per factor, got {h.shape}")
    if not (np.isfinite(mi).all() and np.isfinite(h).all()) or (h < 0).any():
        raise ValueError("mutual_info and entropy: expected finite values and entropies >= 0")
    names = list(factor_names) if factor_names is not None else [f"factor {k}" for k in range(h.size)]
    varying = h > 0
    if not varying.any():
        raise ValueError(
            f"factors: every factor has a single value (entropy 0), so MIG is undefined: {names}"
        )
    if not varying.all():
        skipped = [name for name, v in zip(names, varying, strict=True) if not v]
        warnings.warn(f"MIG skips factors with a single value (entropy 0): {skipped}", stacklevel=2)
    ranked = np.sort(mi, axis=0)[::-1]
    gaps = np.full(h.shape, np.nan)
    gaps[varying] = (ranked[0, varying] - ranked[1, varying]) / h[varying]
    return MIGResult(float(np.mean(gaps[varying])), gaps, mi, h, np.argmax(mi, axis=0))


def mig_report(latents, factors, bins: int | None = MIG_BINS, factor_names=None) -> MIGResult:
    """The mutual information gap of latents (N, L) against ground-truth factors (N, K), with its parts.

    The disentanglement_lib recipe (Chen et al. 2018, Eq. 6): each latent (usually the encoder means) is
    discretised into ``bins`` equal-width bins (:func:`discretize`; ``bins=None`` when the latents are
    already discrete labels), I(z_j; v_k) is the discrete mutual information, H(v_k) the factor entropy,
    and the score is the mean over factors of the normalised top-1 minus top-2 gap. Constant latents carry
    MI 0; single-valued factors are skipped with a warning. Values lie in [0, 1].
    """
    latents_2d = _as_columns("latents", latents)
    factors_2d = _as_columns("factors", factors)
    _expect_same_length(("latents", "factors"), latents_2d, factors_2d)
    if bins is None:
        codes, code_sizes = _dense_labels(latents_2d)
    else:
        codes, code_sizes = discretize(latents_2d, bins), np.full(latents_2d.shape[1], bins)
    labels, label_sizes = _dense_labels(factors_2d)
    joint = _joint_counts(codes, code_sizes, labels, label_sizes)
    n = latents_2d.shape[0]
    entropy = _entropy_from_counts(joint[0].sum(axis=1), n)  # the factor histograms, from any latent's joint
    return mig_from_mutual_info(_mutual_info_from_joint(joint, n), entropy, factor_names)


def mig(latents, factors, bins: int | None = MIG_BINS) -> float:
    """The mutual information gap (Chen et al. 2018, Eq. 6) as one number; see :func:`mig_report`."""
    return mig_report(latents, factors, bins).score


__all__ += [
    "MIGResult",
    "discrete_entropy",
    "discrete_mutual_info",
    "discretize",
    "mig",
    "mig_from_mutual_info",
    "mig_report",
]


# --------------------------------------------------------------------------------------------- 05 sharpness
def high_frequency_energy(x, cutoff: float = 0.25, reduction: str = "mean", shave: int = 0):
    """Mean energy per pixel above a spatial frequency: a sharpness measure that needs no reference image.

    x: (B, C, H, W) or (C, H, W) in [0, 1] (pass the Y channel for SR results). Each channel is windowed
    (Hann, so the image border does not count as an edge), Fourier transformed, and the power at radial
    frequencies above ``cutoff`` cycles per pixel (Nyquist is 0.5) is summed and divided by H * W (by
    Parseval, the mean square of the high-pass image), averaged over channels. Blurry images (bicubic,
    MSE-trained SR) have less of it than the ground truth; GAN-trained SR puts texture back (Ledig et al.
    2017: lower PSNR, sharper). ``shave`` removes border pixels first. One value per image with
    ``reduction="none"``.
    """
    import torch

    expect_choice("reduction", reduction, REDUCTIONS)
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff: expected a frequency in (0, 0.5) cycles per pixel, got {cutoff!r}")
    expect_tensor("x", x, ndim=(3, 4))
    _expect_in_range("x", x, 1.0)
    batched = x.ndim == 4
    x = x if batched else x.unsqueeze(0)
    shave = _expect_shave(shave)
    if 2 * shave >= min(x.shape[-2:]) - 2:
        smaller = min(x.shape[-2:])
        raise ValueError(f"shave: expected fewer than half the smaller side ({smaller}), got {shave}")
    if shave:
        x = x[..., shave:-shave, shave:-shave]
    height, width = x.shape[-2:]
    x = x.to(torch.float64)
    window = torch.outer(
        torch.hann_window(height, periodic=False, dtype=x.dtype, device=x.device),
        torch.hann_window(width, periodic=False, dtype=x.dtype, device=x.device),
    )
    power = torch.fft.fft2((x - x.mean(dim=(-2, -1), keepdim=True)) * window).abs().pow(2)
    fy = torch.fft.fftfreq(height, dtype=x.dtype, device=x.device)[:, None]
    fx = torch.fft.fftfreq(width, dtype=x.dtype, device=x.device)[None, :]
    mask = (fy**2 + fx**2).sqrt() > cutoff
    per_image = ((power * mask).sum(dim=(-2, -1)) / (height * width) ** 2).mean(dim=1)
    # normalise by the window's energy so a flat-spectrum image gives the same number at any size
    per_image = per_image * (height * width) / window.pow(2).sum()
    return _reduce(per_image.float(), reduction, batched)


__all__ += ["high_frequency_energy"]
