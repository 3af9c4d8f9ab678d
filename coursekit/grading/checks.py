"""The checks lab tests call. Each passes silently (returns None, so a doctest line prints nothing) or raises
``AssertionError`` with a message that says what was expected, what came and, when a mistake is recognised,
a hint: ``"<key>: expected ..., got ...: <hint>"``.

Tolerances: ``check_close`` uses ``|got - expected| <= atol + rtol * |expected|`` (numpy's ``isclose``)
with ``rtol=1e-4, atol=1e-5`` by default. Lab tests build their inputs with a seeded ``torch.Generator`` on
the CPU, so the student's function runs the same float32 kernels on a laptop and on Colab; the defaults
leave about 100x headroom over the rounding differences between CPU kernels (MKL/OpenBLAS, 1 or many
threads). A check on a value computed on a GPU (TF32 convolutions) needs ``rtol=1e-2``.

Hints of ``check_close``, first match wins:

1. the test's hand-written ``mistakes``: ``{hint: detector(got, expected) -> bool}``. A mistake that gives
   a known other value (one optimizer step too many, gradients accumulated without ``zero_grad``, the
   saturating loss) is a detector comparing with that value: ``matches(value)`` builds it, and takes a
   function for a value that costs a computation (it then runs only on a wrong answer)::

       g.check_close("02", "train_g_weight", G[0].weight, mistakes={
           "gradients accumulated across steps: call zero_grad() before each backward()":
               g.matches(lambda: g_weight_with(zero=False), atol=1e-6)})

2. the diagnoses of ``coursekit.grading.diagnose``, found from the answer alone: a flipped sign, a constant
   ratio (2, 1/2, 255, 255^2, ln 10, ln 2, a size), a constant offset (48.13 dB: PSNR with a peak of 255 on
   [0, 1] images), transposed or reordered values, a reduction too many or too few. ``check_close`` does not
   see the inputs: ``sizes={"batch": 8, "latents": 20}`` lets it name a factor of 20 as a sum over the
   latents where a mean is expected (without it: "got = expected / 20.000 (a constant factor: ...)");

3. ``numerics``: for a test on extreme inputs (confident logits, a zero MSE), a sentence on the numerical
   behaviour it checks, appended as ``"numerical behaviour: <numerics>"`` when the answer is NaN, inf or
   wrong and nothing more specific fired, e.g. ``numerics="compute from logits: log(sigmoid(x))
   underflows to -inf at x = -200"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..nn import count_parameters as nn_count_parameters
from . import store
from .diagnose import diagnose

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


def matches(value: Any, rtol: float = 1e-4, atol: float = 1e-5) -> Callable[[np.ndarray, np.ndarray], bool]:
    """A mistake detector for ``check_close(..., mistakes={hint: matches(value)})``: fires when the answer
    equals ``value`` within ``|got - value| <= atol + rtol * |value|``.

    ``value`` is what a known mistake gives (a tensor, array or number), or a function returning it: it is
    then called once, on the first wrong answer, so an expensive reference run (the training step with the
    mistake switched on) costs nothing when the answer is right. A value that cannot be computed or
    compared (an error, another shape) does not fire.

    Why a detector and not a separate ``neighbours`` argument of ``check_close``: a neighbouring value (one
    optimizer step more or less, gradients accumulated without ``zero_grad``) is one more known mistake
    whose detector compares with a value. Keeping it in ``mistakes`` keeps one mapping, one priority order
    (the first hint that fires wins, before the automatic diagnoses) and one place for a lab author to
    look; ``matches`` only saves writing the comparison, its tolerance and the lazy evaluation each time.
    """
    cache: list[np.ndarray] = []

    def detector(got: np.ndarray, want: np.ndarray) -> bool:
        try:
            if not cache:
                reference = value() if callable(value) else value
                cache.append(np.asarray(store.to_numpy(reference), dtype=np.float64))
            reference, got = cache[0], np.asarray(got, dtype=np.float64)
            if reference.shape != got.shape:
                if reference.size != 1 or got.size != 1:
                    return False
                reference = reference.reshape(got.shape)
            return bool(np.allclose(got, reference, rtol=rtol, atol=atol))
        except Exception:  # noqa: BLE001 - a reference that cannot be computed or compared does not fire
            return False

    return detector


def check_close(lab: str, key: str, got: Any, rtol: float = 1e-4, atol: float = 1e-5,
                mistakes: Mapping[str, Callable[[np.ndarray, np.ndarray], bool]] | None = None, *,
                sizes: Mapping[str, int] | None = None, numerics: str | None = None) -> None:
    """Compare ``got`` with the stored expected value ``key`` of ``lab`` (``expected/<lab>.npz``).

    A wrong answer raises ``AssertionError("<key>: expected ..., got ...: <hint>")``; the hint is the first
    that applies of (see the module docstring):

    - ``mistakes``: maps a hint to a detector ``(got, expected) -> bool`` (both numpy arrays); the first
      that fires wins. ``matches(value)`` builds a detector for a known wrong value;
    - a diagnosis of ``coursekit.grading.diagnose`` (sign, constant ratio or offset, transposed or reordered
      values, a reduction too many or too few), also on a wrong shape; ``sizes`` (e.g.
      ``{"batch": 8, "latents": 20, "pixels": 784}``) names sizes of the test's inputs, so that a factor of
      20 is named "a sum over the latents where a mean is expected";
    - ``numerics``: a sentence on the numerical behaviour this test checks (extreme inputs), appended as
      ``numerical behaviour: <numerics>`` when the answer has NaN/inf values or is wrong (not on a wrong
      shape).

    A correct answer never gets a hint: it passes before any is looked for. In record mode
    (``COURSEKIT_RECORD_EXPECTED=1``) ``got`` is stored as the expected value instead.
    """
    array = _finite_array(key, got)
    if store.recording():
        store.record(lab, key, array)
        return
    want = store.expected(lab, key)
    numerical = f"numerical behaviour: {numerics}" if numerics else None
    if array.shape != want.shape:
        if array.size == want.size == 1:
            array = array.reshape(want.shape)
        else:
            message = f"{key}: expected shape {format_shape(want.shape)}, got {format_shape(array.shape)}"
            hint = _fired_mistake(mistakes, array, want) or diagnose(array, want, rtol, atol, sizes)
            raise AssertionError(message + (f": {hint}" if hint else ""))
    if np.isnan(array).any() and not np.isnan(want).any():
        hint = _fired_mistake(mistakes, array, want) or numerical
        raise AssertionError(f"{key}: got NaN values" + (f": {hint}" if hint else ""))
    if np.allclose(array, want, rtol=rtol, atol=atol, equal_nan=True):
        return
    summary = _difference_summary(array, want, rtol, atol)
    hint = _fired_mistake(mistakes, array, want) or diagnose(array, want, rtol, atol, sizes) or numerical
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
