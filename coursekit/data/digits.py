"""Handwritten digits: MNIST online, scikit-learn's bundled 8x8 digits offline.

Both come back as :class:`LabelledImages`: float32 images in [0, 1] of shape (N, 1, size, size) with int64
labels, usable directly as a torch Dataset.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import expect_choice, expect_positive_int
from .download import announce, resolve

SPLITS = ("train", "test")
TEST_FRACTION = 0.2
SPLIT_SEED = 0


class LabelledImages(Dataset):
    """Images (N, C, ...) in [0, 1] with int64 labels; ``dataset[i]`` is ``(image, label)``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, source: str, class_names: list[str]):
        if len(images) != len(labels):
            raise ValueError(
                f"images and labels: expected the same length, got {len(images)} and {len(labels)}"
            )
        self.images = images
        self.labels = labels
        self.source = source
        self.class_names = class_names

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        shape = tuple(self.images.shape[1:])
        return f"{type(self).__name__}({len(self)} images of shape {shape}, {self.source})"


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, C, H, W) images to size x size: antialiased bilinear, clamped to [0, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(
        images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    ).clamp(0, 1)


def read_idx(path: Path, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST format: big-endian magic, dims, then uint8 data), gzip or not.

    ``ndim`` (3 for images, 1 for labels) is checked when given. A file that is not gzip (when named .gz), is
    cut short, has another magic number or more / fewer data bytes than its dimensions say raises a ValueError
    naming what was expected and what came.
    """
    gzipped = str(path).endswith(".gz")
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except gzip.BadGzipFile as error:
        raise ValueError(
            f"{path}: expected a gzip file (an .idx.gz from the MNIST mirrors), got {error}"
        ) from None
    except EOFError as error:
        raise ValueError(f"{path}: expected a complete gzip file, got one cut short ({error})") from None
    if len(data) < 4:
        raise ValueError(f"{path}: expected an IDX file (4-byte magic number), got {len(data)} bytes")
    zero, dtype_code, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: expected an IDX file of unsigned bytes, got magic {data[:4].hex()}")
    if ndim is not None and dims != ndim:
        raise ValueError(
            f"{path}: expected an IDX file of {ndim} dimensions (magic {0x800 + ndim:08x}), "
            f"got {dims} (magic {data[:4].hex()})"
        )
    if len(data) < 4 + 4 * dims:
        raise ValueError(
            f"{path}: expected {dims} dimension sizes after the magic number, got a shorter file"
        )
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    expected = int(np.prod(shape))
    got = len(data) - 4 - 4 * dims
    if got != expected:
        raise ValueError(
            f"{path}: expected {expected:,} bytes of data for shape {shape}, got {got:,} "
            f"({'truncated' if got < expected else 'trailing bytes'})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def stratified_split(labels: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """Deterministic stratified split: per class, a seeded permutation; the first ``test_fraction`` is test.

    Returns (train_indices, test_indices), each sorted.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(members)))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _mnist(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", ndim=3)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", ndim=1)
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(
        labels.astype(np.int64)
    )


def _sklearn_digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    train, test = stratified_split(bunch.target)
    keep = train if split == "train" else test
    images = torch.from_numpy(bunch.images[keep].astype(np.float32) / 16.0).unsqueeze(1)
    return images, torch.from_numpy(bunch.target[keep].astype(np.int64))


def digits(split: str = "train", size: int = 28, source: str = "auto") -> LabelledImages:
    """Handwritten digits as (N, 1, size, size) float32 in [0, 1] with int64 labels 0..9.

    Online: MNIST (LeCun et al. 1998; 60,000 train / 10,000 test). Offline stand-in: scikit-learn's bundled
    digits (1,797 real 8x8 scans from UCI), upsampled to ``size``; split 80/20 by a seeded stratified
    permutation (1,437 train / 360 test), the same on every machine.
    """
    expect_choice("split", split, SPLITS)
    expect_positive_int("size", size, minimum=4)
    folder = resolve("mnist", source, dataset="digits")
    if folder is not None:
        images, labels = _mnist(folder, split)
        what = f"MNIST {split} ({len(images):,} images, cached in {folder})"
    else:
        images, labels = _sklearn_digits(split)
        what = (
            f"scikit-learn bundled handwritten digits (offline stand-in for MNIST; {split} split "
            f"{len(images):,} of 1,797 8x8 images, resized to {size}x{size})"
        )
    dataset = LabelledImages(
        resize_images(images, size).contiguous(), labels, what, [str(d) for d in range(10)]
    )
    announce("digits", what)
    return dataset
