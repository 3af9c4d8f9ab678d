"""Lab generation with otter assign: deterministic labs, course layout kept, public tests as package data and
no leaks (of solutions, hidden tests or hidden expected values), checks that work without a notebook file or
a tests folder (as on Colab), and ``python -m coursekit assign --check`` semantics."""

import json
import os
import re
from pathlib import Path

import nbclient
import nbformat
import pytest
import yaml
from test_roundtrip import recorded_fixture_store

from coursekit import __main__ as cli
from coursekit.course import ROOT
from coursekit.grading import assign, store, suite

FIXTURE = Path(__file__).parents[1] / "fixtures" / "grading" / "99_fixture.ipynb"


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    """The fixture lab's expected values, recorded from its master notebook into a private store."""
    with recorded_fixture_store(tmp_path_factory.mktemp("expected")) as folder:
        yield folder


@pytest.fixture(scope="module")
def fixture_target(tmp_path_factory):
    out = tmp_path_factory.mktemp("assign")
    return assign.LabTarget("99", FIXTURE, out / "labs" / FIXTURE.name, out / "build" / "99", out / "public")


@pytest.fixture(scope="module")
def generated(fixture_target, fixture_store):
    return assign.generate(fixture_target)


def test_record_mode_stores_every_checked_value(fixture_store):
    assert sorted(store.load("99")) == ["kl", "square"]
    assert store.expected("99", "kl").shape == (5,)


def test_lab_keeps_the_course_layout_and_points_its_badge_at_itself(generated):
    nb = nbformat.reads(generated.lab, as_version=4)
    first, setup, config = (c.source for c in nb.cells[:3])
    assert first.startswith("# 99") and "/blob/main/labs/99_fixture.ipynb" in first
    assert "solutions/" not in first
    assert setup.index("ck.setup()") < setup.index('grader = ck.grading.Checker("99")')
    assert "How this lab is graded" in first and "Questions `q1`, `q2` have hidden tests." in first
    assert "Written question `q_written`" in first
    assert "ck.profile(" in config
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "otter" not in code and "otter" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    checks = [c.source for c in code if "grader.check" in c.source]
    assert checks == [f'grader.check("q{i}")' for i in (1, 2, 3)]
    assert generated.bundle.name == "99_fixture-grader.zip" and generated.bundle.exists()


def test_students_get_public_cases_and_their_values_the_bundle_gets_everything(generated):
    public = suite.loads(generated.public_suite, expect_lab="99")
    assert [(q.name, q.points, len(q.cases), q.hidden_removed, q.written) for q in public] == [
        ("q1", 2.0, 1, 1, False), ("q2", 3.0, 1, 1, False), ("q3", 1.0, 1, 0, False),
        ("q_written", 2.0, 0, 0, True)]
    assert "Gibbs" not in generated.public_suite and "Gibbs" not in generated.lab, "the rubric leaked"
    assert not any(c.hidden for q in public for c in q.cases)
    assert "check_range" not in generated.public_suite and "'square'" not in generated.public_suite
    assert sorted(generated.public_values) == ["kl"], "only values that public cases read are shipped"
    bundle = assign.read_bundle(generated.bundle)
    assert bundle.number == "99" and bundle.lab == generated.lab and sorted(bundle.values) == ["kl", "square"]
    assert [sum(c.points for c in q.cases) for q in bundle.questions] == [2.0, 3.0, 1.0, 0.0]
    assert bundle.questions[-1].written and "Gibbs' inequality" in bundle.questions[-1].rubric
    assert [c.hidden for c in bundle.questions[0].cases] == [False, True]


def test_assign_check_is_stable_and_reports_stale_and_missing_labs(fixture_target, generated, monkeypatch):
    assert assign.assign([fixture_target]) == []
    assert fixture_target.lab.read_text() == generated.lab
    assert fixture_target.public_suite.read_text() == generated.public_suite
    assert assign.assign([fixture_target], check=True) == [], "a second otter assign must give the same bytes"
    monkeypatch.setattr(assign, "generate", lambda target: generated)
    stale = f"{fixture_target.lab} differs from what assign writes from 99_fixture.ipynb"
    fixture_target.lab.write_text(generated.lab.replace("Question 1", "Question one"))
    assert assign.assign([fixture_target], check=True) == [stale]
    fixture_target.lab.unlink()
    fixture_target.public_values.unlink()
    assert assign.assign([fixture_target], check=True) == [
        stale, f"{fixture_target.public_values} differs from the public part of the store"]


def test_cli_assign_check_exits_1_listing_stale_labs(monkeypatch, capsys, fixture_target):
    monkeypatch.setattr(assign, "targets", lambda numbers: [fixture_target])
    monkeypatch.setattr(assign, "assign", lambda selected, check: ["labs/99_fixture.ipynb is missing"])
    assert cli.main(["assign", "--check"]) == 1
    assert "labs/99_fixture.ipynb is missing" in capsys.readouterr().err
    monkeypatch.setattr(assign, "assign", lambda selected, check: [])
    assert cli.main(["assign", "--check"]) == 0


def test_unknown_module_is_a_usage_error(capsys):
    assert cli.main(["assign", "42"]) == 2
    assert "unknown module '42'" in capsys.readouterr().err


def test_leaks_flags_solution_code_outside_a_solution_block():
    cell = nbformat.v4.new_code_cell("def f():\n    # BEGIN SOLUTION\n    return 1")
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["otter"] = {"tests": {"q1": {"suites": [{"cases": [{"code": ">>> f()", "hidden": True}]}]}}}
    problems = assign.leaks(nb)
    assert len(problems) == 2
    assert "wrap solution cells in raw cells '# BEGIN SOLUTION'" in problems[0]
    assert problems[1].startswith("test cases in the notebook metadata")


def _outputs(cell) -> str:
    return "".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.get("outputs", []))


@pytest.mark.slow
def test_lab_checks_run_with_no_notebook_file_and_no_tests_folder(generated, fixture_target, tmp_path):
    """As on Colab: the kernel's folder is empty and the values come from the public package data. Solutions
    pasted back pass; a planted mistake shows its hint; a blank answer fails with a message; the notebook goes
    on past every failure, and every check says hidden tests decide the grade."""
    assign.assign([fixture_target])
    nb = nbformat.reads(generated.solved, as_version=4)
    kl_cell = next(c for c in nb.cells if "def gaussian_kl" in c.source)
    kl_cell.source = kl_cell.source.replace("return -0.5 *", "return 0.5 *")
    layer_cell = next(c for c in nb.cells if "def make_layer" in c.source)
    layer_cell.source = "def make_layer():\n    ..."
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    env = {k: v for k, v in os.environ.items() if k != store.DIR_ENV}
    client.execute(env={**env, "COURSEKIT_OFFLINE": "1", "COURSEKIT_PROFILE": "smoke",
                        "COURSEKIT_PUBLIC_DIR": str(fixture_target.public_dir)})
    assert list(tmp_path.iterdir()) == [], "the checks need no notebook file and no tests folder"
    checks = {re.search(r'"(q\d)"', c.source).group(1): _outputs(c)
              for c in nb.cells if c.source.startswith("grader.check")}
    assert "q1: 1 of 1 public tests passed" in checks["q1"]
    assert "q2: 0 of 1 public tests passed" in checks["q2"]
    assert "KL is negative: check the sign" in checks["q2"]
    assert "expected a torch.nn.Module, got NoneType" in checks["q3"]
    assert all("hidden tests" in text for name, text in checks.items() if name != "q3")
    assert "no hidden tests" in checks["q3"]


def committed_labs():
    return sorted((ROOT / "labs").glob("*.ipynb"))


def master_secrets(master) -> tuple[list[str], list[str]]:
    """Distinctive lines of the master's solutions and of its hidden tests (what a lab must not contain).

    A line that the master also shows students (in a prompt, a public test or ungraded code, even inside a
    longer line) is not a secret.
    """
    solution_lines, hidden_lines, public_lines = [], [], set()
    block = None
    for cell in master.cells:
        text = cell.source
        if cell.cell_type == "raw":
            head = text.strip().splitlines()[0] if text.strip() else ""
            after_end = None if head.startswith("# END") else block
            block = {"# BEGIN SOLUTION": "solution", "# BEGIN TESTS": "tests"}.get(head, after_end)
            continue
        if block == "solution" and cell.cell_type == "markdown":
            solution_lines += [line.strip() for line in text.splitlines()]
        elif block == "solution" and cell.cell_type == "code":
            inside = False
            for line in text.splitlines():
                marker = line.strip()
                if marker.startswith("# BEGIN SOLUTION"):
                    inside = True
                elif marker.startswith("# END SOLUTION"):
                    inside = False
                elif inside or marker.endswith("# SOLUTION"):
                    solution_lines.append(marker.removesuffix("# SOLUTION").strip())
                else:
                    public_lines.add(marker)
        elif block == "tests" and cell.cell_type == "code" and text.lstrip().startswith("# HIDDEN"):
            hidden_lines += [line.strip() for line in text.splitlines()[1:]]
        else:
            public_lines.update(line.strip() for line in text.splitlines())
    public = "\n".join(public_lines)
    distinctive = lambda lines: [x for x in lines
                                 if len(x) >= 16 and not x.startswith("#") and x not in public]
    return distinctive(solution_lines), distinctive(hidden_lines)


@pytest.mark.parametrize("lab", [FIXTURE, *committed_labs()], ids=lambda p: p.name)
def test_student_labs_hold_no_solution_code_and_no_hidden_tests(lab, generated):
    if lab == FIXTURE:
        text, master = generated.lab, nbformat.read(FIXTURE, as_version=4)
    else:
        text, master = lab.read_text(), nbformat.read(ROOT / "solutions" / lab.name, as_version=4)
    nb = nbformat.reads(text, as_version=4)
    assert assign.leaks(nb) == []
    solution_lines, hidden_lines = master_secrets(master)
    assert solution_lines and (hidden_lines or lab != FIXTURE)
    public = generated.public_suite if lab == FIXTURE else (ROOT / "coursekit" / "grading" / "public" /
                                                            f"{lab.name[:2]}.json").read_text()
    code = "\n".join(c.source for c in nb.cells) + json.dumps(nb.metadata) + public
    leaked = [line for line in solution_lines + hidden_lines
              if line in code or json.dumps(line)[1:-1] in code]
    assert not leaked, f"{lab.name} or its public tests show solution or hidden-test lines: {leaked}"


@pytest.mark.parametrize("lab", committed_labs(), ids=lambda p: p.name)
def test_every_lab_has_a_written_question_whose_rubric_stays_in_the_solution(lab):
    master = nbformat.read(ROOT / "solutions" / lab.name, as_version=4)
    configs = [yaml.safe_load(c.source.split("\n", 1)[1]) for c in master.cells
               if c.cell_type == "raw" and c.source.startswith("# BEGIN QUESTION")]
    written = {c["name"] for c in configs if c.get("manual")}
    rubrics = [c.source for c in master.cells
               if c.cell_type == "markdown" and c.source.startswith("**Rubric")]
    assert written and len(rubrics) >= len(written), f"{lab.name}: add a written question with a rubric"
    public = suite.load(ROOT / "coursekit" / "grading" / "public" / f"{lab.name[:2]}.json")
    assert {q.name for q in public if q.written} == written
    assert all(not q.rubric for q in public), "a rubric reached the package data"
    text = lab.read_text()
    assert not [r for r in rubrics if r.splitlines()[0][:60] in text], f"{lab.name} shows its rubric"
