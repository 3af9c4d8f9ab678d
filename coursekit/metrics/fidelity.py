"""Fidelity to a reference image: PSNR, SSIM (Wang et al. 2004) and the Y channel of super-resolution papers.

PSNR and SSIM are batched torch functions over images in ``[0, data_range]`` with layout (B, C, H, W) or
(C, H, W). They agree with ``skimage.metrics.peak_signal_noise_ratio`` and
``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
to 1e-4 (see tests/metrics/test_metrics.py), run on any device, and are differentiable (``1 - ssim`` is a
loss).

Super-resolution papers (SRCNN, SRResNet/SRGAN, ESRGAN) report PSNR/SSIM on the BT.601 luma channel with
``scale`` border pixels shaved::

    psnr(rgb_to_y(sr), rgb_to_y(hr), shave=4)
"""

from __future__ import annotations

from ..errors import expect_choice, expect_number, expect_positive_int, expect_tensor
from .checks import REDUCTIONS, expect_data_range, expect_in_range, expect_shave, reduce_per_image


def _expect_image_pair(x, y, data_range: float, shave: int):
    """Check two images/batches for PSNR/SSIM; return them as (B, C, H, W) with the border shaved."""
    for name, image in (("x", x), ("y", y)):
        expect_tensor(name, image, ndim=(3, 4))
        expect_in_range(name, image, data_range)
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
    data_range = expect_data_range(data_range)
    expect_choice("reduction", reduction, REDUCTIONS)
    batched = getattr(x, "ndim", 0) == 4
    x, y = _expect_image_pair(x, y, data_range, expect_shave(shave))
    mse = _per_image_in_chunks(_mean_squared_error, x, y)
    per_image = 10.0 * (data_range**2 / mse).log10()
    return reduce_per_image(per_image.to(x.dtype), reduction, batched)


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
    data_range = expect_data_range(data_range)
    expect_choice("reduction", reduction, REDUCTIONS)
    batched = getattr(x, "ndim", 0) == 4
    x, y = _expect_image_pair(x, y, data_range, expect_shave(shave))
    expect_positive_int("win_size", win_size)
    if win_size % 2 == 0:
        raise ValueError(f"win_size: expected an odd window size such as 7 or 11, got {win_size}")
    if min(x.shape[-2:]) < win_size:
        raise ValueError(
            f"x and y: expected images at least win_size={win_size} pixels on each side (after shaving), "
            f"got {tuple(x.shape[-2:])}"
        )
    for name, value in (("sigma", sigma), ("K1", K1), ("K2", K2)):
        if not expect_number(name, value, "a positive number") > 0:
            raise ValueError(f"{name}: expected a positive number, got {value!r}")

    def mean_ssim(x_chunk, y_chunk):
        local = ssim_map(x_chunk, y_chunk, data_range, gaussian, win_size, sigma, K1, K2)
        return local.flatten(1).mean(dim=1)

    return reduce_per_image(_per_image_in_chunks(mean_ssim, x, y), reduction, batched)
