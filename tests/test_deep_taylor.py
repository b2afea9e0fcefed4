"""The deep_taylor assignment: the expected answers against reference.roots / reference.lrp, and the checks of
autograder.questions.deep_taylor (symbolic derivation, multiple choice, the implemented rules, the network)."""
import importlib
import re

import numpy as np
import pytest
import sympy as sp
import torch
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.feedback import CheckFailed
from autograder.lrp_rules import Diagnosis
from autograder.properties import arrays
from autograder.questions import deep_taylor as q
from reference import lrp, roots
from reference import propagation as P

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)
D = q.derivation
a, w, v, l, h, b, t = D.a, D.w, D.v, D.l, D.h, D.b, D.t
z = a.dot(w) + b
J = q.derivation.J
NET = importlib.import_module("autograder.questions.deep_taylor.network")  # the module, not the check
H = sp.Heaviside


def vec(f):
    return sp.Matrix([f(j) for j in range(J)])


def ge0(x):
    return sp.Piecewise((1, x >= 0), (0, True))


def lt0(x):
    return sp.Piecewise((1, x < 0), (0, True))


def _fails(fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as err:
        fn(*args, **kwargs)
    return str(err.value)


# --- the expected expressions are the reference's root points and rules ------------------------------

def _numeric(expr, a_, w_, b_=0.0, l_=None, h_=None, v_=None):
    values = {**dict(zip(a, a_)), **dict(zip(w, w_)), b: b_}
    if l_ is not None:
        values.update({**dict(zip(l, l_)), **dict(zip(h, h_))})
    if v_ is not None:
        values.update(dict(zip(v, v_)))
    out = sp.Matrix(expr).xreplace({k: sp.Float(float(x)) for k, x in values.items()}) if isinstance(
        expr, sp.MatrixBase) else expr.xreplace({k: sp.Float(float(x)) for k, x in values.items()})
    return np.array(sp.Matrix(out).evalf().tolist(), dtype=float).ravel() if isinstance(out, sp.MatrixBase) \
        else float(out)


def active_neuron(low, high):
    """(a, w_k, b_k) with a in [low, high], z_k > 0, sum_j v_j w_j != 0."""
    return st.fixed_dictionaries({"a": arrays((J,), low, high), "w": arrays((J,), -2, 2),
                                  "b": st.sampled_from([0.0, -0.3, -1.0])}).filter(
        lambda ex: ex["a"] @ ex["w"] + ex["b"] > 0.05)


@FAST
@given(active_neuron(0.0, 3.0))
def test_zplus_answers_are_the_reference_root_point_and_rule(ex):
    a_, w_, b_ = ex["a"], ex["w"], ex["b"]
    rp = roots.root_point("zplus", a_, w_, b_)
    np.testing.assert_allclose(_numeric(q.derivation._V_ZPLUS, a_, w_, b_), rp.direction, atol=1e-9)
    np.testing.assert_allclose(_numeric(q.derivation._ROOT_ZPLUS, a_, w_, b_), rp.root, atol=1e-9)
    np.testing.assert_allclose(_numeric(q.derivation._R_ZPLUS, a_, w_, b_), rp.relevance, atol=1e-9)
    np.testing.assert_allclose(_numeric(q.derivation._R_ZPLUS, a_, w_, b_), lrp.zplus(a_, w_[:, None], np.array([a_ @ w_ + b_])),
                               atol=1e-9)
    np.testing.assert_allclose(_numeric(q.derivation._step(q.derivation._V_ZPLUS), a_, w_, b_), rp.t, atol=1e-9)
    assert -1e-12 <= rp.t <= 1 + 1e-12                 # b <= 0: the root stays on the segment


@FAST
@given(active_neuron(-1.0, 1.0))
def test_zbeta_answers_are_the_reference_root_point_and_rule_not_the_table(ex):
    a_, w_, b_ = ex["a"], ex["w"], ex["b"]
    lo, hi = -np.ones(J), np.ones(J)
    rp = roots.root_point("zbeta", a_, w_, b_, low=lo, high=hi)
    np.testing.assert_allclose(_numeric(q.derivation._V_ZBETA, a_, w_, b_, lo, hi), rp.direction, atol=1e-9)
    R = _numeric(q.derivation._R_ZBETA, a_, w_, b_, lo, hi)
    np.testing.assert_allclose(R, rp.relevance, atol=1e-9)
    np.testing.assert_allclose(R, lrp.zbeta(a_, w_[:, None], np.array([a_ @ w_ + b_]), lo, hi), atol=1e-9)
    # the generic formula with the z^beta direction is the same rule
    np.testing.assert_allclose(_numeric(q.derivation._generic_relevance(), a_, w_, b_, lo, hi, v_=rp.direction), R, atol=1e-9)


def test_the_tables_formula_is_the_line_search_towards_the_other_corner():
    """Table 3.1's z^beta: positive, conserving, and its root leaves the box (statements A, B, D of Q8)."""
    a_, w_, b_, lo, hi = np.array([0.9, 0.1, 0.0]), np.array([1.0, 1.0, 0.0]), 0.0, np.zeros(J), np.ones(J)
    R_table = _numeric(q.derivation._R_TABLE, a_, w_, b_, lo, hi)
    assert (R_table >= 0).all() and np.isclose(R_table.sum(), 1.0)
    np.testing.assert_allclose(R_table[:2], [0.1, 0.9])            # the relevance goes to the missing ink
    np.testing.assert_allclose(_numeric(q.derivation._R_ZBETA, a_, w_, b_, lo, hi)[:2], [0.9, 0.1])
    v_table = _numeric(q.derivation._V_TABLE, a_, w_, b_, lo, hi)
    t_table = _numeric(q.derivation._step(), a_, w_, b_, v_=v_table)
    root = a_ - t_table * v_table
    np.testing.assert_allclose(root[:2], [0.8, -0.8])
    assert np.isclose(root @ w_ + b_, 0) and root.min() < 0       # a root, outside the box


def test_statement_truths_hold_numerically():
    rng = np.random.default_rng(0)
    # rule statement A: z+ is alpha1-beta0
    a_, w_, R_ = rng.uniform(0, 2, (4, 5)), rng.normal(size=(5, 3)), rng.uniform(0, 2, (4, 3))
    np.testing.assert_allclose(lrp.zplus(a_, w_, R_), lrp.alphabeta(a_, w_, R_, 1, 0))
    # rule statement E (false): a black pixel with a negative weight gets relevance under z^beta on [0, 1]
    R_black = lrp.zbeta(np.array([0.0, 1.0]), np.array([[-1.0], [1.0]]), np.array([1.0]), 0.0, 1.0)
    assert R_black[0] > 0
    # rule statement F: b > 0 can need t > 1, and the root leaves a >= 0
    rp_dir = roots.direction("zplus", [1.0, 1.0], [1.0, -0.5])
    t_ = (1.0 - 0.5 + 0.8) / (rp_dir @ np.array([1.0, -0.5]))
    assert t_ > 1 and (np.array([1.0, 1.0]) - t_ * rp_dir).min() < 0


# --- symbolic questions: equivalent forms accepted ---------------------------------------------------------

a_plain = sp.Matrix(sp.symbols("a1:4"))        # no assumptions: matched by name
w_plain = sp.Matrix(sp.symbols("w1:4"))
v_plain = sp.Matrix(sp.symbols("v1:4"))
b_plain = sp.Symbol("b")
t_solved = sp.solve(sp.Eq((a - t * v).dot(w) + b, 0), t)
R_derived = sp.Matrix([z.diff(x) for x in a]).multiply_elementwise(a - (a - t_solved[0] * v))   # as derived
VZ = vec(lambda j: a[j] * ge0(w[j]))
VB = vec(lambda j: a[j] - l[j] * ge0(w[j]) - h[j] * lt0(w[j]))

CORRECT = {
    "step_length": [
        z / v.dot(w),
        t_solved,                                               # the list sympy.solve returns
        sp.solve(sp.Eq((a - t * v).dot(w) + b, 0), t, dict=True)[0],
        "(a1*w1 + a2*w2 + a3*w3 + b)/(w1*v1 + w2*v2 + w3*v3)",
        (a_plain.dot(w_plain) + b_plain) / v_plain.dot(w_plain),
        -z / (-v.dot(w)),
        sp.Matrix([[z]]) / v.dot(w),                            # a 1x1 matrix
    ],
    "relevance_generic": [
        R_derived,
        vec(lambda j: v[j] * w[j] * t_solved[0]),
        [v[j] * w[j] * z / v.dot(w) for j in range(J)],
        sp.Matrix([[v[j] * w[j] * z / v.dot(w) for j in range(J)]]),   # a row vector
        w.multiply_elementwise(v) * (a.dot(w) + b) / v.dot(w),
        sp.factor(vec(lambda j: v[j] * w[j] * z / v.dot(w))),
    ],
    "zplus_direction": [
        VZ,
        a - vec(lambda j: a[j] * lt0(w[j])),
        vec(lambda j: a[j] * H(w[j], 1)),
        vec(lambda j: a[j] * (1 - H(-w[j], 0))),
        vec(lambda j: a[j] * sp.Max(w[j], 0) / w[j]),
        vec(lambda j: sp.Piecewise((a[j], w[j] >= 0), (0, True))),
        vec(lambda j: a[j] * (sp.sign(w[j]) + 1) / 2),
    ],
    "zplus_root": [
        a - z / VZ.dot(w) * VZ,
        vec(lambda j: a[j] * lt0(w[j])) + (1 - z / VZ.dot(w)) * VZ,
        vec(lambda j: a[j] - a[j] * H(w[j], 1) * z / sum(a[i] * sp.Max(w[i], 0) for i in range(J))),
        [a[j] * (1 - H(w[j]) * z / sum(a[i] * sp.Max(w[i], 0) for i in range(J))) for j in range(J)],
        (a - z / VZ.dot(w) * VZ).applyfunc(sp.together),
    ],
    "zplus_relevance": [
        q.derivation._R_ZPLUS,
        R_derived.subs(dict(zip(v, VZ))),
        vec(lambda j: a[j] * sp.Max(w[j], 0) * z / sum(a[i] * sp.Max(w[i], 0) for i in range(J))),
        vec(lambda j: a[j] * (w[j] + sp.Abs(w[j])) / 2 * z / sum(a[i] * (w[i] + sp.Abs(w[i])) / 2 for i in range(J))),
        vec(lambda j: a[j] * w[j] * H(w[j]) * z / sum(a[i] * w[i] * H(w[i]) for i in range(J))),
        [a[j] * sp.Max(w[j], 0) / (a.dot(w.applyfunc(lambda x: sp.Max(x, 0)))) * (a.dot(w) + b) for j in range(J)],
    ],
    "zbeta_direction": [
        VB,
        vec(lambda j: a[j] - l[j] * H(w[j], 1) - h[j] * (1 - H(w[j], 1))),
        vec(lambda j: sp.Piecewise((a[j] - l[j], w[j] >= 0), (a[j] - h[j], True))),
        vec(lambda j: a[j] - l[j] * ge0(w[j]) - h[j] * sp.Piecewise((1, w[j] <= 0), (0, True))),   # thesis: 1{w <= 0}
        a - vec(lambda j: l[j] * ge0(w[j]) + h[j] * lt0(w[j])),
        [a[j] - (l[j] + h[j]) / 2 - (l[j] - h[j]) * sp.sign(w[j]) / 2 for j in range(J)],
    ],
    "zbeta_relevance": [
        q.derivation._R_ZBETA,
        R_derived.subs(dict(zip(v, VB))),
        vec(lambda j: w[j] * VB[j] * z / VB.dot(w)),
        vec(lambda j: (a[j] * w[j] - l[j] * (w[j] + sp.Abs(w[j])) / 2 - h[j] * (w[j] - sp.Abs(w[j])) / 2) * z
            / sum(a[i] * w[i] - l[i] * (w[i] + sp.Abs(w[i])) / 2 - h[i] * (w[i] - sp.Abs(w[i])) / 2 for i in range(J))),
        [(a[j] * w[j] - l[j] * sp.Max(w[j], 0) - h[j] * sp.Min(w[j], 0))
         / sum(a[i] * w[i] - l[i] * sp.Max(w[i], 0) - h[i] * sp.Min(w[i], 0) for i in range(J)) * z for j in range(J)],
    ],
}


@pytest.mark.parametrize("question,answer", [(k, x) for k, xs in CORRECT.items() for x in xs])
def test_equivalent_forms_are_accepted(question, answer):
    assert "✓" in getattr(q, question)(answer)


EXPECTED = {"step": q.derivation._step(), "generic": q.derivation._generic_relevance(), "zplus_direction": q.derivation._V_ZPLUS,
            "zplus_root": q.derivation._ROOT_ZPLUS, "zplus_relevance": q.derivation._R_ZPLUS, "zbeta_direction": q.derivation._V_ZBETA,
            "zbeta_relevance": q.derivation._R_ZBETA}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_question_seeds_draw_weights_of_both_signs(name):
    """Every numeric draw of a question (6 trials and the 3 draws that test its mistakes) has weights of both
    signs, so no z+ denominator is 0 and sign mistakes stay distinguishable (see q.derivation.DOMAINS)."""
    from autograder import symbolic

    expr, domain = EXPECTED[name], q.derivation.DOMAINS[name]
    rng = np.random.default_rng(domain.seed)
    draws = [symbolic._draw(expr, expr, domain, rng, k)[1] for k in range(domain.trials)]
    draws += [symbolic._draw(expr, expr, domain, np.random.default_rng(domain.seed + k), k)[1] for k in range(3)]
    for values in draws:
        ws = [values[f"w{j}"] for j in range(1, J + 1)]
        assert min(ws) < 0 < max(ws), values


def test_each_symbolic_question_has_five_correct_forms():
    assert all(len(xs) >= 5 for xs in CORRECT.values())


# --- symbolic questions: wrong forms rejected with a reason -------------------------------------------------

X = sp.Symbol("x")
WRONG = {
    "step_length": [
        (a.dot(w) / v.dot(w), "the bias"),
        (-z / v.dot(w), "sign"),
        (v.dot(w) / z, "inverted"),
        (z / w.dot(w), "w^2 rule"),
        (z, "divide by sum_j v_j w_j"),
        (z / a.dot(w), "direction v = a"),
        (z / v.dot(w) * t, "still contains the step t"),
        (sp.Eq(t, z / v.dot(w)), "equation"),
        (z / v.dot(w) + X, "uses x"),
        (sp.Symbol("R_k") / v.dot(w), "write R_k as"),
    ],
    "relevance_generic": [
        (w.multiply_elementwise(a - z / v.dot(w) * v), "root point a~_j"),
        (v * z / v.dot(w), "gradient is missing"),
        (a.multiply_elementwise(w), "gradient x input"),
        (q.derivation._R_W2, "w^2 rule"),
        (-q.derivation._generic_relevance(), "sign"),
        (w.multiply_elementwise(v) / v.dot(w), "add up to 1"),
        (w.multiply_elementwise(v) * t, "still contains the step t"),
        (sp.Matrix([z, z]), "wrong shape"),
    ],
    "zplus_direction": [
        (vec(lambda j: a[j] * lt0(w[j])), "end of the segment"),
        (a, "searches towards 0"),
        (w, "w^2 direction"),
        (vec(lambda j: a[j] * sp.Max(w[j], 0)), "numerator"),
        (-VZ, "sign"),
        (vec(lambda j: sp.Max(w[j], 0)), "not a point"),
        (v, "generic direction"),
    ],
    "zplus_root": [
        (vec(lambda j: a[j] * lt0(w[j])), "end of the segment"),
        (a + z / VZ.dot(w) * VZ, "sign"),
        (a - a.dot(w) / VZ.dot(w) * VZ, "the bias"),
        (a - z / w.dot(w) * w, "w^2 root"),
        (a - z / a.dot(w) * a, "along v = a"),
        (sp.zeros(J, 1), "0 is a root"),
        (a - z / v.dot(w) * v, "t_step.subs(dict(zip(v, v_zplus)))"),
    ],
    "zplus_relevance": [
        (q.derivation._R_LRP0, "uses all weights"),
        (vec(lambda j: a[j] * sp.Max(w[j], 0) / sum(a[i] * sp.Max(w[i], 0) for i in range(J))), "add up to 1"),
        (vec(lambda j: a[j] * sp.Max(w[j], 0) * z / a.dot(w)), "denominator is sum_j v_j w_j"),
        (vec(lambda j: a[j] * sp.Max(w[j], 0) * z / (sum(a[i] * sp.Max(w[i], 0) for i in range(J)) + b)),
         "bias is not in the"),
        (q.derivation._R_W2, "w^2 rule"),
        (vec(lambda j: a[j] * sp.Min(w[j], 0) * z / sum(a[i] * sp.Min(w[i], 0) for i in range(J))), "positive weights"),
        (vec(lambda j: sp.Max(w[j], 0) * z / sum(sp.Max(w[i], 0) for i in range(J))), "a_j is missing"),
    ],
    "zbeta_direction": [
        (q.derivation._V_TABLE, "swapped"),
        (vec(lambda j: l[j] * ge0(w[j]) + h[j] * lt0(w[j])), "corner itself"),
        (a - l, "sign of each weight"),
        (a - h, "sign of each weight"),
        (VZ, "z+ direction"),
        (-VB, "sign"),
    ],
    "zbeta_relevance": [
        (q.derivation._R_TABLE, "Table 3.1 as printed"),
        (q.derivation._R_ZPLUS, "z+ rule"),
        (vec(lambda j: (a[j] - l[j] - h[j]) * w[j] * z / sum((a[i] - l[i] - h[i]) * w[i] for i in range(J))),
         "l_j goes with the positive weights"),
        (vec(lambda j: (a[j] * w[j] + l[j] * sp.Max(w[j], 0) + h[j] * sp.Min(w[j], 0)) * z
             / sum(a[i] * w[i] + l[i] * sp.Max(w[i], 0) + h[i] * sp.Min(w[i], 0) for i in range(J))), "subtracted"),
        (q.derivation._R_LRP0, "box bounds are missing"),
        (q.derivation._R_ZBETA / z, "add up to 1"),
        (q.derivation._generic_relevance(), "R_generic.subs(dict(zip(v, v_zbeta)))"),
    ],
}


@pytest.mark.parametrize("question,answer,needle", [(k, x, n) for k, xs in WRONG.items() for x, n in xs])
def test_wrong_forms_are_rejected_with_their_reason(question, answer, needle):
    text = _fails(getattr(q, question), answer)
    assert needle in text, f"{needle!r} not in:\n{text}"


def test_each_symbolic_question_has_five_wrong_forms():
    assert set(WRONG) == set(CORRECT) and all(len(xs) >= 5 for xs in WRONG.values())


@pytest.mark.parametrize("question", sorted(CORRECT))
@pytest.mark.parametrize("answer,needle", [(None, "no answer yet"), (..., "no answer yet"),
                                           ("a1 +* 2", "could not parse"), (object(), "expected a SymPy expression"),
                                           (np.array([1.0, 2.0, 3.0]), "numpy array")])
def test_malformed_answers_fail_readably(question, answer, needle):
    assert needle in _fails(getattr(q, question), answer)


def test_a_wrong_answer_without_a_catalogued_mistake_shows_a_counterexample():
    text = _fails(q.zplus_direction, a + w)
    assert "Counterexample" in text and "expected" in text


# --- multiple choice ----------------------------------------------------------------------------------------

def test_multiple_choice():
    for ok in ({"A", "C", "D"}, ["d", "c", "a"], "A, C, D", "ACD"):
        assert "✓" in q.table_typo(ok)
    for ok in ({"A", "D", "F"}, "a d f", ("F", "D", "A")):
        assert "✓" in q.rule_statements(ok)
    assert "not (B)" in _fails(q.table_typo, {"A", "B", "C", "D"})
    assert "no negative relevance" in _fails(q.table_typo, {"A", "B", "C", "D"})
    assert "missed one: (D)" in _fails(q.table_typo, {"A", "C"})
    assert "not (E)" in _fails(q.table_typo, {"A", "C", "D", "E"})
    assert "not (C)" in _fails(q.rule_statements, {"A", "C", "D", "F"})
    assert "missed one: (F)" in _fails(q.rule_statements, {"A", "D"})
    assert "black pixel" in _fails(q.rule_statements, {"A", "D", "E", "F"})
    assert "unknown option" in _fails(q.rule_statements, {"G"})
    assert "option letters" in _fails(q.rule_statements, 2.5)
    assert "option letters" in _fails(q.rule_statements, {1, 4, 6})
    for fn in (q.table_typo, q.rule_statements):
        assert "no answer yet" in _fails(fn, None)
        assert "empty" in _fails(fn, set())


# --- the implemented rules ------------------------------------------------------------------------------------

def safe(R, z_):
    return np.where(z_ != 0, R / np.where(z_ != 0, z_, 1), 0)


def w2_good(w_, R):
    v_ = w_ * w_
    return safe(R, v_.sum(0)) @ v_.T


def zplus_good(a_, w_, R):
    wp = np.maximum(w_, 0)
    return a_ * (safe(R, a_ @ wp) @ wp.T)


def zbeta_good(a_, w_, R, low, high):
    wp, wn = np.maximum(w_, 0), np.minimum(w_, 0)
    lo, hi = np.broadcast_to(low, np.shape(a_)), np.broadcast_to(high, np.shape(a_))
    s = safe(R, a_ @ w_ - lo @ wp - hi @ wn)
    return a_ * (s @ w_.T) - lo * (s @ wp.T) - hi * (s @ wn.T)


def zbeta_variant(lw, hw, sign=-1.0, with_a=True):
    def rule(a_, w_, R, low, high):
        lo, hi = np.broadcast_to(low, np.shape(a_)), np.broadcast_to(high, np.shape(a_))
        s = safe(R, a_ @ w_ + sign * (lo @ lw(w_) + hi @ hw(w_)))
        return (a_ * (s @ w_.T) if with_a else s @ w_.T) + sign * (lo * (s @ lw(w_).T) + hi * (s @ hw(w_).T))
    return rule


POS, NEG = (lambda x: np.maximum(x, 0)), (lambda x: np.minimum(x, 0))


def not_implemented(*args):
    raise NotImplementedError()


def in_place_w2(w_, R):
    w_ **= 2
    return safe(R, w_.sum(0)) @ w_.T


def test_correct_rules_pass():
    assert "✓" in q.w2(w2_good) and "✓" in q.w2_edge_cases(w2_good)
    assert "✓" in q.zplus(zplus_good) and "✓" in q.zplus_edge_cases(zplus_good)
    assert "✓" in q.zbeta(zbeta_good) and "✓" in q.zbeta_edge_cases(zbeta_good)


# A full check of a wrong function shrinks a counterexample (seconds): a few per question run end to end; the
# whole catalogue of named mistakes is tested below on the probes that tell them apart (milliseconds).
WRONG_RULES = {
    "w2": [
        (lambda w_, R: safe(R, w_.sum(0)) @ w_.T, ["you used w where the rule has w^2", "smallest"]),
        (lambda w_, R: R @ (w_ ** 2).T, ["not normalised", "conservation"]),
        (lambda w_, R: (R / (w_ ** 2).sum(0)) @ (w_ ** 2).T, ["NaN", "must give s_k = 0"]),
        (in_place_w2, ["in place"]),
    ],
    "zplus": [
        (lambda a_, w_, R: a_ * (safe(R, a_ @ w_) @ w_.T), ["w where the rule has w^+", "LRP-0", "smallest"]),
        (lambda a_, w_, R: safe(R, a_ @ POS(w_)) @ POS(w_).T, ["a_j is missing"]),
        (lambda a_, w_, R: a_ * (POS(w_) @ safe(R, a_ @ POS(w_))), ["zplus"]),
    ],
    "zbeta": [
        (zbeta_variant(NEG, POS), ["Table 3.1 as printed", "smallest"]),
        (zbeta_variant(POS, NEG, sign=1.0), ["sign: the bounds are subtracted"]),
        (lambda a_, w_, R, low, high: zplus_good(a_, w_, R), ["z+ rule"]),
        (lambda a_, w_, R, low, high: a_ * (safe(R, a_ @ w_ - low @ POS(w_) - high @ NEG(w_)) @ w_.T),
         ["raised", "np.broadcast_to"]),
    ],
}


@pytest.mark.parametrize("name,fn,needles", [(k, f, n) for k, xs in WRONG_RULES.items() for f, n in xs])
def test_wrong_rule_fails_with_its_mistake_named(name, fn, needles):
    text = _fails(getattr(q, name), fn)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


@pytest.mark.parametrize("check", [q.w2, q.zplus, q.zbeta, q.network])
@pytest.mark.parametrize("fn,needle", [(not_implemented, "not implemented yet"), (None, "no answer yet"),
                                       (..., "no answer yet"), (3, "expected a function")])
def test_missing_or_unfinished_answers_fail_readably(check, fn, needle):
    assert needle in _fails(check, fn)


@pytest.mark.parametrize("name", ["w2", "zplus", "zbeta"])
def test_each_catalogued_rule_mistake_is_named(name):
    """The probes tell the catalogued mistakes apart: a function that makes mistake i is named as mistake i."""
    rule = q.rules.RULES[name]
    for hint, wrong in rule.mistakes:
        assert Diagnosis(wrong, rule.mistakes, rule.probes).hint() == hint
    good = {"w2": w2_good, "zplus": zplus_good, "zbeta": zbeta_good}[name]
    assert Diagnosis(good, rule.mistakes, rule.probes).hint() == ""


def test_each_catalogued_network_mistake_is_named():
    net = NET
    for hint, wrong in net.NETWORK_MISTAKES:
        assert Diagnosis(wrong, net.NETWORK_MISTAKES, net._network_probes()).hint() == hint
    assert Diagnosis(make_deep_taylor(ZB, ZP), net.NETWORK_MISTAKES, net._network_probes()).hint() == ""


def test_edge_cases_catch_nan_in_place_and_1d():
    assert "NaN" in _fails(q.zplus_edge_cases, lambda a_, w_, R: a_ * ((R / (a_ @ POS(w_))) @ POS(w_).T))
    assert "in place" in _fails(q.w2_edge_cases, in_place_w2)
    def nan_zbeta(a_, w_, R, lo, hi):
        return zbeta_good(a_, w_, R, lo, hi) + 0 / (a_ @ w_)[..., None]
    assert "zero denominator" in _fails(q.zbeta_edge_cases, nan_zbeta)
    assert "a single example" in _fails(q.w2_edge_cases, lambda w_, R: safe(R, (w_ * w_).sum(0)) @ (w_ * w_).T
                                        if R.ndim == 2 else None)
    for check in (q.w2_edge_cases, q.zplus_edge_cases, q.zbeta_edge_cases):
        assert "not implemented" in _fails(check, not_implemented)
        assert "no answer yet" in _fails(check, None)


# --- the network ----------------------------------------------------------------------------------------------

def torch_net(layers):
    mods = []
    for i, (w_, b_) in enumerate(layers):
        lin = torch.nn.Linear(*w_.shape).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w_.T))
            lin.bias.copy_(torch.as_tensor(b_))
        mods += [lin] + ([torch.nn.ReLU()] if i < len(layers) - 1 else [])
    return torch.nn.Sequential(*mods)


def forward(layers, x):
    acts = [x]
    for i, (w_, b_) in enumerate(layers):
        z_ = acts[-1] @ w_ + b_
        acts.append(np.maximum(z_, 0) if i < len(layers) - 1 else z_)
    return acts


def make_deep_taylor(first, rest, start="target"):
    def deep_taylor(layers, x, target, low=0.0, high=1.0):
        acts = forward(layers, x)
        logits = acts[-1]
        rows = np.arange(len(x))
        R = np.zeros_like(logits)
        if start == "target":
            R[rows, target] = logits[rows, target]
        elif start == "one":
            R[rows, target] = 1.0
        else:
            R = logits.copy()
        for i in reversed(range(len(layers))):
            w_ = layers[i][0]
            R = first(acts[i], w_, R, low, high) if i == 0 else rest(acts[i], w_, R, low, high)
        return R
    return deep_taylor


ZB = zbeta_good
def ZP(a_, w_, R, low, high):
    return zplus_good(a_, w_, R)
def LRP0(a_, w_, R, low, high):
    return a_ * (safe(R, a_ @ w_) @ w_.T)


@pytest.fixture(scope="module")
def digit_model():
    from reference.digits import mlp

    torch.manual_seed(0)
    return mlp()


@pytest.fixture(scope="module")
def digits():
    from reference.data import load_mnist_5k

    X, _ = load_mnist_5k()
    return torch.as_tensor(X[:4])


def test_correct_network_passes(digit_model, digits):
    assert "✓" in q.network(make_deep_taylor(ZB, ZP))
    assert "✓" in q.network(make_deep_taylor(ZB, ZP), digit_model, digits)


@pytest.mark.parametrize("fn,needles", [
    (make_deep_taylor(ZP, ZP), ["z^beta", "z+ on every layer", "smallest"]),
    (make_deep_taylor(LRP0, LRP0), ["LRP-0 without the bias"]),
    (lambda layers, x, target, low=0.0, high=1.0: forward(layers, x)[-1], ["returned shape", "propagate down"]),
    (lambda layers, x, target: np.zeros_like(x), ["raised", "TypeError"]),
])
def test_wrong_network_fails_with_its_mistake_named(fn, needles):
    text = _fails(q.network, fn)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


def test_network_check_on_the_trained_model_names_the_model(digit_model, digits):
    """Right on small networks, wrong on images (here: z+ on the pixels once there are many of them)."""
    good, wrong = make_deep_taylor(ZB, ZP), make_deep_taylor(ZP, ZP)
    text = _fails(q.network, lambda L, x, tg, lo=0.0, hi=1.0: (good if x.shape[1] < 100 else wrong)(L, x, tg, lo, hi),
                  digit_model, digits)
    assert "trained digit classifier" in text and "differ from deep Taylor" in text and "row 20" in text


@FAST
@given(st.integers(1, 3).flatmap(lambda B: st.fixed_dictionaries({
    "x": arrays((B, 4), 0.0, 1.0, 0.05), "w1": arrays((4, 3), -2, 2), "b1": arrays((3,), -1, 1),
    "w2": arrays((3, 2), -2, 2), "b2": arrays((2,), -1, 1), "target": st.lists(st.integers(0, 1), min_size=B,
                                                                               max_size=B)})))
def test_reference_network_relevance_is_independent_and_conserves(ex):
    """The check's reference (four-line rules) equals the gradient trick, and sums to the logit where the
    denominators are not 0."""
    layers = [(ex["w1"], ex["b1"]), (ex["w2"], ex["b2"])]
    R = NET._reference_deep_taylor(layers, ex["x"], ex["target"])
    net = torch_net(layers)
    acts = forward(layers, ex["x"])
    rows = np.arange(len(ex["x"]))
    R_out = np.zeros_like(acts[-1])
    R_out[rows, ex["target"]] = acts[-1][rows, ex["target"]]
    via_gradient = P.propagate(net, torch.as_tensor(ex["x"]), P.deep_taylor(0.0, 1.0), torch.as_tensor(R_out),
                               via_gradient=True).numpy()
    np.testing.assert_allclose(R, via_gradient, atol=1e-9)
    np.testing.assert_allclose(R, NET._propagate_reference(net.float(), ex["x"], ex["target"]), atol=1e-5)
    np.testing.assert_allclose(R, make_deep_taylor(ZB, ZP)(layers, ex["x"], np.array(ex["target"])), atol=1e-9)
    top = acts[1] @ np.maximum(ex["w2"], 0)
    zb = ex["x"] @ ex["w1"] - np.minimum(ex["w1"], 0).sum(0)
    if (top[rows, ex["target"]] > 0).all() and (zb > 0).all():
        np.testing.assert_allclose(R.sum(-1), acts[-1][rows, ex["target"]], atol=1e-9)


# --- the notebook's text ---------------------------------------------------------------------------------------

def test_notebook_does_not_import_what_the_student_writes_and_has_about_30_points():
    import nbformat

    nb = nbformat.read(str(REPO / "solutions" / "deep_taylor" / "deep_taylor.ipynb"), as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"reference(\.| import )(lrp|propagation|roots)|from reference import (lrp|propagation|roots)",
                         source)
    points = sum(c.metadata.nbgrader.get("points", 0) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert 25 <= points <= 30
