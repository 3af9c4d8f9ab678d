"""The widget code against Colab's widget and kernel stack as well as the environment's ipywidgets 8.

Colab's versions (the fixture copy of its pip freeze: ipywidgets 7.7.1, ipykernel 6.17.1, IPython 7.34.0,
jupyter_client 7.4.9, traitlets 5.7.1, and the few packages only they need) are installed from the package
registry with ``pip install --no-deps --target`` into build/ipywidgets7 (once per requirement list; later runs
reuse it) and put first on PYTHONPATH of a pytest subprocess that runs tests/ui/test_widgets.py, including its
real-kernel test, whose kernel inherits that path: a Stop click reaches a running ``fit`` as on Colab.
Skipped only when the registry is out of reach.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "build" / "ipywidgets7"
COLAB_FREEZE = ROOT / "tests" / "fixtures" / "colab" / "pip-freeze.gpu.txt"
# Colab's kernel and widget stack, and what only it needs beside this environment's packages.
COLAB_PACKAGES = (
    "ipywidgets", "ipykernel", "ipython", "jupyter_client", "traitlets",
    "ipython-genutils", "backcall", "pickleshare", "decorator", "entrypoints", "nest-asyncio",
)
PINS = dict(line.split("==", 1) for line in COLAB_FREEZE.read_text().splitlines() if "==" in line)
REQUIREMENTS = [f"{name}=={PINS[name]}" for name in COLAB_PACKAGES]
NETWORK_ERRORS = (
    "NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
    "Could not fetch URL", "ConnectTimeoutError", "ProxyError", "No matching distribution found",
)

pytestmark = pytest.mark.slow


def ipywidgets7_path() -> Path:
    """The directory holding Colab's stack, installed on first use (atomically: never half installed)."""
    marker = TARGET / ".complete"
    if marker.exists() and marker.read_text() == " ".join(REQUIREMENTS):
        return TARGET
    staging = TARGET.with_name(f"{TARGET.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(staging), *REQUIREMENTS],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = result.stdout + result.stderr
        if any(error in output for error in NETWORK_ERRORS):
            pytest.skip(f"package registry unreachable, cannot install {REQUIREMENTS}: {output[-300:]}")
        pytest.fail(f"pip could not install {REQUIREMENTS}:\n{output}")
    (staging / ".complete").write_text(" ".join(REQUIREMENTS))
    shutil.rmtree(TARGET, ignore_errors=True)
    staging.rename(TARGET)
    return TARGET


def test_widget_tests_pass_with_ipywidgets_7():
    path = ipywidgets7_path()
    python_path = os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path}
    env.pop("COURSEKIT_WIDGETS", None)
    show_versions = "import ipywidgets as w, ipykernel as k; print(w.__version__, k.__version__, w.__file__)"
    version = subprocess.run(
        [sys.executable, "-c", show_versions],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )
    expected = f"{PINS['ipywidgets']} {PINS['ipykernel']} {path}"
    assert version.stdout.startswith(expected), f"not Colab's versions imported: {version}"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/ui/test_widgets.py"],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert run.returncode == 0, f"tests/ui/test_widgets.py fails with {REQUIREMENTS}:\n{run.stdout[-4000:]}"
    assert " passed" in run.stdout and " failed" not in run.stdout
