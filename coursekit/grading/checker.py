"""The check under each lab question: ``grader = ck.grading.Checker("01")``, then ``grader.check("q_kl")``.

It runs the question's public test cases (package data ``coursekit/grading/public/NN.json``, written by
``coursekit assign``) in the notebook's own namespace and shows which passed, with the failing check's
message and hint. It needs no notebook file, no tests folder, no otter-grader and no widgets, so it works
the same on Colab, in JupyterLab, in VS Code and under ``jupyter nbconvert --execute``. A failed check never
raises: the notebook goes on. Hidden test cases exist only in the instructor's grading bundle.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import store, suite

GRADE_NOTE = ("These are the public tests only: hidden tests, run when your lab is graded, decide the grade "
              "(all public tests passing is not full marks).")


@dataclass(frozen=True)
class CheckReport:
    """The outcome of one ``grader.check``: shown as text under the check cell."""

    question: str
    results: tuple[suite.CaseResult, ...]
    has_hidden_tests: bool

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def all_passed(self) -> bool:
        return self.passed == len(self.results)

    def __repr__(self) -> str:
        lines = [f"{self.question}: {self.passed} of {len(self.results)} public tests passed"]
        for number, result in enumerate(self.results, start=1):
            if not result.passed:
                lines.append(f"  x test {number} failed: {result.message}")
        lines.append(GRADE_NOTE if self.has_hidden_tests else
                     "This question has no hidden tests: its public tests are its grade.")
        return "\n".join(lines)


class Checker:
    """Runs a lab's public tests from the check cell under each question."""

    def __init__(self, lab: str):
        path = store.public_dir() / f"{lab}.json"
        if not path.exists():
            raise FileNotFoundError(f"expected the public tests of lab {lab!r} at {path}; is coursekit up to "
                                    "date? (reinstall it with the lab's setup cell)")
        self.lab = lab
        self.questions = {q.name: q for q in suite.load(path, expect_lab=lab)}

    def check(self, question: str, namespace: dict | None = None) -> CheckReport:
        """Run the public cases of ``question`` in ``namespace`` (default: the calling notebook's globals)."""
        if question not in self.questions:
            known = ", ".join(self.questions)
            raise KeyError(f"lab {self.lab} has no question {question!r} (questions: {known})")
        if namespace is None:
            namespace = sys._getframe(1).f_globals
        spec = self.questions[question]
        results = tuple(suite.run_case(question, number, case, namespace)
                        for number, case in enumerate(spec.cases, start=1))
        return CheckReport(question, results, spec.has_hidden_cases)
