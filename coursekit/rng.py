"""Seeded random draws for pure functions of a seed: the course's degradations and synthetic data sets.

A function that takes a ``seed`` builds its own ``generator(seed)`` and draws everything from it, so the
same seed gives the same result and the global RNG is never touched. Generators live on the CPU, so a seed
gives the same numbers whatever device the images are on. A composite step (e.g. the old-photo degradation
of Wan et al. 2020, a random chain of blur, noise, resizing and JPEG) hands each inner seeded function a
``sub_seed(gen)`` drawn from its own generator, so the whole chain stays a pure function of one seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import torch

from .errors import expect_positive_int

__all__ = ["expect_seed", "generator", "randint", "sub_seed", "uniform", "uniform_float"]

SUB_SEED_BOUND = 2**62  # sub-seeds are drawn from 0 .. SUB_SEED_BOUND - 1


def expect_seed(seed) -> int:
    """``seed`` as a Python int >= 0 (numpy integers too); TypeError for a non-integer, ValueError below 0."""
    if not isinstance(seed, bool) and isinstance(seed, Integral):
        seed = int(seed)
    return expect_positive_int("seed", seed, minimum=0)


def generator(seed) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``seed``: the only source of randomness of a seeded function."""
    return torch.Generator().manual_seed(expect_seed(seed))


def uniform(gen: torch.Generator, lo: float, hi: float, shape: Sequence[int] = ()) -> torch.Tensor:
    """Float64 samples from U(lo, hi) of the given ``shape`` (a 0-d tensor by default), on the CPU."""
    return lo + (hi - lo) * torch.rand(tuple(shape), generator=gen, dtype=torch.float64)


def uniform_float(gen: torch.Generator, lo: float, hi: float) -> float:
    """One draw from U(lo, hi) as a Python float (the same draw as ``uniform(gen, lo, hi)``)."""
    return float(uniform(gen, lo, hi))


def randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """One integer from lo..hi, both ends included."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def sub_seed(gen: torch.Generator) -> int:
    """A seed in 0 .. 2**62 - 1 for an inner seeded function, drawn from ``gen``."""
    return int(torch.randint(0, SUB_SEED_BOUND, (1,), generator=gen))
