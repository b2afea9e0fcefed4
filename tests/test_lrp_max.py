"""The lrp_max assignment: reference.maxnets and reference.lrp (z+, alpha-beta), and the checks of
autograder.questions.lrp_max (symbolic answers on both regions, the implemented rule, multiple choice)."""
import json

import nbformat
import numpy as np
import pytest
import sympy
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.feedback import CheckFailed
from autograder.properties import arrays, layers
from autograder.questions import lrp_max as q
from reference import lrp, maxnet_relevance, maxnets

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None)
a1, a2 = sympy.symbols("a1 a2", nonnegative=True)
Max, Min, Abs, H, P = sympy.Max, sympy.Min, sympy.Abs, sympy.Heaviside, sympy.Piecewise
NAMES = ("a", "b", "c")


def pairs(n_max=8):
    return st.integers(1, n_max).flatmap(lambda n: st.tuples(arrays((n,), 0.0, 5.0), arrays((n,), 0.0, 5.0)))


# --- reference.maxnets ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_forward_torch_and_max_agree(name):
    import torch

    net = maxnets.NETWORKS[name]
    module = net.torch_module()

    @settings(max_examples=30, deadline=None, derandomize=True, database=None)
    @given(ab=pairs())
    def agree(ab):
        x, y = ab
        a = np.stack([x, y], -1)
        h, out = net.forward(a)
        assert np.allclose(out, np.maximum(x, y))
        assert h.shape == (len(x), net.w1.shape[1]) and np.all(h >= 0)
        with torch.no_grad():
            t = module(torch.as_tensor(a, dtype=torch.float32))[:, 0].numpy()
        assert np.allclose(t, out, atol=1e-5)

    agree()


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(ab=pairs())
def test_alpha1beta0_conserves_is_positive_and_matches_the_table(name, ab):
    x, y = ab
    R1, R2 = maxnet_relevance.relevance_alpha1beta0(name, x, y)
    assert R1.shape == R2.shape == x.shape
    assert np.allclose(R1 + R2, np.maximum(x, y))
    assert np.all(R1 >= -1e-12) and np.all(R2 >= -1e-12)
    E1, E2 = (sympy.lambdify((a1, a2), e, "numpy") for e in maxnet_relevance.analytic_relevances(name, a1, a2))
    assert np.allclose(R1, np.broadcast_to(E1(x, y), x.shape))
    assert np.allclose(R2, np.broadcast_to(E2(x, y), x.shape))


def test_the_table_values():
    """Spot values of the docstring's table, by hand."""
    want = {"a": [(2.0, 0.0), (1.0, 2.0)], "b": [(1.0, 1.0), (0.0, 3.0)], "c": [(1.5, 0.5), (0.5, 2.5)]}
    for name, (ge, lt) in want.items():
        R = maxnet_relevance.relevance_alpha1beta0(name, np.array([2.0, 1.0]), np.array([1.0, 3.0]))
        assert np.allclose(np.stack(R, -1), [ge, lt])


@FAST
@given(ab=pairs())
def test_gradient_x_input_is_the_same_for_the_three_networks(ab):
    x, y = ab
    off = x != y
    got = [np.stack(maxnet_relevance.gradient_x_input(n, x, y), -1)[off] for n in NAMES]
    want = np.stack([x * (x > y), y * (y > x)], -1)[off]
    for g in got:
        assert np.allclose(g, want, atol=1e-5)


def test_maxnets_reject_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        maxnet_relevance.relevance_alpha1beta0("a", -1.0, 2.0)
    with pytest.raises(ValueError, match="expected one of"):
        maxnets.get_network("d")
    with pytest.raises(TypeError, match="a1"):
        maxnet_relevance.relevance_alpha1beta0("a", None, 1.0)
    with pytest.raises(ValueError, match="finite"):
        maxnet_relevance.relevance_alpha1beta0("b", np.nan, 1.0)


# --- reference.lrp ------------------------------------------------------------------------------

@FAST
@given(ex=layers())
def test_zplus_conserves_positive_and_equals_alpha1beta0(ex):
    a, w, R = ex["a"], ex["w"], ex["R"]
    out = lrp.zplus(a, w, R)
    assert out.shape == a.shape and np.all(np.isfinite(out))
    assert np.all(out >= -1e-12)
    z = a @ np.maximum(w, 0)
    assert np.allclose(out.sum(-1), np.where(z > 0, R, 0).sum(-1))
    assert np.allclose(out, lrp.alphabeta(a, w, R, alpha=1.0, beta=0.0))
    assert np.allclose(lrp.zplus(a[0], w, R[0]), out[0])  # the batch dimension is optional


@FAST
@given(ex=layers())
def test_alpha2beta1_conserves_where_both_parts_exist(ex):
    a, w, R = ex["a"], ex["w"], ex["R"]
    zp, zn = a @ np.maximum(w, 0), a @ np.minimum(w, 0)
    out = lrp.alphabeta(a, w, R, alpha=2.0, beta=1.0)
    both = (zp > 0) & (zn < 0)
    only_pos = (zp > 0) & (zn == 0)
    assert np.allclose(out.sum(-1), (np.where(both, R, 0) + np.where(only_pos, 2 * R, 0)
                                     - np.where((zp == 0) & (zn < 0), R, 0)).sum(-1))


def test_alphabeta_enforces_alpha_minus_beta_is_one():
    a, w, R = np.ones((1, 2)), np.eye(2), np.ones((1, 2))
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        lrp.alphabeta(a, w, R, alpha=2.0, beta=0.0)
    with pytest.raises(ValueError, match="beta >= 0"):
        lrp.alphabeta(a, w, R, alpha=0.5, beta=-0.5)


def test_lrp_rules_reject_bad_input():
    with pytest.raises(ValueError, match="rows"):
        lrp.zplus(np.ones((1, 3)), np.ones((2, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="columns"):
        lrp.zplus(np.ones((1, 2)), np.ones((2, 2)), np.ones((1, 3)))
    with pytest.raises(TypeError, match="got None"):
        lrp.zplus(np.ones((1, 2)), None, np.ones((1, 2)))
    with pytest.raises(TypeError, match="got None"):
        lrp.alphabeta(np.ones((1, 2)), np.ones((2, 2)), None, alpha=2.0, beta=1.0)
    with pytest.raises(ValueError, match="finite"):
        lrp.zplus(np.array([[np.nan, 1.0]]), np.ones((2, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        lrp.zplus(np.ones(2), np.ones(2), np.ones(2))


# --- symbolic questions --------------------------------------------------------------------------

b1, b2 = sympy.symbols("a1 a2")               # no assumptions: matched by name
p1, p2 = sympy.symbols("a1 a2", positive=True)

CORRECT = {
    "a": [
        (a1, Max(a2 - a1, 0)),
        (P((a1, a1 >= a2), (a1, True)), P((0, a1 >= a2), (a2 - a1, True))),
        (Max(a1, a2) - Max(a2 - a1, 0), (a2 - a1) * H(a2 - a1)),
        (Min(a1, a2) + Max(a1 - a2, 0), (a2 - a1 + Abs(a1 - a2)) / 2),
        (b1, Max(b1, b2) - b1),
        ("a1", "Max(a1, a2) - a1"),
        (p1, P((p2 - p1, p2 > p1), (0, True))),
    ],
    "b": [
        (Max(a1 - a2, 0), a2),
        (P((a1 - a2, a1 >= a2), (0, True)), P((a2, a1 >= a2), (a2, True))),
        ((a1 - a2) * H(a1 - a2), Min(a1, a2) + Max(a2 - a1, 0)),
        (Max(a1, a2) - a2, b2),
        ((a1 - a2 + Abs(a1 - a2)) / 2, "a2"),
        (P((0, p2 > p1), (p1 - p2, True)), p2),
    ],
    "c": [
        (P((a1 - a2 / 2, a1 >= a2), (a1 / 2, True)), P((a2 / 2, a1 >= a2), (a2 - a1 / 2, True))),
        (a1 - Min(a1, a2) / 2, a2 - Min(a1, a2) / 2),
        (a1 / 2 + Max(a1 - a2, 0) / 2, a2 / 2 + Max(a2 - a1, 0) / 2),
        ((a1 - a2 / 2) * H(a1 - a2) + a1 / 2 * H(a2 - a1), a2 / 2 * H(a1 - a2) + (a2 - a1 / 2) * H(a2 - a1)),
        ((2 * a1 + Abs(a1 - a2) + a1 - a2) / 4 + (a1 - a2 + Abs(a1 - a2)) / 4 - (a1 - a2) / 4 - Abs(a1 - a2) / 4
         + a1 / 4 - a1 / 4, (a2 + Max(a2 - a1, 0)) / 2),
        ("a1 - Min(a1, a2)/2", "Max(a1, a2) - a1 + Min(a1, a2)/2"),
        (b1 / 2 + Max(b1, b2) / 2 - b2 / 2, b2 - Min(b1, b2) / 2),
    ],
}

GXI_CORRECT = [
    (P((a1, a1 >= a2), (0, True)), P((0, a1 >= a2), (a2, True))),
    (a1 * H(a1 - a2), a2 * H(a2 - a1)),
    (P((a1, a1 > a2), (0, True)), P((a2, a2 > a1), (0, True))),
    (Max(a1, a2) - Min(a1, a2) * P((1, a1 < a2), (0, True)) - a2 * P((1, a1 < a2), (0, True))
     + a2 * P((1, a1 < a2), (0, True)) - a2 * P((1, a1 < a2), (0, True)) + Min(a1, a2) * P((1, a1 < a2), (0, True))
     - Max(a1, a2) * P((1, a1 < a2), (0, True)) + a2 * P((1, a1 < a2), (0, True)), Max(a1, a2) - a1 * H(a1 - a2)),
    ("Piecewise((a1, a1 >= a2), (0, True))", "Piecewise((a2, a2 > a1), (0, True))"),
    (b1 * H(b1 - b2, 1), b2 * H(b2 - b1, 0)),
]


def _fails(fn, *args):
    with pytest.raises(CheckFailed) as err:
        fn(*args)
    return str(err.value)


@pytest.mark.parametrize("name,answer", [(n, a) for n in NAMES for a in CORRECT[n]])
def test_equivalent_correct_answers_are_accepted(name, answer):
    assert "✓" in getattr(q, f"network_{name}")(*answer)


@pytest.mark.parametrize("answer", GXI_CORRECT)
def test_equivalent_gradient_x_input_answers_are_accepted(answer):
    assert "✓" in q.gradient_x_input(*answer)


def test_pairs_and_dicts_are_accepted():
    assert "✓" in q.network_a((a1, Max(a2 - a1, 0)))
    assert "✓" in q.network_a([a1, Max(a2 - a1, 0)])
    assert "✓" in q.network_b({"R1": Max(a1 - a2, 0), "R2": a2})
    assert "✓" in q.network_c(sympy.Matrix([a1 - Min(a1, a2) / 2, a2 - Min(a1, a2) / 2]))


GXI_A = (P((a1, a1 >= a2), (0, True)), P((0, a1 >= a2), (a2, True)))

WRONG = {
    "a": [
        (GXI_A, ["where a2 > a1", "expected a1, yours gives 0", "gradient x input"]),
        ((Max(a2 - a1, 0), a1), ["swapped"]),
        ((Max(a1 - a2, 0), a2), ["answer for network (b)"]),
        ((a1, a2 - a1), ["R2 is wrong where a1 > a2", "expected 0, yours gives a2 - a1", "negative"]),
        ((a1, a2), ["conservation fails", "a1 + a2"]),
        ((a1 + a1 * Max(a2 - a1, 0) / (a1 + a2), a2 * Max(a2 - a1, 0) / (a1 + a2)), ["ignores negative weights"]),
        ((2 * a1, Max(a2 - a1, 0) * 2), ["2 times y"]),
        ((a1, Max(a2 - a1, 0) * 2), ["R2 is wrong where a2 > a1", "conservation fails", "sums to 2*a2 - a1"]),
    ],
    "b": [
        (GXI_A, ["where a1 > a2", "expected a1 - a2, yours gives a1", "gradient x input"]),
        ((a2, Max(a1 - a2, 0)), ["swapped"]),
        ((a1, Max(a2 - a1, 0)), ["answer for network (a)"]),
        ((a1 * H(a1 - a2), a2), ["gradient x input"]),
        ((P((a1 - a2, a1 > a2), (a2, True)), a2), ["R1 is wrong where a2 > a1", "2 times y"]),
        ((a1 - a2, a2), ["R1 is wrong where a2 > a1", "negative"]),
    ],
    "c": [
        (GXI_A, ["gradient x input"]),
        ((Max(a1 - a2, 0) / 2, Max(a2 - a1, 0) / 2), ["skip connections"]),
        ((a2 - Min(a1, a2) / 2, a1 - Min(a1, a2) / 2), ["swapped"]),
        ((2 * a1 - Min(a1, a2), 2 * a2 - Min(a1, a2)), ["2 times y"]),
        ((a1, Max(a2 - a1, 0)), ["answer for network (a)"]),
        ((P((a1 - a2 / 2, a1 > a2), (a1, True)), P((a2 / 2, a1 > a2), (a2 - a1 / 2, True))),
         ["R1 is wrong where a2 > a1", "expected a1/2, yours gives a1", "conservation"]),
    ],
}


@pytest.mark.parametrize("name,answer,needles", [(n, a, t) for n in NAMES for a, t in WRONG[n]])
def test_typical_wrong_answers_are_rejected_with_their_region_and_hint(name, answer, needles):
    text = _fails(getattr(q, f"network_{name}"), *answer)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


GXI_WRONG = [
    ((a1, Max(a2 - a1, 0)), ["LRP-alpha1-beta0 for network (a)"]),
    ((P((1, a1 >= a2), (0, True)), P((0, a1 >= a2), (1, True))), ["gradient dy/da_i alone"]),
    ((GXI_A[1], GXI_A[0]), ["swapped"]),
    ((a1 - Min(a1, a2) / 2, a2 - Min(a1, a2) / 2), ["network (c)"]),
    ((a1, a2), ["R1 is wrong where a2 > a1", "expected 0, yours gives a1"]),
    ((Max(a1, a2), 0), ["R1 is wrong where a2 > a1", "expected 0, yours gives a2"]),
]


@pytest.mark.parametrize("answer,needles", GXI_WRONG)
def test_wrong_gradient_x_input_answers_are_rejected(answer, needles):
    text = _fails(q.gradient_x_input, *answer)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


def test_diagonal_only_mistakes_are_named():
    # right off the diagonal, but Heaviside(0) = 1/2 loses half of R1 at a1 = a2 for network (a)
    text = _fails(q.network_a, a1 * H(a1 - a2) + a1 * H(a2 - a1, 0), Max(a2 - a1, 0))
    assert "R1 is wrong on the diagonal a1 = a2" in text and "Heaviside(0) is 1/2" in text
    text = _fails(q.network_a, P((a1, a1 > a2), (a1, a2 > a1), (0, True)), Max(a2 - a1, 0))
    assert "on the diagonal" in text and "continuous" in text


@pytest.mark.parametrize("answer,needle", [
    ((None, None), "no answer yet: `R1_a`"),
    ((a1, None), "no answer yet: `R2_a`"),
    ((a1, sympy.Symbol("x")), "uses x"),
    ((a1 >= a2, a2), "condition"),
    ((np.array([1.0]), a2), "numpy array"),
    (("a1 +* 2", a2), "could not parse"),
    ((object(), a2), "expected a SymPy expression"),
])
def test_malformed_answers_fail_readably(answer, needle):
    assert needle in _fails(q.network_a, *answer)


# --- the implemented rule ------------------------------------------------------------------------

def zplus_good(a, w, R):
    wp = np.maximum(w, 0)
    z = a @ wp
    s = np.where(z > 0, R / np.where(z > 0, z, 1.0), 0.0)
    return a * (s @ wp.T)


def zplus_w(a, w, R):
    z = a @ w
    return a * (np.where(z != 0, R / np.where(z != 0, z, 1.0), 0.0) @ w.T)


def zplus_no_a(a, w, R):
    wp = np.maximum(w, 0)
    z = a @ wp
    return np.where(z > 0, R / np.where(z > 0, z, 1.0), 0.0) @ wp.T


def zplus_nan(a, w, R):
    wp = np.maximum(w, 0)
    return a * ((R / (a @ wp)) @ wp.T)


def zplus_no_batch(a, w, R):
    wp = np.maximum(w, 0)
    z = a @ wp
    return a * (wp @ np.where(z > 0, R / np.where(z > 0, z, 1.0), 0.0))


def zplus_in_place(a, w, R):
    w[w < 0] = 0
    z = a @ w
    return a * (np.where(z > 0, R / np.where(z > 0, z, 1.0), 0.0) @ w.T)


def not_implemented(*args):
    raise NotImplementedError()


def test_correct_zplus_passes():
    assert "✓" in q.zplus(zplus_good)
    assert "✓" in q.zplus_edge_cases(zplus_good)


@pytest.mark.parametrize("fn,needles", [
    (zplus_w, ["positivity", "w instead of w+"]),
    (zplus_no_a, ["conservation", "multiply by a_j"]),
    (zplus_nan, ["NaN", "must give s_k = 0"]),
    (zplus_no_batch, ["shape (B, J)", "smallest"]),
    (lambda a, w, R: zplus_good(a, w, R).sum(-1), ["expected a.shape"]),
    (not_implemented, ["not implemented yet"]),
    (None, ["no answer yet"]),
    (3, ["expected a function"]),
])
def test_wrong_zplus_fails_with_a_counterexample(fn, needles):
    text = _fails(q.zplus, fn)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


def test_zplus_edge_cases_catch_in_place_and_nan():
    assert "in place" in _fails(q.zplus_edge_cases, zplus_in_place)
    assert "NaN" in _fails(q.zplus_edge_cases, zplus_nan)
    assert "not implemented" in _fails(q.zplus_edge_cases, not_implemented)


def _relevance(zp):
    def relevance(net, x, y):
        a = np.stack([x, y], -1)
        h = np.maximum(0, a @ net.w1)
        R_a = zp(a, net.w1, zp(h, net.w2, h @ net.w2))
        return R_a[..., 0], R_a[..., 1]
    return relevance


def test_relevance_check():
    good = _relevance(zplus_good)
    assert "✓" in q.relevance(good)
    assert "✓" in q.relevance_table(good)
    assert "gradient x input" in _fails(q.relevance, _relevance(zplus_w))
    assert "swapped" in _fails(q.relevance, lambda net, x, y: good(net, x, y)[::-1])
    assert "NaN" in _fails(q.relevance, _relevance(zplus_nan))
    assert "not implemented" in _fails(q.relevance, not_implemented)
    assert "no answer yet" in _fails(q.relevance, None)
    assert "network (a) at a1" in _fails(q.relevance_table, _relevance(zplus_w))


# --- multiple choice -----------------------------------------------------------------------------

def test_multiple_choice():
    for ok in ({"c"}, "c", ["c"], "(c)", {"C"}):
        assert "✓" in q.symmetric_wiring(ok)
    for ok in (set(), "none", [], ""):
        assert "✓" in q.winner_takes_all(ok)
    for ok in ({1, 3, 4, 5}, [5, 4, 3, 1], "1, 3, 4, 5", {"1", "3", "4", "5"}):
        assert "✓" in q.true_statements(ok)
    assert "not (a)" in _fails(q.symmetric_wiring, {"a", "c"})
    assert "missed one" in _fails(q.symmetric_wiring, set())
    assert "loser a1 still gets" in _fails(q.winner_takes_all, {"a"})
    assert "statement 2 is false" in _fails(q.true_statements, {1, 2, 3, 4, 5})
    assert "statement 5 is true" in _fails(q.true_statements, {1, 3, 4})
    assert "no statement 7" in _fails(q.true_statements, {7})
    assert "unknown option(s) d" in _fails(q.symmetric_wiring, {"d"})
    for check in (q.symmetric_wiring, q.winner_takes_all, q.true_statements):
        assert "no answer yet" in _fails(check, None)


# --- the notebook and its sample --------------------------------------------------------------

def test_notebook_does_not_import_what_the_student_writes_and_sample_is_consistent():
    nb = nbformat.read(str(REPO / "solutions" / "lrp_max" / "lrp_max.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in ("reference.lrp", "relevance_alpha1beta0", "analytic_relevances", "from reference import lrp"):
        assert forbidden not in code
    meta = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader for c in nb.cells if "nbgrader" in c.metadata}
    points = sum(m.get("points", 0) for m in meta.values() if m.get("grade"))
    assert 25 <= points <= 30
    sample = json.loads((REPO / "autograder" / "course" / "samples" / "lrp_max.json").read_text())
    assert all(meta[g].solution for g in sample["answers"])
    assert all(meta[g].grade and not meta[g].solution for g in sample["failing_tests"])


def test_in_place_zplus_fails_the_main_check_and_names_the_weights():
    """``w[w < 0] = 0`` would corrupt NETWORKS['a'] for every later cell: the property check says so."""
    text = _fails(q.zplus, zplus_in_place)
    assert "changed its argument `w` in place" in text, text


def test_relevance_through_an_in_place_zplus_leaves_the_networks_alone():
    from reference import maxnets

    before = maxnets.get_network("a").w1.copy()
    _fails(q.relevance, _relevance(zplus_in_place))
    assert np.array_equal(maxnets.get_network("a").w1, before)


def test_hint_for_every_question_without_its_answer():
    listed = q.hint()
    assert listed.count("\n") + 1 == 11 and "check.network_a" in listed
    for number in range(1, 12):
        text = q.hint(number)
        assert text.startswith("Hint for") and len(text) > 40
        for expected in ("Max(a1, a2)", "{'c'}", "{1, 3, 4, 5}", "a2 - a1"):
            assert expected not in text
    assert q.hint("zplus") == q.hint(q.zplus) == q.hint("z+ rule for a dense layer")


def test_relevance_hint_is_decided_on_probes():
    """On a1 = a2 or zeros (where Hypothesis shrinks to) gradient x input and swapped relevances coincide with
    other answers; the hint comes from fixed probes and names only the mistake made."""
    gxi = "gradient x input (= LRP-0)"
    text = _fails(q.relevance, _relevance(zplus_w))
    assert gxi in text and "swapped" not in text
    wrong = _fails(q.relevance, lambda net, x, y: tuple(2 * v for v in _relevance(zplus_good)(net, x, y)))
    assert gxi not in wrong and "swapped" not in wrong


# --- sample points across decades: an answer right only for small inputs is rejected -------------

@pytest.mark.parametrize("check, right", [
    (q.network_a, (a1, Max(a2 - a1, 0))),
    (q.network_b, (Max(a1 - a2, 0), a2)),
    (q.network_c, (a1 - Min(a1, a2) / 2, a2 - Min(a1, a2) / 2)),
])
def test_network_checks_reject_an_answer_right_only_below_ten(check, right):
    assert "✓" in check(*right)
    capped = tuple(P((r, (a1 < 10) & (a2 < 10)), (0, True)) for r in right)   # right for a1, a2 < 10 only
    assert "is wrong" in _fails(check, *capped)
    clipped = tuple(r.subs({a1: Min(a1, 20), a2: Min(a2, 20)}) for r in right)
    assert "is wrong" in _fails(check, *clipped)


def test_relevance_table_rejects_a_function_right_only_for_small_inputs():
    good = _relevance(zplus_good)
    capped = lambda net, x, y: good(net, np.minimum(x, 5.0), np.minimum(y, 5.0))  # noqa: E731
    assert "network (a) at a1" in _fails(q.relevance_table, capped)
    assert "network (a)" in _fails(q.relevance, capped)


def test_the_networks_module_states_no_answer():
    assert "R1 =" not in maxnets.__doc__ and not hasattr(maxnets, "relevance_alpha1beta0")
