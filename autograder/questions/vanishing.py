"""Checks for the ``vanishing`` assignment (NUS CS3244 tutorial 9 Q1(b), MIT recitation on RNNs).

Vanilla RNN ``h_k = g(W_xh^T x_k + W_hh^T h_{k-1})`` (W_xh (D, H), W_hh (H, H), xs (T, D)); the
Jacobian chain ``dh_T/dh_t = prod_{k=T..t+1} diag(g'(a_k)) W_hh^T`` in numerator layout.

- ``jacobian_chain(W_xh, W_hh, xs, h0, t, activation)`` is checked against torch autograd on
  Hypothesis-generated small RNNs; the feedback shows the shrunk counterexample and recognises the
  typical mistakes (no g', W_hh for W_hh^T, the product in the wrong order, a factor too many or too
  few, g' taken at h instead of a);
- the bound ``(gamma sigma)^n`` is a SymPy expression in ``gamma, sigma, n`` (engine check);
- the per-step factors and fitted slopes on ``EXPERIMENT_NETWORK`` are numbers within tolerance;
- ``clip_by_global_norm(grads, max_norm)`` is checked by properties and against
  ``torch.nn.utils.clip_grad_norm_``;
- the scalar LSTM's ``dc_t/dc_{t-1}`` (direct path and all paths) are SymPy expressions, compared on
  random values (see :func:`_scalar_verdict`: ``sympy.simplify`` of a wrong answer of this size can
  run for minutes, so this check skips the engine's symbolic stage);
- two multiple-choice questions.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy
from hypothesis import strategies as st

from reference import vanishing as ref

from .. import symbolic
from ..choices import Choices
from ..feedback import CheckFailed, passed
from ..properties import Violation, arrays, as_array, check_properties, decimals
from ..question import Diagnosis, call, hints_of, multiple_choice, number, question, unwrap

M = symbolic.Mistake


# === 1. the Jacobian chain ======================================================================

def _variants(W_xh, W_hh, xs, h0, t, activation):
    """Typical wrong chains, each with the hint it deserves (computed on the same example)."""
    g, dg = ref.activation_functions(activation)
    _, pre = ref.rnn_forward(W_xh, W_hh, xs, h0, activation)
    hs = g(pre)
    T, H = len(xs), W_hh.shape[0]

    def chain(factor, steps=range(t + 1, T + 1), later_left=True):
        J = np.eye(H)
        for k in steps:
            J = factor(k) @ J if later_left else J @ factor(k)
        return J

    right = lambda k: dg(pre[k - 1])[:, None] * W_hh.T  # noqa: E731
    return [
        (chain(lambda k: W_hh.T), "you left out g'(a_k): each factor is diag(g'(a_k)) W_hh^T, the "
                                  "activation's derivative at the pre-activation of step k"),
        (chain(lambda k: dg(pre[k - 1])[:, None] * W_hh), "orientation: with a_k = W_hh^T h_{k-1}, "
                                                          "d a_k[i] / d h_{k-1}[j] = W_hh[j, i], so the factor "
                                                          "is diag(g'(a_k)) W_hh^T, not W_hh"),
        (chain(lambda k: W_hh * dg(pre[k - 1])[None, :]), "you built W_hh diag(g'(a_k)), the transpose of the "
                                                          "factor: it is diag(g'(a_k)) W_hh^T"),
        (chain(right, later_left=False), "the product is in the wrong order: dh_T/dh_t = J_T J_{T-1} ... "
                                         "J_{t+1}, later steps on the left (J = J_k @ J when k runs forward)"),
        (chain(lambda k: dg(hs[k - 1])[:, None] * W_hh.T), "g' is taken at h_k = g(a_k); it belongs at the "
                                                           "pre-activation a_k (for tanh: 1 - tanh(a_k)^2 = "
                                                           "1 - h_k^2, not 1 - tanh(h_k)^2)"),
        (chain(right, steps=range(max(t, 1), T + 1)), "one factor too many: the chain from h_t to h_T has "
                                                      "T - t factors, k = t+1..T"),
        (chain(right, steps=range(t + 2, T + 1)), "one factor too few: the chain from h_t to h_T has T - t "
                                                  "factors, k = t+1..T"),
        (chain(right, steps=range(1, T + 1)), "you multiplied all T factors: start at step t + 1 "
                                              "(dh_T/dh_t only involves the steps after t)"),
    ]


def _jacobian_probes():
    """Fixed generic RNNs (H = 3, T = 5, t = 2, h0 != 0), one per activation, where the variants all differ."""
    out = []
    for k, activation in enumerate(ref.ACTIVATIONS):
        net = ref.random_rnn(hidden=3, inputs=2, steps=5, rho=0.9, orthogonal=False, seed=20 + k)
        out.append((net["W_xh"], net["W_hh"], net["xs"], np.array([0.3, -0.4, 0.2]), 2, activation))
    return out


def _jacobian_mistakes():
    whys = [why for _, why in _variants(*_jacobian_probes()[0])]
    return [(why, lambda *args, i=i: _variants(*args)[i][0]) for i, why in enumerate(whys)]


def _rnn_examples(thorough: bool):
    top = 4 if thorough else 3

    @functools.lru_cache(maxsize=None)  # one strategy per shape: Hypothesis validates each new one
    def build(dims):
        H, D, T = dims
        return st.fixed_dictionaries({
            "W_xh": arrays((D, H), -2.0, 2.0), "W_hh": arrays((H, H), -2.0, 2.0),
            "xs": arrays((T, D), -2.0, 2.0), "h0": arrays((H,), -1.0, 1.0),
            "t": st.integers(0, T), "activation": st.sampled_from(ref.ACTIVATIONS)})

    def no_relu_kink(ex):  # relu'(0) is a convention; keep every |a_k| away from 0
        if ex["activation"] != "relu":
            return True
        _, pre = ref.rnn_forward(ex["W_xh"], ex["W_hh"], ex["xs"], ex["h0"], "relu")
        return bool(np.all(np.abs(pre) > 0.05))

    dims = st.tuples(st.integers(1, top), st.integers(1, 2), st.integers(1, top + 1))
    return dims.flatmap(build).filter(no_relu_kink)


@question("jacobian_chain(W_xh, W_hh, xs, h0, t, activation)", answers="jacobian_chain",
          hint="run the forward pass keeping the pre-activations a_k, then multiply the factors diag(g'(a_k)) W_hh^T for k = t+1..T, later steps on the left")
def jacobian_chain(ask, fn, thorough: bool = False):
    """``fn(W_xh, W_hh, xs, h0, t, activation) -> dh_T/dh_t`` (H, H), checked against torch autograd."""
    q = ask.title
    ask.function(fn, "jacobian_chain")
    diagnosis = Diagnosis(fn, _jacobian_mistakes(), _jacobian_probes())

    def matches_autograd(W_xh, W_hh, xs, h0, t, activation):
        got = as_array(call(fn, W_xh, W_hh, xs, h0, t, activation, name="jacobian_chain"), "dh_T/dh_t")
        H = W_hh.shape[0]
        want = ref.jacobian_chain_autograd(W_xh, W_hh, xs, t, h0, activation)
        if got.shape != (H, H):
            raise Violation(f"expected an (H, H) = ({H}, {H}) matrix, got shape {got.shape}", expected=want, got=got)
        if not np.all(np.isfinite(got)):
            raise Violation("the result contains NaN or infinity", expected=want, got=got)
        if np.allclose(got, want, rtol=1e-3, atol=1e-3):  # a visible difference (at 4 decimals) fails
            return
        hint = diagnosis.hint() or "it differs from torch autograd's dh_T/dh_t"   # decided on fixed probes
        if t == len(xs) and hint.startswith("it differs"):
            hint = "with t = T there are no factors at all: dh_T/dh_T is the identity"
        raise Violation(f"dh_T/dh_t is wrong (T = len(xs) = {len(xs)}): {hint}", expected=want, got=got)

    return check_properties(q, {"matches torch autograd": matches_autograd}, _rnn_examples(thorough),
                            max_examples=80 if thorough else 40)


# === 2. the bound ===============================================================================

gamma, sigma = sympy.symbols("gamma sigma", positive=True)
n = sympy.Symbol("n", integer=True, nonnegative=True)
BOUND_DOMAIN = symbolic.Domain(kinds={"gamma": "positive", "sigma": "positive", "n": "positive"}, trials=6, seed=3)
BOUND = (gamma * sigma) ** n


def _bound_mistakes():
    return [
        M(gamma * sigma, "that is the bound for one step; the chain over n = T - t steps has n such factors"),
        M(n * gamma * sigma, "the factors multiply, they do not add up: n factors each at most gamma sigma give "
                             "(gamma sigma)^n"),
        M(sigma ** n, "each factor is diag(g'(a_k)) W_hh^T: ||diag(g'(a_k))|| <= gamma enters every step too"),
        M(gamma ** n, "each factor also contains W_hh^T, whose norm is sigma = sigma_max(W_hh)"),
        M(gamma * sigma ** n, "gamma enters once per step, like sigma: (gamma sigma)^n"),
        M(sigma * gamma ** n, "sigma enters once per step, like gamma: (gamma sigma)^n"),
        M((gamma + sigma) ** n, "the norm of a product is bounded by the *product* of the norms: "
                                "||diag(g') W_hh^T|| <= gamma sigma, not gamma + sigma"),
        M((gamma * sigma) ** (n + 1), "one factor too many: from h_t to h_T there are n = T - t factors"),
        M((gamma * sigma) ** (n - 1), "one factor too few: from h_t to h_T there are n = T - t factors"),
        M((sigma / gamma) ** n, "gamma bounds |g'| from above and multiplies: (gamma sigma)^n"),
        M((gamma * sigma ** 2) ** n, "||W_hh^T||_2 = sigma_max(W_hh) = sigma, not sigma^2"),
    ]


@question("the bound on ||dh_T/dh_t||", answers="bound",
          hint="bound the norm of one factor diag(g'(a_k)) W_hh^T by the product of the norms, then multiply over the steps")
def bound(ask, answer):
    q = ask.title
    ours = {"gamma": gamma, "sigma": sigma, "n": n}
    answer = unwrap(answer, "bound", scalar=True, namespace=ours)
    if isinstance(answer, sympy.Basic):
        answer = answer.xreplace({s: ours[s.name] for s in answer.free_symbols if s.name in ours})
    return symbolic.check(q, answer, BOUND, BOUND_DOMAIN, mistakes=_bound_mistakes(), allowed={"gamma", "sigma", "n"})


# === 3. predicted and fitted rates on one network ===============================================

EXPERIMENT = {"hidden": 16, "inputs": 4, "steps": 30, "rho": 0.8, "orthogonal": False, "seed": 0}


def _read_only(arrays: dict) -> dict:
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


# The network of questions 3 and 4: ``dict(W_xh (4, 16), W_hh (16, 16), xs (30, 4), h0 (16,))``, data the
# notebook reads (so that the module can be judged at the grader), read-only so that no cell changes it.
# ``W_hh`` is a (non-normal) Gaussian matrix: its spectral radius is below 1, its largest singular value above 1.
EXPERIMENT_NETWORK = _read_only(ref.random_rnn(**EXPERIMENT))


def _close(a, b, rtol, atol=0.0):
    return abs(a - b) <= atol + rtol * abs(b)


@question("predicted factor per step", answers="rate_tanh",
          hint="the factor per step is the bound of |g'| times the largest singular value of W_hh")
def predicted_rates(ask, rate_tanh, rate_sigmoid):
    q = ask.title
    values = {"rate_tanh": number(rate_tanh, "rate_tanh"), "rate_sigmoid": number(rate_sigmoid, "rate_sigmoid")}
    W = EXPERIMENT_NETWORK["W_hh"]
    s_max, radius = ref.sigma_max(W), ref.spectral_radius(W)
    frob = float(np.linalg.norm(W))
    problems = []
    for act, name in (("tanh", "rate_tanh"), ("sigmoid", "rate_sigmoid")):
        got, gam = values[name], ref.DERIVATIVE_BOUND[act]
        want = gam * s_max
        if _close(got, want, 1e-3):
            continue
        other = 1.25 - gam  # the other activation's gamma: 1 <-> 1/4
        hints = [
            (gam * radius, "that uses the spectral radius max|lambda(W_hh)|; the bound needs the largest "
                           "singular value sigma_max(W_hh) = np.linalg.norm(W_hh, 2) (they differ for a non-normal "
                           "matrix, and only sigma_max bounds ||W_hh^T v|| / ||v||)"),
            (gam * frob, "np.linalg.norm(W_hh) is the Frobenius norm; the bound uses the spectral norm "
                         "np.linalg.norm(W_hh, 2) = sigma_max"),
            (other * s_max, f"gamma is the bound of the derivative of {act}: "
                            f"{'1 for tanh' if act == 'tanh' else '1/4 for the sigmoid, whose slope is at most 1/4 (at 0)'}"),
            (np.log(want), "that is the log of the factor; the question asks for the factor gamma * sigma_max"),
            (s_max, "multiply sigma_max by gamma, the bound of the activation's derivative"),
            (gam * s_max ** 2, "sigma_max(W_hh) is the largest singular value itself, not its square"),
        ]
        hint = next((h for v, h in hints if _close(got, v, 1e-3)), f"expected gamma * sigma_max(W_hh) for {act}")
        problems.append(f"{name} = {got:.4g} is not right: {hint}")
    if problems:
        raise CheckFailed(q, "\n".join(problems))
    return passed(q, f"tanh {values['rate_tanh']:.3f}, sigmoid {values['rate_sigmoid']:.3f} per step")


def _reference_slopes():
    net = EXPERIMENT_NETWORK
    out = {}
    for act in ("tanh", "sigmoid"):
        spectral = ref.jacobian_norms(net["W_xh"], net["W_hh"], net["xs"], net["h0"], act)
        frob = ref.jacobian_norms(net["W_xh"], net["W_hh"], net["xs"], net["h0"], act, ord="fro")
        out[act] = (ref.fit_log_slope(spectral), ref.fit_log_slope(frob),
                    ref.fit_log_slope(spectral[1:], np.arange(1, spectral.size)))
    return out


SLOPE_TOLERANCE = 5e-3


@question("fitted slope of log ||dh_T/dh_t||", answers="slope_tanh",
          hint="compute ||dh_T/dh_(T-n)||_2 for every distance n with your jacobian_chain and fit a line to the logarithms")
def fitted_slopes(ask, slope_tanh, slope_sigmoid):
    q = ask.title
    values = {"tanh": number(slope_tanh, "slope_tanh"), "sigmoid": number(slope_sigmoid, "slope_sigmoid")}
    slopes = _reference_slopes()
    problems = []
    for act, got in values.items():
        want, frob, no_zero = slopes[act]
        if abs(got - want) <= SLOPE_TOLERANCE:
            continue
        other = slopes["sigmoid" if act == "tanh" else "tanh"][0]
        hints = [
            (-want, "the sign is flipped: fit log-norm against the distance n = T - t (the norm shrinks as n "
                    "grows), not against t"),
            (want / np.log(10), "that is a slope of log10; use the natural logarithm np.log, so that exp(slope) "
                                "is the factor per step"),
            (frob, "that fit uses the Frobenius norm (np.linalg.norm(J)); use the spectral norm "
                   "np.linalg.norm(J, 2), the norm of the bound"),
            (no_zero, "use every distance n = 0..T (n = 0 is dh_T/dh_T = I, norm 1)"),
            (other, "that is the slope of the other activation: are the two swapped?"),
        ]
        hint = next((h for v, h in hints if abs(got - v) <= SLOPE_TOLERANCE),
                    "compute ||dh_T/dh_{T-n}||_2 for n = 0..T with your jacobian_chain, then "
                    "np.polyfit(n, np.log(norms), 1)[0]")
        problems.append(f"slope_{act} = {got:.4f} is off by more than {SLOPE_TOLERANCE}: {hint}")
    if problems:
        raise CheckFailed(q, "\n".join(problems))
    return passed(q, f"tanh {values['tanh']:+.3f}, sigmoid {values['sigmoid']:+.3f} per step")


@question("the fitted decay respects the bound", answers="slope_tanh",
          hint="compare exp(slope) with the predicted factor per step")
def fit_below_bound(ask, slope_tanh, slope_sigmoid, rate_tanh, rate_sigmoid):
    """Hidden-test companion: ``exp(slope) <= gamma sigma_max`` for both activations."""
    q = ask.title
    pairs = {"tanh": (number(slope_tanh, "slope_tanh"), number(rate_tanh, "rate_tanh")),
             "sigmoid": (number(slope_sigmoid, "slope_sigmoid"), number(rate_sigmoid, "rate_sigmoid"))}
    for act, (slope, rate) in pairs.items():
        if rate <= 0:
            raise CheckFailed(q, f"rate_{act} = {rate} should be a positive factor gamma * sigma_max")
        if np.exp(slope) > rate * (1 + 1e-6):
            raise CheckFailed(q, f"{act}: the fitted factor exp(slope) = {np.exp(slope):.4f} exceeds the bound's "
                                 f"{rate:.4f}; the bound holds for every step, so one of them is wrong")
    return passed(q)


# === 4. clipping by global norm =================================================================

@functools.lru_cache(maxsize=None)
def _grad_array(shape):
    return arrays(shape, -5.0, 5.0)


def _grad_lists(thorough: bool):
    shape = st.one_of(st.just(()), st.tuples(st.integers(1, 3)), st.tuples(st.integers(1, 2), st.integers(1, 3)))
    grads = st.lists(shape.flatmap(_grad_array), min_size=1, max_size=4 if thorough else 3)
    return st.fixed_dictionaries({"grads": grads, "max_norm": decimals(0.1, 5.0)})


def _torch_clip(grads, max_norm):
    import torch

    params = [torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.as_tensor(np.asarray(g, dtype=float), dtype=torch.float64).clone()
    total = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    return [p.grad.numpy() for p in params], total


@question("clip_by_global_norm(grads, max_norm)", answers="clip_by_global_norm",
          hint="the global norm is taken over all gradients together; scale every gradient by the same factor min(1, max_norm / norm)")
def clip_by_global_norm(ask, fn, thorough: bool = False):
    """``fn(grads, max_norm) -> list of arrays``: ``min(1, max_norm / ||grads||)`` times every gradient."""
    q = ask.title
    ask.function(fn, "clip_by_global_norm")

    def clipped(grads, max_norm):
        out = call(fn, grads, max_norm, name="clip_by_global_norm")
        if isinstance(out, tuple) and len(out) == 2 and not isinstance(out[0], np.ndarray):
            out = out[0]  # (clipped, total_norm), as the reference returns
        if not isinstance(out, (list, tuple)):
            raise Violation(f"expected a list of arrays (one per gradient), got {type(out).__name__}")
        if len(out) != len(grads):
            raise Violation(f"expected {len(grads)} arrays (one per gradient), got {len(out)}")
        arrs = [as_array(o, f"clipped gradient {i}") for i, o in enumerate(out)]
        for i, (a, g) in enumerate(zip(arrs, grads)):
            if a.shape != g.shape:
                raise Violation(f"clipped gradient {i} has shape {a.shape}, its gradient has shape {g.shape}")
            if not np.all(np.isfinite(a)):
                hint = " (all gradients are 0 here: guard the division by the norm)" if not any(
                    np.any(x) for x in grads) else ""
                raise Violation(f"clipped gradient {i} contains NaN or infinity{hint}", got=a)
        return arrs

    def norm(arrs):
        return float(np.sqrt(sum(float(np.sum(np.asarray(a) ** 2)) for a in arrs)))

    def shapes_and_values(grads, max_norm):
        clipped(grads, max_norm)

    def direction_kept(grads, max_norm):
        out = clipped(grads, max_norm)
        v, w = np.concatenate([g.ravel() for g in grads]), np.concatenate([o.ravel() for o in out])
        if not np.any(v):
            if np.any(w):
                raise Violation("zero gradients must stay zero", got=w)
            return
        c = float(v @ w / (v @ v))
        if c < -1e-12 or not np.allclose(w, c * v, rtol=1e-7, atol=1e-9):
            raise Violation("the clipped gradients are not one common multiple of the gradients: clipping by the "
                            "*global* norm scales every gradient by the same factor (clipping each tensor, or "
                            "each entry, separately turns the direction)", expected=np.round(c, 6) * v, got=w)

    def norm_is_min(grads, max_norm):
        out = clipped(grads, max_norm)
        before, after = norm(grads), norm(out)
        want = min(before, max_norm)
        if abs(after - want) > 1e-5 * (1 + want):
            if before < max_norm and abs(after - max_norm) < 1e-5 * (1 + max_norm):
                hint = " The norm was already below max_norm: then the gradients are left as they are " \
                       "(the factor is min(1, max_norm / norm))."
            elif abs(after - before ** 2 / max_norm) < 1e-5 * (1 + want) or \
                    abs(after - max_norm ** 2 / max(before, 1e-12)) < 1e-5 * (1 + want):
                hint = " The factor is max_norm / norm, not norm / max_norm."
            else:
                hint = " The global norm is sqrt(sum over all gradients of their squared entries)."
            raise Violation(f"after clipping the global norm is {after:.6g}; expected min(norm, max_norm) = "
                            f"min({before:.6g}, {max_norm:.6g}) = {want:.6g}.{hint}", expected=want, got=after)

    def agrees_with_torch(grads, max_norm):
        out = clipped(grads, max_norm)
        want, _ = _torch_clip(grads, max_norm)
        for i, (a, b) in enumerate(zip(out, want)):
            if not np.allclose(a, b, rtol=1e-4, atol=1e-7):
                raise Violation(f"clipped gradient {i} differs from torch.nn.utils.clip_grad_norm_", expected=b, got=a)

    props = {"returns one array per gradient, same shapes, finite": shapes_and_values,
             "the direction is kept": direction_kept,
             "the norm becomes min(norm, max_norm)": norm_is_min,
             "agrees with torch.nn.utils.clip_grad_norm_": agrees_with_torch}
    return check_properties(q, props, _grad_lists(thorough), max_examples=80 if thorough else 40)


# === 5. the LSTM's cell path ====================================================================

LSTM = ref.scalar_lstm_cell_symbolic()
LSTM_NAMES = ("c_prev", "o_prev", "x", "w_f", "u_f", "b_f", "w_i", "u_i", "b_i", "w_g", "u_g", "b_g")
LSTM_SYMBOLS = [LSTM[name] for name in LSTM_NAMES]


def _lstm_points(count: int = 12, seed: int = 7):
    """Values of the LSTM's symbols: the first half with weights and inputs ~ N(0, 1); the second across
    decades: c_prev and x of size 0.01 to 100 (signs random), the input weights u_X scaled by 1/|x| so that
    the gates are not all saturated, the recurrent weights w_X from 0.01 to 10. o_prev in (0, 1)."""
    rng = np.random.default_rng(seed)
    points = []
    for k in range(count):
        p = {name: float(np.round(rng.normal(), 3)) for name in LSTM_NAMES}
        p["o_prev"] = float(np.round(rng.uniform(0.05, 0.95), 3))
        if k >= count // 2:
            sign = lambda: float(rng.choice([-1.0, 1.0]))  # noqa: E731
            p["c_prev"], p["x"] = (sign() * float(10.0 ** rng.uniform(-2, 2)) for _ in range(2))
            for X in "fig":
                p[f"u_{X}"] = sign() * float(rng.uniform(0.3, 1.5)) / abs(p["x"])
                p[f"w_{X}"] = sign() * float(10.0 ** rng.uniform(-2, 1))
        points.append(p)
    return points


def _scalar_verdict(question, name, answer, expected, mistakes):
    """Compare a scalar SymPy answer in the LSTM's symbols with ``expected`` on random values.

    The engine's ``symbolic.check`` first runs ``sympy.simplify(answer - expected)``, which on a wrong
    answer with nested exp/tanh takes minutes; a numeric identity test on 8 random points is decisive
    here (the expressions are analytic) and takes milliseconds.
    """
    answer = unwrap(answer, name, scalar=True, namespace={s.name: s for s in LSTM_SYMBOLS})
    if symbolic.is_matrix(answer):
        raise CheckFailed(question, f"`{name}` is a matrix of shape {tuple(answer.shape)}; expected a scalar expression")
    extra = sorted({s.name for s in answer.free_symbols} - set(LSTM_NAMES))
    if extra:
        raise CheckFailed(question, f"your answer uses {', '.join(extra)}, which the question does not define; "
                                    f"expected an expression in {', '.join(LSTM_NAMES)}")
    if answer.has(sympy.Derivative, sympy.Subs) or answer.atoms(sympy.core.function.AppliedUndef):
        raise CheckFailed(question, "your answer still contains an unevaluated derivative or an undefined "
                                    "function; use the notebook's expressions (c_t, f_t, ...) and sp.diff")
    by_name = {s.name: s for s in answer.free_symbols}
    answer = answer.xreplace({by_name[k]: LSTM[k] for k in by_name})

    def evaluate(expr, point):
        value = complex(sympy.N(expr.xreplace({LSTM[k]: sympy.Float(v) for k, v in point.items()})))
        return value.real if abs(value.imag) < 1e-12 else value

    def same(a, b, points):
        try:
            return all(np.isclose(evaluate(a, p), evaluate(b, p), rtol=1e-8, atol=1e-10) for p in points)
        except (TypeError, ValueError):
            return False

    points = _lstm_points()
    for p in points:
        try:
            got, want = evaluate(answer, p), evaluate(expected, p)
        except (TypeError, ValueError) as err:
            raise CheckFailed(question, f"your expression cannot be evaluated at numbers: {err}") from None
        if not np.isclose(got, want, rtol=1e-8, atol=1e-10):
            for m in mistakes:
                if same(answer, m.expr, points[:4]):
                    raise CheckFailed(question, m.hint)
            values = ", ".join(f"{k} = {v}" for k, v in p.items())
            raise CheckFailed(question, f"not equal to the expected expression. Counterexample:\n  {values}\n"
                                        f"  expected {want:.6g}\n  your answer gives {got:.6g}")
    return passed(question)


def _lstm_terms(dh=None):
    """The MIT recitation's terms A_t, B_t, C_t, D_t of dc_t/dc_{t-1} for the scalar cell, with
    ``dh = dh_{t-1}/dc_{t-1}`` (default ``o_{t-1} (1 - tanh(c_{t-1})^2)``)."""
    L = LSTM
    c_prev, f, i, g = L["c_prev"], L["f_t"], L["i_t"], L["g_t"]
    dh = L["o_prev"] * (1 - sympy.tanh(c_prev) ** 2) if dh is None else dh
    return {"A": c_prev * f * (1 - f) * L["w_f"] * dh, "B": f, "C": g * i * (1 - i) * L["w_i"] * dh,
            "D": i * (1 - g ** 2) * L["w_g"] * dh}


@question("the direct path dc_t/dc_{t-1}", answers="dc_direct",
          hint="differentiate c_t = f_t c_(t-1) + i_t g_t with respect to c_(t-1), holding the gates fixed")
def lstm_direct(ask, dc_direct):
    q = ask.title
    f, c_prev = LSTM["f_t"], LSTM["c_prev"]
    return _scalar_verdict(q, "dc_direct", dc_direct, LSTM["dc_direct"], [
        M(sympy.Integer(1), "the old cell enters c_t = f_t c_{t-1} + ... multiplied by the forget gate: the "
                            "direct path is f_t, not 1 (it is 1 only when the forget gate is fully open)"),
        M(LSTM["dc_full"], "that is the full derivative, with the paths through h_{t-1} = o_{t-1} tanh(c_{t-1}); "
                           "the direct path holds the gates fixed"),
        M(c_prev, "differentiate f_t c_{t-1} with respect to c_{t-1} (gates fixed): the result is f_t"),
        M(f * c_prev, "that is the term f_t c_{t-1} itself; its derivative in c_{t-1} is f_t"),
        M(f + LSTM["i_t"] * LSTM["g_t"], "the input term i_t g_t does not contain c_{t-1} when the gates are fixed"),
        M(f * (1 - f), "that is sigma'(z_f), the derivative of the forget gate itself; the direct path "
                                 "is the gate's value f_t"),
    ])


@question("dc_t/dc_{t-1} along all paths", answers="dc_full",
          hint="h_(t-1) = o_(t-1) tanh(c_(t-1)) feeds every gate: differentiate through f_t, i_t and g_t too (sp.diff of the notebook's c_t)")
def lstm_full(ask, dc_full):
    q = ask.title
    A, B, C, D = (_lstm_terms()[k] for k in "ABCD")
    no_tanh_prime = sum(_lstm_terms(LSTM["o_prev"])[k] for k in "ACD")
    return _scalar_verdict(q, "dc_full", dc_full, LSTM["dc_full"], [
        M(B, "that is the direct path B_t = f_t only; h_{t-1} = o_{t-1} tanh(c_{t-1}) feeds all three gates, "
             "which adds A_t (forget gate), C_t (input gate) and D_t (candidate)"),
        M(B + C + D, "the path through the forget gate is missing: f_t multiplies c_{t-1}, and f_t itself depends "
                     "on c_{t-1} through h_{t-1}: A_t = c_{t-1} sigma'(z_f) w_f dh_{t-1}/dc_{t-1}"),
        M(A + B + D, "the path through the input gate i_t is missing (C_t = g_t sigma'(z_i) w_i dh_{t-1}/dc_{t-1})"),
        M(A + B + C, "the path through the candidate g_t is missing (D_t = i_t tanh'(z_g) w_g dh_{t-1}/dc_{t-1})"),
        M(B + no_tanh_prime, "dh_{t-1}/dc_{t-1} = o_{t-1} (1 - tanh(c_{t-1})^2): the tanh' factor is missing"),
        M(A + C + D, "the direct path f_t (B_t) is missing: c_t = f_t c_{t-1} + ..."),
    ])


# === 6. multiple choice =========================================================================

_STEP_BACK = "Which term, expanded (eq. 7), multiplies one more factor dh_k/dh_(k-1) for every step back in time?"
VANISHING_TERM_OPTIONS = Choices({
    "A": (r"$\partial E_T/\partial\hat{\mathbf{o}}_T$, the derivative of the loss",
          False, "dE_T/do_T is evaluated at the last step only: it does not depend on how far back a weight was "
                 "used. " + _STEP_BACK),
    "B": (r"$\partial\hat{\mathbf{o}}_T/\partial\hat{\mathbf{y}}_T$, the derivative of the softmax",
          False, "the softmax Jacobian is taken once, at step T: it cannot shrink with the distance in time. "
                 + _STEP_BACK),
    "C": (r"$\partial\hat{\mathbf{y}}_T/\partial\mathbf{h}_T$, the output layer",
          False, "dy_T/dh_T = W_hy^T appears once, at step T. " + _STEP_BACK),
    "D": (r"$\partial\mathbf{h}_T/\partial\mathbf{W}^{[hh]}$, whose recursive part reaches back through every "
          "earlier step",
          True, "its recursive part dg/dh_(T-1) x dh_(T-1)/dW_hh multiplies one factor dh_k/dh_(k-1) per step "
                "back in time"),
}, one=True)


@multiple_choice("which term makes the gradient vanish", answers="mc_vanishing",
                 hint="which term, expanded, picks up one more factor dh_k/dh_(k-1) for every step back in time?",
                 choices=VANISHING_TERM_OPTIONS)
def vanishing_term(answer):
    """One check over ``VANISHING_TERM_OPTIONS``."""


STATEMENT_OPTIONS = Choices({
    "A": (r"If $\gamma\,\sigma_{\max}(\mathbf{W}^{[hh]}) < 1$, $\lVert\partial\mathbf{h}_T/\partial\mathbf{h}_t\rVert$ "
          "goes to 0 exponentially fast in $T - t$.",
          True, "every factor of the chain has norm at most gamma sigma_max; what does (gamma sigma)^n do when "
                "gamma sigma < 1?"),
    "B": (r"If $\gamma\,\sigma_{\max}(\mathbf{W}^{[hh]}) > 1$, the gradients explode.",
          False, "the bound is only an upper bound. Look at your tanh network: gamma sigma_max > 1, and yet the "
                 "fitted slope is negative"),
    "C": ("Clipping the gradient's norm cures vanishing gradients.",
          False, "clipping only shrinks gradients that are too large; it cannot bring back a gradient that has "
                 "vanished"),
    "D": (r"With a sigmoid activation, gradients from far back can only survive if "
          r"$\sigma_{\max}(\mathbf{W}^{[hh]}) > 4$.",
          True, "with gamma = 1/4, when is gamma sigma_max < 1, so that the bound forces vanishing?"),
    "E": (r"On the LSTM's direct cell path $\partial c_t/\partial c_{t-1} = \operatorname{diag}(f_t)$: a forget "
          "gate near 1 passes the gradient on almost unchanged.",
          True, "what is dc_t/dc_(t-1) on the direct path (your dc_direct), and what is f^n for f close to 1?"),
})


@multiple_choice("true statements about vanishing and exploding gradients", answers="mc_statements",
                 hint="test each statement against your bound, your fitted slopes and your dc_direct",
                 choices=STATEMENT_OPTIONS)
def statements(answer):
    """One check over ``STATEMENT_OPTIONS``."""


# === 7. relevance through the cell path (LRP for LSTMs: signal-take-all) ========================
# Self-contained block: Arras et al. (2017) split the relevance R_c of c_t = f_t c_{t-1} + i_t g_t
# between the two signal terms in proportion to their values; the gates f_t, i_t receive none.

def _cell_relevance_examples(thorough: bool):
    """``R_c``, ``fc_prev = f_t c_{t-1}`` and ``ig = i_t g_t`` of H units, with ``c_t = fc_prev + ig`` at
    least 0.1 away from 0 (where the split is defined without a stabiliser)."""
    @functools.lru_cache(maxsize=None)  # one strategy per size: Hypothesis validates each new one
    def build(H):
        return st.fixed_dictionaries({"R_c": arrays((H,)), "fc_prev": arrays((H,)), "c_abs": arrays((H,), 0.1, 5.0),
                                      "negative": st.lists(st.booleans(), min_size=H, max_size=H)})

    def example(d):
        c = np.where(d["negative"], -d["c_abs"], d["c_abs"])
        return {"R_c": d["R_c"], "fc_prev": d["fc_prev"], "ig": np.round(c - d["fc_prev"], 10)}

    return st.integers(1, 6 if thorough else 4).flatmap(build).map(example)


def _take_all(R_c, fc_prev, ig):
    c = fc_prev + ig
    return np.stack([fc_prev / c * R_c, ig / c * R_c])


#: What a student's signal_take_all is compared with, as [R_prev, R_g] stacked.
TAKE_ALL_MISTAKES = [
    ("the two shares are swapped: R_prev belongs to f c_prev (the old cell), R_g to i g (the new input)",
     lambda R_c, fc_prev, ig: _take_all(R_c, fc_prev, ig)[::-1]),
    ("an equal split ignores the terms' sizes: each term gets its fraction of c_t, term / c_t",
     lambda R_c, fc_prev, ig: np.stack([R_c / 2, R_c / 2])),
    ("the shares are signed: divide the term itself (not its absolute value) by c_t = fc_prev + ig; a term of "
     "opposite sign to c_t gets relevance of opposite sign",
     lambda R_c, fc_prev, ig: np.abs(np.stack([fc_prev, ig])) / (np.abs(fc_prev) + np.abs(ig)) * R_c),
    ("only half of R_c arrives: did the gates f_t and i_t take a share? They receive none",
     lambda R_c, fc_prev, ig: _take_all(R_c, fc_prev, ig) / 2),
]
#: (R_c, fc_prev, ig) where the mistakes all differ: terms of both signs and sizes from 0.1 to 70, c_t != 0.
TAKE_ALL_PROBES = [
    (np.array([1.0, -2.0, 3.0]), np.array([0.25, 3.0, -1.0]), np.array([0.75, -1.0, 3.0])),
    (np.array([10.0, 0.5, -40.0, 2.0, 7.0]), np.array([12.0, -0.1, 25.0, 0.3, 70.0]),
     np.array([-2.0, 0.6, 15.0, 0.7, -20.0])),
]


def _pair(out) -> np.ndarray:
    return np.stack([as_array(out[0], "R_prev"), as_array(out[1], "R_g")])


@question("signal_take_all(R_c, fc_prev, ig)", answers="signal_take_all",
          hint="c_t is the sum of the two signal terms f_t c_(t-1) and i_t g_t; the gates are switches, not signals")
def signal_take_all(ask, fn, thorough: bool = False):
    """``fn(R_c, fc_prev, ig) -> (R_prev, R_g)``: ``R_prev = fc_prev / c_t * R_c``, ``R_g = ig / c_t * R_c``,
    ``c_t = fc_prev + ig``, unit by unit (arrays of shape (H,))."""
    q = ask.title
    ask.function(fn, "signal_take_all", "signal_take_all(R_c, fc_prev, ig)")
    from reference.thesis.explain_gated import signal_take_all as reference_split

    diagnosis = Diagnosis(fn, TAKE_ALL_MISTAKES, TAKE_ALL_PROBES, read=_pair)   # decided on the probes

    def shares(R_c, fc_prev, ig):
        out = call(fn, R_c, fc_prev, ig, name="signal_take_all")
        if isinstance(out, (tuple, list)) and len(out) == 3:
            raise Violation("you returned three relevances: the gates are switches, not signals, and receive "
                            "none (signal-take-all); return only (R_prev, R_g)")
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Violation(f"expected a pair (R_prev, R_g) of arrays, got {type(out).__name__}")
        R_prev, R_g = as_array(out[0], "R_prev"), as_array(out[1], "R_g")
        for name, r in (("R_prev", R_prev), ("R_g", R_g)):
            if r.shape != R_c.shape:
                raise Violation(f"{name} has shape {r.shape}; expected the shape of R_c, {R_c.shape} (one value per "
                                f"unit)")
            if not np.all(np.isfinite(r)):
                raise Violation(f"{name} contains NaN or infinity (divide by c_t = fc_prev + ig, which is not 0 here)",
                                got=r)
        return R_prev, R_g

    def expected(R_c, fc_prev, ig):
        R_prev, R_g, _ = reference_split(fc_prev[None], ig[None], R_c[None], 0.0)
        return R_prev[0], R_g[0]

    def close(a, b):
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))

    def is_a_pair(R_c, fc_prev, ig):
        shares(R_c, fc_prev, ig)

    def conserves(R_c, fc_prev, ig):
        R_prev, R_g = shares(R_c, fc_prev, ig)
        if not close(R_prev + R_g, R_c):
            hint = diagnosis.hint()
            raise Violation("relevance is not conserved: R_prev + R_g must equal R_c in every unit (c_t is the sum "
                            "of the two signal terms, so their shares add up to R_c)." + (f" {hint}." if hint else ""),
                            expected=R_c, got=R_prev + R_g)

    def proportional(R_c, fc_prev, ig):
        R_prev, R_g = shares(R_c, fc_prev, ig)
        want_prev, want_g = expected(R_c, fc_prev, ig)
        if close(R_prev, want_prev) and close(R_g, want_g):
            return
        c = fc_prev + ig
        hint = diagnosis.hint() or "R_prev = fc_prev / c_t * R_c and R_g = ig / c_t * R_c, with c_t = fc_prev + ig"
        raise Violation(f"the relevance is not split in proportion to the signal terms: {hint}. Below, row 1 is "
                        f"R_prev, row 2 R_g; c_t = {np.round(c, 4).tolist()}",
                        expected=np.stack([want_prev, want_g]), got=np.stack([R_prev, R_g]))

    props = {"returns (R_prev, R_g) shaped like R_c": is_a_pair,
             "conserves relevance: R_prev + R_g = R_c": conserves,
             "splits in proportion to f c_prev and i g": proportional}
    return check_properties(q, props, _cell_relevance_examples(thorough), max_examples=80 if thorough else 40)


hint = hints_of(__name__)
