"""Notebook cells a student can read: no code cell of a lecture or a solution is over 40 lines."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 40
NOTEBOOKS = sorted(p for d in ("lectures", "solutions") for p in (ROOT / d).glob("*.ipynb"))


def long_cells(path: Path, limit: int = MAX_LINES) -> list[str]:
    """'cell <index> (id <id>): <n> lines' for every code cell of ``path`` longer than ``limit`` lines."""
    cells = json.loads(path.read_text())["cells"]
    found = []
    for i, cell in enumerate(cells):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        n = len(source.rstrip("\n").splitlines())
        if cell["cell_type"] == "code" and n > limit:
            found.append(f"cell {i} (id {cell.get('id', '?')}): {n} lines")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_cells_stay_under_40_lines(path):
    too_long = long_cells(path)
    assert not too_long, f"split these cells (one job per cell, at most {MAX_LINES} lines): {too_long}"


def test_the_line_count(tmp_path):
    cell = {"cell_type": "code", "id": "a", "source": "x = 1\n" * 41, "metadata": {}, "outputs": []}
    short = dict(cell, id="b", source=["y = 2\n"] * 40)
    prose = dict(cell, id="c", cell_type="markdown", source="text\n" * 90)
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [cell, short, prose]}))
    assert long_cells(path) == ["cell 0 (id a): 41 lines"]
