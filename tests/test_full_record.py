"""The full-profile record: `make test` re-runs a notebook's dry run only when its code changed."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "plugins"))
import full_record  # noqa: E402


def _notebook(path: Path, code: str, markdown: str = "text") -> str:
    cells = [{"cell_type": "markdown", "source": [markdown]}, {"cell_type": "code", "source": [code]}]
    path.write_text(json.dumps({"cells": cells}))
    return str(path)


def test_only_code_changes_make_a_notebook_run_again(tmp_path):
    record = tmp_path / "record.json"
    nb = _notebook(tmp_path / "a.ipynb", "x = 1")
    assert full_record.changed(record, [nb]) == [nb]  # never passed: runs
    full_record.mark_passed(record, {nb: full_record.code_hash(Path(nb))})
    assert full_record.changed(record, [nb]) == []
    _notebook(tmp_path / "a.ipynb", "x = 1", markdown="reworded prose")
    assert full_record.changed(record, [nb]) == []
    _notebook(tmp_path / "a.ipynb", "x = 2")
    assert full_record.changed(record, [nb]) == [nb]


def test_marking_keeps_other_notebooks_and_leaves_no_temporary_file(tmp_path):
    record = tmp_path / "record.json"
    a, b = _notebook(tmp_path / "a.ipynb", "a = 1"), _notebook(tmp_path / "b.ipynb", "b = 1")
    full_record.mark_passed(record, {a: full_record.code_hash(Path(a))})
    full_record.mark_passed(record, {b: full_record.code_hash(Path(b))})
    assert set(json.loads(record.read_text())) == {a, b}
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_an_edit_made_during_the_run_is_not_recorded_as_passed(tmp_path):
    record = tmp_path / "record.json"
    nb = _notebook(tmp_path / "a.ipynb", "x = 1")
    tested = full_record.code_hash(Path(nb))  # hashed when the run collected it
    _notebook(tmp_path / "a.ipynb", "x = 2")  # edited while it ran
    full_record.mark_passed(record, {nb: tested})
    assert full_record.changed(record, [nb]) == [nb]
