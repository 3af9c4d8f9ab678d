"""An emulated Colab runtime for CI: run a lab the way Colab runs it, on this machine.

The pieces (tests/test_colab_emulated.py uses them; ``python tests/colab/emulate.py --help`` runs labs by
hand):

- ``base_runtime()``: a virtualenv holding Colab's Jupyter/widget stack, scientific stack and frameworks
  (tests/colab/runtime.txt under the constraints of Colab's freeze, tests/fixtures/colab/pip-freeze.gpu.txt).
  It is built once per content of those files into a cache folder outside the work tree, so fresh clones
  on the same machine reuse it, and it is built in a staging folder renamed into place only when complete,
  under a lock: a half-built runtime is never used.
- ``overlay()``: a throw-away virtualenv without packages of its own whose ``.pth`` file puts the base
  runtime and the fake ``google.colab`` on its path. Whatever a lab's ``%pip install`` adds lands in the
  overlay, so the base stays exactly Colab's for the next lab, and the overlay's ``pip freeze`` shows what the
  install changed.
- The fake ``google.colab`` (tests/colab/google/colab, a namespace package next to ``google.protobuf``) holds
  a kernel class whose shell class is ``google.colab._shell.Shell``, as Colab's kernel has; the kernelspec
  starts ipykernel with ``--IPKernelApp.kernel_class=google.colab._kernel.Kernel``. So ``google.colab`` is
  imported before the first cell runs and ``str(get_ipython())`` names ``google.colab``: the test otter-grader
  (``IPythonInterpreter.COLAB``) and coursekit (``"google.colab" in sys.modules``) make.
- ``execute()``: runs a notebook with nbclient (from the calling environment) in that kernel, in an empty
  folder (no notebook file, no tests folder), after pointing the lab's ``%pip install`` at a wheel of this
  repository instead of the git URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUNTIME = HERE / "runtime.txt"
COLAB_FREEZE = ROOT / "tests" / "fixtures" / "colab" / "pip-freeze.gpu.txt"
FAKE_GOOGLE = HERE / "google"
# Bump when the way the runtime is built changes (it is part of the cache key).
BUILD_RECIPE = "1"
# Colab's pins that cannot hold here: its torch stack (CUDA 12.8 builds for Python 3.13; this machine's torch
# 2.14.1 brings its own CUDA 13 wheels and triton), setuptools 75.2.0 (torch 2.14.1 needs >= 77.0.3) and
# tifffile 2026.8.16 (needs Python >= 3.12; pip takes the newest release for 3.11).
NOT_CONSTRAINED = re.compile(
    r"^(torch|torchvision|torchaudio|torchcodec|triton|nvidia-.*|cuda-.*|setuptools|tifffile)$")
# torch 2.14.1 needs setuptools >= 77.0.3; tensorflow-hub still imports pkg_resources (gone in 81).
SETUPTOOLS = "setuptools>=77.0.3,<81"
# What pip prints when the index is out of reach (not when a version is missing: that is a real failure).
NETWORK_ERRORS = (
    "NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
    "Could not fetch URL", "ConnectTimeoutError", "ReadTimeoutError", "ProxyError", "Connection refused",
    "Max retries exceeded",
)
INSTALL_LINE = re.compile(r'(%pip install[^\n]*?"coursekit\[[a-z,]+\] @ )git\+https?://[^"\s]+(")')
COLAB_ENV = {"COLAB_RELEASE_TAG": "emulated", "COLAB_BACKEND_VERSION": "emulated"}


class RegistryUnreachable(RuntimeError):
    """pip could not reach the package index while building the runtime."""


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_constraints(freeze_text: str | None = None) -> list[str]:
    """Colab's freeze as pip constraints: local labels stripped, URL entries and NOT_CONSTRAINED dropped."""
    text = freeze_text if freeze_text is not None else COLAB_FREEZE.read_text()
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or " @ " in line or "==" not in line:
            continue
        name, version = line.split("==", 1)
        if NOT_CONSTRAINED.match(normalise(name)):
            continue
        lines.append(f"{name}=={version.split('+', 1)[0]}")
    lines.append(SETUPTOOLS)
    return lines


def colab_versions(freeze_text: str | None = None) -> dict[str, str]:
    """Every package Colab ships (normalised name -> version as frozen, local label kept)."""
    text = freeze_text if freeze_text is not None else COLAB_FREEZE.read_text()
    versions = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if " @ " in line:
            versions[normalise(line.split(" @ ", 1)[0])] = line.split(" @ ", 1)[1]
        elif "==" in line:
            name, version = line.split("==", 1)
            versions[normalise(name)] = version
    return versions


def runtime_key() -> str:
    digest = hashlib.sha256()
    for part in (BUILD_RECIPE, sys.version.split()[0], RUNTIME.read_text(), "\n".join(colab_constraints())):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def cache_root() -> Path:
    """Where runtimes are kept: ``COURSEKIT_COLAB_RUNTIME_DIR``, else ``~/.cache/coursekit/colab-runtime``."""
    configured = os.environ.get("COURSEKIT_COLAB_RUNTIME_DIR")
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "coursekit" / "colab-runtime"


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def base_python() -> str:
    """The interpreter the calling virtualenv was made from (a venv of a venv would chain them)."""
    return getattr(sys, "_base_executable", sys.executable)


def run(command: list[str], log, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    log.write(done.stdout + done.stderr)
    log.flush()
    return done


@dataclass
class Runtime:
    """A built base runtime: where it is, and how long building it took this time (0 when reused)."""

    venv: Path
    build_seconds: float = 0.0
    size_bytes: int = 0

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def dir_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def base_runtime(progress=print) -> Runtime:
    """The emulated Colab base runtime, built on first use (raises RegistryUnreachable without the index)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"venv-{runtime_key()}"
    stamp = final / ".colab-runtime-complete"
    if stamp.exists():
        return Runtime(final)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # another process built it while this one waited
            return Runtime(final)
        return _build(final, stamp, progress)


def _build(final: Path, stamp: Path, progress) -> Runtime:
    staging = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    log_path = final.with_name(f"{final.name}.build.log")
    progress(f"building the emulated Colab runtime in {final} (log: {log_path}); this takes minutes once")
    start = time.monotonic()
    with open(log_path, "w") as log, tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "colab-constraints.txt"
        constraints.write_text("\n".join(colab_constraints()) + "\n")
        python = str(staging / "bin" / "python")
        # --no-compile: no .pyc for the thousands of modules no lab imports (imports write their own).
        options = ["--no-compile", "--progress-bar", "off", "--disable-pip-version-check"]
        steps = [
            [base_python(), "-m", "venv", str(staging)],
            # Not --quiet: the log keeps pip's warnings, and the network errors are told from other failures.
            [python, "-m", "pip", "install", *options, "-c", str(constraints), "pip"],
            [python, "-m", "pip", "install", *options, "-c", str(constraints), "-r", str(RUNTIME)],
        ]
        for command in steps:
            done = run(command, log, timeout=3600)
            if done.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                output = done.stdout + done.stderr
                if any(error in output for error in NETWORK_ERRORS):
                    raise RegistryUnreachable(f"the package index is out of reach: {output.strip()[-400:]}")
                raise RuntimeError(f"building the Colab runtime failed at {command}:\n{output[-4000:]}")
    seconds = time.monotonic() - start
    size = dir_size(staging)
    (staging / stamp.name).write_text(
        json.dumps({"key": final.name, "build_seconds": round(seconds, 1), "size_bytes": size}) + "\n")
    for old in final.parent.glob("venv-*"):  # runtimes of earlier requirements, crashed builds, their logs
        if old not in (staging, log_path):
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    staging.rename(final)
    progress(f"emulated Colab runtime built in {seconds:.0f} s, {size / 2**30:.1f} GiB")
    return Runtime(final, seconds, size)


def overlay(base: Runtime, folder: Path, fake_path: Path) -> Path:
    """A package-less virtualenv over the base runtime; returns its python. Installs go into ``folder``."""
    subprocess.run([base_python(), "-m", "venv", "--without-pip", str(folder)], check=True)
    # `import` lines of a .pth file run at start-up: addsitedir also processes the base's own .pth files.
    (site_packages(folder) / "_colab_runtime.pth").write_text(
        f"import site; site.addsitedir({str(site_packages(base.venv))!r})\n{fake_path}\n")
    return folder / "bin" / "python"


def fake_colab_path(folder: Path) -> Path:
    """A folder holding only the fake google.colab (copied from tests/colab/google), for the kernel's path."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(FAKE_GOOGLE, folder / "google", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def freeze(python: Path) -> dict[str, str]:
    """``pip freeze`` of an interpreter as {normalised name: version or URL}."""
    done = subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True)
    packages = {}
    for line in done.stdout.splitlines():
        if " @ " in line:
            name, source = line.split(" @ ", 1)
            packages[normalise(name)] = source.strip()
        elif "==" in line:
            name, version = line.split("==", 1)
            packages[normalise(name)] = version.strip()
    return packages


def clean_copy(source: Path, dest: Path) -> Path:
    """The files git would commit from ``source`` (tracked or new, not ignored, not deleted), copied to
    ``dest``: what a clone has, without the stale ``build/lib`` an earlier in-tree wheel build leaves."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=source, capture_output=True, text=True)
    if listed.returncode != 0:  # not a git work tree (an unpacked archive): everything but build folders
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".venv", "build", "*.egg-info", ".git"))
        return dest
    for name in filter(None, listed.stdout.split("\0")):
        path = source / name
        if path.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / name)
    return dest


def build_wheel(out: Path, source: Path = ROOT) -> Path:
    """A wheel of coursekit (not editable) from a clean copy of a source tree, as `pip install git+...`
    builds it on Colab."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-src-") as tmp:
        tree = clean_copy(source, Path(tmp) / "src")
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
                               str(tree)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip wheel {source} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    wheels = list(out.glob("coursekit-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one coursekit wheel in {out}, got {wheels}")
    return wheels[0]


def point_install_at(source: str, wheel: Path) -> str:
    """The setup cell with the git URL of its `%pip install "coursekit[...] @ git+..."` line replaced by
    the wheel's file URL (the extras stay)."""
    changed, count = INSTALL_LINE.subn(lambda m: f"{m.group(1)}{wheel.as_uri()}{m.group(2)}", source)
    if count != 1:
        raise ValueError(f'expected one `%pip install "coursekit[...] @ git+URL"` line, found {count}:\n'
                         f"{source}")
    return changed


def kernel_env(python: Path) -> dict[str, str]:
    """The kernel's environment: this process's, less its virtualenv and Python settings, plus the course's
    CI settings and the variables Colab sets."""
    dropped = ("PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON", "COURSEKIT_", "PYTEST", "MPL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    here = Path(sys.prefix) / "bin"
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != here]
    env["PATH"] = os.pathsep.join([str(python.parent), *path])
    env.update(COLAB_ENV)
    env.update(COURSEKIT_PROFILE="smoke", COURSEKIT_OFFLINE="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="2", PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


KERNEL_NAME = "colab-emulated"


def kernelspec(folder: Path, python: Path) -> Path:
    """A kernelspec folder that starts ipykernel in the overlay with Colab's kernel (and so shell) class."""
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.kernel_class=google.colab._kernel.Kernel"],
        "display_name": "Python 3 (emulated Colab)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder / "kernels"


@dataclass
class Execution:
    """One executed notebook: the notebook with outputs, the error if a cell failed, the time it took."""

    name: str
    nb: object
    error: str | None
    seconds: float
    cells: list[tuple[float, int]] = field(default_factory=list)


def cell_text(cell) -> str:
    """The text a code cell showed: streams, text/plain results and error tracebacks."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", "").rstrip("\n") + "\n")
        elif output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}\n")
    return "".join(parts)


CHECK_CALL = re.compile(r"""grader\.check\(\s*["']([\w.-]+)["']""")


def check_cells(nb) -> list[tuple[int, str]]:
    """(cell index, question) of every `grader.check("q")` cell, in order."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            found += [(index, q) for q in CHECK_CALL.findall(cell.source)]
    return found


def truncate_after_last_check(nb):
    """The notebook without the cells after its last check cell (they run in the solved notebook)."""
    last = check_cells(nb)[-1][0]
    nb.cells = nb.cells[: last + 1]
    return nb


async def execute(name: str, nb, python: Path, kernels: Path, cwd: Path, timeout: float = 600) -> Execution:
    """Execute ``nb`` in the emulated Colab kernel of ``python``, with ``cwd`` as the working folder."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=manager, timeout=timeout, kernel_name=KERNEL_NAME, allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}}, startup_timeout=120)
    start = time.monotonic()
    error = None
    try:
        await client.async_execute(cwd=str(cwd), env=kernel_env(python))
    except CellExecutionError as exc:
        error = str(exc)
    except Exception as exc:  # a dead kernel or a timeout: report it like a failed cell
        error = f"{type(exc).__name__}: {exc}"
    return Execution(name, nb, error, time.monotonic() - start, cell_seconds(nb))


def cell_seconds(nb) -> list[tuple[float, int]]:
    """(seconds, cell index) of every executed code cell, slowest first (nbclient records the times)."""
    from datetime import datetime

    times = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if begin and end:
            seconds = (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(begin.rstrip("Z")))
            times.append((seconds.total_seconds(), index))
    return sorted(times, reverse=True)


REPORT_LINE = re.compile(r"^([\w.-]+): (\d+) of (\d+) public tests passed\s*$", re.MULTILINE)


def check_results(nb) -> dict[str, tuple[int, int, str]]:
    """question -> (passed, total, the check cell's text) from each executed check cell."""
    results = {}
    for index, question in check_cells(nb):
        text = cell_text(nb.cells[index])
        counts = [m for m in REPORT_LINE.finditer(text) if m.group(1) == question]
        if counts:
            results[question] = (int(counts[-1].group(2)), int(counts[-1].group(3)), text)
        else:
            results[question] = (-1, -1, text)
    return results


@dataclass
class Session:
    """Everything one run of the emulated Colab needs: base runtime, wheel, fake google.colab, kernels."""

    base: Runtime
    wheel: Path
    fake_path: Path
    work: Path

    @classmethod
    def create(cls, work: Path, progress=print, source: Path = ROOT) -> Session:
        base = base_runtime(progress)
        work.mkdir(parents=True, exist_ok=True)
        wheel = build_wheel(work / "wheel", source)
        return cls(base, wheel, fake_colab_path(work / "fake-colab"), work)

    def new_overlay(self, name: str) -> tuple[Path, Path]:
        """(python, kernels folder) of a fresh overlay for one notebook."""
        folder = self.work / "overlays" / name
        shutil.rmtree(folder, ignore_errors=True)
        python = overlay(self.base, folder / "venv", self.fake_path)
        return python, kernelspec(folder, python)

    async def run_notebook(self, name: str, nb, timeout: float = 600) -> tuple[Execution, Path]:
        """Execute a notebook (install line pointed at the wheel) in its own overlay and empty folder."""
        setup = next(c for c in nb.cells if c.cell_type == "code")
        setup.source = point_install_at(setup.source, self.wheel)
        python, kernels = self.new_overlay(name)
        cwd = self.work / "cwd" / name
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir(parents=True)
        return await execute(name, nb, python, kernels, cwd, timeout), python


async def run_all(jobs, limit: int = 2):
    """Await coroutine factories at most ``limit`` at a time, in order of the list."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job):
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def main(argv: list[str] | None = None) -> int:
    """Run notebooks in the emulated Colab by hand and print their check cells and errors."""
    import nbformat

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "colab-emulated")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--source", type=Path, default=ROOT, help="the tree to build coursekit's wheel from")
    args = parser.parse_args(argv)
    session = Session.create(args.work, source=args.source)
    jobs = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        jobs.append(lambda nb=nb, name=path.stem: session.run_notebook(name, nb))
    start = time.monotonic()
    failed = 0
    for execution, _ in asyncio.run(run_all(jobs, args.jobs)):
        print(f"== {execution.name}: {execution.seconds:.0f} s, {'ERROR' if execution.error else 'ran'}; "
              "slowest cells: " + ", ".join(f"#{i} {t:.1f} s" for t, i in execution.cells[:4]))
        for question, (passed, total, _) in check_results(execution.nb).items():
            print(f"   {question}: {passed} of {total}")
        if execution.error:
            failed += 1
            print(execution.error[-3000:])
    print(f"total {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
