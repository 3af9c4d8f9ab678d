"""Grade a folder of submitted notebooks into a CSV gradebook with otter-grader (``otter run``, no Docker).

Each submission runs in its own process group in a temporary folder (a copy of the notebook and of the
autograder zip; ``TMPDIR`` points there too), under a time limit (the whole group is killed when it runs
out) and a memory limit (``RLIMIT_AS`` set by ``coursekit.grading.limits`` before otter starts, inherited by
its kernel). Nothing is written into the submissions folder. Every submission gets a row, whatever it does:

- ``ok``: otter produced results (a cell that raises, ``sys.exit()`` or a failed allocation only costs the
  points of the checks it breaks);
- ``timeout``: the time limit ran out (an infinite loop);
- ``crashed``: otter produced no results (the kernel died: ``os._exit()``, the grading files deleted...);
- ``invalid notebook``: the file is not a notebook (not JSON, not nbformat 4).

The CSV (written atomically) has the columns ``student, <one per question>, total, max, status``; beside it
``<csv stem>_feedback/<student>.txt`` lists each question's failed checks and their messages.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

STATUSES = ("ok", "timeout", "crashed", "invalid notebook")
DEFAULT_TIMEOUT = 600.0
DEFAULT_MEMORY_MB = 8192
DEFAULT_JOBS = 2
GRADING_ENV = {"COURSEKIT_PROFILE": "smoke", "COURSEKIT_OFFLINE": "1", "COURSEKIT_WIDGETS": "static",
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass(frozen=True)
class Question:
    """A graded question of a lab: its name and its points."""

    name: str
    points: float


@dataclass
class Result:
    """The grade of one submission."""

    student: str
    status: str
    scores: dict[str, float]
    failures: dict[str, list[str]] = field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0


def questions_in_bundle(bundle: Path) -> list[Question]:
    """The questions and points of an autograder zip, read from its ``tests/*.py`` (otter's OK format)."""
    found = []
    with zipfile.ZipFile(bundle) as archive:
        for name in sorted(n for n in archive.namelist() if re.fullmatch(r"tests/[^/]+\.py", n)):
            tree = ast.parse(archive.read(name).decode("utf-8"))
            for node in tree.body:
                targets = [getattr(t, "id", None) for t in getattr(node, "targets", [])]
                if isinstance(node, ast.Assign) and "test" in targets:
                    test = ast.literal_eval(node.value)
                    found.append(Question(str(test["name"]), float(test.get("points") or 0)))
    if not found:
        raise ValueError(f"{bundle}: expected an otter autograder zip with tests/*.py, found no tests")
    return _natural_sort(found)


def _natural_sort(questions: list[Question]) -> list[Question]:
    def key(q: Question):
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", q.name)]

    return sorted(questions, key=key)


def student_id(path: Path) -> str:
    """The student id is the submission's file name without ``.ipynb``."""
    return path.name[: -len(".ipynb")] if path.name.lower().endswith(".ipynb") else path.name


def safe_file_name(student: str) -> str:
    """A file name for a student's feedback that cannot leave the feedback folder."""
    return re.sub(r"[^\w.-]", "_", student).lstrip(".") or "_"


def submissions_in(folder: Path) -> list[Path]:
    """Every ``*.ipynb`` file of a folder (not recursive, hidden files skipped), sorted by name."""
    if not folder.is_dir():
        raise ValueError(f"submissions: expected a folder, got {folder}")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.lower().endswith(".ipynb") and not p.name.startswith("."))


def notebook_problem(path: Path) -> str | None:
    """Why a file cannot be graded as a notebook, or None when it reads as nbformat 4."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any reading failure means "not a notebook"
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    if not isinstance(nb.get("cells"), list):
        return "no cells"
    return None


def failed_checks(output: str) -> list[str]:
    """The messages of the failed test cases in one question's otter output (exception or doctest diff)."""
    messages = []
    for chunk in output.split("Test case failed")[1:]:
        lines = chunk.splitlines()
        message = _exception_message(lines) or _doctest_difference(lines) or "failed (no message)"
        messages.append(message)
    return messages


def _exception_message(lines: list[str]) -> str | None:
    starts = [i for i, line in enumerate(lines) if line.strip() == "Traceback (most recent call last):"]
    if not starts:
        return None
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip())
    found = []
    for line in lines[starts[0] + 1:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth < indent or re.match(r"\s*(Line \d+, in |q\S* - \d+ result:)", line):
            break
        if depth == indent:
            found.append(line.strip())
    return " ".join(found) or None


def _doctest_difference(lines: list[str]) -> str | None:
    text = "\n".join(line.strip() for line in lines)
    match = re.search(r"Expected:\n(.*?)\nGot:\n(.*?)(\n\n|$)", text, re.S)
    if match:
        return f"expected output {match.group(1).strip()!r}, got {match.group(2).strip()!r}"
    return None


def read_results(path: Path, questions: list[Question]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Scores and failed-check messages per question from otter's ``results.json``."""
    data = json.loads(path.read_text())
    by_name = {t.get("name"): t for t in data.get("tests", [])}
    scores, failures = {}, {}
    for q in questions:
        test = by_name.get(q.name, {})
        score = test.get("score")
        scores[q.name] = float(score) if isinstance(score, (int, float)) else 0.0
        if scores[q.name] < q.points:
            messages = failed_checks(test.get("output") or "")
            failures[q.name] = messages or ["no result (the question's tests never ran)"]
    return scores, failures


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def grade_one(submission: Path, bundle: Path, questions: list[Question], timeout: float = DEFAULT_TIMEOUT,
              memory_mb: int = DEFAULT_MEMORY_MB) -> Result:
    """Grade one submission in a temporary folder with ``otter run`` under time and memory limits."""
    student = student_id(submission)
    zeros = {q.name: 0.0 for q in questions}
    start = time.monotonic()
    problem = notebook_problem(submission)
    if problem:
        return Result(student, "invalid notebook", zeros, {}, problem)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        work, out, scratch = Path(tmp) / "work", Path(tmp) / "out", Path(tmp) / "tmp"
        for folder in (work, out, scratch):
            folder.mkdir()
        notebook = work / "submission.ipynb"
        shutil.copyfile(submission, notebook)
        shutil.copyfile(bundle, work / "autograder.zip")
        env = {**os.environ, **GRADING_ENV, "TMPDIR": str(scratch)}
        command = [sys.executable, "-m", "coursekit.grading.limits", str(memory_mb),
                   sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(work / "autograder.zip"),
                   "-o", str(out), str(notebook)]
        log_path = Path(tmp) / "otter.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(process.pid)
                process.wait()
        seconds = time.monotonic() - start
        if timed_out:
            detail = f"killed after the time limit of {timeout:g} s"
            return Result(student, "timeout", zeros, {}, detail, seconds)
        results = out / "results.json"
        try:
            scores, failures = read_results(results, questions)
        except (OSError, ValueError) as exc:
            tail = log_path.read_text(errors="replace")[-1500:]
            return Result(student, "crashed", zeros, {},
                          f"otter produced no results ({type(exc).__name__}); exit code "
                          f"{process.returncode}; log tail:\n{tail}", seconds)
    return Result(student, "ok", scores, failures, "", seconds)


def _number(value: float) -> str:
    return f"{value:g}"


def gradebook_rows(results: list[Result], questions: list[Question]) -> list[list[str]]:
    """The CSV rows: header, then one row per student (sorted by student id)."""
    maximum = sum(q.points for q in questions)
    rows = [["student", *[q.name for q in questions], "total", "max", "status"]]
    for r in sorted(results, key=lambda r: r.student):
        total = sum(r.scores.get(q.name, 0.0) for q in questions)
        rows.append([r.student, *[_number(r.scores.get(q.name, 0.0)) for q in questions], _number(total),
                     _number(maximum), r.status])
    return rows


def feedback_text(result: Result, questions: list[Question]) -> str:
    """A student's feedback: status, points per question, and each failed check's message."""
    total = sum(result.scores.get(q.name, 0.0) for q in questions)
    lines = [f"student: {result.student}", f"status: {result.status}",
             f"total: {_number(total)} / {_number(sum(q.points for q in questions))}", ""]
    if result.detail:
        lines += ["detail:", *("  " + line for line in result.detail.splitlines()), ""]
    for q in questions:
        score = result.scores.get(q.name, 0.0)
        lines.append(f"{q.name}: {_number(score)} / {_number(q.points)}")
        for message in result.failures.get(q.name, []):
            lines.append(f"  - {message}")
    if result.status == "ok" and not result.failures:
        lines += ["", "all checks passed"]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def feedback_dir(out_csv: Path) -> Path:
    """Where the feedback files of a gradebook go: ``<csv stem>_feedback/`` beside the CSV."""
    return out_csv.with_name(f"{out_csv.stem}_feedback")


def grade_folder(bundle: Path, submissions: Path, out_csv: Path, timeout: float = DEFAULT_TIMEOUT,
                 memory_mb: int = DEFAULT_MEMORY_MB, jobs: int = DEFAULT_JOBS,
                 progress=print) -> list[Result]:
    """Grade every ``*.ipynb`` of ``submissions`` with the autograder zip ``bundle`` into ``out_csv``."""
    bundle, submissions = Path(bundle).resolve(), Path(submissions).resolve()
    out_csv = Path(out_csv).resolve()
    if out_csv.is_relative_to(submissions):
        raise ValueError(f"--out: expected a path outside the submissions folder {submissions}, "
                         f"got {out_csv}")
    if timeout <= 0 or memory_mb <= 0 or jobs < 1:
        raise ValueError(f"expected timeout > 0, memory > 0 and jobs >= 1, "
                         f"got {timeout}, {memory_mb}, {jobs}")
    questions = questions_in_bundle(bundle)
    files = submissions_in(submissions)
    if not files:
        raise ValueError(f"submissions: expected *.ipynb files in {submissions}, found none")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda f: grade_one(f, bundle, questions, timeout, memory_mb), files))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(gradebook_rows(results, questions))
    _write_atomic(out_csv, buffer.getvalue())
    for r in results:
        _write_atomic(feedback_dir(out_csv) / f"{safe_file_name(r.student)}.txt", feedback_text(r, questions))
        if progress:
            total = sum(r.scores.values())
            progress(f"{r.student}: {r.status}, {_number(total)} points ({r.seconds:.1f} s)")
    return results
