"""coursekit: the helper library behind the course "Generative Image Models, built from scratch".

The public API is small: ``setup`` (seed, print where we run), ``profile`` (size a notebook for
smoke/fast/full), ``device``, ``seed`` and ``show`` (an image grid). Sub-packages hold the rest: ``data``,
``metrics``, ``train``, ``checkpoint``, ``viz``, ``widgets`` and ``course`` (the manifest).
"""

from __future__ import annotations

import importlib
import os
import random

from .config import Config, active_profile, profile
from .devices import autocast, describe_device, device, on_colab

__version__ = "0.1.0"
__all__ = [
    "Config", "active_profile", "autocast", "describe_device", "device", "on_colab", "profile", "seed",
    "setup", "show",
]

_SUBMODULES = ("data", "metrics", "train", "checkpoint", "viz", "widgets", "course")


def __getattr__(name: str):
    """Import sub-packages on first use so ``import coursekit`` stays fast and TensorFlow-free."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")


def seed(value: int = 0) -> int:
    """Seed Python, NumPy and torch (all devices) so a run is repeatable."""
    import numpy as np

    random.seed(value)
    np.random.seed(value)
    os.environ["PYTHONHASHSEED"] = str(value)
    try:
        import torch
    except ImportError:
        return value
    torch.manual_seed(value)
    return value


def _framework_versions() -> str:
    """torch's build version (e.g. 2.4.1+cu121) and TensorFlow's package version (TF is never imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    tf_version = "not installed"
    for dist in ("tensorflow", "tensorflow-cpu"):
        try:
            tf_version = version(dist)
            break
        except PackageNotFoundError:
            continue
    return f"torch {torch_version}, TF {tf_version}"


def environment_line() -> str:
    """The one line ``setup`` prints: profile, device, framework versions, online or offline."""
    from .data.registry import network_status

    return (
        f"coursekit {__version__} | profile {active_profile()} | device {describe_device()} | "
        f"{_framework_versions()} | {network_status()}{' | Colab' if on_colab() else ''}"
    )


def setup(seed_value: int = 0) -> None:
    """Seed everything and print one line saying where and how this notebook runs (``environment_line``)."""
    seed(seed_value)
    print(environment_line())


def show(images, nrow: int | None = None, title: str | None = None, **kwargs) -> None:
    """Show a batch of images in [0, 1] as one grid (``coursekit.viz.show_grid``, which returns the Figure).

    Returns nothing, so ``ck.show(x)`` as a cell's last line displays the grid once, not twice.
    """
    from .viz import show_grid

    show_grid(images, nrow=nrow, title=title, **kwargs)
