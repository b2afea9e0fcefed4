"""Hostile and broken submissions of the ``bptt`` assignment, each with the outcome grading must give.

A case starts from the correct submission (the release filled with the solution) and spoils it.
``expect`` is one of

* ``"full"``: every question full marks (what it did is harmless to grading);
* ``"zero"``: every question 0 (it cheats, or nothing gradable was handed in);
* ``{"zero": [test ids]}``: those questions 0, every other one full marks.

``status`` is what ``parallel.autograde_parallel`` must report (graded / rejected / cheating) and
``log`` a phrase its log line for the instructor must contain. See docs/threat-model.md.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

ASSIGNMENT = "bptt"


@dataclass
class Case:
    name: str
    what: str
    build: Callable          # (correct notebook, course root) -> notebook text | bytes | Link
    #                          | {file name: text | bytes | Link}
    expect: object
    status: str
    log: str


@dataclass
class Link:
    """A file of the submission that is a link to ``target`` (a path in the course, from its root)."""
    target: str
    hard: bool = False


def _cells(nb, grade_id):
    return [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


def insert_before(grade_id: str, source: str):
    """A new cell of the student's, before the cell ``grade_id``."""
    def build(nb, root):
        nb = copy.deepcopy(nb)
        nb.cells.insert(_cells(nb, grade_id)[0], nbformat.v4.new_code_cell(source))
        return nbformat.writes(nb)
    return build


def replace_source(grade_id: str, source: str):
    def build(nb, root):
        nb = copy.deepcopy(nb)
        nb.cells[_cells(nb, grade_id)[0]].source = source
        return nbformat.writes(nb)
    return build


def delete_cell(grade_id: str):
    def build(nb, root):
        nb = copy.deepcopy(nb)
        del nb.cells[_cells(nb, grade_id)[0]]
        return nbformat.writes(nb)
    return build


def rename_cell(grade_id: str, new_id: str):
    def build(nb, root):
        nb = copy.deepcopy(nb)
        nb.cells[_cells(nb, grade_id)[0]].metadata.nbgrader.grade_id = new_id
        return nbformat.writes(nb)
    return build


def duplicate_cell(grade_id: str, source: str):
    """A copy of the cell ``grade_id``, grade id and all, holding ``source``, just before it."""
    def build(nb, root):
        nb = copy.deepcopy(nb)
        at = _cells(nb, grade_id)[0]
        fake = copy.deepcopy(nb.cells[at])
        fake.source, fake.id = source, "fake-" + fake.get("id", "cell")
        nb.cells.insert(at, fake)
        return nbformat.writes(nb)
    return build


def retype_cell(grade_id: str, cell_type: str):
    def build(nb, root):
        nb = copy.deepcopy(nb)
        cell = nb.cells[_cells(nb, grade_id)[0]]
        cell.cell_type = cell_type
        for key in ("outputs", "execution_count"):
            cell.pop(key, None)
        return nbformat.writes(nb)
    return build


def set_metadata(changes: dict):
    """``{grade_id: {key: value}}`` written into the cells' nbgrader metadata."""
    def build(nb, root):
        nb = copy.deepcopy(nb)
        for gid, meta in changes.items():
            nb.cells[_cells(nb, gid)[0]].metadata.nbgrader.update(meta)
        return nbformat.writes(nb)
    return build


def chain(*steps):
    def build(nb, root):
        for step in steps:
            nb = nbformat.reads(step(nb, root), as_version=4)
        return nbformat.writes(nb)
    return build


def with_root(make: Callable[[str], Callable]):
    """A case whose code names a path in the course (a student who found out where it lives)."""
    return lambda nb, root: make(str(root))(nb, root)


# Attacks on the other students and on later runs: each reaches for something only the operating
# system sandbox hides (the course, the shared HOME, the other jobs' kernels, a process outliving the
# job), and does nothing if it finds nothing, so its own correct notebook keeps full marks.
STARTUP_FILE = "00-xai-hostile.py"   # what ``startup-file`` leaves in ~/.ipython for later kernels
STARTUP = (f"%%writefile ~/.ipython/profile_default/startup/{STARTUP_FILE}\n"
           "import os\n"
           "if 'XAI_GUARD' in os.environ:   # a later grading kernel, before its guard: kill it\n"
           "    os._exit(1)\n")
TAMPER = """import os, sqlite3
for folder, _, files in os.walk({root!r}):
    if 'gradebook.db' in files:
        db = os.path.join(folder, 'gradebook.db')
        con = sqlite3.connect(db)
        con.execute('SELECT count(*) FROM grade').fetchone()
        con.executescript('CREATE TRIGGER xai_hostile AFTER UPDATE ON grade BEGIN '
                          'UPDATE grade SET manual_score = 0 WHERE id != new.id; END;')
        con.close()
        os.rename(db, db + '.moved')
"""
DELETE = """import os
def wipe(path):
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            wipe(entry.path)
            os.rmdir(entry.path)
        else:
            os.remove(entry.path)
for part in ('submitted', 'release'):
    wipe(os.path.join({root!r}, part))
"""
# Another job's kernel found through its connection file (with its key) in the temp dir or jupyter's
# runtime dir, which every job used to share: an ``import reference`` sent to it makes that honest
# student a cheater. It watches for 20 s so that it overlaps with its neighbours.
FRAME = """import glob, os, tempfile, time
from ipykernel.connect import get_connection_file
from jupyter_client import BlockingKernelClient
from jupyter_core.paths import jupyter_runtime_dir
mine, seen, framed = os.path.realpath(get_connection_file()), set(), 0
deadline = time.time() + 20
while time.time() < deadline:
    found = glob.glob(os.path.join(tempfile.gettempdir(), '*.json'))
    found += glob.glob(os.path.join(jupyter_runtime_dir(), 'kernel-*.json'))
    for f in {os.path.realpath(f) for f in found} - seen - {mine}:
        seen.add(f)
        try:
            client = BlockingKernelClient(connection_file=f)
            client.load_connection_file()
            client.start_channels()
            client.execute('import reference.rnn', silent=True)
            framed += 1
        except Exception:
            pass
    time.sleep(0.5)
print('kernels framed:', framed)
"""
ORPHAN_MARKER = "613.0417"   # the argument of the ``sleep`` that ``orphan`` leaves behind
ORPHAN = f"get_ipython().system_raw('setsid sleep {ORPHAN_MARKER} > /dev/null 2>&1 &')\n"

# the questions whose answers call rnn_forward: a wrong forward loses them all
FORWARD_USERS = ["forward-check", "bptt-last-check", "bptt-check"]
BLANK_FORWARD = "def rnn_forward(x, W_xh, W_hh, W_hy, activation='tanh'):\n    raise NotImplementedError()\n"

# Attacks on the oracle: what the checks know, taken from the student's own process. In grading the
# kernel holds only the judge's stub (autograder.remote); the answers are computed at the grader.
ORACLE_IMPORT = """try:
    from autograder.questions.bptt import _eq6_expected
    dET_dwh = _eq6_expected()
except ImportError:
    dET_dwh = None
"""
FRAME_WALKER = """import sys

def rnn_forward(x, W_xh, W_hh, W_hy, activation='tanh'):
    frame = sys._getframe(1)
    while frame is not None:   # the check's `want = ref.forward(...)`, if it is on the stack
        for value in list(frame.f_locals.values()):
            if hasattr(value, 'h') and hasattr(value, 'o'):
                return value.h, value.o
        frame = frame.f_back
    raise NotImplementedError()
"""
FAKE_CHECKS = """def _fake(module, name):   # the stub's check closes over these two names
    def check_(ask, *args, **kwargs):
        module, name
        print('\u2713 ' + ask.title)
    return check_

for _name in ('rnn_forward', 'eq6', 'unrolled_t3', 'vanishing_term', 'bptt_last', 'bptt'):
    getattr(check, _name).__wrapped__.__code__ = _fake(0, 0).__code__
"""

CASES = [
    Case("infinite-loop", "an answer cell that never returns",
         replace_source("eq6-answer", "dET_dwh = None\nwhile True:\n    pass\n"),
         {"zero": ["eq6-check"]}, "graded", "per-cell timeout"),
    Case("stubborn-loop", "a loop that swallows the interrupt, so the cell timeout cannot stop it",
         insert_before("eq6-check", "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
                                    "    except KeyboardInterrupt:\n        pass\n"),
         {"zero": ["eq6-check", "unrolled-check", "vanishing-check", "bptt-last-check", "bptt-check"]},
         "graded", "ignored the interrupt"),
    Case("memory-hog", "a cell that allocates far more memory than the machine has",
         insert_before("eq6-check", "hog = [bytearray(1 << 30) for _ in range(64)]\n"),
         "full", "graded", "graded"),
    Case("os-exit", "os._exit kills the kernel after the first check",
         insert_before("eq6-answer", "import os\nos._exit(0)\n"),
         {"zero": ["eq6-check", "unrolled-check", "vanishing-check", "bptt-last-check", "bptt-check"]},
         "graded", "kernel died"),
    Case("sys-exit", "sys.exit in a cell of the student's",
         insert_before("eq6-check", "import sys\nsys.exit(3)\n"), "full", "graded", "graded"),
    Case("edited-test-cell", "a wrong answer with its test cell replaced by a print",
         chain(replace_source("forward-answer", BLANK_FORWARD), replace_source("forward-check", "print('ok')")),
         {"zero": FORWARD_USERS}, "graded", "graded"),
    Case("deleted-test-cell", "a wrong answer with its test cell deleted",
         chain(replace_source("forward-answer", BLANK_FORWARD), delete_cell("forward-check")),
         {"zero": FORWARD_USERS}, "graded", "test cell 'forward-check' was deleted; restored"),
    Case("deleted-answer-cell", "the answer cell deleted",
         delete_cell("eq6-answer"), {"zero": ["eq6-check"]}, "graded", "graded"),
    Case("renamed-answer-cell", "the answer cell's grade id edited",
         rename_cell("eq6-answer", "my-answer"), "full", "graded", "unknown grade id 'my-answer'"),
    Case("monkeypatch-check", "a wrong answer and the check replaced by one that passes",
         chain(replace_source("forward-answer", BLANK_FORWARD),
               insert_before("forward-check", "check.rnn_forward = lambda f: None\n")),
         "zero", "cheating", "autograder.questions.bptt.rnn_forward was replaced"),
    Case("silence-tracebacks", "a blank notebook that hides every error from the test cells",
         chain(replace_source("forward-answer", BLANK_FORWARD),
               insert_before("forward-check", "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                                              "ip._showtraceback = lambda *a, **k: None\n")),
         "zero", "cheating", "showtraceback was replaced"),
    Case("rebind-check", "the name the test cells call replaced by an object that accepts anything",
         chain(replace_source("forward-answer", BLANK_FORWARD),
               insert_before("forward-check", "class Yes:\n    def __getattr__(self, name):\n"
                                              "        return lambda *a, **k: None\ncheck = Yes()\n")),
         "zero", "cheating", "'check', which the test cells use, was rebound"),
    Case("patch-numpy", "numpy's comparison replaced so any answer is close",
         insert_before("forward-check", "np.allclose = lambda *a, **k: True\nnp.testing.assert_allclose = "
                                        "lambda *a, **k: None\n"),
         "zero", "cheating", "numpy"),
    Case("import-reference", "the answer imported from the reference implementation",
         replace_source("bptt-answer", "from reference.rnn import bptt as _reference_bptt\n\n"
                                       "def bptt(x, targets, W_xh, W_hh, W_hy, activation='tanh'):\n"
                                       "    g = _reference_bptt(x, targets, W_xh, W_hh, W_hy, activation)\n"
                                       "    return g.L, g.dW_xh, g.dW_hh, g.dW_hy\n"),
         "zero", "cheating", "uses the reference implementation: from reference.rnn import"),
    Case("reference-through-check", "the reference reached through the checks' own module, which in the "
         "sandbox is the judge's stub: it has no `ref`, so the answer fails",
         replace_source("bptt-answer", "def bptt(x, targets, W_xh, W_hh, W_hy, activation='tanh'):\n"
                                       "    g = check.ref.bptt(x, targets, W_xh, W_hh, W_hy, activation)\n"
                                       "    return g.L, g.dW_xh, g.dW_hh, g.dW_hy\n"),
         {"zero": ["bptt-check"]}, "graded", "graded"),
    Case("oracle-import", "the expected eq 6 imported from the check module's private oracle",
         replace_source("eq6-answer", ORACLE_IMPORT), {"zero": ["eq6-check"]}, "graded", "graded"),
    Case("frame-walker", "a forward pass that takes the expected value from the check's frame (in-process it "
         "sits in a local of the check)", replace_source("forward-answer", FRAME_WALKER),
         {"zero": FORWARD_USERS}, "graded", "graded"),
    Case("fake-checks", "a wrong answer and every check's code swapped for one that prints the ✓ line (the "
         "guard does not watch code objects inside the stub)",
         chain(replace_source("forward-answer", BLANK_FORWARD), insert_before("forward-check", FAKE_CHECKS)),
         "zero", "graded", "the check did not reach the grader"),
    Case("read-hidden-tests", "the instructor's notebook (solutions and hidden tests) read from disk",
         with_root(lambda root: insert_before("forward-check",
                   f"hidden = open({root + '/source/bptt/bptt.ipynb'!r}).read()\n")),
         "zero", "cheating", "belongs to the course"),
    Case("write-gradebook", "the gradebook overwritten",
         with_root(lambda root: insert_before("forward-check",
                   f"open({root + '/gradebook.db'!r}, 'wb').write(b'all A')\n")),
         "zero", "cheating", "gradebook.db"),
    Case("write-other-student", "another student's submission overwritten",
         with_root(lambda root: insert_before("forward-check",
                   f"open({root + '/submitted/solution/bptt/bptt.ipynb'!r}, 'w').write('{{}}')\n")),
         "zero", "cheating", "belongs to the course"),
    Case("shell-escape", "a shell command that deletes the other submissions",
         with_root(lambda root: insert_before("forward-check",
                   f"import subprocess\nsubprocess.run(['rm', '-rf', {root + '/submitted'!r}])\n")),
         "zero", "cheating", "starts a process"),
    Case("huge-output", "fifty megabytes printed, then a million lines",
         insert_before("forward-check", "print('x' * 50_000_000)\nfor i in range(1_000_000):\n    print(i)\n"),
         "full", "graded", "graded"),
    Case("invalid-json", "a notebook cut off half-way (not JSON)",
         lambda nb, root: nbformat.writes(nb)[:5000], "zero", "rejected", "not valid JSON"),
    Case("not-a-notebook", "valid JSON that is not a notebook",
         lambda nb, root: "[1, 2, 3]", "zero", "rejected", "not a notebook"),
    Case("renamed-notebook", "the notebook handed in under another name",
         lambda nb, root: {"bptt (1).ipynb": nbformat.writes(nb)}, "full", "graded", "handed in as 'bptt (1).ipynb'"),
    Case("no-notebook", "a folder with no notebook at all",
         lambda nb, root: {"answers.txt": "I did it on paper"}, "zero", "rejected", "no notebook"),
    Case("poisoned-metadata", "nbgrader metadata nbgrader cannot restore: a schema version it does not know "
         "(which stops its whole run), points as text, a dict where a flag belongs",
         set_metadata({"eq6-check": {"schema_version": 99}, "forward-check": {"points": "all of them"},
                       "bptt-check": {"locked": {"no": True}}}),
         "full", "graded", "nbgrader metadata set back to the instructor's"),
    Case("duplicated-test-cell", "a wrong answer and, under its test cell's grade id, a copy that only prints",
         chain(replace_source("forward-answer", BLANK_FORWARD), duplicate_cell("forward-check", "print('ok')")),
         {"zero": FORWARD_USERS}, "graded", "grade id 'forward-check' is on 2 cells"),
    Case("retyped-test-cell", "a wrong answer and its test cell turned into markdown, so that it would not run",
         chain(replace_source("forward-answer", BLANK_FORWARD), retype_cell("forward-check", "markdown")),
         {"zero": FORWARD_USERS}, "graded", "was turned into a markdown cell; made code again"),
    Case("symlink-notebook", "the notebook a symbolic link to the instructor's (solutions and hidden tests)",
         lambda nb, root: Link("source/bptt/bptt.ipynb"), "zero", "rejected", "is a symbolic link"),
    Case("hard-linked-notebook", "the notebook a hard link to the instructor's",
         lambda nb, root: Link("source/bptt/bptt.ipynb", hard=True), "zero", "rejected",
         "hard link to a file outside the submission"),
    Case("latin-1", "a correct notebook saved in Latin-1 (a comment with an umlaut)",
         lambda nb, root: replace_source("vanishing-answer", nb.cells[_cells(nb, "vanishing-answer")[0]].source
                                         + "\n# Abhängigkeit über viele Schritte\n")(nb, root).encode("latin-1", "replace"),
         "full", "graded", "not UTF-8"),
    Case("startup-file", "an IPython startup file that would kill every later grading kernel before its guard",
         insert_before("forward-check", STARTUP), "full", "graded", "graded"),
    Case("gradebook-tamper", "the gradebook read, given SQLite triggers that zero the others, and renamed",
         with_root(lambda root: insert_before("forward-check", TAMPER.format(root=root))),
         "zero", "cheating", "belongs to the course"),   # the OS hides the course; the guard flags the try
    Case("deleter", "the other students' submitted/ folders and the release deleted with scandir, remove, rmdir",
         with_root(lambda root: insert_before("forward-check", DELETE.format(root=root))),
         "zero", "cheating", "belongs to the course"),   # the OS hides the course; the guard flags the try
    Case("framer", "the other jobs' kernels found through the shared temp dir and made to import the reference",
         insert_before("forward-check", FRAME), "full", "graded", "graded"),
    Case("orphan", "a process started from a cell (through IPython's shell) that would outlive the run",
         insert_before("forward-check", ORPHAN), "full", "graded", "graded"),
]


def expected_scores(case: Case, tests: dict) -> dict:
    """``{test id: points}`` that ``case`` must get, from ``tests`` = ``{test id: max points}``."""
    if case.expect == "full":
        return dict(tests)
    if case.expect == "zero":
        return {gid: 0.0 for gid in tests}
    return {gid: (0.0 if gid in case.expect["zero"] else pts) for gid, pts in tests.items()}


def hand_in(course, inspect: Callable[[str, bytes], None] | None = None, cases: list | None = None) -> list[str]:
    """One student per case in ``course`` (built by ``demo.prepare`` for ASSIGNMENT), each with the
    case's files as nbgrader's ``collect`` would place them; ``inspect(case name, content)`` sees every
    file before it is written; ``cases`` defaults to all. Returns the students' names."""
    from nbgrader.api import Gradebook

    correct = (course.root / "submitted" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    correct_nb = nbformat.reads(correct, as_version=4)
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:   # one session, not one CLI call each
        for case in cases or CASES:
            gb.update_or_create_student(case.name)
    for case in cases or CASES:
        made = case.build(correct_nb, course.root)
        files = made if isinstance(made, dict) else {f"{ASSIGNMENT}.ipynb": made}
        folder = course.root / "submitted" / case.name / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, content in files.items():
            if isinstance(content, Link):
                target = course.root / content.target
                if inspect:
                    inspect(case.name, repr(str(target)).encode())
                (os.link if content.hard else os.symlink)(target, folder / name)
                continue
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            if inspect:
                inspect(case.name, data)
            (folder / name).write_bytes(data)
        (folder / "timestamp.txt").write_text("2026-11-23 12:00:00.000000 UTC")
    return [case.name for case in cases or CASES]


def processes_with(argument: str) -> list[int]:
    """Processes on this machine (in any PID namespace) with ``argument`` on their command line."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and argument.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                out.append(int(entry.name))
        except OSError:
            pass
    return out
