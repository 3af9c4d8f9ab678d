"""Wall and CPU time of each lecture, run top to bottom in one profile; bars: fast <= 300 s, smoke <= 60 s.

Every lecture runs from scratch as a student's first run would: offline data, static widgets and an empty
checkpoint directory (nothing cached from an earlier run). The CPU time is the notebook process's children
(the kernel), so it does not depend on what else the machine is doing; the wall time does, so the load
average at the start of each run is printed next to it. The table's ratio is wall time / the profile's bar
(<= 1.00 meets it).

    python benchmarks/bench_lectures.py [--profile fast] [--only 09 10] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARS = {"smoke": 60.0, "fast": 300.0}


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_lecture(notebook: Path, profile: str, timeout: int, workdir: Path) -> dict:
    """Execute ``notebook`` with nbconvert in a fresh checkpoint directory; returns its timings and status."""
    env = dict(os.environ, COURSEKIT_PROFILE=profile, COURSEKIT_OFFLINE="1", COURSEKIT_WIDGETS="static",
               COURSEKIT_CHECKPOINTS=str(workdir / f"checkpoints_{notebook.stem}"), MPLBACKEND="Agg",
               TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               f"--ExecutePreprocessor.timeout={timeout}", "--output-dir", str(workdir), str(notebook)]
    load = os.getloadavg()[0]
    cpu_before, start = children_cpu_seconds(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=notebook.parent, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu_before
    error = "" if done.returncode == 0 else done.stderr.strip().splitlines()[-1][:80]
    return dict(lecture=notebook.stem, wall=wall, cpu=cpu, load=load, error=error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(BARS), default="fast")
    parser.add_argument("--only", nargs="*", default=[], help="module numbers, e.g. 09 10 (default: all)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args()
    notebooks = sorted((ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.only]
        if not notebooks:
            raise SystemExit(f"--only: expected module numbers of lectures/ (00-11), got {args.only}")
    bar = BARS[args.profile]
    print(f"profile {args.profile}, bar {bar:.0f} s wall per lecture; {os.cpu_count()} cores; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"{'lecture':32s} {'wall s':>8s} {'CPU s':>8s} {'wall/bar':>9s} {'load':>6s}  status")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench_lectures_") as tmp:
        for notebook in notebooks:
            row = run_lecture(notebook, args.profile, args.timeout, Path(tmp))
            failures += bool(row["error"])
            status = f"FAILED: {row['error']}" if row["error"] else "ok"
            print(f"{row['lecture']:32s} {row['wall']:8.1f} {row['cpu']:8.1f} {row['wall'] / bar:9.2f} "
                  f"{row['load']:6.2f}  {status}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
