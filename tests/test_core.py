"""Profiles, devices, input errors, setup's one line and the doctor command."""

import os
import subprocess
import sys

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
    with pytest.raises(ValueError, match="COURSEKIT_SEED: expected a non-negative whole number, got 'two'"):
        ck.profile(fast=dict(steps=5), seed=0)


def test_config_names_missing_setting():
    cfg = config.Config(steps=3)
    with pytest.raises(AttributeError, match="no setting 'step'; it has steps"):
        _ = cfg.step


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
    with pytest.raises(ValueError, match="expected a floating-point tensor, got dtype torch.uint8"):
        errors.expect_tensor("images", torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected 3 channels, got 1"):
        errors.expect_tensor("images", torch.zeros(2, 1, 4, 4), channels=3)
    with pytest.raises(ValueError, match="expected finite values"):
        errors.expect_tensor("images", torch.tensor([float("nan")]), value_range=(0, 1))


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
