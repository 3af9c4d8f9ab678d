"""ck.setup(drive=True): Google Drive for checkpoints and the data cache on Colab, nothing elsewhere."""

import sys
import types
from pathlib import Path

import pytest

import coursekit as ck
from coursekit.data import registry


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(ck.CHECKPOINTS_ENV_VAR, raising=False)
    monkeypatch.delenv(registry.ENV_CACHE, raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")


@pytest.fixture
def fake_colab(monkeypatch, tmp_path, clean_env):
    """A google.colab module whose drive.mount records the mount point; Drive's root is under tmp_path."""
    mounts = []
    drive = types.ModuleType("google.colab.drive")
    drive.mount = mounts.append
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    google = types.ModuleType("google")
    google.colab = colab
    for name, module in (("google", google), ("google.colab", colab), ("google.colab.drive", drive)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(ck, "DRIVE_ROOT", str(tmp_path / "MyDrive" / "coursekit"))
    return mounts


def test_drive_on_colab_mounts_and_moves_checkpoints_and_cache(fake_colab, tmp_path, capsys):
    ck.setup(drive=True)
    drive_root = tmp_path / "MyDrive" / "coursekit"
    assert fake_colab == ["/content/drive"]
    assert ck.checkpoint_root() == drive_root / "checkpoints" and ck.checkpoint_root().is_dir()
    assert registry.cache_dir() == drive_root / "cache" and registry.cache_dir().is_dir()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("coursekit ") and lines[0].endswith("| Colab")
    checkpoints, cache = drive_root / "checkpoints", drive_root / "cache"
    assert lines[1] == f"Google Drive: checkpoints in {checkpoints}, data cache in {cache}"


def test_drive_elsewhere_says_so_and_changes_nothing(clean_env, capsys):
    assert "google.colab" not in sys.modules
    cache_before = registry.cache_dir()
    ck.setup(drive=True)
    assert ck.checkpoint_root() == Path("checkpoints") and registry.cache_dir() == cache_before
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("Google Drive: only on Colab")


def test_setup_without_drive_prints_one_line_and_never_mounts(fake_colab, capsys):
    ck.setup()
    assert fake_colab == [] and ck.checkpoint_root() == Path("checkpoints")
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_checkpoint_root_follows_the_environment(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv(ck.CHECKPOINTS_ENV_VAR, str(tmp_path / "runs"))
    assert ck.checkpoint_root() == tmp_path / "runs"
