"""Checks for the ``prototypes`` assignment (ML2 sheet 11, Ex 1: activation maximization).

Symbols are matched by name: ``w, mu, c`` (n x 1), ``Sigma`` (n x n, symmetric positive definite),
``A`` (n x d), ``lam`` (positive scalar), dimensions ``n`` and ``d``.
"""
from __future__ import annotations

import numpy as np
import sympy
from hypothesis import strategies as st

from reference import prototypes as ref

from .. import symbolic
from ..feedback import passed
from ..properties import Violation, arrays, check_properties, decimals
from ..question import array, call, hints_of, question, unwrap

n, d = sympy.symbols("n d", integer=True, positive=True)
w, mu, c = (sympy.MatrixSymbol(s, n, 1) for s in ("w", "mu", "c"))
Sigma = sympy.MatrixSymbol("Sigma", n, n)
A = sympy.MatrixSymbol("A", n, d)
lam = sympy.Symbol("lam", positive=True)
DOMAIN = symbolic.Domain(kinds={"Sigma": "spd", "lam": "positive"}, dims={"n": (2, 3, 4), "d": (1, 2, 3)})

M = symbolic.Mistake


def _symbolic_check(title, name, answer, expected, mistakes, **kw):
    answer = unwrap(answer, name, scalar=not symbolic.is_matrix(expected))
    return symbolic.check(title, answer, expected, DOMAIN, mistakes=mistakes, **kw)


@question("L2 prototype", answers="x_star_l2",
          hint="set the gradient of w^T x - lam ||x||^2 with respect to x to zero and solve for x")
def l2_prototype(ask, x_star):
    return _symbolic_check(ask.title, "x_star_l2", x_star, ref.l2_prototype(w, lam), [
        M(w / lam, "you lost the factor 2 from d/dx ||x||^2 = 2x"),
        M(2 * lam * w, "solve w - 2 lam x = 0 for x: divide by 2 lam, don't multiply"),
        M(w, "the regulariser's strength lam must appear: x* depends on how hard large x are punished"),
    ])


@question("Gaussian-expert prototype", answers="x_star_gauss",
          hint="the gradient of log N(x; mu, Sigma) is -Sigma^{-1}(x - mu); add w and set the sum to zero")
def gaussian_prototype(ask, x_star):
    return _symbolic_check(ask.title, "x_star_gauss", x_star,
                           ref.gaussian_expert_prototype(w, mu, Sigma), [
        M(mu + Sigma.I * w, "you kept Sigma^{-1}: from w - Sigma^{-1}(x - mu) = 0, multiply by Sigma to get x"),
        M(Sigma * w, "the prototype is centred at the expert's mean: add mu"),
        M(mu - Sigma * w, "sign: the gradient of log N is -Sigma^{-1}(x - mu), so x - mu = +Sigma w"),
        M(mu + w, "the covariance shapes the prototype: x - mu = Sigma w, not w"),
    ])


@question("generator code z*", answers="z_star",
          hint="substitute x = A z + c into w^T x - lam ||z||^2 and set the gradient with respect to z to zero")
def generator_code(ask, z_star):
    return _symbolic_check(ask.title, "z_star", z_star, ref.generator_code(w, A, lam), [
        M(A.T * w / lam, "you lost the factor 2 from d/dz ||z||^2 = 2z"),
        M(A.T * w, "the regulariser lam must appear in z*"),
    ])


@question("generator prototype x*", answers="x_star_gen",
          hint="the prototype is the generator's image of your optimal code z*")
def generator_prototype(ask, x_star):
    return _symbolic_check(ask.title, "x_star_gen", x_star, ref.generator_prototype(w, A, c, lam), [
        M(A * A.T * w / (2 * lam), "the generator adds c: x* = A z* + c"),
        M(A * A.T * w / lam + c, "you lost the factor 2 from d/dz ||z||^2 = 2z"),
        M(A.T * w / (2 * lam), "that is z*, the code; the prototype is its image x* = A z* + c"),
    ])


@question("Gaussian expert equivalent to the L2 regulariser", answers=("mu_l2", "Sigma_l2"),
          hint="compare the two prototypes x* = mu + Sigma w and x* = w / (2 lam) for every w")
def coincide_with_l2(ask, mu_l2, Sigma_l2):
    q = ask.title
    want_mu, want_Sigma = ref.gaussian_equivalent_to_l2(lam, n)
    _symbolic_check(q + " (mean)", "mu_l2", mu_l2, want_mu, [], allowed={"n", "lam"})
    _symbolic_check(q + " (covariance)", "Sigma_l2", Sigma_l2, want_Sigma, allowed={"n", "lam"}, mistakes=[
        M(sympy.Identity(n) * 2 * lam, "compare x* = Sigma w with x* = w / (2 lam): Sigma is the inverse of 2 lam I"),
        M(sympy.Identity(n) / lam, "you lost the factor 2 of the L2 prototype"),
        M(sympy.Identity(n), "the covariance must depend on lam: a stronger regulariser is a narrower expert"),
    ])
    return passed(q)


@question("Gaussian expert equivalent to the generator", answers=("mu_gen", "Sigma_gen"),
          hint="compare x* = mu + Sigma w with your generator prototype for every w")
def coincide_with_generator(ask, mu_gen, Sigma_gen):
    q = ask.title
    want_mu, want_Sigma = ref.gaussian_equivalent_to_generator(A, c, lam)
    _symbolic_check(q + " (mean)", "mu_gen", mu_gen, want_mu, [], allowed={"n", "d", "c", "A", "lam"})
    _symbolic_check(q + " (covariance)", "Sigma_gen", Sigma_gen, want_Sigma, allowed={"n", "d", "c", "A", "lam"},
                    mistakes=[
        M(A.T * A / (2 * lam), "A^T A is d x d; the covariance of x = A z + c lives in input space: A A^T"),
        M(A * A.T, "with lam != 1/2 the code regulariser rescales the covariance: divide by 2 lam"),
        M(A * A.T / lam, "you lost the factor 2 of the code prototype"),
    ])
    return passed(q)


# --- first-order optimality of a closed form, as a property ---------------------------------

def _numeric(expr, **values):
    dims = {"n": len(values["w"])}
    if "A" in values:
        dims["d"] = values["A"].shape[1]
    return np.ravel(symbolic.evaluate(expr, dims, {k: np.asarray(v, float) for k, v in values.items()}))


def _spd(n_):
    return arrays((n_, n_), -2, 2).map(lambda B: B @ B.T + 0.5 * np.eye(n_))


@question("L2 prototype maximises the objective", answers="x_star_l2",
          hint="at the maximiser the gradient w - 2 lam x of the objective is zero")
def l2_prototype_optimal(ask, x_star):
    q = ask.title
    x_star = unwrap(x_star, "x_star_l2", scalar=False)

    def gradient_vanishes(w_, lam_):
        x = _numeric(symbolic.coerce(x_star), w=w_, lam=lam_)
        g = ref.l2_objective_gradient(x, w_, lam_)
        if not np.allclose(g, 0, atol=1e-6):
            raise Violation("the gradient w - 2 lam x of the objective is not zero at your x*", expected=0 * g, got=g)

    strategy = st.integers(1, 4).flatmap(lambda k: st.fixed_dictionaries(
        {"w_": arrays((k,)), "lam_": decimals(0.1, 3.0)}))
    return check_properties(q, {"first-order optimality": gradient_vanishes}, strategy, max_examples=25)


@question("Gaussian-expert prototype maximises the objective", answers="x_star_gauss",
          hint="at the maximiser the gradient w - Sigma^{-1}(x - mu) of the objective is zero")
def gaussian_prototype_optimal(ask, x_star):
    q = ask.title
    x_star = unwrap(x_star, "x_star_gauss", scalar=False)

    def gradient_vanishes(w_, mu_, Sigma_):
        x = _numeric(symbolic.coerce(x_star), w=w_, mu=mu_, Sigma=Sigma_)
        g = ref.gaussian_objective_gradient(x, w_, mu_, Sigma_)
        if not np.allclose(g, 0, atol=1e-6):
            raise Violation("the gradient w - Sigma^-1 (x - mu) is not zero at your x*", expected=0 * g, got=g)

    strategy = st.integers(1, 3).flatmap(lambda k: st.fixed_dictionaries(
        {"w_": arrays((k,)), "mu_": arrays((k,)), "Sigma_": _spd(k)}))
    return check_properties(q, {"first-order optimality": gradient_vanishes}, strategy, max_examples=25)


# --- numeric activation maximization --------------------------------------------------------

def _test_model(seed: int, features: int = 5, classes: int = 3):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Linear(features, classes)


def _objective_and_gradient(model, target, x, lam_):
    import torch

    x = torch.as_tensor(x, dtype=torch.float32).reshape(1, -1).requires_grad_(True)
    obj = torch.log_softmax(model(x), -1)[0, target] - lam_ * (x ** 2).sum()
    (g,) = torch.autograd.grad(obj, x)
    return float(obj.detach()), g[0].numpy()


def _maximiser(model, target, lam_):
    """The maximiser of the concave objective, by L-BFGS (fast and precise)."""
    import torch

    x = torch.zeros(1, model.in_features, requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = -(torch.log_softmax(model(x), -1)[0, target] - lam_ * (x ** 2).sum())
        loss.backward()
        return loss

    opt.step(closure)
    return x.detach()[0]


@question("activation maximization by gradient ascent", answers="activation_maximization",
          hint="make x a leaf tensor that requires grad, climb log_softmax(model(x))[target] - lam ||x||^2 with an "
               "optimiser (minimise its negative), and return x detached, with the shape of x0")
def activation_maximization(ask, fn):
    """``fn(model, target, x0, lam, steps, lr) -> x`` on a logistic-regression model, whose objective
    ``log p(target | x) - lam ||x||^2`` is concave: every correct ascent ends at the same maximiser.

    The next cells plot ``x`` and feed it to the model again, so it must be a detached tensor of shape
    ``(5,)``, the shape of ``x0``."""
    import torch

    q = ask.title
    ask.function(fn, "activation_maximization", "activation_maximization(model, target, x0, lam, steps, lr)")
    for seed, target, lam_ in [(0, 0, 0.1), (1, 2, 0.05)]:
        model = _test_model(seed)
        x0 = torch.zeros(5)
        x = call(fn, model, target, x0, lam_, 500, 0.05, name="activation_maximization")
        x = torch.as_tensor(array(x, "the returned x", shape=(5,), detached=True, tensor=True,
                                  needed="the shape of x0; the next cells plot it and feed it to the model"))
        best = _maximiser(model, target, lam_)
        got_obj, g = _objective_and_gradient(model, target, x, lam_)
        want_obj, _ = _objective_and_gradient(model, target, best, lam_)
        start_obj, _ = _objective_and_gradient(model, target, x0, lam_)
        if got_obj < start_obj:
            ask.fail(f"log p(target|x) - lam ||x||^2 is lower at your x ({got_obj:.4f}) than at x0 "
                                 f"({start_obj:.4f}): either the steps go against the gradient (ascent steps "
                                 f"along +grad, or minimise the negative objective), or you climb a different "
                                 f"objective (the raw logit? no -lam ||x||^2 term?)")
        if got_obj < want_obj - 1e-3 or np.linalg.norm(g) > 1e-2:
            ask.fail(f"not at the maximum yet on a test model (seed {seed}, target {target}, "
                                 f"lam {lam_}): objective {got_obj:.4f}, the maximum is {want_obj:.4f}; "
                                 f"|gradient| = {np.linalg.norm(g):.3g}. Did you include -lam ||x||^2 and "
                                 f"use log-softmax (log p), not the raw logit?")
    return passed(q, "reaches the maximiser of log p(c|x) - lam ||x||^2 on two test models")


hint = hints_of(__name__)
