"""A lab's test suite: its questions, each with points and test cases (or, for a written question that the
instructor marks, a rubric), and how one case runs.

``coursekit assign`` reads the cases otter assign extracted from a solution notebook (with otter's own rules
for the points of each case) and writes them twice: the public cases of every question as package data
(``coursekit/grading/public/NN.json``, what a student's ``Checker`` runs) and every case, hidden ones
included, into the instructor's grading bundle (``build/grading/NN/``, never shipped to students).

A case is a block of Python that calls the checks of ``coursekit.grading``; it passes when it runs without
raising. It runs in a shallow copy of a namespace, so the names it binds (``mu``, ``gen``...) never leak
into the student's variables or into the next case.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

CASE_FILE = "<test {question} #{number}>"
_PROMPT = re.compile(r"^(>>> |\.\.\. |>>>$|\.\.\.$)")


@dataclass(frozen=True)
class Case:
    """One test case: its code, whether students see it, and the points it carries."""

    code: str
    hidden: bool
    points: float


@dataclass(frozen=True)
class Question:
    """A graded question: its name, its points and (when read from a suite) its test cases."""

    name: str
    points: float
    cases: tuple[Case, ...] = field(default=(), compare=False)
    hidden_removed: int = field(default=0, compare=False)
    written: bool = field(default=False, compare=False)
    rubric: str = field(default="", compare=False)

    @property
    def has_hidden_cases(self) -> bool:
        return self.hidden_removed > 0 or any(case.hidden for case in self.cases)

    def public(self) -> Question:
        """The question as students get it: hidden cases removed (only their number is kept), no rubric."""
        hidden = sum(case.hidden for case in self.cases)
        return Question(self.name, self.points, tuple(c for c in self.cases if not c.hidden),
                        self.hidden_removed + hidden, self.written)


@dataclass(frozen=True)
class CaseResult:
    """What running one case gave: passed, or the failure's message (``AssertionError: ...: hint``)."""

    question: str
    number: int
    hidden: bool
    points: float
    passed: bool
    message: str = ""


def source_from_doctest(code: str) -> str:
    """Plain Python from otter's doctest form (``>>> `` and ``... `` prompts stripped)."""
    lines = [_PROMPT.sub("", line) for line in code.splitlines() if _PROMPT.match(line)]
    return textwrap.dedent("\n".join(lines)) + "\n"


def failure_message(exc: BaseException) -> str:
    """``Type: message`` of a failed case; a NameError says which answer cell to run."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        text += f" (run the cell that defines {exc.name!r} first, or define it in the question's answer cell)"
    return text


def run_case(question: str, number: int, case: Case, namespace: dict) -> CaseResult:
    """Run one case in a shallow copy of ``namespace``; any exception fails it (its message is kept)."""
    code = compile(case.code, CASE_FILE.format(question=question, number=number), "exec")
    try:
        exec(code, dict(namespace))  # noqa: S102 - the course's own test code
    except Exception as exc:  # noqa: BLE001 - any failure of a case is the student's failure to report
        return CaseResult(question, number, case.hidden, case.points, False, failure_message(exc))
    return CaseResult(question, number, case.hidden, case.points, True)


def dumps(lab: str, questions: list[Question]) -> str:
    """A suite as deterministic JSON text."""
    body = {"lab": lab, "questions": [
        {"name": q.name, "points": q.points, "cases": [asdict(c) for c in q.cases],
         "hidden_removed": q.hidden_removed, "written": q.written, "rubric": q.rubric} for q in questions]}
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


def loads(text: str, expect_lab: str | None = None) -> list[Question]:
    """The questions of a suite written by ``dumps`` (``expect_lab`` checks whose suite it is)."""
    body = json.loads(text)
    if not isinstance(body, dict) or "questions" not in body:
        raise ValueError(f"expected a suite with 'lab' and 'questions', got {str(body)[:80]!r}")
    if expect_lab is not None and body.get("lab") != expect_lab:
        raise ValueError(f"expected the suite of lab {expect_lab}, got lab {body.get('lab')!r}")
    return [Question(str(q["name"]), float(q["points"]),
                     tuple(Case(str(c["code"]), bool(c["hidden"]), float(c["points"])) for c in q["cases"]),
                     int(q.get("hidden_removed", 0)), bool(q.get("written", False)), str(q.get("rubric", "")))
            for q in body["questions"]]


def load(path: Path, expect_lab: str | None = None) -> list[Question]:
    """The questions of a suite file."""
    return loads(Path(path).read_text(encoding="utf-8"), expect_lab)


def expected_keys(code: str, lab: str) -> set[str]:
    """The expected-value keys a case reads: ``check_close('NN', 'key', ...)`` calls of lab ``lab``."""
    pattern = re.compile(r"check_close\(\s*['\"]" + re.escape(lab) + r"['\"]\s*,\s*['\"](\w+)['\"]")
    return set(pattern.findall(code))
