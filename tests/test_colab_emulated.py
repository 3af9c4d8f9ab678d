"""Every lab runs the way Colab runs it: an emulated Colab runtime executes each generated lab.

tests/colab/emulate.py builds (once, cached) a virtualenv with Colab's Jupyter/widget stack (ipykernel
6.17.1, ipython 7.34.0, ipywidgets 7.7.1, ...), its scientific stack and the frameworks, and runs notebooks
in a kernel whose shell class is ``google.colab._shell.Shell`` (a fake ``google.colab`` imported at kernel
start), in an empty folder: no notebook file, no tests folder. The lab's own setup cell installs coursekit
with its real Colab install line, pointed at a wheel of this repository instead of the git URL.

For each lab (generated from solutions/ by ``coursekit.grading.assign.generate``):
- the solved lab runs without an error and every check cell says all its public tests passed;
- the lab with the planted wrong answer of tests/fixtures/grading/mistakes.yml shows fewer passed tests and
  the mistake's hint on that question only, and runs on to its last check cell;
- the install changed no package Colab ships (pip freeze before / after).
Lecture 01's widgets are built under ipywidgets 7.7.1 (tests/colab/build_lecture01_widgets.py).

Runs in a pytest process of its own (Makefile ``unit``), two notebooks at a time. Skipped only when the
package index is out of reach while the runtime is built.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from coursekit.course import ROOT, load
from coursekit.grading import assign

sys.path.insert(0, str(Path(__file__).parent / "colab"))
sys.path.insert(0, str(Path(__file__).parent / "grading"))
import emulate  # noqa: E402
from test_roundtrip import plant_mistake  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Traits should be given as instances:DeprecationWarning")]

MISTAKES = yaml.safe_load((ROOT / "tests" / "fixtures" / "grading" / "mistakes.yml").read_text())
WIDGETS_SCRIPT = ROOT / "tests" / "colab" / "build_lecture01_widgets.py"
CHECKER_LINE = "grader = ck.grading.Checker("
NOTEBOOK_TIMEOUT = 600


def course_labs() -> list[str]:
    return [m.number for m in load().modules if m.solution and (ROOT / m.solution).exists()]


def selected_labs() -> list[str]:
    """The labs to execute: all, or those listed in ``COURSEKIT_COLAB_LABS`` (e.g. ``01,11``, to debug)."""
    chosen = os.environ.get("COURSEKIT_COLAB_LABS", "").replace(",", " ").split()
    return [n for n in course_labs() if not chosen or n in chosen]


class Runs:
    """The executions of every lab (solved and planted), made once for the module, two at a time."""

    def __init__(self, session: emulate.Session, folder: Path, labs: list[str]):
        self.session, self.folder, self.labs = session, folder, labs
        self.results: dict[tuple[str, str], tuple[emulate.Execution, Path, dict[str, str]]] = {}
        self.generated: dict[str, asyncio.Task] = {}
        self.seconds = 0.0
        self.generate_seconds: dict[str, float] = {}

    async def generate(self, number: str) -> assign.Generated:
        if number not in self.generated:
            solution = ROOT / load().module(number).solution
            target = assign.LabTarget(number, solution, self.folder / "labs" / solution.name,
                                      self.folder / "build" / number, self.folder / "public")
            self.generated[number] = asyncio.ensure_future(asyncio.to_thread(self.timed_generate, target))
        return await self.generated[number]

    def timed_generate(self, target: assign.LabTarget) -> assign.Generated:
        start = time.monotonic()
        made = assign.generate(target)
        self.generate_seconds[target.number] = time.monotonic() - start
        return made

    async def one(self, number: str, kind: str):
        made = await self.generate(number)
        if kind == "solved":
            nb = nbformat.reads(made.solved, as_version=4)
        else:
            nb = emulate.truncate_after_last_check(
                nbformat.reads(plant_mistake(made.solved, MISTAKES[number]), as_version=4))
        execution, python = await self.session.run_notebook(f"{number}-{kind}", nb, NOTEBOOK_TIMEOUT)
        after = await asyncio.to_thread(emulate.freeze, python)
        self.results[number, kind] = (execution, python, after)

    def run(self):
        # Solved labs first, so the two slots generate different labs at the same time; the planted ones
        # reuse what was generated.
        jobs = [lambda n=n, k=k: self.one(n, k) for k in ("solved", "planted") for n in self.labs]
        start = time.monotonic()
        asyncio.run(emulate.run_all(jobs, limit=2))
        self.seconds = time.monotonic() - start


def say(config, text: str) -> None:
    """A line on the terminal even when pytest captures output (the timings belong in CI's log)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


@pytest.fixture(scope="module")
def session(tmp_path_factory, pytestconfig):
    started = time.monotonic()
    try:
        made = emulate.Session.create(tmp_path_factory.mktemp("colab"),
                                      progress=lambda line: say(pytestconfig, line))
    except emulate.RegistryUnreachable as exc:
        pytest.skip(f"cannot build the emulated Colab runtime: {exc}")
    say(pytestconfig, f"\nemulated Colab runtime {made.base.venv} ready in {time.monotonic() - started:.0f} s"
        + (f" (built in {made.base.build_seconds:.0f} s, {made.base.size_bytes / 2**30:.1f} GiB)"
           if made.base.build_seconds else " (reused)"))
    return made


@pytest.fixture(scope="module")
def colab_before(session):
    """pip freeze of the runtime as Colab ships it (an overlay with nothing installed yet)."""
    python, _ = session.new_overlay("freeze-before")
    return emulate.freeze(python)


@pytest.fixture(scope="module")
def runs(session, colab_before, tmp_path_factory, pytestconfig):
    done = Runs(session, tmp_path_factory.mktemp("labs"), selected_labs())
    done.run()
    say(pytestconfig, f"\n{len(done.results)} lab executions in the emulated Colab in {done.seconds:.0f} s "
        "(2 at a time; seconds per notebook, its generation, its slowest cells):")
    for (number, kind), (execution, _, _) in sorted(done.results.items()):
        slowest = ", ".join(f"#{i} {t:.1f}" for t, i in execution.cells[:3])
        say(pytestconfig, f"  {number} {kind}: {execution.seconds:.0f}{' ERROR' if execution.error else ''} "
            f"(generated {done.generate_seconds.get(number, 0):.0f}; {slowest})")
    return done


def test_the_runtime_is_colabs_jupyter_and_widget_stack(colab_before):
    colab = emulate.colab_versions()
    for name in ("ipywidgets", "ipykernel", "ipython", "jupyter-client", "traitlets", "notebook",
                 "widgetsnbextension", "numpy", "scipy", "matplotlib", "pillow", "scikit-learn",
                 "scikit-image", "tqdm", "pyyaml", "tensorflow", "tensorflow-hub", "keras"):
        emulated = colab_before.get(name)
        assert emulated == colab[name], f"{name}: emulated {emulated}, Colab {colab[name]}"
    assert colab_before["ipywidgets"] == "7.7.1"
    assert "coursekit" not in colab_before and "jupyterlab" not in colab_before
    assert colab_before["torch"] == "2.14.1", "torch 2.14.1 (this machine's) stands in for Colab's 2.11"


def test_the_kernel_looks_like_colab_to_otter_and_coursekit(session):
    """otter-grader decides it runs on Colab when ``str(get_ipython())`` contains one of the strings of
    ``IPythonInterpreter.COLAB`` (otter/check/utils.py, ``_Interpreter.running``). The strings are read from
    otter in this environment, and the same predicate is evaluated on the emulated kernel's shell."""
    try:
        from otter.check.utils import IPythonInterpreter
        colab_strings = list(IPythonInterpreter.COLAB.value.check_strs)
        other_strings = list(IPythonInterpreter.PYOLITE.value.check_strs)
    except ImportError:  # otter-grader gone from the dev environment: its predicate, as of otter 7
        colab_strings, other_strings = ["google.colab"], ["pyolite.", "pyodide_kernel."]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('import sys\nif "google.colab" in sys.modules:\n    %pip --version'),
        nbformat.v4.new_code_cell("import os, sys\nprint(str(get_ipython()))\n"
                                  "print('google.colab' in sys.modules)\nprint(sorted(os.listdir('.')))"),
    ])
    python, kernels = session.new_overlay("detection")
    cwd = session.work / "cwd" / "detection"
    cwd.mkdir(parents=True, exist_ok=True)
    execution = asyncio.run(emulate.execute("detection", nb, python, kernels, cwd, timeout=120))
    assert execution.error is None, execution.error
    assert "pip 24.1.2" in emulate.cell_text(nb.cells[0]), "the Colab guard runs %pip with Colab's pip"
    shell, imported, listing = emulate.cell_text(nb.cells[1]).splitlines()[:3]
    assert shell.startswith("<google.colab._shell.Shell object"), shell
    assert any(s in shell for s in colab_strings), f"otter would not see Colab in {shell!r}"
    assert not any(s in shell for s in other_strings)
    assert imported == "True" and listing == "[]"


def test_every_lab_is_generated_with_the_colab_checker():
    """The contract the executions rely on: each lab's setup cell makes ``ck.grading.Checker("NN")``."""
    for number in course_labs():
        lab = nbformat.read(ROOT / load().module(number).lab, as_version=4)
        setup = next(c for c in lab.cells if c.cell_type == "code").source
        assert f'{CHECKER_LINE}"{number}")' in setup, f"lab {number}: setup cell is\n{setup}"
        assert "otter" not in setup, f"lab {number}: otter.Notebook fails on Colab (no tests folder)"


def check_lines(results) -> str:
    return "\n".join(f"{q}: {p} of {t}" for q, (p, t, _) in results.items())


@pytest.mark.parametrize("number", selected_labs())
def test_solved_lab_runs_on_colab_and_passes_its_public_tests(runs, number):
    execution, python, _ = runs.results[number, "solved"]
    assert execution.error is None, f"lab {number} (solved) fails on Colab:\n{execution.error[-4000:]}"
    setup_output = emulate.cell_text(next(c for c in execution.nb.cells if c.cell_type == "code"))
    assert "Colab" in setup_output, f"ck.setup() did not see Colab:\n{setup_output}"
    results = emulate.check_results(execution.nb)
    assert results, f"lab {number}: no grader.check cells"
    for question, (passed, total, text) in results.items():
        assert total > 0 and passed == total, f"lab {number} {question}: {text}"
        assert "hidden tests" in text, f"lab {number} {question}: no word on the hidden tests:\n{text}"


@pytest.mark.parametrize("number", selected_labs())
def test_planted_mistake_fails_its_check_with_the_hint_and_the_lab_goes_on(runs, number):
    mistake = MISTAKES[number]
    execution, _, _ = runs.results[number, "planted"]
    assert execution.error is None, (
        f"lab {number} with a wrong answer stops before its last check cell:\n{execution.error[-4000:]}")
    results = emulate.check_results(execution.nb)
    passed, total, text = results[mistake["question"]]
    assert 0 <= passed < total, f"lab {number} {mistake['question']}: the wrong answer passes:\n{text}"
    assert mistake["hint"] in text, f"lab {number} {mistake['question']}: no {mistake['hint']!r} in\n{text}"
    others = {q: r for q, r in results.items() if q != mistake["question"]}
    assert all(p == t > 0 for p, t, _ in others.values()), check_lines(others)


def test_the_colab_install_changes_no_package_colab_ships(runs, colab_before):
    """In every lab's overlay, what the setup cell's install left: each package Colab ships at the same
    version, coursekit from the wheel, and nothing new that Colab ships (it would be missing from the
    emulation, tests/colab/runtime.txt)."""
    colab = emulate.colab_versions()
    for (number, kind), (_, _, after) in sorted(runs.results.items()):
        changed = {p: (v, after.get(p)) for p, v in colab_before.items() if after.get(p) != v}
        assert not changed, f"lab {number} ({kind}): the install changed {changed}"
        added = set(after) - set(colab_before)
        assert after.get("coursekit", "").startswith(runs.session.wheel.as_uri()), (
            f"lab {number} ({kind}): coursekit is not {runs.session.wheel}: {after.get('coursekit')}")
        shipped = sorted(added & set(colab))
        assert not shipped, (f"lab {number} ({kind}): the install added {shipped}, which Colab ships: add "
                             "them to tests/colab/runtime.txt")
    python, _ = runs.session.new_overlay("freeze-after")
    assert emulate.freeze(python) == colab_before, "the base runtime changed"


def test_lecture01_widgets_build_under_ipywidgets_7(runs, tmp_path):
    if not WIDGETS_SCRIPT.exists():
        pytest.skip(f"{WIDGETS_SCRIPT.relative_to(ROOT)} does not exist yet")
    first = selected_labs()[0]
    _, python, _ = runs.results[first, "solved"]  # its overlay has coursekit from the wheel
    done = subprocess.run([str(python), str(WIDGETS_SCRIPT)], capture_output=True, text=True, cwd=tmp_path,
                          env=emulate.kernel_env(Path(python)), timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"lecture 01's widgets fail under Colab's ipywidgets:\n{output[-4000:]}"
    assert "ipywidgets 7.7.1" in output, output[-2000:]
