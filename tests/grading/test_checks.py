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


# Hints check_close finds by itself (coursekit.grading.diagnose), neighbouring values (g.matches), numerics.

from coursekit.grading import diagnose as dg  # noqa: E402


def _message(lab, key, got, **kwargs):
    with pytest.raises(AssertionError) as info:
        g.check_close(lab, key, got, **kwargs)
    return str(info.value)


@pytest.fixture
def values(store_dir):
    rng = np.random.default_rng(0)
    stored = {"kl": rng.uniform(1, 5, 6), "psnr": np.array([31.2, 27.5, 35.0]), "loss": np.array(0.6931),
              "grid": rng.normal(size=(2, 3, 4, 5)), "matrix": rng.normal(size=(3, 5)),
              "weight": rng.normal(size=(4, 3)), "pair": np.array([0.8, 1.9])}
    store.write("01", stored)
    return stored


def test_a_constant_factor_is_named_2_255_or_generic(values):
    kl = values["kl"]
    message = _message("01", "kl", torch.tensor(2 * kl))
    assert message.startswith("kl: 6 of 6 values differ")
    assert message.endswith(": got = expected x 2: a factor 2 too many (a missing 1/2, or a term counted "
                            "twice?)")
    assert _message("01", "kl", 255 * kl).endswith("got = expected x 255: values on the [0, 255] scale where "
                                                   "[0, 1] is expected")
    assert "got = expected / ln 10" in _message("01", "kl", kl / np.log(10))
    assert _message("01", "kl", kl / 20).endswith(
        ": got = expected / 20.000 (a constant factor: a sum where a mean is expected, or the reverse?)")
    assert _message("01", "loss", 8 * 0.6931).endswith(
        "expected 0.6931, got 5.5448 (rtol=0.0001, atol=1e-05): got = expected x 8.000 (a constant factor: "
        "a sum where a mean is expected, or the reverse?)")


def test_sizes_name_the_batch_and_the_latents(values):
    kl = values["kl"]
    sizes = {"batch": 6, "latents": 20, "pixels": 784}
    assert _message("01", "kl", kl / 20, sizes=sizes).endswith(
        ": got = expected / 20 (latents = 20): a mean over the latents where a sum is expected?")
    assert _message("01", "loss", 0.6931 * 8, sizes={"batch": 8}).endswith(
        ": got = expected x 8 (batch = 8): a sum over the batch where a mean is expected?")
    message = _message("01", "kl", kl * 120, sizes=sizes)
    assert "(batch x latents = 120): a sum over the batch x latents" in message
    # without sizes, a length of the result's own axes is named
    assert "x 6 (the length of axis 0 of the result)" in _message("01", "kl", kl * 6)


def test_a_flipped_sign_and_a_constant_offset(values):
    assert _message("01", "kl", -values["kl"]).endswith(": got = -expected: the sign is flipped")
    assert _message("01", "loss", -0.6931).endswith(": got = -expected: the sign is flipped")
    assert "got = -expected x 2: a factor 2 too many" in _message("01", "kl", -2 * values["kl"])
    psnr = values["psnr"]
    message = _message("01", "psnr", psnr + 20 * np.log10(255.0))
    assert message.endswith(": got = expected + 48.13 (20 log10(255) dB): PSNR with a peak of 255 on [0, 1] "
                            "images")
    assert "got = expected + 48.13" in _message("01", "loss", 0.6931 + 48.1308)  # one value: named offsets
    assert _message("01", "kl", values["kl"] + 0.25).endswith(
        ": got = expected + 0.2500 everywhere (a constant offset: a missing or extra constant term?)")
    assert "latents / 2 = 10.000" in _message("01", "kl", values["kl"] + 10, sizes={"latents": 20})


def test_reordered_and_transposed_values_also_with_another_shape(values):
    kl = values["kl"]
    assert "in another order along axis 0" in _message("01", "kl", kl[[1, 0, 2, 3, 5, 4]])
    assert "reversed along axis 1" in _message("01", "matrix", values["matrix"][:, ::-1])
    assert "in another order along axis 0" in _message("01", "pair", values["pair"][::-1])
    message = _message("01", "matrix", values["matrix"].T)
    assert message == ("matrix: expected shape (3, 5), got (5, 3): "
                       "got = expected.T: the right values on transposed axes (swap the two axes)")
    channels_last = torch.tensor(values["grid"]).permute(0, 2, 3, 1)
    assert _message("01", "grid", channels_last).endswith(
        "got.transpose(0, 3, 1, 2) is the expected value (channels-last vs channels-first?)")
    assert _message("01", "grid", values["grid"].reshape(2, 60)).endswith("reshape to (2, 3, 4, 5)")
    assert _message("01", "kl", kl.mean()).endswith(
        "got = the mean of the expected values: return all 6 values (shape (6,)), not their mean")
    per_latent = np.stack([kl / 4] * 4, axis=1)
    assert "the sum over axis 1 of the answer is the expected value" in _message("01", "kl", per_latent)


def test_a_neighbouring_value_via_matches_is_lazy_and_named(values):
    weight = values["weight"]
    after_extra_step, calls = weight - 0.01 * np.sign(weight), []

    def reference():
        calls.append(1)
        return torch.tensor(after_extra_step)

    mistakes = {"one optimizer step too many: gradients accumulated, call zero_grad() before each backward()":
                g.matches(reference, atol=1e-6)}
    g.check_close("01", "weight", weight, mistakes=mistakes)
    assert calls == [], "the reference runs only on a wrong answer"
    assert _message("01", "weight", after_extra_step, mistakes=mistakes).endswith(
        ": one optimizer step too many: gradients accumulated, call zero_grad() before each backward()")
    other = _message("01", "weight", weight + 0.05 * np.arange(12).reshape(4, 3), mistakes=mistakes)
    assert "optimizer step" not in other
    assert calls == [1], "the reference value is computed once"
    assert not g.matches(np.zeros(3))(np.zeros(4), np.zeros(4)), "another shape does not match"
    assert g.matches(2.0)(np.array([2.0]), np.array([1.0]))
    assert not g.matches(lambda: 1 / 0)(np.zeros(2), np.zeros(2)), "a reference that fails does not fire"


def test_a_correct_answer_passes_and_random_wrong_answers_get_no_diagnosis(values):
    sizes = {"batch": 6, "latents": 20}
    g.check_close("01", "kl", torch.tensor(values["kl"]) * (1 + 1e-6), sizes=sizes, numerics="never shown")
    g.check_close("01", "loss", 0.6931, sizes=sizes, numerics="never shown")
    rng = np.random.default_rng(1)
    for want in (values["kl"], values["grid"], values["matrix"], values["psnr"]):
        for _ in range(20):
            noisy = want + rng.normal(scale=0.1, size=want.shape)
            assert dg.diagnose(noisy, want, sizes=sizes) is None
            assert dg.diagnose(rng.normal(size=want.shape), want, sizes=sizes) is None
            assert dg.diagnose(want * rng.uniform(0.5, 1.5, size=want.shape), want) is None
    for _ in range(200):  # one number: any wrong value has some ratio and offset, only named ones count
        want, got = rng.uniform(0.1, 10), rng.uniform(0.1, 10)
        hint = dg.diagnose(np.array(got), np.array(want))
        whole = round(max(got / want, want / got), 3) % 1 < 2e-3
        assert hint is None or whole or "ln" in hint, (got, want, hint)
    # a lenient check on a large value must not name 48.13 dB or a ln 2 for a near miss
    assert dg.diagnose(np.array(5000 - 48.13 + 1), np.array(5000.0), rtol=2e-3) is None
    assert dg.diagnose(np.array(0.0138), np.array(0.02), rtol=0.05) is None  # 0.02 x ln 2 = 0.01386
    assert dg.diagnose(np.array([1.5, 2.5]), np.array([1.0, 2.0])) is None  # two values: no unnamed offset
    assert dg.diagnose(np.array([1j, 2]), np.array([1.0, 2.0])) is None
    message = _message("01", "kl", values["kl"] + rng.normal(scale=0.1, size=6))
    assert message.endswith("rtol=0.0001, atol=1e-05)"), "only the generic summary"


def test_hand_written_mistakes_keep_priority_and_a_failing_diagnosis_does_not_crash(values, monkeypatch):
    mistakes = {"twice too large: forgot the factor 1/2?": lambda got, want: np.allclose(got, 2 * want)}
    assert _message("01", "kl", 2 * values["kl"], mistakes=mistakes).endswith(": forgot the factor 1/2?")
    broken = {"never shown": lambda got, want: 1 / 0}
    assert _message("01", "kl", -values["kl"], mistakes=broken).endswith("the sign is flipped")

    def crashes(case):
        raise RuntimeError("cannot judge")

    monkeypatch.setattr(dg, "DIAGNOSES", (crashes, *dg.DIAGNOSES))
    assert _message("01", "kl", -values["kl"]).endswith("the sign is flipped")
    assert dg.diagnose(np.array(["a"], dtype=object), np.zeros(1)) is None
    assert dg.diagnose(np.array([np.inf, 1.0]), np.array([1.0, 2.0])) is None


def test_numerics_says_what_an_extreme_input_checks(values):
    numerics = "compute from logits: log(sigmoid(x)) underflows at x = -100"
    nan = _message("01", "loss", float("nan"), numerics=numerics)
    assert nan == f"loss: got NaN values: numerical behaviour: {numerics}"
    inf = _message("01", "loss", float("inf"), numerics=numerics)
    assert inf.endswith(f"got inf (rtol=0.0001, atol=1e-05): numerical behaviour: {numerics}")
    assert _message("01", "loss", 16.118, numerics=numerics).endswith(f": numerical behaviour: {numerics}")
    assert _message("01", "loss", -0.6931, numerics=numerics).endswith("the sign is flipped"), "more specific"
    mistakes = {"not finite: use F.softplus": lambda got, want: not np.isfinite(got).all()}
    assert _message("01", "loss", np.nan, numerics=numerics, mistakes=mistakes).endswith("use F.softplus")
    assert "numerical" not in _message("01", "kl", np.zeros(5), numerics=numerics), "a shape is not numerics"
