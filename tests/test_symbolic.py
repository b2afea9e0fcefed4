"""autograder.symbolic: equivalent forms are accepted, wrong ones rejected with a reason."""
import numpy as np
import pytest
import sympy as sp

from autograder import symbolic
from autograder.feedback import CheckFailed
from autograder.questions import prototypes as P

n, d = sp.symbols("n d", integer=True, positive=True)
w, x, mu, c = (sp.MatrixSymbol(s, n, 1) for s in ("w", "x", "mu", "c"))
Sigma = sp.MatrixSymbol("Sigma", n, n)
A = sp.MatrixSymbol("A", n, d)
lam = sp.Symbol("lam", positive=True)
D = P.DOMAIN


def test_projection_forms_from_the_issue_are_equivalent():
    a = (w.T * x)[0, 0] * w / (w.T * w)[0, 0]
    b = w * w.T * x / (w.T * w)[0, 0]
    assert symbolic.equivalent(a, b, D)
    assert symbolic.equivalent(w * (x.T * w)[0, 0] / (w.T * w)[0, 0], b, D)
    assert not symbolic.equivalent(w * w.T * x, b, D)


def test_scalar_simplification_is_symbolic_first():
    a, b = sp.symbols("a b", positive=True)
    verdict = symbolic.compare(sp.log(a * b), sp.log(a) + sp.log(b))
    assert verdict.ok


@pytest.mark.parametrize("answer, fragment", [
    (None, "no answer"),
    ("w/(2*", "could not parse"),
    (np.ones(3), "numpy array"),
    (w.T / (2 * lam), "transpose"),
    (w / (2 * sp.Symbol("beta")), "beta"),
    (-w / (2 * lam), "wrong sign"),
    (3 * w / (2 * lam), "3 times"),
    (sp.Symbol("y"), "scalar"),
])
def test_rejections_say_why(answer, fragment):
    verdict = symbolic.compare(answer, w / (2 * lam), D, namespace={"w": w, "lam": lam})
    assert not verdict.ok
    assert fragment in verdict.reason


def test_string_answers_are_parsed_in_the_question_namespace():
    assert symbolic.equivalent("w/(2*lam)", w / (2 * lam), D, namespace={"w": w, "lam": lam})


def test_symbols_are_matched_by_name_not_by_assumptions():
    assert symbolic.equivalent(w / (2 * sp.Symbol("lam")), w / (2 * lam), D)


def test_counterexample_uses_the_smallest_size():
    verdict = symbolic.compare(mu + Sigma.I * w, mu + Sigma * w, D)
    assert "n=2" in verdict.reason and "expected" in verdict.reason


def test_spd_assumption_makes_transpose_irrelevant():
    assert symbolic.equivalent(mu + Sigma.T * w, mu + Sigma * w, D)
    # ... but not without it: a general matrix is not symmetric
    assert not symbolic.equivalent(mu + Sigma.T * w, mu + Sigma * w, symbolic.Domain())


def test_check_raises_checkfailed_with_the_hint():
    with pytest.raises(CheckFailed, match="factor 2"):
        symbolic.check("q", w / lam, w / (2 * lam), D, mistakes=[symbolic.Mistake(w / lam, "factor 2 lost")])


# --- at least five equivalent and five wrong forms per symbolic question --------------------

I = sp.Identity(n)
QUESTIONS = {
    P.l2_prototype: (
        [w / (2 * lam), w * (1 / (2 * lam)), (w / lam) / 2, sp.Rational(1, 2) * lam ** -1 * w, "w/(2*lam)",
         I * w / (2 * lam)],
        [w / lam, 2 * lam * w, w, -w / (2 * lam), w.T / (2 * lam), w / (2 * lam) + mu],
    ),
    P.gaussian_prototype: (
        [mu + Sigma * w, Sigma * w + mu, mu + Sigma.T * w, (Sigma * w + 2 * mu) - mu, Sigma * (w + Sigma.I * mu),
         "mu + Sigma*w"],
        [mu + Sigma.I * w, Sigma * w, mu - Sigma * w, mu + w, w.T * Sigma + mu.T, Sigma * mu + w],
    ),
    P.generator_code: (
        [A.T * w / (2 * lam), (w.T * A).T / (2 * lam), A.T * (w / lam) / 2, (A.T / (2 * lam)) * w,
         "A.T*w/(2*lam)"],
        [A.T * w / lam, A.T * w, -A.T * w / (2 * lam), w.T * A / (2 * lam), 2 * lam * A.T * w],
    ),
    P.generator_prototype: (
        [A * A.T * w / (2 * lam) + c, c + A * (A.T * w) / (2 * lam), (A * A.T / (2 * lam)) * w + c,
         A * (A.T * w / (2 * lam)) + c, c + (w.T * A * A.T).T / (2 * lam)],
        [A * A.T * w / (2 * lam), A * A.T * w / lam + c, A.T * w / (2 * lam), c - A * A.T * w / (2 * lam),
         A * A.T * w + c],
    ),
}


def coincide_l2_covariance(Sigma_answer):
    return P.coincide_with_l2(sp.ZeroMatrix(n, 1), Sigma_answer)


def coincide_generator_covariance(Sigma_answer):
    return P.coincide_with_generator(c, Sigma_answer)


QUESTIONS[coincide_l2_covariance] = (
    [I / (2 * lam), (2 * lam * I).I, I * (1 / lam) / 2, sp.Rational(1, 2) * lam ** -1 * I, I / lam - I / (2 * lam)],
    [I / lam, 2 * lam * I, I, I / (2 * lam) + w * w.T, -I / (2 * lam), lam * I / 2],
)
QUESTIONS[coincide_generator_covariance] = (
    [A * A.T / (2 * lam), (A * A.T).T / (2 * lam), A * (A.T / (2 * lam)), (A / lam) * A.T / 2,
     A * A.T / lam - A * A.T / (2 * lam)],
    [A.T * A / (2 * lam), A * A.T, A * A.T / lam, A * A.T / (2 * lam) + I, -A * A.T / (2 * lam)],
)


@pytest.mark.parametrize("check", list(QUESTIONS), ids=lambda f: f.__name__)
def test_question_accepts_equivalent_forms(check, capsys):
    right, _ = QUESTIONS[check]
    assert len(right) >= 5
    for answer in right:
        if isinstance(answer, str):
            answer = sp.parse_expr(answer, local_dict={"w": w, "mu": mu, "Sigma": Sigma, "A": A, "c": c, "lam": lam})
        check(answer)


@pytest.mark.parametrize("check", list(QUESTIONS), ids=lambda f: f.__name__)
def test_question_rejects_wrong_forms(check):
    _, wrong = QUESTIONS[check]
    assert len(wrong) >= 5
    for answer in wrong:
        with pytest.raises(CheckFailed):
            check(answer)


def test_hints_are_targeted():
    with pytest.raises(CheckFailed, match="factor 2"):
        P.l2_prototype(w / lam)
    with pytest.raises(CheckFailed, match="Sigma\\^\\{-1\\}"):
        P.gaussian_prototype(mu + Sigma.I * w)
    with pytest.raises(CheckFailed, match="adds c"):
        P.generator_prototype(A * A.T * w / (2 * lam))
    with pytest.raises(CheckFailed, match="A A\\^T"):
        P.coincide_with_generator(c, A.T * A / (2 * lam))


def test_coincidence_questions():
    P.coincide_with_l2(sp.ZeroMatrix(n, 1), I / (2 * lam))
    P.coincide_with_l2(sp.ZeroMatrix(n, 1), (2 * lam * I).I)
    P.coincide_with_generator(c, A * A.T / (2 * lam))
    with pytest.raises(CheckFailed, match="factor 2"):
        P.coincide_with_l2(sp.ZeroMatrix(n, 1), I / lam)
    with pytest.raises(CheckFailed, match="mean"):
        P.coincide_with_l2(c, I / (2 * lam))
    with pytest.raises(CheckFailed, match="no answer"):
        P.coincide_with_generator(None, None)


# --- sampling wide enough: magnitudes, dimensions, both branches of a piecewise answer ------------

def test_an_answer_right_only_for_small_values_is_rejected():
    t = sp.Symbol("t", positive=True)
    assert not symbolic.compare(sp.Min(t, 10), t, symbolic.Domain(seed=0)).ok
    # the control: with order-one draws only, the same answer slips through
    assert symbolic.compare(sp.Min(t, 10), t, symbolic.Domain(seed=0, wide=0)).ok


def test_an_answer_right_only_for_small_dimensions_is_rejected():
    ones = sp.OneMatrix(n, 1)
    expected = (ones.T * ones)[0, 0]   # = n
    assert not symbolic.compare(sp.Min(n, 4) * sp.Integer(1) + 0 * expected, expected, D).ok
    assert symbolic.compare(sp.Min(n, 4) + 0 * expected, expected, symbolic.Domain(dims=D.dims, wide=0)).ok


def test_every_branch_of_a_piecewise_answer_is_visited():
    t = sp.Symbol("t", positive=True)
    expected = sp.Piecewise((t, t > 2.9), (0, True))   # rare for order-one draws
    assert not symbolic.compare(sp.Integer(0), expected, symbolic.Domain(seed=5)).ok
    assert symbolic.compare(sp.Integer(0), expected, symbolic.Domain(seed=5, wide=0, cover=0)).ok
    assert symbolic.compare(sp.Max(t - 2.9, 0) / (t - 2.9) * t, expected, symbolic.Domain(seed=5)).ok


def test_a_reference_that_overflows_decides_nothing():
    t = sp.Symbol("t", positive=True)
    assert symbolic.compare(sp.exp(t) ** 40 * sp.exp(t) ** 40, sp.exp(80 * t), symbolic.Domain(seed=1)).ok


def test_a_students_own_dimension_symbol_is_the_questions():
    n_own = sp.Symbol("n")   # declared without the notebook's integer/positive assumptions
    w_own = sp.MatrixSymbol("w", n_own, 1)
    assert symbolic.compare(w_own / (2 * lam), w / (2 * lam), D).ok
    verdict = symbolic.compare(w_own.T / (2 * lam), w / (2 * lam), D)
    assert not verdict.ok and "(n, 1)" in verdict.reason and "(1, n)" in verdict.reason
