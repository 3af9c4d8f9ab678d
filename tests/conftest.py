"""Shared test set-up: a non-interactive matplotlib backend, quiet TensorFlow, repeatable hypothesis runs."""

import os

import pytest
from hypothesis import settings
from local_server import LocalServer

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The same examples on every run, so a property failure found once is found again (and CI is not a lottery).
settings.register_profile("course", derandomize=True)
settings.load_profile("course")


@pytest.fixture
def server():
    """A :class:`LocalServer` on a free port, shut down after the test."""
    srv = LocalServer()
    yield srv
    srv.close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Cache in tmp_path, offline not forced, and no real network probe (the probe says 'no network')."""
    from coursekit.data import registry

    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(registry.ENV_OFFLINE, raising=False)
    monkeypatch.setattr(registry, "_online_cache", {})
    monkeypatch.setattr(registry, "_connects", lambda host, port, timeout: False)
    return tmp_path / "cache"
