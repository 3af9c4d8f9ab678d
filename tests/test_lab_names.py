"""Every name a lab question tells students to use resolves in the lab, where the answer cell runs.

A question's prompt that says "use `F.mse_loss`" must find `F` bound (and `F.mse_loss` an attribute of it)
when the student's answer cell runs; otherwise an answer that follows the text scores 0 with a NameError.
Each lab runs its cells in order (smoke profile, offline; check cells and the cells after the last question
skipped, answer cells left blank as students get them), and at each answer cell every dotted name in the
prompt above it whose root is a module alias (`torch`, `F`, `nn`, `np`, `tf`, ...) must resolve.
"""

import builtins
import contextlib
import io
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.course import ROOT, load
from coursekit.grading import runner

MODULE_ALIASES = {"torch", "F", "nn", "np", "tf", "keras", "math", "ck", "g", "plt", "hub", "optim"}
DOTTED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`")


def named_in(prompt: str) -> list[str]:
    """The dotted names in backticks of a prompt whose root is a module alias (``F.mse_loss(...)``)."""
    return sorted({name for name in DOTTED.findall(prompt) if name.split(".")[0] in MODULE_ALIASES})


def resolves(name: str, namespace: dict) -> bool:
    root, *attributes = name.split(".")
    if root not in namespace:
        return False
    value = namespace[root]
    for attribute in attributes:
        if not hasattr(value, attribute):
            return False
        value = getattr(value, attribute)
    return True


def unresolved_names(lab_path: Path) -> list[str]:
    """Run the lab's cells up to its last check; at each answer cell, the prompt's unresolved names."""
    lab = nbformat.read(lab_path, as_version=4)
    checks = [i for i, c in enumerate(lab.cells) if c.cell_type == "code" and runner.CHECK_MARK in c.source]
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    prompt, problems = "", []
    for index, cell in enumerate(lab.cells[: max(checks) + 1]):
        if cell.cell_type == "markdown":
            prompt += cell.source + "\n"
            continue
        if cell.cell_type != "code" or index in checks:
            continue
        if runner.ANSWER_TAG in cell.metadata.get("tags", []):
            problems += [f"cell {index}: `{name}` is named in the question but not defined where the answer "
                         "runs (import it in the lab's setup)" for name in named_in(prompt)
                         if not resolves(name, namespace)]
            prompt = ""
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            code = compile(runner.python_source(cell.source), f"<{lab_path.name} cell {index}>", "exec")
            exec(code, namespace)
    return problems


def test_named_in_finds_module_names_only():
    prompt = "Use `F.mse_loss(a, b)`, `torch.no_grad()` and `nn.init.normal_`; `mu.shape` and `x` are not."
    assert named_in(prompt) == ["F.mse_loss", "nn.init.normal_", "torch.no_grad"]


def test_resolves_rejects_a_missing_root_and_a_missing_attribute():
    import math

    assert resolves("math.log", {"math": math})
    assert not resolves("F.mse_loss", {"math": math})
    assert not resolves("math.no_such_function", {"math": math})


@pytest.mark.slow
@pytest.mark.parametrize("number", [m.number for m in load().modules if m.lab and (ROOT / m.lab).exists()])
def test_every_name_a_question_names_is_defined_where_its_answer_runs(number, monkeypatch):
    for name, value in {"COURSEKIT_PROFILE": "smoke", "COURSEKIT_OFFLINE": "1", "COURSEKIT_WIDGETS": "static",
                        "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(name, value)
    problems = unresolved_names(ROOT / load().module(number).lab)
    assert not problems, f"lab {number}:\n" + "\n".join(problems)
