"""coursekit: the helper library behind the course "Generative Image Models, built from scratch".

The public API is small: ``setup`` (seed, print where we run), ``profile`` (size a notebook for
smoke/fast/full), ``device``, ``seed`` and ``show`` (an image grid). Sub-packages hold the rest: ``data``,
``nn``, ``losses``, ``metrics``, ``train``, ``checkpoint``, ``viz``, ``ui`` (every notebook widget),
``rng`` (seeded draws), ``tiling``, ``restoration``, ``grading`` and ``course`` (the manifest). ``tf``
(TensorFlow) is imported only on request: ``import coursekit.tf`` (and ``coursekit.ui.style``, its widget).
``widgets`` is the old name of ``ui``.
"""

from __future__ import annotations

import importlib
import os
import random
from pathlib import Path

from .config import Config, active_profile, checks_learning, profile
from .devices import autocast, describe_device, device, on_colab

__version__ = "0.1.0"
__all__ = [
    "Config", "active_profile", "autocast", "checkpoint_root", "checks_learning", "describe_device", "device",
    "on_colab", "profile", "seed", "setup", "show",
]

_SUBMODULES = (
    "data", "nn", "losses", "metrics", "train", "checkpoint", "viz", "ui", "grading", "course", "rng",
    "tiling", "restoration",
    "widgets",  # deprecated alias of ui, for saved notebooks
)


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

        torch_version = str(torch.__version__)
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


DRIVE_MOUNT = "/content/drive"
DRIVE_ROOT = f"{DRIVE_MOUNT}/MyDrive/coursekit"
CHECKPOINTS_ENV_VAR = "COURSEKIT_CHECKPOINTS"


def checkpoint_root() -> Path:
    """Where notebooks keep checkpoints: env ``COURSEKIT_CHECKPOINTS``, else ``checkpoints`` (relative).

    ``setup(drive=True)`` on Colab points it (and the data cache) into Google Drive, so a run survives the
    end of the Colab session. Use one sub-directory per model: ``ck.checkpoint_root() / "vae"``.
    """
    configured = os.environ.get(CHECKPOINTS_ENV_VAR, "").strip()
    return Path(configured).expanduser() if configured else Path("checkpoints")


def use_google_drive() -> str:
    """On Colab: mount Google Drive and keep checkpoints and the data cache there; elsewhere change nothing.

    Returns the one line ``setup(drive=True)`` prints.
    """
    if not on_colab():
        return "Google Drive: only on Colab; checkpoints stay in ./checkpoints, the cache where it was"
    from google.colab import drive

    drive.mount(DRIVE_MOUNT)
    os.environ[CHECKPOINTS_ENV_VAR] = f"{DRIVE_ROOT}/checkpoints"
    os.environ["COURSEKIT_CACHE"] = f"{DRIVE_ROOT}/cache"
    for path in (checkpoint_root(), Path(os.environ["COURSEKIT_CACHE"])):
        path.mkdir(parents=True, exist_ok=True)
    return f"Google Drive: checkpoints in {checkpoint_root()}, data cache in {DRIVE_ROOT}/cache"


def setup(seed_value: int = 0, drive: bool = False) -> None:
    """Seed everything and print one line saying where and how this notebook runs (``environment_line``).

    ``drive=True`` (Colab) mounts Google Drive first and keeps checkpoints and downloads there
    (``use_google_drive``), printing one more line; elsewhere that line says Drive is only on Colab.
    """
    drive_line = use_google_drive() if drive else None
    seed(seed_value)
    print(environment_line())
    if drive_line:
        print(drive_line)


def show(images, nrow: int | None = None, title: str | None = None, **kwargs) -> None:
    """Show a batch of images in [0, 1] as one grid (``coursekit.viz.show_grid``, which returns the Figure).

    Returns nothing, so ``ck.show(x)`` as a cell's last line displays the grid once, not twice.
    """
    from .viz import show_grid

    show_grid(images, nrow=nrow, title=title, **kwargs)
