"""Datasets of the course: real sources when reachable, honest stand-ins offline.

Each loader prints one line naming the source it used (and a one-line notice when it falls back). The
registry of downloadable files (URLs, checksums, licences) is :mod:`coursekit.data.registry`; degradations for
restoration labs are in :mod:`coursekit.data.degrade` (imported on demand, not here).

>>> import coursekit.data as ckd
>>> train = ckd.load("digits", split="train", size=28)   # MNIST online, scikit-learn digits offline

The loaders ``digits``, ``shapes2d``, ``faces``, ``photos`` and ``voxels`` share their module's name, so on
this package the name is the function; import a module's helpers by full path, e.g.
``from coursekit.data.faces import render_faces``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import expect_choice
from .digits import LabelledImages, digits
from .faces import Faces, faces, icgan_faces, lfw_faces
from .photos import Photos, lr_hr_pairs, photos, random_patches, textures
from .registry import cache_dir, entry, fetch, is_online, names, network_status, offline_forced
from .shapes2d import Shapes2D, shapes2d
from .voxels import voxels

DATASETS: dict[str, Callable[..., Any]] = {
    "digits": digits,
    "shapes2d": shapes2d,
    "faces": faces,
    "icgan_faces": icgan_faces,
    "lfw_faces": lfw_faces,
    "photos": photos,
    "textures": textures,
    "voxels": voxels,
}


def load(name: str, **kwargs):
    """Load dataset ``name`` (one of DATASETS) with that loader's keyword arguments."""
    return DATASETS[expect_choice("dataset", name, list(DATASETS))](**kwargs)


__all__ = [
    "DATASETS",
    "Faces",
    "LabelledImages",
    "Photos",
    "Shapes2D",
    "cache_dir",
    "digits",
    "entry",
    "faces",
    "fetch",
    "icgan_faces",
    "is_online",
    "lfw_faces",
    "load",
    "lr_hr_pairs",
    "names",
    "network_status",
    "offline_forced",
    "photos",
    "random_patches",
    "shapes2d",
    "textures",
    "voxels",
]
