"""Checks for the ``deep_taylor`` assignment (thesis Sec. 3.3 and Table 3.1; SUTD week 10 notes on LRP).

**Derivation (SymPy).** One ReLU neuron ``R_k = max(0, z_k)``, ``z_k = sum_j a_j w_j + b`` with
``J = 3`` explicit components, matched by *name*: ``a = Matrix([a1, a2, a3])`` (activations),
``w = Matrix([w1, w2, w3])`` (the weights ``w_jk`` into neuron k), ``v`` (a search direction),
``l, h`` (box bounds), the bias ``b`` and the step ``t``. The neuron is active, so ``R_k = z_k``.
Indicators may be written with ``Piecewise``, ``Heaviside(x, 1)``, ``Max(x, 0)/x`` or anything
equivalent; answers are compared symbolically, then on random numbers (:mod:`autograder.symbolic`).

**Implementation (Hypothesis).** ``w2(w, R)``, ``zplus(a, w, R)`` and ``zbeta(a, w, R, low, high)``
(thesis orientation: ``a`` (..., J), ``w`` (J, K), ``R`` (..., K)) are checked for shape, no NaN,
conservation, positivity, agreement with :mod:`reference.lrp` and the batch dimension; the feedback
shows Hypothesis's shrunk counterexample and names the typical mistake when the student's function
reproduces one on fixed probe inputs (``w`` for ``w^2``/``w^+``, a forgotten ``a_j``, Table 3.1's
swapped ``l``/``h``, a sign error, z+ where z^beta belongs).

**Network.** ``deep_taylor(layers, x, target, low, high)`` (z^beta on the pixels, z+ above, from the
target logit) is compared with the reference rules on generated small networks (biases of both
signs) and with :func:`reference.propagation.propagate` and ``deep_taylor(0, 1)`` on the notebook's
trained digit classifier.
"""
from __future__ import annotations

import contextlib
import copy
import io
import re
import warnings

import numpy as np
import sympy
from hypothesis import strategies as st

from reference import lrp as ref_lrp

from .. import choices, symbolic
from ..feedback import CheckFailed, check, describe_exception, not_answered, passed
from ..properties import Violation, arrays, as_array, check_properties, decimals, layers

# --- symbols ------------------------------------------------------------------------------------

J = 3
a, w, v, l, h = (sympy.Matrix(sympy.symbols(f"{n}1:{J + 1}", real=True)) for n in "awvlh")
b = sympy.Symbol("b", real=True)
t = sympy.Symbol("t", real=True)
z = a.dot(w) + b                     # z_k = R_k for an active neuron

M = symbolic.Mistake


def ge0(x):
    """``1{x >= 0}``."""
    return sympy.Piecewise((1, x >= 0), (0, True))


def lt0(x):
    """``1{x < 0}``."""
    return sympy.Piecewise((1, x < 0), (0, True))


def pos(x):
    """``x^+ = max(0, x)``."""
    return sympy.Max(x, 0)


def neg(x):
    """``x^- = min(0, x)``."""
    return sympy.Min(x, 0)


def _vec(f):
    return sympy.ImmutableMatrix([f(j) for j in range(J)])


def _names(*groups) -> set[str]:
    out = set()
    for g in groups:
        out |= {s.name for s in g} if isinstance(g, sympy.MatrixBase) else {g.name}
    return out


OURS = {s.name: s for s in [*a, *w, *v, *l, *h, b, t]}
_NONNEGATIVE_A = {f"a{j}": "nonnegative" for j in range(1, J + 1)}


def _domain(seed, kinds=None):
    return symbolic.Domain(kinds=kinds or {}, trials=6, seed=seed)


#: One seed per question, chosen so that every draw of the numeric stage (6 trials, and the 3 draws that
#: test the catalogue of mistakes) has weights of both signs: a z+ denominator sum_j a_j w_j^+ is never
#: 0 (no NaN) and the sign-dependent mistakes (swapped l/h, w for w^+) stay distinguishable.
#: tests/test_deep_taylor.py::test_question_seeds_draw_weights_of_both_signs keeps it so.
DOMAINS = {"step": _domain(13), "generic": _domain(13), "zplus_direction": _domain(14, _NONNEGATIVE_A),
           "zplus_root": _domain(76, _NONNEGATIVE_A), "zplus_relevance": _domain(76, _NONNEGATIVE_A),
           "zbeta_direction": _domain(44), "zbeta_relevance": _domain(51)}


# --- the expected expressions (tests check them against reference.roots and reference.lrp) ------

def step(direction=v):
    """``t = z_k / sum_j v_j w_j``: where ``a - t v`` meets ``z_k = 0`` (thesis eqs. 3.11-3.13)."""
    return z / direction.dot(w)


def generic_relevance(direction=v):
    """``R_j = w_j (a_j - a~_j) = v_j w_j / (sum_j v_j w_j) R_k`` (eqs. 3.15-3.17)."""
    return sympy.ImmutableMatrix(direction.multiply_elementwise(w) * z / direction.dot(w))


V_ZPLUS = _vec(lambda j: a[j] * ge0(w[j]))
V_ZBETA = _vec(lambda j: a[j] - l[j] * ge0(w[j]) - h[j] * lt0(w[j]))
V_TABLE = _vec(lambda j: a[j] - h[j] * ge0(w[j]) - l[j] * lt0(w[j]))   # what Table 3.1 implies
ROOT_ZPLUS = sympy.ImmutableMatrix(a - step(V_ZPLUS) * V_ZPLUS)


def _ratio(num):
    num = sympy.ImmutableMatrix(num)
    return sympy.ImmutableMatrix(num * z / sum(num))


R_ZPLUS = _ratio(_vec(lambda j: a[j] * pos(w[j])))
R_ZBETA = _ratio(_vec(lambda j: a[j] * w[j] - l[j] * pos(w[j]) - h[j] * neg(w[j])))
R_TABLE = _ratio(_vec(lambda j: a[j] * w[j] - l[j] * neg(w[j]) - h[j] * pos(w[j])))
R_W2 = _ratio(_vec(lambda j: w[j] ** 2))
R_LRP0 = _ratio(_vec(lambda j: a[j] * w[j]))


# --- turning an answer into something comparable --------------------------------------------------

_RK_NAMES = {"R_k", "Rk", "R", "z_k", "zk", "z", "R_k(a)"}


def _normalise(question, name, answer, *, scalar):
    """:func:`autograder.symbolic.unwrap`, and a row where a column is meant becomes the column."""
    answer = symbolic.unwrap(question, name, answer, scalar=scalar)
    if isinstance(answer, sympy.MatrixBase) and not scalar and answer.shape == (1, J):
        answer = answer.T   # the components are what matters
    if isinstance(answer, sympy.MatrixBase):
        answer = sympy.ImmutableMatrix(answer)
    return answer


def _as_ours(expr):
    """The student's own ``a1``, ``w2``, ``b`` (say, without ``real=True``) -> the question's symbols."""
    if not isinstance(expr, (sympy.Basic, sympy.MatrixBase)):
        return expr
    return expr.xreplace({s: OURS[s.name] for s in expr.free_symbols
                          if isinstance(s, sympy.Symbol) and s.name in OURS and s != OURS[s.name]})


def _symbolic(question, name, answer, expected, mistakes, allowed, *, domain, substitute_hint=None):
    answer = _normalise(question, name, answer, scalar=not symbolic.is_matrix(expected))
    try:
        names = {s.name for s in symbolic.coerce(answer).free_symbols}
    except (ValueError, TypeError):
        names = set()
    if "t" in names and "t" not in allowed:
        raise CheckFailed(question, f"`{name}` still contains the step t: substitute the step of the line search "
                                    f"(your `t_step`), e.g. `expr.subs(t, t_step)`")
    if names & _RK_NAMES:
        raise CheckFailed(question, f"`{name}` uses {sorted(names & _RK_NAMES)[0]}: write R_k as the neuron's "
                                    f"value z_k = a1*w1 + a2*w2 + a3*w3 + b (the notebook's `z_k`; the neuron is "
                                    f"active, so R_k = z_k)")
    used_v = sorted(n for n in names if re.fullmatch(r"v\d", n))
    if used_v and "v1" not in allowed:
        raise CheckFailed(question, f"`{name}` still contains the generic direction ({used_v[0]}): "
                          + (substitute_hint or "substitute the rule's direction for v"))
    answer = _as_ours(answer)
    return symbolic.check(question, answer, expected, domain,
                          mistakes=[M(sympy.ImmutableMatrix(m.expr) if isinstance(m.expr, sympy.MatrixBase)
                                      else m.expr, m.hint) for m in mistakes],
                          allowed=set(allowed))


A_W_B = _names(a, w, b)
A_W_V_B = _names(a, w, v, b)


# --- 1. the line search -----------------------------------------------------------------------------

@check("step of the line search")
def step_length(t_step):
    """``t = z_k / sum_j v_j w_j`` (with the bias: ``0 = sum_j (a_j - t v_j) w_j + b``)."""
    q = "step of the line search"
    return _symbolic(q, "t_step", t_step, step(), [
        M(a.dot(w) / v.dot(w), "the bias: the root solves 0 = sum_j (a_j - t v_j) w_j + b, so t sum_j v_j w_j = "
                               "z_k = sum_j a_j w_j + b (that is the thesis's R_k in eq. 3.12)"),
        M(-step(), "sign: with a~ = a - t v, 0 = z_k - t sum_j v_j w_j gives t = +z_k / sum_j v_j w_j"),
        M(v.dot(w) / z, "you inverted it: t sum_j v_j w_j = z_k, so t = z_k / sum_j v_j w_j"),
        M(z / w.dot(w), "that is the step of the w^2 rule (v = w); keep the general direction v"),
        M(z / a.dot(w), "that is the step along the direction v = a; keep the general direction v"),
        M(z, "divide by sum_j v_j w_j: moving by t along v changes z_k by t sum_j v_j w_j"),
    ], A_W_V_B, domain=DOMAINS["step"])


@check("relevance from the root point")
def relevance_generic(R_generic):
    """``R_j = dR_k/da_j|_a~ (a_j - a~_j) = w_j t v_j = v_j w_j / (sum_j v_j w_j) R_k``."""
    q = "relevance from the root point"
    rg = generic_relevance()
    return _symbolic(q, "R_generic", R_generic, rg, [
        M(sympy.ImmutableMatrix(w.multiply_elementwise(a - step() * v)), "you multiplied the gradient w_j by the "
          "root point a~_j; the first-order Taylor term uses the step (a_j - a~_j) = t v_j"),
        M(sympy.ImmutableMatrix(v * z / v.dot(w)), "the gradient is missing: dR_k/da_j = w_j multiplies "
          "(a_j - a~_j) = t v_j"),
        M(sympy.ImmutableMatrix(a.multiply_elementwise(w)), "a_j w_j is gradient x input (a Taylor expansion at 0); "
          "the expansion at the root a~ = a - t v multiplies w_j by a_j - a~_j = t v_j"),
        M(R_W2, "that is the w^2 rule (v = w); keep the general direction v"),
        M(-rg, "sign: a_j - a~_j = +t v_j, with t = z_k / sum_j v_j w_j"),
        M(sympy.ImmutableMatrix(v.multiply_elementwise(w) / v.dot(w)), "these shares add up to 1, not to R_k: "
          "multiply by R_k = z_k (t contains it)"),
        M(sympy.ImmutableMatrix(v.multiply_elementwise(w) * a.dot(w) / v.dot(w)), "the bias: R_k = z_k = "
          "sum_j a_j w_j + b, and so is t sum_j v_j w_j"),
    ], A_W_V_B, domain=DOMAINS["generic"])


# --- 2. the z+ rule ------------------------------------------------------------------------------------

@check("z+ search direction")
def zplus_direction(v_zplus):
    """``v_j = a_j - a_j 1{w_j < 0} = a_j 1{w_j >= 0}``."""
    q = "z+ search direction"
    return _symbolic(q, "v_zplus", v_zplus, V_ZPLUS, [
        M(_vec(lambda j: a[j] * lt0(w[j])), "that is the end of the segment, the point a_j 1{w_j < 0} where R_k = 0; "
          "the direction points from it to a: v = a - a_j 1{w_j < 0}"),
        M(a, "v = a searches towards 0 along the whole input (the root of gradient x input); the z+ root keeps the "
             "inputs with negative weights where they are: v_j = 0 where w_j < 0"),
        M(w, "v = w is the w^2 direction; for a >= 0 it can leave the domain (negative activations)"),
        M(_vec(lambda j: a[j] * pos(w[j])), "a_j w_j^+ is the numerator of the rule (v_j times the gradient w_j); "
          "the direction itself is a_j 1{w_j >= 0}"),
        M(_vec(lambda j: pos(w[j])), "w_j^+ is not a point of the input space along which to search: the direction "
          "goes from the segment end a_j 1{w_j < 0} to a"),
        M(-V_ZPLUS, "sign: a~ = a - t v moves from a towards a_j 1{w_j < 0}, so v = a - a_j 1{w_j < 0}"),
    ], _names(a, w), domain=DOMAINS["zplus_direction"])


@check("z+ root point")
def zplus_root(root_zplus):
    """``a~ = a - t v`` with ``v = a 1{w >= 0}`` and ``t = z_k / sum_j a_j w_j^+``."""
    q = "z+ root point"
    return _symbolic(q, "root_zplus", root_zplus, ROOT_ZPLUS, [
        M(_vec(lambda j: a[j] * lt0(w[j])), "that is the end of the segment (t = 1), where R_k = max(0, z_k) is 0 but "
          "flat: the Taylor root is where the segment first meets z_k = 0, at t = z_k / sum_j a_j w_j^+"),
        M(sympy.ImmutableMatrix(a + step(V_ZPLUS) * V_ZPLUS), "sign: the root is a - t v (towards the segment end), "
          "not a + t v"),
        M(sympy.ImmutableMatrix(a - a.dot(w) / V_ZPLUS.dot(w) * V_ZPLUS), "the bias: t = z_k / sum_j v_j w_j with "
          "z_k = sum_j a_j w_j + b"),
        M(sympy.ImmutableMatrix(a - step(w) * w), "that is the w^2 root a - t w: it can have negative entries, "
          "outside the domain a >= 0 of ReLU activations"),
        M(sympy.ImmutableMatrix(a - step(a) * a), "that is the root along v = a; the z+ direction keeps the inputs "
          "with negative weights fixed"),
        M(sympy.zeros(J, 1), "0 is a root only of the bias-free, all-positive case; search along v = a 1{w >= 0}"),
    ], A_W_B, domain=DOMAINS["zplus_root"],
        substitute_hint="use your z+ direction, e.g. `t_step.subs(dict(zip(v, v_zplus)))`")


@check("z+ rule")
def zplus_relevance(R_zplus):
    """``R_j = a_j w_j^+ / (sum_j a_j w_j^+) R_k``."""
    q = "z+ rule"
    return _symbolic(q, "R_zplus", R_zplus, R_ZPLUS, [
        M(R_LRP0, "a_j w_j / sum_j a_j w_j R_k uses all weights (the LRP-0 rule, direction v = a): with the z+ "
                  "direction v_j = a_j 1{w_j >= 0} only the positive weights w_j^+ remain"),
        M(_vec(lambda j: a[j] * pos(w[j]) / a.dot(w.applyfunc(pos))), "these shares add up to 1: multiply by "
          "R_k = z_k"),
        M(_vec(lambda j: a[j] * pos(w[j]) * z / a.dot(w)), "the denominator is sum_j v_j w_j = sum_j a_j w_j^+ "
          "(then the shares add up to exactly 1)"),
        M(_vec(lambda j: a[j] * pos(w[j]) * z / (a.dot(w.applyfunc(pos)) + b)), "the bias is not in the "
          "denominator: sum_j v_j w_j = sum_j a_j w_j^+"),
        M(R_W2, "that is the w^2 rule"),
        M(_ratio(_vec(lambda j: a[j] * neg(w[j]))), "the z+ rule keeps the positive weights w^+ = max(0, w)"),
        M(_ratio(_vec(lambda j: pos(w[j]))), "a_j is missing: v_j = a_j 1{w_j >= 0}, so v_j w_j = a_j w_j^+"),
    ], A_W_B, domain=DOMAINS["zplus_relevance"],
        substitute_hint="use your z+ direction, e.g. `R_generic.subs(dict(zip(v, v_zplus)))`")


# --- 3. the z^beta rule ---------------------------------------------------------------------------------

@check("z^beta search direction")
def zbeta_direction(v_zbeta):
    """``v_j = a_j - l_j 1{w_j >= 0} - h_j 1{w_j < 0}`` (towards the corner that minimises z_k)."""
    q = "z^beta search direction"
    return _symbolic(q, "v_zbeta", v_zbeta, V_ZBETA, [
        M(V_TABLE, "l and h are swapped: that corner, h_j where w_j >= 0 and l_j where w_j < 0, is where z_k is "
                   "*largest*. The root lies towards the corner where z_k is smallest: l_j for positive weights, "
                   "h_j for negative ones"),
        M(_vec(lambda j: l[j] * ge0(w[j]) + h[j] * lt0(w[j])), "that is the corner itself (the end of the segment); "
          "the direction is a minus the corner"),
        M(a - l, "the corner depends on the sign of each weight: l_j where w_j >= 0, h_j where w_j < 0"),
        M(a - h, "the corner depends on the sign of each weight: l_j where w_j >= 0, h_j where w_j < 0"),
        M(V_ZPLUS, "that is the z+ direction (l = 0, and no upper bound): z^beta searches towards the box corner "
                   "l_j 1{w_j >= 0} + h_j 1{w_j < 0}"),
        M(-V_ZBETA, "sign: a~ = a - t v moves from a towards the corner, so v = a - corner"),
    ], _names(a, w, l, h), domain=DOMAINS["zbeta_direction"])


@check("z^beta rule")
def zbeta_relevance(R_zbeta):
    """``R_j = (a_j w_j - l_j w_j^+ - h_j w_j^-) / sum_j (...) R_k`` (the derivation, not Table 3.1)."""
    q = "z^beta rule"
    return _symbolic(q, "R_zbeta", R_zbeta, R_ZBETA, [
        M(R_TABLE, "that is Table 3.1 as printed, a_j w_j - l_j w_j^- - h_j w_j^+: its l and h are swapped "
                   "relative to its own derivation (eqs. 3.22-3.25). Multiply your z^beta direction by w_j: "
                   "l_j 1{w_j >= 0} w_j = l_j w_j^+"),
        M(R_ZPLUS, "that is the z+ rule: z^beta uses the box bounds l and h"),
        M(_ratio(_vec(lambda j: (a[j] - l[j] - h[j]) * w[j])), "l_j goes with the positive weights and h_j with the "
          "negative ones: l_j w_j^+ and h_j w_j^-"),
        M(_ratio(_vec(lambda j: a[j] * w[j] + l[j] * pos(w[j]) + h[j] * neg(w[j]))), "sign: v_j w_j = (a_j - corner_j) "
          "w_j, so the bound terms are subtracted"),
        M(R_LRP0, "the box bounds are missing: v_j = a_j - l_j 1{w_j >= 0} - h_j 1{w_j < 0}"),
        M(_vec(lambda j: (a[j] * w[j] - l[j] * pos(w[j]) - h[j] * neg(w[j]))
               / sum(a[i] * w[i] - l[i] * pos(w[i]) - h[i] * neg(w[i]) for i in range(J))),
          "these shares add up to 1: multiply by R_k = z_k"),
    ], _names(a, w, l, h, b), domain=DOMAINS["zbeta_relevance"],
        substitute_hint="use your z^beta direction, e.g. `R_generic.subs(dict(zip(v, v_zbeta)))`")


# --- multiple choice --------------------------------------------------------------------------------

def _statements(question, name, answer, statements):
    got = choices.chosen(question, name, answer, statements)
    want = {k for k, (truth, _) in statements.items() if truth}
    return choices.judge(question, got, want, {k: text for k, (_, text) in statements.items()})


TABLE_STATEMENTS = {
    "A": (True, "the table's shares are its terms divided by their sum, so they add up to 1 whenever the sum is not "
                "0: it conserves R_k as well as the derivation's rule does."),
    "B": (False, "inside the box each of the table's terms is <= 0 ((a_j - h_j) w_j for w_j >= 0, (a_j - l_j) w_j for "
                 "w_j < 0), so their ratio to their (negative) sum is >= 0: no negative relevance. Try a = (0.9, 0.1), "
                 "w = (1, 1), l = 0, h = 1 in both formulas."),
    "C": (True, "the derivation's corner l_j 1{w_j >= 0} + h_j 1{w_j < 0} makes every term a~_j w_j as small as the "
                "box allows: it minimises z_k over the box, so z_k <= b_k <= 0 there (0 is in the box) and the "
                "segment from it to a crosses z_k = 0 inside the box."),
    "D": (True, "the table's numerators are (a_j - c_j) w_j with the corner c_j = h_j 1{w_j >= 0} + l_j 1{w_j < 0}, "
                "where z_k is largest; since z_k(c) >= z_k(a) > 0, the line from c through a meets z_k = 0 only beyond "
                "a, and that root can leave the box (a = (0.9, 0.1), w = (1, 1), b = 0, [l, h] = [0, 1]: root "
                "(0.8, -0.8))."),
    "E": (False, "with l = 0 the table's numerator is a_j w_j - h_j w_j^+, the derivation's a_j w_j - h_j w_j^-: they "
                 "differ for every weight (e.g. w_j > 0: (a_j - h_j) w_j against a_j w_j)."),
}


@check("Table 3.1 and its derivation")
def table_typo(answer):
    """Multiple select over ``TABLE_STATEMENTS``: answer {"A", "C", "D"}."""
    return _statements("Table 3.1 and its derivation", "table_statements", answer, TABLE_STATEMENTS)


RULE_STATEMENTS = {
    "A": (True, "with alpha = 1, beta = 0 the alpha-beta rule (eq. 3.3) is a_j w_jk^+ / sum_j a_j w_jk^+ R_k, the z+ "
                "rule."),
    "B": (False, "R_j = sum_k w_jk^2 / sum_j w_jk^2 R_k has no a_j in it: the input only reaches the w^2 rule through "
                 "R_k from the layer above."),
    "C": (False, "for a ReLU network with biases f(x) = sum_i x_i df/dx_i + (what the biases add along the active "
                 "paths), so gradient x input adds up to the logit minus the biases' share: compare the columns of "
                 "the table of sums."),
    "D": (True, "the epsilon rule divides a_j w_jk by z_k + eps sign(z_k) with the bias inside z_k, so its shares add "
                "up to (z_k - b_k) / (z_k + eps sign(z_k)), not 1: bias and stabiliser absorb (or, for b_k < 0, add) "
                "relevance."),
    "E": (False, "a black pixel (x_j = 0 = l_j) with a negative weight gets a share -h_j w_jk^- > 0: under z^beta, "
                 "missing ink where ink would have lowered z_k counts as evidence."),
    "F": (True, "with b_k > 0 the step t = z_k / sum_j a_j w_jk^+ can exceed 1, and a - t v then has negative entries: "
                "the root leaves the domain a >= 0 that the z+ derivation assumes (b_k <= 0)."),
}


@check("true statements about the rules")
def rule_statements(answer):
    """Multiple select over ``RULE_STATEMENTS``: answer {"A", "D", "F"}."""
    return _statements("true statements about the rules", "rule_statements", answer, RULE_STATEMENTS)


# --- implemented rules: helpers ----------------------------------------------------------------------

def _safe(R, den):
    return np.where(den != 0, R / np.where(den != 0, den, 1.0), 0.0)


def _call(fn, *args):
    """Call a student's function on copies, quietly; report changed arguments."""
    copies = [np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in args]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*copies)
    for x, c in zip(args, copies):
        if isinstance(x, np.ndarray) and (c.shape != x.shape or not np.array_equal(c, x)):
            raise Violation("your function changed its arguments in place (e.g. w[w < 0] = 0 or a *= ...); compute "
                            "new arrays instead (np.maximum(w, 0)) so that the caller's weights survive")
    return out


def _output(name, fn, args, want_shape, arg_text, R_shape):
    try:
        out = _call(fn, *args)
    except (NotImplementedError, Violation):
        raise
    except Exception as err:  # noqa: BLE001 - explain what the rule must accept
        raise Violation(f"your {name} raised {describe_exception(err)}\nIt must accept {arg_text}.") from None
    out = as_array(out, f"{name}(...)")
    if out.shape != want_shape:
        hint = ""
        if out.shape == R_shape and R_shape != want_shape:
            hint = " That is the shape of R: send the relevance back along the weights (s @ v.T)."
        raise Violation(f"{name} returned shape {out.shape}; expected {want_shape} (one relevance per input neuron j, "
                        f"for each example of the batch).{hint}")
    if not np.all(np.isfinite(out)):
        raise Violation("the relevance contains NaN or infinity: an output k whose denominator z_k is 0 must give "
                        "s_k = 0, not R_k / 0. Divide only where z != 0, e.g. "
                        "s = np.where(z != 0, R / np.where(z != 0, z, 1), 0).", got=out)
    return out


class _Mistake:
    """Which catalogued mistake does a student's function make? Decided once, lazily, by calling it on a few
    fixed generic inputs (weights of both signs, a non-trivial box) where the catalogued rules all differ,
    not on the shrunk counterexample, where several mistakes may coincide."""

    def __init__(self, fn, catalogue, probes):
        self.fn, self.catalogue, self.probes, self._hint = fn, catalogue, probes, None

    def hint(self) -> str:
        if self._hint is None:
            self._hint = self._find()
        return self._hint

    def _find(self) -> str:
        outs = []
        for args in self.probes:
            try:
                outs.append((args, as_array(_call(self.fn, *copy.deepcopy(args)), "probe")))
            except Exception:  # noqa: BLE001 - a probe the student's code cannot take tells nothing
                continue
        if not outs:
            return ""
        for hint, wrong in self.catalogue:
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    alts = [np.asarray(wrong(*args), float) for args, _ in outs]
            except Exception:  # noqa: BLE001 - a catalogue entry that does not apply
                continue
            if all(alt.shape == out.shape and np.all(np.isfinite(alt)) and np.allclose(out, alt, rtol=1e-6, atol=1e-8)
                   for alt, (_, out) in zip(alts, outs)):
                return hint
        return ""

    def explain(self, message: str) -> str:
        hint = self.hint()
        return f"{hint}\n({message})" if hint else message


def _probes(name):
    """Fixed generic inputs of each rule: ``[(args...), ...]``."""
    rng = np.random.default_rng(31)
    w_, R_ = np.round(rng.normal(size=(4, 3)), 2), np.round(rng.uniform(0.5, 2.0, (2, 3)), 2)
    if name == "w2":
        return [(w_, R_)]
    if name == "zplus":
        return [(np.round(rng.uniform(0.0, 2.0, (2, 4)), 2), w_, R_)]
    low, high = np.round(rng.uniform(-1.0, -0.2, 4), 2), np.round(rng.uniform(0.5, 1.5, 4), 2)
    return [(np.round(rng.uniform(0.0, 1.0, (2, 4)), 2), w_, R_, 0.0, 1.0),
            (np.round(rng.uniform(-1.0, 1.0, (2, 4)), 2), w_, R_, -1.0, 1.0),
            (np.round(rng.uniform(low, high, (2, 4)), 2), w_, R_, low, high)]


def _rule_properties(name, fn, student, reference, catalogue, denominator, *, check_positivity=True):
    """Properties of a dense rule; ``student(ex)`` / ``reference(ex)`` / ``denominator(ex)`` take one example."""
    mistake = _Mistake(fn, catalogue, _probes(name))

    def shape_and_finite(**ex):
        student(ex)

    def conservation(**ex):
        out = student(ex)
        want = (ex["R"] * (denominator(ex) != 0)).sum(-1)
        got = out.sum(-1)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
            raise Violation(mistake.explain("relevance is not conserved: sum_j R_j must equal sum_k R_k over the "
                                            "outputs whose denominator z_k is not 0 (each such R_k is shared out "
                                            "completely)"), expected=want, got=got)

    def positivity(**ex):
        out = student(ex)
        if np.any(out < -1e-9):
            raise Violation(mistake.explain("negative relevance: with R >= 0 every share of this rule is >= 0 on its "
                                            "input domain"), expected=reference(ex), got=out)

    def agreement(**ex):
        out = student(ex)
        want = reference(ex)
        if not np.allclose(out, want, rtol=1e-5, atol=1e-6):
            raise Violation(mistake.explain(f"your {name} does not give the rule's relevances"), expected=want,
                            got=out)

    def batch_dimension(**ex):
        out = student(ex)
        for i in range(ex["R"].shape[0]):
            one = {k: (val[i] if k in ("a", "R") else val) for k, val in ex.items()}
            try:
                row = student(one)
            except Violation as err:
                raise Violation(f"one example at a time (a of shape ({one['w'].shape[0]},), R of shape "
                                f"({one['w'].shape[1]},)) fails: {err.message} The rule must work for a of shape "
                                f"(..., J).") from None
            if not np.allclose(row, out[i], rtol=1e-6, atol=1e-6):
                raise Violation(f"one example at a time (example {i} without the batch dimension) gives a different "
                                f"answer than row {i} of the batch: the examples of a batch must not mix",
                                expected=out[i], got=row)

    props = {"shape and no NaN": shape_and_finite, "conservation": conservation}
    if check_positivity:
        props["positivity"] = positivity
    props[f"agreement with the {name} rule"] = agreement
    props["batch dimension"] = batch_dimension
    return props


def _answer_fn(question, name, fn):
    if fn is None or fn is Ellipsis:
        raise not_answered(question, name)
    if not callable(fn):
        raise CheckFailed(question, f"expected a function {name}(...), got {type(fn).__name__}")


# --- w^2 ------------------------------------------------------------------------------------------------

def _four_line(v_of, a_of=None):
    """A rule ``R_j = sum_k v_jk s_k (times a_j)``: the catalogue's wrong rules in the four-line style."""
    def rule(*args):
        w_, R_ = args[-2], args[-1]
        vv = v_of(w_)
        s = _safe(R_, vv.sum(0) if a_of is None else a_of(args[0]) @ vv)
        c = s @ vv.T
        return c if a_of is None else a_of(args[0]) * c
    return rule


W2_MISTAKES = [
    ("you used w where the rule has w^2 (v_j = w_jk gives v_j w_jk = w_jk^2)", _four_line(lambda w_: w_)),
    ("you used |w| where the rule has w^2 (v_j = w_jk gives v_j w_jk = w_jk^2)", _four_line(np.abs)),
    ("the denominator is sum_j w_jk^2, the squared weights (you summed the plain weights)",
     lambda w_, R_: _safe(R_, w_.sum(0)) @ (w_ ** 2).T),
    ("the relevance R_k is not normalised: divide by z_k = sum_j w_jk^2", lambda w_, R_: R_ @ (w_ ** 2).T),
    ("the normalisation runs over the wrong axis: z_k = sum_j w_jk^2 sums over the inputs j, axis 0 of w (J, K)",
     lambda w_, R_: (R_ @ (w_ ** 2).T) / np.where((w_ ** 2).sum(1) != 0, (w_ ** 2).sum(1), 1.0)),
]


def _w2_examples():
    return st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)).flatmap(
        lambda d: st.fixed_dictionaries({"w": arrays((d[1], d[2]), -2.0, 2.0), "R": arrays((d[0], d[2]), 0.0, 5.0)}))


def _w2_props(fn):
    def student(ex):
        return _output("w2", fn, (ex["w"], ex["R"]), ex["R"].shape[:-1] + (ex["w"].shape[0],),
                       f"w of shape (J, K) and R of shape (B, K) (a batch of B examples); here J, K = "
                       f"{ex['w'].shape[0]}, {ex['w'].shape[1]}", ex["R"].shape)

    return _rule_properties("w2", fn, student, lambda ex: ref_lrp.w2(ex["w"], ex["R"]), W2_MISTAKES,
                            lambda ex: (ex["w"] ** 2).sum(0) + 0 * ex["R"])


@check("w^2 rule")
def w2(fn, *, max_examples: int = 40):
    """``fn(w, R) -> R_j = sum_k w_jk^2 / sum_j w_jk^2 R_k`` (w (J, K), R (..., K) -> (..., J))."""
    q = "w^2 rule"
    _answer_fn(q, "w2", fn)
    return check_properties(q, _w2_props(fn), _w2_examples(), max_examples=max_examples)


# --- z+ ---------------------------------------------------------------------------------------------------

ZPLUS_MISTAKES = [
    ("you used w where the rule has w^+ = max(0, w): that is LRP-0 (gradient x input), which can give negative "
     "relevance", _four_line(lambda w_: w_, lambda a_: a_)),
    ("you used w^- = min(0, w); the z+ rule keeps the positive weights w^+ = max(0, w)",
     _four_line(lambda w_: np.minimum(w_, 0), lambda a_: a_)),
    ("a_j is missing: R_j = a_j c_j with c_j = sum_k w_jk^+ s_k (multiply by a at the end)",
     lambda a_, w_, R_: _safe(R_, a_ @ np.maximum(w_, 0)) @ np.maximum(w_, 0).T),
    ("the denominator must be z_k = sum_j a_j w_jk^+ (the positive part), not sum_j a_j w_jk",
     lambda a_, w_, R_: a_ * (_safe(R_, a_ @ w_) @ np.maximum(w_, 0).T)),
    ("that is the w^2 rule; z+ weighs by a_j w_jk^+", lambda a_, w_, R_: ref_lrp.w2(w_, R_)),
]


def _zplus_props(fn):
    def student(ex):
        return _output("zplus", fn, (ex["a"], ex["w"], ex["R"]), ex["a"].shape,
                       f"a of shape (B, J), w of shape (J, K) and R of shape (B, K); here B, J, K = "
                       f"{ex['a'].shape[0]}, {ex['w'].shape[0]}, {ex['w'].shape[1]}", ex["R"].shape)

    return _rule_properties("zplus", fn, student, lambda ex: ref_lrp.zplus(ex["a"], ex["w"], ex["R"]), ZPLUS_MISTAKES,
                            lambda ex: ex["a"] @ np.maximum(ex["w"], 0))


@check("z+ rule (implemented)")
def zplus(fn, *, max_examples: int = 40):
    """``fn(a, w, R) -> R_j = a_j sum_k w_jk^+ / (sum_j a_j w_jk^+) R_k`` (a >= 0)."""
    q = "z+ rule (implemented)"
    _answer_fn(q, "zplus", fn)
    return check_properties(q, _zplus_props(fn), layers(), max_examples=max_examples)


# --- z^beta ------------------------------------------------------------------------------------------------

def _zbeta_generic(a_, w_, R_, low, high, *, lw, hw, sign=-1.0, with_a=True):
    low, high = np.broadcast_to(low, a_.shape), np.broadcast_to(high, a_.shape)
    s = _safe(R_, a_ @ w_ + sign * (low @ lw(w_) + high @ hw(w_)))
    first = a_ * (s @ w_.T) if with_a else s @ w_.T
    return first + sign * (low * (s @ lw(w_).T) + high * (s @ hw(w_).T))


_P = lambda w_: np.maximum(w_, 0)  # noqa: E731
_N = lambda w_: np.minimum(w_, 0)  # noqa: E731

ZBETA_MISTAKES = [
    ("l and h are swapped (-l_j w^-_jk - h_j w^+_jk): that is Table 3.1 as printed, whose signs contradict its own "
     "derivation. The root lies at the corner l_j 1{w_jk >= 0} + h_j 1{w_jk < 0}, so l goes with w^+ and h with w^-",
     lambda *x: _zbeta_generic(*x, lw=_N, hw=_P)),
    ("sign: the bounds are subtracted, a_j w_jk - l_j w^+_jk - h_j w^-_jk (v_j = a_j - corner_j)",
     lambda *x: _zbeta_generic(*x, lw=_P, hw=_N, sign=1.0)),
    ("l goes with the positive weights and h with the negative ones: l_j w^+_jk and h_j w^-_jk, not l_j w_jk and "
     "h_j w_jk", lambda *x: _zbeta_generic(*x, lw=lambda w_: w_, hw=lambda w_: w_)),
    ("a_j is missing in the first term: R_j = a_j c_j - l_j c^+_j - h_j c^-_j",
     lambda *x: _zbeta_generic(*x, lw=_P, hw=_N, with_a=False)),
    ("that is the z+ rule: z^beta also uses the box bounds low and high",
     lambda a_, w_, R_, low, high: a_ * (_safe(R_, a_ @ _P(w_)) @ _P(w_).T)),
    ("low and high are not used: that is LRP-0 (a_j w_jk / z_k)",
     lambda a_, w_, R_, low, high: a_ * (_safe(R_, a_ @ w_) @ w_.T)),
]


def _bound(lo, hi, J_):
    """A box bound: a scalar (most often) or one value per input."""
    return st.one_of(st.just(None), decimals(lo, hi), arrays((J_,), lo, hi))


def _zbeta_examples(max_b=3, max_j=5, max_k=5):
    def build(d):
        B, J_, K = d
        return st.fixed_dictionaries({
            "x": arrays((B, J_), -2.0, 2.0), "w": arrays((J_, K), -2.0, 2.0), "R": arrays((B, K), 0.0, 5.0),
            "low": _bound(-2.0, 0.0, J_), "high": _bound(0.0, 2.0, J_)}).map(_into_box)

    return st.tuples(st.integers(1, max_b), st.integers(1, max_j), st.integers(1, max_k)).flatmap(build)


def _into_box(ex):
    low = 0.0 if ex["low"] is None else ex["low"]     # the pixel box [0, 1] by default
    high = 1.0 if ex["high"] is None else ex["high"]
    a_ = np.clip(ex["x"], low, high)
    return {"a": a_, "w": ex["w"], "R": ex["R"], "low": low, "high": high}


def _zbeta_den(ex):
    low = np.broadcast_to(ex["low"], ex["a"].shape)
    high = np.broadcast_to(ex["high"], ex["a"].shape)
    return ex["a"] @ ex["w"] - low @ _P(ex["w"]) - high @ _N(ex["w"])


def _zbeta_props(fn):
    def student(ex):
        return _output("zbeta", fn, (ex["a"], ex["w"], ex["R"], ex["low"], ex["high"]), ex["a"].shape,
                       f"a of shape (B, J), w of shape (J, K), R of shape (B, K), and low, high as numbers or arrays "
                       f"of shape (J,) (use np.broadcast_to(low, a.shape)); here B, J, K = {ex['a'].shape[0]}, "
                       f"{ex['w'].shape[0]}, {ex['w'].shape[1]}, low = {ex['low']!r:.40}, high = {ex['high']!r:.40}",
                       ex["R"].shape)

    return _rule_properties("zbeta", fn, student,
                            lambda ex: ref_lrp.zbeta(ex["a"], ex["w"], ex["R"], ex["low"], ex["high"]),
                            ZBETA_MISTAKES, _zbeta_den)


@check("z^beta rule (implemented)")
def zbeta(fn, *, max_examples: int = 40):
    """``fn(a, w, R, low, high) -> R_j = sum_k (a_j w_jk - l_j w_jk^+ - h_j w_jk^-) / sum_j (...) R_k``."""
    q = "z^beta rule (implemented)"
    _answer_fn(q, "zbeta", fn)
    return check_properties(q, _zbeta_props(fn), _zbeta_examples(), max_examples=max_examples)


# --- fixed edge cases of the three rules ---------------------------------------------------------------

def _edge(q, name, fn, cases, reference):
    _answer_fn(q, name, fn)
    for what, args in cases:
        want = reference(*args)
        try:
            got = _call(fn, *args)
        except NotImplementedError:
            raise CheckFailed(q, "the function is not implemented yet (it raises NotImplementedError)") from None
        except Violation as err:
            raise CheckFailed(q, f"{what}: {err.message}") from None
        except Exception as err:  # noqa: BLE001
            raise CheckFailed(q, f"{what}: your {name} raised {describe_exception(err)}") from None
        got_arr = as_array(got, what)
        if got_arr.shape != want.shape or not np.all(np.isfinite(got_arr)) or \
                not np.allclose(got_arr, want, rtol=1e-6, atol=1e-8):
            shown = ", ".join(f"{n} = {np.asarray(x).tolist()}" for n, x in zip(_ARGNAMES[name], args))
            raise CheckFailed(q, f"{what}:\n  {shown}\n  expected {np.round(want, 4).tolist()}\n"
                                 f"  yours    {np.round(got_arr, 4).tolist()}"
                                 + ("\n  (NaN: a zero denominator must give 0)" if not np.all(np.isfinite(got_arr))
                                    else ""))
    return passed(q, "zero denominators, integer arrays, a single example (1-D), arguments untouched")


_ARGNAMES = {"w2": ("w", "R"), "zplus": ("a", "w", "R"), "zbeta": ("a", "w", "R", "low", "high")}


@check("w^2 rule: edge cases")
def w2_edge_cases(fn):
    q = "w^2 rule: edge cases"
    cases = [("an output with all-zero weights", (np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([[3.0, 5.0]]))),
             ("integer arrays", (np.array([[1, 2], [1, 0]]), np.array([[3, 4]]))),
             ("a single example (1-D R)", (np.array([[1.0], [-2.0], [0.0]]), np.array([5.0])))]
    return _edge(q, "w2", fn, cases, ref_lrp.w2)


@check("z+ rule: edge cases")
def zplus_edge_cases(fn):
    q = "z+ rule: edge cases"
    cases = [("all inputs zero", (np.zeros((2, 3)), np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 1.0]]), np.ones((2, 2)))),
             ("an output with only negative weights", (np.array([[1.0, 2.0]]), np.array([[1.0, -1.0], [2.0, -3.0]]),
                                                       np.array([[3.0, 5.0]]))),
             ("integer arrays", (np.array([[1, 2]]), np.array([[1, 0], [1, 1]]), np.array([[3, 4]]))),
             ("a single example (1-D a and R)", (np.array([1.0, 0.0, 2.0]), np.array([[1.0], [1.0], [-1.0]]),
                                                 np.array([6.0])))]
    return _edge(q, "zplus", fn, cases, ref_lrp.zplus)


@check("z^beta rule: edge cases")
def zbeta_edge_cases(fn):
    q = "z^beta rule: edge cases"
    cases = [("the input sits at the minimising corner (zero denominator)",
              (np.array([[0.0, 1.0]]), np.array([[1.0], [-1.0]]), np.array([[2.0]]), 0.0, 1.0)),
             ("bounds given per input", (np.array([[0.5, -0.5, 0.0]]), np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 1.0]]),
                                         np.array([[1.0, 2.0]]), np.array([-1.0, -1.0, 0.0]),
                                         np.array([1.0, 1.0, 2.0]))),
             ("integer arrays", (np.array([[1, 0]]), np.array([[1, -1], [2, 1]]), np.array([[3, 4]]), 0, 1)),
             ("a single example (1-D a and R)", (np.array([0.2, 0.9]), np.array([[1.0], [-1.0]]), np.array([1.0]),
                                                 0.0, 1.0))]
    return _edge(q, "zbeta", fn, cases, ref_lrp.zbeta)


# --- the whole network --------------------------------------------------------------------------------

def _forward(layer_list, x):
    acts = [x]
    for i, (w_, b_) in enumerate(layer_list):
        zz = acts[-1] @ w_ + b_
        acts.append(np.maximum(zz, 0) if i < len(layer_list) - 1 else zz)
    return acts


def _one_hot_logit(logits, target):
    R = np.zeros_like(logits)
    rows = np.arange(len(target))
    R[rows, target] = logits[rows, target]
    return R


def reference_deep_taylor(layer_list, x, target, low=0.0, high=1.0):
    """The reference relevance (B, J0): :func:`reference.lrp.zbeta` on the pixels, :func:`reference.lrp.zplus`
    above, from the target logit (float64). Equal to ``reference.propagation.propagate`` with ``deep_taylor(low,
    high)`` (tests/test_deep_taylor.py checks it), without building a torch module per generated example."""
    acts = _forward(layer_list, np.asarray(x, float))
    R = _one_hot_logit(acts[-1], np.asarray(target))
    for i in reversed(range(len(layer_list))):
        w_ = np.asarray(layer_list[i][0], float)
        R = ref_lrp.zbeta(acts[i], w_, R, low, high) if i == 0 else ref_lrp.zplus(acts[i], w_, R)
    return R


def propagate_reference(model, x, target, low=0.0, high=1.0):
    """``reference.propagation.propagate(model, x, deep_taylor(low, high), logit of target)`` in float64."""
    import copy as _copy

    import torch

    from reference import propagation as P

    net = _copy.deepcopy(model).double()
    xt = torch.as_tensor(np.asarray(x, float))
    with torch.no_grad():
        logits = net(xt)
    R_out = torch.zeros_like(logits)
    rows = torch.arange(len(xt))
    R_out[rows, torch.as_tensor(target)] = logits[rows, torch.as_tensor(target)]
    return P.propagate(net, xt, P.deep_taylor(low, high), R_out).numpy()


def _np_zbeta(a_, w_, b_, R_, lo, hi):
    return _zbeta_generic(a_, w_, R_, lo, hi, lw=_P, hw=_N)


def _np_zplus(a_, w_, b_, R_, lo, hi):
    return a_ * (_safe(R_, a_ @ _P(w_)) @ _P(w_).T)


def _np_lrp0(a_, w_, b_, R_, lo, hi):
    return a_ * (_safe(R_, a_ @ w_ + b_) @ w_.T)


def _np_lrp0_no_bias(a_, w_, b_, R_, lo, hi):
    return a_ * (_safe(R_, a_ @ w_) @ w_.T)


def _np_network(first, rest, start="target"):
    """A (possibly wrong) deep Taylor in numpy: ``first`` on the pixels, ``rest`` above, starting from ``start``."""
    def relevance(L, x, tg, lo, hi):
        acts = _forward(L, x)
        logits = acts[-1]
        if start == "target":
            R = _one_hot_logit(logits, tg)
        elif start == "one":
            R = _one_hot_logit(np.ones_like(logits), tg)
        else:
            R = logits.copy()
        for i in reversed(range(len(L))):
            R = (first if i == 0 else rest)(acts[i], L[i][0], L[i][1], R, lo, hi)
        return R
    return relevance


NETWORK_MISTAKES = [
    ("the pixel layer needs z^beta: you used z+ on every layer (pixels are bounded inputs in [low, high], and z+ "
     "ignores the box)", _np_network(_np_zplus, _np_zplus)),
    ("you used z^beta on every layer; the hidden layers hold ReLU activations (a >= 0, no upper bound): use z+ there",
     _np_network(_np_zbeta, _np_zbeta)),
    ("the rules are swapped: z^beta belongs to the pixel layer (the first), z+ to the layers above",
     _np_network(_np_zplus, _np_zbeta)),
    ("start from the logit of the target class only: R = 0 for every other output (you explained all logits at "
     "once)", _np_network(_np_zbeta, _np_zplus, "all")),
    ("start from the logit of the target class, not from 1 (the relevance to share out is f_c(x) itself)",
     _np_network(_np_zbeta, _np_zplus, "one")),
    ("that is LRP-0 / gradient x input (the z rule a_j w_jk / z_k everywhere); deep Taylor uses z^beta on the pixels "
     "and z+ above", _np_network(_np_lrp0, _np_lrp0)),
    ("that is the z rule a_j w_jk / sum_j a_j w_jk everywhere (LRP-0 without the bias); deep Taylor uses z^beta on "
     "the pixels and z+ above", _np_network(_np_lrp0_no_bias, _np_lrp0_no_bias)),
]


def _network_probes():
    rng = np.random.default_rng(5)
    out = []
    for sizes, target in (((6, 4, 3), [0, 1, 2]), ((5, 4, 3, 2), [1, 0, 1])):
        L = [(np.round(rng.normal(size=(j, k)), 2), np.round(rng.uniform(-0.5, 0.5, k), 2))
             for j, k in zip(sizes[:-1], sizes[1:])]
        x = np.round(rng.uniform(0.0, 1.0, (3, sizes[0])), 2)
        out.append((L, x, np.array(target), 0.0, 1.0))
    return out


def _networks(max_examples):
    """Small random ReLU networks with 1 or 2 hidden layers, biases of both signs, pixels in [0, 1]."""
    def build(d):
        B, sizes = d
        parts = {"x": arrays((B, sizes[0]), 0.0, 1.0, 0.05),
                 "target": st.lists(st.integers(0, sizes[-1] - 1), min_size=B, max_size=B)}
        for i, (j, k) in enumerate(zip(sizes[:-1], sizes[1:])):
            parts[f"w{i + 1}"] = arrays((j, k), -2.0, 2.0)
            parts[f"b{i + 1}"] = arrays((k,), -1.0, 1.0)
        return st.fixed_dictionaries(parts)

    sizes = st.one_of(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
                      st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)))
    return st.tuples(st.integers(1, 2), sizes).flatmap(build)


def _layers_of(ex):
    n = sum(1 for k in ex if k.startswith("w"))
    return [(ex[f"w{i}"], ex[f"b{i}"]) for i in range(1, n + 1)]


def _network_output(fn, layer_list, x, target, low, high):
    try:
        out = _call(fn, [(w_.copy(), b_.copy()) for w_, b_ in layer_list], x, np.asarray(target), low, high)
    except (NotImplementedError, Violation):
        raise
    except Exception as err:  # noqa: BLE001
        raise Violation(f"your deep_taylor raised {describe_exception(err)}\nIt must accept layers = [(w, b), ...] "
                        f"(w of shape (J, K)), x of shape (B, J0), target of shape (B,) (class indices), low and "
                        f"high; here B = {x.shape[0]}, J0 = {x.shape[1]}, {len(layer_list)} layers.") from None
    out = as_array(out, "deep_taylor(...)")
    if out.shape != x.shape:
        hint = " That is the shape of the output layer: propagate down to the pixels." if out.shape[-1:] == \
            (layer_list[-1][0].shape[1],) else ""
        raise Violation(f"deep_taylor returned shape {out.shape}; expected x.shape = {x.shape} (one relevance per "
                        f"pixel).{hint}")
    if not np.all(np.isfinite(out)):
        raise Violation("the relevance contains NaN or infinity (a zero denominator in one of your rules?)", got=out)
    return out


def _network_hint(mistake, message):
    if mistake.hint():
        return mistake.explain(message)
    return message + ". If the checks of your zbeta or zplus above fail, fix those first: deep_taylor uses them."


def _network_props(fn, low=0.0, high=1.0):
    mistake = _Mistake(fn, NETWORK_MISTAKES, _network_probes())

    def shape_and_finite(**ex):
        L = _layers_of(ex)
        _network_output(fn, L, ex["x"], ex["target"], low, high)

    def conserves_the_logit(**ex):
        L = _layers_of(ex)
        out = _network_output(fn, L, ex["x"], ex["target"], low, high)
        want = reference_deep_taylor(L, ex["x"], ex["target"], low, high).sum(-1)
        if not np.allclose(out.sum(-1), want, rtol=1e-6, atol=1e-6):
            logits = _forward(L, ex["x"])[-1][np.arange(len(ex["target"])), ex["target"]]
            raise Violation(_network_hint(mistake, f"the pixel relevances must add up to the explained logit, here "
                                                   f"f_c(x) = {np.round(logits, 4).tolist()}: z^beta and z+ leave the "
                                                   f"bias out of their denominators and pass everything down, except "
                                                   f"that an output whose denominator is 0 drops its relevance"),
                            expected=want, got=out.sum(-1))

    def agreement(**ex):
        L = _layers_of(ex)
        out = _network_output(fn, L, ex["x"], ex["target"], low, high)
        want = reference_deep_taylor(L, ex["x"], ex["target"], low, high)
        if not np.allclose(out, want, rtol=1e-5, atol=1e-6):
            raise Violation(_network_hint(mistake, "your pixel relevances differ from deep Taylor (z^beta on the "
                                                   "pixels, z+ on the hidden layers)"), expected=want, got=out)

    return {"shape and no NaN": shape_and_finite, "conserves the explained logit": conserves_the_logit,
            "agreement with deep Taylor": agreement}


def layers_of_model(model):
    """``[(w, b), ...]`` of a ``Sequential`` of ``Linear`` and ``ReLU`` in the thesis orientation (float64)."""
    from reference.propagation import thesis_weight

    out = []
    for m in model:
        if hasattr(m, "weight"):
            out.append((thesis_weight(m).double().numpy(), m.bias.detach().double().numpy()))
    return out


@check("deep Taylor through the network")
def network(fn, model=None, x=None, *, max_examples: int = 20):
    """``fn(layers, x, target, low=0.0, high=1.0) -> R`` (B, J0): z^beta on the pixels, z+ on the hidden layers,
    starting from the logit of ``target``. Checked on generated small networks and, when given, on ``model``
    (a trained ``Sequential`` of ``Linear`` and ``ReLU``) at the inputs ``x`` (pixels in [0, 1]), explaining the
    predicted class, against :func:`reference.propagation.propagate` with ``deep_taylor(0, 1)``."""
    q = "deep Taylor through the network"
    _answer_fn(q, "deep_taylor", fn)
    if model is None or x is None:
        return check_properties(q, _network_props(fn), _networks(max_examples), max_examples=max_examples)
    with contextlib.redirect_stdout(io.StringIO()):   # one ✓ line at the end, for both parts
        check_properties(q, _network_props(fn), _networks(max_examples), max_examples=max_examples)
    L = layers_of_model(model)
    xs = np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, float)
    target = _forward(L, xs)[-1].argmax(-1)
    where = f"on the trained digit classifier ({len(xs)} digits, explaining the predicted class)"
    try:
        out = _network_output(fn, L, xs, target, 0.0, 1.0)
    except Violation as err:
        raise CheckFailed(q, f"{where}: {err.message}") from None
    want = propagate_reference(model, xs, target)
    mistake = _Mistake(fn, NETWORK_MISTAKES, _network_probes())
    if not np.allclose(out.sum(-1), want.sum(-1), rtol=1e-6, atol=1e-6):
        raise CheckFailed(q, f"{where}: " + _network_hint(mistake,
            f"the pixel relevances add up to {np.round(out.sum(-1), 4).tolist()}, but deep Taylor conserves the "
            f"explained logits {np.round(want.sum(-1), 4).tolist()}"))
    if not np.allclose(out, want, rtol=1e-5, atol=1e-8):
        i, j = np.unravel_index(np.argmax(np.abs(out - want)), out.shape)
        raise CheckFailed(q, f"{where}: " + _network_hint(mistake,
            f"your heatmaps differ from deep Taylor's, most at digit {i}, pixel {j} (row {j // 28}, column {j % 28}): "
            f"expected {want[i, j]:.4g}, yours {out[i, j]:.4g}"))
    return passed(q, f"agrees with deep Taylor on {max_examples} generated networks and on the trained classifier")
