"""Colab readiness of every notebook in lectures/, solutions/ and labs/, checked against course/course.yml.

Each notebook must be one the manifest lists, open with its own Open-in-Colab badge (``Course.badge(path)``),
start with the setup cell that pip-installs ``coursekit[colab]`` from the manifest's repository only on Colab,
and ask Colab for a GPU in its metadata. Labs are generated (``python -m coursekit assign``), so this also
checks that the generator keeps what the solution had, with the lab's own badge.
"""

import json
import re
from pathlib import Path

import pytest

from coursekit import course

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = course.load()
NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for d in ("lectures", "solutions", "labs")
                   for p in (ROOT / d).glob("*.ipynb"))
PIP_COMMANDS = ("%pip install", "!pip install")
COLAB_GUARD = 'if "google.colab" in sys.modules:'
# pyproject's extra for Colab: only what Colab lacks, so the install changes nothing Colab ships
# (tests/test_colab_install.py); `course` would replace Colab's ipywidgets 7 under the running kernel.
COLAB_EXTRA = "colab"
GIT_URL = re.compile(r"git\+(https?://[^\s\"'@]+)")


def load(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"])


def setup_cell_problems(code: str, repository: str) -> list[str]:
    """What is wrong with a setup cell: the Colab-only coursekit[colab] install, the import, ck.setup()."""
    problems = []
    lines = code.splitlines()
    installs = [i for i, line in enumerate(lines) if line.strip().startswith(PIP_COMMANDS)]
    if len(installs) != 1:
        problems.append(f"expected one pip install line, found {len(installs)}")
    else:
        line = lines[installs[0]]
        wanted = f'"coursekit[{COLAB_EXTRA}] @ git+{repository}"'
        if wanted not in line:
            problems.append(f"the install must be {wanted}, got {line.strip()!r}")
        guard = [i for i in range(installs[0]) if lines[i].strip() == COLAB_GUARD]
        if not guard or not line.startswith((" ", "\t")):
            problems.append(f"the install must be indented under {COLAB_GUARD!r} (skipped outside Colab)")
    if "import sys" not in code:
        problems.append("the Colab guard needs `import sys`")
    if "import coursekit as ck" not in code or "ck.setup(" not in code:
        problems.append("the setup cell must `import coursekit as ck` and call `ck.setup(...)`")
    return problems


def test_there_are_notebooks_and_each_is_in_the_manifest():
    listed = {p for m in MANIFEST.modules for p in m.notebooks()}
    assert "lectures/00_tour.ipynb" in NOTEBOOKS
    unknown = sorted(set(NOTEBOOKS) - listed)
    assert not unknown, f"notebooks the manifest does not list (course/course.yml): {unknown}"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_is_ready_for_colab(path):
    nb = load(path)
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown", f"{path}: cell 1 must be the markdown title with the badge"
    assert MANIFEST.badge(path) in source(cells[0]), (
        f"{path}: cell 1 must hold its Open-in-Colab badge {MANIFEST.badge(path)}"
    )
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path}: no code cells"
    problems = setup_cell_problems(source(code[0]), MANIFEST.repository)
    assert not problems, f"{path}: first code cell is not the Colab setup cell: {'; '.join(problems)}"
    program = "\n".join(source(c) for c in code)
    install = min(program.find(command) for command in PIP_COMMANDS if command in program)
    assert "import otter" not in program[:install], f"{path}: otter is imported before Colab installs it"
    urls = {url for c in code for url in GIT_URL.findall(source(c))}
    assert urls <= {MANIFEST.repository}, f"{path}: installs from {urls}, not {MANIFEST.repository}"
    assert nb["metadata"].get("accelerator") == "GPU", f'{path}: notebook metadata needs "accelerator": "GPU"'


GOOD_SETUP = (
    'import sys\nif "google.colab" in sys.modules:\n    %pip install -q "coursekit[colab] @ git+REPO"\n'
    "import coursekit as ck\nck.setup()"
)


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        (GOOD_SETUP, None),
        (GOOD_SETUP.replace('if "google.colab" in sys.modules:\n    ', ""), "indented under"),
        (GOOD_SETUP.replace("git+REPO", "git+OTHER"), "the install must be"),
        (GOOD_SETUP.replace("coursekit[colab]", "coursekit[course]"), "the install must be"),
        ("import coursekit as ck\nck.setup()", "one pip install line"),
        (GOOD_SETUP.replace("ck.setup()", ""), "ck.setup"),
    ],
)
def test_setup_cell_check_catches_mistakes(cell, problem):
    problems = setup_cell_problems(cell, "REPO")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems
