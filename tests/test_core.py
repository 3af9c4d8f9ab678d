"""Profiles, devices, input errors, setup's one line and the doctor command."""

import os
import pkgutil
import subprocess
import sys
import warnings

import pytest
import torch

import coursekit as ck
from coursekit import config, devices, errors


@pytest.mark.parametrize("name", ["smoke", "fast", "full"])
def test_profile_picks_the_active_settings(monkeypatch, name):
    monkeypatch.setenv("COURSEKIT_PROFILE", name)
    cfg = ck.profile(smoke=dict(steps=5), fast=dict(steps=500), full=dict(steps=5000), lr=1e-3)
    assert cfg.steps == {"smoke": 5, "fast": 500, "full": 5000}[name]
    assert cfg.lr == 1e-3 and cfg["lr"] == 1e-3 and cfg.profile == name


def test_missing_profile_falls_back_to_the_next_larger(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "smoke")
    assert ck.profile(fast=dict(steps=500), full=dict(steps=5000)).steps == 500
    monkeypatch.setenv("COURSEKIT_PROFILE", "full")
    assert ck.profile(smoke=dict(steps=5), fast=dict(steps=500)).steps == 500


def test_auto_profile_follows_the_accelerator(monkeypatch):
    monkeypatch.delenv("COURSEKIT_PROFILE", raising=False)
    monkeypatch.setattr(devices, "accelerator_present", lambda: True)
    assert config.active_profile() == "full"
    monkeypatch.setattr(devices, "accelerator_present", lambda: False)
    assert config.active_profile() == "fast"


def test_unknown_profile_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "fsat")
    expected = r"unknown COURSEKIT_PROFILE profile 'fsat'.*'smoke', 'fast', 'full', 'auto'; did you mean"
    with pytest.raises(ValueError, match=expected):
        ck.profile(smoke={}, fast={}, full={})


def test_seed_variable_replaces_a_declared_seed_only(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "fast")
    monkeypatch.setenv("COURSEKIT_SEED", "2")
    assert ck.profile(fast=dict(steps=5), seed=0).seed == 2
    assert "seed" not in ck.profile(fast=dict(steps=5))
    monkeypatch.setenv("COURSEKIT_SEED", "two")
    with pytest.raises(ValueError, match="COURSEKIT_SEED: expected a whole number >= 0, got 'two'"):
        ck.profile(fast=dict(steps=5), seed=0)


def test_config_names_missing_setting():
    cfg = config.Config(steps=3)
    with pytest.raises(AttributeError, match="no setting 'step'; it has steps"):
        _ = cfg.step


FULL = dict(size=96, width=64, n_blocks=16, batch=16, latent_dim=128, vgg_layer="relu5_4", lr=1e-4,
            steps=6000, srgan_steps=3000, tv_iters=500, d_warmup=200, expand_steps=(1000, 300, 300),
            snapshots=(0, 50, 500, 1000), n_faces=20000, n_eval=2000, eval_n=10000, n=1024, restarts=8,
            prior=dict(size=64, ngf=64, steps=8000, n_faces=20000), photos="auto")


def test_dry_run_caps_steps_and_sets_but_keeps_every_size(monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_PROFILE", "full")
    monkeypatch.setenv("COURSEKIT_MAX_STEPS", "2")
    cfg = ck.profile(smoke=dict(steps=1), full=dict(FULL, prior=dict(FULL["prior"])))
    for size in ("size", "width", "n_blocks", "batch", "latent_dim", "vgg_layer", "lr", "photos"):
        assert cfg[size] == FULL[size], size
    assert (cfg.prior["size"], cfg.prior["ngf"]) == (64, 64)
    assert (cfg.steps, cfg.srgan_steps, cfg.tv_iters, cfg.d_warmup, cfg.prior["steps"]) == (2, 2, 2, 2, 2)
    assert cfg.expand_steps == (2, 2, 2) and cfg.snapshots == (0,)
    assert (cfg.n_faces, cfg.n_eval, cfg.eval_n, cfg.n, cfg.prior["n_faces"]) == (config.SET_CAP,) * 5
    assert cfg.restarts == 8 and cfg.dry_run and cfg.profile == "full"
    notice = capsys.readouterr().out
    assert notice.startswith("DRY RUN (COURSEKIT_MAX_STEPS=2): profile full at its full sizes")
    assert "steps 6000->2" in notice and "prior.n_faces 20000->256" in notice and "width" not in notice


def test_without_the_switch_nothing_is_capped_and_learning_is_checked(monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_PROFILE", "full")
    monkeypatch.delenv("COURSEKIT_MAX_STEPS", raising=False)
    cfg = ck.profile(full=dict(FULL))
    assert cfg.steps == 6000 and cfg.n_faces == 20000 and not cfg.dry_run
    assert ck.checks_learning(cfg, "SRResNet beats bicubic") is True
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("profile, max_steps, why", [
    ("full", "3", "dry run"), ("smoke", "", "smoke profile")])
def test_learning_checks_are_skipped_by_name(monkeypatch, capsys, profile, max_steps, why):
    monkeypatch.setenv("COURSEKIT_PROFILE", profile)
    monkeypatch.setenv("COURSEKIT_MAX_STEPS", max_steps)
    cfg = ck.profile(smoke=dict(steps=5), full=dict(steps=5000))
    capsys.readouterr()
    assert ck.checks_learning(cfg, "SRResNet beats bicubic by 0.5 dB") is False
    assert capsys.readouterr().out == f"learning check skipped ({why}): SRResNet beats bicubic by 0.5 dB\n"


@pytest.mark.parametrize("value", ["0", "-1", "two", "2.5"])
def test_dry_run_cap_must_be_a_positive_whole_number(monkeypatch, value):
    monkeypatch.setenv("COURSEKIT_MAX_STEPS", value)
    with pytest.raises(ValueError, match=f"COURSEKIT_MAX_STEPS: expected a whole number >= 1, got '{value}'"):
        ck.profile(steps=5)


def test_fit_stops_at_the_dry_run_cap(monkeypatch):
    from coursekit import train

    monkeypatch.setenv("COURSEKIT_MAX_STEPS", "3")
    seen = []
    result = train.fit(lambda batch, step: seen.append(step) or {"loss": 1.0}, lambda: None, 50,
                       progress=False)
    assert seen == [0, 1, 2] and result.step == 3 and result.finished


def test_device_env_override_and_validation(monkeypatch):
    monkeypatch.setenv("COURSEKIT_DEVICE", "cpu")
    assert ck.device() == torch.device("cpu")
    monkeypatch.setenv("COURSEKIT_DEVICE", "gpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        ck.device()


def test_autocast_is_a_noop_on_cpu():
    with devices.autocast("cpu"):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32


@pytest.mark.parametrize(
    "capability, gpu, dtype, scaled",
    [((7, 5), "Tesla T4", torch.float16, True), ((7, 0), "Tesla V100", torch.float16, True),
     ((8, 0), "A100", torch.bfloat16, False), ((8, 9), "L4", torch.bfloat16, False),
     ((9, 0), "H100", torch.bfloat16, False)],
)
def test_mixed_precision_is_float16_on_a_t4_and_bfloat16_where_the_gpu_has_it(
    monkeypatch, capability, gpu, dtype, scaled
):
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: asked.append(gpu) or capability)
    cuda = torch.device("cuda")
    assert devices.mixed_precision_dtype(cuda) == dtype
    assert devices.needs_loss_scaling(cuda) is scaled
    with warnings.catch_warnings():  # this machine has no CUDA: torch warns that autocast is disabled
        warnings.simplefilter("ignore")
        assert devices.autocast(cuda).fast_dtype == dtype
    assert asked, "the choice must come from the device's compute capability"


def test_mixed_precision_is_off_on_cpu_and_half_on_apple_gpus():
    assert devices.mixed_precision_dtype("cpu") is None
    assert devices.mixed_precision_dtype("mps") == torch.float16
    assert not devices.needs_loss_scaling("cpu") and not devices.needs_loss_scaling("mps")
    assert not devices.grad_scaler("cpu").is_enabled()


def test_seed_makes_runs_repeatable():
    ck.seed(3)
    a = torch.randn(4)
    ck.seed(3)
    assert torch.equal(a, torch.randn(4))


def test_expect_tensor_messages():
    with pytest.raises(ValueError, match=r"expected a 4-D \(B, C, H, W\) tensor, got shape \(3, 8, 8\)"):
        errors.expect_tensor("images", torch.zeros(3, 8, 8), ndim=4)
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\], got values in \[-1, 1\]"):
        errors.expect_tensor("images", torch.tensor([-1.0, 1.0]), value_range=(0, 1))
    with pytest.raises(TypeError, match="expected a floating-point tensor, got dtype torch.uint8"):
        errors.expect_tensor("images", torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected 3 channels, got 1"):
        errors.expect_tensor("images", torch.zeros(2, 1, 4, 4), channels=3)
    with pytest.raises(ValueError, match="expected finite values"):
        errors.expect_tensor("images", torch.tensor([float("nan")]), value_range=(0, 1))


@pytest.mark.parametrize(
    ("check", "error", "message"),
    [
        (lambda: errors.expect_tensor("x", [0.0]), TypeError, r"x: expected a torch.Tensor, got list"),
        (lambda: errors.expect_positive_int("n", "3"), TypeError, r"n: expected an integer >= 1, got '3' of"),
        (lambda: errors.expect_positive_int("n", 2.0), TypeError, r"got 2.0 of type float"),
        (lambda: errors.expect_positive_int("n", True), TypeError, r"got True of type bool"),
        (lambda: errors.expect_positive_int("n", 0), ValueError, r"n: expected an integer >= 1, got 0"),
        (lambda: errors.expect_probability("p", "0.5"), TypeError, r"p: expected a number in \[0, 1\]"),
        (lambda: errors.expect_probability("p", 1.5), ValueError, r"p: expected a number in .*, got 1.5"),
    ],
)
def test_a_wrong_type_raises_type_error_and_a_bad_value_value_error(check, error, message):
    with pytest.raises(error, match=message):
        check()


def test_range_checks_of_per_step_code_run_only_under_coursekit_debug(monkeypatch):
    from coursekit import losses

    recon, x = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 1.0)

    def no_readback(*args, **kwargs):
        raise AssertionError("a range check read the tensor back (a GPU sync on every step)")

    monkeypatch.delenv("COURSEKIT_DEBUG", raising=False)
    with monkeypatch.context() as patch:
        patch.setattr(torch, "aminmax", no_readback)
        assert errors.step_range(0.0, 1.0) is None
        losses.bernoulli_nll(recon, x)  # no check, no read-back
    monkeypatch.setenv("COURSEKIT_DEBUG", "1")
    assert errors.step_range(0.0, 1.0) == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"x: expected values in \[0.0, 1.0\], got values in \[1.5, 1.5\]"):
        losses.bernoulli_nll(recon, x + 0.5)


def test_setup_prints_one_line(monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_PROFILE", "smoke")
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    ck.setup(0)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    line = out.strip()
    assert "profile smoke" in line and "device cpu" in line and f"torch {torch.__version__}" in line
    assert "offline (COURSEKIT_OFFLINE=1)" in line


def run_doctor(**env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "coursekit", "doctor"], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_doctor_reports_forced_offline():
    result = run_doctor(COURSEKIT_OFFLINE="1", COURSEKIT_PROFILE="smoke")
    assert result.returncode == 0, result.stderr
    assert "offline (COURSEKIT_OFFLINE=1)" in result.stdout
    assert "[torch] torch " in result.stdout and "MISSING" not in result.stdout.split("[tf]")[0]


def test_doctor_reports_network_state_it_detects(monkeypatch):
    from coursekit.data import registry

    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    result = run_doctor()
    assert result.returncode == 0, result.stderr
    assert registry.network_status() in result.stdout.splitlines()[0]


def test_cli_rejects_unknown_data_entry():
    result = subprocess.run([sys.executable, "-m", "coursekit", "data", "fetch", "mnsit"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COURSEKIT_OFFLINE": "1"})
    assert result.returncode == 2
    assert "mnsit" in result.stderr and "mnist" in result.stderr


def test_cli_fetch_offline_fails_with_a_message_not_a_traceback():
    result = subprocess.run([sys.executable, "-m", "coursekit", "data", "fetch", "mnist"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COURSEKIT_OFFLINE": "1"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "COURSEKIT_OFFLINE=1" in result.stderr


def test_cli_data_list_names_every_entry():
    from coursekit.data import registry

    result = subprocess.run([sys.executable, "-m", "coursekit", "data", "list"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for name in registry.names():
        assert f"{name}: " in result.stdout


def test_every_public_module_resolves_as_an_attribute_after_import_coursekit():
    """``ck.rng``, ``ck.tiling``, ... with nothing imported first (a fresh interpreter)."""
    not_attributes = {"__main__", "tf", "voxel_widget"}  # TensorFlow on request only; a deprecated alias
    helpers = {"errors", "deprecation"}  # coursekit's own argument checks and old names, not a notebook's
    names = sorted({m.name for m in pkgutil.iter_modules(ck.__path__)} - not_attributes - helpers)
    assert {"rng", "tiling", "restoration", "ui", "metrics"} <= set(names)
    code = f"import coursekit as ck; print([type(getattr(ck, name)).__name__ for name in {names!r}])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(["module"] * len(names))
