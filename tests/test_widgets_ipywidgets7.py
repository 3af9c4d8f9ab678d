"""The widget code against Colab's ipywidgets 7.7 as well as the environment's ipywidgets 8.

ipywidgets 7.7.5 (and the two packages only it needs) is installed from the package registry with
``pip install --no-deps --target`` into build/ipywidgets7 (once; later runs reuse it) and put first on
PYTHONPATH of a pytest subprocess that runs tests/test_widgets.py. Skipped only when the registry is out
of reach.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "build" / "ipywidgets7"
REQUIREMENTS = ["ipywidgets==7.7.5", "ipython_genutils", "widgetsnbextension<4", "jupyterlab_widgets<2"]
NETWORK_ERRORS = (
    "NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
    "Could not fetch URL", "ConnectTimeoutError", "ProxyError", "No matching distribution found",
)

pytestmark = pytest.mark.slow


def ipywidgets7_path() -> Path:
    """The directory holding ipywidgets 7.7.5, installed on first use (atomically: never half installed)."""
    marker = TARGET / ".complete"
    if marker.exists():
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
            pytest.skip(f"package registry unreachable, cannot install ipywidgets 7.7.5: {output[-300:]}")
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
    version = subprocess.run(
        [sys.executable, "-c", "import ipywidgets; print(ipywidgets.__version__, ipywidgets.__file__)"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )
    assert version.stdout.startswith(f"7.7.5 {path}"), f"ipywidgets 7.7.5 is not the one imported: {version}"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/test_widgets.py"],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert run.returncode == 0, f"tests/test_widgets.py fails with ipywidgets 7.7.5:\n{run.stdout[-4000:]}"
    assert " passed" in run.stdout and " failed" not in run.stdout
