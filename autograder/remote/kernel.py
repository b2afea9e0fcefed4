"""The kernel's side of a judged check: a stub that asks the grader, and serves the grader's calls.

In grading mode the sandbox shows, in place of ``autograder/questions``, a stub package written by
:mod:`autograder.remote.stubs`: each module is ``define(globals())``, which reads the module's spec
(``<module>.frame`` beside it, a frame of :mod:`autograder.remote.codec`) and defines, for every
check, a function with the check's name, title, signature, answers and hint (decorated by
:func:`autograder.question.question`, so "no answer yet" and ``check.hint`` behave as in
self-check), plus the module's public data the notebooks use. Nothing in it computes an expected value.

A check call ``check.bptt(bptt, batch=True)`` then runs :meth:`Connection.check` on the socket named
by ``$XAI_JUDGE`` (the protocol is in :mod:`autograder.remote.judge`): it sends the arguments, the
student's functions as handles; while the judge checks, it answers each ``call`` by running the
student's function here, through :func:`autograder.question.call` (copies, quiet, in-place changes
and errors named) or, for a direct call, plainly, sending back the arguments as the function left
them, or, for a probe, the check package's own kernel-side function on the student's object; at the
``verdict`` it prints what the check printed and returns the ✓ message, or raises the
same :class:`~autograder.feedback.CheckFailed` that the check raised at the grader.
"""
from __future__ import annotations

import builtins
import importlib
import inspect
import os
import socket
import sys
from pathlib import Path

from .. import question
from ..feedback import CheckFailed, Passed
from . import codec

ENV = "XAI_JUDGE"   # the path of the judge's socket inside the sandbox


class Connection:
    """One connection to the judge, opened at the first check, reopened after an interrupted one."""

    def __init__(self, path: str):
        self.path = path
        self.stream = None

    def _open(self):
        if self.stream is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.path)
            self.stream = sock.makefile("rwb")
            sock.close()   # the file object keeps the descriptor
        return self.stream

    def close(self):
        if self.stream is not None:
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None

    def check(self, module: str, name: str, title: str, args: tuple, kwargs: dict):
        """Run check ``name`` of ``module`` at the grader on ``args``, ``kwargs``; its outcome here."""
        handles: list = []

        def describe(fn) -> dict:
            handles.append(fn)
            return {"handle": len(handles) - 1, "name": str(getattr(fn, "__name__", type(fn).__name__)),
                    "params": _parameters(fn)}

        def resolve(description):   # the judge hands back one of ours
            k = description.get("handle") if type(description) is dict else None
            if type(k) is not int or not 0 <= k < len(handles):
                raise codec.WireError(f"no function with handle {k!r}")
            return handles[k]

        try:
            stream = self._open()
            codec.send(stream, {"op": "check", "module": module, "check": name},
                       {"args": list(args), "kwargs": dict(kwargs)}, functions=describe)
            while True:
                message, values = codec.receive(stream, functions=resolve)
                if message.get("op") == "verdict":
                    break
                codec.send(stream, *_serve(message, values), functions=describe)
        except (OSError, EOFError, codec.WireError) as err:
            self.close()
            raise CheckFailed(title, f"the grader could not be reached to check this answer "
                                     f"({type(err).__name__}: {err})") from None
        except BaseException:   # an interrupt (the cell timeout) in the middle: the judge gives up on it
            self.close()
            raise
        sys.stdout.write(str(message.get("stdout", "")))
        if message.get("passed"):
            return Passed(str(message.get("message", "")))
        raise CheckFailed(str(message.get("question", title)), str(message.get("reason", "")))


def _parameters(fn) -> list:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [[p.name, int(p.kind), p.default is not p.empty] for p in params]


def _serve(message: dict, values: dict) -> tuple[dict, dict]:
    """The reply to a ``call``: the student's function run here."""
    if message.get("op") != "call":
        raise codec.WireError(f"unexpected message {message.get('op')!r} from the judge")
    fn, args, kwargs = values.get("fn"), values.get("args"), values.get("kwargs")
    if not callable(fn) or type(args) is not list or type(kwargs) is not dict:
        raise codec.WireError("a call without a function, a list of arguments and a dict of options")
    mode = message.get("mode")
    direct = mode == "direct"
    try:
        with question.one_torch_thread():
            if mode == "probe":
                with question.quiet():
                    out = _probe(str(message.get("name")))(*args, **kwargs)
            elif direct:
                with question.quiet():
                    out = fn(*args, **kwargs)
            else:
                out = question.call(fn, *args, name=message.get("name"), context=str(message.get("context", "")),
                                    **kwargs)
    except question.Violation as err:
        return {"op": "violation", "message": err.message}, {}
    except Exception as err:  # noqa: BLE001 - the student's error, reported as it was raised
        base = next(c for c in type(err).__mro__ if getattr(builtins, c.__name__, None) is c)
        return {"op": "raised", "type": type(err).__name__, "base": base.__name__, "message": str(err)}, {}
    return {"op": "returned"}, {"value": out, **({"args": args, "kwargs": kwargs} if direct else {})}


def _probe(name: str):
    """The :func:`autograder.question.kernel_side` function ``module:function`` of a check package (the stub
    carries its module); anything else is refused."""
    module, _, function = name.partition(":")
    if not module.startswith("autograder.questions.") or not function.isidentifier():
        raise codec.WireError(f"no kernel-side function {name[:80]!r}")
    target = getattr(importlib.import_module(module), function, None)
    if not getattr(target, "kernel_side", False):
        raise codec.WireError(f"{name[:80]!r} is not a kernel-side function")
    return target


_connection: Connection | None = None


def connection() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection(os.environ.get(ENV, ""))
    return _connection


def _remote_check(module: str, spec: dict, defaults: dict):
    """The stub of one check: the same name, signature, answers and hint, its work done at the grader."""
    name, title = spec["name"], spec["title"]

    def check(ask, *args, **kwargs):
        return connection().check(module, name, ask.title, args, kwargs)

    params = [inspect.Parameter(p, kind, **({"default": defaults[p]} if p in defaults else {}))
              for p, kind in spec["params"]]
    check.__name__ = check.__qualname__ = name
    check.__module__, check.__doc__ = module, spec.get("doc")
    check.__signature__ = inspect.Signature(params)
    return question.question(title, answers=tuple(spec["answers"]), hint=spec.get("hint", ""))(check)


def define(namespace: dict) -> None:
    """Fill a stub module's ``namespace`` from its spec (``<module>.frame`` beside its file)."""
    module = namespace["__name__"]
    with open(Path(namespace["__file__"]).with_suffix(".frame"), "rb") as f:
        spec, values = codec.receive(f)
    for check in spec["checks"]:
        namespace[check["name"]] = _remote_check(module, check, values.get("defaults", {}).get(check["name"], {}))
    namespace.update(values.get("data", {}))
    namespace["hint"] = question.hints_of(module, order=spec.get("order"))
    namespace["__all__"] = list(spec.get("all") or [c["name"] for c in spec["checks"]])
