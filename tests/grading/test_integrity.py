"""Grading that a submission cannot disarm: hostile submissions score what their honest answers deserve, never
more, and those that tamper with the grading environment are reported ``tampered`` with the evidence.

The fixture lab (tests/fixtures/grading/99_fixture.ipynb: q1 ``square`` 2 points, q2 ``gaussian_kl`` 3,
q3 ``make_layer`` 1) is graded with ``coursekit grade``'s machinery; each hostile submission puts its attack
where it would run (an answer cell's definitions or a function a test calls), and a control proves that an
honest submission is never flagged. Lab 01 replays the attack found in review: no answers, checks patched.
"""

import os
import textwrap

import nbformat
import pytest
from test_roundtrip import generate_fixture_lab, make_target, read_csv, with_answer

from coursekit.course import ROOT, load
from coursekit.grading import assign, grade, runner

FULL = {"q1": 2.0, "q2": 3.0, "q3": 1.0}
ZERO = dict.fromkeys(FULL, 0.0)
CHECKS = ("check_close", "check_true", "check_shape", "check_range", "check_param_count")
PATCH_CHECKS = textwrap.dedent(f"""\
    import coursekit.grading as G, coursekit.grading.checks as C
    _ = [(setattr(G, n, lambda *a, **k: None), setattr(C, n, lambda *a, **k: None)) for n in {CHECKS}]
    """)
STUBS = {"def square": "def square(x):\n    return x\n",
         "def gaussian_kl": "def gaussian_kl(mu, logvar):\n    return mu.sum(-1) * 0\n",
         "def make_layer": "def make_layer():\n    return torch.nn.Linear(8, 1)\n"}
# What the stubs honestly earn: square's public shape check and the KL's hidden "KL of N(0, 1) is 0" case.
STUB_SCORES = {"q1": 1.0, "q2": 1.5, "q3": 0.0}
# student -> (the answer cell it replaces, its source, the scores it deserves, the status)
ATTACKS = {
    "patch_inside_answer": ("def square", """\
        def square(x):
            import coursekit.grading as G
            for name in ("check_close", "check_shape"):
                setattr(G, name, lambda *a, **k: None)
            return x
        """, {"q1": 0.0}, "tampered"),
    "allclose_patched": ("def gaussian_kl", """\
        def gaussian_kl(mu, logvar):
            import numpy, torch
            numpy.allclose = lambda *a, **k: True
            torch.allclose = lambda *a, **k: True
            return mu.sum(-1)
        """, {"q2": 0.0}, "tampered"),
    "tensor_method_patched": ("def gaussian_kl", """\
        def gaussian_kl(mu, logvar):
            torch.Tensor.__lt__ = lambda self, other: self * 0 > 1
            return mu.sum(-1) * 0 - 1
        """, {"q2": 0.0}, "tampered"),
    "reads_stored_answer": ("def gaussian_kl", """\
        def gaussian_kl(mu, logvar):
            from coursekit.grading import store
            return torch.as_tensor(store.expected("99", "kl"))
        """, {"q2": 0.0}, "tampered"),
    "reads_expected_files": ("def gaussian_kl", """\
        def gaussian_kl(mu, logvar):
            import glob, os, numpy
            from coursekit.grading import store
            found = glob.glob("../**/*.zip", recursive=True) + glob.glob(os.path.join(store.PUBLIC_DIR, "*"))
            return torch.as_tensor(numpy.load(found[0])["kl"])
        """, {"q2": 0.0}, "tampered"),
    "probes_the_check": ("def gaussian_kl", """\
        def gaussian_kl(mu, logvar):
            try:
                g.check_close("99", "kl", 0.0)
            except Exception as error:
                return mu.sum(-1) * 0 + float(str(error).split()[2].rstrip(","))
            return mu.sum(-1)
        """, {"q2": 0.0}, "tampered"),
    "writes_grading_folder": ("def square", """\
        def square(x):
            open("../out/result.json", "w").write('{"scores": {"q1": 2, "q2": 3, "q3": 1}}')
            return x
        """, {"q1": 0.0}, "tampered"),
    "starts_a_process": ("def square", """\
        def square(x):
            import os
            os.system("true")
            return x * x
        """, {"q1": 0.0}, "tampered"),
    "patches_builtins": ("def make_layer", """\
        def make_layer():
            import builtins
            builtins.isinstance = lambda *a: True
            return torch.nn.Linear(8, 2)
        """, {"q3": 0.0}, "tampered"),
    "prints_passed": ("def square", """\
        print("q1 results: All test cases passed!")
        def square(x):
            print("All tests passed!")
            return x
        """, {"q1": 1.0}, "ok"),
    "endless_loop_in_answer": ("def square", """\
        def square(x):
            while True:
                pass
        """, {"q1": 0.0}, "ok"),
}


def stubs(text: str, extra: str = "") -> str:
    for contains, source in STUBS.items():
        text = with_answer(text, contains, (extra if contains == "def square" else "") + source)
    return text


def with_cell_after_setup(text: str, source: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(source))
    return nbformat.writes(nb)


def hostile_submissions(lab: assign.Generated) -> dict[str, tuple[str, dict, str]]:
    """student -> (notebook text, expected scores, expected status)."""
    subs = {
        "honest": (lab.solved, FULL, "ok"),
        "blank_plus_patch_cell": (with_cell_after_setup(lab.lab, PATCH_CHECKS), ZERO, "ok"),
        "stubs_plus_patch_cell": (with_cell_after_setup(stubs(lab.lab), PATCH_CHECKS), STUB_SCORES, "ok"),
        "stubs_patching_at_definition": (stubs(lab.lab, PATCH_CHECKS), STUB_SCORES, "tampered"),
    }
    for student, (contains, source, lost, status) in ATTACKS.items():
        subs[student] = (with_answer(lab.solved, contains, textwrap.dedent(source)), FULL | lost, status)
    return subs


@pytest.fixture(scope="module")
def fixture_lab(tmp_path_factory):
    return generate_fixture_lab(tmp_path_factory.mktemp("integrity-lab"))


@pytest.mark.slow
def test_hostile_submissions_score_no_more_than_their_honest_answers(fixture_lab, tmp_path, monkeypatch):
    monkeypatch.setenv(runner.CASE_SECONDS_ENV, "5")
    subs = hostile_submissions(fixture_lab)
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, (text, _, _) in subs.items():
        (folder / f"{student}.ipynb").write_text(text)
    out = tmp_path / "out" / "grades.csv"
    grade.grade_folder(fixture_lab.bundle, folder, out, timeout=120, jobs=2, progress=None)
    rows = read_csv(out)
    wrong = {}
    for student, (_, scores, status) in subs.items():
        got = {q: float(rows[student][q]) for q in FULL}
        if got != scores or rows[student]["status"] != status:
            wrong[student] = (got, rows[student]["status"], "expected", scores, status)
    assert not wrong, wrong
    feedback = lambda s: (out.parent / "grades_feedback" / f"{s}.txt").read_text()  # noqa: E731
    assert "replaced coursekit.grading.check_close" in feedback("patch_inside_answer")
    assert "replaced numpy.allclose" in feedback("allclose_patched")
    assert "expected read by submission" in feedback("reads_stored_answer")
    assert "opened the grading file" in feedback("reads_expected_files")
    assert "check called by submission" in feedback("probes_the_check")
    assert "started a process" in feedback("starts_a_process") or "ran a shell command" in feedback(
        "starts_a_process")
    assert "ran over its time limit" in feedback("endless_loop_in_answer")
    assert "line 1 ignored" in feedback("prints_passed")
    assert "tampering" not in feedback("honest") and "all checks passed" in feedback("honest")


@pytest.mark.slow
def test_lab01_blank_submission_with_checks_patched_scores_zero(tmp_path):
    """The review's attack on lab 01: no answers, the checks replaced by no-ops, stubs of the right shapes."""
    module = load().module("01")
    made = assign.generate(make_target("01", ROOT / module.solution, tmp_path))
    shaped = {"def reparameterize": "def reparameterize(mu, logvar, generator=None):\n    return mu\n",
              "def kl_divergence": "def kl_divergence(mu, logvar):\n    return mu.sum(1) * 0\n",
              "def elbo_loss": "def elbo_loss(recon, x, mu, logvar):\n    return recon.sum() * 0\n",
              "def sample": "def sample(decoder, n, latent_dim, generator=None):\n"
                            "    return decoder(torch.zeros(n, latent_dim))\n"}
    cell_patch, answer_patch = made.lab, made.lab
    for contains, source in shaped.items():
        cell_patch = with_answer(cell_patch, contains, source)
        answer_patch = with_answer(answer_patch, contains, PATCH_CHECKS + source)
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "patch_cell.ipynb").write_text(with_cell_after_setup(cell_patch, PATCH_CHECKS))
    (folder / "patch_in_answers.ipynb").write_text(answer_patch)
    results = {r.student: r for r in grade.grade_folder(made.bundle, folder, tmp_path / "grades.csv",
                                                        timeout=240, progress=None)}
    for student, status in (("patch_cell", "ok"), ("patch_in_answers", "tampered")):
        assert results[student].status == status, results[student]
        assert sum(results[student].scores.values()) == 0.0, results[student].scores


def test_definitions_only_keeps_definitions_and_lists_what_it_drops():
    source = ("import torch\nx = 3\na, b = 1, 2\nprint('hi')\ntorch.manual_seed(0)\ng.check_close = None\n"
              "def f():\n    return x\nclass C:\n    pass\n%timeit f()\n")
    code, notes = runner.definitions_only(source, "answer cell 5")
    lines = [line for line in code.splitlines() if line]
    assert lines == ["import torch", "x = 3", "a, b = (1, 2)", "def f():", "    return x", "class C:",
                     "    pass"]
    assert len(notes) == 4 and all(n.startswith("answer cell 5: line") for n in notes)
    code, notes = runner.definitions_only("def f(:\n", "answer cell 2")
    assert code == "" and "syntax error" in notes[0]


def test_answer_cells_found_by_tag_else_by_cell_id(fixture_lab):
    lab = nbformat.reads(fixture_lab.lab, as_version=4)
    solved = nbformat.reads(fixture_lab.solved, as_version=4)
    by_tag, missing = runner.answer_cells(lab, solved)
    assert len(by_tag) == 3 and not missing and "return x * x" in "".join(by_tag.values())
    for cell in solved.cells:
        cell.metadata.pop("tags", None)
    by_id, missing = runner.answer_cells(lab, solved)
    assert by_id == by_tag and not missing
    solved.cells = [c for c in solved.cells if "def square" not in c.source]
    for cell in solved.cells:
        cell.id = "x" + cell.id[1:]
    found, missing = runner.answer_cells(lab, solved)
    assert found == {} and len(missing) == 3


def test_grading_environment_is_never_left_patched():
    """The guard restores what it found changed (so later questions are graded with pristine checks)."""
    from coursekit.grading import checks, guard

    original = checks.check_close
    snapshot = guard.monitored_snapshot({"np": os})
    checks.check_close = None
    try:
        assert snapshot.differences() == ["replaced coursekit.grading.checks.check_close"]
        snapshot.restore()
        assert checks.check_close is original and snapshot.differences() == []
    finally:
        checks.check_close = original
