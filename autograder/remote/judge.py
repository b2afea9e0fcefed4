"""The grader-side judge: the real checks, run outside the sandbox on what the kernel sends.

One judge process per graded submission (:func:`running` starts it next to the sandbox). It imports
the assignment's real check module, listens on a Unix socket that the sandbox binds at
``/job/judge.sock``, and records every verdict in ``record.jsonl`` in a folder only the grader
sees. Expected values exist only here: the kernel receives verdicts, never an oracle.

The protocol, one frame of :mod:`autograder.remote.codec` per message (values in ``"values"``)::

    kernel -> judge   {"op": "check", "module": M, "check": NAME}         values: args, kwargs
    judge  -> kernel  {"op": "call", "mode": "call" | "direct" | "probe",
                       "name": str | null, "context": str}                 values: fn, args, kwargs
    kernel -> judge   {"op": "returned"}                                   values: value (+ args, kwargs
                                                                           after a direct call)
                    | {"op": "violation", "message": str}
                    | {"op": "raised", "type": str, "base": str, "message": str}
    ...  (any number of calls)
    judge  -> kernel  {"op": "verdict", "passed": bool, "message": str, "question": str,
                       "reason": str, "stdout": str}

The student's functions travel as handles (``{"handle": k, "name", "params"}``); at the judge each
is a :class:`StudentFunction`, an :class:`autograder.question.Remote`: ``question.call(fn, ...)``
becomes a ``call`` that the kernel runs through ``question.call`` on the real function (copies,
quiet, in-place changes and errors named there), and a plain ``fn(...)`` becomes a ``direct`` call,
after which the arguments the function changed in place are written back here, so the check sees
what it would have seen in-process. A ``probe`` runs a :func:`autograder.question.kernel_side` function of
the check package (``name`` is ``module:function``) in the kernel on the student's object (a class of the
notebook's, say) and returns its plain-data result. The check's own output is captured and sent with the
verdict.

A kernel that hangs up in the middle of a check (an interrupt, a crash), or sends a frame that
breaks the codec, ends that check as failed ("the kernel stopped answering"); the judge then waits
for the next connection. A record line: ``{"check", "options" (the literal keyword arguments),
"passed", "question", "message", "fault": null | "kernel" | "grader"}``.

Run as ``python -m autograder.remote.judge MODULE RECORD FD`` (FD: the listening socket);
it ends when its stdin closes.
"""
from __future__ import annotations

import builtins
import contextlib
import importlib
import inspect
import io
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import question
from ..feedback import CheckFailed, describe_exception
from ..properties import Violation
from . import codec, confirm

SOCKET = "judge.sock"
RECORD = "record.jsonl"


class Hangup(BaseException):
    """The kernel stopped answering in the middle of a check (not an ``Exception``: no check may take it
    for the student's error)."""


class StudentFunction(question.Remote):
    """A function of the student's, in the kernel, called through the session that received it."""

    def __init__(self, session: Session, description: dict):
        self._session, self._handle = session, description.get("handle")
        self.__name__ = self.__qualname__ = str(description.get("name", "function"))
        try:
            self.__signature__ = inspect.Signature(
                [inspect.Parameter(str(n), int(k), **({"default": None} if d else {}))
                 for n, k, d in description.get("params", [])])
        except (TypeError, ValueError):
            self.__signature__ = None

    def remote_call(self, args, kwargs, *, name, context):
        return self._session.call(self, "call", args, kwargs, name=name, context=context)

    def remote_probe(self, name, args, kwargs):
        return self._session.call(self, "probe", (self, *args), kwargs, name=name)

    def __call__(self, *args, **kwargs):
        return self._session.call(self, "direct", args, kwargs)

    def __repr__(self):
        return f"<the student's function {self.__name__}>"


def _raised(type_name: str, base_name: str, message: str) -> Exception:
    """The student's exception as the check would have caught it: its type's name, its message, and
    its nearest built-in base (so ``NotImplementedError`` is still one)."""
    base = getattr(builtins, base_name, Exception)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    name = type_name if type_name.isidentifier() else base.__name__
    return type(name, (base,), {"__str__": lambda self: message, "__module__": "student"})()


def _write_back(original, changed):
    """Make ``original`` (an argument at the judge) what the student's function left it as."""
    torch = sys.modules.get("torch")
    if isinstance(original, np.ndarray) and isinstance(changed, np.ndarray):
        if original.shape == changed.shape:
            original[...] = changed
    elif torch is not None and isinstance(original, torch.Tensor) and isinstance(changed, torch.Tensor):
        if original.shape == changed.shape:
            with torch.no_grad():
                original.copy_(changed.to(original.dtype))
    elif isinstance(original, list) and isinstance(changed, list):
        original[:] = changed
    elif isinstance(original, dict) and isinstance(changed, dict):
        original.clear()
        original.update(changed)


class Session:
    """One kernel connection: check requests in, calls out, verdicts back."""

    def __init__(self, stream, module, checks: set[str], record):
        self.stream, self.module, self.checks, self.record = stream, module, checks, record

    # --- calls into the kernel ---------------------------------------------------------------
    def _describe(self, fn) -> dict:
        if isinstance(fn, StudentFunction) and fn._session is self:
            return {"handle": fn._handle}
        raise codec.WireError(f"the grader cannot send its own function {getattr(fn, '__name__', fn)!r} "
                              f"to the kernel")

    def _receive(self):
        try:
            header, payloads = codec.read_frame(self.stream)
        except (EOFError, OSError, codec.WireError) as err:
            raise Hangup(f"{type(err).__name__}: {err}") from None
        return header, payloads

    def call(self, fn: StudentFunction, mode: str, args, kwargs, *, name=None, context=""):
        try:
            codec.send(self.stream, {"op": "call", "mode": mode, "name": name, "context": context},
                       {"fn": fn, "args": list(args), "kwargs": dict(kwargs)}, functions=self._describe)
        except OSError as err:
            raise Hangup(f"{type(err).__name__}: {err}") from None
        header, payloads = self._receive()
        label = name or fn.__name__
        op = header.get("op")
        if op == "violation":
            raise Violation(str(header.get("message", "")))
        if op == "raised":
            raise _raised(str(header.get("type")), str(header.get("base")), str(header.get("message", "")))
        if op != "returned":
            raise Hangup(f"the kernel answered a call with {op!r}")
        try:
            values = codec.decode({"dict": [[k, v] for k, v in header.get("values", {}).items()]}, payloads,
                                  functions=lambda d: StudentFunction(self, d))
        except codec.WireError as err:
            raise Violation(f"what your {label} returned cannot be read by the grader: {err}") from None
        if mode == "direct":
            for before, after in zip(args, values.get("args", [])):
                _write_back(before, after)
            for key, after in values.get("kwargs", {}).items():
                if key in kwargs:
                    _write_back(kwargs[key], after)
        return values.get("value")

    # --- checks --------------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                header, payloads = codec.read_frame(self.stream)
            except (EOFError, OSError, codec.WireError):
                return
            if header.get("op") != "check":
                return
            name = header.get("check")
            verdict, entry = self._judge(name, header, payloads)
            self.record(entry)
            if entry["fault"] == "kernel":
                return
            try:
                codec.write_frame(self.stream, verdict)
            except (OSError, codec.WireError):
                return

    def _judge(self, name, header, payloads) -> tuple[dict, dict]:
        fn = getattr(self.module, name, None) if name in self.checks else None
        title = getattr(fn, "title", str(name))
        entry = {"check": str(name), "options": {}, "passed": False, "question": title, "message": "", "fault": None}
        out = io.StringIO()
        try:
            if fn is None:
                raise CheckFailed(str(name), f"there is no check {name!r} in {self.module.__name__}")
            values = codec.decode({"dict": [[k, v] for k, v in header.get("values", {}).items()]}, payloads,
                                  functions=lambda d: StudentFunction(self, d))
            args, kwargs = values.get("args", []), values.get("kwargs", {})
            if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise codec.WireError("a check needs a list of arguments and a dict of named options")
            entry["options"] = confirm.recorded(kwargs)
            with contextlib.redirect_stdout(out):
                result = fn(*args, **kwargs)
            entry.update(passed=True, message=str(result))
            return {"op": "verdict", "passed": True, "message": str(result), "stdout": out.getvalue()}, entry
        except CheckFailed as err:
            entry.update(question=err.question, message=err.reason)
            return {"op": "verdict", "passed": False, "question": err.question, "reason": err.reason,
                    "stdout": out.getvalue()}, entry
        except codec.WireError as err:
            reason = f"the answer cannot be read by the grader: {err}"
            entry.update(message=reason)
            return {"op": "verdict", "passed": False, "question": title, "reason": reason, "stdout": ""}, entry
        except Hangup as err:
            entry.update(message=f"the kernel stopped answering ({err})", fault="kernel")
            return {}, entry
        except Exception as err:  # noqa: BLE001 - the grader's own failure: the instructor looks
            reason = f"the grader failed while checking: {describe_exception(err)}"
            entry.update(message=reason, fault="grader")
            return {"op": "verdict", "passed": False, "question": title, "reason": reason, "stdout": ""}, entry


def main(argv: list[str]) -> int:
    module_name, record_path, fd = argv
    listener = socket.socket(fileno=int(fd))
    module = importlib.import_module(module_name)
    checks = {e.check for e in question.entries(module_name)}
    lock = threading.Lock()
    record = open(record_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    def write(entry):
        with lock:
            record.write(json.dumps(entry, default=str) + "\n")
            record.flush()

    def watch_stdin():   # the grader closes our stdin when the job is over
        sys.stdin.buffer.read()
        record.close()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    while True:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as stream:
            Session(stream, module, checks, write).serve()


# --- the grader's handle on a judge ---------------------------------------------------------------

@dataclass
class Judge:
    folder: Path
    process: subprocess.Popen

    @property
    def socket(self) -> Path:
        return self.folder / SOCKET

    def verdicts(self) -> list[dict]:
        path = self.folder / RECORD
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
        return out

    def log(self) -> str:
        path = self.folder / "judge.log"
        return path.read_text(encoding="utf-8", errors="replace")[-4000:] if path.is_file() else ""


@contextlib.contextmanager
def running(folder: Path, module: str, env: dict, preexec_fn=None):
    """A judge for ``module`` with its socket and record in ``folder`` (the grader's, mode 0700), for
    the duration of the ``with``; the socket exists (and queues connections) before this yields."""
    folder = Path(folder)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / SOCKET))
    listener.listen(8)
    log = open(folder / "judge.log", "wb")  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen([sys.executable, "-m", "autograder.remote.judge", module, str(folder / RECORD),
                                 str(listener.fileno())], cwd=folder, env=env, stdin=subprocess.PIPE, stdout=log,
                                stderr=log, pass_fds=[listener.fileno()], preexec_fn=preexec_fn)
    finally:
        listener.close()
        log.close()
    try:
        yield Judge(folder, proc)
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
