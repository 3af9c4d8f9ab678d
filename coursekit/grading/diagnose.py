"""Hints ``check_close`` finds by itself when a wrong answer has a recognisable relation to the expected one.

A lab test's hand-written ``mistakes`` know the inputs and name a specific mistake; they keep priority. When
none fires, ``check_close`` calls :func:`diagnose`, which tries the diagnoses of :data:`DIAGNOSES` in order
and returns the first hint, or None. Each diagnosis is a function ``(case) -> str | None`` that looks only at
the answer, the expected value, the check's tolerances and the optional ``sizes`` of the inputs (e.g.
``{"batch": 8, "latents": 20}``): got only zeros, a flipped sign, a constant ratio (2, 1/2, 255, 255^2,
ln 10, ln 2, a size of the inputs or of the result, else a generic factor), a constant offset
(20 log10(255) = 48.13 dB, a size, else a generic offset), axes in another order, another shape holding the
right values, a missing or extra reduction over one axis, the right values reversed or shuffled along one
axis, the right values in another order.

Rules every diagnosis follows: it is called only on a wrong answer (the check passed first otherwise); it
fires only on evidence, so a random wrong answer gets no hint. One number has a ratio and an offset to any
expected number, so for a single value (or values all equal) only a named constant or a whole-number factor
counts, compared relatively to at most 1e-3 even when the check is lenient; a ratio needs expected values
clearly away from 0 (beyond 10 atol); an unnamed factor or offset is reported only when the other does not
explain the answer as well (values close to each other cannot tell them apart) and a factor only when it is
not within 5% of 1. A diagnosis that cannot judge (a shape it does not handle, an error) does not fire:
:func:`diagnose` never raises. ``benchmarks/bench_hints.py`` measures hits and false hints on the stored
expected values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

LN10 = math.log(10.0)
LN2 = math.log(2.0)
PSNR_PEAK_255_DB = 20.0 * math.log10(255.0)  # 48.13 dB: 10 log10(255^2 / MSE) - 10 log10(1 / MSE)
_SINGLE_RTOL_CAP = 1e-3  # a lenient check (rtol=0.05) must not make a single number match every constant
_WHOLE_RTOL = 3e-6  # a single value's unnamed factor must be a whole number to float32 precision
_MIN_GENERIC_FACTOR = 1.05  # an unnamed factor closer to 1 than this is no recognisable mistake
_MAX_SIZE = 1_000_000  # larger answers are not diagnosed (at this size all diagnoses take about 0.5 s)
_MAX_SLICES = 256  # an axis longer than this is not searched for a reordering of its slices
_MAX_FACTOR = 1024  # a whole-number factor of a single value is named up to this


@dataclass(frozen=True)
class Case:
    """A wrong answer and what it is compared with: float64 arrays, the check's tolerances, input sizes."""

    got: np.ndarray
    want: np.ndarray
    rtol: float
    atol: float
    sizes: dict[str, int] = field(default_factory=dict)

    def close(self, a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> bool:
        """``a`` equals ``b`` within the check's tolerance (``atol`` grows with ``scale``, e.g. a factor)."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        atol = self.atol * max(1.0, abs(scale))
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=self.rtol, atol=atol))

    @property
    def same_shape(self) -> bool:
        return self.got.shape == self.want.shape

    @property
    def single(self) -> bool:
        """True when the expected value carries one number's worth of evidence (one value, or all equal)."""
        want = self.want.ravel()
        return want.size < 2 or bool(np.ptp(want) <= self.atol + self.rtol * np.abs(want).max())

    def single_tolerance(self) -> Case:
        """This case compared relatively only, ``rtol`` capped at 1e-3: for a single value, a lenient check
        (``atol=0.01``, ``rtol=0.05``) would otherwise match some named constant for most wrong answers."""
        return Case(self.got, self.want, min(self.rtol, _SINGLE_RTOL_CAP), 1e-12, self.sizes)

    def ratio(self) -> float | None:
        """The least-squares factor r of ``got ~ r * want`` when it fits every value, else None."""
        norm = float(np.sum(self.want * self.want))
        if not self.same_shape or norm == 0.0:
            return None
        r = float(np.sum(self.got * self.want)) / norm
        return r if math.isfinite(r) and self.close(self.got, r * self.want, r) else None

    def offset(self) -> float | None:
        """The c of ``got ~ want + c`` when it fits every value, else None."""
        if not self.same_shape or self.got.size == 0:
            return None
        c = float(np.median(self.got - self.want))
        return c if math.isfinite(c) and self.close(self.got, self.want + c) else None


def _number(value: float) -> str:
    """8.000, 0.5000, 65025.000 (three decimals, four below 1), 1.2e+05 when huge or tiny."""
    magnitude = abs(value)
    if 1.0 <= magnitude < 1e5:
        return f"{value:.3f}"
    if 1e-3 <= magnitude < 1.0:
        return f"{value:.4f}"
    return f"{value:.4g}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def _size_products(sizes: Mapping[str, int]) -> Iterator[tuple[str, int]]:
    """Each size, then the product of each set of two or more sizes (``batch x latents = 160``)."""
    items = list(sizes.items())
    yield from items
    for count in range(2, min(len(items), 4) + 1):
        for combo in itertools.combinations(items, count):
            yield " x ".join(name for name, _ in combo), math.prod(n for _, n in combo)


def _axis_lengths(shape: tuple[int, ...]) -> Iterator[tuple[str, int]]:
    """The lengths of the result's axes and of its trailing axes together (per-sample element counts)."""
    seen = set()
    for axis, n in enumerate(shape):
        if n >= 2 and n not in seen:
            seen.add(n)
            yield f"the length of axis {axis} of the result", n
    for start in range(len(shape) - 1):
        n = math.prod(shape[start:])
        if n >= 2 and n not in seen:
            seen.add(n)
            yield f"the number of values along axes {start}-{len(shape) - 1} of the result", n


# Factors named without the test's help: (factor, how the answer relates, the likely mistake).
_CONSTANT_FACTORS: tuple[tuple[float, str, str], ...] = (
    (2.0, "x 2", "a factor 2 too many (a missing 1/2, or a term counted twice?)"),
    (0.5, "/ 2", "a factor 2 missing (an extra 1/2, or a term counted once instead of twice?)"),
    (255.0, "x 255", "values on the [0, 255] scale where [0, 1] is expected"),
    (1 / 255.0, "/ 255", "values on the [0, 1] scale where [0, 255] is expected"),
    (255.0**2, "x 255^2 (65025)", "squared errors of [0, 255] values where [0, 1] images are expected"),
    (255.0**-2, "/ 255^2 (65025)", "squared errors of [0, 1] values where [0, 255] images are expected"),
    (LN10, "x ln 10 (2.303)", "the natural log (np.log) where log10 is expected"),
    (1 / LN10, "/ ln 10 (2.303)", "log10 where the natural log (np.log) is expected"),
    (1 / LN2, "/ ln 2 (0.6931)", "log2 (bits) where the natural log (nats) is expected"),
    (LN2, "x ln 2 (0.6931)", "the natural log (nats) where log2 (bits) is expected"),
)


def _factor_candidates(case: Case) -> Iterator[tuple[float, str, str]]:
    """Named factors in order of preference: the test's sizes, common constants, the result's own axes."""
    for name, n in _size_products(case.sizes):
        yield n, f"x {n} ({name} = {n})", f"a sum over the {name} where a mean is expected?"
        yield 1.0 / n, f"/ {n} ({name} = {n})", f"a mean over the {name} where a sum is expected?"
    yield from _CONSTANT_FACTORS
    for name, n in _axis_lengths(case.want.shape):
        yield n, f"x {n} ({name})", "a sum where a mean is expected?"
        yield 1.0 / n, f"/ {n} ({name})", "a mean where a sum is expected?"


def all_zero(case: Case) -> str | None:
    """Every value is 0 while the expected value is not: nothing was computed, or no gradient arrived."""
    if case.got.size and not np.any(case.got) and np.any(case.want):
        return "got only zeros (nothing computed, or no gradient reached these values: a detach or .item()?)"
    return None


def flipped_sign(case: Case) -> str | None:
    """``got == -expected``: a loss that is minus the objective, or the reverse (a single value is compared
    relatively, at most to 1e-3, even when the check is lenient)."""
    nonzero = np.abs(case.want).max(initial=0.0) > case.atol
    if case.single:
        case = case.single_tolerance()
    if case.same_shape and nonzero and case.close(case.got, -case.want):
        return "got = -expected: the sign is flipped"
    return None


def constant_ratio(case: Case) -> str | None:
    """``got == r * expected`` for one r != 1 over all values: a sum for a mean, [0, 255] for [0, 1], a log.

    r is the least-squares factor. It is named after a size of the inputs (``sizes``), a common constant or a
    length of the result's axes when one of them fits within the check's tolerance. Evidence needed: values
    clearly away from 0 (``|expected| > 10 atol``: a value within the check's noise has any ratio). An
    unnamed factor is reported only when at least three such values share it, it is not within 5% of 1 and
    a constant offset does not explain the answer as well; for a single value (or two, or values all equal)
    only a named factor, or a whole number up to 1024 (or its inverse) to float32 precision, counts: every
    wrong number is some multiple of the right one.
    """
    if not case.same_shape:
        return None
    clear = int(np.count_nonzero(np.abs(case.want) > 10 * case.atol))
    single = case.single or clear < 3  # two values sharing a factor are one coincidence, like one value
    if clear == 0:
        return None
    if single:
        case = case.single_tolerance()
    got, want = case.got, case.want
    r = case.ratio()
    if r is None or abs(r) < 1e-12 or abs(abs(r) - 1.0) < 1e-3:
        return None
    sign = -1.0 if r < 0 else 1.0
    lead = "got = -expected" if r < 0 else "got = expected"
    tail = " (and the sign is flipped)" if r < 0 else ""
    for factor, relation, mistake in _factor_candidates(case):
        if case.close(got, sign * factor * want, factor):
            return f"{lead} {relation}: {mistake}{tail}"
    magnitude = abs(r)
    if single:
        whole = round(magnitude) if magnitude >= 1 else round(1 / magnitude)
        factor = whole if magnitude >= 1 else 1.0 / max(whole, 1)
        if not 2 <= whole <= _MAX_FACTOR or abs(magnitude / factor - 1.0) > _WHOLE_RTOL:
            return None
        magnitude = factor
    elif max(magnitude, 1 / magnitude) < _MIN_GENERIC_FACTOR or case.offset() is not None:
        return None
    relation = f"x {_number(magnitude)}" if magnitude >= 1 else f"/ {_number(1 / magnitude)}"
    return f"{lead} {relation} (a constant factor: a sum where a mean is expected, or the reverse?){tail}"


def _offset_candidates(case: Case) -> Iterator[tuple[float, str, str]]:
    yield (PSNR_PEAK_255_DB, "+ 48.13 (20 log10(255) dB)", "PSNR with a peak of 255 on [0, 1] images")
    yield (-PSNR_PEAK_255_DB, "- 48.13 (20 log10(255) dB)", "PSNR with a peak of 1 on [0, 255] images")
    for name, n in case.sizes.items():
        for value, part in ((n, f"{name} = {n}"), (n / 2, f"{name} / 2 = {_number(n / 2)}")):
            each = "1" if value == n else "1/2"
            mistake = f"a constant term missing or extra: {each} for each of the {name}?"
            yield value, f"+ {_number(value)} ({part})", mistake
            yield -value, f"- {_number(value)} ({part})", mistake


def constant_offset(case: Case) -> str | None:
    """``got == expected + c`` for one c != 0 over all values: a missing or extra constant term.

    Named: 20 log10(255) = 48.13 dB (PSNR with a peak of 255 on [0, 1] images, or its reverse) and, with
    ``sizes``, one size or half of it (a per-latent constant such as the 1 in ``1 + logvar``), when the
    offset is resolved to 1% (for one or two values: the check's tolerance at the expected value is within 1%
    of the offset, else a tolerance of 5 on a loss of 5000 would name 48.13 for many wrong answers). An
    unnamed offset is reported only for three or more expected values that differ from each other (otherwise
    any wrong answer of equal values would have one) and when a constant factor does not explain the answer
    as well.
    """
    if not case.same_shape:
        return None
    single = case.single or case.want.size < 3  # two values sharing an offset are one coincidence
    if single:
        case = case.single_tolerance()
    got, want = case.got, case.want
    c = case.offset()
    if c is None:
        return None
    band = case.atol + case.rtol * float(np.abs(want).max(initial=0.0))  # the tolerance at the expected value
    for offset, relation, mistake in _offset_candidates(case):
        resolved = abs(c - offset) <= 0.01 * abs(offset) and (not single or band <= 0.01 * abs(offset))
        if resolved and case.close(got, want + offset):
            return f"got = expected {relation}: {mistake}"
    if single or case.ratio() is not None:
        return None
    relation = f"+ {_number(c)}" if c > 0 else f"- {_number(-c)}"
    return f"got = expected {relation} everywhere (a constant offset: a missing or extra constant term?)"


def transposed(case: Case) -> str | None:
    """The right values on permuted axes: ``got.T`` (or ``got.transpose(p)``) equals the expected value.

    Works when the shapes differ only by the order of their axes, and for equal shapes (square axes).
    """
    got, want = case.got, case.want
    if got.ndim < 2 or got.ndim > 6 or sorted(got.shape) != sorted(want.shape):
        return None
    identity = tuple(range(got.ndim))
    for perm in itertools.permutations(identity):
        if perm == identity or tuple(got.shape[p] for p in perm) != want.shape:
            continue
        if case.close(got.transpose(perm), want):
            if got.ndim == 2:
                return "got = expected.T: the right values on transposed axes (swap the two axes)"
            layout = ""
            if got.ndim == 4 and perm in ((0, 2, 3, 1), (0, 3, 1, 2)):
                layout = " (channels-last vs channels-first?)"
            axes = ", ".join(str(p) for p in perm)
            return (f"the right values with the axes in another order: got.transpose({axes}) is the expected "
                    f"value{layout}")
    return None


def reshaped(case: Case) -> str | None:
    """The right values in the right order, another shape (a missing or extra axis of length 1, a flatten)."""
    got, want = case.got, case.want
    if case.same_shape or got.size != want.size or not case.close(got.reshape(want.shape), want):
        return None
    return f"the right values in another shape: reshape to {_shape(want.shape)}"


def reduced_axis(case: Case) -> str | None:
    """A reduction too many or too few: the mean or sum of the answer (over one axis or all) is expected, or
    the answer is the mean or sum of the expected values (one value per sample expected, one number given).
    """
    got, want = case.got, case.want
    if case.same_shape:
        return None
    reductions = (("mean", np.mean), ("sum", np.sum))
    if want.size == 1 and got.size > 1:
        for name, reduce in reductions:
            if case.close(np.asarray(reduce(got)).reshape(want.shape), want):
                return f"the {name} of these values is the expected value: return one number (their {name})"
    if got.size == 1 and want.size > 1:
        for name, reduce in reductions:
            if case.close(got.reshape(()), np.asarray(reduce(want))):
                return (f"got = the {name} of the expected values: return all {want.size} values "
                        f"(shape {_shape(want.shape)}), not their {name}")
    if got.ndim == want.ndim + 1:
        for axis in range(got.ndim):
            for name, reduce in reductions:
                reduced = reduce(got, axis=axis)
                if reduced.shape == want.shape and case.close(reduced, want):
                    return (f"the {name} over axis {axis} of the answer is the expected value: "
                            f"reduce over axis {axis}")
    if want.ndim == got.ndim + 1:
        for axis in range(want.ndim):
            for name, reduce in reductions:
                reduced = reduce(want, axis=axis)
                if reduced.shape == got.shape and case.close(got, reduced):
                    return (f"got = the {name} of the expected value over axis {axis}: keep that axis "
                            f"(shape {_shape(want.shape)}), do not reduce over it")
    return None


def reversed_axis(case: Case) -> str | None:
    """The right values reversed along one axis (a flipped image, a sequence in reverse order).

    An axis of length 2 is left to :func:`shuffled_axis`: reversing two values is swapping them.
    """
    if not case.same_shape:
        return None
    for axis, n in enumerate(case.got.shape):
        if n >= 3 and case.close(np.flip(case.got, axis), case.want):
            return (f"the right values reversed along axis {axis} "
                    "(a flipped image, or a sequence in reverse order?)")
    return None


def shuffled_axis(case: Case) -> str | None:
    """The right slices along one axis in another order (a concatenation in the wrong order, a swap)."""
    if not case.same_shape or case.got.ndim == 0:
        return None
    for axis, n in enumerate(case.got.shape):
        if not 2 <= n <= _MAX_SLICES:
            continue
        got, want = np.moveaxis(case.got, axis, 0), np.moveaxis(case.want, axis, 0)
        unused = list(range(n))
        for i in range(n):
            match = next((j for j in unused if case.close(got[i], want[j])), None)
            if match is None:
                break
            unused.remove(match)
        else:
            return (f"the right values, but in another order along axis {axis} (a concatenation or stack in "
                    "the wrong order, or swapped outputs?)")
    return None


def reordered(case: Case) -> str | None:
    """The right values in another order: sorted, the answer equals the sorted expected values."""
    if not case.same_shape or case.got.size < 2 or case.single:
        return None
    if case.close(np.sort(case.got.ravel()), np.sort(case.want.ravel())):
        return "the right values in another order (sorted, they match the expected ones): check the order"
    return None


Diagnosis = Callable[[Case], str | None]

DIAGNOSES: tuple[Diagnosis, ...] = (all_zero, flipped_sign, constant_ratio, constant_offset, transposed,
                                   reshaped, reduced_axis, reversed_axis, shuffled_axis, reordered)
"""The diagnoses in the order they are tried: the first hint wins. More specific relations come first."""


def _valid_sizes(sizes: Mapping[str, int] | None) -> dict[str, int]:
    """The usable entries of ``sizes``: whole numbers >= 2 (a size of 1 names no factor)."""
    valid = {}
    for name, n in (sizes or {}).items():
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 2:
            valid[str(name)] = int(n)
    return valid


def diagnose(got: np.ndarray, want: np.ndarray, rtol: float = 1e-4, atol: float = 1e-5,
             sizes: Mapping[str, int] | None = None) -> str | None:
    """The first hint of :data:`DIAGNOSES` for the wrong answer ``got`` (expected ``want``), or None.

    ``rtol``/``atol`` are the check's tolerances (floored at 1e-6 and 1e-12 so that an exact check still
    recognises ``2 * expected`` computed in floating point). ``sizes`` names sizes of the inputs, e.g.
    ``{"batch": 8, "latents": 20}``. Never raises: an answer with NaN or inf values, a huge answer or a
    diagnosis that fails gets no hint.
    """
    try:
        if np.iscomplexobj(got) or np.iscomplexobj(want):
            return None  # float64 would drop the imaginary parts
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if max(got.size, want.size) > _MAX_SIZE or not (np.isfinite(got).all() and np.isfinite(want).all()):
            return None
        case = Case(got, want, max(float(rtol), 1e-6), max(float(atol), 1e-12), _valid_sizes(sizes))
    except Exception:  # noqa: BLE001 - an answer that cannot be read as numbers gets no diagnosis
        return None
    for diagnosis in DIAGNOSES:
        try:
            hint = diagnosis(case)
        except Exception:  # noqa: BLE001 - a diagnosis that cannot judge this answer does not fire
            continue
        if hint:
            return hint
    return None
