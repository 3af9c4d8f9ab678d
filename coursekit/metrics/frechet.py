"""The Frechet distance between two sets of features (Dowson & Landau 1982), as FID computes it (Heusel et
al. 2017), with a feature extractor of the course's choice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import describe, expect_positive_int, expect_tensor


def _expect_features(what: str, feats) -> np.ndarray:
    if hasattr(feats, "detach"):
        feats = feats.detach().cpu().numpy()
    if not isinstance(feats, np.ndarray):
        raise TypeError(f"{what}: expected an (N, D) array of features, got {describe(feats)}")
    if feats.ndim != 2:
        raise ValueError(f"{what}: expected an (N, D) array of features, got {describe(feats)}")
    if not np.issubdtype(feats.dtype, np.number):
        raise TypeError(f"{what}: expected numeric features, got dtype {feats.dtype}")
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
        if isinstance(extractor, torch.nn.Module):
            extractor.train(was_training)
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
