"""No coursekit module imports another coursekit module's private name: shared helpers have public names."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "coursekit"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(source: str) -> list[str]:
    """'line: statement' for every import, from coursekit, of a private name or through a private module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("coursekit")):
            names = [alias.name for alias in node.names]
            parts = (node.module or "").split(".")
            if any(is_private(name) for name in parts + names):
                module = "." * node.level + (node.module or "")
                found.append(f"{node.lineno}: from {module} import {', '.join(names)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "coursekit" and any(is_private(part) for part in parts):
                    found.append(f"{node.lineno}: import {alias.name}")
    return found


def test_the_scan_sees_private_names_and_private_modules_of_coursekit_only():
    source = (
        "from .degrade import _generator, apply\n"
        "from ..data._helpers import util\n"
        "import coursekit._x\n"
        "from . import _shell\n"
        "from coursekit.metrics import _reduce\n"
        "from .metrics import psnr\n"
        "from __future__ import annotations\n"
        "from torch._dynamo import config\n"
        "import os.path\n"
    )
    assert [line.split(":")[0] for line in private_imports(source)] == ["1", "2", "3", "4", "5"]


def test_no_coursekit_module_imports_a_private_name():
    violations = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in private_imports(path.read_text(encoding="utf-8"))
    ]
    listing = "\n".join(violations)
    assert not violations, f"expected only public names imported across modules, got:\n{listing}"
