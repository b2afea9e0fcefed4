"""A tripwire inside the grading kernel: an audit hook (PEP 578) installed before any student code.

nbgrader runs a submission in an ordinary Jupyter kernel, where the student's code can do anything
the grading process can. Python offers no sandbox, but it offers audit hooks that cannot be removed
once added. This module adds one when the grading kernel starts (``install_from_env``) and:

* **denies** what answers never need: opening, listing, renaming, removing or linking the course,
  the gradebook or the solutions (also through ``sqlite3.connect``, which opens files in C);
  writing, renaming, removing or linking outside the working copy or the temp dir, or opening a
  directory there (the way to ``dir_fd`` opens); starting processes, sending signals, ``ctypes``,
  walking the garbage collector, adding audit hooks (the last three are how one would reach this hook);
* **flags** what a grader must know: importing the reference implementation (directly, by
  ``importlib``, or through the checks' own module), and *tampering*: replacing a check, a function
  of numpy / sympy / torch, a builtin, or the kernel's traceback and messaging machinery that decides
  whether a test cell shows an error.

Each finding is written as one ``XAI-GUARD {json}`` line to file descriptor 2, which the sandbox
reads through a pipe (the kernel cannot take back what it wrote there), and raised in the cell as
``GradingGuardError``, so the test cells fail even if the report were lost. Who did it is decided
by the innermost notebook-cell frame on the stack: the instructor's locked cells are trusted, every
other cell (and code they ``exec``) is the student's, and so is any code whose file name is not an
actual library file outside the working copy and the temp dir (``<string>``, a name the student
made up, a module the student wrote).

The hook never runs the student's code: it reads only exact builtin types (``type(x) is str``), takes
strings through ``str``'s own methods, and finds functions and classes in the real ``__dict__`` of
their types, never by an attribute lookup that a student's descriptor, ``__eq__`` or ``__hash__``
could answer. This is a tripwire, not a sandbox: see ``docs/threat-model.md`` for what it does and
does not stop.
"""
from __future__ import annotations

import json
import os
import sys
import sysconfig
import tempfile
from _imp import _frozen_module_names
from ast import Attribute, Call, Constant, Import, ImportFrom, Name, Subscript, parse, walk

# The guard keeps its own references to what it uses, so a submission that replaces a builtin or a
# function of os / sys / ast cannot blind it (the replacement itself is reported as tampering).
from builtins import (  # noqa: UP029
    any,
    bytes,
    callable,
    dict,
    getattr,
    id,
    int,
    isinstance,
    issubclass,
    list,
    str,
    tuple,
    type,
)
from functools import partial
from os import fsdecode, readlink
from os import write as _write
from os.path import isabs, isdir, isfile, realpath
from os.path import join as _join
from sys import _getframe
from sys import modules as _MODULES
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType
from urllib.parse import unquote

# Reading objects without running their code: the real __dict__ and __mro__ of a class (not what a
# metaclass answers), an exact copy of a str or bytes subclass (computed in C).
_type_dict = type.__dict__["__dict__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_module_dict = ModuleType.__dict__["__dict__"].__get__
_str_copy = str.__str__
_bytes_copy = bytes.__getitem__
_items = dict.items
_Proxy = type(_type_dict(object))
_proxy_items = _Proxy.items

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


def _reference_dir() -> str:
    """Where the ``reference`` package lies, found without importing it."""
    from importlib.util import find_spec

    spec = find_spec("reference")
    return os.path.dirname(spec.origin) if spec is not None and spec.origin else os.path.dirname(__file__)


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(STDLIB) and not filename.startswith(SITE)


def _plain(x) -> str | None:
    """``x`` as an exact ``str`` if it is a str or bytes (or a subclass), else None; runs none of x's code."""
    t = type(x)
    if t is str:
        return x
    if issubclass(t, str):
        return _str_copy(x)
    if issubclass(t, bytes):
        return fsdecode(_bytes_copy(x, slice(None)))
    return None


def _entries(mapping) -> list:
    """``(key, value)`` of a dict or a class's mappingproxy, for the exact-str keys: no key is hashed
    or compared (a key of the student's could answer ``__eq__`` / ``__hash__``)."""
    t = type(mapping)
    if t is _Proxy:
        pairs = _proxy_items(mapping)     # the class's real dict's own items()
    elif issubclass(t, dict):
        pairs = _items(mapping)
    else:
        return []
    return [(k, v) for k, v in pairs if type(k) is str]


def _lookup(mapping, key: str):
    """``mapping[key]`` or None, without the dict comparing ``key`` with a key of the student's."""
    for k, v in _entries(mapping):
        if k == key:
            return v
    return None


def _module_vars(module) -> dict | None:
    """The namespace of a real module (exact ``ModuleType``), None for anything posing as one."""
    return dict(_entries(_module_dict(module))) if type(module) is ModuleType else None


def _code(obj, depth: int = 0) -> list:
    """The code objects an object runs when called, found without attribute lookups on it.

    A function, a bound method, a partial, a property / static / class method: what they wrap. A class
    or any other object: every function defined in the classes of its MRO (but ``object``).
    """
    t = type(obj)
    if t is FunctionType:
        return [obj.__code__]
    if depth > 3:
        return []
    if t is MethodType:
        return _code(obj.__func__, depth + 1)
    if t is partial:
        return _code(obj.func, depth + 1)
    if t in (staticmethod, classmethod):
        return _code(obj.__func__, depth + 1)
    if t is property:
        return [c for f in (obj.fget, obj.fset, obj.fdel) for c in _code(f, depth + 1)]
    if t is BuiltinFunctionType or obj is None:
        return []
    klass = obj if issubclass(t, type) else t
    out = []
    for base in _type_mro(klass):
        if base is object:
            continue
        for _, value in _entries(_type_dict(base)):
            if type(value) in (FunctionType, staticmethod, classmethod, property):
                out += _code(value, depth + 1)
    return out


def _module_of(obj) -> str:
    """The module an object was defined in (a function's, a class's, a module's name), or ''."""
    t = type(obj)
    if t in (FunctionType, BuiltinFunctionType):
        name = obj.__module__
    elif t is ModuleType:
        name = _lookup(_module_dict(obj), "__name__")
    elif issubclass(t, type):
        name = _lookup(_type_dict(obj), "__module__")
    else:
        return ""
    return name if type(name) is str else ""


class GradingGuardError(PermissionError):
    """Raised in the kernel when a submission does what grading forbids."""


def _is_write(mode, flags) -> bool:
    if type(mode) is str:
        return any(ch in mode for ch in "wax+")
    return type(flags) is int and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


def _imports_reference(tree, namespace: dict, modules: dict, allowed=frozenset()) -> str | None:
    """The first way ``tree`` reaches the reference implementation, or None.

    ``import reference...``; ``from reference... import``; ``__import__`` / ``import_module`` with a
    string naming it; ``sys.modules[...]`` (or ``.get``) of one; an import, from the checks, of a name
    that *is* a reference object; or
    ``alias.name`` where ``alias`` is a module in ``namespace`` and ``name`` a reference object.
    ``namespace`` and ``modules`` (``sys.modules``) are plain copies with exact-str keys (``_entries``).
    ``allowed`` holds the ``(module, name)`` pairs the instructor's own cells import (helpers such as
    a numerical gradient): a student may import those too.
    """
    def is_ref(name: str) -> bool:
        return name == "reference" or name.startswith("reference.")

    def ref_object(obj) -> bool:
        return is_ref(_module_of(obj))

    def is_modules(node) -> bool:   # sys.modules, or a name bound to it
        return (isinstance(node, Attribute) and node.attr == "modules") or \
            (isinstance(node, Name) and namespace.get(node.id) is _MODULES)

    def member(module, name: str):
        names = _module_vars(module)
        return None if names is None else names.get(name)

    for node in walk(tree):
        if isinstance(node, Import) and any(is_ref(a.name) for a in node.names):
            return f"import {', '.join(a.name for a in node.names)}"
        if isinstance(node, ImportFrom) and node.module:
            for a in node.names:
                if (node.module, a.name) in allowed:
                    continue
                if is_ref(node.module):
                    return f"from {node.module} import {a.name}"
                module = modules.get(node.module)   # e.g. from autograder.questions.bptt import ref
                if module is not None and ref_object(member(module, a.name)):
                    return f"from {node.module} import {a.name} (the reference implementation)"
        if isinstance(node, Call) and node.args and isinstance(node.args[0], Constant):
            fn = node.func.attr if isinstance(node.func, Attribute) else getattr(node.func, "id", "")
            if fn in ("__import__", "import_module") and is_ref(str(node.args[0].value)):
                return f"{fn}({node.args[0].value!r})"
            if fn in ("get", "pop", "setdefault", "__getitem__") and isinstance(node.func, Attribute) \
                    and is_modules(node.func.value) and is_ref(str(node.args[0].value)):
                return f"sys.modules.{fn}({node.args[0].value!r})"
        if isinstance(node, Subscript) and is_modules(node.value) and isinstance(node.slice, Constant) \
                and is_ref(str(node.slice.value)):
            return f"sys.modules[{node.slice.value!r}]"   # a module some cell of the notebook imported
        if isinstance(node, Attribute) and isinstance(node.value, Name) \
                and type(namespace.get(node.value.id)) is ModuleType \
                and ref_object(member(namespace[node.value.id], node.attr)):
                return f"{node.value.id}.{node.attr} (the reference implementation)"
    return None


def _raw(obj, name: str):
    """``obj.name`` as stored, without running a descriptor: the instance's ``__dict__``, traitlets'
    ``_trait_values`` (where the kernel's traits live), then the real dicts of its class's MRO."""
    if obj is None:
        return None
    try:
        inst = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        inst = {}
    for mapping in (inst, _lookup(inst, "_trait_values")):
        found = _lookup(mapping, name)
        if found is not None:
            return found
    for base in _type_mro(type(obj)):
        found = _lookup(_type_dict(base), name)
        if found is not None:
            return found
    return None


def _fd_path(fd) -> str | None:
    """The path a directory file descriptor stands for (``dir_fd``), from ``/proc/self/fd``."""
    if type(fd) is not int or fd < 0:
        return None
    try:
        return readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _sqlite_paths(database: str) -> list[str]:
    """The files ``sqlite3.connect(database)`` may open: the name itself, or a ``file:`` URI's path."""
    if database in ("", ":memory:"):
        return []
    paths = [database]
    if database.startswith("file:"):    # file:path, file:/path, file:///path, file://localhost/path
        uri = unquote(database[len("file:"):].split("?", 1)[0].split("#", 1)[0])
        if uri.startswith("//"):
            uri = "/" + uri[2:].partition("/")[2]
        paths.append(uri)
    return [p for p in paths if p and p not in ("/", ":memory:")]


# File-system events other than ``open``: what the call does, and for each path argument the index of
# the directory file descriptor it is relative to (None: the working directory) and whether the call
# follows a symlink there (a link's target and a listed directory: yes; what is removed, renamed or
# created: no, the link itself is).
FILE_EVENTS = {
    "os.rename": ("renames", ((0, 2, False), (1, 3, False))),
    "os.remove": ("removes", ((0, 1, False),)),
    "os.rmdir": ("removes", ((0, 1, False),)),
    "shutil.rmtree": ("removes", ((0, 1, False),)),
    "os.link": ("links", ((0, 2, True), (1, 3, False))),
    "os.symlink": ("links", ((0, None, True), (1, 2, False))),
    "os.listdir": ("lists", ((0, None, True),)),
    "os.scandir": ("lists", ((0, None, True),)),
}


class Guard:
    def __init__(self, protected, trusted_sources, modules, report_fd=2):
        from ipykernel.compiler import get_file_name, get_tmp_directory

        self.protected = [realpath(p) for p in protected]
        self.cell_dir = get_tmp_directory() + os.sep
        self.trusted = {get_file_name(src) for src in trusted_sources}
        self.allowed_writes = [realpath(os.getcwd()), realpath(tempfile.gettempdir())]
        # the installed environment and the course's packages: library code even where they lie under
        # the temp dir (a CI checkout or a scratch venv in /tmp); the sandbox binds them read-only
        self.library_roots = sorted({realpath(p) for p in (sys.prefix, sys.base_prefix,
                                                           os.path.dirname(os.path.dirname(__file__)),
                                                           os.path.dirname(_reference_dir()))})
        self.report_fd = report_fd
        self.reported = set()
        self.active = False
        self.aliases = self._aliases(trusted_sources)
        self.allowed = {tuple(target.rsplit(".", 1)) for target in self.aliases.values() if "." in target}
        # What the hook reads later is taken now, while only the grader's code has run.
        self.sys_modules = sys.modules
        shell_module = sys.modules.get("IPython.core.interactiveshell")   # the kernel's shell, if any
        self.shell = getattr(shell_module.InteractiveShell, "_instance", None) if shell_module else None
        self.frozen = {f"<frozen {n}>" for n in _frozen_module_names()} | {
            f"<frozen {n}>" for n, m in list(sys.modules.items())
            if getattr(getattr(m, "__spec__", None), "origin", None) == "frozen"}
        self.library_files = {}    # co_filename -> is it an actual library file (cached)
        for name in modules:
            __import__(name)
        self.snapshot = self._take_snapshot(self._watched())

    # --- who is acting ---------------------------------------------------------------------------
    def _library(self, name: str) -> bool:
        """Is ``name`` (a ``co_filename``) an actual library file, outside the working copy and temp dir?

        ``<string>``, ``<stdin>``, any other made-up name, and modules the submission wrote itself are not.
        """
        known = self.library_files.get(name)
        if known is None:
            if name.startswith("<frozen "):
                known = name in self.frozen
            else:
                real = realpath(name) if isabs(name) else ""
                known = bool(real) and isfile(real) and (self._inside(real, self.library_roots)
                                                         or not self._inside(real, self.allowed_writes))
            self.library_files[name] = known
        return known

    def _student_file(self, name: str) -> bool:
        if name.startswith(self.cell_dir):
            return name not in self.trusted
        return not self._library(name)

    def culprit(self, direct: bool = False) -> str:
        """'student', 'trusted' or 'library'.

        By the innermost frame that is a notebook cell or is not a library file (code the student
        made up counts as the student's); with ``direct``, by the first frame outside the standard
        library, so that a library doing its own work (torch loading its native code, hypothesis
        walking the garbage collector) while a student's cell runs is not blamed.
        """
        frame = _getframe(1)
        while frame is not None and _plain(frame.f_code.co_filename) == __file__:   # the guard's own frames
            frame = frame.f_back
        while frame is not None:
            name = _plain(frame.f_code.co_filename) or ""
            if name.startswith(self.cell_dir):
                return "trusted" if name in self.trusted else "student"
            if not self._library(name):
                return "student"
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

    def _modules(self) -> dict:
        """``sys.modules`` (the real one, taken at install) as a plain dict with exact-str names."""
        return dict(_entries(self.sys_modules))

    def _watched(self):
        for name, module in self._modules().items():
            if module is not None and (name.startswith(WATCHED_PREFIXES) or name in WATCHED_MODULES):
                yield name, module

    @staticmethod
    def _members(klass) -> dict:
        return dict(_entries(_type_dict(klass)))

    def _take_snapshot(self, items) -> dict:
        """name -> (id(module), {attr: id}) for the callables, their code and class members."""
        snap = {}
        for name, module in items:
            names = _module_vars(module)
            if names is None:
                continue
            entries = {}
            for attr, value in names.items():
                if name == "builtins" and attr in KERNEL_BUILTINS:
                    continue
                if callable(value) or type(value) is ModuleType:
                    entries[attr] = id(value)
                    if type(value) is FunctionType:
                        entries[attr + ".__code__"] = id(value.__code__)
                    if issubclass(type(value), type) and _module_of(value) == name:
                        for m, f in self._members(value).items():
                            if callable(f):
                                entries[f"{attr}.{m}"] = id(f)
            snap[name] = (id(module), entries)
        return snap

    def _hooks(self):
        """(name, object) for the kernel machinery that decides whether a cell errs."""
        sys_vars = _module_dict(sys)
        out = [("sys.excepthook", _lookup(sys_vars, "excepthook")),
               ("sys.displayhook", _lookup(sys_vars, "displayhook"))]
        shell = self.shell
        if shell is None:
            return out
        out += [(f"shell.{h}", _raw(shell, h)) for h in SHELL_HOOKS]
        kernel = _raw(shell, "kernel")
        if kernel is not None:
            out += [(f"kernel.{h}", _raw(kernel, h)) for h in KERNEL_HOOKS]
            session = _raw(kernel, "session")
            out += [(f"kernel.session.{h}", _raw(session, h)) for h in SESSION_HOOKS]
            out += [(f"kernel.shell_handlers[{k!r}]", v) for k, v in _entries(_raw(kernel, "shell_handlers"))]
        for event, callbacks in _entries(_raw(_raw(shell, "events"), "callbacks")):
            if type(callbacks) is list:
                out += [(f"shell.events[{event!r}]", cb) for cb in callbacks]
        for label in ("ast_transformers", "input_transformers_post"):
            items = _raw(shell, label)
            if type(items) is list:
                out += [(f"shell.{label}[{i}]", t) for i, t in enumerate(items)]
        return out

    def _from_student_cell(self, obj) -> bool:
        """Is ``obj`` (a function, method, partial, class or callable object) code of the student's?"""
        for code in _code(obj):
            if self._student_file(_plain(code.co_filename) or ""):
                return True
        return False

    def tampering(self) -> str | None:
        """What of the checks' world was replaced since the kernel started, or None."""
        for name, module in self._watched():
            if name not in self.snapshot:   # imported since the last look: watch it from now on
                if type(module) is ModuleType:
                    self.snapshot.update(self._take_snapshot([(name, module)]))
                elif name.startswith(WATCHED_PREFIXES):
                    return f"sys.modules[{name!r}] is not a module"
                continue
            mod_id, entries = self.snapshot[name]
            if id(module) != mod_id:
                return f"sys.modules[{name!r}] was replaced"
            now = _module_vars(module)
            members = {}    # id(class) -> its members, read once per look
            for attr, oid in entries.items():
                base, _, sub = attr.partition(".")
                value = now.get(base)
                if sub == "__code__":
                    value = value.__code__ if type(value) is FunctionType else None
                elif sub:
                    if issubclass(type(value), type):
                        if id(value) not in members:
                            members[id(value)] = self._members(value)
                        value = members[id(value)].get(sub)
                    else:
                        value = None
                if value is None or id(value) != oid:
                    if name.startswith(WATCHED_PREFIXES) or name in STRICT_MODULES \
                            or self._from_student_cell(value):
                        return f"{name}.{attr} was replaced or deleted"
                    entries[attr] = id(value)   # one library patching another
        for label, hook in self._hooks():
            if hook is not None and self._from_student_cell(hook):
                return f"{label} was replaced by the submission's own code"
        if self.shell is not None:
            user_ns = dict(_entries(_raw(self.shell, "_user_ns")))   # user_ns is a property
            expected = self.expected_aliases
            for alias, target in self.aliases.items():   # the checks' module, e.g. ``check``
                if not target.startswith("autograder"):
                    continue
                if alias in user_ns and target in expected and user_ns[alias] is not expected[target]:
                    return f"the name {alias!r}, which the test cells use, was rebound"
        return None

    @property
    def expected_aliases(self) -> dict:
        modules = self._modules()
        out = {}
        for target in self.aliases.values():
            if target in modules:
                out[target] = modules[target]
            else:
                parent, _, attr = target.rpartition(".")
                names = _module_vars(modules.get(parent))
                if names is not None and attr in names:
                    out[target] = names[attr]
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

    @staticmethod
    def _inside(real: str, roots) -> bool:
        return any(real == p or real.startswith(p + os.sep) for p in roots)

    def _is_protected(self, real: str) -> bool:
        return self._inside(real, self.protected) or \
            (real.startswith("/proc/") and real.endswith(("/environ", "/mem", "/fd")))

    def _paths(self, args: tuple, spec) -> list[str]:
        """The real paths of a file event's arguments, ``dir_fd`` resolved; unreadable ones left out."""
        out = []
        for i, fd_index, follow in spec:
            raw = args[i] if i < len(args) else None
            if type(raw) is int:                      # os.scandir(fd) / os.listdir(fd)
                path = _fd_path(raw)
            else:
                path = _plain(raw)
                base = _fd_path(args[fd_index]) if fd_index is not None and fd_index < len(args) else None
                if path is not None and base is not None and not isabs(path):
                    path = _join(base, path)
            if path:
                head, tail = os.path.split(path.rstrip(os.sep) or os.sep)
                out.append(realpath(path) if follow or not tail else _join(realpath(head or "."), tail))
        return out

    def _on(self, event: str, args: tuple) -> None:
        if type(args) is not tuple:
            return
        if event == "open":
            raw, mode, flags = (args + (None, None))[:3]
            path = _plain(raw)
            if path is None:    # a file descriptor, or nothing we can read without running it
                return
            real = realpath(path)
            if self._is_protected(real):
                self.violation("forbidden-file", f"opens {real}, which belongs to the course, not the submission")
            outside = not self._inside(real, self.allowed_writes)
            if _is_write(mode, flags) and outside and self.culprit(direct=True) == "student":
                self.violation("forbidden-file", f"writes {real}, outside its working copy")
            # os.open of a directory: the way to open files relative to it (dir_fd), which the
            # events of those opens do not show
            if mode is None and (outside or any(p.startswith(real + os.sep) for p in self.protected)) \
                    and isdir(real) and self.culprit(direct=True) == "student":
                self.violation("forbidden-file", f"opens the directory {real} (for dir_fd), outside its working copy")
        elif event in FILE_EVENTS:
            what, spec = FILE_EVENTS[event]
            for real in self._paths(args, spec):
                if self._is_protected(real):
                    self.violation("forbidden-file", f"{what} {real}, which belongs to the course ({event})")
                if what != "lists" and not self._inside(real, self.allowed_writes) \
                        and self.culprit(direct=True) == "student":
                    self.violation("forbidden-file", f"{what} {real}, outside its working copy ({event})")
        elif event == "sqlite3.connect":
            database = _plain(args[0]) if args else None
            for path in _sqlite_paths(database) if database is not None else ():
                real = realpath(path)
                if self._is_protected(real):
                    self.violation("forbidden-file", f"opens the database {real}, which belongs to the course")
                if not self._inside(real, self.allowed_writes) and self.culprit(direct=True) == "student":
                    self.violation("forbidden-file", f"opens the database {real}, outside its working copy")
        elif event in DENIED_EVENTS:
            if self.culprit(direct=True) == "student":
                self.violation("forbidden-call", f"{DENIED_EVENTS[event]} ({event})")
        elif event == "compile":
            source, filename = (args + (None, None))[:2]
            if type(source) not in (str, bytes):   # an AST: walking it would run the student's nodes
                return
            fname = _plain(filename) or ""
            student = self._student_file(fname) if fname.startswith(self.cell_dir) else self.culprit() == "student"
            if not student:
                return
            try:
                tree = parse(source)
            except (SyntaxError, ValueError):
                return
            modules = self._modules()
            main = modules.get("__main__")   # IPython's user namespace is __main__'s
            found = _imports_reference(tree, _module_vars(main) or {}, modules, self.allowed)
            if found:
                self.violation("reference-import", f"uses the reference implementation: {found}")
        elif event == "exec":
            code = args[0] if args else None
            if type(code) is CodeType and (_plain(code.co_filename) or "").startswith(self.cell_dir):
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
