"""Old names that keep working for one release, with a ``DeprecationWarning`` saying what to use instead.

- :func:`renamed_keywords`: a retired keyword of a constructor or a function. When code adopts the glossary of
  ``coursekit.nn`` (its README; e.g. ``in_ch`` became ``in_channels``), decorate it so notebooks written with
  the old name still run and say what to change::

      @renamed_keywords(nf="width", nb="n_blocks")
      class RRDBNet(nn.Module):
          def __init__(self, ..., width=64, n_blocks=23): ...

      RRDBNet(nf=32)  # DeprecationWarning: RRDBNet: keyword 'nf' is now 'width' ...; builds RRDBNet(width=32)

- :func:`moved_module`: a module that moved; its old name stays as an alias module whose attributes are the
  new module's (``__getattr__, __dir__ = moved_module(__name__, "coursekit.ui")``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings

#: When retired keyword names stop working.
REMOVED_IN = "the next coursekit release"


def renamed_keywords(**old_to_new: str):
    """Decorate a function or a class (its ``__init__``) so each retired keyword ``old`` is accepted as
    ``old_to_new[old]`` with a ``DeprecationWarning``; passing both names raises ``TypeError``.

    The mapping is kept as ``renamed_keywords`` on the decorated object (the glossary test reads it).
    """

    def decorate(obj):
        target = obj.__init__ if inspect.isclass(obj) else obj
        parameters = inspect.signature(target).parameters
        for old, new in old_to_new.items():
            if new not in parameters or old in parameters:
                raise TypeError(
                    f"{obj.__qualname__}: cannot retire {old!r} for {new!r}; its parameters are "
                    f"{', '.join(parameters)}"
                )

        @functools.wraps(target)
        def accept_retired_names(*args, **kwargs):
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{obj.__qualname__}: got {old!r} (the old name of {new!r}) and {new!r}; "
                                    f"pass only {new!r}")
                warnings.warn(
                    f"{obj.__qualname__}: keyword {old!r} is now {new!r}; "
                    f"{old!r} stops working in {REMOVED_IN}",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return target(*args, **kwargs)

        accept_retired_names.__dict__["renamed_keywords"] = dict(old_to_new)
        if inspect.isclass(obj):
            type.__setattr__(obj, "__init__", accept_retired_names)
            return obj
        return accept_retired_names

    return decorate


def moved_module(old: str, new: str):
    """``(__getattr__, __dir__)`` for the alias module ``old`` of module ``new``.

    Every attribute read on ``old`` returns ``new``'s attribute (``__all__`` included, so a star import
    works); the first one also emits a DeprecationWarning naming ``new`` (once per session, attributed to
    the caller, so a notebook shows it; for ``from old import name`` that is the importing line).
    """
    warned = False

    def __getattr__(name: str):
        nonlocal warned
        target = importlib.import_module(new)
        if (name.startswith("__") and name != "__all__") or not hasattr(target, name):
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


__all__ = ["REMOVED_IN", "moved_module", "renamed_keywords"]
