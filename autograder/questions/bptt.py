"""Checks for the ``bptt`` assignment (NUS CS3244 Tutorial 09 Q1, eqs 1-7; MIT 6.802 recitation 3, BPTT
with the future-loss recursion F_t).

Symbolic answers (matched by *name*):

- eq 6 for the scalar RNN ``h_t = g(w_x x_t + w_h h_{t-1})``: symbols ``w_x, w_h, x_T, h_prev`` (h_{T-1}),
  ``dE_dh`` (dE_T/dh_T), ``g_prime`` (g'(z_T)) and ``dhprev_dwh`` (dh_{T-1}/dw_h, left unexpanded);
- the same fully unrolled for T = 3 and g = tanh: ``dh_3/dw_h`` in ``h0, x1, x2, x3, w_x, w_h``. Nested
  tanh expressions make ``sympy.simplify`` slow (minutes for a ``sech`` form), so this one is decided by
  a numeric identity test at random points (lambdify), with its own catalogue of mistakes.

Code answers are numpy functions checked against torch autograd on Hypothesis-generated RNNs (shapes,
lengths 1..6, tanh / sigmoid / relu, with or without a batch axis); when one fails, the student's
function is also run on a few generic RNNs and compared with a catalogue of typical BPTT mistakes, so
the feedback can name the likely one.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import sympy
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import rnn as ref

from .. import symbolic
from ..choices import Choices
from ..feedback import CheckFailed, passed
from ..properties import Violation, arrays, check_properties
from ..question import call, function, hints_of, multiple_choice, question, unwrap

ACTIVATIONS = ref.ACTIVATION_NAMES
M = symbolic.Mistake


# --- 1. eq 6 for the scalar RNN ------------------------------------------------------------------

w_x, w_h, x_T, h_prev = sympy.symbols("w_x w_h x_T h_prev", real=True)
dE_dh, g_prime, dhprev_dwh = sympy.symbols("dE_dh g_prime dhprev_dwh", real=True)
EQ6_NAMES = {"w_x", "w_h", "x_T", "h_prev", "dE_dh", "g_prime", "dhprev_dwh"}
EQ6_DOMAIN = symbolic.Domain(trials=6, seed=6)


def _eq6_expected():
    return ref.scalar_eq6(w_x, w_h, x_T, h_prev, dE_dh, g_prime, dhprev_dwh)


def _eq6_mistakes():
    D, G, P, W, h = dE_dh, g_prime, dhprev_dwh, w_h, h_prev
    return [
        M(D * G * W * P, "the direct term is missing: w_h appears in z_T = w_x x_T + w_h h_{T-1} itself, and "
                         "with h_{T-1} held fixed dz_T/dw_h = h_{T-1} (the first term in the brackets of eq 6)"),
        M(D * G * P, "two pieces are missing: the direct term (dz_T/dw_h = h_{T-1} with h_{T-1} fixed) and the "
                     "factor dz_T/dh_{T-1} = w_h on the path through h_{T-1}"),
        M(D * G * h, "the recurrent path is missing: h_{T-1} depends on w_h too, so eq 6 adds "
                     "dg/dh_{T-1} * dh_{T-1}/dw_h (leave dh_{T-1}/dw_h as the symbol dhprev_dwh)"),
        M(D * (h + W * P), "g' is missing: h_T = g(z_T), so the chain rule through the activation gives a "
                           "factor g'(z_T) (the symbol g_prime) on both terms"),
        M(D * (G * h + W * P), "g'(z_T) multiplies both terms: dh_T/dw_h = g'(z_T) (h_{T-1} + w_h dh_{T-1}/dw_h); "
                               "you have it on the direct term only"),
        M(D * (h + G * W * P), "g'(z_T) multiplies both terms: dh_T/dw_h = g'(z_T) (h_{T-1} + w_h dh_{T-1}/dw_h); "
                               "you have it on the recurrent term only"),
        M(D * G * (h + P), "w_h is missing on the recurrent path: dz_T/dh_{T-1} = w_h, so the second term is "
                           "w_h * dh_{T-1}/dw_h"),
        M(D * G * (h + G * W * P), "g'(z_T) appears once: the g' of the earlier step, g'(z_{T-1}), is already "
                                   "inside dh_{T-1}/dw_h"),
        M(G * (h + W * P), "the first factor is missing: dE_T/dw_h = dE_T/dh_T * dh_T/dw_h (eq 5: "
                           "dE/do * do/dy * dy/dh is the symbol dE_dh)"),
        M(D * G * (x_T + W * P), "x_T is dz_T/dw_x (the input weight); for w_h the direct term is "
                                 "dz_T/dw_h = h_{T-1}"),
        M(D * G * x_T, "that is dE_T/dw_x without its recurrent term; the question asks for w_h: the direct "
                       "term is h_{T-1}, plus the path through h_{T-1}"),
    ]


def _normalise_scalar(question, name, answer):
    """Unwrap a 1x1 matrix, a one-element list or a string; raise CheckFailed for what cannot be a scalar."""
    answer = unwrap(answer, name, scalar=True)
    if symbolic.is_matrix(answer):
        raise CheckFailed(question, f"`{name}` is a matrix of shape {tuple(answer.shape)}; expected a scalar "
                                    f"expression (the RNN here is scalar)")
    unevaluated = answer.atoms(sympy.Derivative, sympy.Subs, sympy.core.function.AppliedUndef)
    if unevaluated:
        what = ", ".join(sorted(map(str, unevaluated)))[:200]
        raise CheckFailed(question, f"`{name}` still contains an unevaluated function or derivative ({what}); "
                                    f"write it with the symbols the notebook defines (dE_dh, g_prime, "
                                    f"dhprev_dwh, ...) and sympy's own functions (sp.tanh)")
    return answer


@question("eq 6 for the scalar RNN", answers="dET_dwh",
          hint="apply the chain rule to E_T(h_T), h_T = g(z_T), z_T = w_x x_T + w_h h_(T-1): w_h appears in z_T directly and through h_(T-1)")
def eq6(ask, dET_dwh):
    """``dE_T/dw_h = dE_dh * g_prime * (h_prev + w_h * dhprev_dwh)`` (eq 6, scalar)."""
    q = ask.title
    answer = _normalise_scalar(q, "dET_dwh", dET_dwh)
    return symbolic.check(q, answer, _eq6_expected(), EQ6_DOMAIN, mistakes=_eq6_mistakes(), allowed=EQ6_NAMES)


# --- 2. eq 7 unrolled for T = 3, g = tanh ---------------------------------------------------------

h0, x1, x2, x3 = sympy.symbols("h0 x1 x2 x3", real=True)
T3_NAMES = ("h0", "x1", "x2", "x3", "w_x", "w_h")
_T3_SYMBOLS = dict(zip(T3_NAMES, (h0, x1, x2, x3, w_x, w_h)))


def _t3_states():
    """``[h_1, h_2, h_3]`` of the scalar tanh RNN, as SymPy expressions."""
    return ref.scalar_states([x1, x2, x3], h0, w_x, w_h, sympy.tanh)


def _t3_expected():
    """SymPy's own differentiation of the unrolled ``h_3`` with respect to ``w_h``."""
    return sympy.diff(_t3_states()[-1], w_h)


def _t3_variant(step, *, start=None):
    """``dh_3/dw_h`` by a (possibly wrong) recursion ``d_t = step(z_t, h_{t-1}, d_{t-1})``."""
    h, d = h0, 0
    for k, x_t in enumerate((x1, x2, x3)):
        z = w_x * x_t + w_h * h
        d = step(z, h, d) if start is None or k >= start else 0
        h = sympy.tanh(z)
    return d


def _t3_mistakes():
    tp = lambda z: 1 - sympy.tanh(z) ** 2  # noqa: E731
    hs = _t3_states()
    z3 = w_x * x3 + w_h * hs[1]
    z2 = w_x * x2 + w_h * hs[0]
    return [
        M(_t3_variant(lambda z, h, d: tp(z) * (h + d)),
          "w_h is missing on the recurrent path: d_t = g'(z_t) (h_{t-1} + w_h d_{t-1}), since dz_t/dh_{t-1} = w_h"),
        M(_t3_variant(lambda z, h, d: h + w_h * d),
          "tanh'(z_t) = 1 - tanh(z_t)^2 is missing: each step's d_t is multiplied by the activation's derivative"),
        M(_t3_variant(lambda z, h, d: tp(z) * h + w_h * d),
          "tanh'(z_t) multiplies both terms: d_t = g'(z_t) (h_{t-1} + w_h d_{t-1}); you have it on the direct "
          "term only"),
        M(_t3_variant(lambda z, h, d: (1 - z ** 2) * (h + w_h * d)),
          "tanh'(z) = 1 - tanh(z)^2 (= 1 - h_t^2), not 1 - z^2: the formula is in terms of the output h_t"),
        M(_t3_variant(lambda z, h, d: sympy.tanh(z) * (h + w_h * d)),
          "the derivative of tanh is 1 - tanh(z)^2, not tanh(z)"),
        M(_t3_variant(lambda z, h, d: sympy.sech(z) * (h + w_h * d)),
          "the derivative of tanh is sech(z)^2 = 1 - tanh(z)^2: you forgot the square"),
        M(tp(z3) * hs[1], "that is only the direct term of the last step (the first term of eq 7): h_2 depends "
                          "on w_h as well, so keep the recursion going back to h_0"),
        M(tp(z3) * (hs[1] + w_h * tp(z2) * hs[0]),
          "you stopped one step early: h_1 = tanh(w_x x1 + w_h h0) depends on w_h too (the direct term h0 at "
          "step 1)"),
        M(_t3_variant(lambda z, h, d: tp(z) * (h + w_h * d), start=1),
          "at step 1 the direct term is h0 (z_1 = w_x x1 + w_h h0): dh_1/dw_h = tanh'(z_1) h0, not 0"),
        M(sympy.diff(hs[-1], w_x), "that is dh_3/dw_x (the input weight); the question asks for w_h"),
        M(tp(z3) * (hs[1] + w_h * tp(z2) * (hs[0] + w_h * tp(w_x * x1 + w_h * h0) * h0)),
          "one term too many: dh_1/dw_h = tanh'(z_1) h0 (h_0 is a constant, d_0 = 0)"),
    ]


def _t3_values(rng, k):
    """``k`` points: the first half of order one (normal, sd 0.8), the second across decades: inputs x_t and
    h0 of size 0.01 to 100, each with its weight scaled by the inverse size so that the pre-activations stay
    of order one (a saturated tanh would hide a wrong answer), so the weights range over decades too."""
    values = {n: rng.normal(0, 0.8, size=k) for n in T3_NAMES}
    wide, m = slice(k // 2, k), k - k // 2

    def across(scale):
        return rng.choice([-1.0, 1.0], size=m) * scale * rng.uniform(0.5, 1.5, size=m)

    size_x, size_h = 10.0 ** rng.uniform(-2, 2, size=m), 10.0 ** rng.uniform(-2, 2, size=m)
    for name in ("x1", "x2", "x3"):
        values[name][wide] = across(size_x)
    values["w_x"][wide] = across(1 / size_x)
    values["h0"][wide] = across(size_h)
    values["w_h"][wide] = across(1 / np.maximum(size_h, 1))   # w_h also multiplies h_1, h_2 in (-1, 1)
    return values


def _t3_numeric(expr, values):
    fn = sympy.lambdify([_T3_SYMBOLS[n] for n in T3_NAMES], expr, "numpy")
    out = np.asarray(fn(*[values[n] for n in T3_NAMES]), dtype=complex)
    return np.broadcast_to(out, values["h0"].shape)


def _same(a, b):
    return bool(np.allclose(a, b, rtol=1e-7, atol=1e-10))


@question("eq 7 unrolled for T = 3", answers="dh3_dwh",
          hint="write h1, h2, h3 as Python variables holding expressions in h0, x1..x3, w_x, w_h, then differentiate h3 with sympy or follow eq 7 step by step")
def unrolled_t3(ask, dh3_dwh):
    """``dh_3/dw_h`` of ``h_t = tanh(w_x x_t + w_h h_{t-1})``, compared with ``sympy.diff`` of the unrolled h_3
    numerically at 20 random points (symbolic simplification of nested tanh is too slow for a check)."""
    q = ask.title
    answer = _normalise_scalar(q, "dh3_dwh", dh3_dwh)
    names = {s.name for s in answer.free_symbols}
    extra = sorted(names - set(T3_NAMES))
    if extra:
        hint = ""
        if set(extra) & {"h1", "h2", "h3", "z1", "z2", "z3", "d1", "d2", "d3", "h_1", "h_2", "h_3"}:
            hint = (" Intermediate states are Python variables holding expressions (h1 = sp.tanh(w_x*x1 + "
                    "w_h*h0)), not new symbols: the answer must be in h0, x1, x2, x3, w_x, w_h only.")
        raise CheckFailed(q, f"your answer uses {', '.join(extra)}, which the question does not define; expected "
                             f"an expression in {', '.join(T3_NAMES)}.{hint}")
    answer = answer.xreplace({s: _T3_SYMBOLS[s.name] for s in answer.free_symbols})
    values = _t3_values(np.random.default_rng(2024), 20)
    want = _t3_numeric(_t3_expected(), values).real
    try:
        got = _t3_numeric(answer, values)
    except Exception as err:  # noqa: BLE001 - a student's expression that numpy cannot evaluate
        raise CheckFailed(q, f"your expression cannot be evaluated numerically: {type(err).__name__}: {err}") from None
    if np.any(np.abs(got.imag) > 1e-9) or not np.all(np.isfinite(got.real)):
        raise CheckFailed(q, "your expression gives complex or infinite values at ordinary inputs")
    got = got.real
    if _same(got, want):
        return passed(q, "equals sympy.diff of the unrolled h_3 (checked at 20 random points)")
    for m in _t3_mistakes():
        if _same(got, _t3_numeric(m.expr, values).real):
            raise CheckFailed(q, m.hint)
    mask = np.abs(want) > 1e-6
    if mask.any():
        r = got[mask] / want[mask]
        if np.allclose(r, r[0], rtol=1e-6):
            if np.isclose(r[0], -1):
                raise CheckFailed(q, "your answer has the wrong sign (it is -1 times dh_3/dw_h)")
            raise CheckFailed(q, f"your answer is {r[0]:.4g} times dh_3/dw_h: a constant factor is off")
    i = int(np.argmax(np.abs(got - want)))
    point = ", ".join(f"{n} = {values[n][i]:.3f}" for n in T3_NAMES)
    raise CheckFailed(q, f"not equal to dh_3/dw_h. Counterexample: at {point}\n  expected {want[i]:.6g}\n"
                         f"  your answer gives {got[i]:.6g}\nUse eq 7 step by step: d_t = (1 - h_t^2)(h_{{t-1}} "
                         f"+ w_h d_{{t-1}}) with d_0 = 0")


# --- 3. which term makes gradients vanish --------------------------------------------------------

VANISHING_OPTIONS = Choices({
    "A": (r"$\partial E_T / \partial \hat{\mathbf{o}}_T$, the derivative of the loss",
          False, "dE_T/do_T appears once, at the last step: it scales every time step's contribution alike and "
                 "cannot make the early steps' contributions smaller than the late ones'"),
    "B": (r"$\partial \hat{\mathbf{o}}_T / \partial \hat{\mathbf{y}}_T$, the softmax Jacobian",
          False, "the softmax Jacobian appears once, at the output of step T; vanishing is about how the "
                 "contribution of step t shrinks as T - t grows"),
    "C": (r"$\partial \hat{\mathbf{y}}_T / \partial \mathbf{h}_T$, the output layer $\mathbf{W}^{[hy]}$",
          False, "W_hy appears once, at the output; it does not depend on how far back in time a step is"),
    "D": (r"$\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1}) / \partial \mathbf{W}^{[hh]}$, the direct term",
          False, "the direct term is *added* once per step (it is where step t contributes); what shrinks that "
                 "contribution is the factor it is *multiplied* by on its way from step t to step T"),
    "E": (r"$\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1}) / \partial \mathbf{h}_{T-1} = \partial \mathbf{h}_T / "
          r"\partial \mathbf{h}_{T-1}$, applied again at every step by eq 7",
          True, "dh_t/dh_{t-1} = diag(g'(z_t)) W_hh^T is multiplied once per step back in time"),
}, one=True)


@multiple_choice("which term makes gradients vanish", answers="vanishing_term",
                 hint="which factor is multiplied once more for every step back in time?",
                 choices=VANISHING_OPTIONS)
def vanishing_term(answer):
    """One check over ``VANISHING_OPTIONS``."""


# --- 4-6. numpy code against torch autograd ----------------------------------------------------------

def _onehot(labels, C):
    return np.eye(C)[labels]


def rnn_examples(batch: bool = False, max_T: int = 6) -> st.SearchStrategy[dict]:
    """Small RNNs: x (T, D) or (B, T, D), one-hot targets, weights (D, H), (H, H), (H, C), an activation;
    D, B in 1..2, H in 1..3, C in 2..3, T in 1..max_T (small, so that shrinking a failure stays quick)."""

    def build(dims):
        D, H, C, T, activation, B = dims
        lead = (B, T) if batch else (T,)
        return st.fixed_dictionaries({
            "x": arrays(lead + (D,), -2.0, 2.0),
            "targets": hnp.arrays(np.int64, lead, elements=st.integers(0, C - 1)).map(lambda y: _onehot(y, C)),
            "W_xh": arrays((D, H), -1.5, 1.5),
            "W_hh": arrays((H, H), -1.5, 1.5),
            "W_hy": arrays((H, C), -1.5, 1.5),
            "activation": st.just(activation),
        })

    return st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 3), st.integers(1, max_T),
                     st.sampled_from(ACTIVATIONS), st.integers(1, 2) if batch else st.none()).flatmap(build)


def _autograd_gradients(x, targets, W_xh, W_hh, W_hy, activation, last_only=False):
    """Loss and gradients of the same RNN by torch autograd (float64): the oracle of the code checks."""
    import torch

    def t(a, grad=False):
        return torch.tensor(np.asarray(a, dtype=float), dtype=torch.float64, requires_grad=grad)

    Wx, Wh, Wy = t(W_xh, True), t(W_hh, True), t(W_hy, True)
    X, Y = t(x), t(targets)
    g = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    h = torch.zeros(X.shape[:-2] + (Wh.shape[0],), dtype=torch.float64)
    T = X.shape[-2]
    loss = torch.zeros((), dtype=torch.float64)
    for step in range(T):
        h = g(X[..., step, :] @ Wx + h @ Wh)
        if not last_only or step == T - 1:
            loss = loss - (Y[..., step, :] * torch.log_softmax(h @ Wy, dim=-1)).sum()
    grads = torch.autograd.grad(loss, (Wx, Wh, Wy))
    return (loss.item(),) + tuple(gr.numpy() for gr in grads)


def _preactivations(x, W_xh, W_hh, activation):
    x = np.asarray(x, float)
    h = np.zeros(x.shape[:-2] + (W_hh.shape[0],))
    zs = []
    for step in range(x.shape[-2]):
        z = x[..., step, :] @ W_xh + h @ W_hh
        zs.append(z)
        h = ref.activate(z, activation)
    return np.stack(zs, axis=-2)


def _at_relu_kink(ex) -> bool:
    """ReLU has no derivative at 0: torch uses 0 there, a student may use 1. Such examples are not graded."""
    return ex["activation"] == "relu" and bool(np.any(np.abs(_preactivations(ex["x"], ex["W_xh"], ex["W_hh"],
                                                                             "relu")) < 1e-9))


def _too_peaked(ex) -> bool:
    """ReLU states can grow until softmax(y_t) underflows to 0 and a correct ``np.log(o)`` gives -inf: a
    numerical corner, not a BPTT question. Examples whose logits spread over more than 30 are not graded."""
    y = ref.forward(ex["x"], ex["W_xh"], ex["W_hh"], ex["W_hy"], ex["activation"]).y
    return bool(np.max(y.max(axis=-1) - y.min(axis=-1)) > 30)


def _as_number(value, what):
    try:
        arr = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value, dtype=float)
    except Exception:  # noqa: BLE001
        raise Violation(f"{what}: expected a number, got {type(value).__name__}") from None
    if arr.size != 1:
        raise Violation(f"{what}: expected one number (summed over time steps and the batch), got an array of "
                        f"shape {arr.shape}")
    return float(arr.reshape(()))


def _as_array(value, what, shape, why="the shape of the weight it belongs to"):
    try:
        arr = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value, dtype=float)
    except Exception:  # noqa: BLE001
        raise Violation(f"{what}: expected a numpy array, got {type(value).__name__}") from None
    if arr.shape != shape:
        raise Violation(f"{what}: wrong shape {arr.shape}, expected {shape} ({why})")
    if not np.all(np.isfinite(arr)):
        raise Violation(f"{what}: contains NaN or infinity")
    return arr


GRAD_NAMES = ("dW_xh", "dW_hh", "dW_hy")


def _unpack(result, what="your function"):
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        got = f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) \
            else f"{type(result).__name__}"
        raise Violation(f"{what} must return (loss, dW_xh, dW_hh, dW_hy), got {got}")
    return result


def _close(a, b):
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-7))


def _compare_gradients(result, want, weights, loss_name):
    loss, *grads = _unpack(result)
    got_loss = _as_number(loss, "the loss")
    if not np.isclose(got_loss, want[0], rtol=1e-6, atol=1e-8):
        raise Violation(f"the loss {loss_name} is wrong (the gradients are not compared until it is right: "
                        f"check the forward pass and -sum y_t . log o_t)", expected=want[0], got=got_loss)
    got = [_as_array(g, n, W.shape) for g, n, W in zip(grads, GRAD_NAMES, weights)]
    bad = [n for g, w, n in zip(got, want[1:], GRAD_NAMES) if not _close(g, w)]
    if bad:
        good = [n for n in GRAD_NAMES if n not in bad]
        i = GRAD_NAMES.index(bad[0])
        raise Violation(f"{' and '.join(bad)} {'does' if len(bad) == 1 else 'do'} not match torch autograd"
                        + (f" ({' and '.join(good)} {'does' if len(good) == 1 else 'do'})" if good else "")
                        + f"; shown: {bad[0]}, {_largest_difference(got[i], want[1 + i])}",
                        expected=want[1 + i], got=got[i])


def _largest_difference(got, want):
    diff = np.abs(np.asarray(got, float) - np.asarray(want, float))
    j = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return (f"largest difference {diff[j]:.3g} at index {tuple(int(k) for k in j)} "
            f"(expected {float(np.asarray(want)[j]):.6g}, yours {float(np.asarray(got)[j]):.6g})")


# A catalogue of wrong BPTTs, to name the likely mistake after a failure.

def _mistaken_bptt(x, targets, W_xh, W_hh, W_hy, activation, *, last_only=False, carry=True, prev_state=True,
                   transpose=True, deriv="right", dy_rule="right", batch_mean=False):
    x = np.asarray(x, float)
    batched = x.ndim == 3
    X, Y = (x, targets) if batched else (x[None], targets[None])
    B, T, _ = X.shape
    H = W_hh.shape[0]
    h, hs, zs = np.zeros((B, H)), [np.zeros((B, H))], []
    for step in range(T):
        z = X[:, step] @ W_xh + h @ W_hh
        h = ref.activate(z, activation)
        zs.append(z)
        hs.append(h)
    dW_xh, dW_hh, dW_hy = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros_like(W_hy)
    dF = np.zeros((B, H))
    for step in reversed(range(T)):
        o = ref.softmax(hs[step + 1] @ W_hy)
        y = Y[:, step]
        dy = {"right": o - y, "o": o, "-y/o": -y / o, "y-o": y - o}[dy_rule]
        if last_only and step != T - 1:
            dy = np.zeros_like(dy)
        dW_hy += hs[step + 1].T @ dy
        delta = dy @ W_hy.T + (dF if carry else 0)
        z, hz = zs[step], hs[step + 1]
        gp = {"right": ref.activation_derivative(z, activation), "value": hz, "none": np.ones_like(z),
              "of_z": {"tanh": 1 - z ** 2, "sigmoid": z * (1 - z), "relu": (z > 0) * 1.0}[activation],
              "tanh_formula": 1 - hz ** 2}[deriv]
        dz = delta * gp
        dW_xh += X[:, step].T @ dz
        dW_hh += (hs[step] if prev_state else hs[step + 1]).T @ dz
        dF = dz @ (W_hh.T if transpose else W_hh)
    grads = (dW_xh, dW_hh, dW_hy)
    return tuple(g / B for g in grads) if batch_mean else grads


_BPTT_MISTAKES = [
    ({"carry": False}, "the recurrent delta is not carried back: the gradient at h_t must include what flows "
                       "back from step t+1, dz_{t+1} W_hh^T (eq 7's path through h_{t-1}; MIT's dF_t/dh_t), "
                       "added before multiplying by g'(z_t)"),
    ({"prev_state": False}, "dW_hh uses the wrong state: z_t = x_t W_xh + h_{t-1} W_hh, so dW_hh += h_{t-1}^T dz_t "
                            "(with h_0 = 0 at the first step), not h_t^T dz_t"),
    ({"transpose": False}, "the delta goes back through W_hh transposed: dh_{t-1} = dz_t W_hh^T (rows), you used "
                           "W_hh without the transpose"),
    ({"deriv": "value"}, "you multiplied by g(z_t) = h_t instead of the derivative g'(z_t) (tanh: 1 - h_t^2, "
                         "sigmoid: h_t (1 - h_t), relu: 1 where z_t > 0)"),
    ({"deriv": "of_z"}, "the derivative formula is applied to the pre-activation z_t: tanh' = 1 - h_t^2 and "
                        "sigmoid' = h_t (1 - h_t) are in terms of the output h_t = g(z_t)"),
    ({"deriv": "none"}, "the activation's derivative g'(z_t) is missing in the backward step dz_t = delta_t * g'(z_t)"),
    ({"deriv": "tanh_formula"}, "you used tanh's derivative 1 - h_t^2 for another activation (sigmoid: "
                                "h_t (1 - h_t), relu: 1 where z_t > 0)"),
    ({"dy_rule": "o"}, "the gradient of softmax + cross-entropy with respect to y_t is o_t - y_t: the -y_t is "
                       "missing"),
    ({"dy_rule": "-y/o"}, "-y_t / o_t is dL/do_t; through the softmax it becomes dL/dy_t = o_t - y_t "
                          "(the softmax-cross-entropy shortcut)"),
    ({"dy_rule": "y-o"}, "sign: dL/dy_t = o_t - y_t, not y_t - o_t"),
    ({"batch_mean": True}, "the loss of a batch is the sum of the sequence losses here, not the mean: do not "
                           "divide by the batch size"),
]
_ONLY_LAST = "you only backpropagate the last step's loss E_T; the sequence loss L = sum_t E_t injects o_t - y_t at " \
             "every step (and the gradients of all of them add up)"
_ALL_STEPS = "you backpropagate the loss of every step; this question asks for E_T, the last step's loss only " \
             "(o_t - y_t enters at t = T alone)"


def _generic_example(activation, batch, seed=7):
    rng = np.random.default_rng(seed)
    D, H, C, T = 2, 3, 3, 4
    lead = (2, T) if batch else (T,)
    return {"x": rng.normal(size=lead + (D,)), "targets": _onehot(rng.integers(0, C, size=lead), C),
            "W_xh": rng.normal(size=(D, H)), "W_hh": 0.8 * rng.normal(size=(H, H)),
            "W_hy": rng.normal(size=(H, C)), "activation": activation}


def _diagnose(fn, last_only, batch):
    """Names of the likely mistakes: compare the student's gradients with the catalogue on generic RNNs."""
    catalogue = list(_BPTT_MISTAKES) + [({"last_only": not last_only}, _ALL_STEPS if last_only else _ONLY_LAST)]
    if not batch:
        catalogue = [c for c in catalogue if not c[0].get("batch_mean")]
    found: dict[str, list[str]] = {}
    for activation in ACTIVATIONS:
        ex = _generic_example(activation, batch)
        try:
            _, *got = _unpack(call(fn, **ex))
            got = [np.asarray(g, float) for g in got]
        except Exception:  # noqa: BLE001
            return []
        right = _mistaken_bptt(**ex, last_only=last_only)
        if all(_close(g, w) for g, w in zip(got, right)):
            continue
        for params, hint in catalogue:
            kwargs = {"last_only": last_only, **params}
            if all(g.shape == w.shape and _close(g, w) for g, w in zip(got, _mistaken_bptt(**ex, **kwargs))):
                found.setdefault(hint, []).append(activation)
                break
    return [hint if len(acts) > 1 else f"{hint} (seen with {acts[0]})" for hint, acts in found.items()]


def _code_check(question, name, fn, prop_name, prop, strategy, max_examples, diagnose=None):
    function(fn, name)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the caller prints the one ✓ line
            return check_properties(question, {prop_name: prop}, strategy, max_examples=max_examples)
    except CheckFailed as err:
        if diagnose is None or "not implemented" in err.reason:
            raise
        hints = diagnose()
        if not hints:
            raise
        raise CheckFailed(question, err.reason + "\nLikely mistake: " + "\nAlso: ".join(hints)) from None


def _bptt_check(question, name, fn, last_only, batch):
    loss_name = "E_T = -y_T . log o_T" if last_only else "L = -sum_t y_t . log o_t"
    fn = _positional(fn)

    def agrees(**ex):
        if _at_relu_kink(ex) or _too_peaked(ex):
            return
        want = _autograd_gradients(**ex, last_only=last_only)
        result = call(fn, **ex, name=name)
        _compare_gradients(result, want, (ex["W_xh"], ex["W_hh"], ex["W_hy"]), loss_name)

    detail = "with a batch axis" if batch else "without a batch axis"
    msg = _code_check(question, name, fn, "agrees with torch autograd", agrees, rnn_examples(batch), 30,
                      diagnose=lambda: _diagnose(fn, last_only, batch))
    return passed(question, f"{msg.split(': ', 1)[-1]} ({detail}; tanh, sigmoid, relu; T = 1..6)")


def _positional(fn):
    """Call the student's function positionally (their parameter names may differ from ours)."""
    if fn is None or not callable(fn):
        return fn

    def call(x, targets, W_xh, W_hh, W_hy, activation):
        return fn(x, targets, W_xh, W_hh, W_hy, activation)

    return call


@question("BPTT for the last-step loss E_T", answers="bptt_last",
          hint="run the forward pass keeping every state, inject o_T - y_T at the last step only, and go back through time carrying the gradient at h")
def bptt_last(ask, fn, batch=False):
    """``fn(x, targets, W_xh, W_hh, W_hy, activation) -> (E_T, dW_xh, dW_hh, dW_hy)`` against torch autograd."""
    return _bptt_check(ask.title, "bptt_last", fn, True, batch)


@question("BPTT for the sequence loss L", answers="bptt",
          hint="like bptt_last, but every step's loss injects o_t - y_t; the gradients of all steps add up")
def bptt(ask, fn, batch=False):
    """``fn(x, targets, W_xh, W_hh, W_hy, activation) -> (L, dW_xh, dW_hh, dW_hy)`` against torch autograd."""
    return _bptt_check(ask.title, "bptt", fn, False, batch)


# --- the forward pass ---------------------------------------------------------------------------

def _mistaken_forward(x, W_xh, W_hh, W_hy, activation, *, transpose=True, recurrence=True, softmax_axis=-1,
                      softmax=True):
    x = np.asarray(x, float)
    h = np.zeros(x.shape[:-2] + (W_hh.shape[0],))
    hs = []
    for step in range(x.shape[-2]):
        h = ref.activate(x[..., step, :] @ W_xh + (h if recurrence else 0 * h) @ (W_hh if transpose else W_hh.T),
                         activation)
        hs.append(h)
    h = np.stack(hs, axis=-2)
    y = h @ W_hy
    if not softmax:
        return h, y
    e = np.exp(y - y.max(axis=softmax_axis, keepdims=True))
    return h, e / e.sum(axis=softmax_axis, keepdims=True)


_FORWARD_MISTAKES = [
    ({"transpose": False}, "h_t = g(W_xh^T x_t + W_hh^T h_{t-1}): with row vectors that is h_{t-1} @ W_hh, you "
                           "used W_hh transposed"),
    ({"recurrence": False}, "h_{t-1} is not fed back: each step must use the previous step's state (h_0 = 0)"),
    ({"softmax": False}, "o_t is the softmax of y_t = W_hy^T h_t (eq 3), you returned y_t"),
    ({"softmax_axis": -2}, "the softmax runs over the C classes of each step (the last axis), not over time"),
]


def _diagnose_forward(fn, batch):
    hints = []
    for activation in ACTIVATIONS:
        ex = _generic_example(activation, batch)
        args = (ex["x"], ex["W_xh"], ex["W_hh"], ex["W_hy"], activation)
        try:
            h, o = call(fn, *args)
            h, o = np.asarray(h, float), np.asarray(o, float)
        except Exception:  # noqa: BLE001
            return []
        for params, hint in _FORWARD_MISTAKES:
            wh, wo = _mistaken_forward(*args, **params)
            if h.shape == wh.shape and o.shape == wo.shape and _close(h, wh) and _close(o, wo):
                if hint not in hints:
                    hints.append(hint)
                break
    return hints


@question("RNN forward pass", answers="rnn_forward",
          hint="loop over the time axis: h_t = g(x_t W_xh + h_(t-1) W_hh) with h_0 = 0, then o_t = softmax(h_t W_hy) over the classes")
def rnn_forward(ask, fn, batch=False):
    """``fn(x, W_xh, W_hh, W_hy, activation) -> (h, o)`` against the reference forward pass (eqs 1-3)."""
    q = ask.title

    def agrees(x, targets, W_xh, W_hh, W_hy, activation):
        want = ref.forward(x, W_xh, W_hh, W_hy, activation)
        result = call(fn, x, W_xh, W_hh, W_hy, activation, name="rnn_forward")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Violation(f"rnn_forward must return (h, o), got {type(result).__name__}"
                            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
        for got, expected, what in ((result[0], want.h, "h (the hidden states)"),
                                    (result[1], want.o, "o (the softmax outputs)")):
            got = _as_array(got, what, expected.shape, "the leading axes of x, then H or C")
            if not _close(got, expected):
                raise Violation(f"{what} does not match eqs 1-3; {_largest_difference(got, expected)}",
                                expected=expected, got=got)

    msg = _code_check(q, "rnn_forward", fn, "agrees with eqs 1-3", agrees, rnn_examples(batch), 30,
                      diagnose=lambda: _diagnose_forward(fn, batch))
    detail = "with a batch axis" if batch else "without a batch axis"
    return passed(q, f"{msg.split(': ', 1)[-1]} ({detail}; tanh, sigmoid, relu; T = 1..6)")


hint = hints_of(__name__)
