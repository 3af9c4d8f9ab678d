"""A pytest plugin for nbval runs: each notebook's wall time and its kernel's peak resident memory.

With ``COURSEKIT_FULL_RECORD`` set (``make test-full``), every notebook that passes has its code hash written
to that record (:mod:`full_record`), so ``make test`` re-runs only notebooks whose code changed since.

Loaded with ``-p notebook_resources`` (``make test-full``). After every cell it reads the kernel process's
high-water mark of resident memory (``VmHWM`` in ``/proc/<pid>/status``: the largest RSS the process ever
had), so the last reading is the notebook's peak. Each xdist worker writes its rows to ``REPORT_DIR``; the
controlling process prints one table sorted by peak memory and writes it to ``REPORT_DIR/resources.md``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import full_record
import pytest

REPORT_DIR = Path(os.environ.get("COURSEKIT_RESOURCE_REPORT", "build/test-full"))
_rows: dict[str, dict] = {}
_code_hashes: dict[str, str] = {}  # each notebook's code as collected: what its kernel runs


def pytest_collection_modifyitems(items):
    for item in items:
        notebook = _relative(str(item.fspath))
        if notebook.endswith(".ipynb") and notebook not in _code_hashes:
            _code_hashes[notebook] = full_record.code_hash(Path(notebook))


def _relative(path: str) -> str:
    return os.path.relpath(path)


def _kernel_pid(item) -> int | None:
    kernel = getattr(item.parent, "kernel", None)
    process = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "process", None)
    return getattr(process, "pid", None)


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    notebook = _relative(str(item.fspath))
    row = _rows.setdefault(notebook, {"start": time.monotonic(), "peak": 0.0, "failed": False})
    outcome = yield
    row["end"] = time.monotonic()
    row["failed"] |= outcome.excinfo is not None
    pid = _kernel_pid(item)
    peak = _peak_rss_mib(pid) if pid else None
    if peak is not None:
        row["peak"] = max(row["peak"], peak)


def pytest_sessionstart(session):
    if _worker(session) is None:  # the controlling process: rows of an interrupted earlier run are stale
        for stale in REPORT_DIR.glob("rows-*.tsv"):
            stale.unlink()


def pytest_sessionfinish(session):
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    worker = _worker(session)
    if _rows:
        _write_rows(REPORT_DIR / f"rows-{worker or 'main'}.tsv")
    if worker is None:
        _report(session.config)


def _worker(session) -> str | None:
    return getattr(session.config, "workerinput", {}).get("workerid")


def _write_rows(path: Path) -> None:
    lines = [
        f"{nb}\t{row.get('end', row['start']) - row['start']:.0f}\t{row['peak']:.0f}\t{int(row['failed'])}"
        f"\t{_code_hashes.get(nb, '')}"
        for nb, row in _rows.items()
    ]
    path.write_text("".join(line + "\n" for line in lines))


def _report(config) -> None:
    rows = []
    for path in sorted(REPORT_DIR.glob("rows-*.tsv")):
        rows += [line.split("\t") for line in path.read_text().splitlines() if line]
        path.unlink()
    rows.sort(key=lambda r: -float(r[2]))
    record = os.environ.get("COURSEKIT_FULL_RECORD")
    if record:
        passed = {nb: code for nb, _wall, _peak, failed, code in rows if failed == "0" and code}
        full_record.mark_passed(Path(record), passed)
    table = ["| notebook | wall s | peak RSS MiB | result |", "|---|---:|---:|---|"]
    for notebook, wall, peak, failed, _code in rows:
        table.append(f"| {notebook} | {wall} | {peak} | {'FAILED' if failed == '1' else 'passed'} |")
    (REPORT_DIR / "resources.md").write_text("\n".join(table) + "\n")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nWall time and peak kernel memory per notebook ({REPORT_DIR}/resources.md):")
        for line in table:
            reporter.write_line(line)
