"""Tamper detection for the grading runner: what a submission changes in its own environment is found,
reported and undone, and what it must not touch is refused.

Two mechanisms, both armed before the first line of submission code runs:

- ``Snapshot``: the identity of every attribute of the modules the checks rely on (``builtins``,
  ``coursekit.grading`` and its modules, ``numpy``, ``numpy.testing``, ``torch``, ``torch.nn.functional``,
  ``math``), of ``torch.Tensor``'s methods, of the code, defaults and closures of their Python functions, of
  the modules bound in the notebook's namespace and of ``sys.modules`` entries for those modules. Compared
  after every cell and every test case; a difference is evidence, and the snapshot is restored.
- an audit hook (PEP 578; once added it cannot be removed from Python code): opening, removing or renaming
  a file under a protected folder (the grading bundle's folder, the package's public tests and values, the
  instructor's expected values, the result's folder), starting a process, tracing or profiling the
  interpreter, walking the garbage collector's object lists, and replacing the code of a protected function
  are refused and reported.

Limits, stated in course/instructor.md: code that runs inside the grading process could still, with effort,
reach the runner's own objects through frames; the feedback of every ``tampered`` submission lists the
evidence so an instructor can look.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MONITORED_MODULES = ("builtins", "math", "numpy", "numpy.testing", "torch", "torch.nn.functional",
                     "coursekit.grading", "coursekit.grading.checks", "coursekit.grading.store",
                     "coursekit.grading.suite", "coursekit.grading.guard", "coursekit.grading.runner",
                     "coursekit.grading.diagnose")
MONITORED_CLASSES = (("torch", "Tensor"),)
REFUSED_EVENTS = {
    "subprocess.Popen": "started a process", "os.system": "ran a shell command",
    "os.exec": "replaced the process", "os.posix_spawn": "started a process", "os.spawn": "started a process",
    "os.fork": "forked the process", "os.forkpty": "forked the process",
    "sys.settrace": "installed a tracer", "sys.setprofile": "installed a profiler",
    "gc.get_objects": "walked the garbage collector's objects", "gc.get_referrers": "walked object referrers",
    "gc.get_referents": "walked object referents",
}
PATH_EVENTS = {"open": (0,), "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.truncate": (0,),
               "shutil.rmtree": (0,), "os.chmod": (0,), "os.link": (0, 1), "os.symlink": (0, 1)}
FUNCTION_PARTS = ("__code__", "__defaults__", "__kwdefaults__", "__closure__")
# A module's or the notebook's namespace (a dict), or a class's (read-only: changed through the class).
Namespace = dict[str, Any] | types.MappingProxyType[str, Any]


def _fingerprint(value, _id=id, _type=type, _getattr=getattr, _function=types.FunctionType) -> tuple:
    """What must not change about an attribute: its identity and, for a Python function, its parts. (The
    builtins it uses are bound when it is defined: a submission may have replaced them since.)"""
    if _type(value) is _function:
        return (_id(value), *(_id(_getattr(value, part)) for part in FUNCTION_PARTS))
    return (_id(value),)


@dataclass
class Snapshot:
    """Saved attributes of namespaces (module or class ``__dict__``s, the notebook's namespace)."""

    saved: dict[str, tuple[Namespace, dict[str, object], dict[str, tuple]]] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)

    def add(self, label: str, namespace: Namespace, names: Iterable[str] | None = None,
            closed: bool = False) -> None:
        """Save ``namespace`` (all of it, or only ``names``) under ``label``; ``closed``: additions (other
        than submodules) count as changes too."""
        keys = list(namespace) if names is None else [n for n in names if n in namespace]
        values = {k: namespace[k] for k in keys}
        parts = {k: _fingerprint(v) for k, v in values.items()}
        self.saved[label] = (namespace, values, parts)
        if closed:
            self.closed.add(label)

    def differences(self) -> list[str]:
        """Every saved attribute replaced, altered or deleted since it was saved, and every attribute added
        to a closed namespace."""
        found = []
        for label, (namespace, values, parts) in self.saved.items():
            for name, value in values.items():
                if name not in namespace:
                    found.append(f"deleted {label}.{name}")
                elif namespace[name] is not value:
                    found.append(f"replaced {label}.{name}")
                elif _fingerprint(value) != parts[name]:
                    found.append(f"altered the code or defaults of {label}.{name}")
            found += [f"added {label}.{name}" for name in self._additions(label)]
        return found

    def _additions(self, label: str) -> list[str]:
        if label not in self.closed:
            return []
        namespace, values, _ = self.saved[label]
        return [n for n in list(namespace) if n not in values and type(namespace[n]) is not types.ModuleType]

    def restore(self) -> None:
        """Put every saved attribute back and remove additions to closed namespaces (a protected function's
        code cannot change: the hook refuses it)."""
        for label, (namespace, values, _) in self.saved.items():
            if type(namespace) is types.MappingProxyType:
                _restore_class(_class_for(label), namespace, values, self._additions(label))
            else:
                _restore_dict(namespace, values, self._additions(label))


def _restore_class(owner: type, namespace: types.MappingProxyType[str, Any], values: dict[str, object],
                   additions: list[str]) -> None:
    """Put ``values`` back into a class whose ``__dict__`` is ``namespace`` and remove ``additions``."""
    for name in additions:
        type.__delattr__(owner, name)
    for name, value in values.items():
        if namespace.get(name) is not value:
            type.__setattr__(owner, name, value)


def _restore_dict(namespace: dict[str, Any], values: dict[str, object], additions: list[str]) -> None:
    """Put ``values`` back into ``namespace`` and remove ``additions``."""
    for name in additions:
        namespace.pop(name)
    for name, value in values.items():
        if namespace.get(name) is not value:
            namespace[name] = value


def _class_for(label: str) -> type:
    module, _, name = label.rpartition(".")
    return getattr(sys.modules[module], name)


def monitored_snapshot(notebook_namespace: dict) -> Snapshot:
    """A snapshot of the monitored modules and classes, and of the modules the notebook's namespace binds."""
    snapshot = Snapshot()
    for name in MONITORED_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            snapshot.add(name, vars(module), closed=name.startswith("coursekit."))
    for module_name, class_name in MONITORED_CLASSES:
        if module_name in sys.modules:
            snapshot.add(f"{module_name}.{class_name}", vars(getattr(sys.modules[module_name], class_name)),
                         closed=True)
    bound = [k for k, v in notebook_namespace.items() if isinstance(v, types.ModuleType)]
    snapshot.add("notebook", notebook_namespace, bound)
    snapshot.add("sys.modules", sys.modules, [n for n in MONITORED_MODULES if n in sys.modules])
    return snapshot


def protected_functions() -> set[int]:
    """Identities of the Python functions of the monitored modules (their ``__code__`` must not be set)."""
    found = set()
    for name in MONITORED_MODULES:
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            if isinstance(value, types.FunctionType):
                found.add(id(value))
    return found


class Guard:
    """The snapshot and the audit hook, with the evidence both collect."""

    def __init__(self, notebook_namespace: dict, protected_folders: Iterable[str]):
        self.evidence: list[str] = []
        self.restoring = False
        self.snapshot = monitored_snapshot(notebook_namespace)
        self.folders = tuple(os.path.realpath(f) + os.sep for f in protected_folders)
        self.functions = protected_functions()
        self.classes = {id(_class_for(f"{m}.{n}")) for m, n in MONITORED_CLASSES if m in sys.modules}
        sys.addaudithook(self._audit)

    def _refuse(self, why: str) -> None:
        self.evidence.append(why)
        raise PermissionError(f"not allowed while grading: {why}")

    def _protected_path(self, event: str, args: tuple) -> str | None:
        """The protected path an event touches: a file inside a protected folder, or (for ``shutil.rmtree``)
        a folder that contains one. A path relative to a ``dir_fd`` is resolved through that descriptor."""
        for position in PATH_EVENTS[event]:
            if position < len(args) and isinstance(args[position], (str, bytes, os.PathLike)):
                path = os.fsdecode(args[position])
                dir_fd = args[-1] if event in ("os.remove", "os.rmdir") and len(args) > 1 else None
                if isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(path):
                    path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
                path = os.path.realpath(path)
                inside = any((path + os.sep).startswith(folder) for folder in self.folders)
                holds = event == "shutil.rmtree" and any(f.startswith(path + os.sep) for f in self.folders)
                if inside or holds:
                    return path
        return None

    def _audit(self, event: str, args: tuple) -> None:
        if event in PATH_EVENTS:
            path = self._protected_path(event, args)
            if path is not None:
                verb = "opened" if event == "open" else f"{event} on"
                self._refuse(f"{verb} the grading file {path}")
        elif event.startswith(tuple(REFUSED_EVENTS)):
            self._refuse(next(why for key, why in REFUSED_EVENTS.items() if event.startswith(key)))
        elif event == "object.__setattr__" and args and not self.restoring:
            target, attribute = args[0], args[1] if len(args) > 1 else "?"
            if id(target) in self.functions or id(target) in self.classes:
                self._refuse(f"set {attribute} of {getattr(target, '__qualname__', target)!r}")

    def check(self, where: str) -> list[str]:
        """New evidence since the last check, labelled ``where``; changes the snapshot finds are undone."""
        self.restoring = True
        try:
            changes = self.snapshot.differences()
            if changes:
                self.snapshot.restore()
        except Exception as exc:  # noqa: BLE001 - a submission broke what the comparison itself relies on
            changes = [f"damaged the grading environment ({type(exc).__name__}: {exc})"]
        finally:
            self.restoring = False
        self.evidence.extend(changes)
        found, self.evidence[:] = list(self.evidence), []
        return [f"{where}: {item}" for item in found]


# Imported lazily by torch itself (an optimizer step, torch.compiler.is_compiling) and rebinding a monitored
# attribute when imported (torch._dynamo wraps torch.manual_seed): imported before the snapshot, so that a
# first import during a test case is not taken for tampering.
REBINDING_MODULES = ("torch._dynamo",)


def import_monitored() -> None:
    """Import the grading modules, and the modules whose import changes a monitored attribute, so that the
    snapshot sees them before submission code runs. Frameworks the lab has not imported stay unimported
    (importing torch's compiler next to TensorFlow crashes: both load their own LLVM)."""
    for name in MONITORED_MODULES:
        if name.startswith("coursekit."):
            importlib.import_module(name)
    if "torch" in sys.modules and "tensorflow" not in sys.modules:
        for name in REBINDING_MODULES:  # torch._dynamo wraps torch.manual_seed when first imported
            importlib.import_module(name)
