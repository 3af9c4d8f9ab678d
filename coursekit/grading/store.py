"""The store of expected values that lab checks compare with: one small ``npz`` per lab.

``solutions/expected/<lab>.npz`` (the instructor's store, in the repository, not in the package) maps every
key a lab's tests read (e.g. ``"kl"``) to a numpy array produced by running the lab's solution notebook.
Record mode (environment ``COURSEKIT_RECORD_EXPECTED=1``) stores values instead of comparing them;
``python -m coursekit expected NN`` runs the solution in that mode and writes the file.
``COURSEKIT_EXPECTED_DIR`` points the store at another folder (tests, and the recording itself: it records
into a temporary folder and moves the finished file into place, so a failed run never leaves half a file).

Students get only the values their public tests read: ``coursekit assign`` writes them to the package data
``coursekit/grading/public/<lab>.npz``, used when no instructor store exists (an installed coursekit, e.g. on
Colab). The grading runner ``seal``s the bundle's values into memory before any submission code runs.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from ..course import ROOT

INSTRUCTOR_DIR = ROOT / "solutions" / "expected"
PUBLIC_DIR = Path(__file__).resolve().parent / "public"
PUBLIC_DIR_ENV = "COURSEKIT_PUBLIC_DIR"
RECORD_ENV = "COURSEKIT_RECORD_EXPECTED"
DIR_ENV = "COURSEKIT_EXPECTED_DIR"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LAB = re.compile(r"^[0-9]{2}$")

_cache: dict[Path, tuple[float, dict[str, np.ndarray]]] = {}
_sealed: dict[str, dict[str, np.ndarray]] = {}


def recording() -> bool:
    """True when checks should store the values they get (``COURSEKIT_RECORD_EXPECTED=1``)."""
    return os.environ.get(RECORD_ENV, "") not in ("", "0", "false", "False")


def store_dir() -> Path:
    """The instructor's npz folder: ``COURSEKIT_EXPECTED_DIR`` if set, else ``solutions/expected``."""
    override = os.environ.get(DIR_ENV)
    return Path(override) if override else INSTRUCTOR_DIR


def public_dir() -> Path:
    """Where public tests and values live: ``COURSEKIT_PUBLIC_DIR`` if set, else the package's ``public/``."""
    override = os.environ.get(PUBLIC_DIR_ENV)
    return Path(override) if override else PUBLIC_DIR


def public_path(lab: str) -> Path:
    """The package-data npz of a lab's public values."""
    return public_dir() / f"{_check_lab(lab)}.npz"


def seal(lab: str, values: dict[str, np.ndarray]) -> None:
    """Serve ``lab``'s values from memory from now on (the grading runner, before submission code runs)."""
    _sealed[_check_lab(lab)] = {k: np.array(v, copy=True) for k, v in values.items()}


def _check_lab(lab: str) -> str:
    if not isinstance(lab, str):
        raise TypeError(f"lab: expected a two-digit module number string such as '01', got {lab!r}")
    if not _LAB.match(lab):
        raise ValueError(f"lab: expected a two-digit module number string such as '01', got {lab!r}")
    return lab


def _check_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key: expected a Python identifier such as 'kl_value', got {key!r}")
    if not _KEY.match(key):
        raise ValueError(f"key: expected a Python identifier such as 'kl_value', got {key!r}")
    return key


def path(lab: str) -> Path:
    """The npz file of one lab."""
    return store_dir() / f"{_check_lab(lab)}.npz"


def read_npz(file: Path) -> dict[str, np.ndarray]:
    """Every array of an npz file (no pickles)."""
    with np.load(file, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def load(lab: str) -> dict[str, np.ndarray]:
    """Every stored value of one lab: sealed values, else the instructor's store, else the public values
    (empty when none exists). Cached until the file changes."""
    if _check_lab(lab) in _sealed:
        return dict(_sealed[lab])
    file = path(lab)
    if not file.exists() and os.environ.get(DIR_ENV) is None:
        file = public_path(lab)
    if not file.exists():
        return {}
    mtime = file.stat().st_mtime
    cached = _cache.get(file)
    if cached is None or cached[0] != mtime:
        cached = (mtime, read_npz(file))
        _cache[file] = cached
    return dict(cached[1])


def to_numpy(value) -> np.ndarray:
    """A tensor (any device, with or without grad), array, number or nested list as a numpy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if value.dtype.is_floating_point or value.dtype.is_complex:
            value = value.double() if not value.dtype.is_complex else value
        value = value.numpy()
    return np.asarray(value)


def expected(lab: str, key: str) -> np.ndarray:
    """The stored expected value ``key`` of ``lab``; a KeyError names the keys that exist."""
    _check_key(key)
    values = load(lab)
    if key not in values:
        known = ", ".join(sorted(values)) or "none"
        raise KeyError(f"no expected value {key!r} for lab {lab} in {path(lab)} (stored keys: {known}); "
                       f"regenerate with `python -m coursekit expected {lab}`")
    return values[key]


def write(lab: str, values: dict[str, np.ndarray], file: Path | None = None) -> Path:
    """Write all values of a lab atomically (temporary file in the same folder, then ``os.replace``);
    ``file`` defaults to the lab's instructor store."""
    file = path(lab) if file is None else Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{lab}-", suffix=".npz", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            arrays = {k: np.asarray(v) for k, v in sorted(values.items())}
            np.savez_compressed(handle, allow_pickle=False, **arrays)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return file


def record(lab: str, key: str, value) -> np.ndarray:
    """Store ``value`` as the expected value ``key`` of ``lab`` (read, update, atomic rewrite)."""
    _check_key(key)
    array = to_numpy(value)
    if array.dtype == object:
        raise ValueError(f"{lab}/{key}: expected a numeric value to record, got {type(value).__name__}")
    values = load(lab)
    values[key] = array
    write(lab, values)
    return array


def record_solution(solution: Path, lab: str, timeout: float = 600.0) -> dict[str, np.ndarray]:
    """Execute a solution (master) notebook in record mode and store every value its checks produce.

    The notebook runs in a fresh kernel (smoke profile, offline) with the store pointed at a temporary
    folder; only when every cell succeeded is ``<lab>.npz`` replaced, holding exactly the recorded keys.
    """
    import nbclient
    import nbformat

    solution = Path(solution).resolve()
    nb = nbformat.read(solution, as_version=4)
    with tempfile.TemporaryDirectory(prefix=f"expected-{_check_lab(lab)}-") as tmp:
        env = {**os.environ, RECORD_ENV: "1", DIR_ENV: tmp, "COURSEKIT_PROFILE": "smoke",
               "COURSEKIT_OFFLINE": "1", "COURSEKIT_WIDGETS": "static", "MPLBACKEND": "Agg"}
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(solution.parent)}})
        client.execute(env=env)
        recorded = Path(tmp) / f"{lab}.npz"
        if not recorded.exists():
            raise ValueError(f"{solution}: expected g.check_close({lab!r}, ...) calls, none recorded a value")
        values = read_npz(recorded)
    write(lab, values)
    return values
