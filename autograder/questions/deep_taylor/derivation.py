"""Deep Taylor decomposition, the derivation (SymPy): the root point's line search, the generic relevance,
the z+ and z^beta directions, roots and rules (thesis Sec. 3.3, eqs. 3.11-3.25; Table 3.1).

One ReLU neuron ``R_k = max(0, z_k)``, ``z_k = sum_j a_j w_j + b`` with ``J = 3`` explicit components,
matched by *name*: ``a = Matrix([a1, a2, a3])`` (activations), ``w = Matrix([w1, w2, w3])`` (the weights
``w_jk`` into neuron k), ``v`` (a search direction), ``l, h`` (box bounds), the bias ``b`` and the step
``t``. The neuron is active, so ``R_k = z_k``. Indicators may be written with ``Piecewise``,
``Heaviside(x, 1)``, ``Max(x, 0)/x`` or anything equivalent; answers are compared symbolically, then on
random numbers (:mod:`autograder.symbolic`).
"""
from __future__ import annotations

import re

import sympy

from ... import symbolic
from ...choices import Choices
from ...feedback import CheckFailed
from ...question import multiple_choice, question, unwrap

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

def _step(direction=v):
    """``t = z_k / sum_j v_j w_j``: where ``a - t v`` meets ``z_k = 0`` (thesis eqs. 3.11-3.13)."""
    return z / direction.dot(w)


def _generic_relevance(direction=v):
    """``R_j = w_j (a_j - a~_j) = v_j w_j / (sum_j v_j w_j) R_k`` (eqs. 3.15-3.17)."""
    return sympy.ImmutableMatrix(direction.multiply_elementwise(w) * z / direction.dot(w))


_V_ZPLUS = _vec(lambda j: a[j] * ge0(w[j]))
_V_ZBETA = _vec(lambda j: a[j] - l[j] * ge0(w[j]) - h[j] * lt0(w[j]))
_V_TABLE = _vec(lambda j: a[j] - h[j] * ge0(w[j]) - l[j] * lt0(w[j]))   # what Table 3.1 implies
_ROOT_ZPLUS = sympy.ImmutableMatrix(a - _step(_V_ZPLUS) * _V_ZPLUS)


def _ratio(num):
    num = sympy.ImmutableMatrix(num)
    return sympy.ImmutableMatrix(num * z / sum(num))


_R_ZPLUS = _ratio(_vec(lambda j: a[j] * pos(w[j])))
_R_ZBETA = _ratio(_vec(lambda j: a[j] * w[j] - l[j] * pos(w[j]) - h[j] * neg(w[j])))
_R_TABLE = _ratio(_vec(lambda j: a[j] * w[j] - l[j] * neg(w[j]) - h[j] * pos(w[j])))
_R_W2 = _ratio(_vec(lambda j: w[j] ** 2))
_R_LRP0 = _ratio(_vec(lambda j: a[j] * w[j]))


# --- turning an answer into something comparable --------------------------------------------------

_RK_NAMES = {"R_k", "Rk", "R", "z_k", "zk", "z", "R_k(a)"}


def _normalise(question, name, answer, *, scalar):
    """:func:`autograder.question.unwrap`, and a row where a column is meant becomes the column."""
    answer = unwrap(answer, name, scalar=scalar)
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

@question("step of the line search", answers="t_step",
          hint="write the point a - t v into z_k = sum_j a_j w_j + b, set it to 0 and solve for t")
def step_length(ask, t_step):
    """``t = z_k / sum_j v_j w_j`` (with the bias: ``0 = sum_j (a_j - t v_j) w_j + b``)."""
    q = ask.title
    return _symbolic(q, "t_step", t_step, _step(), [
        M(a.dot(w) / v.dot(w), "the bias: the root solves 0 = sum_j (a_j - t v_j) w_j + b, so t sum_j v_j w_j = "
                               "z_k = sum_j a_j w_j + b (that is the thesis's R_k in eq. 3.12)"),
        M(-_step(), "sign: with a~ = a - t v, 0 = z_k - t sum_j v_j w_j gives t = +z_k / sum_j v_j w_j"),
        M(v.dot(w) / z, "you inverted it: t sum_j v_j w_j = z_k, so t = z_k / sum_j v_j w_j"),
        M(z / w.dot(w), "that is the step of the w^2 rule (v = w); keep the general direction v"),
        M(z / a.dot(w), "that is the step along the direction v = a; keep the general direction v"),
        M(z, "divide by sum_j v_j w_j: moving by t along v changes z_k by t sum_j v_j w_j"),
    ], A_W_V_B, domain=DOMAINS["step"])


@question("relevance from the root point", answers="R_generic",
          hint="expand R_k to first order at the root a~ = a - t v: input j's term is dR_k/da_j (a_j - a~_j)")
def relevance_generic(ask, R_generic):
    """``R_j = dR_k/da_j|_a~ (a_j - a~_j) = w_j t v_j = v_j w_j / (sum_j v_j w_j) R_k``."""
    q = ask.title
    rg = _generic_relevance()
    return _symbolic(q, "R_generic", R_generic, rg, [
        M(sympy.ImmutableMatrix(w.multiply_elementwise(a - _step() * v)), "you multiplied the gradient w_j by the "
          "root point a~_j; the first-order Taylor term uses the step (a_j - a~_j) = t v_j"),
        M(sympy.ImmutableMatrix(v * z / v.dot(w)), "the gradient is missing: dR_k/da_j = w_j multiplies "
          "(a_j - a~_j) = t v_j"),
        M(sympy.ImmutableMatrix(a.multiply_elementwise(w)), "a_j w_j is gradient x input (a Taylor expansion at 0); "
          "the expansion at the root a~ = a - t v multiplies w_j by a_j - a~_j = t v_j"),
        M(_R_W2, "that is the w^2 rule (v = w); keep the general direction v"),
        M(-rg, "sign: a_j - a~_j = +t v_j, with t = z_k / sum_j v_j w_j"),
        M(sympy.ImmutableMatrix(v.multiply_elementwise(w) / v.dot(w)), "these shares add up to 1, not to R_k: "
          "multiply by R_k = z_k (t contains it)"),
        M(sympy.ImmutableMatrix(v.multiply_elementwise(w) * a.dot(w) / v.dot(w)), "the bias: R_k = z_k = "
          "sum_j a_j w_j + b, and so is t sum_j v_j w_j"),
    ], A_W_V_B, domain=DOMAINS["generic"])


# --- 2. the z+ rule ------------------------------------------------------------------------------------

@question("z+ search direction", answers="v_zplus",
          hint="the z+ root lies on the segment from a to the point a_j 1{w_j < 0}; the direction points from that point to a")
def zplus_direction(ask, v_zplus):
    """``v_j = a_j - a_j 1{w_j < 0} = a_j 1{w_j >= 0}``."""
    q = ask.title
    return _symbolic(q, "v_zplus", v_zplus, _V_ZPLUS, [
        M(_vec(lambda j: a[j] * lt0(w[j])), "that is the end of the segment, the point a_j 1{w_j < 0} where R_k = 0; "
          "the direction points from it to a: v = a - a_j 1{w_j < 0}"),
        M(a, "v = a searches towards 0 along the whole input (the root of gradient x input); the z+ root keeps the "
             "inputs with negative weights where they are: v_j = 0 where w_j < 0"),
        M(w, "v = w is the w^2 direction; for a >= 0 it can leave the domain (negative activations)"),
        M(_vec(lambda j: a[j] * pos(w[j])), "a_j w_j^+ is the numerator of the rule (v_j times the gradient w_j); "
          "the direction itself is a_j 1{w_j >= 0}"),
        M(_vec(lambda j: pos(w[j])), "w_j^+ is not a point of the input space along which to search: the direction "
          "goes from the segment end a_j 1{w_j < 0} to a"),
        M(-_V_ZPLUS, "sign: a~ = a - t v moves from a towards a_j 1{w_j < 0}, so v = a - a_j 1{w_j < 0}"),
    ], _names(a, w), domain=DOMAINS["zplus_direction"])


@question("z+ root point", answers="root_zplus",
          hint="substitute your z+ direction into a - t v, with your step t for that direction")
def zplus_root(ask, root_zplus):
    """``a~ = a - t v`` with ``v = a 1{w >= 0}`` and ``t = z_k / sum_j a_j w_j^+``."""
    q = ask.title
    return _symbolic(q, "root_zplus", root_zplus, _ROOT_ZPLUS, [
        M(_vec(lambda j: a[j] * lt0(w[j])), "that is the end of the segment (t = 1), where R_k = max(0, z_k) is 0 but "
          "flat: the Taylor root is where the segment first meets z_k = 0, at t = z_k / sum_j a_j w_j^+"),
        M(sympy.ImmutableMatrix(a + _step(_V_ZPLUS) * _V_ZPLUS), "sign: the root is a - t v (towards the segment end), "
          "not a + t v"),
        M(sympy.ImmutableMatrix(a - a.dot(w) / _V_ZPLUS.dot(w) * _V_ZPLUS), "the bias: t = z_k / sum_j v_j w_j with "
          "z_k = sum_j a_j w_j + b"),
        M(sympy.ImmutableMatrix(a - _step(w) * w), "that is the w^2 root a - t w: it can have negative entries, "
          "outside the domain a >= 0 of ReLU activations"),
        M(sympy.ImmutableMatrix(a - _step(a) * a), "that is the root along v = a; the z+ direction keeps the inputs "
          "with negative weights fixed"),
        M(sympy.zeros(J, 1), "0 is a root only of the bias-free, all-positive case; search along v = a 1{w >= 0}"),
    ], A_W_B, domain=DOMAINS["zplus_root"],
        substitute_hint="use your z+ direction, e.g. `t_step.subs(dict(zip(v, v_zplus)))`")


@question("z+ rule", answers="R_zplus",
          hint="substitute your z+ direction into your generic relevance R_generic")
def zplus_relevance(ask, R_zplus):
    """``R_j = a_j w_j^+ / (sum_j a_j w_j^+) R_k``."""
    q = ask.title
    return _symbolic(q, "R_zplus", R_zplus, _R_ZPLUS, [
        M(_R_LRP0, "a_j w_j / sum_j a_j w_j R_k uses all weights (the LRP-0 rule, direction v = a): with the z+ "
                  "direction v_j = a_j 1{w_j >= 0} only the positive weights w_j^+ remain"),
        M(_vec(lambda j: a[j] * pos(w[j]) / a.dot(w.applyfunc(pos))), "these shares add up to 1: multiply by "
          "R_k = z_k"),
        M(_vec(lambda j: a[j] * pos(w[j]) * z / a.dot(w)), "the denominator is sum_j v_j w_j = sum_j a_j w_j^+ "
          "(then the shares add up to exactly 1)"),
        M(_vec(lambda j: a[j] * pos(w[j]) * z / (a.dot(w.applyfunc(pos)) + b)), "the bias is not in the "
          "denominator: sum_j v_j w_j = sum_j a_j w_j^+"),
        M(_R_W2, "that is the w^2 rule"),
        M(_ratio(_vec(lambda j: a[j] * neg(w[j]))), "the z+ rule keeps the positive weights w^+ = max(0, w)"),
        M(_ratio(_vec(lambda j: pos(w[j]))), "a_j is missing: v_j = a_j 1{w_j >= 0}, so v_j w_j = a_j w_j^+"),
    ], A_W_B, domain=DOMAINS["zplus_relevance"],
        substitute_hint="use your z+ direction, e.g. `R_generic.subs(dict(zip(v, v_zplus)))`")


# --- 3. the z^beta rule ---------------------------------------------------------------------------------

@question("z^beta search direction", answers="v_zbeta",
          hint="the root lies towards the corner of the box [l, h] where z_k is smallest: for each sign of w_j, which bound makes a_j w_j smallest?")
def zbeta_direction(ask, v_zbeta):
    """``v_j = a_j - l_j 1{w_j >= 0} - h_j 1{w_j < 0}`` (towards the corner that minimises z_k)."""
    q = ask.title
    return _symbolic(q, "v_zbeta", v_zbeta, _V_ZBETA, [
        M(_V_TABLE, "l and h are swapped: that corner, h_j where w_j >= 0 and l_j where w_j < 0, is where z_k is "
                   "*largest*. The root lies towards the corner where z_k is smallest: l_j for positive weights, "
                   "h_j for negative ones"),
        M(_vec(lambda j: l[j] * ge0(w[j]) + h[j] * lt0(w[j])), "that is the corner itself (the end of the segment); "
          "the direction is a minus the corner"),
        M(a - l, "the corner depends on the sign of each weight: l_j where w_j >= 0, h_j where w_j < 0"),
        M(a - h, "the corner depends on the sign of each weight: l_j where w_j >= 0, h_j where w_j < 0"),
        M(_V_ZPLUS, "that is the z+ direction (l = 0, and no upper bound): z^beta searches towards the box corner "
                   "l_j 1{w_j >= 0} + h_j 1{w_j < 0}"),
        M(-_V_ZBETA, "sign: a~ = a - t v moves from a towards the corner, so v = a - corner"),
    ], _names(a, w, l, h), domain=DOMAINS["zbeta_direction"])


@question("z^beta rule", answers="R_zbeta",
          hint="substitute your z^beta direction into your generic relevance R_generic")
def zbeta_relevance(ask, R_zbeta):
    """``R_j = (a_j w_j - l_j w_j^+ - h_j w_j^-) / sum_j (...) R_k`` (the derivation, not Table 3.1)."""
    q = ask.title
    return _symbolic(q, "R_zbeta", R_zbeta, _R_ZBETA, [
        M(_R_TABLE, "that is Table 3.1 as printed, a_j w_j - l_j w_j^- - h_j w_j^+: its l and h are swapped "
                   "relative to its own derivation (eqs. 3.22-3.25). Multiply your z^beta direction by w_j: "
                   "l_j 1{w_j >= 0} w_j = l_j w_j^+"),
        M(_R_ZPLUS, "that is the z+ rule: z^beta uses the box bounds l and h"),
        M(_ratio(_vec(lambda j: (a[j] - l[j] - h[j]) * w[j])), "l_j goes with the positive weights and h_j with the "
          "negative ones: l_j w_j^+ and h_j w_j^-"),
        M(_ratio(_vec(lambda j: a[j] * w[j] + l[j] * pos(w[j]) + h[j] * neg(w[j]))), "sign: v_j w_j = (a_j - corner_j) "
          "w_j, so the bound terms are subtracted"),
        M(_R_LRP0, "the box bounds are missing: v_j = a_j - l_j 1{w_j >= 0} - h_j 1{w_j < 0}"),
        M(_vec(lambda j: (a[j] * w[j] - l[j] * pos(w[j]) - h[j] * neg(w[j]))
               / sum(a[i] * w[i] - l[i] * pos(w[i]) - h[i] * neg(w[i]) for i in range(J))),
          "these shares add up to 1: multiply by R_k = z_k"),
    ], _names(a, w, l, h, b), domain=DOMAINS["zbeta_relevance"],
        substitute_hint="use your z^beta direction, e.g. `R_generic.subs(dict(zip(v, v_zbeta)))`")


# --- multiple choice --------------------------------------------------------------------------------

_TABLE_STATEMENTS = Choices({
    "A": ("The table's formula conserves relevance: its shares of $R_k$ add up to 1 (where its denominator is not "
          "0).",
          True, "the table's shares are its terms divided by their sum, so they add up to 1 whenever the sum is "
                "not 0: it conserves R_k as well as the derivation's rule does."),
    "B": ("The table's formula gives negative relevance to some inputs in the box, which is how one notices the "
          "error.",
          False, "inside the box each of the table's terms is <= 0 ((a_j - h_j) w_j for w_j >= 0, (a_j - l_j) w_j "
                 "for w_j < 0), so their ratio to their (negative) sum is >= 0: no negative relevance. Try a = "
                 "(0.9, 0.1), w = (1, 1), l = 0, h = 1 in both formulas."),
    "C": (r"The derivation's corner $l_j\,\mathbb 1\{w_{jk}\ge 0\} + h_j\,\mathbb 1\{w_{jk} < 0\}$ is the point of "
          "the box where $z_k$ is smallest.",
          True, "the derivation's corner l_j 1{w_j >= 0} + h_j 1{w_j < 0} makes every term a~_j w_j as small as "
                "the box allows: it minimises z_k over the box, so z_k <= b_k <= 0 there (0 is in the box) and "
                "the segment from it to a crosses z_k = 0 inside the box."),
    "D": ("The table's formula is the line search towards the opposite corner, where $z_k$ is largest; the root "
          r"it finds lies beyond $\mathbf a$ and can leave the box.",
          True, "the table's numerators are (a_j - c_j) w_j with the corner c_j = h_j 1{w_j >= 0} + l_j 1{w_j < "
                "0}, where z_k is largest; since z_k(c) >= z_k(a) > 0, the line from c through a meets z_k = 0 "
                "only beyond a, and that root can leave the box (a = (0.9, 0.1), w = (1, 1), b = 0, [l, h] = [0, "
                "1]: root (0.8, -0.8))."),
    "E": ("For pixels with $l_j = 0$ the two formulas agree.",
          False, "with l = 0 the table's numerator is a_j w_j - h_j w_j^+, the derivation's a_j w_j - h_j w_j^-: "
                 "they differ for every weight (e.g. w_j > 0: (a_j - h_j) w_j against a_j w_j)."),
})


@multiple_choice("Table 3.1 and its derivation", answers="table_statements",
                 hint="evaluate the table's formula and your derived z^beta rule on one small example inside the box and "
               "compare signs, sums and root points",
                 choices=_TABLE_STATEMENTS)
def table_typo(answer):
    """Multiple select over the statements about Table 3.1."""


