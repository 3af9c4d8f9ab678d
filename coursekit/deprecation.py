"""Modules that moved: the old name keeps working for saved notebooks and says where the code lives now."""

from __future__ import annotations

import importlib
import warnings


def moved_module(old: str, new: str):
    """``(__getattr__, __dir__)`` for the alias module ``old`` of module ``new``.

    Every attribute read on ``old`` returns ``new``'s attribute; the first one also emits a
    DeprecationWarning naming ``new`` (once per session, attributed to the caller, so a notebook shows it).
    """
    warned = False

    def __getattr__(name: str):
        nonlocal warned
        target = importlib.import_module(new)
        if name.startswith("__") or not hasattr(target, name):
            raise AttributeError(f"module {old!r} has no attribute {name!r} (it moved to {new!r})")
        if not warned:
            warned = True
            warnings.warn(
                f"{old} moved to {new}: use {new} (the old name will be removed)", DeprecationWarning,
                stacklevel=2,
            )
        return getattr(target, name)

    def __dir__() -> list[str]:
        return dir(importlib.import_module(new))

    return __getattr__, __dir__
