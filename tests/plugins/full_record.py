"""Which notebooks' code changed since their last passing full-profile dry run (``make test-full``).

The record (``tests/full_profile_passed.json``, committed) maps each notebook to the SHA-256 of its code
cells. ``python tests/plugins/full_record.py changed NB...`` prints the notebooks whose code differs from the
record, which ``make test`` then runs in the full-profile dry run; a pass updates the record.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def code_hash(notebook: Path) -> str:
    """SHA-256 of the notebook's code cells in order (markdown and outputs do not count)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n# --- cell ---\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return hashlib.sha256(code.encode()).hexdigest()


def load(record: Path) -> dict[str, str]:
    return json.loads(record.read_text()) if record.exists() else {}


def changed(record: Path, notebooks: list[str]) -> list[str]:
    """The notebooks whose code hash is not the one recorded for them."""
    known = load(record)
    return [nb for nb in notebooks if known.get(nb) != code_hash(Path(nb))]


def mark_passed(record: Path, passed: dict[str, str]) -> None:
    """Record ``{notebook: code hash it passed with}`` (hashed when collected: an edit made while the run
    was going on is not taken as passed); atomic write, sorted keys."""
    known = load(record)
    known.update(passed)
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, record)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "changed":
        sys.exit("usage: full_record.py changed RECORD NOTEBOOK...")
    print(" ".join(changed(Path(sys.argv[2]), sys.argv[3:])))
