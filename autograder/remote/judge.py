"""The grader-side judge: the real checks, run outside the sandbox on what the kernel sends.

One judge process per graded submission (:func:`running` starts it next to the sandbox). It has
the assignment's real check module, listens on a Unix socket that the sandbox binds at
``/job/judge.sock``, and records every verdict in ``record.jsonl`` in a folder only the grader
sees. Expected values exist only here: the kernel receives verdicts, never an oracle.

Importing a check module (torch, SymPy, the reference) costs up to 3 s of CPU, more than the judging
of many submissions. So each grading process keeps a **judge server** per module, started on first
use, that imports it once and forks a fresh judge for every submission (``serve_jobs``): each
submission still gets a process of its own, with nothing of another submission's judge in it. The
grader hands the server the job's folder and two descriptors over a control socket: the listening
socket and the job's end; when the grader closes the end, the judge exits (it is killed after
``GRACE`` seconds) and the server sends its exit status back.

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

The server runs as ``python -m autograder.remote.judge --server MODULE FD RLIMITS`` (FD: its end of
the control socket; RLIMITS: JSON ``{resource: [soft, hard]}``); it ends when the control socket
closes and its last judge has exited.
"""
from __future__ import annotations

import atexit
import builtins
import contextlib
import importlib
import inspect
import io
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
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
        self.calls, self.call_seconds = 0, 0.0   # round trips into the kernel during the check in hand

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
        start = time.perf_counter()
        try:
            return self._call(fn, mode, args, kwargs, name=name, context=context)
        finally:
            self.calls += 1
            self.call_seconds += time.perf_counter() - start

    def _call(self, fn: StudentFunction, mode: str, args, kwargs, *, name, context):
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
            self.calls, self.call_seconds, start = 0, 0.0, time.perf_counter()
            verdict, entry = self._judge(name, header, payloads)
            entry.update(seconds=round(time.perf_counter() - start, 4), calls=self.calls,
                         call_seconds=round(self.call_seconds, 4))
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


# --- one judge: the connections of one submission's kernel ------------------------------------------

def _serve(module, checks: set[str], listener: socket.socket, record_path: Path, end: socket.socket) -> None:
    """Judge every connection on ``listener``, recording in ``record_path``, until ``end`` reaches EOF
    (the grader's job is over); then the process exits."""
    lock = threading.Lock()
    record = open(record_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    def write(entry):
        with lock:
            record.write(json.dumps(entry, default=str) + "\n")
            record.flush()

    def watch_end():
        with contextlib.suppress(OSError):
            while end.recv(64):
                pass
        with lock:
            record.close()
        os._exit(0)

    threading.Thread(target=watch_end, daemon=True).start()
    while True:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as stream:
            Session(stream, module, checks, write).serve()


def _judge_job(module, checks: set[str], folder: str, listener: socket.socket, end: socket.socket):
    """The forked child of the server: one submission's judge, in ``folder``, logging to judge.log."""
    try:
        os.chdir(folder)
        log = os.open("judge.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        _serve(module, checks, listener, Path(RECORD), end)   # exits the process when the job ends
    except BaseException:  # noqa: BLE001 - the child must never return into the server's loop
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(1)


# --- the server: the check module imported once, a judge forked per submission -----------------------

GRACE = 10.0   # seconds a judge may take to exit after its job ended, then it is killed


@dataclass
class _Job:
    end: socket.socket
    deadline: float | None = None   # set when the grader ended the job


def serve_jobs(module_name: str, control: socket.socket) -> int:
    """Import ``module_name`` once; for each job that arrives on ``control`` (``{"folder"}`` with two
    descriptors: the listening socket and the job's end), fork a judge. When a judge has exited, its
    status goes back on the job's end as ``{"status": code}``. Ends when ``control`` closes and the last
    job is over. Single-threaded, so that forking is safe."""
    module = importlib.import_module(module_name)
    _preload()
    checks = {e.check for e in question.entries(module_name)}
    jobs: dict[int, _Job] = {}
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    accepting = True
    while accepting or jobs:
        for key, _ in selector.select(timeout=0.2):
            if key.fileobj is not control:   # the grader ended the job (EOF on its end)
                selector.unregister(key.fileobj)
                jobs[key.data].deadline = time.monotonic() + GRACE
                continue
            try:
                message, fds, _, _ = socket.recv_fds(control, 4096, 2)
            except OSError:
                message, fds = b"", []
            if not message:
                selector.unregister(control)
                accepting = False
                continue
            listener, end = (socket.socket(fileno=fd) for fd in fds)
            pid = os.fork()
            if pid == 0:
                selector.close()
                control.close()
                for job in jobs.values():
                    job.end.close()
                _judge_job(module, checks, json.loads(message)["folder"], listener, end)
            listener.close()
            jobs[pid] = _Job(end)
            selector.register(end, selectors.EVENT_READ, pid)
        _reap(jobs, selector)
    return 0


# What the checks import inside their functions (torch above all: 3 s of a judge's first check otherwise),
# imported once by the server, so that every forked judge starts with them. Imports only: nothing that
# starts torch's thread pools before a fork.
PRELOAD = ("torch", "torch.optim", "sympy")


def _preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _reap(jobs: dict[int, _Job], selector) -> None:
    """Report the judges that have exited, kill those past their grace."""
    now = time.monotonic()
    for pid, job in jobs.items():
        if job.deadline is not None and now > job.deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    while jobs:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        job = jobs.pop(pid, None)
        if job is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(job.end)
        with contextlib.suppress(OSError):
            job.end.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        job.end.close()


class _Server:
    """The grader's handle on a judge server (``python -m autograder.remote.judge --server``)."""

    def __init__(self, module: str, env: dict, rlimits: dict):
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.errors = tempfile.TemporaryFile()   # noqa: SIM115 - the server's stderr, for the instructor
        limits = json.dumps({str(k): v for k, v in rlimits.items()})
        with theirs:   # cwd /: `-m` puts the working directory first on sys.path
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autograder.remote.judge", "--server", module, str(theirs.fileno()), limits],
                cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=self.errors, stderr=self.errors,
                pass_fds=[theirs.fileno()], start_new_session=True)

    def send(self, folder: Path, listener: socket.socket, end: socket.socket) -> None:
        socket.send_fds(self.control, [json.dumps({"folder": str(folder)}).encode()], [listener.fileno(), end.fileno()])

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read()[-2000:].decode("utf-8", "replace")

    def close(self) -> None:
        """No more jobs: the server ends when its last judge has."""
        self.control.close()


_servers: dict[tuple, _Server] = {}
_servers_lock = threading.Lock()
KEEP = 2   # servers kept per grading process (one per assignment being graded)


def _server(module: str, env: dict, rlimits: dict, *, fresh: bool = False) -> _Server:
    key = (module, tuple(sorted(env.items())), tuple(sorted(rlimits.items())))
    with _servers_lock:
        server = _servers.pop(key, None)
        if server is not None and (fresh or server.process.poll() is not None):
            server.close()
            server = None
        if server is None:
            server = _Server(module, env, rlimits)
        _servers[key] = server   # most recently used last
        while len(_servers) > KEEP:
            _servers.pop(next(iter(_servers))).close()
        return server


def close_servers() -> None:
    """End every judge server of this process (each finishes the jobs it has)."""
    with _servers_lock:
        while _servers:
            _servers.popitem()[1].close()


def _forget_servers() -> None:
    """In a forked grading process (a process pool's worker): the parent's servers stay the parent's."""
    global _servers_lock
    _servers_lock = threading.Lock()
    for server in _servers.values():
        server.control.close()   # this process's copy only
    _servers.clear()


atexit.register(close_servers)
os.register_at_fork(after_in_child=_forget_servers)


# --- the grader's handle on a judge ---------------------------------------------------------------

@dataclass
class Judge:
    folder: Path
    problem: str | None = None   # set when the job ends: why the judge's record cannot be trusted

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
def running(folder: Path, module: str, env: dict, rlimits: dict | None = None):
    """A judge for ``module`` with its socket and record in ``folder`` (the grader's, mode 0700), for
    the duration of the ``with``; the socket exists (and queues connections) before this yields.

    The judge is forked from this process's server for ``module`` (started with ``env`` and the
    resource limits ``rlimits``, ``{resource.RLIMIT_*: (soft, hard)}``, on first use), so the check
    module is imported once per grading process, not once per submission. Afterwards ``problem`` says
    whether the judge exited cleanly."""
    folder = Path(folder)
    rlimits = dict(rlimits or {})
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ours, end = socket.socketpair()
    server = None
    try:
        listener.bind(str(folder / SOCKET))
        listener.listen(8)
        for fresh in (False, True):   # a server that has died is started again, once
            server = _server(module, env, rlimits, fresh=fresh)
            try:
                server.send(folder, listener, end)
                break
            except OSError:
                if fresh:
                    raise
    except BaseException:
        ours.close()
        raise
    finally:
        listener.close()
        end.close()
    judge = Judge(folder)
    try:
        yield judge
    finally:
        judge.problem = _ended(ours, server)


def _ended(ours: socket.socket, server: _Server) -> str | None:
    """End the job and read the judge's exit status: None when it exited cleanly."""
    with ours:
        ours.shutdown(socket.SHUT_WR)
        ours.settimeout(GRACE + 5)
        answer = b""
        with contextlib.suppress(OSError):
            while not answer.endswith(b"\n") and (chunk := ours.recv(64)):
                answer += chunk
    try:
        status = json.loads(answer)["status"]
    except (ValueError, KeyError, TypeError):
        return f"the judge server stopped without reporting the judge's status: {server.stderr()}"
    return None if status == 0 else f"the judge exited with status {status}"


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "--server":
        print("usage: python -m autograder.remote.judge --server MODULE FD RLIMITS_JSON", file=sys.stderr)
        return 2
    _, module, fd, limits = argv
    for resource_id, (soft, hard) in json.loads(limits).items():
        resource.setrlimit(int(resource_id), (soft, hard))
    return serve_jobs(module, socket.socket(fileno=int(fd)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
