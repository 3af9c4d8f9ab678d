"""Student labs and grading bundles from the otter-grader master notebooks in ``solutions/``.

``python -m coursekit assign [NN ...]`` runs ``otter assign`` (no Docker, tests not re-run: the round-trip
tests do that) into a temporary folder, then

- writes the student notebook to ``labs/NN_slug.ipynb`` with deterministic bytes (outputs stripped, cell ids
  derived from the position, the otter initialisation merged into the setup cell so the notebook keeps the
  course layout and installs otter on Colab before importing it, the Colab badge pointing at the lab);
- copies the autograder zip to ``build/grading/NN/NN_slug-autograder.zip``.

Tests live in the notebook metadata (``tests: files: false``) so ``grader.check("q1")`` works on Colab
without a tests folder. ``--check`` compares what assign would write with the committed labs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..course import ROOT, Module, load

BUILD_DIR = ROOT / "build" / "grading"
OTTER_INIT_MARK = "otter.Notebook("
SETUP_MARK = "ck.setup("
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

    @property
    def bundle(self) -> Path:
        return self.bundle_dir / f"{self.solution.stem}-autograder.zip"


def target_for(module: Module, root: Path = ROOT) -> LabTarget:
    """The lab target of a manifest module (which must list a solution notebook)."""
    if not module.solution:
        raise ValueError(f"module {module.number}: expected a solution notebook in course.yml, got none")
    return LabTarget(module.number, root / module.solution, root / module.lab, root / "build" / "grading" /
                     module.number)


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
    """Run ``otter assign`` on a master notebook; return (student notebook, autograder zip)."""
    command = [sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs", str(solution),
               str(out_dir)]
    env = dict(os.environ, COURSEKIT_PROFILE="smoke", COURSEKIT_OFFLINE="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=solution.parent)
    if done.returncode != 0:
        raise AssignError(f"otter assign {solution} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    student = out_dir / "student" / solution.name
    zips = sorted((out_dir / "autograder").glob("*-autograder_*.zip"))
    if not student.exists() or len(zips) != 1:
        raise AssignError(f"otter assign {solution}: expected student/{solution.name} and one autograder zip "
                          f"in {out_dir}, got {sorted(p.name for p in out_dir.rglob('*'))}")
    return student, zips[0]


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _merge_init_cell(nb) -> None:
    """Move otter's initialisation cell into the setup cell (after ``ck.setup()``), keeping the layout."""
    init = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and OTTER_INIT_MARK in _source(c)]
    setup = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and SETUP_MARK in _source(c)]
    if not init or not setup:
        return
    init_source = _source(nb.cells[init[0]]).replace("# Initialize Otter\n", "")
    target = nb.cells[setup[0]]
    comment = "# otter-grader: the check cell under each question runs that question's public tests.\n"
    target.source = _source(target).rstrip("\n") + "\n\n" + comment + init_source
    del nb.cells[init[0]]


def normalise(nb, target: LabTarget) -> str:
    """The student notebook as deterministic text: stripped outputs, stable ids, badge and init cell fixed."""
    _merge_init_cell(nb)
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
    nb.metadata.pop("widgets", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nbformat.writes(nb, version=4).rstrip("\n") + "\n"


def leaks(nb) -> list[str]:
    """Why a student notebook would give answers away: solution markers in cells, hidden tests in metadata."""
    problems = []
    for index, cell in enumerate(nb.cells):
        for line in _source(cell).splitlines():
            if SOLUTION_MARKERS.search(line):
                problems.append(f"cell {index} still holds the solution line {line.strip()!r}: "
                                "wrap solution cells in raw cells '# BEGIN SOLUTION' / '# END SOLUTION'")
                break
    tests = nb.metadata.get("otter", {}).get("tests", {})
    for name, test in tests.items():
        for suite in test.get("suites", []):
            if any(case.get("hidden") for case in suite.get("cases", [])):
                problems.append(f"hidden test of {name} in the notebook metadata")
    return problems


@dataclass(frozen=True)
class Generated:
    """What otter assign made for one lab: the student notebook, the bundle, and the lab with the solutions
    pasted back into its answer cells (a full-marks submission, used by the round-trip tests)."""

    lab: str
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
    """Run otter assign for one lab in a temporary folder; the bundle is copied to the build folder."""
    with tempfile.TemporaryDirectory(prefix=f"assign-{target.number}-") as tmp:
        student, bundle = run_otter_assign(target.solution, Path(tmp) / "out")
        nb = nbformat.read(student, as_version=4)
        problems = leaks(nb)
        if problems:
            listing = "\n- ".join(problems)
            raise AssignError(f"{target.solution}: the generated lab would leak answers:\n- {listing}")
        solved = nbformat.read(student, as_version=4)
        paste_solutions(solved, nbformat.read(Path(tmp) / "out" / "autograder" / student.name, as_version=4))
        target.bundle_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle, target.bundle)
    return Generated(normalise(nb, target), target.bundle, normalise(solved, target))


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


def assign(selected: list[LabTarget], check: bool = False) -> list[str]:
    """Generate (or with ``check``, compare) the labs; return the problems (stale or missing labs)."""
    stale = []
    for target in selected:
        made = generate(target)
        text, bundle = made.lab, made.bundle
        relative = target.lab.relative_to(ROOT) if target.lab.is_relative_to(ROOT) else target.lab
        if check:
            if not target.lab.exists():
                stale.append(f"{relative} is missing")
            elif target.lab.read_text(encoding="utf-8") != text:
                stale.append(f"{relative} differs from what assign writes from {target.solution.name}")
            continue
        write_atomic(target.lab, text)
        print(f"{relative}  (bundle {bundle})")
    return stale


def bundle_for(number: str) -> Path:
    """The autograder zip of a lab, generated first when the build folder lacks it or it is older."""
    target = targets([number])[0]
    if not target.bundle.exists() or target.bundle.stat().st_mtime < target.solution.stat().st_mtime:
        generate(target)
    return target.bundle
