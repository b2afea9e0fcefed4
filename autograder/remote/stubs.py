"""The stub of an assignment's check module that the sandbox shows in place of ``autograder/questions``.

:func:`build` imports the real module (here, at the grader) and writes, for the kernel, a package
holding that one module: ``<assignment>.py`` (or ``<assignment>/__init__.py`` for a package) is two
lines calling :func:`autograder.remote.kernel.define`, and ``.frame`` beside it is its spec, a frame
of :mod:`autograder.remote.codec`: for every check its name, title, hint, answers, signature (with
default values) and docstring; the order ``check.hint()`` lists them in (the module's ``__all__``,
if it has one); and the values of the public names that the notebook uses from the module besides
its checks (``used``), which must be plain data: a function, class or module there is a
:class:`StubError` (that assignment cannot be judged at the grader).

Nothing else of the real module goes in: no oracle, no private helper, no reference import; except the
modules of the package that hold :func:`autograder.question.kernel_side` functions (code that builds and
runs a student's class and returns plain data), which go in as they are.
"""
from __future__ import annotations

import importlib
import inspect
import io
import sys
import types
from pathlib import Path

from .. import question
from . import codec

STUB = ('"""Grading stub of {module}: every check runs at the grader (autograder.remote.kernel)."""\n'
        "from autograder.remote.kernel import define\n\ndefine(globals())\n")


class StubError(ValueError):
    """The module cannot be replaced by a stub (public non-data the notebook needs)."""


def _spec(module) -> tuple[dict, dict]:
    checks, defaults = [], {}
    for entry in question.entries(module.__name__):
        fn = getattr(module, entry.check, None)
        if fn is None or not hasattr(fn, "answers"):
            continue   # a check of a submodule that the package does not export
        params = list(inspect.signature(inspect.unwrap(fn)).parameters.values())
        checks.append({"name": entry.check, "title": entry.title, "hint": entry.hint, "answers": list(fn.answers),
                       "params": [[p.name, int(p.kind)] for p in params], "doc": inspect.getdoc(fn)})
        defaults[entry.check] = {p.name: p.default for p in params if p.default is not p.empty}
    return {"checks": checks, "order": list(getattr(module, "__all__", []) or []) or None,
            "all": list(getattr(module, "__all__", []) or [])}, defaults


def _data(module, used) -> dict:
    checks = {e.check for e in question.entries(module.__name__)}
    out = {}
    for name in sorted(set(used) - checks - {"hint"}):
        if not hasattr(module, name):
            continue   # the notebook's own mistake, as in self-check: an AttributeError there
        value = getattr(module, name)
        if callable(value) or isinstance(value, types.ModuleType):
            raise StubError(f"{module.__name__}.{name} is {type(value).__name__}, not data: the notebook needs "
                            f"it in the kernel, so this module cannot be judged at the grader")
        out[name] = value
    return out


def build(assignment: str, used=()) -> dict[str, bytes]:
    """``{path inside autograder/questions: content}`` of the stub package for ``assignment``."""
    name = f"autograder.questions.{assignment}"
    module = importlib.import_module(name)
    spec, defaults = _spec(module)
    frame = io.BytesIO()
    codec.send(frame, spec, {"defaults": defaults, "data": _data(module, used)})
    is_package = hasattr(module, "__path__")
    base = f"{assignment}/__init__" if is_package else assignment
    files = {f"{base}.py": STUB.format(module=name).encode(), f"{base}.frame": frame.getvalue()}
    for helper in sorted(m for m in question.KERNEL_SIDE if m == name or m.startswith(name + ".")):
        if helper == name:
            raise StubError(f"{name} holds kernel-side functions itself: keep them in a module of their own")
        files[helper[len("autograder.questions."):].replace(".", "/") + ".py"] = \
            Path(sys.modules[helper].__file__).read_bytes()
    return files
