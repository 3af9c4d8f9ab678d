"""Grade one submission in a fresh process: ``python -m coursekit.grading.runner BUNDLE SUBMISSION RESULT``.

``coursekit grade`` starts one runner per submission (under time and memory limits, in a temporary folder).
The grade never depends on what the submission's own notebook did to its kernel:

1. the runner reads the grading bundle (the pristine lab, every test case, every expected value), seals the
   expected values in memory and deletes its copy of the bundle;
2. it runs the pristine lab's code cells in order, up to the last check cell, with each answer cell replaced
   by the submission's answer, reduced to its definitions (``def``, ``class``, imports, assignments to
   names: parsed with ``ast``, everything else is dropped and listed in the feedback). The submission's
   other cells never run;
3. before the first answer runs it arms ``guard.Guard`` and locks the checks (a check called from anywhere
   but a test case, or expected values read from anywhere but a check, is refused and reported);
4. it runs every case of every question (hidden ones too) in a copy of the namespace, each (like each answer
   cell) under a time limit, and checks the guard after each: a question whose cases tampered scores 0;
5. it writes the scores, failure messages, ignored code and tampering evidence as JSON to RESULT (opened
   before any submission code ran) and ends with ``os._exit``, so no submission code runs after it.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import assign, checks, guard, store, suite

ANSWER_TAG = "otter_answer_cell"
CHECK_MARK = "grader.check("
CASE_SECONDS_ENV = "COURSEKIT_CASE_SECONDS"
DEFAULT_CASE_SECONDS = 120.0
KEPT_STATEMENTS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
LOCKED_CHECKS = ("check_close", "check_param_count", "check_range", "check_shape", "check_true")


@dataclass
class Outcome:
    """What the runner found: points and failure messages per question, dropped code, evidence."""

    scores: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def python_source(cell_source: str) -> str:
    """A cell's IPython source as plain Python (magics become ``get_ipython()`` calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _assigns_names_only(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [t for target in targets for t in ast.walk(target) if not isinstance(t, (ast.Tuple, ast.List,
                                                                                    ast.Store, ast.Starred))]
    return all(isinstance(t, ast.Name) for t in names)


def definitions_only(source: str, label: str) -> tuple[str, list[str]]:
    """The definitions of an answer cell (``def``, ``class``, imports, assignments to plain names) and a note
    for every other top-level statement, which is dropped."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError as exc:
        return "", [f"{label}: not graded, syntax error line {exc.lineno}: {exc.msg}"]
    kept, notes = [], []
    for node in tree.body:
        assigns = isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and _assigns_names_only(node)
        if isinstance(node, KEPT_STATEMENTS) or assigns:
            kept.append(node)
        else:
            notes.append(f"{label}: line {node.lineno} ignored ({type(node).__name__}): answer cells are "
                         "graded by their definitions only")
    return ast.unparse(ast.Module(body=kept, type_ignores=[])), notes


def answer_cells(lab, submission) -> tuple[dict[int, str], list[str]]:
    """The submission's answer for each code answer cell of the pristine lab (by tag, else by cell id)."""
    wanted = [i for i, c in enumerate(lab.cells)
              if c.cell_type == "code" and ANSWER_TAG in c.metadata.get("tags", [])]
    cells = [c for c in submission.get("cells", []) if c.get("cell_type") == "code"]
    tagged = [c for c in cells if ANSWER_TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) == len(wanted):
        return {i: _text(c) for i, c in zip(wanted, tagged, strict=True)}, []
    by_id = {c.get("id"): c for c in cells}
    found = {i: _text(by_id[lab.cells[i].id]) for i in wanted if lab.cells[i].get("id") in by_id}
    missing = [f"answer cell {n + 1} not found in the submission (its tag and cell id are gone): 0 points "
               "for its question" for n, i in enumerate(wanted) if i not in found]
    return found, missing


def _text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


class CaseTimeout(Exception):
    """A cell or a test case ran over its time limit."""


def _alarm(signum, frame):
    raise CaseTimeout("ran over its time limit (an endless loop, or far too slow?)")


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise ``CaseTimeout`` in the block after ``seconds`` (SIGALRM; the runner's main thread only)."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _run(code: str, filename: str, namespace: dict, seconds: float | None) -> str | None:
    """Execute code in the namespace (under a time limit unless ``seconds`` is None); the error message, or
    None. Output goes nowhere."""
    limit = time_limit(seconds) if seconds is not None else contextlib.nullcontext()
    try:
        with limit, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(code, filename, "exec"), namespace)  # noqa: S102
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: the cell failed, grading goes on
        return f"{type(exc).__name__}: {exc}"
    return None


def _from_course_code() -> bool:
    """True when the caller of the calling check is a test case or a pristine lab cell, not an answer."""
    return sys._getframe(2).f_code.co_filename.startswith(("<test ", "<lab cell "))


def lock_checks() -> None:
    """Checks answer only test cases, and expected values answer only the checks."""
    def locked(check):
        def run(*args, **kwargs):
            if not _from_course_code():
                sys.audit("coursekit.grading.check_called_by_submission", check.__name__)
                raise PermissionError(f"{check.__name__} is for the tests only while grading")
            return check(*args, **kwargs)
        run.__name__ = check.__name__
        return run

    from .. import grading as package

    allowed = {f.__code__ for f in vars(checks).values() if callable(f) and hasattr(f, "__code__")}
    for name in LOCKED_CHECKS:
        wrapped = locked(getattr(checks, name))
        setattr(checks, name, wrapped)
        setattr(package, name, wrapped)

    def guarded(read):
        def run(*args, **kwargs):
            caller = sys._getframe(1).f_code
            if caller not in allowed and caller.co_filename != store.__file__:
                sys.audit("coursekit.grading.expected_read_by_submission", read.__name__)
                raise PermissionError("expected values are for the checks only while grading")
            return read(*args, **kwargs)
        run.__name__ = read.__name__
        return run

    for name in ("expected", "load"):
        setattr(store, name, guarded(getattr(store, name)))
    package.expected = store.expected


def run_questions(questions: list[suite.Question], namespace: dict, watch: guard.Guard,
                  outcome: Outcome, case_seconds: float) -> None:
    """Every case of every question; a question whose cases tampered scores 0."""
    for question in (q for q in questions if not q.written):
        points, messages, evidence = 0.0, [], []
        for number, case in enumerate(question.cases, start=1):
            try:
                with time_limit(case_seconds):
                    result = suite.run_case(question.name, number, case, namespace)
            except CaseTimeout as exc:
                result = suite.CaseResult(question.name, number, case.hidden, case.points, False,
                                          f"CaseTimeout: the test {exc}")
            evidence += watch.check(f"{question.name} test {number}")
            points += case.points if result.passed else 0.0
            if not result.passed:
                messages.append(result.message)
        outcome.scores[question.name] = 0.0 if evidence else round(points, 6)
        outcome.evidence += evidence
        if messages or evidence:
            outcome.failures[question.name] = messages + [f"tampering: {e}" for e in evidence]


class _AuditRelay:
    """Turns the runner's own audit events (a locked check or value reached from submission code) into
    evidence of the guard."""

    def __init__(self, watch: guard.Guard):
        self.watch = watch
        sys.addaudithook(self)

    def __call__(self, event: str, args: tuple) -> None:
        if event.startswith("coursekit.grading."):
            self.watch.evidence.append(f"{event.rsplit('.', 1)[1].replace('_', ' ')}: {args[0]}")


def grade(bundle: assign.Bundle, submission, protected: list[str]) -> Outcome:
    """Run the pristine lab with the submission's answers, then every test case, under the guard."""
    outcome = Outcome()
    lab = nbformat.reads(bundle.lab, as_version=4)
    answers, outcome.ignored = answer_cells(lab, submission)
    checks_at = [i for i, c in enumerate(lab.cells) if c.cell_type == "code" and CHECK_MARK in c.source]
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    seconds = float(os.environ.get(CASE_SECONDS_ENV, DEFAULT_CASE_SECONDS))
    watch = None
    for index, cell in enumerate(lab.cells[: max(checks_at, default=-1) + 1]):
        if cell.cell_type != "code" or index in checks_at:
            continue
        is_answer = ANSWER_TAG in cell.metadata.get("tags", [])
        if is_answer and watch is None:
            guard.import_monitored()
            lock_checks()
            watch = guard.Guard(namespace, protected)
            _AuditRelay(watch)
        label = f"answer cell {index}" if is_answer else f"lab cell {index}"
        if is_answer:
            code, notes = definitions_only(answers.get(index, ""), label)
            outcome.ignored += notes
        else:
            code = python_source(cell.source)
        error = _run(code, f"<{label}>", namespace, seconds if is_answer else None)
        if error:
            outcome.errors.append(f"{label}: {error}")
        if watch is not None:
            outcome.evidence += watch.check(label)
    if watch is None:
        raise ValueError("expected answer cells (tag otter_answer_cell) in the bundle's lab, found none")
    run_questions(bundle.questions, namespace, watch, outcome, seconds)
    return outcome


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: python -m coursekit.grading.runner BUNDLE SUBMISSION RESULT")
    bundle_path, submission_path, result_path = (Path(a).resolve() for a in argv)
    result = open(result_path, "w", encoding="utf-8")  # noqa: SIM115 - opened before submission code runs
    bundle = assign.read_bundle(bundle_path)
    store.seal(bundle.number, bundle.values)
    bundle_path.unlink()
    public = bundle_path.parent / "public"
    public.mkdir()
    public_suite = suite.dumps(bundle.number, [q.public() for q in bundle.questions])
    (public / f"{bundle.number}.json").write_text(public_suite, encoding="utf-8")
    os.environ[store.PUBLIC_DIR_ENV] = str(public)
    submission = nbformat.read(submission_path, as_version=4)
    protected = [str(bundle_path.parent), str(result_path.parent), str(store.PUBLIC_DIR),
                 str(store.INSTRUCTOR_DIR), str(assign.BUILD_DIR)]
    outcome = grade(bundle, submission, protected)
    result.write(json.dumps(outcome.__dict__))
    result.flush()
    os.fsync(result.fileno())
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
