"""``make lab`` as a student starts it: no news pop-up, and the notebooks' kernel is the course's Python.

Runs the real ``make lab`` (on a free port, with private Jupyter user directories so the user's own
settings and kernels play no part) and asks the server:

- the notification settings that JupyterLab's announcements plugin reads: it asks "Would you like to get
  notified about official Jupyter news?" only while ``fetchNews`` is ``"none"`` (JupyterLab's default); the
  Makefile's overrides.d file makes the default ``"false"`` (Never), with no update checks;
- the kernelspec ``python3`` that every notebook's metadata names: it must start this venv's Python, where
  coursekit is installed.

Needs the environment ``make setup`` made (``.venv``); skipped when the tests run in another environment or
when ``make setup`` has work left to do (the test never installs anything).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
START_TIMEOUT_S = 90
NOTIFICATION = "@jupyterlab/apputils-extension:notification"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory):
    """The server of ``make lab``: (base URL with token, its log); stopped with its process group."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if Path(sys.prefix).resolve() != VENV.resolve():
        pytest.skip(f"runs in the environment `make setup` makes ({VENV}), not {sys.prefix}")
    if subprocess.run(["make", "-q", "setup"], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("`make setup` has work to do (run it first; this test installs nothing)")
    home = tmp_path_factory.mktemp("make-lab")
    dirs = {name: home / name for name in ("config", "data", "runtime", "settings", "workspaces")}
    for path in dirs.values():
        path.mkdir()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_DATA_DIR": str(dirs["data"]),
           "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
           "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"])}
    for name in ("JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH", "MAKEFLAGS", "MFLAGS"):
        env.pop(name, None)
    log_path = home / "make-lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["make", "lab", f"PORT={free_port()}", "HOST=127.0.0.1"], cwd=ROOT,
                                   env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert process.poll() is None, f"make lab exited:\n{log_path.read_text(errors='replace')[-3000:]}"
            servers = sorted(dirs["runtime"].glob("jpserver-*.json"))
            if servers:
                info = json.loads(servers[0].read_text())
                base = f"{info['url'].rstrip('/')}"
                try:
                    get(f"{base}/api/status?token={info['token']}")
                    break
                except OSError:
                    pass
            time.sleep(0.5)
        else:
            pytest.fail(f"make lab did not serve within {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
        yield base, info["token"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_make_lab_asks_no_news_question(make_lab):
    base, token = make_lab
    settings = get(f"{base}/lab/api/settings/{NOTIFICATION}?token={token}")
    defaults = {name: spec.get("default") for name, spec in settings["schema"]["properties"].items()}
    assert settings["settings"].get("fetchNews") is None, "the private user settings must be empty"
    assert defaults["fetchNews"] == "false", (
        f"JupyterLab would ask about Jupyter news (fetchNews default {defaults['fetchNews']!r}, the question "
        "shows while it is 'none'): `make setup` writes the default into the venv's overrides.d")
    assert defaults["checkForUpdates"] is False
    assert get(f"{base}/lab/api/news?token={token}")["news"] == []


def test_make_lab_runs_the_notebooks_on_the_course_python(make_lab):
    base, token = make_lab
    names = {json.loads(p.read_text())["metadata"]["kernelspec"]["name"]
             for d in ("lectures", "solutions") for p in (ROOT / d).glob("*.ipynb")}
    assert names == {"python3"}, f"notebooks ask for the kernels {names}"
    specs = get(f"{base}/api/kernelspecs?token={token}")
    spec = specs["kernelspecs"]["python3"]["spec"]
    assert Path(spec["argv"][0]) == VENV / "bin" / "python", (
        f"the python3 kernel of make lab runs {spec['argv'][0]}, not the venv's Python")
    run = subprocess.run([spec["argv"][0], "-c", "import coursekit, ipykernel; print(coursekit.__file__)"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and Path(run.stdout.strip()).is_relative_to(ROOT), run.stderr
