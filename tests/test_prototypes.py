"""reference.prototypes against numeric optimisation, and the activation-maximization check."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from autograder.feedback import CheckFailed
from autograder.properties import arrays
from autograder.questions import prototypes as P
from reference import prototypes as ref

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def spd(k):
    return arrays((k, k), -2, 2).map(lambda B: B @ B.T + 0.5 * np.eye(k))


def maximise(objective, x0):
    res = minimize(lambda x: -objective(x), x0, method="BFGS", options={"gtol": 1e-10})
    return res.x


@FAST
@given(st.integers(1, 4).flatmap(lambda k: st.tuples(arrays((k,)), st.floats(0.1, 3))))
def test_l2_prototype_is_the_numeric_maximiser(case):
    w, lam = case
    x = maximise(lambda x: w @ x - lam * x @ x, np.zeros_like(w))
    np.testing.assert_allclose(ref.l2_prototype(w, lam), x, atol=1e-5)


@FAST
@given(st.integers(1, 3).flatmap(lambda k: st.tuples(arrays((k,)), arrays((k,)), spd(k))))
def test_gaussian_prototype_is_the_numeric_maximiser(case):
    w, mu, S = case
    Si = np.linalg.inv(S)
    x = maximise(lambda x: w @ x - 0.5 * (x - mu) @ Si @ (x - mu), mu)
    np.testing.assert_allclose(ref.gaussian_expert_prototype(w, mu, S), x, atol=1e-4)


@FAST
@given(st.tuples(st.integers(1, 3), st.integers(1, 3)).flatmap(
    lambda nd: st.tuples(arrays((nd[0],)), arrays(nd), arrays((nd[0],)), st.floats(0.1, 3))))
def test_generator_prototype_is_the_numeric_maximiser(case):
    w, A, c, lam = case
    z = maximise(lambda z: w @ (A @ z + c) - lam * z @ z, np.zeros(A.shape[1]))
    np.testing.assert_allclose(ref.generator_code(w, A, lam), z, atol=1e-4)
    np.testing.assert_allclose(ref.generator_prototype(w, A, c, lam), A @ z + c, atol=1e-4)


def test_the_three_coincide_under_the_stated_conditions():
    rng = np.random.default_rng(0)
    w, c, lam = rng.normal(size=3), rng.normal(size=3), 0.7
    mu0, S0 = ref.gaussian_equivalent_to_l2(lam, 3)
    np.testing.assert_allclose(ref.gaussian_expert_prototype(w, mu0, S0), ref.l2_prototype(w, lam))
    A = rng.normal(size=(3, 2))
    mu1, S1 = ref.gaussian_equivalent_to_generator(A, c, lam)
    np.testing.assert_allclose(ref.gaussian_expert_prototype(w, mu1, S1 + 1e-12 * np.eye(3)),
                               ref.generator_prototype(w, A, c, lam), atol=1e-9)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # orthogonal: A A^T = I
    np.testing.assert_allclose(ref.generator_prototype(w, Q, np.zeros(3), lam), ref.l2_prototype(w, lam))


@pytest.mark.parametrize("call, fragment", [
    (lambda: ref.l2_prototype([1.0, 2.0], -1.0), "positive"),
    (lambda: ref.l2_prototype(None, 1.0), "w"),
    (lambda: ref.gaussian_expert_prototype([1.0], [0.0, 0.0], np.eye(2)), "length"),
    (lambda: ref.gaussian_expert_prototype([1.0, 0.0], [0.0, 0.0], np.array([[1.0, 2.0], [0.0, 1.0]])), "symmetric"),
    (lambda: ref.gaussian_expert_prototype([1.0, 0.0], [0.0, 0.0], -np.eye(2)), "positive definite"),
    (lambda: ref.generator_code([1.0, 0.0], np.ones((3, 2)), 1.0), "rows"),
    (lambda: ref.l2_prototype([1.0, np.nan], 1.0), "finite"),
])
def test_bad_input_is_named(call, fragment):
    with pytest.raises((ValueError, TypeError), match=fragment):
        call()


# --- the numeric activation-maximization check -------------------------------------------------

def ascent(objective_of):
    def fn(model, target, x0, lam, steps, lr):
        x = x0.clone().reshape(1, -1).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            (-objective_of(model, x, target, lam)).backward()
            opt.step()
        return x.detach()[0]
    return fn


right = ascent(lambda m, x, t, lam: torch.log_softmax(m(x), -1)[0, t] - lam * (x ** 2).sum())
raw_logit = ascent(lambda m, x, t, lam: m(x)[0, t] - lam * (x ** 2).sum())
no_regulariser = ascent(lambda m, x, t, lam: torch.log_softmax(m(x), -1)[0, t])
descent = ascent(lambda m, x, t, lam: -(torch.log_softmax(m(x), -1)[0, t] - lam * (x ** 2).sum()))


def test_activation_maximization_check_accepts_a_correct_ascent():
    P.activation_maximization(right)


@pytest.mark.parametrize("wrong, fragment", [
    (raw_logit, "different objective|not at the maximum"), (no_regulariser, "different objective|not at the maximum"),
    (descent, "against the gradient"),
    (lambda *a: np.zeros(5), "torch tensor"), (lambda m, t, x0, *a: x0[:3], "shape"),
    (None, "no answer"), (lambda *a: 1 / 0, "ZeroDivisionError"),
])
def test_activation_maximization_check_rejects(wrong, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        P.activation_maximization(wrong)


def _not_detached(model, target, x0, lam, steps, lr):
    """The ascent's own (1, n) leaf, returned as it is: still requires grad, the wrong shape for the plots."""
    x = x0.clone().reshape(1, -1).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (-(torch.log_softmax(model(x), -1)[0, target] - lam * (x ** 2).sum())).backward()
        opt.step()
    return x


@pytest.mark.parametrize("fn, fragment", [
    (_not_detached, "still requires grad: return it detached"),
    (lambda *a: _not_detached(*a).detach(), r"has shape \(1, 5\); expected \(5,\) \(the shape of x0"),
])
def test_activation_maximization_demands_what_the_next_cells_need(fn, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        P.activation_maximization(fn)


def test_activation_maximization_that_changes_x0_in_place_fails():
    def in_place(model, target, x0, lam, steps, lr):
        x0 += 1.0
        return right(model, target, x0, lam, steps, lr)

    with pytest.raises(CheckFailed, match="changed its argument `x0` in place"):
        P.activation_maximization(in_place)


def test_reference_activation_maximization_climbs_and_respects_the_box():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x, history = ref.activation_maximization(model, 1, torch.full((6,), 0.5), steps=100, lr=0.05)
    assert history[-1] > history[0]
    assert x.shape == (6,) and float(x.min()) >= 0 and float(x.max()) <= 1
    with pytest.raises(TypeError, match="torch.nn.Module"):
        ref.activation_maximization(lambda x: x, 0, torch.zeros(2))


def test_optimality_checks_catch_wrong_closed_forms():
    import sympy as sp
    n = sp.Symbol("n", integer=True, positive=True)
    w, mu = sp.MatrixSymbol("w", n, 1), sp.MatrixSymbol("mu", n, 1)
    Sigma, lam = sp.MatrixSymbol("Sigma", n, n), sp.Symbol("lam", positive=True)
    P.l2_prototype_optimal(w / (2 * lam))
    P.gaussian_prototype_optimal(mu + Sigma * w)
    with pytest.raises(CheckFailed, match="first-order optimality"):
        P.l2_prototype_optimal(w / lam)
    with pytest.raises(CheckFailed, match="smallest"):
        P.gaussian_prototype_optimal(mu + Sigma.I * w)
