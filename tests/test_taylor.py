"""Tests of ``reference.taylor`` and of the ``taylor`` assignment's checks (``autograder.questions.taylor``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from autograder.course import build
from autograder.feedback import CheckFailed
from autograder.properties import arrays
from autograder.questions import taylor as check
from reference import taylor as ref

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def nonzero(n):
    return arrays((n,), -3, 3).filter(lambda v: np.abs(v).sum() >= 0.3)


def affine_examples(max_n=5):
    return st.integers(1, max_n).flatmap(lambda n: st.tuples(nonzero(n), arrays((n,), -5, 5), st.floats(-3, 3)))


# === reference.taylor ==========================================================================

@pytest.mark.parametrize("seed", range(4))
def test_nearest_root_is_the_constrained_minimiser(seed):
    """The closed form equals a numeric solution of min ||xi - x||^2 s.t. w^T xi + b = 0 (SLSQP)."""
    rng = np.random.default_rng(seed)
    n = 2 + seed
    w, x, b = rng.normal(size=n), rng.normal(size=n) * 2, float(rng.normal())
    res = minimize(lambda xi: np.sum((xi - x) ** 2), np.zeros(n), jac=lambda xi: 2 * (xi - x), method="SLSQP",
                   constraints=[{"type": "eq", "fun": lambda xi: w @ xi + b, "jac": lambda xi: w}],
                   options={"ftol": 1e-12, "maxiter": 200})
    assert res.success
    np.testing.assert_allclose(ref.nearest_root_linear(w, x, b), res.x, atol=1e-6)


def test_nearest_root_beats_other_roots_found_by_torch():
    """Projected gradient descent on the hyperplane from random roots never gets closer than x~."""
    torch.manual_seed(0)
    w, x = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.3, 1.2, -2.0])
    best = np.linalg.norm(ref.nearest_root_linear(w.numpy(), x.numpy()) - x.numpy())
    for _ in range(5):
        xi = torch.randn(3)
        xi = xi - (w @ xi) * w / (w @ w)  # start on the hyperplane
        for _ in range(300):
            g = 2 * (xi - x)
            xi = xi - 0.1 * (g - (w @ g) * w / (w @ w))  # a step along the hyperplane
        assert abs(float(w @ xi)) < 1e-5
        assert float(torch.linalg.norm(xi - x)) >= best - 1e-5
    assert np.isclose(float(torch.linalg.norm(xi - x)), best, atol=1e-4)


@FAST
@given(affine_examples())
def test_nearest_root_properties(example):
    w, x, b = example
    r = ref.nearest_root_linear(w, x, b)
    assert abs(w @ r + b) < 1e-9 * (1 + np.abs(w).sum() * np.abs(x).sum() + abs(b))
    d = x - r
    assert np.allclose(d - (d @ w) / (w @ w) * w, 0, atol=1e-9)


@FAST
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(nonzero(n), arrays((n,), -5, 5))))
def test_linear_relevances(example):
    w, x = example
    f = w @ x
    np.testing.assert_allclose(ref.sensitivity_linear(w), w ** 2)
    np.testing.assert_allclose(ref.taylor_linear(w, x, np.zeros_like(x)), w * x)
    R = ref.taylor_nearest_root_linear(w, x)
    np.testing.assert_allclose(R, w ** 2 * f / (w @ w), atol=1e-12)
    assert np.isclose(R.sum(), f, atol=1e-9)                                 # conservation
    assert np.isclose(ref.taylor_linear(w, x, np.zeros_like(x)).sum(), f)    # conservation at 0
    assert np.isclose(ref.sensitivity_linear(w).sum(), w @ w)                # ||grad f||^2, no x


def test_symbolic_and_numeric_forms_agree():
    w, x = check.w, check.x
    values = dict(zip([*w, *x], [0.5, -1.0, 2.0, 1.5, 0.2, -0.7]))
    wn, xn = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.2, -0.7])
    for sym, num in [(ref.sensitivity_linear(w), ref.sensitivity_linear(wn)),
                     (ref.nearest_root_linear(w, x), ref.nearest_root_linear(wn, xn)),
                     (ref.taylor_nearest_root_linear(w, x), ref.taylor_nearest_root_linear(wn, xn))]:
        np.testing.assert_allclose(np.array(sym.subs(values), dtype=float).ravel(), num)


def test_torch_methods_on_linear_and_nonlinear_models():
    w, x = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.3, 1.2, -2.0])
    f = lambda z: z @ w  # noqa: E731
    torch.testing.assert_close(ref.sensitivity(f, x), w ** 2)
    torch.testing.assert_close(ref.gradient_x_input(f, x), w * x)
    root = torch.as_tensor(ref.nearest_root_linear(w.numpy(), x.numpy()), dtype=torch.float32)
    assert torch.isclose(ref.taylor_decomposition(f, x, root).sum(), f(x), atol=1e-5)
    # non-linear: the gradient is taken at the root (finite differences there)
    W = torch.tensor([[0.5, -1.0], [0.3, 0.8], [-0.6, 0.1]])
    g = lambda z: torch.tanh(z @ W).sum()  # noqa: E731
    root = torch.tensor([0.2, -0.1, 0.4])
    eps, fd = 1e-3, []
    for i in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[i] = eps
        gd = lambda z: torch.tanh(z @ W.double()).sum()  # noqa: E731
        fd.append(float(gd(root.double() + e) - gd(root.double() - e)) / (2 * eps))
    want = torch.tensor(fd, dtype=torch.float32) * (x - root)
    torch.testing.assert_close(ref.taylor_decomposition(g, x, root), want, atol=1e-4, rtol=1e-4)


def test_reference_validates_input():
    with pytest.raises(ValueError, match="non-zero"):
        ref.nearest_root_linear(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="same"):
        ref.taylor_linear(np.ones(3), np.ones(2), np.zeros(3))
    with pytest.raises(ValueError, match="scalar output"):
        ref.sensitivity(lambda z: z * 2, torch.ones(3))


# === symbolic questions ========================================================================

# The notebook's real symbols and a student's plain ones: both must work (symbols match by name).
W, X = check.w, check.x
w1, w2, w3 = sp.symbols("w1:4")
x1, x2, x3 = sp.symbols("x1:4")
PW, PX = sp.Matrix([w1, w2, w3]), sp.Matrix([x1, x2, x3])
LAM = sp.Symbol("lam")


def had(a, b):
    return a.multiply_elementwise(b)


def passes(fn, answer):
    assert fn(answer).startswith("✓")


def fails(fn, answer, *hint):
    with pytest.raises(CheckFailed) as err:
        fn(answer)
    for h in hint:
        assert h in err.value.reason, err.value.reason
    return err.value.reason


SENS_OK = [had(W, W), had(PW, PW), sp.Matrix([w1 ** 2, w2 ** 2, w3 ** 2]), [w1 ** 2, w2 ** 2, w3 ** 2],
           sp.Matrix([sp.diff(PW.dot(PX), xi) ** 2 for xi in PX]), PW.applyfunc(lambda v: sp.Abs(v) ** 2),
           np.array([w1 ** 2, w2 ** 2, w3 ** 2], dtype=object)]
SENS_BAD = [(W, "now square it"), (PW.applyfunc(sp.Abs), "not its absolute value"),
            (had(PW, PX), "gradient x input"), (had(had(W, X), had(W, X)), "not the term w_i x_i"),
            (sp.ones(3, 1) * PW.dot(PW), "is the total"), (sp.ones(3, 1) * PW.dot(PX) ** 2, "not the squared output"),
            (2 * W, "not the derivative of a square"), (had(W, W).T, "transpose"), (PW.dot(PW), "got a scalar"),
            (-had(W, W), "wrong sign")]


@pytest.mark.parametrize("answer", SENS_OK)
def test_sensitivity_accepts(answer):
    passes(check.sensitivity, answer)


@pytest.mark.parametrize("answer, hint", SENS_BAD)
def test_sensitivity_rejects(answer, hint):
    fails(check.sensitivity, answer, hint)


T0_OK = [had(W, X), had(PW, PX), sp.Matrix([w1 * x1, w2 * x2, w3 * x3]), [x1 * w1, x2 * w2, x3 * w3],
         had(PW, PX - sp.zeros(3, 1)), sp.Matrix([sp.diff(PW.dot(PX), v) * v for v in PX])]
T0_BAD = [(PW, "multiplies it by (x_i - x~_i)"), (had(W, W), "sensitivity"), (PX, "partial derivative"),
          (had(had(W, X), had(W, X)), "no square"), (-had(PW, PX), "sign"), (sp.ones(3, 1) * W.dot(X), "f(x) in every"),
          (sp.ones(3, 1) * W.dot(X) / 3, "splitting f(x) equally"), (had(W, X).T, "transpose")]


@pytest.mark.parametrize("answer", T0_OK)
def test_taylor_at_zero_accepts(answer):
    passes(check.taylor_at_zero, answer)


@pytest.mark.parametrize("answer, hint", T0_BAD)
def test_taylor_at_zero_rejects(answer, hint):
    fails(check.taylor_at_zero, answer, hint)


XI_OK = [X - LAM * W / 2, PX - LAM * PW / 2, PX - sp.Rational(1, 2) * LAM * PW, (2 * PX - LAM * PW) / 2,
         sp.Matrix([x1 - LAM * w1 / 2, x2 - LAM * w2 / 2, x3 - LAM * w3 / 2]), PX - 0.5 * LAM * PW]
XI_BAD = [(PX + LAM * PW / 2, "sign"), (PX - LAM * PW, "lost the 1/2"), (PX - 2 * LAM * PW, "divide by 2"),
          (-LAM * PW / 2, "add x"), (LAM * PW / 2 - PX, "minus that"), (PX - PW / 2, "not equal")]


@pytest.mark.parametrize("answer", XI_OK)
def test_stationarity_accepts(answer):
    passes(check.stationarity, answer)


@pytest.mark.parametrize("answer, hint", XI_BAD)
def test_stationarity_rejects(answer, hint):
    fails(check.stationarity, answer, hint)


def test_stationarity_by_solving_the_lagrangian():
    xi = sp.Matrix(sp.symbols("xi1:4"))
    L = (xi - PX).dot(xi - PX) + LAM * PW.dot(xi)
    sol = sp.solve([L.diff(v) for v in xi], list(xi), dict=True)[0]
    passes(check.stationarity, xi.subs(sol))


LAM_OK = [2 * W.dot(X) / W.dot(W), 2 * (PW.T * PX)[0] / (PW.T * PW)[0], PW.T * PX * 2 / PW.norm() ** 2,
          sp.solve(PW.dot(PX - LAM * PW / 2), LAM), sp.solve(PW.dot(PX - LAM * PW / 2), LAM, dict=True)[0],
          (2 * w1 * x1 + 2 * w2 * x2 + 2 * w3 * x3) / (w1 ** 2 + w2 ** 2 + w3 ** 2),
          "2*(w1*x1 + w2*x2 + w3*x3)/(w1**2 + w2**2 + w3**2)"]
LAM_BAD = [(W.dot(X) / W.dot(W), "lost the factor 2"), (-2 * W.dot(X) / W.dot(W), "sign"),
           (2 * W.dot(X), "divide by ||w||^2"), (W.dot(X), "solve for lam"),
           (2 * PW.dot(PX) / PW.norm(), "not ||w||"), (W.dot(W) / (2 * W.dot(X)), "inverted"),
           (2 * W.dot(X) / W.dot(W) + LAM, "still contains lam"), (sp.Eq(LAM, 2 * W.dot(X) / W.dot(W)), "equation")]


@pytest.mark.parametrize("answer", LAM_OK)
def test_multiplier_accepts(answer):
    passes(check.multiplier, answer)


@pytest.mark.parametrize("answer, hint", LAM_BAD)
def test_multiplier_rejects(answer, hint):
    fails(check.multiplier, answer, hint)


ROOT_OK = [X - W.dot(X) * W / W.dot(W), PX - PW * (PW.T * PX) / PW.norm() ** 2,
           (sp.eye(3) - PW * PW.T / PW.dot(PW)) * PX, PX - PW.normalized() * PW.normalized().dot(PX),
           (PX - LAM * PW / 2).subs(LAM, 2 * PW.dot(PX) / PW.dot(PW)),
           sp.Matrix([v - PW.dot(PX) * wi / (w1 ** 2 + w2 ** 2 + w3 ** 2) for v, wi in zip(PX, PW)]),
           sp.simplify(X - W.dot(X) * W / W.dot(W))]
ROOT_BAD = [(X - W.dot(X) * W, "missing normalisation"), (X - W.dot(X) * W / sp.sqrt(W.dot(W)), "not by ||w||"),
            (X + W.dot(X) * W / W.dot(W), "sign"), (W.dot(X) * W / W.dot(W), "that is x - x~"),
            (-W.dot(X) * W / W.dot(W), "you forgot x"), (X - 2 * W.dot(X) * W / W.dot(W), "mirror image"),
            (sp.zeros(3, 1), "0 is a root"), (X - W / W.dot(W), "scaled by w^T x"),
            (X - LAM * W / 2, "still contains lam"), (X, "not equal")]


@pytest.mark.parametrize("answer", ROOT_OK)
def test_root_point_accepts(answer):
    passes(check.root_point, answer)


@pytest.mark.parametrize("answer, hint", ROOT_BAD)
def test_root_point_rejects(answer, hint):
    fails(check.root_point, answer, hint)


def test_root_point_properties():
    passes(check.root_point_properties, PX - PW * PW.dot(PX) / PW.dot(PW))
    fails(check.root_point_properties, PX - PW * PW.dot(PX), "not a root", "smallest")
    fails(check.root_point_properties, sp.zeros(3, 1), "not parallel to w")
    fails(check.root_point_properties, PX - LAM * PW, "uses lam")
    fails(check.root_point_properties, None, "no answer yet")


RN_OK = [had(W, W) * W.dot(X) / W.dot(W), had(PW, PX - (PX - PW * PW.dot(PX) / PW.dot(PW))),
         sp.Matrix([wi ** 2 * (w1 * x1 + w2 * x2 + w3 * x3) / (w1 ** 2 + w2 ** 2 + w3 ** 2) for wi in PW]),
         had(PW, PW.normalized()) * PW.normalized().dot(PX), had(PW, PW) * (PW.T * PX) / PW.norm() ** 2,
         sp.simplify(had(W, W * W.dot(X) / W.dot(W)))]
RN_BAD = [(had(W, X), "root 0"), (had(W, W), "sensitivity"), (had(W, W) * W.dot(X), "missing normalisation"),
          (had(W, W) * W.dot(X) / sp.sqrt(W.dot(W)), "not by ||w||"),
          (had(W, X - W * W.dot(X) / W.dot(W)), "*difference*"), (-had(W, W) * W.dot(X) / W.dot(W), "sign"),
          (W * W.dot(X) / W.dot(W), "that is x - x~"), (had(W, W) * W.dot(X) ** 2 / W.dot(W), "no (w^T x)^2")]


@pytest.mark.parametrize("answer", RN_OK)
def test_taylor_at_nearest_root_accepts(answer):
    passes(check.taylor_at_nearest_root, answer)


@pytest.mark.parametrize("answer, hint", RN_BAD)
def test_taylor_at_nearest_root_rejects(answer, hint):
    fails(check.taylor_at_nearest_root, answer, hint)


def test_conserves():
    passes(check.conserves, had(PW, PX))
    passes(check.conserves, had(W, W) * W.dot(X) / W.dot(W))
    fails(check.conserves, had(W, W), "sensitivity's total")
    fails(check.conserves, -had(W, X), "sign")


@pytest.mark.parametrize("fn", [check.sensitivity, check.taylor_at_zero, check.stationarity, check.multiplier,
                                check.root_point, check.taylor_at_nearest_root, check.conserves,
                                check.conservation_choice, check.pattern_choice])
def test_blank_answers_fail_readably(fn):
    fails(fn, None, "no answer yet")
    fails(fn, ..., "no answer yet")


def test_garbage_answers_fail_readably():
    fails(check.sensitivity, np.array([1.0, 4.0, 9.0]), "numpy array of numbers")
    fails(check.sensitivity, "w1**2 +", "could not parse")
    passes(check.sensitivity, "Matrix([w1**2, w2**2, w3**2])")
    fails(check.sensitivity, [w1, w2], "wrong shape")
    fails(check.root_point, sp.Matrix([sp.Symbol("y1"), x2, x3]), "y1")
    fails(check.multiplier, {LAM: 1, w1: 2}, "dict")


# === numeric questions =========================================================================

def good_root(w, x, b=0.0):
    return x - (w @ x + b) * w / (w @ w)


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, hint", [
    (lambda w, x, b=0.0: x - (w @ x) * w / (w @ w), "the bias b is missing"),
    (lambda w, x, b=0.0: x - (w @ x + b) * w, "not a root"),
    (lambda w, x, b=0.0: -b * w / (w @ w), "not parallel to w"),
    (lambda w, x, b: good_root(w, x, b), "missing 1 required positional argument"),
    (lambda w, x, b=0.0: x.__isub__((w @ x + b) * w / (w @ w)), "in place"),
    (lambda w, x, b=0.0: good_root(w, x, b)[:1], "shape"),
    (not_implemented, "not implemented yet"),
    (None, "no answer yet"),
])
def test_nearest_root_check_rejects(fn, hint):
    reason = fails(check.nearest_root, fn, hint)
    if fn is not None and fn is not not_implemented:
        assert "smallest" in reason  # the shrunk counterexample is shown


def test_nearest_root_check_accepts():
    passes(check.nearest_root, good_root)
    passes(check.nearest_root, lambda w, x, b=0: list(good_root(w, x, b)))
    passes(check.nearest_root, ref.nearest_root_linear)


def good_taylor(f, x, root):
    r = root.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(r), r)
    return g * (x - root)


def _grad(f, z):
    z = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(z), z)
    return g


@pytest.mark.parametrize("fn, hint", [
    (lambda f, x, root: _grad(f, x) * (x - root), "evaluated the gradient at x"),
    (lambda f, x, root: _grad(f, root) * x, "the factor is (x_i - root_i)"),
    (lambda f, x, root: _grad(f, x) ** 2, "is the sensitivity"),
    (lambda f, x, root: (_grad(f, root) * (x - root)).sum(), "shape"),
    (lambda f, x, root: _grad(f, root) * (x - root) * float("nan"), "NaN"),
    (not_implemented, "not implemented yet"),
    (None, "no answer yet"),
])
def test_taylor_relevances_check_rejects(fn, hint):
    fails(check.taylor_relevances, fn, hint)


def test_taylor_relevances_check_accepts():
    passes(check.taylor_relevances, good_taylor)
    passes(check.taylor_relevances, ref.taylor_decomposition)
    passes(check.taylor_relevances, lambda f, x, root: good_taylor(f, x, root).numpy())


# === multiple choice ===========================================================================

@pytest.mark.parametrize("answer", [{"B", "C"}, "BC", "b, c", ["C", "B"], ("B", "C")])
def test_conservation_choice_accepts(answer):
    passes(check.conservation_choice, answer)


@pytest.mark.parametrize("answer, hint", [({"A", "B", "C"}, "not (A): add up"), ({"B"}, "(C) simplify"),
                                          ({"C"}, "(B) add up"), ({"D"}, "unknown option"), (set(), "empty"),
                                          (3, "option letters")])
def test_conservation_choice_rejects(answer, hint):
    fails(check.conservation_choice, answer, hint)


def test_pattern_choice():
    passes(check.pattern_choice, {"B"})
    passes(check.pattern_choice, "b")
    fails(check.pattern_choice, {"B", "C"}, "same for every pixel")
    fails(check.pattern_choice, {"A"}, "not (A)", "Which symbol")
    fails(check.pattern_choice, set(), "empty")
    fails(check.pattern_choice, "C", "not (C)")
    fails(check.pattern_choice, {"B", "A"}, "not (A)")


def test_a_passed_check_does_not_echo_in_a_notebook():
    result = check.sensitivity(had(W, W))
    assert hasattr(result, "_ipython_display_") and result.startswith("✓")


# === the notebook and its sample =====================================================================

def _cells():
    return build.build("taylor").cells


def test_notebook_conventions():
    cells = _cells()
    text = "\n".join(c.source for c in cells)
    assert "reference.taylor" not in text and "from reference import taylor" not in text
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert 20 <= sum(c.metadata.nbgrader["points"] for c in graded) <= 30
    for c in cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution") and c.cell_type == "code" and not c.source.startswith("def "):
            before = c.source.split("### BEGIN SOLUTION")[0]
            assert "= None" in before, c.source


def test_sample_names_real_cells():
    sample = json.loads((ROOT / "autograder" / "course" / "samples" / "taylor.json").read_text())
    cells = _cells()
    solutions = {c.metadata.nbgrader["grade_id"] for c in cells if c.metadata.get("nbgrader", {}).get("solution")}
    tests = {c.metadata.nbgrader["grade_id"] for c in cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    assert set(sample["answers"]) <= solutions
    assert set(sample["failing_tests"]) <= tests
    assert 2 <= len(sample["failing_tests"]) < len(tests)


# === hints decided on chosen probes: taylor_relevances =============================================

TAYLOR_STUDENTS = [   # (a student's taylor_relevances, the hint it must get)
    (lambda f, x, root: _grad(f, x) * (x - root), check.TAYLOR_MISTAKES[0][0]),
    (lambda f, x, root: _grad(f, root) * x, check._X_FACTOR),
    (lambda f, x, root: _grad(f, root) ** 2, check._SENSITIVITY),
    (lambda f, x, root: _grad(f, x) ** 2, check._SENSITIVITY),
]


@pytest.mark.parametrize("fn, hint", TAYLOR_STUDENTS)
def test_taylor_relevances_names_the_mistake_made_and_no_other(fn, hint):
    reason = fails(check.taylor_relevances, fn, hint)
    assert [h for h in {h for h, _ in check.TAYLOR_MISTAKES} if h in reason] == [hint], reason


@pytest.mark.parametrize("fn", [
    # the gradient alone: on a shrunk w = [1] it equals w^2 (the sensitivity), and with root = 0 it can
    # look like other mistakes; the student made none of them
    lambda f, x, root: _grad(f, root),
    lambda f, x, root: _grad(f, root) * (x - root) * (x.abs() < 1.5),   # right only for small inputs
    lambda f, x, root: torch.zeros_like(x),
])
def test_taylor_relevances_other_mistakes_get_no_catalogued_hint(fn):
    reason = fails(check.taylor_relevances, fn)
    assert not any(h in reason for h, _ in check.TAYLOR_MISTAKES), reason
