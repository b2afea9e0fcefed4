"""The question layer (autograder.question): the decorator, calling a student's function, the coercions, the
multiple-choice reader, hints; and, over every assignment, that each check has a hint and no module exposes an
oracle."""
import importlib
import inspect
import re
import warnings

import numpy as np
import pytest
import sympy as sp
import torch
from conftest import REPO

from autograder import choices
from autograder.feedback import CheckFailed
from autograder.properties import Violation
from autograder.question import (
    Diagnosis,
    array,
    call,
    each_input_once,
    entries,
    function,
    multiple_choice,
    number,
    question,
    unwrap,
)

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
lam, x = sp.symbols("lam x")


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as err:
        fn(*args, **kwargs)
    return err.value.reason


# --- the decorator ---------------------------------------------------------------------------------

@question("a test question", answers="my_answer", hint="think about it")
def _check_number(ask, value, scale=1.0):
    return ask.passed(f"{ask.number(value, 'my_answer') * scale:g}")


@question("a code question", answers="my_fn")
def _check_function(ask, fn):
    ask.function(fn, "my_fn", "my_fn(x)")
    return ask.passed(str(ask.call(fn, np.ones(2))))


def test_title_once_and_signature_without_ask():
    assert _check_number.title == "a test question"
    assert list(inspect.signature(_check_number).parameters) == ["value", "scale"]
    assert "✓ a test question: 6" in _check_number(3, scale=2)


@pytest.mark.parametrize("blank", [None, ...])
def test_a_blank_answer_is_not_answered_yet(blank):
    assert "no answer yet: `my_answer` is still None" in failure(_check_number, blank)


def test_a_number_where_a_function_is_expected_is_named_truthfully():
    text = failure(_check_function, 2.5)
    assert "expected a function my_fn(x), got a float" in text and "no answer" not in text


def test_errors_become_failed_checks():
    assert "your <lambda> raised ZeroDivisionError" in failure(_check_function, lambda v: 1 / 0)
    assert "not implemented yet" in failure(_check_function, lambda v: (_ for _ in ()).throw(NotImplementedError()))
    assert "should be one number, got a str" in failure(_check_number, "3")


def boom(v):
    return 1 / 0


def test_student_error_names_the_function():
    assert "your boom raised ZeroDivisionError" in failure(_check_function, boom)


# --- calling the student's function ------------------------------------------------------------------

def test_call_works_on_copies_and_names_the_changed_argument():
    w = np.array([[1.0, -1.0]])

    def zplus(a, w, R):
        w[w < 0] = 0
        return a

    with pytest.raises(Violation, match="your zplus changed its argument `w` in place"):
        call(zplus, np.ones(1), w, np.ones(2))
    assert w.tolist() == [[1.0, -1.0]]   # the caller's weights survive


@pytest.mark.parametrize("make, mutate", [
    (lambda: torch.ones(3), lambda t: t.add_(1)),
    (lambda: torch.nn.Linear(2, 2), lambda m: m.weight.data.add_(1)),
    (lambda: [np.ones(2), np.ones(3)], lambda grads: grads[1].__imul__(2)),
    (lambda: {"w": np.ones(2)}, lambda d: d["w"].__iadd__(1)),
])
def test_call_sees_in_place_changes_of_tensors_modules_lists_and_dicts(make, mutate):
    def student(arg):
        mutate(arg)
        return 0

    with pytest.raises(Violation, match="changed its argument `arg` in place"):
        call(student, make())
    assert call(lambda arg: 0, make()) == 0


def test_call_sees_changed_attributes_of_plain_objects():
    class Net:
        def __init__(self):
            self.w1 = np.array([1.0, -2.0])

    def relevance(net):
        net.w1[net.w1 < 0] = 0

    with pytest.raises(Violation, match="`net` in place"):
        call(relevance, Net())


def test_call_is_quiet(capsys):
    def noisy(v):
        print("debug output")
        warnings.warn("careful")
        return np.log(np.zeros(1))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = call(noisy, 1)
    assert np.isneginf(out).all() and "debug output" not in capsys.readouterr().out


def test_call_lets_not_implemented_through_and_adds_context():
    with pytest.raises(NotImplementedError):
        call(lambda: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(Violation, match="your f raised KeyError: 'k'\nIt must accept a dict"):
        call(lambda d: d["k"], {}, name="f", context="\nIt must accept a dict")


def test_within_one_example_each_plain_input_is_run_once_and_each_caller_gets_its_own_copy():
    runs = []

    def double(x, k=2):
        runs.append(x.copy())
        return k * x

    x = np.array([1.0, 2.0])
    with each_input_once():
        first = call(double, x)
        first[0] = 99.0                           # a property that spoils its result
        again = call(double, x.copy())
        other = call(double, x, k=3), call(double, x.astype(np.float32)), call(double, x.reshape(2, 1))
    assert len(runs) == 4 and again.tolist() == [2.0, 4.0] and other[0].tolist() == [3.0, 6.0]
    call(double, x)
    assert len(runs) == 5                         # outside the block every call runs


@pytest.mark.parametrize("args", [
    (torch.ones(2, requires_grad=True),),           # a graph may be what the check looks at
    (torch.nn.Linear(2, 2),),                       # an object: its state is not a key
    ({1, 2},),                                      # a set: no order to key on
    (lambda v: v,),
])
def test_inputs_that_are_not_plain_data_are_run_every_time(args):
    runs = []
    with each_input_once():
        for _ in range(2):
            call(lambda a: runs.append(1), *args)
    assert len(runs) == 2


def test_a_failing_or_graph_carrying_result_is_not_shared():
    runs = []

    def flaky(x):
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("first time")
        return torch.ones(1, requires_grad=True) * x

    with each_input_once():
        with pytest.raises(Violation, match="first time"):
            call(flaky, 1.0)
        call(flaky, 1.0)
        assert call(flaky, 1.0).grad_fn is not None
    assert len(runs) == 3


# --- coercions --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, want", [(2, 2.0), (np.float32(0.5), 0.5), (np.array(3.0), 3.0), (np.array([4.0]), 4.0),
                                         (torch.tensor(1.5), 1.5), (torch.tensor([[2.0]]), 2.0)])
def test_number_accepts_one_number_in_any_wrapper(value, want):
    assert number(value, "r") == want


@pytest.mark.parametrize("value, fragment", [
    ([1.0], "`r` should be one number, got a list"), ("1", "got a str"), (np.ones(3), "array of shape (3,)"),
    (float("nan"), "expected a finite number"), (lambda: 1, "got a function"),
])
def test_number_says_what_is_wrong(value, fragment):
    with pytest.raises(Violation) as err:
        number(value, "r")
    assert fragment in err.value.message


def test_array_demands_what_the_next_cells_need():
    x = torch.zeros(1, 5, requires_grad=True)
    with pytest.raises(Violation, match=r"`x` still requires grad: return it detached \(x.detach\(\)\)"):
        array(x, "x", shape=(5,), detached=True, needed="the next cell plots it")
    with pytest.raises(Violation, match=r"`x` has shape \(1, 5\); expected \(5,\) \(the next cell plots it\): the "
                                        r"same numbers"):
        array(x.detach(), "x", shape=(5,), detached=True, needed="the next cell plots it")
    with pytest.raises(Violation, match="should be a torch tensor of shape"):
        array(np.zeros(5), "x", shape=(5,), tensor=True)
    assert array(x.detach()[0], "x", shape=(5,), detached=True, tensor=True).shape == (5,)
    assert array([[1, 2]], "x").dtype == float
    with pytest.raises(Violation, match="array of numbers, got a str"):
        array("ab", "x")


def test_function():
    assert function(len, "f") is len
    with pytest.raises(Violation, match="expected a function `f`, got a float"):
        function(1.5, "f")


@pytest.mark.parametrize("answer", [
    2 * x, "2*x", [2 * x], (2 * x,), {lam: 2 * x}, [{lam: 2 * x}], sp.Matrix([[2 * x]]), sp.ImmutableMatrix([[2 * x]]),
    np.array(2 * x, dtype=object), sp.Array([2 * x])[0],
])
def test_unwrap_reads_every_shape_solve_returns_as_a_scalar(answer):
    assert sp.simplify(unwrap(answer, "ans", scalar=True, namespace={"x": x}) - 2 * x) == 0


@pytest.mark.parametrize("answer", [[x, 2 * x], (x, 2 * x), sp.Array([x, 2 * x]), np.array([x, 2 * x], dtype=object),
                                    sp.Matrix([x, 2 * x])])
def test_unwrap_reads_vectors_as_columns(answer):
    assert unwrap(answer, "v", scalar=False) == sp.ImmutableMatrix([x, 2 * x])


def test_unwrap_reads_2d_arrays():
    assert unwrap(sp.Array([[x, 1], [0, x]]), "M", scalar=False).shape == (2, 2)


@pytest.mark.parametrize("answer, fragment", [
    (torch.ones(2), "is a torch tensor; expected a SymPy expression"),
    (np.ones(2), "numpy array of numbers"),
    (sp.Eq(lam, 2 * x), "is an equation"),
    ({lam: x, x: 1}, "is a dict"),
    ([{lam: x}, {lam: -x}], "holds 2 solutions"),
    ("2 *) x", "could not parse"),
    ([x, 2 * x], "list of 2 entries; expected one expression"),
    (object(), "expected a SymPy expression"),
    (True, "expected a SymPy expression"),
])
def test_unwrap_says_why_an_answer_is_not_an_expression(answer, fragment):
    with pytest.raises(Violation) as err:
        unwrap(answer, "ans", scalar=True)
    assert fragment in err.value.message


# --- multiple choice ------------------------------------------------------------------------------------

OPTIONS = {"A": "", "B": "", "C": "", "D": ""}


@pytest.mark.parametrize("answer", ["B and C", "B, C", "b c", "BC", "(B), (C)", {"B", "C"}, ["b", "c"], ("C", "B"),
                                    "B und C", "c;b"])
def test_one_reader_for_every_form(answer):
    assert choices.chosen("q", "mc", answer, OPTIONS) == {"B", "C"}


def test_reader_for_numbered_statements_and_lowercase_options():
    numbered = {1: "", 2: "", 3: ""}
    for answer in (3, {3}, [1, 3], "1 and 3", "1, 3", {"1", "3"}):
        assert choices.chosen("q", "s", answer, numbered) <= {1, 3} and 3 in choices.chosen("q", "s", answer, numbered)
    assert choices.chosen("q", "s", "A and C", ("a", "b", "c")) == {"a", "c"}


@pytest.mark.parametrize("answer, fragment", [
    ("E", "unknown option(s) E"), ({1}, "should contain option letters"), (2.5, "should be option letters"),
    ("", "is empty"), (None, "no answer yet"),
])
def test_reader_says_what_is_wrong(answer, fragment):
    assert fragment in failure(choices.chosen, "q", "mc", answer, OPTIONS)


def test_reader_empty_and_single():
    assert choices.chosen("q", "mc", "none", OPTIONS, allow_empty=True) == set()
    assert choices.single("q", "mc", " (b) ", OPTIONS) == "B"
    assert "choose one option" in failure(choices.single, "q", "mc", "B, C", OPTIONS)
    numbered = choices.Choices({1: ("one", True, ""), 2: ("two", False, "why 2"), 4: ("four", True, "why 4")})
    assert "statement 4 is true too: why 4" in failure(choices.grade, "q", "s", {1}, numbered)
    assert "statement 2 is false: why 2" in failure(choices.grade, "q", "s", {1, 2, 4}, numbered)
    assert choices.grade("q", "s", "1, 4", numbered).startswith("✓")


_TABLE = choices.Choices({"A": ("a", True, "A is true"), "B": ("b", False, "B is false"), "C": ("c", True, "C too")})


@multiple_choice("a multiple-choice question", answers="mc_answer", hint="read them all", choices=_TABLE)
def _check_choice(answer):
    """Multiple select over a small table."""


def test_a_multiple_choice_check_is_its_table():
    """The answer's name, the table and the title are written once, in the decorator."""
    assert list(inspect.signature(_check_choice).parameters) == ["answer"]
    assert _check_choice.answers == ("mc_answer",) and _check_choice.choices is _TABLE
    assert _check_choice.__doc__ == "Multiple select over a small table." and _check_choice.__name__ == "_check_choice"
    assert _check_choice("A and C").startswith("✓ a multiple-choice question")
    assert "not (B): B is false" in failure(_check_choice, {"A", "B", "C"})
    assert "you missed one: (C) C too" in failure(_check_choice, "A")
    assert "no answer yet: `mc_answer` is still None" in failure(_check_choice, None)
    assert [e.hint for e in entries(__name__) if e.check == "_check_choice"] == ["read them all"]


# --- diagnosis on chosen probes --------------------------------------------------------------------------

def test_diagnosis_names_a_mistake_only_when_every_probe_agrees():
    mistakes = [("doubled", lambda v: 2 * v), ("squared", lambda v: v ** 2)]
    probes = [(np.array([2.0]),), (np.array([3.0]),)]   # 2 * 2 == 2 ** 2: the first probe alone cannot tell
    assert Diagnosis(lambda v: v ** 2, mistakes, probes).hint() == "squared"
    assert Diagnosis(lambda v: 2 * v, mistakes, probes).hint() == "doubled"
    assert Diagnosis(lambda v: v + 1, mistakes, probes).hint() == ""
    assert Diagnosis(lambda v: 1 / 0, mistakes, probes).hint() == ""


# --- every assignment ---------------------------------------------------------------------------------------

def _module(name):
    return importlib.import_module(f"autograder.questions.{name}")


def _checks(module):
    return {n: f for n, f in vars(module).items() if callable(f) and isinstance(getattr(f, "title", None), str)}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_question_has_a_first_hint_by_name_and_number(name):
    module = _module(name)
    listed = {e.check for e in entries(module.__name__)}
    assert set(_checks(module)) <= listed
    for number_ in range(1, len(listed) + 1):
        text = module.hint(number_)
        assert text.startswith("Hint for '") and len(text.split("': ", 1)[1]) >= 30, text
    for check_name, check in _checks(module).items():
        assert module.hint(check_name) == module.hint(check) == module.hint(check.title)
    with pytest.raises(ValueError, match="no question"):
        module.hint("no such question")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_hint_is_itself_an_accepted_answer(name):
    """The hint, given as the answer to its own question, does not pass: it does not spell out the answer."""
    module = _module(name)
    for check_name, check in _checks(module).items():
        required = [p for p in inspect.signature(check).parameters.values()
                    if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD]
        text = module.hint(check_name).split("': ", 1)[1]
        with pytest.raises(CheckFailed):
            check(*[text] * len(required))


ORACLE = re.compile(r"expected|reference|variant|autograd_gradients|oracle|solution")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_check_modules_expose_no_oracle(name):
    """No public helper returns an expected value: such helpers are private (leading underscore)."""
    modules = [_module(name)]
    modules += [importlib.import_module(f"{modules[0].__name__}.{sub}")
                for sub in ("derivation", "rules", "network", "models", "cell", "lrp", "measures")
                if (REPO / "autograder" / "questions" / name / f"{sub}.py").exists()]
    for module in modules:
        public = [n for n, v in vars(module).items() if not n.startswith("_") and callable(v)
                  and getattr(v, "__module__", "") == module.__name__ and ORACLE.search(n)]
        assert public == [], f"{module.__name__}: {public}"
        tables = [n for n, v in vars(module).items() if not n.startswith("_") and isinstance(v, dict) and v
                  and all(isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], bool) for t in v.values())]
        assert tables == [], f"{module.__name__} exposes the truth of its statements: {tables}"
