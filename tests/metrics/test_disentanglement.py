"""coursekit.metrics' MIG against the disentanglement_lib recipe computed pair by pair with scikit-learn."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import mutual_info_score

from coursekit import metrics

TOL = 1e-9


def reference_codes(latents: np.ndarray, bins: int = 20) -> np.ndarray:
    """disentanglement_lib's ``_histogram_discretize``: np.digitize on np.histogram's edges, per latent."""
    return np.stack([np.digitize(x, np.histogram(x, bins)[1][:-1]) for x in latents.T], axis=1)


def reference_mi(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    return np.array(
        [[mutual_info_score(f, c) for f in factors.T] for c in codes.T], dtype=np.float64
    ).reshape(codes.shape[1], factors.shape[1])


def reference_mig(latents: np.ndarray, factors: np.ndarray) -> float:
    """disentanglement_lib's ``_compute_mig`` (evaluation/metrics/mig.py), sample-major arrays."""
    mi = reference_mi(reference_codes(latents), factors)
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    ranked = np.sort(mi, axis=0)[::-1]
    return float(np.mean((ranked[0] - ranked[1]) / entropy))


def structured(seed: int, n: int, num_latents: int, sizes: tuple[int, ...]):
    """Random factors and latents mixing them with noise: some aligned, some mixed, one constant."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n) for s in sizes], axis=1)
    mixing = rng.normal(size=(len(sizes), num_latents)) * (rng.random((len(sizes), num_latents)) < 0.4)
    latents = factors @ mixing + 0.3 * rng.normal(size=(n, num_latents))
    latents[:, -1] = 1.5
    return latents, factors


latent_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=st.tuples(st.integers(2, 300), st.integers(2, 5)),
    # no subnormals: numpy's own histogram (the reference) fails on a data range of ~1e-44
    elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False),
)


@settings(max_examples=40, deadline=None)
@given(latent_arrays)
def test_discretize_equals_numpy_histogram_and_digitize(latents):
    np.testing.assert_array_equal(metrics.discretize(latents), reference_codes(latents) - 1)


@settings(max_examples=40, deadline=None)
@given(latent_arrays, st.data())
def test_mig_equals_the_sklearn_reference_on_random_inputs(latents, data):
    n = latents.shape[0]
    sizes = data.draw(st.lists(st.integers(2, 12), min_size=1, max_size=4))
    factors = np.stack([data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, s - 1))) for s in sizes], 1)
    factors[0], factors[1] = 0, 1  # every factor takes at least two values
    np.testing.assert_allclose(
        metrics.discrete_mutual_info(reference_codes(latents), factors),
        reference_mi(reference_codes(latents), factors),
        atol=TOL,
        rtol=0,
    )
    assert metrics.mig(latents, factors) == pytest.approx(reference_mig(latents, factors), abs=TOL)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31), st.integers(200, 2000), st.integers(2, 6))
def test_mig_equals_the_sklearn_reference_on_structured_inputs(seed, n, num_latents):
    latents, factors = structured(seed, n, num_latents, (3, 6, 40, 32, 32))
    assert metrics.mig(latents, factors) == pytest.approx(reference_mig(latents, factors), abs=TOL)
    report = metrics.mig_report(latents, factors)
    assert report.mutual_info.shape == (num_latents, 5) and report.entropy.shape == (5,)
    assert np.all(report.mutual_info[-1] == 0.0), "a constant latent carries no information"


@pytest.mark.filterwarnings("ignore:Clustering metrics expects discrete values")
def test_discrete_mutual_info_and_entropy_of_label_arrays_with_any_values():
    a = np.array([0.5, 0.5, 2.0, 2.0, 7.0, 7.0])
    b = np.array([10, 10, -3, -3, -3, 10**12])
    assert metrics.discrete_mutual_info(a, b)[0, 0] == pytest.approx(mutual_info_score(b, a), abs=TOL)
    assert metrics.discrete_entropy(a)[0] == pytest.approx(np.log(3), abs=TOL)
    assert metrics.discrete_entropy(torch.tensor([True, False, True, False]))[0] == pytest.approx(np.log(2))


def test_perfectly_aligned_latents_give_mig_one():
    # the full grid of factor values: every other latent then has exactly zero empirical MI with a factor
    factors = np.indices((3, 6, 20)).reshape(3, -1).T
    aligned = factors * np.array([0.3, -2.0, 0.1]) + 1.0  # each value in its own one of the 20 bins
    latents = np.concatenate([aligned, np.full((len(factors), 2), 0.7)], axis=1)
    assert metrics.mig(latents, factors) == pytest.approx(1.0, abs=TOL)
    shuffled = torch.from_numpy(latents[:, [3, 2, 0, 4, 1]].copy())
    assert metrics.mig(shuffled, torch.from_numpy(factors)) == pytest.approx(1.0, abs=TOL)


def test_a_factor_split_over_two_latents_has_high_mi_but_a_gap_of_zero():
    rng = np.random.default_rng(1)
    factor = rng.integers(0, 8, 4000)
    latents = np.stack([factor, factor, rng.normal(size=4000)], axis=1).astype(np.float64)
    report = metrics.mig_report(latents, factor)
    assert report.mutual_info[0, 0] == pytest.approx(np.log(8), abs=0.01)
    assert report.score == pytest.approx(0.0, abs=TOL)


def test_mig_from_mutual_info_uses_the_top_two_latents():
    mi = np.array([[0.9, 0.1], [0.4, 0.0], [0.2, 0.6]])
    result = metrics.mig_from_mutual_info(mi, [1.0, 2.0])
    np.testing.assert_allclose(result.gaps, [0.5, 0.25])
    assert result.score == pytest.approx(0.375) and float(result) == result.score
    assert result.top_latent.tolist() == [0, 2]


def test_constant_latents_carry_no_information():
    factors = np.repeat(np.arange(4), 25)
    latents = np.stack([np.full(100, 3.0), np.zeros(100)], axis=1)
    np.testing.assert_array_equal(metrics.discrete_mutual_info(metrics.discretize(latents), factors), 0.0)
    assert metrics.mig(latents, factors) == 0.0


def test_single_valued_factors_are_skipped_with_a_warning():
    rng = np.random.default_rng(2)
    varying = rng.integers(0, 5, 500)
    factors = np.stack([varying, np.zeros(500, int)], axis=1)
    latents = np.stack([varying, np.ones(500)], axis=1).astype(float)
    with pytest.warns(UserWarning, match=r"single value .*\['factor 1'\]"):
        report = metrics.mig_report(latents, factors)
    assert report.score == pytest.approx(1.0) and np.isnan(report.gaps[1])
    with pytest.raises(ValueError, match="every factor has a single value"):
        metrics.mig(latents, np.zeros((500, 2), int))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_latents_are_rejected(bad):
    latents = np.random.default_rng(0).normal(size=(50, 3))
    latents[7, 2] = bad
    with pytest.raises(ValueError, match=r"latents: expected finite values, got 1 NaN or inf .*column 2"):
        metrics.mig(latents, np.arange(50) % 3)


def test_mismatched_lengths_and_shapes_are_rejected():
    with pytest.raises(
        ValueError, match=r"latents and factors: expected the same number of samples N.*100 and 99"
    ):
        metrics.mig(np.zeros((100, 3)), np.zeros(99, int))
    with pytest.raises(ValueError, match="codes and factors: expected the same number of samples"):
        metrics.discrete_mutual_info(np.zeros(10, int), np.zeros(11, int))
    with pytest.raises(ValueError, match=r"expected a non-empty \(N,\) or \(N, D\) array"):
        metrics.mig(np.zeros((4, 2, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="at least 2 latents"):
        metrics.mig(np.arange(10.0), np.arange(10) % 2)
    with pytest.raises(TypeError, match="expected integer or floating-point values, got dtype <U1"):
        metrics.discrete_entropy(np.array(["a", "b"]))


def test_continuous_values_used_as_labels_are_rejected():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=r"discretise continuous latents first"):
        metrics.discrete_mutual_info(rng.normal(size=(20000, 10)), rng.integers(0, 1000, (20000, 2)))


def test_no_warning_when_every_factor_varies():
    latents, factors = structured(3, 500, 4, (3, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.mig(latents, factors)
