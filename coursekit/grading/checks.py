"""The checks lab tests call. Each passes silently (returns None, so a doctest line prints nothing) or raises
``AssertionError`` with a message that says what was expected, what came and, when a known mistake is
recognised, a hint.

Tolerances: ``check_close`` uses ``|got - expected| <= atol + rtol * |expected|`` (numpy's ``isclose``)
with ``rtol=1e-4, atol=1e-5`` by default. Lab tests build their inputs with a seeded ``torch.Generator`` on
the CPU, so the student's function runs the same float32 kernels on a laptop and on Colab; the defaults
leave about 100x headroom over the rounding differences between CPU kernels (MKL/OpenBLAS, 1 or many
threads). A check on a value computed on a GPU (TF32 convolutions) needs ``rtol=1e-2``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..nn import count_parameters as nn_count_parameters
from . import store

Shape = Sequence[int | None]


def _shape_of(what: str, got: Any) -> tuple[int, ...]:
    if isinstance(got, (tuple, list)) and all(isinstance(d, int) for d in got):
        return tuple(got)
    shape = getattr(got, "shape", None)
    if shape is None:
        raise AssertionError(f"{what}: expected a tensor or array, got {type(got).__name__}")
    return tuple(int(d) for d in shape)


def _wildcard(position: int) -> str:
    return "B" if position == 0 else "*"


def format_shape(shape: Shape, like: Shape | None = None) -> str:
    """``(B, 20)`` for ``(None, 20)``; with ``like``, sizes where ``like`` has None print as wildcards too."""
    if like is not None and len(like) == len(shape):
        shape = [None if w is None else d for d, w in zip(shape, like, strict=True)]
    parts = [_wildcard(i) if d is None else str(d) for i, d in enumerate(shape)]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def shape_matches(shape: Shape, pattern: Shape) -> bool:
    """True when ``shape`` has ``pattern``'s length and equals it wherever ``pattern`` is not None."""
    if len(shape) != len(pattern):
        return False
    return all(p is None or p == d for d, p in zip(shape, pattern, strict=True))


def check_shape(what: str, got: Any, expected: Shape, hints: Mapping[tuple, str] | None = None) -> None:
    """Check the shape of a tensor/array (or a shape tuple). ``None`` in ``expected`` accepts any size.

    ``hints`` maps a wrong shape (None entries allowed) to the likely mistake, e.g.
    ``{(None, 40): "did you return mu and logvar concatenated?"}``.
    """
    shape = _shape_of(what, got)
    if shape_matches(shape, expected):
        return
    message = f"{what}: expected shape {format_shape(expected)}, got {format_shape(shape, like=expected)}"
    for wrong, hint in (hints or {}).items():
        if shape_matches(shape, wrong):
            message += f": {hint}"
            break
    raise AssertionError(message)


def _finite_array(what: str, got: Any) -> np.ndarray:
    try:
        array = store.to_numpy(got)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise AssertionError(f"{what}: expected a number, array or tensor, got {type(got).__name__}") from exc
    if array.dtype == object or array.dtype.kind not in "biufc":
        raise AssertionError(f"{what}: expected numbers, got {type(got).__name__} holding {array.dtype}")
    return array


def _fired_mistake(mistakes: Mapping[str, Callable[[np.ndarray, np.ndarray], bool]] | None,
                   got: np.ndarray, want: np.ndarray) -> str | None:
    for hint, detector in (mistakes or {}).items():
        try:
            if bool(np.all(detector(got, want))):
                return hint
        except Exception:  # noqa: BLE001 - a detector that cannot judge this answer simply does not fire
            continue
    return None


def _difference_summary(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
    if want.size == 1:
        return f"expected {want.item():.6g}, got {got.item():.6g} (rtol={rtol:g}, atol={atol:g})"
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bad = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=False)
    index = np.unravel_index(int(np.argmax(np.where(bad, np.nan_to_num(diff, nan=np.inf), -1.0))), want.shape)
    return (f"{int(bad.sum())} of {want.size} values differ (largest difference "
            f"{np.nanmax(diff):.4g}; at index {tuple(int(i) for i in index)} expected {want[index]:.6g}, "
            f"got {got[index]:.6g}; rtol={rtol:g}, atol={atol:g})")


def check_close(lab: str, key: str, got: Any, rtol: float = 1e-4, atol: float = 1e-5,
                mistakes: Mapping[str, Callable[[np.ndarray, np.ndarray], bool]] | None = None) -> None:
    """Compare ``got`` with the stored expected value ``key`` of ``lab`` (``expected/<lab>.npz``).

    ``mistakes`` maps a hint to a detector ``(got, expected) -> bool`` (both numpy arrays); the first that
    fires on a wrong answer replaces the generic message's ending. In record mode
    (``COURSEKIT_RECORD_EXPECTED=1``) ``got`` is stored as the expected value instead.
    """
    array = _finite_array(key, got)
    if store.recording():
        store.record(lab, key, array)
        return
    want = store.expected(lab, key)
    if array.shape != want.shape:
        if array.size == want.size == 1:
            array = array.reshape(want.shape)
        else:
            message = f"{key}: expected shape {format_shape(want.shape)}, got {format_shape(array.shape)}"
            hint = _fired_mistake(mistakes, array, want)
            raise AssertionError(message + (f": {hint}" if hint else ""))
    if np.isnan(array).any() and not np.isnan(want).any():
        hint = _fired_mistake(mistakes, array, want)
        raise AssertionError(f"{key}: got NaN values" + (f": {hint}" if hint else ""))
    if np.allclose(array, want, rtol=rtol, atol=atol, equal_nan=True):
        return
    summary = _difference_summary(array, want, rtol, atol)
    hint = _fired_mistake(mistakes, array, want)
    raise AssertionError(f"{key}: {summary}" + (f": {hint}" if hint else ""))


def check_range(what: str, got: Any, lo: float, hi: float) -> None:
    """Check that every value of ``got`` is finite and lies in ``[lo, hi]``."""
    array = _finite_array(what, got)
    if array.size == 0:
        raise AssertionError(f"{what}: expected values in [{lo:g}, {hi:g}], got an empty array")
    if not np.isfinite(array).all():
        raise AssertionError(f"{what}: expected finite values in [{lo:g}, {hi:g}], got NaN or inf")
    low, high = float(array.min()), float(array.max())
    if low < lo or high > hi:
        raise AssertionError(f"{what}: expected values in [{lo:g}, {hi:g}], "
                             f"got values in [{low:.4g}, {high:.4g}]")


def count_parameters(model: Any) -> int:
    """The number of trainable parameters of a torch module."""
    parameters = getattr(model, "parameters", None)
    if not callable(parameters):
        raise AssertionError(f"expected a torch.nn.Module, got {type(model).__name__}")
    return nn_count_parameters(model, trainable_only=True)


def check_param_count(model: Any, expected: int, what: str = "model") -> None:
    """Check the number of trainable parameters (a wrong layer size or a missing bias shows up here)."""
    got = count_parameters(model)
    if got != expected:
        more = f"{got - expected:,} more" if got > expected else f"{expected - got:,} fewer"
        raise AssertionError(f"{what}: expected {expected:,} trainable parameters, got {got:,} ({more})")


def check_true(condition: Any, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition`` holds."""
    if not bool(condition):
        raise AssertionError(message)
