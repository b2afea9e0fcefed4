"""A tripwire inside the grading kernel: an audit hook (PEP 578) installed before any student code.

nbgrader runs a submission in an ordinary Jupyter kernel, where the student's code can do anything
the grading process can. Python offers no sandbox, but it offers audit hooks that cannot be removed
once added. This module adds one when the grading kernel starts (``install_from_env``) and:

* **denies** what answers never need: opening the course, the gradebook or the solutions; writing
  outside the working copy or the temp dir; starting processes, sending signals, ``ctypes``, walking
  the garbage collector, adding audit hooks (the last three are how one would reach this hook);
* **flags** what a grader must know: importing the reference implementation (directly, by
  ``importlib``, or through the checks' own module), and *tampering*: replacing a check, a function
  of numpy / sympy / torch, a builtin, or the kernel's traceback and messaging machinery that decides
  whether a test cell shows an error.

Each finding is written as one ``XAI-GUARD {json}`` line to file descriptor 2, which the sandbox
reads through a pipe (the kernel cannot take back what it wrote there), and raised in the cell as
``GradingGuardError``, so the test cells fail even if the report were lost. Who did it is decided
by the innermost notebook-cell frame on the stack: the instructor's locked cells are trusted, every
other cell (and code they ``exec``) is the student's. This is a tripwire, not a sandbox: see
``docs/threat-model.md`` for what it does and does not stop.
"""
from __future__ import annotations

import builtins
import json
import os
import sys
import sysconfig
import tempfile
from ast import Attribute, Call, Constant, Import, ImportFrom, Name, parse, walk
# The guard keeps its own references to what it uses, so a submission that replaces a builtin or a
# function of os / sys / ast cannot blind it (the replacement itself is reported as tampering).
from builtins import any, callable, getattr, id, isinstance, list, str, type, vars  # noqa: A004
from os import fsdecode, write as _write
from os.path import realpath
from sys import _getframe

ENV = "XAI_GUARD"          # JSON config: {"protected": [...], "trusted_sources": [...], "modules": [...]}
TAG = "XAI-GUARD "         # prefix of a report line on fd 2

# Modules whose functions the checks rely on. Replacing anything in the course's own packages or a
# builtin is tampering; libraries patch each other, so in the others only a replacement written in a
# student's cell is.
WATCHED_PREFIXES = ("autograder", "reference")
STRICT_MODULES = ("builtins",)
WATCHED_MODULES = ("numpy", "numpy.linalg", "numpy.testing", "sympy", "torch", "torch.nn.functional",
                   "torch.autograd", "hypothesis", "math", "builtins", "os", "posixpath", "sys", "ast", "json")
STDLIB = (realpath(sysconfig.get_paths()["stdlib"]) + os.sep, "<frozen ")
SITE = tuple({realpath(sysconfig.get_paths()[k]) + os.sep for k in ("purelib", "platlib")})
# What decides whether a test cell shows an error: the shell's traceback and run machinery, the kernel's
# reply and message functions.
SHELL_HOOKS = ("showtraceback", "_showtraceback", "showsyntaxerror", "run_cell", "run_cell_async",
               "run_ast_nodes", "run_code", "transform_cell", "transform_ast", "set_custom_exc",
               "CustomTB", "InteractiveTB", "SyntaxTB", "displayhook", "display_pub", "compile",
               "excepthook", "custom_exceptions")
# Builtins that IPython and ipykernel themselves set per cell or per request.
KERNEL_BUILTINS = {"input", "raw_input", "getpass", "get_ipython", "display", "exit", "quit", "help",
                   "_", "__", "___", "__IPYTHON__", "dreload", "copyright", "credits", "license"}
KERNEL_HOOKS = ("do_execute", "execute_request", "send_response", "_publish_execute_input",
                "_publish_status")
SESSION_HOOKS = ("send", "serialize")
DENIED_EVENTS = {
    "subprocess.Popen": "starts a process", "os.system": "starts a process", "os.exec": "starts a process",
    "os.posix_spawn": "starts a process", "os.spawn": "starts a process", "os.fork": "forks the kernel",
    "os.forkpty": "forks the kernel", "pty.spawn": "starts a process", "os.kill": "sends a signal",
    "os.killpg": "sends a signal", "ctypes.dlopen": "loads native code (ctypes)",
    "ctypes.dlsym": "loads native code (ctypes)", "ctypes.addressof": "uses raw memory (ctypes)",
    "gc.get_objects": "walks the garbage collector", "gc.get_referrers": "walks the garbage collector",
    "gc.get_referents": "walks the garbage collector", "sys.addaudithook": "adds an audit hook",
    "socket.connect": "opens a network connection", "socket.bind": "opens a network socket",
}


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(STDLIB) and not filename.startswith(SITE)


class GradingGuardError(PermissionError):
    """Raised in the kernel when a submission does what grading forbids."""


def _is_write(mode, flags) -> bool:
    if isinstance(mode, str):
        return any(ch in mode for ch in "wax+")
    return bool((flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


def _imports_reference(tree, namespace: dict, allowed=frozenset()) -> str | None:
    """The first way ``tree`` reaches the reference implementation, or None.

    ``import reference...``; ``from reference... import``; ``__import__`` / ``import_module`` with a
    string naming it; an import, from the checks, of a name that *is* a reference object; or
    ``alias.name`` where ``alias`` is a module in ``namespace`` and ``name`` a reference object.
    ``allowed`` holds the ``(module, name)`` pairs the instructor's own cells import (helpers such as
    a numerical gradient): a student may import those too.
    """
    def is_ref(name: str) -> bool:
        return name == "reference" or name.startswith("reference.")

    def ref_object(obj) -> bool:
        return is_ref(getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or "")

    for node in walk(tree):
        if isinstance(node, Import) and any(is_ref(a.name) for a in node.names):
            return f"import {', '.join(a.name for a in node.names)}"
        if isinstance(node, ImportFrom) and node.module:
            for a in node.names:
                if (node.module, a.name) in allowed:
                    continue
                if is_ref(node.module):
                    return f"from {node.module} import {a.name}"
                module = sys.modules.get(node.module)   # e.g. from autograder.questions.bptt import ref
                if module is not None and ref_object(getattr(module, a.name, None)):
                    return f"from {node.module} import {a.name} (the reference implementation)"
        if isinstance(node, Call) and node.args and isinstance(node.args[0], Constant):
            fn = node.func.attr if isinstance(node.func, Attribute) else getattr(node.func, "id", "")
            if fn in ("__import__", "import_module") and is_ref(str(node.args[0].value)):
                return f"{fn}({node.args[0].value!r})"
        if (isinstance(node, Attribute) and isinstance(node.value, Name)
                and type(namespace.get(node.value.id)) is type(sys)):
            if ref_object(getattr(namespace[node.value.id], node.attr, None)):
                return f"{node.value.id}.{node.attr} (the reference implementation)"
    return None


class Guard:
    def __init__(self, protected, trusted_sources, modules, report_fd=2):
        from ipykernel.compiler import get_file_name, get_tmp_directory

        self.protected = [realpath(p) for p in protected]
        self.cell_dir = get_tmp_directory() + os.sep
        self.trusted = {get_file_name(src) for src in trusted_sources}
        self.allowed_writes = [realpath(os.getcwd()), realpath(tempfile.gettempdir())]
        self.report_fd = report_fd
        self.reported = set()
        self.active = False
        self.aliases = self._aliases(trusted_sources)
        self.allowed = {tuple(target.rsplit(".", 1)) for target in self.aliases.values() if "." in target}
        for name in modules:
            __import__(name)
        self.snapshot = self._take_snapshot(self._watched())

    # --- who is acting ---------------------------------------------------------------------------
    def culprit(self, direct: bool = False) -> str:
        """'student', 'trusted' or 'library'.

        By the innermost notebook-cell frame on the stack; with ``direct``, by the first frame outside
        the standard library, so that a library doing its own work (torch loading its native code,
        hypothesis walking the garbage collector) while a student's cell runs is not blamed.
        """
        frame = _getframe(3)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(self.cell_dir):
                return "trusted" if name in self.trusted else "student"
            if direct and not _in_stdlib(name):
                return "library"
            frame = frame.f_back
        return "library"

    # --- reporting --------------------------------------------------------------------------------
    def violation(self, kind: str, detail: str) -> None:
        key = (kind, detail)
        if key not in self.reported:
            self.reported.add(key)
            line = TAG + json.dumps({"kind": kind, "detail": detail}) + "\n"
            try:
                _write(self.report_fd, line.encode())
            except OSError:
                pass   # the student closed fd 2: the raised error below still fails the cell
        raise GradingGuardError(f"grading guard: {detail} ({kind})")

    # --- tampering ------------------------------------------------------------------------------
    @staticmethod
    def _aliases(trusted_sources) -> dict:
        """Names the instructor's cells bind to modules (``... as check``): name -> module name."""
        out = {}
        for src in trusted_sources:
            try:
                tree = parse(src)
            except SyntaxError:
                continue
            for node in walk(tree):
                if isinstance(node, Import):
                    for a in node.names:
                        out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                elif isinstance(node, ImportFrom) and node.module and node.level == 0:
                    for a in node.names:
                        out[a.asname or a.name] = f"{node.module}.{a.name}"
        return out

    def _watched(self):
        for name, module in list(sys.modules.items()):
            if module is not None and (name.startswith(WATCHED_PREFIXES) or name in WATCHED_MODULES):
                yield name, module

    @staticmethod
    def _take_snapshot(items) -> dict:
        """name -> (id(module), {attr: id}) for the callables, their code and class members."""
        snap = {}
        for name, module in items:
            entries = {}
            for attr, value in list(vars(module).items()):
                if name == "builtins" and attr in KERNEL_BUILTINS:
                    continue
                if callable(value) or type(value) is type(sys):
                    entries[attr] = id(value)
                    code = getattr(value, "__code__", None)
                    if code is not None:
                        entries[attr + ".__code__"] = id(code)
                    if isinstance(value, type) and value.__module__ == name:
                        for m, f in list(vars(value).items()):
                            if callable(f):
                                entries[f"{attr}.{m}"] = id(f)
            snap[name] = (id(module), entries)
        return snap

    def _hooks(self):
        """(name, object) for the kernel machinery that decides whether a cell errs."""
        shell = getattr(builtins, "get_ipython", lambda: None)()
        out = [("sys.excepthook", sys.excepthook), ("sys.displayhook", sys.displayhook)]
        if shell is None:
            return out
        out += [(f"shell.{h}", getattr(shell, h, None)) for h in SHELL_HOOKS]
        kernel = getattr(shell, "kernel", None)
        if kernel is not None:
            out += [(f"kernel.{h}", getattr(kernel, h, None)) for h in KERNEL_HOOKS]
            out += [(f"kernel.session.{h}", getattr(kernel.session, h, None)) for h in SESSION_HOOKS]
            out += [(f"kernel.shell_handlers[{k!r}]", v) for k, v in kernel.shell_handlers.items()]
        for event, callbacks in shell.events.callbacks.items():
            out += [(f"shell.events[{event!r}]", cb) for cb in callbacks]
        out += [(f"shell.ast_transformers[{i}]", t) for i, t in enumerate(shell.ast_transformers)]
        out += [(f"shell.input_transformers_post[{i}]", t) for i, t in enumerate(shell.input_transformers_post)]
        return out

    def _from_student_cell(self, obj) -> bool:
        code = getattr(getattr(obj, "__func__", obj), "__code__", None)
        if code is None:   # a callable object or a partial: look at its class / wrapped function
            inner = getattr(obj, "func", None) or getattr(type(obj), "__call__", None)
            code = getattr(inner, "__code__", None)
        name = getattr(code, "co_filename", "")
        return name.startswith(self.cell_dir) and name not in self.trusted

    def tampering(self) -> str | None:
        """What of the checks' world was replaced since the kernel started, or None."""
        for name, module in self._watched():
            if name not in self.snapshot:   # imported since the last look: watch it from now on
                self.snapshot.update(self._take_snapshot([(name, module)]))
                continue
            mod_id, entries = self.snapshot[name]
            if id(module) != mod_id:
                return f"sys.modules[{name!r}] was replaced"
            now = vars(module)
            for attr, oid in entries.items():
                base, _, sub = attr.partition(".")
                value = now.get(base)
                if sub == "__code__":
                    value = getattr(value, "__code__", None)
                elif sub:
                    value = vars(value).get(sub) if isinstance(value, type) else None
                if value is None or id(value) != oid:
                    if name.startswith(WATCHED_PREFIXES) or name in STRICT_MODULES \
                            or self._from_student_cell(value):
                        return f"{name}.{attr} was replaced or deleted"
                    entries[attr] = id(value)   # one library patching another
        for label, hook in self._hooks():
            if hook is not None and self._from_student_cell(hook):
                return f"{label} was replaced by the submission's own code"
        shell = getattr(builtins, "get_ipython", lambda: None)()
        if shell is not None:
            for alias, target in self.aliases.items():   # the checks' module, e.g. ``check``
                if not target.startswith("autograder"):
                    continue
                if alias in shell.user_ns and target in self.expected_aliases:
                    if shell.user_ns[alias] is not self.expected_aliases[target]:
                        return f"the name {alias!r}, which the test cells use, was rebound"
        return None

    @property
    def expected_aliases(self) -> dict:
        out = {}
        for target in self.aliases.values():
            if target in sys.modules:
                out[target] = sys.modules[target]
            else:
                parent, _, attr = target.rpartition(".")
                if parent in sys.modules and hasattr(sys.modules[parent], attr):
                    out[target] = getattr(sys.modules[parent], attr)
        return out

    # --- the hook -------------------------------------------------------------------------------
    def __call__(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        self.active = False   # the hook's own work must not re-enter it
        try:
            self._on(event, args)
        finally:
            self.active = True

    def _on(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            if isinstance(path, int):
                return
            real = realpath(fsdecode(path))
            if any(real == p or real.startswith(p + os.sep) for p in self.protected) or \
                    (real.startswith("/proc/") and real.endswith(("/environ", "/mem", "/fd"))):
                self.violation("forbidden-file", f"opens {real}, which belongs to the course, not the submission")
            if _is_write(mode, flags) and self.culprit(direct=True) == "student" and not any(
                    real == p or real.startswith(p + os.sep) for p in self.allowed_writes):
                self.violation("forbidden-file", f"writes {real}, outside its working copy")
        elif event in DENIED_EVENTS:
            if self.culprit(direct=True) == "student":
                self.violation("forbidden-call", f"{DENIED_EVENTS[event]} ({event})")
        elif event == "compile":
            source, filename = args[0], args[1]
            if not isinstance(source, (str, bytes)):
                return
            fname = fsdecode(filename) if isinstance(filename, (str, bytes)) else ""
            student = (fname.startswith(self.cell_dir) and fname not in self.trusted) or \
                (not fname.startswith(self.cell_dir) and self.culprit() == "student")
            if not student:
                return
            try:
                tree = parse(source)
            except (SyntaxError, ValueError):
                return
            main = sys.modules.get("__main__")   # IPython's user namespace is __main__'s
            found = _imports_reference(tree, vars(main) if main is not None else {}, self.allowed)
            if found:
                self.violation("reference-import", f"uses the reference implementation: {found}")
        elif event == "exec":
            code = args[0]
            if getattr(code, "co_filename", "").startswith(self.cell_dir):
                found = self.tampering()
                if found:
                    self.violation("tampering", found)


def install(protected=(), trusted_sources=(), modules=()) -> Guard:
    guard = Guard(protected, trusted_sources, modules)
    sys.addaudithook(guard)
    guard.active = True
    return guard


def install_from_env() -> None:
    """Kernel start-up: read the config from ``$XAI_GUARD`` (then forget it) and install the hook."""
    config = json.loads(os.environ.pop(ENV, "{}"))
    install(config.get("protected", ()), config.get("trusted_sources", ()), config.get("modules", ()))


def kernel_arguments() -> list[str]:
    """Extra kernel arguments that install the guard before the first cell runs."""
    return ["--IPKernelApp.exec_lines=['__import__(\"autograder.course.guard\").course.guard.install_from_env()']"]


def read_report(stderr_text: str) -> list[dict]:
    """The guard's findings in what the kernel wrote to fd 2."""
    out = []
    for line in stderr_text.splitlines():
        if line.startswith(TAG):
            try:
                out.append(json.loads(line[len(TAG):]))
            except json.JSONDecodeError:
                out.append({"kind": "garbled", "detail": line[:200]})
    return out
