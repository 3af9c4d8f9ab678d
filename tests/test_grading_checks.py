"""The checks lab tests call (coursekit.grading) and the store of expected values."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import grading as g
from coursekit.grading import store


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(store.DIR_ENV, str(tmp_path))
    monkeypatch.delenv(store.RECORD_ENV, raising=False)
    return tmp_path


def test_check_shape_names_expected_and_actual_and_gives_the_hint():
    z = torch.zeros(8, 40)
    with pytest.raises(AssertionError) as info:
        hints = {(None, 40): "did you return mu and logvar concatenated?"}
        g.check_shape("q_reparam", z, (None, 20), hints=hints)
    assert str(info.value) == ("q_reparam: expected shape (B, 20), got (B, 40): "
                               "did you return mu and logvar concatenated?")
    assert g.check_shape("q_reparam", torch.zeros(3, 20), (None, 20)) is None


def test_check_shape_without_a_matching_hint_and_with_a_different_rank():
    with pytest.raises(AssertionError, match=r"^x: expected shape \(B, 20\), got \(8, 20, 1\)$"):
        g.check_shape("x", np.zeros((8, 20, 1)), (None, 20), hints={(None, 40): "never shown"})
    with pytest.raises(AssertionError, match="expected a tensor or array, got NoneType"):
        g.check_shape("x", None, (2,))


def test_check_close_passes_within_tolerance_and_reports_the_largest_difference(store_dir):
    store.write("01", {"kl": np.array([1.0, 2.0, 3.0])})
    g.check_close("01", "kl", torch.tensor([1.0, 2.0, 3.0 + 1e-5]))
    with pytest.raises(AssertionError) as info:
        g.check_close("01", "kl", torch.tensor([1.0, 2.5, 3.0]))
    message = str(info.value)
    assert message.startswith("kl: 1 of 3 values differ") and "at index (1,) expected 2, got 2.5" in message


def test_check_close_mistake_detector_gives_its_hint(store_dir):
    store.write("01", {"kl": np.array([0.5, 1.5])})
    mistakes = {"KL is negative: check the sign": lambda got, want: got < 0}
    with pytest.raises(AssertionError, match="KL is negative: check the sign$"):
        g.check_close("01", "kl", torch.tensor([-0.5, -1.5]), mistakes=mistakes)
    with pytest.raises(AssertionError) as info:
        g.check_close("01", "kl", torch.tensor([0.7, 1.5]), mistakes=mistakes)
    assert "check the sign" not in str(info.value)


def test_check_close_wrong_shape_nan_and_non_numbers(store_dir):
    store.write("01", {"z": np.zeros((4, 2)), "s": np.array(3.0)})
    with pytest.raises(AssertionError, match=r"z: expected shape \(4, 2\), got \(4, 3\)"):
        g.check_close("01", "z", np.zeros((4, 3)))
    with pytest.raises(AssertionError, match="z: got NaN values"):
        g.check_close("01", "z", np.full((4, 2), np.nan))
    with pytest.raises(AssertionError, match="s: expected numbers, got NoneType"):
        g.check_close("01", "s", None)
    g.check_close("01", "s", torch.tensor([3.0]))  # one value compares with a scalar


def test_missing_key_or_file_says_how_to_regenerate(store_dir):
    with pytest.raises(KeyError, match="python -m coursekit expected 02"):
        g.expected("02", "anything")
    with pytest.raises(ValueError, match="two-digit module number"):
        g.expected("1", "kl")


def test_record_mode_stores_then_compare_mode_reads(store_dir, monkeypatch):
    monkeypatch.setenv(store.RECORD_ENV, "1")
    g.check_close("03", "mig", torch.tensor([0.25, 0.5], requires_grad=True) * 2)
    g.check_close("03", "beta", 4.0)
    monkeypatch.setenv(store.RECORD_ENV, "0")
    np.testing.assert_allclose(g.expected("03", "mig"), [0.5, 1.0])
    assert sorted(store.load("03")) == ["beta", "mig"]
    assert not list(store_dir.glob(".*")), "atomic writes leave no temporary files"
    with pytest.raises(AssertionError):
        g.check_close("03", "beta", 5.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=20),
       st.floats(1e-6, 1e-3))
def test_check_close_accepts_relative_noise_below_rtol(values, fraction):
    want = np.array(values)
    got = want * (1 + fraction / 10)
    tolerance_ok = np.all(np.abs(got - want) <= 1e-5 + fraction * np.abs(want))
    store._cache.clear()
    assert tolerance_ok
    with pytest.MonkeyPatch.context() as mp, __import__("tempfile").TemporaryDirectory() as tmp:
        mp.setenv(store.DIR_ENV, tmp)
        mp.delenv(store.RECORD_ENV, raising=False)
        store.write("05", {"v": want})
        g.check_close("05", "v", got, rtol=fraction)


def test_check_range_and_param_count_and_true():
    g.check_range("probabilities", torch.rand(10), 0.0, 1.0)
    with pytest.raises(AssertionError, match=r"expected values in \[0, 1\], got values in \[-1, 2\]"):
        g.check_range("x", torch.tensor([-1.0, 2.0]), 0.0, 1.0)
    with pytest.raises(AssertionError, match="NaN or inf"):
        g.check_range("x", torch.tensor([float("nan")]), 0.0, 1.0)
    g.check_param_count(torch.nn.Linear(8, 2), 18)
    with pytest.raises(AssertionError, match=r"encoder: expected 18 trainable parameters, got 16 \(2 fewer"):
        g.check_param_count(torch.nn.Linear(8, 2, bias=False), 18, what="encoder")
    with pytest.raises(AssertionError, match="^the loss must fall$"):
        g.check_true(False, "the loss must fall")
    assert g.check_true(True, "unused") is None
