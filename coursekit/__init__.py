"""coursekit: the helper library behind the course "Generative Image Models, built from scratch".

The public API is small: ``setup`` (seed, print where we run), ``profile`` (size a notebook for
smoke/fast/full), ``device``, ``seed`` and ``show`` (an image grid). Sub-packages hold the rest: ``data``,
``nn``, ``metrics``, ``losses``, ``train``, ``checkpoint``, ``viz``, ``widgets``, ``tf`` and ``grading``.
"""

from __future__ import annotations

import importlib
import os
import random

from .config import Config, active_profile, profile
from .device import autocast, describe_device, device, on_colab

__version__ = "0.1.0"
__all__ = ["Config", "active_profile", "autocast", "device", "on_colab", "profile", "seed", "setup", "show"]

_SUBMODULES = ("data", "nn", "metrics", "losses", "train", "checkpoint", "viz", "widgets", "tf", "grading")


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
    """torch and TensorFlow versions from package metadata (never imports TensorFlow)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for label, dists in (("torch", ("torch",)), ("TF", ("tensorflow", "tensorflow-cpu"))):
        found = None
        for dist in dists:
            try:
                found = version(dist)
                break
            except PackageNotFoundError:
                continue
        parts.append(f"{label} {found or 'not installed'}")
    return ", ".join(parts)


def environment_line() -> str:
    """The one line ``setup`` prints: profile, device, framework versions, online or offline."""
    from .data.registry import network_status

    return (
        f"coursekit {__version__} | profile {active_profile()} | device {describe_device()} | "
        f"{_framework_versions()} | {network_status()}{' | Colab' if on_colab() else ''}"
    )


def setup(seed_value: int = 0, quiet: bool = False) -> str:
    """Seed everything and print one line saying where and how this notebook runs. Returns that line."""
    seed(seed_value)
    line = environment_line()
    if not quiet:
        print(line)
    return line


def show(images, nrow: int | None = None, title: str | None = None, **kwargs):
    """Show a batch of images in [0, 1] as one grid (see ``coursekit.viz.show_grid``)."""
    from .viz import show_grid

    return show_grid(images, nrow=nrow, title=title, **kwargs)
