"""Checkpoints that survive crashes: atomic writes, the last few kept, safe loading.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (``model.state_dict()``,
``optimizer.state_dict()``, the step, the loss history), so it loads with ``torch.load(weights_only=True)``
and never runs code from the file. Writes go to a temporary file in the same directory that is flushed,
fsync'ed and then renamed over the target with ``os.replace``: a crash or Ctrl-C mid-write leaves the
previous checkpoint untouched. Files in a checkpoint directory are named ``ckpt_000120.pt`` (the step).

    >>> save_checkpoint("runs/vae", step=120, state={"model": model.state_dict()})   # doctest: +SKIP
    >>> state = load_checkpoint("runs/vae")   # the newest readable checkpoint        # doctest: +SKIP
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .errors import expect_positive_int

CHECKPOINT_NAME = "ckpt_{step:06d}.pt"
_CHECKPOINT_RE = re.compile(r"^ckpt_(\d+)\.pt$")
_TEMP_PREFIX = ".tmp-"
_PLAIN_TYPES = (bool, int, float, complex, str, bytes)


class CheckpointNotFoundError(FileNotFoundError, ValueError):
    """No checkpoint where one was asked for (a missing file, or a directory without ``ckpt_*.pt`` files)."""


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    """The file name used for ``step`` in ``directory``: ``directory/ckpt_000120.pt``."""
    expect_positive_int("step", step, minimum=0)
    return Path(directory) / CHECKPOINT_NAME.format(step=step)


def checkpoint_step(path: str | os.PathLike) -> int:
    """The step encoded in a checkpoint's file name (``ckpt_000120.pt`` -> 120)."""
    match = _CHECKPOINT_RE.match(Path(path).name)
    if match is None:
        raise ValueError(f"expected a checkpoint file named like 'ckpt_000120.pt', got {Path(path).name!r}")
    return int(match.group(1))


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """All ``ckpt_*.pt`` files in ``directory``, oldest step first (empty if the directory does not exist)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"expected a checkpoint directory, got the file {directory}")
    if not directory.exists():
        return []
    found = [p for p in directory.iterdir() if _CHECKPOINT_RE.match(p.name) and p.is_file()]
    return sorted(found, key=checkpoint_step)


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The checkpoint with the highest step in ``directory``, or None if there is none."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def _check_loadable(value: Any, where: str) -> None:
    """Raise TypeError if ``value`` holds anything ``torch.load(weights_only=True)`` would refuse."""
    import torch

    # Exact types: NumPy's float64 subclasses float but would not load with weights_only=True.
    if value is None or type(value) in _PLAIN_TYPES or isinstance(value, torch.Tensor):
        return
    if isinstance(value, (torch.dtype, torch.device, torch.Size)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(
                    f"{where}: expected str or int keys, got key {key!r} of type {type(key).__name__}"
                )
            _check_loadable(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple, set)):
        for i, item in enumerate(value):
            _check_loadable(item, f"{where}[{i}]")
        return
    hint = ""
    if isinstance(value, torch.nn.Module) or isinstance(value, torch.optim.Optimizer):
        hint = " (store its .state_dict() instead)"
    elif type(value).__module__ == "numpy":
        hint = " (convert NumPy values with float(), int() or torch.as_tensor())"
    raise TypeError(
        f"{where}: a {type(value).__module__}.{type(value).__name__} cannot be loaded with "
        "weights_only=True; "
        f"a checkpoint may hold only tensors, numbers, strings, lists and dicts{hint}"
    )


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(path: str | os.PathLike, **state: Any) -> Path:
    """Write ``state`` (keyword arguments) to ``path`` atomically; returns the path.

    The data go to a temporary file next to ``path`` that is flushed and fsync'ed, then renamed over
    ``path`` with ``os.replace``: readers see either the old file or the complete new one, never half of
    it. Anything that ``torch.load(weights_only=True)`` could not read back (e.g. a model object instead of
    its ``state_dict()``) is rejected with a TypeError before anything is written.
    """
    import torch

    path = Path(path)
    _check_loadable(state, "checkpoint state")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX + path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written temporary file behind.
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def save_checkpoint(directory: str | os.PathLike, step: int, state: dict, keep_last: int | None = 3) -> Path:
    """Save ``state`` plus ``step`` as ``directory/ckpt_{step:06d}.pt``; keep only the newest ``keep_last``.

    Older checkpoints are deleted only after the new one is safely on disk. ``keep_last=None`` keeps all.
    Returns the path written.
    """
    if not isinstance(state, dict):
        raise TypeError(f"state: expected a dict, got {type(state).__name__}")
    if keep_last is not None:
        expect_positive_int("keep_last", keep_last)
    path = save(checkpoint_path(directory, step), **{**state, "step": step})
    if keep_last is not None:
        for old in list_checkpoints(directory)[:-keep_last]:
            old.unlink(missing_ok=True)
    return path


def _load_file(path: Path, map_location) -> dict:
    """Load one checkpoint file with weights_only=True; ValueError naming the file if it is unreadable."""
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower():
            raise ValueError(
                f"checkpoint {path} holds objects that torch.load(weights_only=True) refuses to load "
                "(only tensors, numbers, strings, lists and dicts are allowed); it was not written by "
                "coursekit.checkpoint.save"
            ) from error
        raise ValueError(f"checkpoint {path} is truncated or not a checkpoint ({error})") from error
    except (PermissionError, IsADirectoryError):
        raise
    except Exception as error:
        # A cut-off zip archive shows up as EOFError, RuntimeError or OSError(EINVAL), depending on where it
        # was cut; other bytes can fail in the unpickler in any way (e.g. KeyError).
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"checkpoint {path} is truncated or not a checkpoint ({reason})") from error
    if not isinstance(state, dict):
        raise ValueError(
            f"checkpoint {path} is not a checkpoint: expected a dict, got {type(state).__name__}"
        )
    return state


def load_checkpoint(path_or_dir: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint file, or the newest readable checkpoint in a directory (weights_only=True).

    Given a directory, a truncated or corrupt newest file (e.g. from a disk that filled up) produces a
    warning naming it and the previous checkpoint is loaded instead. A single unreadable file raises a
    ValueError naming it; a missing path raises ``CheckpointNotFoundError`` (both a FileNotFoundError and a
    ValueError).
    """
    path = Path(path_or_dir)
    if not path.exists():
        raise CheckpointNotFoundError(f"no checkpoint at {path}: the path does not exist")
    if path.is_file():
        return _load_file(path, map_location)
    candidates = list_checkpoints(path)
    if not candidates:
        raise CheckpointNotFoundError(f"no checkpoint files (ckpt_NNNNNN.pt) in the directory {path}")
    problems = []
    for candidate in reversed(candidates):
        try:
            state = _load_file(candidate, map_location)
        except ValueError as error:
            problems.append(str(error))
            continue
        for problem in problems:
            warnings.warn(f"{problem}; falling back to {candidate.name}", stacklevel=2)
        return state
    raise ValueError(f"no readable checkpoint in {path}: " + "; ".join(problems))


class StaleCheckpointError(ValueError):
    """A saved state dict whose parameter names or shapes are not the module's: written by an older layout
    of the model (e.g. before DCGAN's ``net`` became ``main`` or the VAE heads became ``fc_mu``/``fc_logvar``)
    or by a model of another size."""


def load_module_state(module, state: dict, what: str = "checkpoint") -> None:
    """``module.load_state_dict(state)``, after checking that every name and shape matches.

    A stale checkpoint is refused with :class:`StaleCheckpointError` naming the differing keys, before any
    parameter is touched: it is never half loaded, and the message says to delete it or retrain.
    """
    own = module.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    reshaped = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(value.shape)})"
        for key, value in own.items()
        if key in state and hasattr(state[key], "shape") and tuple(state[key].shape) != tuple(value.shape)
    ]
    if missing or unexpected or reshaped:
        found = (("missing", missing), ("unexpected", unexpected), ("reshaped", reshaped))
        problems = [f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                    for label, keys in found if keys]
        raise StaleCheckpointError(
            f"{what}: the saved state does not fit this {type(module).__name__} ({'; '.join(problems)}): a "
            "checkpoint of an older model layout or another model size; delete it (or retrain) to go on"
        )
    module.load_state_dict(state)
