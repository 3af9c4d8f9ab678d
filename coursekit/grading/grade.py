"""Grade a folder of submitted notebooks into a CSV gradebook, each in a fresh process that the submission
cannot disarm (``coursekit.grading.runner``).

Each submission is graded by its own runner process group in a temporary folder (a copy of the notebook and
of the grading bundle; ``TMPDIR`` points there too), under a time limit (the whole group is killed when it
runs out) and a memory limit (``RLIMIT_AS`` set by ``coursekit.grading.limits`` before the runner starts).
The runner runs the pristine lab with only the definitions of the submission's answer cells, then every
test case, hidden ones included; see its docstring. Nothing is written into the submissions folder. Every
submission gets a row, whatever it does:

- ``ok``: the runner produced results (an answer that raises, ``sys.exit()`` or a failed allocation only
  costs the points of the checks it breaks);
- ``tampered``: the submission changed the grading environment (patched a check, ``numpy``, ``torch`` or
  ``builtins``, read the expected values or the bundle, started a process...): the change was undone,
  each question it happened in scores 0, and the feedback lists the evidence;
- ``timeout``: the time limit ran out (an endless loop that even the per-case limit could not stop);
- ``crashed``: the runner produced no results (the process died: ``os._exit()``, memory...);
- ``invalid notebook``: the file is not a notebook (not JSON, not nbformat 4).

The CSV (written atomically) has the columns ``student, <one per question>, total, max, status``; beside it
``<csv stem>_feedback/<student>.txt`` lists each question's failed checks and their messages, the code the
runner ignored and any tampering evidence, and ``<csv stem>_summary.md`` / ``.png`` report on the class
(``coursekit.grading.report``).
"""

from __future__ import annotations

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import assign, written
from .report import write_summary
from .suite import Question

STATUSES = ("ok", "tampered", "timeout", "crashed", "invalid notebook")
DEFAULT_TIMEOUT = 600.0
DEFAULT_MEMORY_MB = 8192
DEFAULT_JOBS = 2
GRADING_ENV = {"COURSEKIT_PROFILE": "smoke", "COURSEKIT_OFFLINE": "1", "COURSEKIT_WIDGETS": "static",
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass
class Result:
    """The grade of one submission."""

    student: str
    status: str
    scores: dict[str, float]
    failures: dict[str, list[str]] = field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def questions_in_bundle(bundle: Path) -> list[Question]:
    """The questions (with points and cases) of a grading bundle written by ``coursekit assign``."""
    return assign.read_bundle(bundle).questions


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


def read_results(path: Path, questions: list[Question]) -> tuple[str, dict, dict, list[str], list[str]]:
    """Status, scores, failure messages, notes and evidence from the runner's JSON result (questions with
    tests only: written questions are marked by the instructor)."""
    questions = [q for q in questions if not q.written]
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
        raise ValueError(f"expected the runner's result with scores, got {str(data)[:100]!r}")
    scores = {q.name: min(float(data["scores"].get(q.name, 0.0)), q.points) for q in questions}
    failures = {q.name: [str(m) for m in data.get("failures", {}).get(q.name, [])] for q in questions
                if scores[q.name] < q.points}
    for messages in failures.values():
        messages[:] = messages or ["no result (the question's tests never ran)"]
    notes = [str(n) for n in data.get("ignored", []) + data.get("errors", [])]
    evidence = [str(e) for e in data.get("evidence", [])]
    return ("tampered" if evidence else "ok"), scores, failures, notes, evidence


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def grade_one(submission: Path, bundle: Path, questions: list[Question], timeout: float = DEFAULT_TIMEOUT,
              memory_mb: int = DEFAULT_MEMORY_MB) -> Result:
    """Grade one submission in a temporary folder with the runner, under time and memory limits."""
    student = student_id(submission)
    zeros = {q.name: 0.0 for q in questions}
    start = time.monotonic()
    problem = notebook_problem(submission)
    if problem:
        return Result(student, "invalid notebook", zeros, {}, problem)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        folders = {name: Path(tmp) / name for name in ("work", "bundle", "out", "tmp")}
        for folder in folders.values():
            folder.mkdir()
        notebook, copy = folders["work"] / "submission.ipynb", folders["bundle"] / "grader.zip"
        shutil.copyfile(submission, notebook)
        shutil.copyfile(bundle, copy)
        env = {**os.environ, **GRADING_ENV, "TMPDIR": str(folders["tmp"])}
        command = [sys.executable, "-m", "coursekit.grading.limits", str(memory_mb),
                   sys.executable, "-m", "coursekit.grading.runner", str(copy), str(notebook),
                   str(folders["out"] / "result.json")]
        log_path = Path(tmp) / "runner.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=folders["work"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
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
        try:
            if process.returncode != 0:
                raise ValueError(f"the runner exited with code {process.returncode}")
            outcome = read_results(folders["out"] / "result.json", questions)
        except (OSError, ValueError) as exc:
            tail = log_path.read_text(errors="replace")[-1500:]
            detail = f"the runner produced no results ({exc}); log tail:\n{tail}"
            return Result(student, "crashed", zeros, {}, detail, seconds)
    status, scores, failures, notes, evidence = outcome
    return Result(student, status, scores, failures, "", seconds, notes, evidence)


def _number(value: float) -> str:
    return f"{value:g}"


def gradebook_rows(results: list[Result], questions: list[Question]) -> list[list[str]]:
    """The CSV rows: header, then one row per student (sorted by student id). A written question's column
    stays empty until ``coursekit marks`` fills it; ``total`` counts what is marked."""
    maximum = sum(q.points for q in questions)
    rows = [["student", *[q.name for q in questions], "total", "max", "status"]]
    for r in sorted(results, key=lambda r: r.student):
        total = sum(r.scores.get(q.name, 0.0) for q in questions if not q.written)
        cells = ["" if q.written else _number(r.scores.get(q.name, 0.0)) for q in questions]
        rows.append([r.student, *cells, _number(total), _number(maximum), r.status])
    return rows


def feedback_text(result: Result, questions: list[Question]) -> str:
    """A student's feedback: status, points per question, and each failed check's message."""
    total = sum(result.scores.get(q.name, 0.0) for q in questions if not q.written)
    lines = [f"student: {result.student}", f"status: {result.status}",
             f"total: {_number(total)} / {_number(sum(q.points for q in questions))}", ""]
    if result.detail:
        lines += ["detail:", *("  " + line for line in result.detail.splitlines()), ""]
    if result.evidence:
        lines += ["tampering (undone; the questions it happened in score 0):",
                  *(f"  - {item}" for item in result.evidence), ""]
    for q in questions:
        if q.written:
            lines.append(f"{q.name}: written answer, marked by your instructor (out of {_number(q.points)})")
            continue
        score = result.scores.get(q.name, 0.0)
        lines.append(f"{q.name}: {_number(score)} / {_number(q.points)}")
        for message in result.failures.get(q.name, []):
            lines.append(f"  - {message}")
    if result.notes:
        lines += ["", "notes (only the definitions in answer cells are graded; other cells never run):",
                  *(f"  - {note}" for note in result.notes)]
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


def write_written(out_csv: Path, lab: str, questions: list[Question], files: dict[str, Path]) -> None:
    """``<stem>_written.md`` (every written answer with the rubric) and, when absent, ``<stem>_marks.csv``."""
    questions = [q for q in questions if q.written]
    if not questions:
        return
    lab_nb = nbformat.reads(lab, as_version=4)
    answers = {student: written.answers_from_file(path, lab_nb, questions) for student, path in files.items()}
    _write_atomic(out_csv.with_name(f"{out_csv.stem}_written.md"), written.answers_text(questions, answers))
    marks = out_csv.with_name(f"{out_csv.stem}_marks.csv")
    if not marks.exists():
        _write_atomic(marks, written.marks_template(questions, list(files)))


def merge_marks(out_csv: Path, marks: Path, bundle: Path) -> None:
    """Fill the written columns of a gradebook from the instructor's marks (atomically)."""
    points = {q.name: q.points for q in questions_in_bundle(bundle) if q.written}
    merged = written.merge_marks(Path(out_csv).read_text(encoding="utf-8"),
                                 Path(marks).read_text(encoding="utf-8"), points)
    _write_atomic(Path(out_csv), merged)


def grade_folder(bundle: Path, submissions: Path, out_csv: Path, timeout: float = DEFAULT_TIMEOUT,
                 memory_mb: int = DEFAULT_MEMORY_MB, jobs: int = DEFAULT_JOBS,
                 progress=print) -> list[Result]:
    """Grade every ``*.ipynb`` of ``submissions`` with the grading ``bundle`` into ``out_csv``."""
    bundle, submissions = Path(bundle).resolve(), Path(submissions).resolve()
    out_csv = Path(out_csv).resolve()
    if out_csv.is_relative_to(submissions):
        raise ValueError(f"--out: expected a path outside the submissions folder {submissions}, "
                         f"got {out_csv}")
    if timeout <= 0 or memory_mb <= 0 or jobs < 1:
        raise ValueError(f"expected timeout > 0, memory > 0 and jobs >= 1, "
                         f"got {timeout}, {memory_mb}, {jobs}")
    graded = assign.read_bundle(bundle)
    questions = graded.questions
    files = submissions_in(submissions)
    if not files:
        raise ValueError(f"submissions: expected *.ipynb files in {submissions}, found none")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda f: grade_one(f, bundle, questions, timeout, memory_mb), files))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(gradebook_rows(results, questions))
    _write_atomic(out_csv, buffer.getvalue())
    write_summary(out_csv, [q for q in questions if not q.written], results)
    write_written(out_csv, graded.lab, questions, dict(zip((r.student for r in results), files, strict=True)))
    for r in results:
        _write_atomic(feedback_dir(out_csv) / f"{safe_file_name(r.student)}.txt", feedback_text(r, questions))
        if progress:
            total = sum(r.scores.values())
            progress(f"{r.student}: {r.status}, {_number(total)} points ({r.seconds:.1f} s)")
    return results
