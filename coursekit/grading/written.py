"""Written questions: answers the instructor reads and marks by a rubric, beside the automatic grade.

A written question is an otter ``manual: true`` question of the solution notebook: its prompt, and a
markdown solution cell that is the rubric (kept in the grading bundle, never in the lab). Students answer in
the markdown cell under the prompt. ``coursekit grade`` leaves the question's gradebook column empty and
writes, beside ``grades.csv``:

- ``grades_written.md``: per written question, the prompt's rubric and every student's answer, to read;
- ``grades_marks.csv``: ``student, <one column per written question>``, empty, to fill in (written only
  when absent, so re-grading never erases marks).

``python -m coursekit marks grades.csv grades_marks.csv`` merges the marks into the gradebook (checked:
a number between 0 and the question's points, a known student) and recomputes the totals.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import nbformat

from .suite import Question

ANSWER_TAG = "otter_answer_cell"
PLACEHOLDER = "_Type your answer here, replacing this text._"


def _markdown_answers(nb) -> list:
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
            and ANSWER_TAG in c.get("metadata", {}).get("tags", [])]


def answers_of(submission, lab, written: list[Question]) -> dict[str, str]:
    """A submission's answer to each written question (by the answer cell's tag, else by its cell id);
    an untouched placeholder or a missing cell is an empty answer."""
    wanted, given = _markdown_answers(lab), _markdown_answers(submission)
    if len(given) != len(wanted):
        by_id = {c.get("id"): c for c in submission.get("cells", [])}
        given = [by_id.get(c.get("id"), {"source": ""}) for c in wanted]
    texts = []
    for cell in given:
        source = cell.get("source", "")
        text = ("".join(source) if isinstance(source, list) else str(source)).strip()
        texts.append("" if text == PLACEHOLDER else text)
    return {q.name: text for q, text in zip(written, texts, strict=False)}


def answers_from_file(path: Path, lab, written: list[Question]) -> dict[str, str]:
    """``answers_of`` for a submission file (empty answers when it is not a readable notebook)."""
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook has no answers; its status says why
        return dict.fromkeys((q.name for q in written), "")
    return answers_of(submission, lab, written)


def answers_text(written: list[Question], answers: dict[str, dict[str, str]]) -> str:
    """The file an instructor reads: per question its rubric, then each student's answer."""
    lines = ["# Written answers", ""]
    for q in written:
        lines += [f"## {q.name} ({q.points:g} points)", "", "**Rubric**", "", q.rubric or "(no rubric)", ""]
        for student in sorted(answers):
            text = answers[student].get(q.name, "") or "*(no answer)*"
            lines += [f"### {student}", "", text, ""]
    return "\n".join(lines)


def marks_template(written: list[Question], students: list[str]) -> str:
    """The CSV to fill in: one row per student, one empty column per written question."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *(q.name for q in written)])
    writer.writerows([student, *([""] * len(written))] for student in sorted(students))
    return buffer.getvalue()


def _mark(value: str, question: str, points: float, student: str) -> float | None:
    if value.strip() == "":
        return None
    try:
        mark = float(value)
    except ValueError:
        raise ValueError(f"marks: {student}/{question}: expected a number, got {value!r}") from None
    if not 0 <= mark <= points:
        raise ValueError(f"marks: {student}/{question}: expected a mark between 0 and {points:g}, "
                         f"got {mark:g}")
    return mark


def merge_marks(gradebook_text: str, marks_text: str, points: dict[str, float]) -> str:
    """The gradebook with the written columns filled from the marks and the totals recomputed.

    ``points`` maps each written question to its points. A mark names a known student, a written question,
    and is a number in [0, points] (or empty: not marked yet)."""
    rows = list(csv.DictReader(io.StringIO(gradebook_text)))
    header = next(csv.reader(io.StringIO(gradebook_text)))
    marks = list(csv.DictReader(io.StringIO(marks_text)))
    unknown = sorted(set(marks[0] if marks else {}) - {"student"} - set(points))
    if unknown:
        raise ValueError(f"marks: expected columns student, {', '.join(points)}; got unknown {unknown}")
    by_student = {row["student"]: row for row in rows}
    for mark_row in marks:
        student = mark_row["student"]
        if student not in by_student:
            raise ValueError(f"marks: student {student!r} is not in the gradebook")
        for question, limit in points.items():
            mark = _mark(mark_row.get(question) or "", question, limit, student)
            if mark is not None:
                by_student[student][question] = f"{mark:g}"
    scored = [h for h in header if h not in ("student", "total", "max", "status")]
    for row in rows:
        row["total"] = f"{sum(float(row[q]) for q in scored if row[q] != ''):g}"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
