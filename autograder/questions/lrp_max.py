"""Checks for the ``lrp_max`` assignment (ML2 sheet 11, Ex 3: LRP-alpha1-beta0 on three ReLU networks
computing ``y = max(a1, a2)``).

Symbolic answers use the symbols ``a1, a2`` (non-negative; matched by *name*, whatever assumptions
the student declared). The relevances are piecewise: an answer may be a ``Piecewise``, use ``Max``,
``Min``, ``Abs`` or ``Heaviside``, or any equivalent rewrite. Equivalence is decided separately on the
two regions ``a1 > a2`` and ``a2 > a1`` (on fixed, seeded sample points of each region) and, where
the reference is continuous, on the diagonal ``a1 = a2``; a wrong answer is reported with the region
where it fails, the expected and the given expression *restricted to that region* (e.g. "R2 is wrong
where a2 > a1: expected a2 - a1, yours gives 0 there"), and a hint from a catalogue of typical
mistakes (gradient x input, swapped R1/R2, another network's answer, negative weights not ignored,
broken conservation, negative relevance).

The implemented z+ rule is checked with Hypothesis (shape, no NaN, positivity, conservation,
agreement with ``reference.lrp.zplus``, batch dimension), the propagation through the three networks
against ``reference.maxnet_relevance.relevance_alpha1beta0``.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy
from hypothesis import strategies as st

from reference import maxnet_relevance as ref_relevance
from reference import maxnets as ref

from .. import lrp_rules
from ..choices import Choices
from ..feedback import CheckFailed, not_answered, passed
from ..properties import Violation, assert_close, check_properties, decimals
from ..question import Diagnosis, array, call, hints_of, multiple_choice, question, unwrap

a1, a2 = sympy.symbols("a1 a2", nonnegative=True)
_t = sympy.Symbol("t", positive=True)
NAMES = ("a", "b", "c")

#: Gradient x input, the same for the three networks off the diagonal (on it, autograd's choice of
#: relu'(0) = 0 decides, and the networks differ).
GXI = (sympy.Piecewise((a1, a1 >= a2), (0, True)), sympy.Piecewise((0, a1 >= a2), (a2, True)))

WIRING = {
    "a": "h1 = relu(a1) and h2 = relu(a2 - a1), y = h1 + h2",
    "b": "h1 = relu(a1 - a2) and h2 = relu(a2), y = h1 + h2",
    "c": "a1 and a2 pass through, h3 = relu(a1 - a2), h4 = relu(a2 - a1), y = (a1 + a2 + h3 + h4)/2",
}

# --- regions and sample points ------------------------------------------------------------------

REGIONS = ("a1 > a2", "a2 > a1", "a1 = a2")
_BACK = {"a1 > a2": ({a1: a2 + _t}, {_t: a1 - a2}), "a2 > a1": ({a2: a1 + _t}, {_t: a2 - a1}),
         "a1 = a2": ({a1: a2}, {})}


def _points() -> dict[str, list[tuple[float, float]]]:
    """Fixed sample points of each region: readable ones first (they appear in the feedback), then random ones
    of order one, then values across decades (0.01 to 1500, gaps large and tiny): an answer that is right only
    for small inputs (a clipped or capped term, a condition such as a1 < 5) is caught."""
    rng = np.random.default_rng(2024)
    base = np.round(rng.uniform(0.0, 3.0, 7), 2)
    gap = np.round(rng.uniform(0.3, 3.0, 7), 2)
    upper = [(float(round(b + g, 2)), float(b)) for b, g in zip(base, gap)]
    wide = [(40.0, 12.0), (250.0, 0.05), (0.02, 0.01), (1500.0, 900.0), (75.0, 74.5)]
    above = [(2.0, 1.0), (3.0, 0.5), (1.0, 0.0)] + upper + wide
    return {"a1 > a2": above, "a2 > a1": [(y, x) for x, y in above],
            "a1 = a2": [(1.0, 1.0), (2.5, 2.5), (0.4, 0.4), (30.0, 30.0), (0.05, 0.05), (800.0, 800.0)]}


POINTS = _points()


def _value(expr, x: float, y: float) -> float:
    try:
        v = complex(sympy.N(expr.xreplace({a1: sympy.Float(x), a2: sympy.Float(y)})))
    except Exception:  # noqa: BLE001 - zoo, nan, an unevaluated condition: not a number here
        return float("nan")
    return v.real if abs(v.imag) < 1e-9 else float("nan")


def _values(expr) -> dict[str, np.ndarray]:
    return {r: np.array([_value(expr, x, y) for x, y in pts]) for r, pts in POINTS.items()}


def _close(u, v) -> bool:
    u, v = np.asarray(u, float), np.asarray(v, float)
    return bool(np.all(np.isfinite(u)) and np.all(np.isfinite(v)) and np.allclose(u, v, rtol=1e-8, atol=1e-8))


def _restrict(expr, region: str):
    """``expr`` on one region, simplified (``Max(a1, a2)`` -> ``a2`` where a2 > a1)."""
    sub, back = _BACK[region]
    try:
        e = sympy.simplify(sympy.piecewise_fold(expr.subs(sub)))
        e = e.subs(back) if back else e
        flat = sympy.expand(e)
        return flat if flat.is_polynomial(a1, a2) else sympy.factor(sympy.together(e))
    except Exception:  # noqa: BLE001 - show the raw expression rather than fail
        return expr


def _show(expr) -> str:
    """Positive terms first: ``a2 - a1``, not ``-a1 + a2``."""
    if not isinstance(expr, sympy.Add):
        return sympy.sstr(expr)
    terms = expr.as_ordered_terms()
    terms = [t for t in terms if not t.could_extract_minus_sign()] + [t for t in terms if t.could_extract_minus_sign()]
    out = ""
    for k, term in enumerate(terms):
        if term.could_extract_minus_sign():
            out += (" - " if k else "-") + sympy.sstr(-term)
        else:
            out += (" + " if k else "") + sympy.sstr(term)
    return out


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.4g}"


def _region_text(region: str) -> str:
    return "on the diagonal a1 = a2" if region == "a1 = a2" else f"where {region}"


# --- coercing an answer -----------------------------------------------------------------------

def _unpack(question, R1, R2, names):
    """Accept ``(R1, R2)``, a pair, a dict ``{"R1": .., "R2": ..}`` or a 2-entry SymPy vector."""
    if R2 is None and R1 is not None:
        pair = None
        if isinstance(R1, dict):
            keys = {str(k).upper().replace("_", ""): v for k, v in R1.items()}
            if {"R1", "R2"} <= set(keys):
                pair = keys["R1"], keys["R2"]
            elif {"1", "2"} <= set(keys):
                pair = keys["1"], keys["2"]
            else:
                raise CheckFailed(question, f"got a dict with keys {sorted(map(str, R1))}; expected keys 'R1' and 'R2'")
        elif isinstance(R1, (tuple, list, sympy.Tuple)) or isinstance(R1, sympy.MatrixBase):
            items = list(R1)
            if len(items) != 2:
                raise CheckFailed(question, f"got {len(items)} entries; expected the pair (R1, R2)")
            pair = tuple(items)
        if pair is not None:
            R1, R2 = pair
    for value, name in ((R1, names[0]), (R2, names[1])):
        if value is None or value is Ellipsis:
            raise not_answered(question, name)
    return R1, R2


def _expression(question: str, name: str, value):
    """The student's answer as a SymPy expression in our ``a1, a2`` (matched by name)."""
    expr = unwrap(value, name, scalar=True, namespace={"a1": a1, "a2": a2})
    if isinstance(expr, sympy.logic.boolalg.Boolean) and not isinstance(expr, sympy.Expr):
        raise CheckFailed(question, f"{name}: got the condition {expr}, not an expression. For a case "
                                    f"distinction write Piecewise((expr1, a1 >= a2), (expr2, True)) or use Max/Min")
    if isinstance(expr, sympy.MatrixBase) or not isinstance(expr, sympy.Expr):
        raise CheckFailed(question, f"{name}: expected one scalar SymPy expression in a1 and a2, "
                                    f"got {type(expr).__name__}")
    extra = sorted({s.name for s in expr.free_symbols} - {"a1", "a2"})
    if extra:
        raise CheckFailed(question, f"{name} uses {', '.join(extra)}, which the question does not define; "
                                    f"expected an expression in a1 and a2 (the symbols defined in the notebook)")
    return expr.xreplace({s: (a1 if s.name == "a1" else a2) for s in expr.free_symbols})


# --- the catalogue of typical answers ----------------------------------------------------------

def _propagate(name: str, x: float, y: float, rule: str) -> tuple[float, float]:
    """Relevance of (a1, a2) by a (possibly wrong) variant of the rule, used only to diagnose."""
    net = ref.get_network(name)
    a = np.array([x, y])
    h, out = net.forward(a)

    def layer(act, w, R):
        w_ = {"zplus": np.maximum(w, 0), "abs": np.abs(w), "z": w}[rule]
        z = act @ w_
        s = np.where(z == 0, 0.0, R / np.where(z == 0, 1.0, z))
        return act * (s @ w_.T)

    Ra = layer(a, net.w1, layer(h, net.w2, np.array([out])))
    return float(Ra[0]), float(Ra[1])


@functools.cache
def _expected(name: str):
    """(R1, R2) expressions and their values at the sample points for the reference answer ``name``."""
    pair = GXI if name == "gxi" else ref_relevance.analytic_relevances(name, a1, a2)
    return pair, tuple(_values(e) for e in pair)


@functools.cache
def _numeric(name: str, rule: str):
    vals = {r: np.array([_propagate(name, x, y, rule) for x, y in pts]) for r, pts in POINTS.items()}
    return ({r: v[:, 0] for r, v in vals.items()}, {r: v[:, 1] for r, v in vals.items()})


def _gxi_hint() -> str:
    return ("this is gradient x input (the winner gets all of y = max(a1, a2), the loser 0), which is the same "
            "for all three networks. It is also what LRP-0 gives, the rule with w instead of w+: the weight -1 "
            "sends negative relevance to the loser and cancels its share. The z+ rule uses only the positive "
            "contributions a_j w_jk+; redo the split layer by layer: first y among the active hidden neurons, "
            "then each hidden neuron's relevance among its inputs with a positive weight.")


def _catalogue(question_net: str):
    """Typical wrong answers as ``(values R1, values R2, hint, partial)``; ``partial``: one component may
    match while the other is right."""
    out = []
    if question_net == "gxi":
        for other in NAMES:
            _, (v1, v2) = _expected(other)
            out.append((v1, v2, f"this is LRP-alpha1-beta0 for network ({other}), not gradient x input: "
                                 f"R_i = a_i dy/da_i depends only on the function max(a1, a2), not on the wiring", False))
        grad = (sympy.Piecewise((1, a1 >= a2), (0, True)), sympy.Piecewise((0, a1 >= a2), (1, True)))
        g1, g2 = (_values(e) for e in grad)
        out.append((g1, g2, "this is the gradient dy/da_i alone; gradient x input multiplies it by the input a_i", False))
    else:
        _, (v1, v2) = _expected("gxi")
        out.append((v1, v2, _gxi_hint(), True))
        w1, w2 = _numeric(question_net, "abs")
        out.append((w1, w2, "the z+ rule ignores negative weights: a hidden neuron relu(a_i - a_j) sends all its "
                            "relevance to a_i, the input with the positive weight; you shared it with a_j as if "
                            "the weight -1 counted (|w| instead of w+ = max(0, w)).", True))
        for other in NAMES:
            if other != question_net:
                _, (o1, o2) = _expected(other)
                out.append((o1, o2, f"this is the answer for network ({other}); network ({question_net}) has "
                                    f"{WIRING[question_net]}.", False))
        if question_net == "c":
            skip = (sympy.Max(a1 - a2, 0) / 2, sympy.Max(a2 - a1, 0) / 2)
            s1, s2 = (_values(e) for e in skip)
            out.append((s1, s2, "network (c) also passes a1 and a2 to y with weight 1/2 each (the skip connections, "
                                "drawn as two pass-through hidden neurons): they carry relevance a1/2 and a2/2 "
                                "straight back to their own inputs.", False))
    return out


def _matches(vals, target, regions) -> bool:
    return all(_close(vals[r], target[r]) for r in regions)


# --- the verdict for a pair (R1, R2) -------------------------------------------------------------

def _check_pair(question: str, R1, R2, names, which: str):
    R1, R2 = _unpack(question, R1, R2, names)
    student = (_expression(question, names[0], R1), _expression(question, names[1], R2))
    (e1, e2), expected_vals = _expected(which)
    regions = ("a1 > a2", "a2 > a1") if which == "gxi" else REGIONS
    student_vals = tuple(_values(s) for s in student)

    wrong = [(i, r) for r in regions for i in (0, 1) if not _close(student_vals[i][r], expected_vals[i][r])]
    if any(r != "a1 = a2" for _, r in wrong):  # the diagonal is worth a word only when all else is right
        wrong = [(i, r) for i, r in wrong if r != "a1 = a2"]
    if not wrong:
        return passed(question, "correct on both regions a1 > a2 and a2 > a1"
                      + ("" if which == "gxi" else " and on the diagonal"))

    labels = ("R1", "R2")
    lines = []
    for i, r in wrong:
        pts = POINTS[r]
        got, want = student_vals[i][r], expected_vals[i][r]
        k = next(j for j in range(len(pts)) if not _close(got[j], want[j]))
        where = "a1 = a2 = " + _fmt(pts[k][0]) if r == "a1 = a2" else f"a1 = {_fmt(pts[k][0])}, a2 = {_fmt(pts[k][1])}"
        exp = (student[0], student[1])[i]
        lines.append(f"{labels[i]} is wrong {_region_text(r)}: expected {_show(_restrict((e1, e2)[i], r))}, "
                     f"yours gives {_show(_restrict(exp, r))} there (e.g. at {where}: expected {_fmt(want[k])}, "
                     f"yours {_fmt(got[k])}).")

    hint = _diagnose(which, student, student_vals, expected_vals, wrong)
    if hint:
        lines.append("Hint: " + hint)
    raise CheckFailed(question, "\n".join(lines))


def _diagnose(which, student, student_vals, expected_vals, wrong) -> str | None:
    off = ("a1 > a2", "a2 > a1")
    s1, s2 = student_vals
    wrong_parts = {i for i, r in wrong if r in off}
    # Swapped components.
    if _matches(s1, expected_vals[1], off) and _matches(s2, expected_vals[0], off):
        return "R1 and R2 are swapped: R1 is the relevance of the input a1, R2 that of a2."
    for t1, t2, hint, partial in _catalogue(which):
        m1, m2 = _matches(s1, t1, off), _matches(s2, t2, off)
        if m1 and m2:
            return hint
        if partial and wrong_parts:
            ok1 = m1 or 0 not in wrong_parts
            ok2 = m2 or 1 not in wrong_parts
            if ok1 and ok2 and ((m1 and 0 in wrong_parts) or (m2 and 1 in wrong_parts)):
                return hint
    if not wrong_parts:  # right on both regions, wrong only on the diagonal
        if any(expr.has(sympy.Heaviside) for expr in student):
            return ("SymPy's Heaviside(0) is 1/2, so your answer jumps on the diagonal where the relevances are "
                    "continuous; use Heaviside(x, 0) or Heaviside(x, 1), Max/Min, or a Piecewise.")
        return ("the relevances are continuous: on the diagonal a1 = a2 both of your cases must give the same value "
                "(check which case your condition assigns the diagonal to).")
    # Positivity and conservation.
    for r in off:
        for i in (0, 1):
            if np.any(student_vals[i][r] < -1e-9):
                why = ("dy/da_i is 0 or 1 and a_i >= 0" if which == "gxi" else
                       "with a1, a2 >= 0 the z+ rule only uses the non-negative contributions a_j w_jk+")
                return f"your R{i + 1} is negative {_region_text(r)}, but no relevance can be negative here: {why}."
    winner = {"a1 > a2": a1, "a2 > a1": a2}
    for r in off:
        y = np.array([max(x, z) for x, z in POINTS[r]])
        total = s1[r] + s2[r]
        if np.all(np.isfinite(total)) and not _close(total, y):
            ratio = total / y
            if np.allclose(ratio, ratio[0], rtol=1e-8):
                factor = sympy.nsimplify(float(ratio[0]), rational=True, tolerance=1e-8)
                return (f"your R1 + R2 is {factor} times y = max(a1, a2) {_region_text(r)}: a constant factor is off "
                        f"(check the output weights of the network).")
            why = ("y is positively homogeneous, so a1 dy/da1 + a2 dy/da2 = y" if which == "gxi" else
                   "the z+ rule passes all relevance down, layer by layer")
            return (f"conservation fails {_region_text(r)}: R1 + R2 must equal y = max(a1, a2) = {winner[r]} there "
                    f"({why}), but yours sums to "
                    f"{_show(_restrict(student[0] + student[1], r))}.")
    return None


_NETWORK_HINT = ("split the relevance y = max(a1, a2) layer by layer with the z+ rule, R_j = a_j w_jk+ / "
                 "(sum_j a_j w_jk+) R_k, once for a1 > a2 and once for a2 > a1; only positive weights carry relevance")


def _network_check(name: str):
    title = f"LRP-alpha1-beta0 relevances of network ({name})"

    def run(ask, R1, R2=None):
        return _check_pair(ask.title, R1, R2, (f"R1_{name}", f"R2_{name}"), name)

    run.__name__ = run.__qualname__ = f"network_{name}"
    run.__doc__ = (f"Check the LRP-alpha1-beta0 relevances ``(R1, R2)`` of network ({name}) as SymPy expressions "
                   f"in ``a1, a2``; a pair or a dict ``{{'R1': .., 'R2': ..}}`` as the only argument works too.")
    return question(title, answers=f"R1_{name}", hint=_NETWORK_HINT)(run)


network_a = _network_check("a")
network_b = _network_check("b")
network_c = _network_check("c")


@question("gradient x input", answers="R1_gxi",
          hint="R_i = a_i dy/da_i; y = max(a1, a2) has the gradient (1, 0) where a1 > a2 and (0, 1) where a2 > a1")
def gradient_x_input(ask, R1, R2=None):
    """Check gradient x input ``(R1, R2)`` (the same for the three networks) as SymPy expressions."""
    return _check_pair(ask.title, R1, R2, ("R1_gxi", "R2_gxi"), "gxi")


# --- the z+ rule, implemented: autograder.lrp_rules.ZPLUS ----------------------------------------

@question("z+ rule for a dense layer", answers="zplus",
          hint="follow the four steps z, s, c, R of the notes with w+ = max(0, w) in place of w; keep the batch "
               "dimension and compute new arrays rather than changing a, w or R")
def zplus(ask, fn, *, max_examples: int = 40):
    """Check ``fn(a, w, R) -> R_j`` (a (..., J) >= 0, w (J, K), R (..., K)) with Hypothesis."""
    ask.function(fn, "zplus", "zplus(a, w, R)")
    return lrp_rules.check_rule(ask.title, lrp_rules.ZPLUS, fn, max_examples=max_examples)


@question("z+ rule: edge cases", answers="zplus",
          hint="an output k whose z_k = 0 (all its inputs 0, or all its weights <= 0) must give s_k = 0, not R_k / 0")
def zplus_edge_cases(ask, fn):
    """Fixed cases: all-zero input, an output with only negative weights, integer arrays, 1-D input,
    and the arguments left unchanged."""
    ask.function(fn, "zplus", "zplus(a, w, R)")
    lrp_rules.check_edge_cases(ask.title, lrp_rules.ZPLUS, fn)
    return ask.passed("zero inputs, all-negative weights, integer arrays, 1-D input, arguments untouched")


# --- propagation through the three networks -----------------------------------------------------

def _relevance_pair(fn, name, x, y):
    out = call(fn, ref.get_network(name), x, y, name="relevance")
    if isinstance(out, (tuple, list)) and len(out) == 2:
        R1, R2 = (array(v, f"R{i + 1}") for i, v in enumerate(out))
    else:
        arr = array(out, "relevance(net, a1, a2)")
        if arr.shape != x.shape + (2,):
            raise Violation(f"relevance(net, a1, a2) returned {type(out).__name__} of shape {arr.shape}; "
                            f"expected the pair (R1, R2) of arrays of shape {x.shape}")
        R1, R2 = arr[..., 0], arr[..., 1]
    return R1, R2


# No ties (where gradient x input of the three networks differ), no zeros. Gradient x input is written out, not
# taken from reference.maxnet_relevance (torch): a check must not pay torch's import.
_PROBE_A1, _PROBE_A2 = np.array([2.0, 0.5, 1.0, 3.0]), np.array([1.0, 1.5, 0.2, 2.5])


def _relevance_diagnosis(fn, name):
    """The likely mistake of ``relevance`` on network ``name``, decided on fixed probe inputs."""
    mistakes = [
        (f"network ({name}): your relevances are gradient x input (= LRP-0): does your zplus use w instead of "
         f"w+ = max(0, w)?", lambda net, x, y: np.stack([x * (x > y), y * (y > x)])),   # GXI, off the diagonal
        (f"network ({name}): R1 and R2 are swapped",
         lambda net, x, y: np.stack(ref_relevance.relevance_alpha1beta0(name, x, y)[::-1])),
    ]
    return Diagnosis(fn, mistakes, [(ref.get_network(name), _PROBE_A1, _PROBE_A2)],
                     read=lambda out: np.stack([array(v, "R") for v in out]))


def _relevance_property(fn, name):
    diagnosis = _relevance_diagnosis(fn, name)

    def prop(a1, a2):
        R1, R2 = _relevance_pair(fn, name, a1, a2)
        want = np.stack(ref_relevance.relevance_alpha1beta0(name, a1, a2), -1)
        if R1.shape != a1.shape or R2.shape != a1.shape:
            raise Violation(f"R1, R2 have shapes {R1.shape}, {R2.shape}; expected {a1.shape} each (one relevance "
                            f"per example)")
        got = np.stack([R1, R2], -1)
        if np.all(np.isfinite(got)) and not np.allclose(got, want, rtol=1e-6, atol=1e-6) and diagnosis.hint():
            raise Violation(diagnosis.hint(), expected=want, got=got)
        assert_close(got, want, f"network ({name}): (R1, R2) as columns")

    return prop


def _inputs():
    """``{"a1": (N,), "a2": (N,)}`` with N = 1..6; a list of pairs, so that shrinking drops examples."""
    pair = st.tuples(decimals(0.0, 5.0), decimals(0.0, 5.0)) | st.tuples(decimals(0.0, 200.0, 0.5), decimals(0.0, 200.0, 0.5))
    return st.lists(pair, min_size=1, max_size=6).map(
        lambda ps: {"a1": np.array([p[0] for p in ps]), "a2": np.array([p[1] for p in ps])})


@question("LRP through the max networks", answers="relevance",
          hint="stack the inputs as a = (a1, a2) of shape (N, 2), run the forward pass h = relu(a @ w1), then apply "
               "your zplus twice, from y = h @ w2 down to h and from h down to a")
def relevance(ask, fn, *, max_examples: int = 30):
    """Check ``fn(net, a1, a2) -> (R1, R2)`` for the three networks of ``reference.maxnets.NETWORKS``
    on generated ``a1, a2 >= 0`` (arrays of shape (N,))."""
    ask.function(fn, "relevance", "relevance(net, a1, a2)")
    props = {f"network ({n})": _relevance_property(fn, n) for n in NAMES}
    return check_properties(ask.title, props, _inputs(), max_examples=max_examples)


@question("LRP through the max networks: the analytic table", answers="relevance",
          hint="compare your function with your symbolic answers on a few points, ties a1 = a2 and zeros included")
def relevance_table(ask, fn):
    """``fn`` on a grid of (a1, a2) in [0, 3]^2 (ties and zeros included) and at 12 and 150 against the analytic
    table."""
    q = ask.title
    ask.function(fn, "relevance", "relevance(net, a1, a2)")
    g = np.concatenate([np.arange(0.0, 3.01, 0.5), [12.0, 150.0]])
    x, y = (v.ravel() for v in np.meshgrid(g, g))
    for name in NAMES:
        R1e, R2e = ref_relevance.analytic_relevances(name, a1, a2)
        want = np.array([[_value(R1e, u, v), _value(R2e, u, v)] for u, v in zip(x, y)])
        try:
            R1, R2 = _relevance_pair(fn, name, x, y)
            got = np.stack([np.asarray(R1, float), np.asarray(R2, float)], -1)
        except Violation as v:
            raise CheckFailed(q, v.message) from None
        bad = ~np.all(np.isclose(got, want, rtol=1e-6, atol=1e-6), axis=-1) if got.shape == want.shape else None
        if bad is None:
            raise CheckFailed(q, f"network ({name}): got shape {got.shape}, expected {want.shape}")
        if bad.any():
            k = int(np.argmax(bad))
            raise CheckFailed(q, f"network ({name}) at a1 = {x[k]:g}, a2 = {y[k]:g}: expected (R1, R2) = "
                                 f"({want[k, 0]:g}, {want[k, 1]:g}), yours ({got[k, 0]:.4g}, {got[k, 1]:.4g})")
    return passed(q, f"matches the table on a {len(g)} x {len(g)} grid for the three networks")


# --- multiple choice -----------------------------------------------------------------------------

# The options are the three networks of the notebook's table (no text to show here).
WIRING = Choices({
    "a": ("", False, "in (a) the roles differ: a1 feeds relu(a1), a2 only the difference neuron relu(a2 - a1). "
                     "Compare R1 where a1 > a2 with R2 where a2 > a1."),
    "b": ("", False, "(b) is (a) with the inputs swapped, so on its own it is not symmetric."),
    "c": ("", True, "is symmetric: swapping a1 and a2 permutes its hidden neurons, so the relevances swap too."),
})


@multiple_choice("symmetric wiring", answers="symmetric_nets",
                 hint="swap a1 and a2 in the drawing of each network: which drawings turn into themselves?",
                 choices=WIRING, allow_empty=True)
def symmetric_wiring(answer):
    """Which network(s) give R1(a1, a2) = R2(a2, a1)."""


WINNER = Choices({
    "a": ("", False, "in (a), when a2 > a1 the loser a1 still gets R1 = a1 through h1 = relu(a1)."),
    "b": ("", False, "in (b), when a1 > a2 the loser a2 still gets R2 = a2 through h2 = relu(a2)."),
    "c": ("", False, "in (c) the loser always keeps half of its own value through its skip connection."),
})


@multiple_choice("winner takes all", answers="winner_nets",
                 hint="for each network, look at your R1 where a2 > a1 and your R2 where a1 > a2: is the loser's share 0?",
                 choices=WINNER, allow_empty=True)
def winner_takes_all(answer):
    """Which network(s) give the winner all of y whichever input wins."""


_STATEMENTS = Choices({
    1: ("Gradient × input gives the same relevances for the three networks (away from the diagonal $a_1 = a_2$).",
        True, "gradient x input depends only on the function y = max(a1, a2): look at the figure of the three "
              "networks."),
    2: (r"LRP-$\alpha_1\beta_0$ gives the same relevances for the three networks, since they compute the same "
        "function.",
        False, "compare your answers for (a) and (b): LRP follows the wiring, not only the function."),
    3: (r"For each network, LRP-$\alpha_1\beta_0$ conserves relevance: $R_1 + R_2 = \max(a_1, a_2)$.",
        True, "the z+ rule conserves relevance in each layer (no biases here), so R1 + R2 = y."),
    4: (r"LRP-$\alpha_1\beta_0$ never gives a negative relevance on these networks (for $a_1, a_2 \ge 0$).",
        True, "all inputs are >= 0 and the rule only uses positive weights, so every share is >= 0."),
    5: ("LRP-0, the same rule with $w$ instead of $w^+$, gives gradient × input on these bias-free ReLU networks.",
        True, "on bias-free ReLU networks LRP-0 (the z rule) equals gradient x input."),
    6: ("In network (c) the losing input never receives any relevance.",
        False, "in (c) the loser keeps half of its own value (a_loser / 2) through its skip connection."),
})


@multiple_choice("true statements", answers="true_statements",
                 hint="test each statement on your own answers for (a), (b), (c) and gradient x input",
                 choices=_STATEMENTS)
def true_statements(answer):
    """Multiple select over ``_STATEMENTS`` (numbered)."""


hint = hints_of(__name__)
