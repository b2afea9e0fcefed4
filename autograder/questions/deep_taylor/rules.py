"""Deep Taylor decomposition, the rules implemented (numpy): ``w2(w, R)``, ``zplus(a, w, R)`` and
``zbeta(a, w, R, low, high)`` in the thesis orientation (``a`` (..., J), ``w`` (J, K), ``R`` (..., K)).

Each rule's facts (reference, denominator, mistakes, probes, edge cases) are a :class:`autograder.lrp_rules.Rule`;
the z+ rule is the one ``lrp_max`` and ``rnn_explain`` check too (:data:`autograder.lrp_rules.ZPLUS`).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from reference import lrp as ref_lrp

from ...choices import Choices
from ...lrp_rules import (
    ZPLUS,
    Rule,
    check_edge_cases,
    check_rule,
    four_line,
    neg,
    pos,
    safe,
)
from ...properties import arrays, decimals
from ...question import multiple_choice, question

# --- w^2 ------------------------------------------------------------------------------------------------

W2_MISTAKES = [
    ("you used w where the rule has w^2 (v_j = w_jk gives v_j w_jk = w_jk^2)", four_line(lambda w_: w_)),
    ("you used |w| where the rule has w^2 (v_j = w_jk gives v_j w_jk = w_jk^2)", four_line(np.abs)),
    ("the denominator is sum_j w_jk^2, the squared weights (you summed the plain weights)",
     lambda w_, R_: safe(R_, w_.sum(0)) @ (w_ ** 2).T),
    ("the relevance R_k is not normalised: divide by z_k = sum_j w_jk^2", lambda w_, R_: R_ @ (w_ ** 2).T),
    ("the normalisation runs over the wrong axis: z_k = sum_j w_jk^2 sums over the inputs j, axis 0 of w (J, K)",
     lambda w_, R_: (R_ @ (w_ ** 2).T) / np.where((w_ ** 2).sum(1) != 0, (w_ ** 2).sum(1), 1.0)),
]


def _w2_examples():
    return st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)).flatmap(
        lambda d: st.fixed_dictionaries({"w": arrays((d[1], d[2]), -2.0, 2.0), "R": arrays((d[0], d[2]), 0.0, 5.0)}))

def _w2_probes():
    rng = np.random.default_rng(31)
    return [(np.round(rng.normal(size=(4, 3)), 2), np.round(rng.uniform(0.5, 2.0, (2, 3)), 2))]


W2 = Rule(
    name="w2", argnames=("w", "R"), reference=ref_lrp.w2,
    denominator=lambda w, R: (w ** 2).sum(0) + 0 * R,
    mistakes=W2_MISTAKES, probes=_w2_probes(), strategy=_w2_examples,
    accepts=lambda w, R: (f"w of shape (J, K) and R of shape (B, K) (a batch of B examples); here J, K = "
                          f"{w.shape[0]}, {w.shape[1]}"),
    positivity="with R >= 0 every share w_jk^2 / sum_j w_jk^2 of this rule is >= 0",
    batched=("R",),
    edge_cases=[("an output with all-zero weights", (np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([[3.0, 5.0]]))),
                ("integer arrays", (np.array([[1, 2], [1, 0]]), np.array([[3, 4]]))),
                ("a single example (1-D R)", (np.array([[1.0], [-2.0], [0.0]]), np.array([5.0])))],
)

# --- z^beta ------------------------------------------------------------------------------------------------

def _zbeta_generic(a_, w_, R_, low, high, *, lw, hw, sign=-1.0, with_a=True):
    low, high = np.broadcast_to(low, a_.shape), np.broadcast_to(high, a_.shape)
    s = safe(R_, a_ @ w_ + sign * (low @ lw(w_) + high @ hw(w_)))
    first = a_ * (s @ w_.T) if with_a else s @ w_.T
    return first + sign * (low * (s @ lw(w_).T) + high * (s @ hw(w_).T))



_P, _N = pos, neg

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
     lambda a_, w_, R_, low, high: a_ * (safe(R_, a_ @ _P(w_)) @ _P(w_).T)),
    ("low and high are not used: that is LRP-0 (a_j w_jk / z_k)",
     lambda a_, w_, R_, low, high: a_ * (safe(R_, a_ @ w_) @ w_.T)),
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



def _zbeta_den(a, w, R, low, high):
    low, high = np.broadcast_to(low, a.shape), np.broadcast_to(high, a.shape)
    return a @ w - low @ pos(w) - high @ neg(w)


def _zbeta_probes():
    rng = np.random.default_rng(31)
    w_, R_ = np.round(rng.normal(size=(4, 3)), 2), np.round(rng.uniform(0.5, 2.0, (2, 3)), 2)
    low, high = np.round(rng.uniform(-1.0, -0.2, 4), 2), np.round(rng.uniform(0.5, 1.5, 4), 2)
    return [(np.round(rng.uniform(0.0, 1.0, (2, 4)), 2), w_, R_, 0.0, 1.0),
            (np.round(rng.uniform(-1.0, 1.0, (2, 4)), 2), w_, R_, -1.0, 1.0),
            (np.round(rng.uniform(low, high, (2, 4)), 2), w_, R_, low, high)]


ZBETA = Rule(
    name="zbeta", argnames=("a", "w", "R", "low", "high"), reference=ref_lrp.zbeta, denominator=_zbeta_den,
    mistakes=ZBETA_MISTAKES, probes=_zbeta_probes(), strategy=_zbeta_examples,
    accepts=lambda a, w, R, low, high: (
        f"a of shape (B, J), w of shape (J, K), R of shape (B, K), and low, high as numbers or arrays of shape (J,) "
        f"(use np.broadcast_to(low, a.shape)); here B, J, K = {a.shape[0] if a.ndim > 1 else 1}, {w.shape[0]}, "
        f"{w.shape[1]}, low = {low!r:.40}, high = {high!r:.40}"),
    positivity="with R >= 0 and a inside the box [low, high] every share of the z^beta rule is >= 0",
    shape_of_R_hint=" That is the shape of R: send the relevance back along the weights (s @ v.T).",
    edge_cases=[("the input sits at the minimising corner (zero denominator)",
                 (np.array([[0.0, 1.0]]), np.array([[1.0], [-1.0]]), np.array([[2.0]]), 0.0, 1.0)),
                ("bounds given per input", (np.array([[0.5, -0.5, 0.0]]), np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 1.0]]),
                                            np.array([[1.0, 2.0]]), np.array([-1.0, -1.0, 0.0]),
                                            np.array([1.0, 1.0, 2.0]))),
                ("integer arrays", (np.array([[1, 0]]), np.array([[1, -1], [2, 1]]), np.array([[3, 4]]), 0, 1)),
                ("a single example (1-D a and R)", (np.array([0.2, 0.9]), np.array([[1.0], [-1.0]]), np.array([1.0]),
                                                    0.0, 1.0))],
)

RULES = {"w2": W2, "zplus": ZPLUS, "zbeta": ZBETA}

# --- the checks ----------------------------------------------------------------------------------------------


@question("w^2 rule", answers="w2",
          hint="the w^2 rule does not look at a: share R_k among the inputs in proportion to w_jk^2")
def w2(ask, fn, *, max_examples: int = 40):
    """``fn(w, R) -> R_j = sum_k w_jk^2 / sum_j w_jk^2 R_k`` (w (J, K), R (..., K) -> (..., J))."""
    ask.function(fn, "w2", "w2(w, R)")
    return check_rule(ask.title, W2, fn, max_examples=max_examples)


@question("z+ rule (implemented)", answers="zplus",
          hint="your derived z+ rule in the four steps z, s, c, R with w+ = max(0, w) in place of w")
def zplus(ask, fn, *, max_examples: int = 40):
    """``fn(a, w, R) -> R_j = a_j sum_k w_jk^+ / (sum_j a_j w_jk^+) R_k`` (a >= 0)."""
    ask.function(fn, "zplus", "zplus(a, w, R)")
    return check_rule(ask.title, ZPLUS, fn, max_examples=max_examples)


@question("z^beta rule (implemented)", answers="zbeta",
          hint="your derived z^beta rule in the four steps z, s, c, R; broadcast low and high to a's shape first")
def zbeta(ask, fn, *, max_examples: int = 40):
    """``fn(a, w, R, low, high) -> R_j = sum_k (a_j w_jk - l_j w_jk^+ - h_j w_jk^-) / sum_j (...) R_k``."""
    ask.function(fn, "zbeta", "zbeta(a, w, R, low, high)")
    return check_rule(ask.title, ZBETA, fn, max_examples=max_examples)


def _edge_check(title, rule, hint):
    def run(ask, fn):
        ask.function(fn, rule.name, f"{rule.name}({', '.join(rule.argnames)})")
        check_edge_cases(ask.title, rule, fn)
        return ask.passed("zero denominators, integer arrays, a single example (1-D), arguments untouched")

    run.__name__ = run.__qualname__ = f"{rule.name}_edge_cases"
    run.__doc__ = f"Fixed cases of the {rule.name} rule: zero denominators, integer arrays, 1-D input."
    return question(title, answers=rule.name, hint=hint)(run)


w2_edge_cases = _edge_check("w^2 rule: edge cases", W2,
                            "an output whose weights are all 0 has the denominator 0: it must give s_k = 0")
zplus_edge_cases = _edge_check("z+ rule: edge cases", ZPLUS,
                               "an output k with sum_j a_j w_jk+ = 0 must give s_k = 0, not R_k / 0")
zbeta_edge_cases = _edge_check("z^beta rule: edge cases", ZBETA,
                               "an input at the minimising corner gives a zero denominator: it must give s_k = 0")

# --- multiple choice ---------------------------------------------------------------------------------------

_RULE_STATEMENTS = Choices({
    "A": (r"On ReLU activations the $z^+$ rule is the $\alpha\beta$-rule with $\alpha = 1$, $\beta = 0$.",
          True, "with alpha = 1, beta = 0 the alpha-beta rule (eq. 3.3) is a_j w_jk^+ / sum_j a_j w_jk^+ R_k, the "
                "z+ rule."),
    "B": ("The $w^2$ rule gives more relevance to inputs with larger activations $a_j$.",
          False, "R_j = sum_k w_jk^2 / sum_j w_jk^2 R_k has no a_j in it: the input only reaches the w^2 rule "
                 "through R_k from the layer above."),
    "C": ("Gradient × input on this classifier adds up to the explained logit.",
          False, "for a ReLU network with biases f(x) = sum_i x_i df/dx_i + (what the biases add along the active "
                 "paths), so gradient x input adds up to the logit minus the biases' share: compare the columns "
                 "of the table of sums."),
    "D": (r"The $\varepsilon$-rule, $R_j = \sum_k a_j w_{jk} / (z_k + \varepsilon\,\mathrm{sign}(z_k))\, R_k$ with "
          r"the bias inside $z_k$, does not conserve relevance exactly: bias and $\varepsilon$ absorb (or add) "
          "some.",
          True, "the epsilon rule divides a_j w_jk by z_k + eps sign(z_k) with the bias inside z_k, so its shares "
                "add up to (z_k - b_k) / (z_k + eps sign(z_k)), not 1: bias and stabiliser absorb (or, for b_k < "
                "0, add) relevance."),
    "E": (r"With $z^\beta$ on pixels in $[0, 1]$, a black pixel ($x_j = 0$) never receives relevance.",
          False, "a black pixel (x_j = 0 = l_j) with a negative weight gets a share -h_j w_jk^- > 0: under "
                 "z^beta, missing ink where ink would have lowered z_k counts as evidence."),
    "F": ("For a neuron with $b_k > 0$ the $z^+$ line search can need $t > 1$, and its root point then leaves the "
          r"domain $a \ge 0$.",
          True, "with b_k > 0 the step t = z_k / sum_j a_j w_jk^+ can exceed 1, and a - t v then has negative "
                "entries: the root leaves the domain a >= 0 that the z+ derivation assumes (b_k <= 0)."),
})



@multiple_choice("true statements about the rules", answers="rule_statements",
                 hint="write out each rule's numerator and denominator (alpha-beta with alpha = 1, beta = 0, w^2, epsilon, "
               "z^beta) and test each statement on them",
                 choices=_RULE_STATEMENTS)
def rule_statements(answer):
    """Multiple select over the statements about the rules."""
