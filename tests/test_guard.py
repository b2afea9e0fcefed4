"""The in-kernel tripwire, without a kernel: cells are compiled under the file names ipykernel gives them.

Each case runs in a fresh interpreter (an audit hook cannot be removed again), executes the
instructor's import cell, then the student's cell, then one more cell (where tampering is noticed),
and reports what the guard raised. Honest answers must run untouched: a false alarm would zero an
honest student.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from autograder.course import guard

pytestmark = pytest.mark.xdist_group("guard")

TRUSTED = ("import numpy as np\nfrom autograder.questions import bptt as check\n"
           "from reference.rnn import relative_error\n")
RUNNER = textwrap.dedent("""
    import json, os, sys
    from ipykernel.compiler import get_file_name
    from autograder.course import guard
    trusted, student, protected = json.loads(sys.argv[1])
    guard.install(protected=[protected], trusted_sources=[trusted], modules=["autograder.questions.bptt"])
    ns = vars(sys.modules["__main__"])   # as in IPython, the cells' namespace is __main__'s
    def cell(src):
        exec(compile(src, get_file_name(src), "exec"), ns)
    cell(trusted)
    found = []
    for src in (student, "pass  # the next cell"):
        try:
            cell(src)
        except guard.GradingGuardError as err:
            found.append(str(err))
    print("RESULT" + json.dumps(found))
""")


def layout(tmp_path):
    """A course the submission must not reach (with a gradebook and a notebook) and an empty working copy."""
    protected = tmp_path / "course"
    (protected / "source").mkdir(parents=True)
    (protected / "source" / "answers.ipynb").write_text("{}")
    (protected / "gradebook.db").write_text("")
    work = tmp_path / "work"
    work.mkdir()
    return protected, work


def run_cells(student: str, tmp_path) -> tuple[list[str], list[dict]]:
    protected, work = layout(tmp_path)
    proc = subprocess.run([sys.executable, "-c", RUNNER, json.dumps([TRUSTED, student, str(protected)])],
                          check=False, cwd=work, capture_output=True, text=True, timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[0][len("RESULT"):]), guard.read_report(proc.stderr)


HONEST = {
    "numpy and torch": "import torch\nx = np.tanh(np.ones((3, 4))) @ np.ones(4)\n"
                       "t = torch.ones(3, requires_grad=True)\n(t ** 2).sum().backward()\n",
    "sympy": "import sympy as sp\nw = sp.Symbol('w')\nd = sp.diff(sp.tanh(w * 2), w)\n",
    "a figure saved next to the notebook": "import matplotlib\nmatplotlib.use('Agg')\n"
                                            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
                                            "plt.savefig('figure.png')\n",
    "a temp file": "import tempfile\nwith tempfile.NamedTemporaryFile('w') as f:\n    f.write('x')\n",
    "its own file": "open('notes.txt', 'w').write('h')\nassert open('notes.txt').read() == 'h'\n",
    "calling a check on its own": "try:\n    check.eq6(None)\nexcept AssertionError:\n    pass\n",
    "a function named like the reference": "def reference(x):\n    return x\nr = reference(3)\n",
    "a helper the instructor's cells import": "from reference.rnn import relative_error as rel\n",
    "its own version of that helper": "def relative_error(a, b):\n    return 0.0\n",
    "a dictionary key named reference": "scores = {'reference': 1.0}\nr = scores['reference']\n",
    "sys.modules of a library": "import sys\nnp2 = sys.modules['numpy']\n",
}


@pytest.mark.parametrize("name", HONEST)
def test_honest_code_is_left_alone(name, tmp_path):
    raised, report = run_cells(HONEST[name], tmp_path)
    assert raised == [] and report == []


CHEATS = {
    "import reference": ("import reference.rnn\n", "reference-import", "import reference.rnn"),
    "from reference": ("from reference.rnn import bptt\n", "reference-import", "from reference.rnn import"),
    "importlib": ("import importlib\nr = importlib.import_module('reference.rnn')\n", "reference-import",
                  "import_module('reference.rnn')"),
    "exec a string": ("exec('import reference')\n", "reference-import", "import reference"),
    "sys.modules": ("import sys\nr = sys.modules['reference.rnn']\n", "reference-import",
                    "sys.modules['reference.rnn']"),
    "sys.modules.get": ("import sys\nr = sys.modules.get('reference.rnn')\n", "reference-import",
                        "sys.modules.get('reference.rnn')"),
    "sys.modules by another name": ("from sys import modules as m\nexec(\"r = m['reference.rnn']\")\n",
                                    "reference-import", "sys.modules['reference.rnn']"),
    "through the check module": ("f = check.ref.bptt\n", "reference-import", "check.ref"),
    "patch a check": ("check.eq6 = lambda a: None\n", "tampering", "autograder.questions.bptt.eq6 was replaced"),
    "patch a check's code": ("check._eq6_expected.__code__ = (lambda *a: 0).__code__\n", "tampering",
                             "_eq6_expected.__code__"),
    "blind the guard": ("import os.path\nos.path.realpath = lambda p: '/nowhere'\n", "tampering", "realpath"),
    "patch numpy": ("np.allclose = lambda *a, **k: True\n", "tampering", "numpy.allclose"),
    "patch a builtin": ("import builtins\nbuiltins.abs = lambda x: 0\n", "tampering", "builtins.abs"),
    "read the course": ("open(PROTECTED + '/source/answers.ipynb').read()\n", "forbidden-file", "belongs to the course"),
    "write outside": ("open('/tmp/../' + 'etc-xai-test', 'w')\n", "forbidden-file", "outside its working copy"),
    "a process": ("import subprocess\nsubprocess.run(['true'])\n", "forbidden-call", "starts a process"),
    "os.system": ("import os\nos.system('true')\n", "forbidden-call", "starts a process"),
    "a signal": ("import os\nos.kill(os.getppid(), 0)\n", "forbidden-call", "sends a signal"),
    "the garbage collector": ("import gc\ngc.get_objects()\n", "forbidden-call", "garbage collector"),
    "ctypes": ("import ctypes\nctypes.CDLL(None)\n", "forbidden-call", "ctypes"),
}


@pytest.mark.parametrize("name", CHEATS)
def test_cheats_are_caught_and_reported(name, tmp_path):
    source, kind, detail = CHEATS[name]
    source = source.replace("PROTECTED", repr(str(tmp_path / "course")))
    raised, report = run_cells(source, tmp_path)
    assert raised and detail in raised[0], raised
    assert report and report[0]["kind"] == kind and detail in report[0]["detail"], report


def test_the_report_survives_garbage():
    text = "noise\nXAI-GUARD {\"kind\": \"tampering\", \"detail\": \"x\"}\nXAI-GUARD {broken\n"
    assert guard.read_report(text) == [{"kind": "tampering", "detail": "x"},
                                       {"kind": "garbled", "detail": "XAI-GUARD {broken"}]


# --- many cases in one interpreter: file events, code the student disguised as a library's, and
# objects of the student's that the hook must never call. None of these changes what a later case
# sees (nothing is replaced), so they share one interpreter (one torch import, not thirty).
BATCH_RUNNER = textwrap.dedent("""
    import json, os, sys
    from ipykernel.compiler import get_file_name
    from autograder.course import guard
    trusted, cases, protected = json.loads(sys.argv[1])
    afters = sorted({after for _, after in cases.values()})
    guard.install(protected=[protected], trusted_sources=[trusted] + afters,
                  modules=["autograder.questions.bptt"])
    ns = vars(sys.modules["__main__"])
    def cell(src):
        exec(compile(src, get_file_name(src), "exec"), ns)
    cell(trusted)
    out = {}
    for name, (student, after) in cases.items():
        found, errors = [], []
        ns["CALLS"] = []
        for src in (student, after):
            try:
                cell(src)
            except guard.GradingGuardError as err:
                found.append(str(err))
            except Exception as err:   # a case that breaks must not hide the others
                errors.append(f"{type(err).__name__}: {err}")
        out[name] = [found, list(ns["CALLS"]), errors]
    print("RESULT" + json.dumps(out))
""")

# A str whose methods note when the guard's hook calls them (the hook must read it as a plain str).
SPY = textwrap.dedent("""
    import sys
    from autograder.course import guard as _guard
    def _seen(what):
        f = sys._getframe(2)
        while f is not None:
            if f.f_code.co_filename == _guard.__file__:
                CALLS.append(what)
                return
            f = f.f_back
    class S(str):
        def __eq__(self, other):
            _seen('__eq__'); return str.__eq__(self, other)
        def __hash__(self):
            _seen('__hash__'); return str.__hash__(self)
        def __repr__(self):
            _seen('__repr__'); return str.__repr__(self)
        def __str__(self):
            _seen('__str__'); return str.__str__(self)
        def __format__(self, spec):
            _seen('__format__'); return str.__format__(self, spec)
        def __getattribute__(self, name):
            _seen('.' + name); return str.__getattribute__(self, name)
        def __fspath__(self):
            _seen('__fspath__'); return str.__str__(self)
    class Spy:
        def __call__(self, *a, **k):
            return True
        def __getattribute__(self, name):
            _seen('.' + name); return object.__getattribute__(self, name)
        def __getattr__(self, name):
            _seen('.' + name); raise AttributeError(name)
        def __eq__(self, other):
            _seen('__eq__'); return False
        def __hash__(self):
            _seen('__hash__'); return 0
        def __repr__(self):
            _seen('__repr__'); return 'Spy()'
""")


def run_batch(cases: dict, tmp_path) -> dict:
    """``{name: (student, after)}`` -> ``{name: (raised, calls, other errors)}``; ``after`` is an
    instructor's cell."""
    protected, work = layout(tmp_path)
    cases = {name: (SPY + student.replace("PROTECTED", repr(str(protected))), after)
             for name, (student, after) in cases.items()}
    proc = subprocess.run([sys.executable, "-c", BATCH_RUNNER, json.dumps([TRUSTED, cases, str(protected)])],
                          check=False, cwd=work, capture_output=True, text=True, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, proc.stdout + proc.stderr
    out = {name: tuple(v) for name, v in json.loads(line[0][len("RESULT"):]).items()}
    out["the course is intact"] = [p.relative_to(protected).as_posix() for p in sorted(protected.rglob("*"))]
    return out


# name -> (student's cell, the instructor's cell after it, what the guard must say; None: nothing)
FAKE_LIB = "exec(compile({src!r}, {name!r}, 'exec'))\n"
BATCH = {
    # honest work that touches the new events (temp dirs, the working copy, libraries' own files)
    "torch saves and loads in a temp dir": (
        ("import tempfile, torch\nwith tempfile.TemporaryDirectory() as d:\n"
        "    torch.save({'w': torch.ones(2)}, d + '/m.pt')\n    w = torch.load(d + '/m.pt')['w']\n"), "pass", None),
    "matplotlib saves into a temp dir": (
        ("import matplotlib, tempfile, os\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "with tempfile.TemporaryDirectory() as d:\n    plt.plot([1, 2])\n    plt.savefig(os.path.join(d, 'f.png'))\n"
        "    assert os.listdir(d) == ['f.png']\n"), "pass", None),
    "hypothesis with its example database": (
        ("from hypothesis import given, settings, strategies as st\n@settings(max_examples=20)\n"
        "@given(st.integers())\ndef t(n):\n    assert n + 0 == n\nt()\n"), "pass", None),
    "its own files renamed, listed, removed": (
        ("import os, shutil\nos.makedirs('out/sub', exist_ok=True)\nopen('out/a.txt', 'w').write('a')\n"
        "os.replace('out/a.txt', 'out/b.txt')\nos.link('out/b.txt', 'out/c.txt')\nos.symlink('b.txt', 'out/d.txt')\n"
        "assert sorted(os.listdir('out')) == ['b.txt', 'c.txt', 'd.txt', 'sub']\nos.remove('out/c.txt')\n"
        "shutil.rmtree('out')\n"), "pass", None),
    "sqlite in memory and in the working copy": (
        ("import sqlite3\nsqlite3.connect(':memory:').execute('select 1')\n"
        "sqlite3.connect('mine.db').execute('create table t (x)')\n"), "pass", None),
    "its own str subclass as a path": ("open(S('notes.txt'), 'w').write('x')\n", "pass", None),
    "its own str subclass as a file name for compile": ("exec(compile('x = 1', S('<x>'), 'exec'))\n", "pass", None),
    # the new events
    "remove a course file": ("import os\nos.remove(PROTECTED + '/source/answers.ipynb')\n", "pass",
                             "removes"),
    "rename the gradebook": ("import os\nos.rename(PROTECTED + '/gradebook.db', 'gb.db')\n", "pass", "renames"),
    "replace the gradebook": ("import os\nopen('x.db', 'w').close()\nos.replace('x.db', PROTECTED + '/gradebook.db')\n",
                              "pass", "renames"),
    "rmdir": ("import os\nos.rmdir(PROTECTED + '/source')\n", "pass", "removes"),
    "rmtree": ("import shutil\nshutil.rmtree(PROTECTED)\n", "pass", "removes"),
    "hard link a course file": ("import os\nos.link(PROTECTED + '/source/answers.ipynb', 'a.ipynb')\n", "pass",
                                "links"),
    "symlink to the course": ("import os\nos.symlink(PROTECTED, 'course')\n", "pass", "links"),
    "list the course": ("import os\nos.listdir(PROTECTED)\n", "pass", "lists"),
    "scandir the course": ("import os\nlist(os.scandir(PROTECTED + '/source'))\n", "pass", "lists"),
    "remove outside the working copy": ("import os\nos.remove('/nonexistent-xai-dir/x')\n", "pass",
                                        "outside its working copy"),
    "a directory to open files through dir_fd": (
        ("import os\nfd = os.open(os.path.dirname(PROTECTED), os.O_RDONLY)\n"
        "os.open('course/gradebook.db', os.O_RDONLY, dir_fd=fd)\n"), "pass", "for dir_fd"),
    "the root directory for dir_fd": ("import os\nos.open('/', os.O_RDONLY)\n", "pass", "for dir_fd"),
    "sqlite3 on the gradebook": ("import sqlite3\nsqlite3.connect(PROTECTED + '/gradebook.db')\n", "pass",
                                 "opens the database"),
    "sqlite3 on the gradebook by URI": (
        "import sqlite3\nsqlite3.connect('file:' + PROTECTED + '/gradebook.db?mode=ro', uri=True)\n", "pass",
        "opens the database"),
    "sqlite3 outside the working copy": ("import sqlite3\nsqlite3.connect('/nonexistent-xai-dir/x.db')\n",
                                         "pass", "outside its working copy"),
    # code disguised as a library's: the instructor's cell calls it, no student cell is on the stack
    "a write from code named <string>": (
        FAKE_LIB.format(src="def answer():\n    open('/tmp/../etc-xai-guard-a', 'w')\n", name="<string>"),
        "answer()", "writes /etc-xai-guard-a"),
    "a write from code named like a library file": (
        FAKE_LIB.format(src="def answer():\n    open('/tmp/../etc-xai-guard-b', 'w')\n",
                        name="/usr/lib/python3/dist-packages/numpy/core.py"),
        "answer()", "writes /etc-xai-guard-b"),
    "a reference import from code named <lib>": (
        FAKE_LIB.format(src="def answer():\n    exec('import reference.rnn')\n", name="<lib>"),
        "answer()", "import reference.rnn"),
    "a module the student wrote": (
        ("open('helper.py', 'w').write(\"def answer():\\n    open('/tmp/../etc-xai-guard-c', 'w')\\n\")\n"
        "import sys\nsys.path.insert(0, '.')\nfrom helper import answer\n"), "answer()", "writes /etc-xai-guard-c"),
    # the student's objects where the hook reads
    "a str subclass opening the course": ("open(S(PROTECTED + '/source/answers.ipynb'))\n", "pass",
                                          "belongs to the course"),
    "a str subclass removing the course": ("import os\nos.remove(S(PROTECTED + '/source/answers.ipynb'))\n",
                                           "pass", "removes"),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return run_batch({name: (student, after) for name, (student, after, _) in BATCH.items()},
                     tmp_path_factory.mktemp("batch"))


def test_no_case_removed_or_renamed_a_course_file(batch):
    assert batch["the course is intact"] == ["gradebook.db", "source", "source/answers.ipynb"]


@pytest.mark.parametrize("name", BATCH)
def test_file_events_disguised_code_and_student_objects(name, batch):
    raised, calls, errors = batch[name]
    want = BATCH[name][2]
    assert calls == [], f"the hook called the student's objects: {calls}"
    if want is None:
        assert raised == [] and errors == []
    else:
        assert raised and want in raised[0], raised


# Tampering with objects of the student's making: each replaces something, so each gets an interpreter.
SPY_TAMPERING = {
    "a numpy function replaced by a callable spy": ("np.allclose = Spy()\n", "numpy.allclose was replaced"),
    "a module key that answers __eq__": (
        ("class K(S):\n    def __hash__(self):\n        _seen('__hash__'); return hash('allclose')\n"
        "del np.allclose\nvars(np)[K('x')] = 1\n"   # K takes the first slot 'allclose' is looked up in
        "np.allclose = lambda *a, **k: True\n"), "numpy.allclose was replaced"),
    "a spy posing as a course module": ("import sys\nsys.modules['autograder.fake'] = Spy()\n",
                                        "sys.modules['autograder.fake'] is not a module"),
}


@pytest.mark.parametrize("name", SPY_TAMPERING)
def test_tampering_with_student_objects_is_seen_without_calling_them(name, tmp_path):
    student, detail = SPY_TAMPERING[name]
    got = run_batch({name: (student, "pass")}, tmp_path)
    raised, calls, _ = got[name]
    assert calls == [], f"the hook called the student's objects: {calls}"
    assert raised and detail in raised[0], raised
