"""Input validation shared by every public coursekit function.

Every check raises with a message that names what was expected and what came, so a student reading the
traceback knows what to change: ``TypeError`` for a value of the wrong type (a list where a tensor belongs,
an integer tensor where a float one does, "3" for 3), ``ValueError`` for a value of the right type that is
out of bounds. Unknown names get the closest valid names as suggestions.

Range checks (``value_range``) read a tensor's minimum and maximum back to the CPU, which makes the host wait
for the GPU. Functions called once (datasets, metrics, restoration) always check; code that runs on every
training step (losses, forward passes) passes ``value_range=step_range(lo, hi)``: checked only under
``COURSEKIT_DEBUG=1``.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any


def closest(name: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """The valid names that look most like ``name`` (for 'did you mean' hints)."""
    return difflib.get_close_matches(str(name), [str(v) for v in valid], n=n, cutoff=0.5)


def expect_choice(what: str, value: Any, valid: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise naming the valid ones and close matches."""
    if value in valid:
        return value
    hint = closest(str(value), valid)
    suggestion = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
    raise ValueError(f"unknown {what} {value!r}: expected one of {', '.join(map(repr, valid))}{suggestion}")


def describe(x: Any) -> str:
    """A short description of an array-like for error messages: type, shape and dtype."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return type(x).__name__
    return f"{type(x).__name__} of shape {tuple(shape)} and dtype {dtype}"


def expect_tensor(
    what: str,
    x: Any,
    *,
    ndim: int | Sequence[int] | None = None,
    channels: int | Sequence[int] | None = None,
    value_range: tuple[float, float] | None = None,
    floating: bool = True,
):
    """Check a torch tensor's dimensionality, channel count (dim 1 for 4-D, dim 0 for 3-D) and range.

    Returns the tensor unchanged so calls can be chained: ``x = expect_tensor("image", x, ndim=4)``.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {describe(x)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{what}: expected a floating-point tensor, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            layout = {3: "(C, H, W)", 4: "(B, C, H, W)", 5: "(B, C, D, H, W)", 2: "(B, D)", 1: "(N,)"}
            names = " or ".join(f"{d}-D {layout.get(d, '')}".strip() for d in allowed)
            raise ValueError(f"{what}: expected a {names} tensor, got shape {tuple(x.shape)}")
    if channels is not None:
        allowed_c = (channels,) if isinstance(channels, int) else tuple(channels)
        c = x.shape[1] if x.ndim >= 4 else x.shape[0]
        if c not in allowed_c:
            wanted = " or ".join(map(str, allowed_c))
            raise ValueError(f"{what}: expected {wanted} channels, got {c} (shape {tuple(x.shape)})")
    if value_range is not None and x.numel():
        lo, hi = value_range
        low, high = torch.aminmax(x.detach())
        xmin, xmax = float(low), float(high)
        if not (math.isfinite(xmin) and math.isfinite(xmax)):
            raise ValueError(f"{what}: expected finite values in [{lo}, {hi}], got NaN or inf")
        tol = 1e-6 * max(1.0, abs(hi - lo))
        if xmin < lo - tol or xmax > hi + tol:
            got = f"[{xmin:.4g}, {xmax:.4g}]"
            raise ValueError(f"{what}: expected values in [{lo}, {hi}], got values in {got}")
    return x


def debug_checks() -> bool:
    """True under ``COURSEKIT_DEBUG=1``: per-step code then also checks value ranges (a GPU sync per call)."""
    return os.environ.get("COURSEKIT_DEBUG", "0").strip() not in ("", "0")


def step_range(lo: float, hi: float) -> tuple[float, float] | None:
    """``value_range`` for a check in code that runs every training step: ``(lo, hi)`` under
    ``COURSEKIT_DEBUG=1``, otherwise None (no range check, so no wait for the GPU)."""
    return (lo, hi) if debug_checks() else None


def expect_positive_int(what: str, value: Any, minimum: int = 1) -> int:
    """Check an integer argument such as a size, a count or a step number."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{what}: expected an integer >= {minimum}, got {value!r} of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(f"{what}: expected an integer >= {minimum}, got {value!r}")
    return value


def expect_number(what: str, value: Any, meaning: str = "a number") -> float:
    """Check that ``value`` is a real number (int or float, not bool); ``meaning`` completes the message."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what}: expected {meaning}, got {value!r} of type {type(value).__name__}")
    return float(value)


def expect_probability(what: str, value: Any) -> float:
    """Check a number in [0, 1]."""
    if not 0.0 <= expect_number(what, value, "a number in [0, 1]") <= 1.0:
        raise ValueError(f"{what}: expected a number in [0, 1], got {value!r}")
    return float(value)


def loud_notice(lines: list[str]) -> str:
    """Print (and return) a framed multi-line notice that cannot be overlooked (e.g. VGG19 with random
    weights because the ImageNet weights are unavailable offline)."""
    width = max(len(line) for line in lines)
    frame = "!" * (width + 6)
    text = "\n".join([frame, *(f"!! {line.ljust(width)} !!" for line in lines), frame])
    print(text)
    return text
