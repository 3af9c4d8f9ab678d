"""JupyterLab in a real browser: the lectures run as a student runs them, widgets included.

A private JupyterLab server (127.0.0.1, a free port, a random token, temporary config/data/runtime/settings
directories, no news or update checks) serves copies of the lectures; Debian's Chromium, driven by Playwright,
opens each one, runs all cells in the smoke profile with live widgets and checks what a student would see:
every code cell executed, no error or stderr output, the training dashboard rendered (its Stop button visible,
no "Error displaying widget"), and a latent-traversal slider that re-renders its image when moved.
Screenshots go to build/screenshots/. Needs /usr/bin/chromium (apt package ``chromium``; `make test` installs
it) and the ``playwright`` package; without them the test is skipped locally and fails under CI.
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
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google on a closed network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TOUR = "lectures/00_tour.ipynb"
MODULE_LECTURE = "lectures/01_vae.ipynb"
SERVER_START_TIMEOUT_S = 90
# Smoke notebooks take <= 60 s on a quiet 2-core machine; the margin covers a loaded one.
RUN_ALL_TIMEOUT_S = 300
SLIDER_TIMEOUT_S = 20
STDERR_SELECTOR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

# JupyterLab user settings written into the temporary settings directory: every cell stays in the DOM (no
# virtual scrolling), no news or update notifications, and nothing is saved back to disk.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def require_browser_tools():
    """Skip (fail under CI, where `make test` must have installed them) without Chromium or Playwright."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install -e '.[dev]')")
    if problems:
        message = "browser test needs " + " and ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A JupyterLab server process of this Python environment, isolated in ``home``."""

    def __init__(self, home: Path, root_dir: Path):
        self.home, self.root_dir = home, root_dir
        self.port = free_port()
        self.token = os.urandom(24).hex()
        self.log_path = home / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The server's (so the kernels') environment: private Jupyter dirs, smoke profile, live widgets."""
        names = ("config", "data", "runtime", "settings", "workspaces", "ipython")
        dirs = {name: self.home / name for name in names}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        for name, values in LAB_SETTINGS.items():
            settings_file = dirs["settings"] / name
            settings_file.parent.mkdir(parents=True, exist_ok=True)
            settings_file.write_text(json.dumps(values))
        env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "COURSEKIT_WIDGETS")}
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]), IPYTHONDIR=str(dirs["ipython"]),
            JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1",
            COURSEKIT_PROFILE="smoke", COURSEKIT_OFFLINE="1", COURSEKIT_WIDGETS="live",
        )
        return env

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        return command

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.environment(), cwd=self.root_dir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"JupyterLab exited with code {code}:\n{self.log_tail()}")
            try:
                status_url = f"{self.base_url}/api/status?token={self.token}"
                with urllib.request.urlopen(status_url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the server's process group (it shuts its kernels down), SIGKILL what is left after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def url(self, notebook: str) -> str:
        """The notebook's address; ``reset`` starts from an empty workspace (no tabs from an earlier page)."""
        return f"{self.base_url}/lab/tree/{notebook}?reset&token={self.token}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a copy of the lectures (JupyterLab never writes into the repository)."""
    require_browser_tools()
    home = tmp_path_factory.mktemp("jupyterlab")
    root_dir = home / "course"
    ignore = shutil.ignore_patterns(".ipynb_checkpoints")
    shutil.copytree(ROOT / "lectures", root_dir / "lectures", ignore=ignore)
    server = LabServer(home, root_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser_context(lab, tmp_path_factory):
    """Debian's Chromium (never Playwright's own download) with a fresh profile directory."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


# JavaScript run in the page through window.jupyterapp (LabApp.expose_app_in_browser).
NOTEBOOK_READY_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return Boolean(panel && panel.context && panel.context.isReady && kernel && kernel.status === 'idle');
}"""
RUN_ALL_JS = """() => {
  window.__ckRunAll = undefined;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__ckRunAll = String(ok); }, error => { window.__ckRunAll = 'error: ' + error; });
}"""
NOTEBOOK_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const code = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    const outputs = cell.outputs.toJSON();
    code.push({
      index: i,
      count: cell.executionCount,
      errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
      stderr: outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr')
        .map(o => Array.isArray(o.text) ? o.text.join('') : o.text),
    });
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {status: kernel ? kernel.status : 'no kernel', code};
}"""
IMAGE_DIGEST_JS = """async (img) => {
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, b => b.toString(16).padStart(2, '0')).join('') + ':' + bytes.length;
}"""


def screenshot(page_or_element, name: str) -> Path:
    """A PNG of the visible page, or of a whole element (a widget), in build/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page_or_element.screenshot(path=str(path))
    return path


def run_all_cells(page, lab: LabServer, notebook: str) -> dict:
    """Open the notebook, run all cells, wait for the kernel to finish; the final notebook state."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page.goto(lab.url(notebook))
    page.wait_for_function(NOTEBOOK_READY_JS, timeout=SERVER_START_TIMEOUT_S * 1000)
    page.evaluate(RUN_ALL_JS)
    try:
        page.wait_for_function("() => window.__ckRunAll !== undefined", timeout=RUN_ALL_TIMEOUT_S * 1000,
                               polling=500)
    except PlaywrightTimeoutError:
        state = page.evaluate(NOTEBOOK_STATE_JS)
        waiting = [c["index"] for c in state["code"] if c["count"] is None]
        raise AssertionError(
            f"{notebook}: Run All did not finish within {RUN_ALL_TIMEOUT_S} s; cells not done: {waiting}"
        ) from None
    page.wait_for_function(NOTEBOOK_READY_JS, timeout=30_000)  # widget messages may still be arriving
    return page.evaluate(NOTEBOOK_STATE_JS)


def assert_every_cell_ran_cleanly(page, notebook: str, state: dict) -> None:
    code = state["code"]
    assert code, f"{notebook}: no code cells found"
    errors = {c["index"]: c["errors"] for c in code if c["errors"]}
    assert not errors, f"{notebook}: cells raised errors (cell index: error): {errors}"
    not_run = [c["index"] for c in code if c["count"] is None]
    assert not not_run, f"{notebook}: code cells without an execution count: {not_run}"
    stderr = {c["index"]: c["stderr"] for c in code if c["stderr"]}
    assert not stderr, f"{notebook}: cells wrote to stderr (warnings, tracebacks): {stderr}"
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    assert len(prompts) == len(code), f"{notebook}: {len(code)} code cells, {len(prompts)} prompts shown"
    blank = [text for text in prompts if not text.strip().strip("[]:").isdigit()]
    assert not blank, f"{notebook}: prompts without an execution count in the page: {blank}"
    assert page.locator(STDERR_SELECTOR).count() == 0, f"{notebook}: the page shows stderr output"
    assert page.get_by_text("Error displaying widget").count() == 0, f"{notebook}: a widget failed to display"


def assert_dashboard_rendered(page, notebook: str, name: str) -> None:
    stop = page.locator(".jp-Notebook .jp-OutputArea-output button.jupyter-button", has_text="Stop").first
    assert stop.count() == 1, f"{notebook}: no Stop button: the training dashboard widget did not render"
    stop.scroll_into_view_if_needed()
    assert stop.is_visible(), f"{notebook}: the dashboard's Stop button is not visible"
    screenshot(page, f"{name}-dashboard")


def image_digest(image) -> str:
    return image.evaluate(IMAGE_DIGEST_JS)


def assert_slider_rerenders_image(page, notebook: str, name: str) -> None:
    """Move the first image slider's handle with the keyboard; its image must change."""
    box = (page.locator(".jp-Notebook .widget-vbox")
           .filter(has=page.locator(".widget-slider")).filter(has=page.locator("img.widget-image")).last)
    assert box.count() == 1, f"{notebook}: no image slider widget (sliders above an image) rendered"
    box.scroll_into_view_if_needed()
    image = box.locator("img.widget-image").first
    readout = box.locator(".widget-readout").first
    before, readout_before = image_digest(image), readout.inner_text()
    screenshot(box, f"{name}-slider-before")
    handle = box.locator(".noUi-handle, .ui-slider-handle").first
    handle.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + SLIDER_TIMEOUT_S
    after = before
    while after == before and time.monotonic() < deadline:
        time.sleep(0.25)
        after = image_digest(image)
    screenshot(box, f"{name}-slider-after")
    screenshot(image, f"{name}-slider-image-after")
    assert readout.inner_text() != readout_before, f"{notebook}: the slider did not move ({readout_before})"
    assert after != before, f"{notebook}: the slider moved but its image was not re-rendered"


def exercise(context, lab: LabServer, notebook: str) -> None:
    name = Path(notebook).stem
    source = (ROOT / notebook).read_text()
    page = context.new_page()
    try:
        state = run_all_cells(page, lab, notebook)
        assert_every_cell_ran_cleanly(page, notebook, state)
        if "TrainingDashboard" in source:
            assert_dashboard_rendered(page, notebook, name)
        if "image_slider" in source:
            assert_slider_rerenders_image(page, notebook, name)
        screenshot(page, f"{name}-end")
    except Exception:
        screenshot(page, f"{name}-FAILED")
        print(f"JupyterLab log:\n{lab.log_tail()}")
        raise
    finally:
        page.close()


def test_tour_runs_in_jupyterlab_with_live_dashboard(lab, browser_context):
    assert "TrainingDashboard" in (ROOT / TOUR).read_text()
    exercise(browser_context, lab, TOUR)


def test_module_lecture_runs_in_jupyterlab_with_a_live_slider(lab, browser_context):
    assert "image_slider" in (ROOT / MODULE_LECTURE).read_text(), f"{MODULE_LECTURE} should have a slider"
    exercise(browser_context, lab, MODULE_LECTURE)
