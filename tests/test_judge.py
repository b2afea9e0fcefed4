"""The grader-side judge (autograder.remote): the same verdicts as in-process, no oracle in the kernel,
a record the scoring can trust, and a hostile kernel that breaks only its own checks."""
from __future__ import annotations

import inspect
import io
import os
import pickle
import re
import socket
import struct
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import sympy
from hostile_submissions import FRAME_WALKER

from autograder.course import sandbox
from autograder import question as question_module
from autograder.feedback import CheckFailed
from autograder.question import entries
from autograder.questions import bptt as check
from autograder.remote import JUDGED, codec, confirm, judge, kernel, stubs
from reference import rnn as ref

MODULE = "autograder.questions.bptt"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with judge.running(tmp_path_factory.mktemp("judge"), MODULE, sandbox.kernel_environment()) as j:
        yield j


@pytest.fixture
def remote(running):
    conn = kernel.Connection(str(running.socket))
    yield lambda name, *args, **kw: conn.check(MODULE, name, getattr(check, name).title, args, kw)
    conn.close()


def outcome(run):
    """(passed, text) of a check call, as a student sees it."""
    try:
        return True, str(run())
    except CheckFailed as err:
        return False, str(err)


def forward(x, W_xh, W_hh, W_hy, activation="tanh"):
    out = ref.forward(x, W_xh, W_hh, W_hy, activation)
    return out.h, out.o


def transposed(x, W_xh, W_hh, W_hy, activation="tanh"):
    return forward(x, W_xh, W_hh.T, W_hy, activation)


def in_place(x, W_xh, W_hh, W_hy, activation="tanh"):
    W_xh[...] = 0
    return forward(x, W_xh, W_hh, W_hy, activation)


def not_yet(x, W_xh, W_hh, W_hy, activation="tanh"):
    raise NotImplementedError


def crashes(x, W_xh, W_hh, W_hy, activation="tanh"):
    return {"h": 1}["o"]


def a_generator(x, W_xh, W_hh, W_hy, activation="tanh"):
    return (h for h in [x])


def autograd_bptt(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    return check._autograd_gradients(x, targets, W_xh, W_hh, W_hy, activation)


def no_carry(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    loss = check._autograd_gradients(x, targets, W_xh, W_hh, W_hy, activation)[0]
    return (loss, *check._mistaken_bptt(x, targets, W_xh, W_hh, W_hy, activation, carry=False))


w_x, w_h, h_prev, dE_dh, g_prime, dhprev_dwh = sympy.symbols("w_x w_h h_prev dE_dh g_prime dhprev_dwh", real=True)
EQ6 = dE_dh * g_prime * (h_prev + w_h * dhprev_dwh)
DETERMINISTIC = [   # whole texts must agree
    ("eq6", EQ6), ("eq6", sympy.Matrix([[EQ6]])), ("eq6", [EQ6]), ("eq6", "dE_dh*g_prime*(h_prev + w_h*dhprev_dwh)"),
    ("eq6", dE_dh * g_prime * h_prev), ("eq6", dE_dh * (h_prev + w_h * dhprev_dwh)), ("eq6", -EQ6),
    ("eq6", sympy.Function("g")(w_h)), ("eq6", sympy.Matrix([1, 2])), ("eq6", None), ("eq6", 3.5),
    ("unrolled_t3", sympy.Symbol("h1")), ("unrolled_t3", sympy.tanh(w_x)),
    ("vanishing_term", "E"), ("vanishing_term", "A"), ("vanishing_term", "Z"), ("vanishing_term", ["A", "E"]),
    ("rnn_forward", None), ("rnn_forward", not_yet), ("rnn_forward", 3.0), ("bptt", autograd_bptt),
]
FIRST_LINE = [   # a property failure: the reason agrees; the shrunk example depends on the time budget
    #               (properties.SHRINK_SECONDS), so the numbers in it may differ
    ("rnn_forward", transposed), ("rnn_forward", in_place), ("rnn_forward", crashes), ("rnn_forward", a_generator),
    ("bptt", no_carry),
]


@pytest.mark.parametrize("name,answer", DETERMINISTIC, ids=[f"{n}-{i}" for i, (n, _) in enumerate(DETERMINISTIC)])
def test_the_judge_gives_the_verdict_and_text_of_the_in_process_check(name, answer, remote):
    here = outcome(lambda: getattr(check, name)(answer))
    assert outcome(lambda: remote(name, answer)) == here


@pytest.mark.parametrize("name,answer", FIRST_LINE, ids=[f.__name__ for _, f in FIRST_LINE])
def test_a_wrong_function_fails_for_the_same_reason_as_in_process(name, answer, remote):
    def reason(text):   # the diagnosis (on fixed probes) if there is one, else what failed, without numbers
        return text.split("Likely mistake")[1] if "Likely mistake" in text else text.splitlines()[0].split(";")[0]

    here = outcome(lambda: getattr(check, name)(answer))
    there = outcome(lambda: remote(name, answer))
    assert not here[0] and not there[0]
    assert reason(there[1]) == reason(here[1])


def test_a_correct_function_passes_and_prints_the_same_line(remote, capsys):
    assert remote("rnn_forward", forward, batch=True).startswith("✓ RNN forward pass")
    printed = capsys.readouterr().out
    check.rnn_forward(forward, batch=True)
    assert capsys.readouterr().out == printed


def test_the_record_holds_every_verdict_with_its_literal_options(running, remote):
    remote("rnn_forward", forward, batch=True)
    outcome(lambda: remote("vanishing_term", "A"))
    *_, passed, failed = running.verdicts()
    timing = {k: passed.pop(k) for k in ("seconds", "calls", "call_seconds")}
    assert passed == {"check": "rnn_forward", "options": {"batch": True}, "passed": True, "fault": None,
                      "question": "RNN forward pass", "message": passed["message"]}
    assert timing["calls"] > 0 and timing["seconds"] >= timing["call_seconds"] > 0   # where the check's time went
    assert passed["message"].startswith("✓ RNN forward pass: agrees with eqs 1-3")
    assert failed["check"] == "vanishing_term" and not failed["passed"] and failed["message"].startswith("not (A):")


def _attack(source: str, name: str):
    """A hostile case's answer cell, as the function it defines."""
    namespace: dict = {}
    exec(source, namespace)
    return namespace[name]


frame_walker = _attack(FRAME_WALKER, "rnn_forward")   # the check's expected forward pass, from its stack


def test_the_expected_value_is_on_the_stack_in_process_but_not_at_the_judge(remote):
    assert outcome(lambda: check.rnn_forward(frame_walker))[0]   # self-check: within reach
    passed, text = outcome(lambda: remote("rnn_forward", frame_walker))
    assert not passed and "not implemented yet" in text


# --- a hostile kernel ---------------------------------------------------------------------------

def raw(running):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(running.socket))
    return sock, sock.makefile("rwb")


def ask_forward(stream):
    codec.send(stream, {"op": "check", "module": MODULE, "check": "rnn_forward"},
               {"args": [forward], "kwargs": {}}, functions=lambda f: {"handle": 0, "name": "rnn_forward", "params": []})
    message, _ = codec.read_frame(stream)
    assert message["op"] == "call"


def test_a_pickled_answer_fails_the_check_without_being_unpickled(running):
    sock, stream = raw(running)
    with sock, stream:
        ask_forward(stream)
        buffer = io.BytesIO()
        np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
        message = {"op": "call"}
        while message["op"] == "call":   # every call (shrinking, the diagnosis) answered the same way
            codec.write_frame(stream, {"op": "returned", "values": {"value": {"tuple": [{"npy": 0}, {"npy": 0}]}}},
                              [buffer.getvalue()])
            message, _ = codec.read_frame(stream)
    assert not message["passed"]
    assert "cannot be read by the grader: an .npy of dtype object" in running.verdicts()[-1]["message"]


def test_garbage_in_the_middle_of_a_check_ends_that_check_and_the_judge_serves_on(running, remote):
    sock, stream = raw(running)
    with sock, stream:
        ask_forward(stream)
        stream.write(pickle.dumps({"op": "returned"}) + struct.pack(">Q", 1 << 60))
        stream.flush()
        assert stream.read() == b""   # the judge hangs up
    last = running.verdicts()[-1]
    assert last["fault"] == "kernel" and not last["passed"] and "not a frame" in last["message"]
    assert remote("vanishing_term", "E").startswith("✓")


def test_a_check_the_module_does_not_have_is_a_failed_check(running):
    sock, stream = raw(running)
    with sock, stream:
        codec.send(stream, {"op": "check", "module": MODULE, "check": "_eq6_expected"}, {"args": [], "kwargs": {}})
        message, _ = codec.read_frame(stream)
    assert not message["passed"] and "there is no check '_eq6_expected'" in message["reason"]


# --- the stub and the scoring -------------------------------------------------------------------

def test_the_stub_exposes_the_checks_and_nothing_that_computes_an_answer(tmp_path):
    files = stubs.build("bptt", {"rnn_forward", "eq6"})
    assert sorted(files) == ["bptt.frame", "bptt.py"]
    (tmp_path / "bptt.py").write_bytes(files["bptt.py"])
    (tmp_path / "bptt.frame").write_bytes(files["bptt.frame"])
    namespace = {"__name__": "stub_of_bptt", "__file__": str(tmp_path / "bptt.py")}
    exec(compile(files["bptt.py"], namespace["__file__"], "exec"), namespace)  # noqa: S102 - our own stub
    public = {k for k in namespace if not k.startswith("__")}
    assert public == {e.check for e in entries(MODULE)} | {"hint", "define"}
    stub = namespace["bptt"]
    assert inspect.getclosurevars(stub.__wrapped__).nonlocals == {"module": "stub_of_bptt", "name": "bptt"}
    assert stub.title == check.bptt.title and str(stub.__signature__) == str(check.bptt.__signature__)
    with pytest.raises(CheckFailed, match="no answer yet: `bptt` is still None"):
        stub(None)


@pytest.mark.parametrize("assignment", sorted(JUDGED))
def test_the_stub_of_each_judged_assignment_holds_its_checks_and_the_data_its_notebook_reads(assignment, tmp_path):
    """Built from what the instructor's notebook uses: the checks, ``hint`` and plain data, nothing callable
    besides the checks' proxies."""
    module = f"autograder.questions.{assignment}"
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    files = stubs.build(assignment, confirm.used_names(source, module))
    stub_dir = tmp_path / "stub"
    stub_dir.mkdir()
    for name, data in files.items():
        (stub_dir / name.rsplit("/", 1)[-1]).write_bytes(data)
    entry = next(n for n in files if n.endswith(".py")).rsplit("/", 1)[-1]
    namespace = {"__name__": f"stub_of_{assignment}", "__file__": str(stub_dir / entry)}
    exec(compile(files[next(n for n in files if n.endswith(".py"))], namespace["__file__"], "exec"), namespace)  # noqa: S102
    public = {k: v for k, v in namespace.items() if not k.startswith("__")}
    checks = {e.check for e in entries(module)}
    data = set(public) - checks - {"hint", "define"}
    assert checks <= set(public) and all(not callable(public[k]) for k in data), data


def test_the_stub_carries_the_kernel_side_module_and_that_module_reaches_no_answer():
    """``rnn_explain``'s probe (it builds and runs the student's class) goes into the stub as it is: it imports no
    sibling of the check package (they are not in the stub) and nothing of the reference."""
    import ast

    files = stubs.build("rnn_explain")
    assert sorted(files) == ["rnn_explain/__init__.frame", "rnn_explain/__init__.py", "rnn_explain/probe.py"]
    tree = ast.parse(files["rnn_explain/probe.py"])
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in imports)
    named = {n.module for n in imports if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in imports if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in named if m.startswith(("reference", "autograder"))} == {"autograder.feedback", "autograder.question"}


def test_a_kernel_side_function_runs_in_process_and_goes_to_the_kernel_for_a_remote_object():
    from autograder.question import Remote, kernel_side

    @kernel_side
    def size(obj, extra):
        return {"size": len(obj) + extra}

    class Elsewhere(Remote):
        def remote_probe(self, name, args, kwargs):
            return name, args

    assert size([1, 2], 1) == {"size": 3}
    assert size(Elsewhere(), 1) == (f"{__name__}:test_a_kernel_side_function_runs_in_process_and_goes_to_the_"
                                    f"kernel_for_a_remote_object.<locals>.size", (1,))


class Answering(question_module.Remote):
    """A kernel that answers every probe with ``answer`` (a hostile one, for the malformed answers)."""

    def __init__(self, answer):
        self.answer = answer

    def remote_probe(self, name, args, kwargs):
        return self.answer


@pytest.mark.parametrize("answer, where", [
    ("a string", "the result is a str, expected"),
    ({"parameters": True, "parts": {}}, "the result['parameters'] is a bool, expected int"),
    ({"failed": None}, "the result['failed'] is a NoneType, expected str"),
    ({"parameters": 1, "parts": {p: None for p in ("features", "combine", "recur", "head")}, "x": 1},
     "the result has the keys ['parameters', 'parts', 'x']"),
    ({"parameters": 1, "parts": {p: {"count": 1, "layers": [{"shape": [2, "3"], "bias": None}]}
                                 for p in ("features", "combine", "recur", "head")}},
     "the result['parts']['features']['layers'][0]['shape'][1] is a str, expected int"),
])
def test_a_kernel_whose_probe_answer_has_the_wrong_form_fails_the_check_not_the_grader(answer, where):
    from autograder.questions.rnn_explain import cell

    with pytest.raises(CheckFailed) as err:
        cell.deep_cell_parameters(Answering(answer))
    assert "describe sent back something the grader cannot read" in str(err.value)
    assert where in str(err.value)


def test_a_probe_answer_of_the_right_form_is_read_as_before():
    from autograder.questions.rnn_explain import cell

    parts = {p: {"count": 1, "layers": [{"shape": [2, 3], "bias": ["bias", 2]}]} for p in ("features", "combine",
                                                                                           "recur", "head")}
    with pytest.raises(CheckFailed, match="your Deep-7 cell has 4 trainable parameters; Table 4.3 says 271946"):
        cell.deep_cell_parameters(Answering({"parameters": 4, "parts": parts}))


@pytest.mark.parametrize("name", ["autograder.questions.rnn_explain.models:shipped", "os:system",
                                  "autograder.questions.rnn_explain.probe:transfer_weights",
                                  "autograder.questions.rnn_explain.probe:a.b"])
def test_the_kernel_runs_only_kernel_side_functions_of_the_checks(name):
    with pytest.raises(codec.WireError, match="kernel-side function"):
        kernel._probe(name)
    assert kernel._probe("autograder.questions.rnn_explain.probe:describe").kernel_side


def test_a_class_of_the_notebook_travels_as_a_handle_and_a_library_class_stays_opaque():
    Notebook = type("DeepRNN", (), {"__module__": "__main__"})
    table = []

    def describe(fn):
        table.append(fn)
        return {"handle": len(table) - 1}

    stream = io.BytesIO()
    codec.send(stream, {"op": "t"}, {"v": [Notebook, np.float64]}, functions=describe)
    stream.seek(0)
    _, values = codec.receive(stream, functions=lambda d: table[d["handle"]])
    assert values["v"][0] is Notebook and type(values["v"][1]).__name__ == "type" and table == [Notebook]


def test_public_functions_the_notebook_uses_keep_a_module_in_the_kernel():
    with pytest.raises(stubs.StubError, match="function, not data"):
        stubs.build("bptt", {"rnn_examples"})


def test_a_test_cell_keeps_its_points_only_with_a_recorded_pass_of_each_check():
    source = nbformat.read(REPO / "solutions" / "bptt" / "bptt.ipynb", as_version=4)
    required = confirm.required_checks(source, MODULE, {e.check for e in entries(MODULE)})
    assert [(r.check, r.options) for r in required["forward-check"]] == [("rnn_forward", {}),
                                                                         ("rnn_forward", {"batch": True})]
    record = [{"check": "rnn_forward", "options": {}, "passed": True},
              {"check": "eq6", "options": {}, "passed": False, "message": "not equal"},
              {"check": "rnn_forward", "options": {"batch": True}, "passed": True}]
    got = confirm.unconfirmed(required, record)
    assert "forward-check" not in got
    assert got["eq6-check"] == "check.eq6(...): the check failed at the grader (not equal)"
    assert got["bptt-check"] == ("check.bptt(...): the check did not reach the grader; "
                                 "check.bptt(..., batch=True): the check did not reach the grader")


def test_a_tuple_option_is_recorded_as_the_source_states_it():
    """``check.deep_cell_parameters(DeepRNN, seq_lens=(4, 14))``: the record (JSON) and the source agree on [4, 14]."""
    assert confirm.recorded({"seq_lens": (4, 14), "thorough": True, "fn": len}) == {"seq_lens": [4, 14], "thorough": True}
    module = "autograder.questions.rnn_explain"
    __import__(module)   # its checks register on import
    source = nbformat.read(REPO / "solutions" / "rnn_explain" / "rnn_explain.ipynb", as_version=4)
    required = confirm.required_checks(source, module, {e.check for e in entries(module)})
    assert ("deep_cell_parameters", {"seq_lens": [4, 14]}) in [(r.check, r.options) for r in required["test_deep_parameters"]]
    record = [{"check": "deep_cell_parameters", "options": {}, "passed": True},
              {"check": "deep_cell_parameters", "options": {"seq_lens": [4, 14]}, "passed": True}]
    assert "test_deep_parameters" not in confirm.unconfirmed(required, record)


# --- through the real sandbox ---------------------------------------------------------------------

SANDBOXED = ["from autograder.questions import bptt as check\nimport sympy as sp",
             "check.vanishing_term('E')",
             "check.vanishing_term('A')",
             "w_h, h_prev, dE_dh, g_prime, dhprev_dwh = sp.symbols('w_h h_prev dE_dh g_prime dhprev_dwh', real=True)\n"
             "check.eq6(dE_dh * g_prime * h_prev)",
             "import autograder.questions.bptt as m\nprint(sorted(k for k in vars(m) if not k.startswith('__')))",
             "from autograder.questions.bptt import _eq6_expected"]


@pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")
def test_in_the_sandbox_the_checks_answer_as_in_process_from_a_module_without_oracles():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in SANDBOXED])
    judged = sandbox.Judged(MODULE, stubs.build("bptt"))
    ex = sandbox.execute(nbformat.writes(nb), trusted_sources=[], protected=[], judged=judged,
                         limits=sandbox.Limits(cell_timeout=60, wall=300))
    assert ex.problems == [] and ex.findings == [], (ex.problems, ex.log)
    cells = nbformat.reads(ex.notebook, as_version=4).cells
    assert cells[1].outputs[0].text == f"{check.vanishing_term('E')}\n"
    for cell, (name, answer) in zip(cells[2:4], [("vanishing_term", "A"), ("eq6", dE_dh * g_prime * h_prev)]):
        [error] = cell.outputs
        assert (error.ename, error.evalue) == ("CheckFailed", str(outcome(lambda: getattr(check, name)(answer))[1]))
    assert cells[4].outputs[0].text == str(sorted({e.check for e in entries(MODULE)} | {"hint", "define"})) + "\n"
    assert cells[5].outputs[0].ename == "ImportError"
    assert [(v["check"], v["passed"]) for v in ex.verdicts] == [("vanishing_term", True), ("vanishing_term", False),
                                                               ("eq6", False)]


PROBED = ["from autograder.questions import rnn_explain as check\nimport torch",
          "class Unbuilt(torch.nn.Module):\n    def __init__(self, seq_len=7):\n        raise ValueError('later')\n"
          "check.deep_cell_parameters(Unbuilt)",
          "class Tiny(torch.nn.Module):\n    def __init__(self, seq_len=7):\n        super().__init__()\n"
          "        self.features = torch.nn.Linear(3, 2)\ncheck.deep_cell_parameters(Tiny)",
          "from autograder.questions.rnn_explain.lrp import _variant_explain",
          "import autograder.questions.rnn_explain.probe as p\nprint(p.describe.kernel_side)"]


@pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")
def test_in_the_sandbox_a_students_class_is_built_by_the_kernel_side_probe_and_judged_at_the_grader():
    """``rnn_explain``'s stub carries ``probe.py`` and nothing else of the package: the class is built in the
    kernel, the verdict (the same as in process) comes from the grader, the check's internals are absent."""
    from autograder.questions import rnn_explain

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in PROBED])
    judged = sandbox.Judged("autograder.questions.rnn_explain", stubs.build("rnn_explain"))
    ex = sandbox.execute(nbformat.writes(nb), trusted_sources=[], protected=[], judged=judged,
                         limits=sandbox.Limits(cell_timeout=120, wall=300))
    assert ex.problems == [] and ex.findings == [], (ex.problems, ex.log)
    cells = nbformat.reads(ex.notebook, as_version=4).cells
    namespace = {"torch": __import__("torch")}
    for cell in cells[1:3]:
        exec(cell.source.rsplit("\n", 1)[0], namespace)  # noqa: S102 - the classes above, defined here too
        [error] = cell.outputs
        here = outcome(lambda c=cell: rnn_explain.deep_cell_parameters(namespace[c.source.rsplit("(", 1)[1][:-1]]))
        assert (error.ename, error.evalue) == ("CheckFailed", here[1])
    assert "DeepRNN() raised ValueError: later" in cells[1].outputs[0].evalue
    assert "no part named" in cells[2].outputs[0].evalue
    assert cells[3].outputs[0].ename == "ModuleNotFoundError"
    assert cells[4].outputs[0].text == "True\n"
    assert [(v["check"], v["passed"]) for v in ex.verdicts] == [("deep_cell_parameters", False)] * 2


@pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")
def test_a_judge_that_cannot_start_is_the_graders_failure_in_the_record():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    judged = sandbox.Judged("autograder.questions.no_such_assignment", stubs.build("bptt"))
    ex = sandbox.execute(nbformat.writes(nb), trusted_sources=[], protected=[], judged=judged,
                         limits=sandbox.Limits(cell_timeout=60, wall=300))
    [fault] = ex.verdicts
    assert fault["fault"] == "grader" and "the judge server stopped" in fault["message"]
    assert "No module named 'autograder.questions.no_such_assignment'" in fault["message"]


# --- the server: one import per grading process, one forked judge per submission ------------------

SERVED = "judge_server_probe"   # a check module that counts its imports and can crash its judge


@pytest.fixture
def probe_module(tmp_path, monkeypatch):
    """A check module of one check, ``where``: it answers the judge's pid and how many times the
    module was imported (a line per import in ``imports``); ``crash=True`` kills its judge."""
    imports = tmp_path / "imports"
    (tmp_path / f"{SERVED}.py").write_text(f'''
import os
import sys
from autograder.question import question

with open({str(imports)!r}, "a") as f:
    f.write("imported\\n")
STATE = []


@question("Where does the judge run?")
def where(ask, crash=False):
    if crash:
        os._exit(3)
    STATE.append(1)
    return f"pid={{os.getpid()}} state={{len(STATE)}} torch={{'torch' in sys.modules}}"
''')
    env = {**sandbox.kernel_environment(), "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    yield env, imports
    judge.close_servers()


def ask(running, **options):
    conn = kernel.Connection(str(running.socket))
    try:
        return str(conn.check(SERVED, "where", "Where does the judge run?", (), options))
    finally:
        conn.close()


def test_the_server_imports_the_checks_once_and_forks_a_fresh_judge_per_submission(probe_module, tmp_path):
    env, imports = probe_module
    said = []
    for n in range(3):
        folder = tmp_path / f"job{n}"
        folder.mkdir(mode=0o700)
        with judge.running(folder, SERVED, env) as running:
            said.append(ask(running))
        assert running.problem is None and running.verdicts()[0]["passed"]
    assert imports.read_text().splitlines() == ["imported"]
    pids = {m.split()[0] for m in said}
    assert len(pids) == 3 and pids.isdisjoint({f"pid={os.getpid()}"})
    assert all("state=1 " in m for m in said)   # nothing of one judge's state in the next


def test_a_forked_judge_starts_with_what_the_checks_import_inside_their_functions(probe_module, tmp_path):
    env, _ = probe_module   # the module does not import torch; the server did, once, before the fork
    with judge.running(tmp_path, SERVED, env) as running:
        assert ask(running).endswith("torch=True")


def test_a_judge_that_dies_in_a_job_is_reported_and_the_next_job_is_served(probe_module, tmp_path):
    env, _ = probe_module
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with judge.running(tmp_path / "a", SERVED, env) as crashed:
        with pytest.raises(CheckFailed, match="the grader could not be reached"):
            ask(crashed, crash=True)
    assert crashed.problem == "the judge exited with status 3"
    with judge.running(tmp_path / "b", SERVED, env) as served:
        assert ask(served).startswith("pid=")
    assert served.problem is None


def test_a_server_that_was_killed_is_started_again(probe_module, tmp_path):
    env, imports = probe_module
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with judge.running(tmp_path / "a", SERVED, env) as first:
        assert ask(first).startswith("pid=")
    [server] = [s for key, s in judge._servers.items() if key[0] == SERVED]
    server.process.kill()
    server.process.wait()
    with judge.running(tmp_path / "b", SERVED, env) as second:
        assert ask(second).startswith("pid=")
    assert second.problem is None and imports.read_text().splitlines() == ["imported"] * 2


def test_the_server_ends_when_its_grader_closes_it(probe_module, tmp_path):
    env, _ = probe_module
    with judge.running(tmp_path, SERVED, env) as running:
        assert ask(running).startswith("pid=")
    [server] = [s for key, s in judge._servers.items() if key[0] == SERVED]
    judge.close_servers()
    assert server.process.wait(timeout=10) == 0


# --- every judged assignment: the notebook's checks through the judge ----------------------------------

def _notebook(assignment: str, variant: str):
    from autograder.course import submissions as subs

    source = subs.read(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    release = subs.read(REPO / "exercises" / assignment / f"{assignment}.ipynb")
    return nbformat.from_dict({"right": source, "blank": release,
                               "partial": subs.filled_in(release, source, subs.sample(assignment)["answers"])}[variant])


class _Judged:
    """``check.<name>(...)`` of a notebook cell, sent through a judge connection instead."""

    def __init__(self, real, conn):
        self._real, self._conn = real, conn

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not hasattr(attr, "answers"):
            return attr
        return lambda *args, **kw: self._conn.check(self._real.__name__, name, attr.title, args, kw)


@pytest.mark.parametrize("assignment", sorted(JUDGED - {"bptt"}))
@pytest.mark.parametrize("variant", ["right", "partial", "blank"])
def test_each_check_cell_of_a_judged_notebook_says_the_same_through_the_judge(assignment, variant, tmp_path,
                                                                              monkeypatch, capsys):
    """The answer cells run here; every check cell then runs twice, in process and through the judge: same
    verdict, same reason (for the solution, the partly wrong sample and the blank release)."""
    import contextlib
    import importlib

    module = f"autograder.questions.{assignment}"
    real = importlib.import_module(module)
    nb = _notebook(assignment, variant)
    monkeypatch.chdir(REPO / "solutions" / assignment)
    monkeypatch.setenv("MPLBACKEND", "Agg")

    def outcome(source, namespace):
        try:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                exec(compile(source, "cell", "exec"), namespace)  # noqa: S102 - the course's own notebook
            return True, out.getvalue()
        except CheckFailed as err:
            return False, str(err)

    namespace: dict = {"__name__": "__main__"}
    compared = []
    import torch

    restore = contextlib.ExitStack()   # rnn_explain's notebook switches autograd off for the whole process
    restore.callback(torch.set_grad_enabled, torch.is_grad_enabled())
    with restore, judge.running(tmp_path, module, sandbox.kernel_environment()) as running:
        conn = kernel.Connection(str(running.socket))
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if not (cell.metadata.get("nbgrader", {}).get("grade") and "check." in cell.source):
                with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(cell.source, "cell", "exec"), namespace)  # noqa: S102 - a blank answer raises
                continue
            source = cell.source.replace("check.", "_check.")
            here = outcome(source, {**namespace, "_check": real})
            there = outcome(source, {**namespace, "_check": _Judged(real, conn)})
            compared.append((cell.metadata.nbgrader.grade_id, here, there))
        conn.close()
    plt = __import__("sys").modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")   # the notebook's figures
    # The reason (the first line) is decided on fixed probes; the shrunk example under it, and the numbers
    # a reason quotes from it, may differ, as shrinking stops after a time budget.
    def reason(text):
        return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "<number>", text.split("\n")[0])

    said = [(g, (ok, reason(text)), (ok2, reason(text2))) for g, (ok, text), (ok2, text2) in compared]
    assert said and all(here == there for _, here, there in said), [s for s in said if s[1] != s[2]]
    if variant == "right":
        assert all(here[0] for _, here, _ in compared)
    else:
        assert not all(here[0] for _, here, _ in compared)
