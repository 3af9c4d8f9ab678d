"""Grading round trips with ``coursekit grade`` (a fresh runner process per submission): for every lab that
exists (course.yml modules whose solution notebook exists, plus the fixture lab) the solution gets full marks,
the blank lab zero on every question, a planted wrong answer loses points on exactly that question and the
feedback shows its hint; and 20 mixed submissions (good, blank, wrong, hostile) grade to the right CSV."""

import contextlib
import csv
import hashlib
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from coursekit.course import ROOT, load
from coursekit.grading import assign, grade, store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "grading"
FIXTURE = FIXTURES / "99_fixture.ipynb"
MISTAKES = yaml.safe_load((FIXTURES / "mistakes.yml").read_text())
TIMEOUT = float(os.environ.get("COURSEKIT_TEST_GRADE_TIMEOUT", "90"))
# A course lab's solution trains nothing, but imports torch and runs every check: generous under load.
LAB_TIMEOUT = max(TIMEOUT, 240.0)


def course_labs():
    return [m.number for m in load().modules if m.solution and (ROOT / m.solution).exists()]


def make_target(number, solution, folder):
    return assign.LabTarget(number, solution, folder / "labs" / solution.name, folder / "build" / number,
                            folder / "public")


def plant_mistake(solved: str, mistake: dict) -> str:
    nb = nbformat.reads(solved, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and mistake["cell_contains"] in c.source)
    old, new = mistake["replace"]
    assert old in cell.source, f"planted mistake: {old!r} is not in the solution cell"
    cell.source = cell.source.replace(old, new)
    return nbformat.writes(nb)


def read_csv(path):
    with open(path, newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def round_trip(number, solution, folder):
    """Grade solution, blank and planted-mistake submissions of one lab; check the three rows."""
    assert number in MISTAKES, f"add a planted wrong answer for lab {number} to {FIXTURES / 'mistakes.yml'}"
    made = assign.generate(make_target(number, solution, folder))
    subs = folder / "submissions"
    subs.mkdir()
    (subs / "solution.ipynb").write_text(made.solved)
    (subs / "blank.ipynb").write_text(made.lab)
    (subs / "wrong.ipynb").write_text(plant_mistake(made.solved, MISTAKES[number]))
    results = {r.student: r for r in grade.grade_folder(made.bundle, subs, folder / "grades.csv",
                                                        timeout=LAB_TIMEOUT, progress=None)}
    questions = grade.questions_in_bundle(made.bundle)
    full = {q.name: q.points for q in questions if not q.written}
    assert results["solution"].status == "ok" and results["solution"].scores == full, results["solution"]
    assert results["blank"].status == "ok", results["blank"].detail
    assert results["blank"].scores == dict.fromkeys(full, 0.0)
    wrong, question = results["wrong"], MISTAKES[number]["question"]
    assert wrong.status == "ok"
    assert {q for q in full if wrong.scores[q] < full[q]} == {question}, wrong.scores
    feedback = (folder / "grades_feedback" / "wrong.txt").read_text()
    assert MISTAKES[number]["hint"] in feedback
    rows = read_csv(folder / "grades.csv")
    maximum = sum(q.points for q in questions)
    assert rows["solution"]["total"] == f"{sum(full.values()):g}"
    assert rows["solution"]["max"] == f"{maximum:g}"


@pytest.mark.slow
@pytest.mark.parametrize("number", course_labs())
def test_course_lab_round_trip(number, tmp_path):
    round_trip(number, ROOT / load().module(number).solution, tmp_path)


# ---- the fixture lab: round trip and 20 mixed submissions -------------------------------------------------

# Hostile answers: only answer cells' definitions run while grading, so each attack sits where it runs: in the
# body of a function a test calls, or in an assignment that runs when the answer cell is defined.
SQUARE = "def square(x):\n    return x * x\n"
HOSTILE = {
    "loop": "import time\ndef square(x):\n    while True:\n        try:\n            time.sleep(1)\n"
            "        except BaseException:\n            pass\n",
    "sysexit": SQUARE + "_ = __import__('sys').exit()\n",
    "osexit": "def square(x):\n    __import__('os')._exit(1)\n",
    "hog": SQUARE + "big = bytearray(50 * 2**30)\n",
    "wiper": SQUARE + "import os, shutil\n_ = [os.remove(p) for p in os.listdir('.') if os.path.isfile(p)]\n"
             "_ = shutil.rmtree('..', ignore_errors=True)\n",
}


def with_answer(text: str, contains: str, source: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and contains in c.source)
    cell.source = source
    return nbformat.writes(nb)


@contextlib.contextmanager
def recorded_fixture_store(folder: Path):
    """The fixture lab's expected values recorded into ``folder``, used as the store inside the block."""
    previous = os.environ.get(store.DIR_ENV)
    os.environ[store.DIR_ENV] = str(folder)
    try:
        store.record_solution(FIXTURE, "99")
        yield folder
    finally:
        if previous is None:
            os.environ.pop(store.DIR_ENV)
        else:
            os.environ[store.DIR_ENV] = previous


def generate_fixture_lab(folder: Path) -> assign.Generated:
    """The fixture lab generated into ``folder``, its expected values recorded into a private store."""
    with recorded_fixture_store(folder / "expected"):
        return assign.generate(make_target("99", FIXTURE, folder))


@pytest.fixture(scope="module")
def fixture_lab(tmp_path_factory):
    return generate_fixture_lab(tmp_path_factory.mktemp("fixture-lab"))


def mixed_submissions(lab: assign.Generated) -> dict[str, tuple[str | bytes, dict, str]]:
    """student -> (file content, expected scores, expected status)."""
    full = {"q1": 2.0, "q2": 3.0, "q3": 1.0}
    zero = dict.fromkeys(full, 0.0)
    subs = {f"good_{i}": (lab.solved, full, "ok") for i in range(5)}
    subs |= {f"blank_{i}": (lab.lab, zero, "ok") for i in range(3)}
    subs["wrong_q1"] = (with_answer(lab.solved, "def square", "def square(x):\n    return 2 * x"),
                        full | {"q1": 1.0}, "ok")
    subs["wrong_q2_sign"] = (plant_mistake(lab.solved, MISTAKES["99"]), full | {"q2": 1.5}, "ok")
    mean_kl = ("def gaussian_kl(mu, logvar):\n"
               "    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).mean(dim=-1)")
    subs["wrong_q2_mean"] = (with_answer(lab.solved, "def gaussian_kl", mean_kl), full | {"q2": 1.5}, "ok")
    subs["wrong_q3"] = (with_answer(lab.solved, "def make_layer", "def make_layer():\n"
                                    "    return torch.nn.Linear(8, 2, bias=False)"), full | {"q3": 0.0}, "ok")
    hostile = {name: with_answer(lab.solved, "def square", source) for name, source in HOSTILE.items()}
    subs["hostile_loop"] = (hostile["loop"], zero, "timeout")
    subs["hostile_sysexit"] = (hostile["sysexit"], full, "ok")
    subs["hostile_osexit"] = (hostile["osexit"], zero, "crashed")
    subs["hostile_hog"] = (hostile["hog"], full, "ok")
    subs["hostile_wiper"] = (hostile["wiper"], full, "tampered")
    subs["not_json"] = (b"\x00\x01 this is not a notebook", zero, "invalid notebook")
    subs["empty"] = (b"", zero, "invalid notebook")
    subs["json_not_notebook"] = ('{"student": "mallory"}', zero, "invalid notebook")
    assert len(subs) == 20
    return subs


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_twenty_mixed_submissions_grade_to_the_right_csv(fixture_lab, tmp_path):
    subs = mixed_submissions(fixture_lab)
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, (content, _, _) in subs.items():
        path = folder / f"{student}.ipynb"
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    before = snapshot(folder)
    out = tmp_path / "out" / "grades.csv"
    start = time.monotonic()
    grade.grade_folder(fixture_lab.bundle, folder, out, timeout=TIMEOUT, memory_mb=8192, jobs=2,
                       progress=None)
    elapsed = time.monotonic() - start
    print(f"\n20 mixed submissions graded in {elapsed:.1f} s (2 at a time, time limit {TIMEOUT:g} s)")
    assert snapshot(folder) == before, "grading must not write into the submissions folder"
    rows = read_csv(out)
    assert sorted(rows) == sorted(subs)
    with open(out, newline="") as handle:
        header = next(csv.reader(handle))
        assert header == ["student", "q1", "q2", "q3", "q_written", "total", "max", "status"]
    for student, (_, scores, status) in subs.items():
        row = rows[student]
        assert row["max"] == "8" and row["status"] in grade.STATUSES and row["q_written"] == ""
        assert float(row["total"]) == sum(float(row[q]) for q in ("q1", "q2", "q3"))
        if status is not None:
            assert row["status"] == status, (student, row)
            assert {q: float(row[q]) for q in scores} == scores, (student, row)
        feedback = (out.parent / "grades_feedback" / f"{student}.txt").read_text()
        assert f"status: {row['status']}" in feedback
    feedback = lambda s: (out.parent / "grades_feedback" / f"{s}.txt").read_text()
    assert "KL is negative: check the sign" in feedback("wrong_q2_sign")
    assert "make_layer(): expected 18 trainable parameters, got 16 (2 fewer)" in feedback("wrong_q3")
    assert "killed after the time limit" in feedback("hostile_loop")
    assert "all checks passed" in feedback("good_0")
    assert not list(out.parent.glob(".*")), "the CSV is written atomically (no temporary file left)"
    summary = (out.parent / "grades_summary.md").read_text()
    assert (out.parent / "grades_summary.png").read_bytes().startswith(b"\x89PNG")
    statuses = [row["status"] for row in rows.values()]
    for status in grade.STATUSES:
        assert re.search(rf"^\| {status} \| {statuses.count(status)} \(", summary, re.M), (status, summary)
    assert f"Submissions: {len(rows)}." in summary
    written = (out.parent / "grades_written.md").read_text()
    assert "## q_written (2 points)" in written and "Gibbs' inequality" in written and "### good_0" in written
    marks = out.parent / "grades_marks.csv"
    assert marks.read_text().splitlines()[:2] == ["student,q_written", "blank_0,"]
    marks.write_text("student,q_written\ngood_0,1.5\nblank_0,\n")
    grade.merge_marks(out, marks, fixture_lab.bundle)
    merged = read_csv(out)
    assert merged["good_0"]["q_written"] == "1.5" and merged["good_0"]["total"] == "7.5"
    assert merged["blank_0"]["q_written"] == "" and merged["blank_0"]["total"] == "0"
    grade.grade_folder(fixture_lab.bundle, folder, out.with_name("again.csv"), timeout=TIMEOUT, progress=None)


def test_marks_outside_the_rubric_range_or_for_unknown_students_are_refused():
    from coursekit.grading import written

    book = "student,q1,q_written,total,max,status\nann,2,,2,4,ok\n"
    assert written.merge_marks(book, "student,q_written\nann,2\n", {"q_written": 2}).splitlines()[1] == \
        "ann,2,2,4,4,ok"
    for marks, message in (("student,q_written\nann,3\n", "between 0 and 2, got 3"),
                           ("student,q_written\nbob,1\n", "'bob' is not in the gradebook"),
                           ("student,q_written\nann,good\n", "expected a number, got 'good'"),
                           ("student,q_other\nann,1\n", "unknown ['q_other']")):
        with pytest.raises(ValueError, match=re.escape(message)):
            written.merge_marks(book, marks, {"q_written": 2})


def test_out_path_inside_the_submissions_folder_is_refused(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="outside the submissions folder"):
        grade.grade_folder(FIXTURE, tmp_path, tmp_path / "grades.csv")
