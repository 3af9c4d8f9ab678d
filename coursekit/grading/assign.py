"""Student labs, public tests and grading bundles from the otter-grader master notebooks in ``solutions/``.

``python -m coursekit assign [NN ...]`` runs ``otter assign`` (no Docker, tests not re-run: the round-trip
tests do that) into a temporary folder; otter parses the master format and splits each question's test cases
into public and hidden ones (with its own rules for the points of each case). Then it writes

- the student notebook to ``labs/NN_slug.ipynb`` with deterministic bytes (outputs stripped, cell ids
  derived from the position, otter's initialisation replaced by ``grader = ck.grading.Checker("NN")`` in
  the setup cell, no tests in the metadata, the Colab badge pointing at the lab, the introduction saying
  which questions have hidden tests);
- the public test cases and the expected values they read to ``coursekit/grading/public/NN.json`` and
  ``NN.npz`` (package data: what ``Checker`` runs on Colab, where the notebook file is not on disk);
- the grading bundle ``build/grading/NN/NN_slug-grader.zip``: the lab, every test case (hidden ones too)
  and every expected value, for ``coursekit grade``. It never goes to students.

The student side does not import otter: otter 7's ``Notebook`` cannot find metadata tests on Colab and needs
ipywidgets 8, which Colab's front end does not render. ``--check`` compares what assign would write with the
committed labs and public tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
import yaml

from ..course import ROOT, Module, load
from . import store, suite

BUILD_DIR = ROOT / "build" / "grading"
OTTER_INIT_MARK = "otter.Notebook("
SETUP_MARK = "ck.setup("
BUNDLE_LAB, BUNDLE_SUITE, BUNDLE_EXPECTED = "lab.ipynb", "suite.json", "expected.npz"
SOLUTION_MARKERS = re.compile(r"#\s*(BEGIN SOLUTION|END SOLUTION|SOLUTION\b|BEGIN PROMPT|END PROMPT)")


class AssignError(RuntimeError):
    """otter assign failed or produced a lab that would leak solutions or hidden tests."""


@dataclass(frozen=True)
class LabTarget:
    """One lab to generate: its number, the master notebook, where the lab and the bundle go."""

    number: str
    solution: Path
    lab: Path
    bundle_dir: Path
    public_dir: Path = field(default_factory=store.public_dir)

    @property
    def bundle(self) -> Path:
        return self.bundle_dir / f"{self.solution.stem}-grader.zip"

    @property
    def public_suite(self) -> Path:
        return self.public_dir / f"{self.number}.json"

    @property
    def public_values(self) -> Path:
        return self.public_dir / f"{self.number}.npz"


def target_for(module: Module, root: Path = ROOT) -> LabTarget:
    """The lab target of a manifest module (which must list a solution notebook)."""
    solution, lab = module.solution, module.lab
    if not solution or lab is None:
        raise ValueError(f"module {module.number}: expected a solution notebook in course.yml, got none")
    return LabTarget(module.number, root / solution, root / lab, root / "build" / "grading" / module.number)


def targets(numbers: list[str] | None = None) -> list[LabTarget]:
    """Lab targets of the listed modules (default: every module whose solution notebook exists)."""
    course = load()
    if numbers:
        modules = [course.module(n) for n in numbers]
        missing = [m.solution or f"(module {m.number} lists no solution)" for m in modules
                   if not m.solution or not (ROOT / m.solution).exists()]
        if missing:
            raise ValueError(f"expected solution notebooks, missing: {', '.join(missing)}")
        return [target_for(m) for m in modules]
    return [target_for(m) for m in course.modules if m.solution and (ROOT / m.solution).exists()]


def run_otter_assign(solution: Path, out_dir: Path) -> tuple[Path, Path]:
    """Run ``otter assign`` on a master notebook; return (student notebook, autograder notebook)."""
    command = [sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs", str(solution),
               str(out_dir)]
    env = dict(os.environ, COURSEKIT_PROFILE="smoke", COURSEKIT_OFFLINE="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=solution.parent)
    if done.returncode != 0:
        raise AssignError(f"otter assign {solution} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    student, autograder = out_dir / "student" / solution.name, out_dir / "autograder" / solution.name
    if not student.exists() or not autograder.exists():
        raise AssignError(f"otter assign {solution}: expected student/ and autograder/{solution.name} in "
                          f"{out_dir}, got {sorted(p.name for p in out_dir.rglob('*'))}")
    return student, autograder


def suite_of(autograder_nb) -> list[suite.Question]:
    """Every question of the autograder notebook with its cases, public and hidden, in notebook order.

    otter stores each question's OK-format test in the metadata; its ``OKTestFile`` resolves the points of
    each case (a question's points split over the cases that set none)."""
    from otter.test_files.ok_test import OKTestFile

    questions = []
    for name, spec in autograder_nb.metadata.get("otter", {}).get("tests", {}).items():
        test = OKTestFile.from_spec(spec, path=name)
        cases = tuple(suite.Case(suite.source_from_doctest(c.body), bool(c.hidden), float(c.points))
                      for c in test.test_cases)
        points = float(spec.get("points") or sum(c.points for c in cases))
        questions.append(suite.Question(name, points, cases))
    order = [c.source for c in autograder_nb.cells if c.cell_type == "code" and "grader.check(" in c.source]
    position = {name: next((i for i, src in enumerate(order) if f'"{name}"' in src), len(order))
                for name in (q.name for q in questions)}
    if not questions:
        raise AssignError("otter assign produced no tests: expected BEGIN QUESTION / BEGIN TESTS blocks")
    return sorted(questions, key=lambda q: position[q.name])


def written_questions(master, autograder_nb) -> list[suite.Question]:
    """The master's written questions (``manual: true``), each with its points and its rubric: the markdown
    solution cells, which otter keeps in the autograder notebook only."""
    configs = []
    for cell in master.cells:
        text = _source(cell)
        if cell.cell_type == "raw" and text.lstrip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(text.split("\n", 1)[1]) or {}
            if config.get("manual"):
                configs.append(config)
    rubrics: list[list[str]] = []
    current: list[str] | None = None
    for cell in autograder_nb.cells:
        text, tags = _source(cell), cell.metadata.get("tags", [])
        if cell.cell_type == "markdown" and "<!-- BEGIN QUESTION -->" in text:
            current = []
            rubrics.append(current)
        elif cell.cell_type == "markdown" and "otter_assign_solution_cell" in tags and current is not None:
            current.append(text)
        if "<!-- END QUESTION -->" in text:
            current = None
    if len(rubrics) != len(configs):
        raise AssignError(f"expected one rubric block per written question, got {len(rubrics)} for "
                          f"{len(configs)} questions")
    return [suite.Question(str(c["name"]), float(c.get("points") or 0), written=True,
                           rubric="\n\n".join(r).strip()) for c, r in zip(configs, rubrics, strict=True)]


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _merge_init_cell(nb, number: str) -> None:
    """Replace otter's initialisation cell by coursekit's checker at the end of the setup cell."""
    init = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and OTTER_INIT_MARK in _source(c)]
    setup = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and SETUP_MARK in _source(c)]
    if not init or not setup:
        raise AssignError(f"lab {number}: expected otter's init cell and a setup cell calling ck.setup()")
    target = nb.cells[setup[0]]
    checker_lines = ("# The check cell under each question runs that question's public tests.\n"
                     f'grader = ck.grading.Checker("{number}")')
    target.source = _source(target).rstrip("\n") + "\n\n" + checker_lines
    del nb.cells[init[0]]


def grading_note(questions: list[suite.Question]) -> str:
    """The paragraph the lab's introduction ends with: public checks, hidden tests, where answers go."""
    hidden = [f"`{q.name}`" for q in questions if q.has_hidden_cases]
    which = f"Questions {', '.join(hidden)} have hidden tests." if hidden else "No question has hidden tests."
    written = [f"`{q.name}`" for q in questions if q.written]
    if written:
        which += (f" Written question{'s' if len(written) > 1 else ''} {', '.join(written)}: answer in the "
                  "markdown cell below the question, in your own words; your instructor marks it.")
    return ("**How this lab is graded.** The check cell under each question (`grader.check(...)`) runs that "
            "question's public tests. They are not the grade: hidden tests, run by your instructor, decide "
            f"it. {which} Grading uses only the code in the answer cells (the cells with `...` to fill in): "
            "put every helper a question needs in its answer cell.")


def normalise(nb, target: LabTarget, questions: list[suite.Question]) -> str:
    """The student notebook as deterministic text: stripped outputs, stable ids, badge, checker and grading
    note in place, no tests in the metadata."""
    _merge_init_cell(nb, target.number)
    stem = target.lab.stem
    for index, cell in enumerate(nb.cells):
        cell.id = hashlib.sha1(f"{stem}:{index}".encode()).hexdigest()[:8]
        cell.source = _source(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    if nb.cells and nb.cells[0].cell_type == "markdown":
        nb.cells[0].source = nb.cells[0].source.replace(f"/solutions/{target.solution.name}",
                                                        f"/labs/{target.lab.name}")
        nb.cells[0].source = nb.cells[0].source.rstrip("\n") + "\n\n" + grading_note(questions)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("otter", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nbformat.writes(nb, version=4).rstrip("\n") + "\n"


def leaks(nb) -> list[str]:
    """Why a student notebook would give answers away: solution markers in cells, tests in the metadata."""
    problems = []
    for index, cell in enumerate(nb.cells):
        for line in _source(cell).splitlines():
            if SOLUTION_MARKERS.search(line):
                problems.append(f"cell {index} still holds the solution line {line.strip()!r}: "
                                "wrap solution cells in raw cells '# BEGIN SOLUTION' / '# END SOLUTION'")
                break
    if nb.metadata.get("otter", {}).get("tests"):
        problems.append("test cases in the notebook metadata (students get public tests as package data)")
    return problems


def public_part(questions: list[suite.Question], values: dict[str, np.ndarray],
                number: str) -> tuple[list[suite.Question], dict[str, np.ndarray]]:
    """What students get: the public cases, and only the expected values those cases read."""
    public = [q.public() for q in questions]
    keys = set().union(*(suite.expected_keys(c.code, number) for q in public for c in q.cases))
    missing = sorted(keys - set(values))
    if missing:
        raise AssignError(f"lab {number}: public tests read expected values {missing} that the store lacks: "
                          f"run `python -m coursekit expected {number}`")
    return public, {k: values[k] for k in sorted(keys)}


@dataclass(frozen=True)
class Generated:
    """What assign made for one lab: the student notebook, its public suite and values, the grading bundle,
    and the lab with the solutions pasted back into its answer cells (a full-marks submission, used by the
    round-trip tests)."""

    lab: str
    public_suite: str
    public_values: dict[str, np.ndarray]
    bundle: Path
    solved: str


def paste_solutions(lab, autograder) -> None:
    """Replace the lab's answer code cells by the solution code cells of otter's autograder notebook."""
    def tagged(nb, tag):
        return [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]

    answers, solutions = tagged(lab, "otter_answer_cell"), tagged(autograder, "otter_assign_solution_cell")
    if len(answers) != len(solutions):
        raise AssignError(f"expected one solution cell per answer cell, got {len(solutions)} solution and "
                          f"{len(answers)} answer cells")
    for answer, solution in zip(answers, solutions, strict=True):
        answer.source = _source(solution)


def generate(target: LabTarget) -> Generated:
    """Run otter assign for one lab in a temporary folder; write the grading bundle to the build folder."""
    with tempfile.TemporaryDirectory(prefix=f"assign-{target.number}-") as tmp:
        student, autograder_path = run_otter_assign(target.solution, Path(tmp) / "out")
        autograder = nbformat.read(autograder_path, as_version=4)
        questions = suite_of(autograder)
        questions += written_questions(nbformat.read(target.solution, as_version=4), autograder)
        nb = nbformat.read(student, as_version=4)
        solved = nbformat.read(student, as_version=4)
    paste_solutions(solved, autograder)
    lab = normalise(nb, target, questions)
    problems = leaks(nbformat.reads(lab, as_version=4))
    if problems:
        listing = "\n- ".join(problems)
        raise AssignError(f"{target.solution}: the generated lab would leak answers:\n- {listing}")
    values = store.load(target.number)
    public, public_values = public_part(questions, values, target.number)
    write_bundle(target.bundle, target.number, lab, questions, values)
    return Generated(lab, suite.dumps(target.number, public), public_values, target.bundle,
                     normalise(solved, target, questions))


def write_bundle(path: Path, number: str, lab: str, questions: list[suite.Question],
                 values: dict[str, np.ndarray]) -> None:
    """The instructor's grading bundle (atomically): the lab, every case, every expected value."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **values)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(BUNDLE_LAB, lab)
            archive.writestr(BUNDLE_SUITE, suite.dumps(number, questions))
            archive.writestr(BUNDLE_EXPECTED, buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Bundle:
    """A grading bundle read back: the lab number, the pristine lab, every question, every expected value."""

    number: str
    lab: str
    questions: list[suite.Question]
    values: dict[str, np.ndarray]


def read_bundle(path: Path) -> Bundle:
    """Read a grading bundle written by ``write_bundle``."""
    try:
        with zipfile.ZipFile(path) as archive:
            lab = archive.read(BUNDLE_LAB).decode("utf-8")
            text = archive.read(BUNDLE_SUITE).decode("utf-8")
            with np.load(io.BytesIO(archive.read(BUNDLE_EXPECTED)), allow_pickle=False) as data:
                values = {k: data[k] for k in data.files}
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: expected a grading bundle written by `coursekit assign` "
                         f"({BUNDLE_LAB}, {BUNDLE_SUITE}, {BUNDLE_EXPECTED}), got {exc}") from exc
    return Bundle(json.loads(text)["lab"], lab, suite.loads(text), values)


def write_atomic(path: Path, text: str) -> None:
    """Write text through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _same_values(path: Path, values: dict[str, np.ndarray]) -> bool:
    if not path.exists():
        return False
    stored = store.read_npz(path)
    return sorted(stored) == sorted(values) and all(np.array_equal(stored[k], values[k]) for k in values)


def _relative(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def assign(selected: list[LabTarget], check: bool = False) -> list[str]:
    """Generate (or with ``check``, compare) the labs and public tests; return the problems (stale or
    missing files)."""
    stale = []
    for target in selected:
        made = generate(target)
        outputs = [(target.lab, made.lab), (target.public_suite, made.public_suite)]
        if check:
            for path, text in outputs:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(f"{_relative(path)} differs from what assign writes from "
                                 f"{target.solution.name}")
            if not _same_values(target.public_values, made.public_values):
                stale.append(f"{_relative(target.public_values)} differs from the public part of the store")
            continue
        for path, text in outputs:
            write_atomic(path, text)
        if not _same_values(target.public_values, made.public_values):
            store.write(target.number, made.public_values, file=target.public_values)
        print(f"{_relative(target.lab)}  (public tests {_relative(target.public_suite)}; "
              f"bundle {made.bundle})")
    return stale


def bundle_for(number: str) -> Path:
    """The grading bundle of a lab, generated first when the build folder lacks it or it is older than the
    solution notebook or the expected values."""
    target = targets([number])[0]
    sources = [p.stat().st_mtime for p in (target.solution, store.path(number)) if p.exists()]
    if not target.bundle.exists() or target.bundle.stat().st_mtime < max(sources):
        generate(target)
    return target.bundle
