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


def run_cells(student: str, tmp_path) -> tuple[list[str], list[dict]]:
    protected = tmp_path / "course"
    (protected / "source").mkdir(parents=True)
    (protected / "source" / "answers.ipynb").write_text("{}")
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-c", RUNNER, json.dumps([TRUSTED, student, str(protected)])],
                          cwd=work, capture_output=True, text=True, timeout=120)
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
    "through the check module": ("f = check.ref.bptt\n", "reference-import", "check.ref"),
    "patch a check": ("check.eq6 = lambda a: None\n", "tampering", "autograder.questions.bptt.eq6 was replaced"),
    "patch a check's code": ("check.eq6_expected.__code__ = (lambda *a: 0).__code__\n", "tampering",
                             "eq6_expected.__code__"),
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
