"""The mutual information gap (MIG) of Chen et al. 2018, a disentanglement metric, with the recipe of
google-research's disentanglement_lib (evaluation/metrics/mig.py): latent means discretised into 20
equal-width histogram bins, discrete mutual information in nats (as sklearn.metrics.mutual_info_score),
H(v_k) = I(v_k; v_k).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import describe, expect_positive_int

MIG_BINS = 20
_MIG_CHUNK_VALUES = 1 << 20  # joint-histogram indices built per chunk of rows (4 MB of int32)
_MIG_BLOCK_VALUES = 1 << 11  # factors are combined into blocks of at most this many joint values
_MIG_MAX_COUNTS = 1 << 27  # joint histogram cells (1 GB of int64): more means labels that are not discrete


@dataclass
class MIGResult:
    """What :func:`mig_report` and :func:`mig_from_mutual_info` return.

    ``score`` is the MIG, the mean of ``gaps`` over the factors that vary; ``gaps[k]`` is factor k's
    normalised gap (I(z_top1; v_k) - I(z_top2; v_k)) / H(v_k), NaN for a single-valued factor (skipped);
    ``mutual_info`` is the (L, K) matrix I(z_j; v_k) in nats; ``entropy`` the (K,) factor entropies H(v_k);
    ``top_latent[k]`` the latent with the most information about factor k. ``float(result)`` is the score.
    """

    score: float
    gaps: np.ndarray
    mutual_info: np.ndarray
    entropy: np.ndarray
    top_latent: np.ndarray

    def __float__(self) -> float:
        return self.score


def _as_columns(what: str, values, *, finite: bool = True) -> np.ndarray:
    """A (N,) or (N, D) numpy array / torch tensor / list as an (N, D) numeric numpy array, validated."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{what}: expected a non-empty (N,) or (N, D) array (N samples), got {describe(array)}"
        )
    if array.dtype == bool:
        array = array.astype(np.int64)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{what}: expected integer or floating-point values, got dtype {array.dtype}")
    if finite and np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            column = int(np.nonzero(bad.any(axis=0))[0][0])
            raise ValueError(
                f"{what}: expected finite values, got {int(bad.sum())} NaN or inf entries (first in column "
                f"{column}); drop those samples or check the encoder"
            )
    return array


def _expect_same_length(names: tuple[str, str], a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]}: expected the same number of samples N (one row per sample), "
            f"got {a.shape[0]} and {b.shape[0]}"
        )


def _dense_labels(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's values as labels 0..n_d-1: (labels (N, D) int64, label counts n_d (D,)).

    Integer columns are shifted to start at 0 (a value that never occurs is an empty histogram bin, which
    changes no entropy or MI); other columns are ranked by one sort per column, all columns at once.
    """
    n = array.shape[0]
    if np.issubdtype(array.dtype, np.integer):
        shifted = np.subtract(array, array.min(axis=0), dtype=np.int64)
        sizes = shifted.max(axis=0) + 1
        if sizes.max() <= n:
            return shifted, sizes
    order = np.argsort(array, axis=0, kind="stable")
    ordered = np.take_along_axis(array, order, axis=0)
    ranks = np.zeros(array.shape, np.int64)
    ranks[1:] = np.cumsum(ordered[1:] != ordered[:-1], axis=0)
    labels = np.empty_like(ranks)
    np.put_along_axis(labels, order, ranks, axis=0)
    return labels, ranks[-1] + 1


def discretize(latents, bins: int = MIG_BINS) -> np.ndarray:
    """Each latent column cut into ``bins`` equal-width bins over its own range: (N, L) codes 0..bins-1.

    The histogram discretisation of disentanglement_lib (``utils._histogram_discretize``), column by
    column ``np.digitize(x, np.histogram(x, bins)[1][:-1]) - 1``, for all columns at once: the bin is
    computed arithmetically, and the few values that land within round-off of a bin edge are compared with
    numpy's exact edges (the same ``np.linspace`` in the input's float dtype), so the codes equal numpy's.
    A constant column gets numpy's range (x - 0.5, x + 0.5) and one code.
    """
    expect_positive_int("bins", bins)
    x = _as_columns("latents", latents)
    dtype = x.dtype.type if np.issubdtype(x.dtype, np.floating) else np.float64
    x = x.astype(dtype, copy=False)
    low, high = x.min(axis=0), x.max(axis=0)
    constant = low == high
    low = np.where(constant, low - dtype(0.5), low).astype(dtype)
    high = np.where(constant, high + dtype(0.5), high).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        position = x - low
        position *= (bins / (high.astype(np.float64) - low)).astype(dtype)
        whole = np.floor(position)
        position -= whole + dtype(0.5)  # the offset from the middle of the bin: -0.5 to 0.5
        near_edge = ~(np.abs(position, out=position) <= 0.5 - 1e-3)  # also catches overflow (inf, NaN)
    codes = np.clip(whole, 0, bins - 1, out=whole).astype(np.int32)
    rows, cols = np.nonzero(near_edge)
    if rows.size:
        inner_edges = np.linspace(low, high, bins + 1, axis=1, dtype=dtype)[:, 1:-1]  # as np.histogram's
        codes[rows, cols] = (x[rows, cols][:, None] >= inner_edges[cols]).sum(axis=1)
    return codes


def _factor_blocks(sizes: np.ndarray, limit: int) -> list[list[int]]:
    """Consecutive columns grouped so that the product of sizes in a group stays <= limit (or one column)."""
    blocks: list[list[int]] = []
    product = limit + 1
    for column, size in enumerate(sizes.tolist()):
        if product * size > limit:
            blocks.append([])
            product = 1
        blocks[-1].append(column)
        product *= size
    return blocks


def _joint_counts(codes: np.ndarray, code_sizes: np.ndarray, labels: np.ndarray, label_sizes: np.ndarray):
    """Joint histograms of every (code column j, label column k) pair: counts (L, K, B, V) by one bincount.

    Label columns are first combined into blocks (e.g. shape x scale x orientation = 720 values and
    pos_x x pos_y = 1,024 for shapes2d), so each sample adds L x (number of blocks) counts instead of
    L x K; block values sit side by side in a row of width W, and sample n adds 1 at the flat index
    (j B + codes[n, j]) W + offset(block) + value(block) for every code column j and block. The per-factor
    joints are then sums over the other factors of a block. Rows go in chunks so memory stays bounded.
    """
    n, num_latents = codes.shape
    width_b = int(code_sizes.max())
    blocks = _factor_blocks(label_sizes, _MIG_BLOCK_VALUES)
    block_sizes = [int(np.prod(label_sizes[block])) for block in blocks]
    offsets = np.cumsum([0, *block_sizes])
    width = int(offsets[-1])
    size = num_latents * width_b * width
    if size > _MIG_MAX_COUNTS:
        raise ValueError(
            f"codes and factors: {num_latents} code columns with up to {width_b:,} distinct values against "
            f"factor blocks of {width:,} joint values need {size:,} histogram cells (at most "
            f"{_MIG_MAX_COUNTS:,}): discretise continuous latents first (coursekit.metrics.discretize)"
        )
    index_dtype = np.int32 if size < 2**31 else np.int64
    block_values = np.empty((n, len(blocks)), index_dtype)
    for b, block in enumerate(blocks):  # one pass per block of factors (2 for shapes2d)
        sizes = tuple(int(label_sizes[k]) for k in block)
        block_values[:, b] = np.ravel_multi_index(tuple(labels[:, k] for k in block), sizes) + offsets[b]
    code_base = codes.astype(index_dtype)
    code_base += (np.arange(num_latents) * width_b).astype(index_dtype)
    code_base *= width
    counts = np.zeros(size, np.int64)
    rows = max(1, _MIG_CHUNK_VALUES // (num_latents * len(blocks)))
    for start in range(0, n, rows):
        flat = code_base[start : start + rows, :, None] + block_values[start : start + rows, None, :]
        counts += np.bincount(flat.ravel(), minlength=size)
    counts = counts.reshape(num_latents, width_b, width)
    joint = np.zeros((num_latents, labels.shape[1], width_b, int(label_sizes.max())), np.int64)
    for b, block in enumerate(blocks):
        grid = counts[:, :, offsets[b] : offsets[b + 1]].reshape(num_latents, width_b, *label_sizes[block])
        for position, k in enumerate(block):
            others = tuple(2 + i for i in range(len(block)) if i != position)
            joint[:, k, :, : label_sizes[k]] = grid.sum(axis=others)
    return joint


def _entropy_from_counts(counts: np.ndarray, n: int) -> np.ndarray:
    """Entropy in nats of histograms along the last axis, sum_i (c_i / n) (log n - log c_i)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, counts / n * (math.log(n) - np.log(counts)), 0.0)
    return terms.sum(axis=-1)


def _mutual_info_from_joint(joint: np.ndarray, n: int) -> np.ndarray:
    """I(a; b) in nats from joint counts (..., A, B), as sklearn's ``mutual_info_score`` sums it.

    sum_{a,b} (c_ab / n) (log c_ab + log n - log c_a - log c_b) over the non-empty cells; terms below
    machine epsilon become 0 and the sum is clipped at 0. A column with a single value carries no
    information: its MI is exactly 0 (sklearn's rule too, rather than a round-off of 1e-16).
    """
    rows = joint.sum(axis=-1, keepdims=True)
    cols = joint.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = joint / n * (np.log(joint) + math.log(n) - np.log(rows) - np.log(cols))
    terms = np.where((joint > 0) & (np.abs(terms) >= np.finfo(np.float64).eps), terms, 0.0)
    single_valued = ((rows > 0).sum(axis=(-2, -1)) <= 1) | ((cols > 0).sum(axis=(-2, -1)) <= 1)
    return np.where(single_valued, 0.0, np.clip(terms.sum(axis=(-2, -1)), 0.0, None))


def discrete_entropy(factors) -> np.ndarray:
    """Entropy H(v_k) in nats of each column of discrete values (N,) or (N, K) -> (K,).

    Equals ``sklearn.metrics.mutual_info_score(v, v)``, which is how disentanglement_lib computes the
    normaliser of MIG (Chen et al. 2018, Eq. 6). Any integer, float or bool labels; no loop over columns.
    """
    labels, sizes = _dense_labels(_as_columns("factors", factors))
    num_factors, width = labels.shape[1], int(sizes.max())
    flat = (labels + np.arange(num_factors)[None, :] * width).ravel()
    counts = np.bincount(flat, minlength=num_factors * width).reshape(num_factors, width)
    return _entropy_from_counts(counts, labels.shape[0])


def discrete_mutual_info(codes, factors) -> np.ndarray:
    """The (L, K) matrix of discrete mutual information I(z_j; v_k) in nats between label columns.

    ``codes`` (N,) or (N, L) and ``factors`` (N,) or (N, K) hold discrete labels (integers, or floats used
    as labels): discretise continuous latents first with :func:`discretize`. Entry (j, k) equals
    ``sklearn.metrics.mutual_info_score(factors[:, k], codes[:, j])`` (to 1e-9, see
    tests/metrics/test_disentanglement.py); all L x K joint histograms come from a single ``np.bincount``,
    with no loop over pairs.
    """
    codes_2d = _as_columns("codes", codes)
    factors_2d = _as_columns("factors", factors)
    _expect_same_length(("codes", "factors"), codes_2d, factors_2d)
    code_labels, code_sizes = _dense_labels(codes_2d)
    factor_labels, factor_sizes = _dense_labels(factors_2d)
    joint = _joint_counts(code_labels, code_sizes, factor_labels, factor_sizes)
    return _mutual_info_from_joint(joint, codes_2d.shape[0])


def mig_from_mutual_info(mutual_info, entropy, factor_names=None) -> MIGResult:
    """MIG from an (L, K) mutual-information matrix and the (K,) factor entropies (Chen et al. 2018, Eq. 6).

    MIG = (1/K) sum_k (I(z_j(k); v_k) - I(z_j'; v_k)) / H(v_k), with j(k) the latent of largest MI with
    factor k and j' the second largest: the *gap*, so a factor spread over two latents scores low even
    when both carry much information. Factors with H(v_k) = 0 (single-valued) are skipped with a warning.
    """
    mi = np.asarray(mutual_info, dtype=np.float64)
    h = np.asarray(entropy, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[0] < 2:
        raise ValueError(
            f"mutual_info: expected an (L, K) matrix with at least 2 latents (the gap is the top MI minus "
            f"the second), got shape {mi.shape}"
        )
    if h.shape != (mi.shape[1],):
        raise ValueError(f"entropy: expected shape ({mi.shape[1]},), one per factor, got {h.shape}")
    if not (np.isfinite(mi).all() and np.isfinite(h).all()) or (h < 0).any():
        raise ValueError("mutual_info and entropy: expected finite values and entropies >= 0")
    names = list(factor_names) if factor_names is not None else [f"factor {k}" for k in range(h.size)]
    varying = h > 0
    if not varying.any():
        raise ValueError(
            f"factors: every factor has a single value (entropy 0), so MIG is undefined: {names}"
        )
    if not varying.all():
        skipped = [name for name, v in zip(names, varying, strict=True) if not v]
        warnings.warn(f"MIG skips factors with a single value (entropy 0): {skipped}", stacklevel=2)
    ranked = np.sort(mi, axis=0)[::-1]
    gaps = np.full(h.shape, np.nan)
    gaps[varying] = (ranked[0, varying] - ranked[1, varying]) / h[varying]
    return MIGResult(float(np.mean(gaps[varying])), gaps, mi, h, np.argmax(mi, axis=0))


def mig_report(latents, factors, bins: int | None = MIG_BINS, factor_names=None) -> MIGResult:
    """The mutual information gap of latents (N, L) against ground-truth factors (N, K), with its parts.

    The disentanglement_lib recipe (Chen et al. 2018, Eq. 6): each latent (usually the encoder means) is
    discretised into ``bins`` equal-width bins (:func:`discretize`; ``bins=None`` when the latents are
    already discrete labels), I(z_j; v_k) is the discrete mutual information, H(v_k) the factor entropy,
    and the score is the mean over factors of the normalised top-1 minus top-2 gap. Constant latents carry
    MI 0; single-valued factors are skipped with a warning. Values lie in [0, 1].
    """
    latents_2d = _as_columns("latents", latents)
    factors_2d = _as_columns("factors", factors)
    _expect_same_length(("latents", "factors"), latents_2d, factors_2d)
    if bins is None:
        codes, code_sizes = _dense_labels(latents_2d)
    else:
        codes, code_sizes = discretize(latents_2d, bins), np.full(latents_2d.shape[1], bins)
    labels, label_sizes = _dense_labels(factors_2d)
    joint = _joint_counts(codes, code_sizes, labels, label_sizes)
    n = latents_2d.shape[0]
    entropy = _entropy_from_counts(joint[0].sum(axis=1), n)  # the factor histograms, from any latent's joint
    return mig_from_mutual_info(_mutual_info_from_joint(joint, n), entropy, factor_names)


def mig(latents, factors, bins: int | None = MIG_BINS) -> float:
    """The mutual information gap (Chen et al. 2018, Eq. 6) as one number; see :func:`mig_report`."""
    return mig_report(latents, factors, bins).score
