"""Checks for the ``taylor`` assignment (ML2 sheet 11, Ex 2; thesis Sec. 3.2.1-3.2.2).

Sensitivity analysis and Taylor decomposition of the homogeneous linear model ``f(x) = w^T x``.

Symbolic answers use explicit components for n = 3, matched by *name*: ``w = Matrix([w1, w2, w3])``,
``x = Matrix([x1, x2, x3])`` (column vectors) and the Lagrange multiplier ``lam``. A student's own
``sympy.symbols("w1:4")`` works as well as the notebook's real symbols. The Lagrangian of the
nearest-root problem is fixed by the notebook as

    L(xi, lam) = ||xi - x||^2 + lam * w^T xi,

so that the multiplier has a definite sign: ``xi(lam) = x - lam w / 2``, ``lam* = 2 w^T x / ||w||^2``.

Numeric answers are functions: ``nearest_root(w, x, b=0.0)`` (numpy, affine model
``f(x) = w^T x + b``) and ``taylor_relevances(f, x, root)`` (torch autograd, any differentiable
scalar ``f``); they are checked by Hypothesis properties that define them.
"""
from __future__ import annotations

import numpy as np
import sympy
from hypothesis import strategies as st

from reference import taylor as ref
from reference.torch_functions import Linear, TanhSum

from .. import symbolic
from ..choices import Choices
from ..feedback import CheckFailed
from ..properties import (
    Violation,
    arrays,
    as_array,
    assert_close,
    check_properties,
    decimals,
)
from ..question import Diagnosis, call, hints_of, multiple_choice, question, unwrap

N = 3
w = sympy.Matrix(sympy.symbols(f"w1:{N + 1}", real=True))
x = sympy.Matrix(sympy.symbols(f"x1:{N + 1}", real=True))
lam = sympy.Symbol("lam", real=True)
f = w.dot(x)
NAMES = {s.name for s in w} | {s.name for s in x}
DOMAIN = symbolic.Domain(trials=6, seed=2017)

M = symbolic.Mistake


ONES = sympy.ones(N, 1)


def _sq(v):
    return v.multiply_elementwise(v)


def _norm2():
    return w.dot(w)


# --- turning a student's answer into something comparable ----------------------------------

def _symbolic_check(question, name, answer, expected, mistakes, *, extra_names=(), forbid=None):
    answer = unwrap(answer, name, scalar=not symbolic.is_matrix(expected))
    if forbid is not None:
        try:
            names = {s.name for s in symbolic.coerce(answer).free_symbols}
        except ValueError:
            names = set()
        for sym_name, hint in forbid.items():
            if sym_name in names:
                raise CheckFailed(question, hint)
    # symbolic._dims puts a matrix answer into a set: mutable sympy.Matrix is unhashable, so compare
    # immutable copies (see the report: a one-line fix in symbolic._dims would make this unnecessary).
    answer, expected = _as_ours(_immutable(answer)), _immutable(expected)
    mistakes = [M(_immutable(m.expr), m.hint) for m in mistakes]
    return symbolic.check(question, answer, expected, DOMAIN, mistakes=mistakes,
                          allowed=NAMES | set(extra_names))


def _as_ours(expr):
    """Replace a student's own ``w1``, ``x2``, ``lam`` (say, without ``real=True``) by the question's symbols
    of the same name, so that the symbolic stage can use their assumptions (``Abs(w1)**2 == w1**2``)."""
    if not isinstance(expr, (sympy.Basic, sympy.MatrixBase)):
        return expr
    ours = {s.name: s for s in [*w, *x, lam]}
    return expr.xreplace({s: ours[s.name] for s in expr.free_symbols
                          if isinstance(s, sympy.Symbol) and s.name in ours and s != ours[s.name]})


def _immutable(expr):
    return sympy.ImmutableMatrix(expr) if isinstance(expr, sympy.MatrixBase) else expr


def _numeric_function(expr, names):
    """``expr`` (in the student's symbols) as a numpy function of the named arguments, matched by name."""
    by_name = {s.name: s for s in expr.free_symbols}
    args = [by_name.get(n, sympy.Dummy(n)) for n in names]
    fn = sympy.lambdify(args, expr, "numpy")
    return lambda *values: np.asarray(fn(*values), dtype=complex).real.astype(float).reshape(-1)


def _vector_args(w_, x_):
    return [*w_, *x_]  # in the order of _VECTOR_NAMES


_VECTOR_NAMES = [f"w{i}" for i in range(1, N + 1)] + [f"x{i}" for i in range(1, N + 1)]


def _w_x(low=-3.0, high=3.0):
    """Examples for the n = 3 symbolic answers: w != 0 and x, one decimal."""
    return st.fixed_dictionaries({"w": arrays((N,), low, high).filter(lambda v: np.abs(v).sum() >= 0.3),
                                  "x": arrays((N,), low, high)})


# --- 1. sensitivity analysis ---------------------------------------------------------------

@question("sensitivity analysis", answers="R_sens",
          hint="differentiate f(x) = w^T x with respect to each x_i, then apply the definition of sensitivity")
def sensitivity(ask, R_sens):
    """``R_i = (df/dx_i)^2 = w_i^2``."""
    return _symbolic_check(ask.title, "R_sens", R_sens, ref.sensitivity_linear(w), [
        M(w, "R_i = (df/dx_i)^2: you have the partial derivative df/dx_i = w_i, now square it"),
        M(w.applyfunc(sympy.Abs), "sensitivity uses the *square* of the partial derivative, not its absolute value"),
        M(w.multiply_elementwise(x), "w_i x_i is gradient x input (Taylor decomposition at the root 0, the next "
                                     "question); sensitivity analysis squares the gradient and has no x in it"),
        M(_sq(w.multiply_elementwise(x)), "square the partial derivative df/dx_i = w_i, not the term w_i x_i: "
                                          "the derivative of w^T x with respect to x_i contains no x"),
        M(2 * w, "R_i is the squared derivative (df/dx_i)^2, not the derivative of a square"),
        M(ONES * _norm2(), "sum_i R_i = ||grad f||^2 = ||w||^2 is the total; R_i is one component: (df/dx_i)^2"),
        M(ONES * f ** 2, "R_i = (df/dx_i)^2 is the squared *partial derivative*, not the squared output f(x)^2"),
    ])


# --- 2. Taylor decomposition at the root 0 ------------------------------------------------

@question("Taylor decomposition at the root 0", answers="R_taylor0",
          hint="write the first-order Taylor expansion of f around the root x~ = 0 and read off the term of x_i")
def taylor_at_zero(ask, R_taylor0):
    """``R_i = df/dx_i|_0 (x_i - 0) = w_i x_i`` (gradient x input)."""
    q = ask.title
    return _symbolic_check(q, "R_taylor0", R_taylor0, ref.taylor_linear(w, x, sympy.zeros(N, 1)), [
        M(w, "you have the partial derivative df/dx_i = w_i; the Taylor term multiplies it by (x_i - x~_i) = x_i"),
        M(_sq(w), "w_i^2 is the sensitivity (previous question); the Taylor term is df/dx_i|_x~ * (x_i - x~_i)"),
        M(x, "multiply (x_i - x~_i) = x_i by the partial derivative df/dx_i = w_i"),
        M(_sq(w.multiply_elementwise(x)), "the first-order Taylor term is df/dx_i * (x_i - x~_i): there is no square"),
        M(-w.multiply_elementwise(x), "sign: the Taylor term is df/dx_i * (x_i - x~_i), with x~ = 0 that is "
                                      "+w_i x_i (not x~_i - x_i)"),
        M(ONES * f, "that is f(x) in every component; R_i is the i-th term of the first-order Taylor sum"),
        M(ONES * f / N, "splitting f(x) equally is not a Taylor decomposition: R_i is the i-th term "
                        "df/dx_i * (x_i - x~_i) of the expansion"),
    ])


# --- 3. the nearest root, by Lagrange multipliers ------------------------------------------

@question("stationarity of the Lagrangian", answers="xi_of_lam",
          hint="set the derivative of the Lagrangian with respect to xi to zero and solve for xi")
def stationarity(ask, xi_of_lam):
    """``dL/dxi = 2 (xi - x) + lam w = 0``  =>  ``xi = x - lam w / 2``."""
    q = ask.title
    return _symbolic_check(q, "xi_of_lam", xi_of_lam, x - lam * w / 2, [
        M(x + lam * w / 2, "sign: dL/dxi = 2 (xi - x) + lam w = 0 gives xi - x = -lam w / 2"),
        M(x - lam * w, "you lost the 1/2: the derivative of ||xi - x||^2 is 2 (xi - x), so 2 (xi - x) = -lam w"),
        M(x - 2 * lam * w, "divide by 2, don't multiply: 2 (xi - x) + lam w = 0 gives xi = x - lam w / 2"),
        M(-lam * w / 2, "you solved for xi - x, not for xi: add x"),
        M(lam * w / 2 - x, "solve 2 (xi - x) + lam w = 0 for xi: xi = x - lam w / 2 (you have minus that)"),
    ], extra_names={"lam"})


@question("Lagrange multiplier", answers="lam_star",
          hint="put your xi(lam) into the constraint w^T xi = 0 and solve for lam")
def multiplier(ask, lam_star):
    """Plug ``xi(lam)`` into the constraint ``w^T xi = 0``: ``lam* = 2 w^T x / ||w||^2``."""
    q = ask.title
    return _symbolic_check(q, "lam_star", lam_star, 2 * f / _norm2(), [
        M(f / _norm2(), "you lost the factor 2: w^T (x - lam w / 2) = 0 gives lam ||w||^2 / 2 = w^T x"),
        M(-2 * f / _norm2(), "sign: with L = ||xi - x||^2 + lam w^T xi, the constraint w^T (x - lam w/2) = 0 "
                             "gives lam = +2 w^T x / ||w||^2"),
        M(2 * f, "lam multiplies w^T w = ||w||^2 in w^T (x - lam w / 2) = 0: divide by ||w||^2"),
        M(f, "from w^T (x - lam w / 2) = 0: lam ||w||^2 / 2 = w^T x; solve for lam"),
        M(2 * f / sympy.sqrt(_norm2()), "w^T w is ||w||^2, the *squared* norm: divide by ||w||^2, not ||w||"),
        M(_norm2() / (2 * f), "solve lam ||w||^2 / 2 = w^T x for lam: it is 2 w^T x / ||w||^2 (you inverted it)"),
    ], forbid={"lam": "your multiplier still contains lam: substitute xi(lam) into the constraint w^T xi = 0 "
                      "and solve that equation for lam"})


def _root_mistakes():
    p = w * f / _norm2()  # the projection of x onto w: x - x~
    return [
        M(x - w * f, "missing normalisation: divide by ||w||^2 = w^T w. Check: w^T x~ must be 0"),
        M(x - w * f / sympy.sqrt(_norm2()), "divide by the squared norm ||w||^2 = w^T w, not by ||w||: "
                                            "check that w^T x~ = 0"),
        M(x + p, "sign: x~ = x - (lam*/2) w moves *against* w when w^T x > 0 (check that w^T x~ = 0)"),
        M(p, "that is x - x~, the step from the root to x (the projection of x onto w); the root point is x minus it"),
        M(-p, "you forgot x: x~ = x - (lam*/2) w"),
        M(x - 2 * p, "that is the mirror image of x across the hyperplane f = 0 (f there is -f(x)); "
                     "from xi = x - lam w / 2 the step is lam*/2 times w, not lam* times w"),
        M(sympy.zeros(N, 1), "0 is a root of f, but not the nearest one in general: minimise ||xi - x||^2 "
                             "subject to w^T xi = 0"),
        M(x - w / _norm2(), "the step along w is scaled by w^T x: x~ = x - (w^T x) w / ||w||^2"),
    ]


@question("nearest root point", answers="x_root",
          hint="substitute your multiplier into xi(lam)")
def root_point(ask, x_root):
    """``x~ = x - (w^T x) w / ||w||^2``, the orthogonal projection of x onto the hyperplane ``w^T x = 0``."""
    q = ask.title
    return _symbolic_check(q, "x_root", x_root, ref.nearest_root_linear(w, x), _root_mistakes(),
                           forbid={"lam": "your root point still contains lam: substitute lam = lam_star "
                                          "(e.g. `xi_of_lam.subs(lam, lam_star)`)"})


@question("nearest root point: properties", answers="x_root",
          hint="a root satisfies f(x~) = 0, and the nearest one differs from x by a multiple of w")
def root_point_properties(ask, x_root):
    """The defining properties of the nearest root, on random numbers: ``w^T x~ = 0`` and ``x - x~ || w``."""
    q = ask.title
    x_root = unwrap(x_root, "x_root", scalar=False)
    try:
        expr = sympy.Matrix(symbolic.coerce(x_root))
    except (ValueError, TypeError) as err:
        raise CheckFailed(q, str(err)) from None
    if expr.shape != (N, 1):
        raise CheckFailed(q, f"expected a column vector of shape ({N}, 1), got {expr.shape}")
    extra = sorted({s.name for s in expr.free_symbols} - NAMES)
    if extra:
        raise CheckFailed(q, f"your x~ uses {', '.join(extra)}; expected an expression in w1..w3 and x1..x3 only")
    fn = _numeric_function(expr, _VECTOR_NAMES)

    def is_root(w, x):
        r = fn(*_vector_args(w, x))
        value = float(w @ r)
        if abs(value) > 1e-6 * (1 + np.abs(w).sum() * np.abs(x).sum()):
            raise Violation(f"your x~ is not a root: f(x~) = w^T x~ = {value:.4g}", expected=0.0, got=value)

    def is_nearest(w, x):
        r = fn(*_vector_args(w, x))
        d = x - r
        off = d - (d @ w) / (w @ w) * w
        if np.linalg.norm(off) > 1e-6 * (1 + np.linalg.norm(x)):
            raise Violation("x - x~ is not parallel to w: sliding x~ along the hyperplane f = 0 brings it closer "
                            "to x", expected=np.zeros_like(off), got=off)

    return check_properties(q, {"f(x~) = 0": is_root, "x - x~ parallel to w": is_nearest}, _w_x(), max_examples=25)


# --- 4. Taylor decomposition at the nearest root --------------------------------------------

@question("Taylor decomposition at the nearest root", answers="R_nearest",
          hint="the Taylor term of x_i at the root x~ is df/dx_i (x_i - x~_i) with your x~")
def taylor_at_nearest_root(ask, R_nearest):
    """``R_i = w_i (x_i - x~_i) = w_i^2 (w^T x) / ||w||^2``."""
    q = ask.title
    x_t = ref.nearest_root_linear(w, x)
    return _symbolic_check(q, "R_nearest", R_nearest, ref.taylor_nearest_root_linear(w, x), [
        M(w.multiply_elementwise(x), "w_i x_i is the Taylor decomposition at the root 0 (gradient x input); "
                                     "use (x_i - x~_i) with the nearest root x~"),
        M(_sq(w), "w_i^2 alone is the sensitivity; R_i = w_i (x_i - x~_i) also carries the factor "
                  "(w^T x) / ||w||^2 from x - x~"),
        M(_sq(w) * f, "missing normalisation: x - x~ = (w^T x) w / ||w||^2, so divide by ||w||^2"),
        M(_sq(w) * f / sympy.sqrt(_norm2()), "divide by the squared norm ||w||^2 = w^T w, not by ||w||"),
        M(w.multiply_elementwise(x_t), "R_i = df/dx_i|_x~ * (x_i - x~_i): multiply w_i by the *difference* "
                                       "x_i - x~_i, not by x~_i"),
        M(-_sq(w) * f / _norm2(), "sign: the Taylor term uses (x_i - x~_i), not (x~_i - x_i)"),
        M(w * f / _norm2(), "that is x - x~; the relevance multiplies it component-wise by the gradient w_i"),
        M(_sq(w) * f ** 2 / _norm2(), "R_i = w_i (x_i - x~_i) is linear in x: there is no (w^T x)^2"),
    ], forbid={"lam": "express the relevances in w and x only: substitute the multiplier"})


@question("relevances sum to f(x)", answers="R",
          hint="add up the components of your relevances and simplify")
def conserves(ask, R, name="R"):
    """Hidden-test companion: ``sum_i R_i == w^T x`` symbolically (conservation)."""
    q = ask.title
    R = unwrap(R, name, scalar=False)
    try:
        total = sum(sympy.Matrix(symbolic.coerce(R)))
    except (ValueError, TypeError) as err:
        raise CheckFailed(q, str(err)) from None
    return symbolic.check(q, _as_ours(total), f, DOMAIN, allowed=NAMES, mistakes=[
        M(w.dot(w), "your relevances sum to ||w||^2, whatever x is: that is the sensitivity's total, not f(x)"),
        M(-f, "your relevances sum to -f(x): a sign error in (x_i - x~_i)?"),
    ])


# --- 5. numeric: the nearest root of an affine model -----------------------------------------

def _affine_examples(thorough):
    top = 8 if thorough else 4

    def build(k):
        return st.fixed_dictionaries({
            "w": arrays((k,), -3.0, 3.0).filter(lambda v: np.abs(v).sum() >= 0.3),
            "x": arrays((k,), -5.0, 5.0),
            "b": decimals(-3.0, 3.0),
        })

    return st.integers(1, top).flatmap(build)


@question("nearest_root(w, x, b)", answers="nearest_root",
          hint="project x onto the hyperplane w^T xi + b = 0: move along w until the constraint holds")
def nearest_root(ask, fn, thorough: bool = False):
    """``fn(w, x, b=0.0) -> x~``, the point of ``{xi : w^T xi + b = 0}`` nearest to ``x`` (numpy, shape (n,))."""
    q = ask.title
    ask.function(fn, "nearest_root")

    def vector(w, x, b):
        r = as_array(call(fn, w, x, b, name="nearest_root"), "nearest_root(w, x, b)")
        if r.shape != x.shape:
            raise Violation(f"expected a vector of the shape of x, {x.shape}, got shape {r.shape}")
        if not np.all(np.isfinite(r)):
            raise Violation("the result contains NaN or infinity", got=r)
        return r

    def returns_vector(w, x, b):
        vector(w, x, b)

    def is_root(w, x, b):
        r = vector(w, x, b)
        value = float(w @ r + b)
        if abs(value) > 1e-7 * (1 + np.abs(w).sum() * (np.abs(x).sum() + 1) + abs(b)):
            hint = ""
            if abs(float(w @ r)) < 1e-7 * (1 + np.abs(w).sum() * np.abs(x).sum()):
                hint = " (w^T x~ = 0: the bias b is missing; the constraint is w^T x~ + b = 0)"
            raise Violation(f"the result is not a root: f(x~) = w^T x~ + b = {value:.4g}{hint}", expected=0.0,
                            got=value)

    def default_bias_is_zero(w, x, b):
        r = as_array(call(fn, w, x, name="nearest_root"), "nearest_root(w, x)")
        value = float(np.ravel(w @ r)[0]) if r.shape == x.shape else None
        if value is None or abs(value) > 1e-7 * (1 + np.abs(w).sum() * np.abs(x).sum()):
            raise Violation("called without b (the default b = 0), the result is not a root of w^T x", expected=0.0,
                            got=value if value is not None else r)

    def is_nearest(w, x, b):
        r = vector(w, x, b)
        d = x - r
        off = d - (d @ w) / (w @ w) * w
        if np.linalg.norm(off) > 1e-6 * (1 + np.linalg.norm(x)):
            raise Violation("x - x~ is not parallel to w, so x~ is not the nearest root: moving it along the "
                            "hyperplane f = 0 (orthogonally to w) brings it closer to x",
                            expected=ref.nearest_root_linear(w, x, b), got=r)

    def agrees(w, x, b):
        assert_close(vector(w, x, b), ref.nearest_root_linear(w, x, b), "nearest root", rtol=1e-5, atol=1e-5)

    return check_properties(q, {"returns a vector like x": returns_vector, "f(x~) = 0": is_root,
                                "default b = 0": default_bias_is_zero, "nearest (x - x~ parallel to w)": is_nearest,
                                "agrees with the closed form": agrees},
                            _affine_examples(thorough), max_examples=120 if thorough else 40)


# --- 6. numeric: Taylor relevances of any differentiable model (torch) ------------------------

def _linear_models(thorough):
    return st.integers(1, 6 if thorough else 4).flatmap(lambda k: st.fixed_dictionaries({
        "w": arrays((k,), -2.0, 2.0), "x": arrays((k,), -2.0, 2.0), "root": arrays((k,), -2.0, 2.0)}))


def _tanh_models(thorough):
    return st.integers(1, 6 if thorough else 3).flatmap(lambda k: st.fixed_dictionaries({
        "W": arrays((k, 2), -1.0, 1.0), "x": arrays((k,), -2.0, 2.0), "root": arrays((k,), -2.0, 2.0)}))


def _t(a):
    import torch

    return torch.tensor(np.asarray(a, dtype=np.float32))


def _tanh_model(W):
    return TanhSum(np.asarray(W, dtype=np.float32))


def _gradient(f, at):
    import torch

    z = _t(at).requires_grad_(True)
    (g,) = torch.autograd.grad(f(z), z)
    return g.numpy()


_X_FACTOR = "Your R_i = df/dx_i * x_i: the factor is (x_i - root_i)."
_SENSITIVITY = "Your R_i = (df/dx_i)^2 is the sensitivity; Taylor multiplies df/dx_i by (x_i - root_i)."
#: What a student's taylor_relevances(f, x, root) is compared with (f a torch function, x and root arrays).
TAYLOR_MISTAKES = [
    ("You evaluated the gradient at x; the Taylor expansion around the root uses df/dx_i at the root.",
     lambda f, x, root: _gradient(f, x) * (x - root)),
    (_X_FACTOR, lambda f, x, root: _gradient(f, root) * x),
    (_X_FACTOR, lambda f, x, root: _gradient(f, x) * x),
    (_SENSITIVITY, lambda f, x, root: _gradient(f, root) ** 2),
    (_SENSITIVITY, lambda f, x, root: _gradient(f, x) ** 2),
]


def _taylor_probes():
    """(f, x, root) on which the mistakes all differ: tanh models in 5 and 7 dimensions, not saturated at x or at
    the root (so the gradient differs between them), inputs from 0.05 to 30 in size, roots away from 0."""
    W5 = np.array([[0.5, -1.2], [2.0, 0.3], [-0.7, 1.1], [0.9, 0.4], [1.5, -2.0]]) / 4
    W7 = np.array([[0.05, -0.2], [0.3, 0.1], [-0.02, -0.04], [0.25, -0.15], [0.1, 0.1], [-0.3, 0.02], [0.07, 0.04]]) / 2
    return [(_tanh_model(W5), np.array([1.0, -2.0, 0.5, 3.0, -1.5]), np.array([0.2, 0.4, -0.6, 1.0, 0.3])),
            (_tanh_model(W7), np.array([12.0, -0.05, 30.0, -4.0, 0.8, 2.5, -15.0]),
             np.array([-1.0, 0.5, 2.0, 0.1, -0.4, 3.0, 1.5]))]


@question("taylor_relevances(f, x, root)", answers="taylor_relevances",
          hint="take the gradient of f at the root with torch.autograd and multiply it by x - root")
def taylor_relevances(ask, fn, thorough: bool = False):
    """``fn(f, x, root) -> R`` with ``R_i = df/dx_i(root) (x_i - root_i)`` (torch float32 tensors of shape (n,))."""
    import torch

    q = ask.title
    ask.function(fn, "taylor_relevances")
    diagnosis = Diagnosis(fn, TAYLOR_MISTAKES, _taylor_probes(), rtol=1e-4, atol=1e-5,   # decided on the probes
                          convert=lambda args: (args[0], _t(args[1]), _t(args[2])))

    def relevances(f_, x_, root_):
        with torch.enable_grad():
            out = call(fn, f_, _t(x_), _t(root_), name="taylor_relevances")
        R = as_array(out, "taylor_relevances(f, x, root)")
        if R.shape != np.shape(x_):
            raise Violation(f"expected relevances of the shape of x, {np.shape(x_)}, got shape {R.shape}")
        if not np.all(np.isfinite(R)):
            raise Violation("the relevances contain NaN or infinity", got=R)
        return R

    def linear_exact(w, x, root):
        R = relevances(Linear(np.asarray(w, dtype=np.float32)), x, root)
        want = float(w.astype(np.float32) @ (x - root).astype(np.float32))
        if not np.isclose(R.sum(), want, rtol=1e-4, atol=1e-4):
            hint = diagnosis.hint()
            raise Violation("for a linear f(x) = w^T x the first-order Taylor expansion is exact, so the "
                            "relevances must sum to f(x) - f(root) = w^T (x - root)." + (f" {hint}" if hint else ""),
                            expected=want, got=float(R.sum()))

    def gradient_at_root(W, x, root):
        f_ = _tanh_model(W)
        R = relevances(f_, x, root)
        want = ref.taylor_decomposition(f_, _t(x), _t(root)).numpy()
        if not np.allclose(R, want, rtol=1e-4, atol=1e-4):
            hint = diagnosis.hint()
            raise Violation("on the non-linear f(x) = sum_k tanh((x W)_k) your relevances differ from "
                            "df/dx_i(root) * (x_i - root_i)." + (f" {hint}" if hint else ""), expected=want, got=R)

    examples = 60 if thorough else 25
    check_properties(q + " [linear f]", {"relevances sum to f(x) - f(root)": linear_exact},
                     _linear_models(thorough), max_examples=examples)
    return check_properties(q + " [non-linear f]", {"gradient taken at the root": gradient_at_root},
                            _tanh_models(thorough), max_examples=examples)


# --- 7. multiple choice ---------------------------------------------------------------------

# The two questions ask about the same three methods.
_METHODS = {"A": "sensitivity analysis", "B": r"Taylor decomposition at the root $\mathbf{0}$ (gradient × input)",
            "C": "Taylor decomposition at the nearest root"}

CONSERVATION_OPTIONS = Choices({
    "A": (_METHODS["A"], False, "add up your R_sens. Is the sum f(x) = w^T x for every x? (Does it even contain x?)"),
    "B": (_METHODS["B"], True, "add up your R_taylor0 (`sum(R_taylor0)`) and compare with f = w^T x"),
    "C": (_METHODS["C"], True, "simplify `sum(R_nearest)`: what is sum_i w_i^2 (w^T x) / ||w||^2?"),
})


@multiple_choice("which explanations conserve f(x)", answers="mc_conservation",
                 hint="add up each of your three relevance vectors and compare the sums with f(x) = w^T x",
                 choices=CONSERVATION_OPTIONS)
def conservation_choice(answer):
    """One check over ``CONSERVATION_OPTIONS``."""


PATTERN_OPTIONS = Choices({
    "A": (_METHODS["A"], False, "R_i = w_i^2. Which symbol of the input appears in it?"),
    "B": (_METHODS["B"], True, "R_i = w_i x_i. What happens to a pixel whose x_i = 0 (background) in one image and "
                               "x_i = 1 (ink) in another?"),
    "C": (_METHODS["C"], False, "R_i = w_i^2 (w^T x)/||w||^2. The x-dependent factor (w^T x)/||w||^2 is the same for "
                                "every pixel: it changes the scale (and sign) of the map, not its pattern"),
})


@multiple_choice("which heatmap pattern depends on the input", answers="mc_pattern",
                 hint="for each method, which symbols of the input x appear in R_i, and does the factor differ between pixels?",
                 choices=PATTERN_OPTIONS)
def pattern_choice(answer):
    """One check over ``PATTERN_OPTIONS``."""


hint = hints_of(__name__)
