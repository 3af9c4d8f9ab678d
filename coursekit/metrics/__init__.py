"""Metrics of the course, one family per module; import them from here (``from coursekit import metrics``).

- ``fidelity``: PSNR, SSIM (Wang et al. 2004) and the BT.601 Y channel of super-resolution papers, batched
  torch functions that agree with scikit-image to 1e-4;
- ``frechet``: the Frechet distance between Gaussians fitted to two feature sets (the formula of FID,
  Heusel et al. 2017) and the feature extraction around it;
- ``disentanglement``: the mutual information gap, MIG (Chen et al. 2018), and its discrete entropies and
  mutual informations;
- ``sharpness``: the high-frequency energy of an image, a sharpness measure without a reference;
- ``checks``: the argument checks and per-image reduction the image metrics share.
"""

from .disentanglement import (
    MIG_BINS,
    MIGResult,
    discrete_entropy,
    discrete_mutual_info,
    discretize,
    mig,
    mig_from_mutual_info,
    mig_report,
)
from .fidelity import gaussian_window, psnr, rgb_to_y, ssim, ssim_map
from .frechet import (
    extract_features,
    frechet_distance,
    frechet_distance_of,
    frechet_label,
    gaussian_frechet_distance,
)
from .sharpness import high_frequency_energy

__all__ = [
    "MIG_BINS",
    "MIGResult",
    "discrete_entropy",
    "discrete_mutual_info",
    "discretize",
    "extract_features",
    "frechet_distance",
    "frechet_distance_of",
    "frechet_label",
    "gaussian_frechet_distance",
    "gaussian_window",
    "high_frequency_energy",
    "mig",
    "mig_from_mutual_info",
    "mig_report",
    "psnr",
    "rgb_to_y",
    "ssim",
    "ssim_map",
]
