"""reference.rnn against torch autograd (torch.nn.RNN where it exists), central finite differences and eq 7
read forwards; the bptt checks: right answers pass, wrong ones fail with the message that names the mistake."""
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.feedback import CheckFailed
from autograder.questions import bptt as Q
from reference import rnn as ref

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)
ACTS = ("tanh", "sigmoid", "relu")


# --- an independent oracle: torch.nn.RNN (tanh, relu) or a torch loop (sigmoid) -----------------------

def torch_rnn_loss(x, labels, W_xh, W_hh, W_hy, activation, last_only=False, h0=None):
    """Loss, gradients and hidden-state gradients dL/dh_t by torch autograd, float64.

    torch.nn.RNN computes h_t = g(x_t W_ih^T + h_{t-1} W_hh^T): its weights are the transposes of the
    thesis orientation used by reference.rnn (W_ih = W_xh^T, W_hh(torch) = W_hh^T)."""
    x = torch.tensor(np.asarray(x, float))
    batched = x.dim() == 3
    X = x if batched else x[None]
    Wx = torch.tensor(W_xh, requires_grad=True)
    Wh = torch.tensor(W_hh, requires_grad=True)
    Wy = torch.tensor(W_hy, requires_grad=True)
    B, T, D = X.shape
    H = Wx.shape[1]
    H0 = torch.zeros(1, B, H, dtype=torch.float64) if h0 is None else torch.tensor(h0).reshape(1, -1, H).expand(1, B, H)
    if activation in ("tanh", "relu"):
        rnn = torch.nn.RNN(D, H, nonlinearity=activation, bias=False, batch_first=True).double()
        out, _ = torch.func.functional_call(rnn, {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T}, (X, H0))
    else:
        h, outs = H0[0], []
        for t in range(T):
            h = torch.sigmoid(X[:, t] @ Wx + h @ Wh)
            outs.append(h)
        out = torch.stack(outs, 1)
    logp = torch.log_softmax(out @ Wy, -1)
    Y = torch.nn.functional.one_hot(torch.tensor(np.asarray(labels).reshape(B, T)), Wy.shape[1]).double()
    per_step = -(Y * logp).sum(-1)                     # (B, T)
    loss = per_step[:, -1].sum() if last_only else per_step.sum()
    loss.backward()
    return float(loss.detach()), Wx.grad.numpy(), Wh.grad.numpy(), Wy.grad.numpy()


def torch_dL_dh(x, labels, W_xh, W_hh, W_hy, activation):
    """dL/dh_t (the total derivative, through all later steps) by autograd: retain_grad on every state."""
    X = torch.tensor(np.asarray(x, float))
    g = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    Wx, Wh, Wy = (torch.tensor(W, requires_grad=True) for W in (W_xh, W_hh, W_hy))
    h, hs, loss = torch.zeros(X.shape[:-2] + (Wh.shape[0],), dtype=torch.float64), [], 0
    Y = torch.nn.functional.one_hot(torch.tensor(np.asarray(labels)), Wy.shape[1]).double()
    for t in range(X.shape[-2]):
        h = g(X[..., t, :] @ Wx + h @ Wh)
        h.retain_grad()
        hs.append(h)
        loss = loss - (Y[..., t, :] * torch.log_softmax(h @ Wy, -1)).sum()
    loss.backward()
    return np.stack([h.grad.numpy() for h in hs], axis=-2)


def rnns(max_T=8, floats=False):
    """(x, labels, W_xh, W_hh, W_hy, activation, batch) with D, H in 1..4, C in 2..4, T in 1..max_T."""
    def elems(lo, hi):
        return st.floats(lo, hi, allow_nan=False, allow_subnormal=False) if floats else \
            st.integers(int(lo * 10), int(hi * 10)).map(lambda k: k / 10)

    def build(dims):
        D, H, C, T, act, B = dims
        lead = (B, T) if B else (T,)
        return st.tuples(hnp.arrays(np.float64, lead + (D,), elements=elems(-2, 2)),
                         hnp.arrays(np.int64, lead, elements=st.integers(0, C - 1)),
                         hnp.arrays(np.float64, (D, H), elements=elems(-1.5, 1.5)),
                         hnp.arrays(np.float64, (H, H), elements=elems(-1.5, 1.5)),
                         hnp.arrays(np.float64, (H, C), elements=elems(-1.5, 1.5)),
                         st.just(act))

    return st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(2, 4), st.integers(1, max_T),
                     st.sampled_from(ACTS), st.none() | st.integers(1, 3)).flatmap(build)


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# --- the reference against autograd and finite differences ----------------------------------------

@FAST
@given(rnns(), st.booleans())
def test_bptt_equals_torch_autograd(case, last_only):
    x, labels, W_xh, W_hh, W_hy, act = case
    want = torch_rnn_loss(x, labels, W_xh, W_hh, W_hy, act, last_only)
    got = ref.bptt(x, labels, W_xh, W_hh, W_hy, act, last_only=last_only)
    for g, w in zip(got, want):
        close(g, w)
    # the same with one-hot targets instead of labels
    got1 = ref.bptt(x, ref.one_hot(labels, W_hy.shape[1]), W_xh, W_hh, W_hy, act, last_only=last_only)
    for g, w in zip(got1, got):
        close(g, w, 1e-12)


@FAST
@given(rnns())
def test_hidden_deltas_are_dL_dh_by_autograd(case):
    """MIT's delta_t = dLoss_t/dh_t + dF_t/dh_t is the total derivative dL/dh_t."""
    x, labels, W_xh, W_hh, W_hy, act = case
    close(ref.hidden_deltas(x, labels, W_xh, W_hh, W_hy, act), torch_dL_dh(x, labels, W_xh, W_hh, W_hy, act))


@FAST
@given(rnns(max_T=6))
def test_last_step_bptt_equals_eq7_forward_recursion(case):
    x, labels, W_xh, W_hh, W_hy, act = case
    backward = ref.bptt_last(x, labels, W_xh, W_hh, W_hy, act)
    forward_mode = ref.last_step_gradients_by_recursion(x, labels, W_xh, W_hh, W_hy, act)
    for g, w in zip(backward, forward_mode):
        close(g, w)
    for g, w in zip(backward, torch_rnn_loss(x, labels, W_xh, W_hh, W_hy, act, last_only=True)):
        close(g, w)


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(rnns(max_T=5, floats=True), st.booleans())
def test_bptt_equals_central_finite_differences(case, last_only):
    x, labels, W_xh, W_hh, W_hy, act = case
    if act == "relu":  # finite differences straddle the kink when a pre-activation is near 0
        z = Q._preactivations(x, W_xh, W_hh, "relu")
        assume(np.min(np.abs(z)) > 1e-3)
    got = ref.bptt(x, labels, W_xh, W_hh, W_hy, act, last_only=last_only)
    num = ref.numerical_gradients(x, labels, W_xh, W_hh, W_hy, act, last_only=last_only)
    assert got.loss == pytest.approx(num.loss)
    for g, n in zip(got[1:], num[1:]):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("act", ACTS)
def test_fixed_sizes_against_finite_differences(act):
    """A mid-sized case for each activation: relative errors as CS231n's gradient check reports them."""
    rng = np.random.default_rng(3)
    x, labels = rng.normal(size=(3, 7, 4)), rng.integers(0, 5, size=(3, 7))
    W = [rng.normal(0, 0.6, s) for s in ((4, 6), (6, 6), (6, 5))]
    got, num = ref.bptt(x, labels, *W, act), ref.numerical_gradients(x, labels, *W, act)
    assert max(ref.relative_error(g, n) for g, n in zip(got[1:], num[1:])) < 1e-6


def test_batch_is_the_sum_of_its_sequences():
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(3, 5, 2)), rng.integers(0, 3, size=(3, 5))
    W = [rng.normal(size=s) for s in ((2, 4), (4, 4), (4, 3))]
    whole = ref.bptt(x, labels, *W, "tanh")
    parts = [ref.bptt(x[b], labels[b], *W, "tanh") for b in range(3)]
    for k in range(4):
        close(whole[k], sum(p[k] for p in parts))


def test_initial_state_h0():
    rng = np.random.default_rng(2)
    x, labels, h0 = rng.normal(size=(4, 2)), rng.integers(0, 3, size=4), rng.normal(size=3)
    W = [rng.normal(size=s) for s in ((2, 3), (3, 3), (3, 3))]
    for g, w in zip(ref.bptt(x, labels, *W, "tanh", h0=h0), torch_rnn_loss(x, labels, *W, "tanh", h0=h0)):
        close(g, w)
    fwd = ref.forward(x, *W, "tanh", h0=h0)
    close(fwd.h[0], np.tanh(x[0] @ W[0] + h0 @ W[1]))
    close(fwd.o.sum(-1), np.ones(4))


def test_forward_is_eqs_1_to_3_and_softmax_is_stable():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2))
    W = [rng.normal(size=s) for s in ((2, 3), (3, 3), (3, 2))]
    fwd = ref.forward(x, *W, "sigmoid")
    h = np.zeros(3)
    for t in range(3):
        h = 1 / (1 + np.exp(-(x[t] @ W[0] + h @ W[1])))
        close(fwd.h[t], h)
        close(fwd.y[t], h @ W[2])
        close(fwd.o[t], np.exp(h @ W[2]) / np.exp(h @ W[2]).sum())
    assert np.all(np.isfinite(ref.softmax(np.array([1000.0, -1000.0, 0.0]))))
    assert np.all(np.isfinite(ref.activate(np.array([-800.0, 800.0]), "sigmoid")))


def test_loss_is_exact_where_the_softmax_underflows():
    """ReLU states can grow until softmax(y) is exactly 0 in float64: the loss uses log-softmax, as torch."""
    x, labels = np.array([[30.0], [30.0], [30.0]]), np.array([1, 1, 1])
    W = (np.array([[2.0]]), np.array([[3.0]]), np.array([[1.0, -1.0]]))
    assert ref.softmax(ref.forward(x, *W, "relu").y)[-1, 1] == 0.0
    got, want = ref.bptt(x, labels, *W, "relu"), torch_rnn_loss(x, labels, *W, "relu")
    for g, w in zip(got, want):
        close(g, w)
    assert Q._too_peaked({"x": x, "W_xh": W[0], "W_hh": W[1], "W_hy": W[2], "activation": "relu"})


def test_output_activation_g_y():
    rng = np.random.default_rng(5)
    x, labels = rng.normal(size=(4, 2)), rng.integers(0, 3, size=4)
    W = [rng.normal(size=s) for s in ((2, 3), (3, 3), (3, 3))]
    got = ref.bptt(x, labels, *W, "tanh", output_activation="tanh")
    Ws = [w.copy() for w in W]
    f = lambda _: ref.loss(x, labels, *Ws, "tanh", output_activation="tanh")  # noqa: E731
    for g, w in zip(got[1:], Ws):
        assert ref.relative_error(g, ref.eval_numerical_gradient(f, w)) < 1e-6


# --- the scalar RNN in SymPy ----------------------------------------------------------------------

def test_scalar_recursion_is_sympys_derivative():
    xs = sp.symbols("x1:5")
    h0, wx, wh = sp.symbols("h0 w_x w_h")
    hs = ref.scalar_states(xs, h0, wx, wh, sp.tanh)
    ds = ref.scalar_dh_dwh_recursion(xs, h0, wx, wh, sp.tanh, lambda z: 1 - sp.tanh(z) ** 2)
    point = {h0: 0.3, wx: -0.7, wh: 1.1, **dict(zip(xs, (0.5, -1.2, 0.8, 2.0)))}
    for h, d in zip(hs, ds):
        assert float(d.subs(point)) == pytest.approx(float(sp.diff(h, wh).subs(point)), rel=1e-12)


def test_eq6_is_derived_by_sympy():
    expected = Q.dE_dh * Q.g_prime * (Q.h_prev + Q.w_h * Q.dhprev_dwh)
    assert sp.expand(Q._eq6_expected() - expected) == 0


# --- input validation ---------------------------------------------------------------------------------

X, L = np.zeros((3, 2)), np.zeros(3, dtype=int)
W3 = (np.zeros((2, 4)), np.zeros((4, 4)), np.zeros((4, 3)))


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: ref.bptt(np.zeros(3), L, *W3), ValueError, "x: expected 2 or 3 dimension"),
    (lambda: ref.bptt(np.zeros((0, 2)), L[:0], *W3), ValueError, "at least one time step"),
    (lambda: ref.bptt(X, L, np.zeros((3, 4)), *W3[1:]), ValueError, r"W_xh: expected shape \(D, H\) with D = 2"),
    (lambda: ref.bptt(X, L, W3[0], np.zeros((4, 3)), W3[2]), ValueError, r"W_hh: expected shape \(H, H\)"),
    (lambda: ref.bptt(X, L, *W3[:2], np.zeros((5, 3))), ValueError, "W_hy: expected shape"),
    (lambda: ref.bptt(X, L, *W3, activation="softplus"), ValueError, "activation: expected one of"),
    (lambda: ref.bptt(X, L, *W3, activation=np.tanh), TypeError, "activation: expected one of"),
    (lambda: ref.bptt(X, np.zeros((3, 2)), *W3), ValueError, r"targets: expected shape \(3, 3\)"),
    (lambda: ref.bptt(X, np.array([0, 1, 3]), *W3), ValueError, r"class indices in \[0, 3\)"),
    (lambda: ref.bptt(X, None, *W3), TypeError, "targets"),
    (lambda: ref.bptt(None, L, *W3), TypeError, "x: expected an array"),
    (lambda: ref.bptt(np.full((3, 2), np.nan), L, *W3), ValueError, "finite"),
    (lambda: ref.forward(X, *W3, h0=np.zeros(5)), ValueError, r"h0: expected shape \(4,\)"),
    (lambda: ref.forward(X, *W3, output_activation="softmax"), ValueError, "output_activation"),
    (lambda: ref.eval_numerical_gradient(lambda v: 0.0, [1.0, 2.0]), TypeError, "float numpy array"),
    (lambda: ref.eval_numerical_gradient(None, np.zeros(2)), TypeError, "f: expected a function"),
    (lambda: ref.eval_numerical_gradient(lambda v: 0.0, np.zeros(2), h=0), ValueError, "positive step"),
    (lambda: ref.relative_error(np.zeros(2), np.zeros(3)), ValueError, "same shape"),
    (lambda: ref.one_hot(np.array([0.5]), 3), TypeError, "integers"),
])
def test_bad_input_is_named(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    g = ref.eval_numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.5, -1.0], [2.0, 0.1]])  # restored after perturbing in place
    assert ref.relative_error(np.ones(2), np.ones(2)) == 0.0
    assert ref.relative_error(np.array([1.0]), np.array([-1.0])) == 1.0


# --- the code checks -------------------------------------------------------------------------------------

def forward_right(x, W_xh, W_hh, W_hy, activation):
    f = ref.forward(x, W_xh, W_hh, W_hy, activation)
    return f.h, f.o


def mistaken_forward(**kw):
    return lambda x, W_xh, W_hh, W_hy, act: Q._mistaken_forward(x, W_xh, W_hh, W_hy, act, **kw)


def test_forward_check_accepts_the_reference():
    Q.rnn_forward(forward_right)
    Q.rnn_forward(forward_right, batch=True)


@pytest.mark.parametrize("wrong, fragment", [
    (mistaken_forward(transpose=False), "you used W_hh transposed"),
    (mistaken_forward(recurrence=False), "h_{t-1} is not fed back"),
    (mistaken_forward(softmax=False), "you returned y_t"),
    (mistaken_forward(softmax_axis=-2), "not over time"),
    (lambda *a: forward_right(*a)[1], "must return \\(h, o\\)"),
    (lambda x, *a: (np.zeros((1, 1)), np.zeros((1, 1))), "wrong shape"),
    (None, "no answer yet"),
])
def test_forward_check_rejects(wrong, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        Q.rnn_forward(wrong)


def mistaken(last_only=False, **kw):
    """A wrong BPTT from the catalogue (with the right loss, so that the gradients are compared)."""
    def fn(x, targets, W_xh, W_hh, W_hy, activation):
        loss = ref.bptt(x, targets, W_xh, W_hh, W_hy, activation, last_only=last_only).loss
        return (loss,) + Q._mistaken_bptt(x, targets, W_xh, W_hh, W_hy, activation, last_only=last_only, **kw)
    return fn


def test_bptt_checks_accept_the_reference():
    Q.bptt(lambda *a: ref.bptt(*a))
    Q.bptt(lambda *a: ref.bptt(*a), batch=True)
    Q.bptt_last(lambda *a: ref.bptt_last(*a))
    Q.bptt_last(lambda *a: ref.bptt_last(*a), batch=True)
    # parameter names of the student's own choosing, and lists instead of tuples
    Q.bptt(lambda inputs, ys, A, Bm, Cm, act: list(ref.bptt(inputs, ys, A, Bm, Cm, act)))


@pytest.mark.parametrize("wrong, fragment", [
    (mistaken(carry=False), r"dW_xh .*not match torch autograd[\s\S]*recurrent delta is not carried back"),
    (mistaken(prev_state=False), r"dW_hh does not match[\s\S]*dW_hh \+= h_\{t-1\}\^T dz_t"),
    (mistaken(deriv="value"), r"instead of the derivative g'\(z_t\)"),
    (mistaken(deriv="of_z"), r"applied to the pre-activation z_t"),
    (mistaken(deriv="tanh_formula"), r"tanh's derivative 1 - h_t\^2 for another activation"),
    (mistaken(deriv="none"), r"g'\(z_t\) is missing"),
    (mistaken(dy_rule="o"), r"not match torch autograd[\s\S]*the -y_t is missing"),
    (mistaken(dy_rule="-y/o"), r"softmax-cross-entropy shortcut"),
    (mistaken(dy_rule="y-o"), r"sign: dL/dy_t = o_t - y_t"),
    (mistaken(transpose=False), r"W_hh without the transpose"),
    (mistaken(last_only=True), r"only backpropagate the last step's loss"),
    (lambda x, t, *w: (0.0,) + mistaken()(x, t, *w)[1:], r"the loss L = -sum_t y_t \. log o_t is wrong"),
    (lambda *a: mistaken()(*a)[1:], r"must return \(loss, dW_xh, dW_hh, dW_hy\)"),
    (lambda x, t, Wx, Wh, Wy, a: (ref.bptt(x, t, Wx, Wh, Wy, a).loss, Wx, np.zeros((7, 7)), Wy), "dW_hh: wrong shape"),
    (None, "no answer yet"),
    (lambda *a: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda *a: 1 / 0, "ZeroDivisionError"),
    (42, "expected a function `bptt`, got an int"),
])
def test_bptt_check_rejects_and_names_the_mistake(wrong, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        Q.bptt(wrong)


def test_batch_mean_is_caught_only_with_a_batch():
    with pytest.raises(CheckFailed, match="sum of the sequence losses here, not the mean"):
        Q.bptt(mistaken(batch_mean=True), batch=True)


@pytest.mark.parametrize("wrong, fragment", [
    (mistaken(last_only=True, carry=False), r"recurrent delta is not carried back"),
    (mistaken(last_only=True, prev_state=False), r"dW_hh \+= h_\{t-1\}\^T dz_t"),
    (mistaken(last_only=True, deriv="value"), r"instead of the derivative"),
    (mistaken(last_only=False), r"this question asks for E_T, the last step's loss only"),
    (lambda *a: ref.bptt(*a), r"the loss E_T = -y_T \. log o_T is wrong"),
])
def test_bptt_last_check_rejects_and_names_the_mistake(wrong, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        Q.bptt_last(wrong)


def test_failure_shows_the_shrunk_counterexample():
    with pytest.raises(CheckFailed) as err:
        Q.bptt(mistaken(carry=False))
    text = str(err.value)
    assert "smallest" in text and "x = " in text and "activation = 'tanh'" in text
    assert "largest difference" in text and "expected:" in text and "yours:" in text


def test_relu_kinks_are_not_graded():
    """At z = 0 exactly, relu' is a convention (torch: 0); a student using 1[z >= 0] must not fail for it."""
    def ge_zero(x, t, Wx, Wh, Wy, act):
        if act != "relu":
            return ref.bptt(x, t, Wx, Wh, Wy, act)
        loss = ref.bptt(x, t, Wx, Wh, Wy, act).loss
        X, Y = (x, t) if x.ndim == 3 else (x[None], t[None])
        h, hs, zs = np.zeros((X.shape[0], Wh.shape[0])), [], []
        hs.append(h)
        for s in range(X.shape[1]):
            z = X[:, s] @ Wx + h @ Wh
            h = np.maximum(z, 0)
            zs.append(z)
            hs.append(h)
        dWx, dWh, dWy, dF = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wy), 0
        for s in reversed(range(X.shape[1])):
            dy = ref.softmax(hs[s + 1] @ Wy) - Y[:, s]
            dWy += hs[s + 1].T @ dy
            dz = (dy @ Wy.T + dF) * (zs[s] >= 0)
            dWx += X[:, s].T @ dz
            dWh += hs[s].T @ dz
            dF = dz @ Wh.T
        return loss, dWx, dWh, dWy
    Q.bptt(ge_zero)


# --- the symbolic questions: >= 5 equivalent forms accepted, >= 5 wrong forms rejected -------------------

D_, G_, P_, W_, H_ = Q.dE_dh, Q.g_prime, Q.dhprev_dwh, Q.w_h, Q.h_prev
EQ6_RIGHT = [
    D_ * G_ * (H_ + W_ * P_),
    D_ * G_ * H_ + D_ * G_ * W_ * P_,
    G_ * (D_ * H_) + W_ * (P_ * G_ * D_),
    (H_ + W_ * P_) * G_ * D_ + 0 * Q.x_T,
    sp.Matrix([[D_ * G_ * (H_ + W_ * P_)]]),
    "dE_dh*g_prime*(h_prev + w_h*dhprev_dwh)",
    sp.expand(D_ * G_ * (H_ + W_ * P_) * (Q.w_x + 1)) - D_ * G_ * (H_ + W_ * P_) * Q.w_x,
    # the student's own symbols, without real=True
    sp.Symbol("dE_dh") * sp.Symbol("g_prime") * (sp.Symbol("h_prev") + sp.Symbol("w_h") * sp.Symbol("dhprev_dwh")),
]
EQ6_WRONG = [
    (D_ * G_ * W_ * P_, "direct term is missing"),
    (D_ * (H_ + W_ * P_), "g' is missing"),
    (D_ * G_ * (H_ + P_), "w_h is missing on the recurrent path"),
    (D_ * G_ * H_, "recurrent path is missing"),
    (D_ * (G_ * H_ + W_ * P_), "on the direct term only"),
    (G_ * (H_ + W_ * P_), "the first factor is missing"),
    (D_ * G_ * (Q.x_T + W_ * P_), "x_T is dz_T/dw_x"),
    (-D_ * G_ * (H_ + W_ * P_), "wrong sign"),
    (2 * D_ * G_ * (H_ + W_ * P_), "2 times"),
    (D_ * G_ * (H_ + W_ * P_) + sp.Symbol("z_T"), "z_T, which the question does not define"),
    (None, "no answer yet"),
    (np.ones(2), "numpy array"),
]


def test_eq6_accepts_equivalent_forms():
    assert len(EQ6_RIGHT) >= 5
    for answer in EQ6_RIGHT:
        Q.eq6(answer)


@pytest.mark.parametrize("answer, fragment", EQ6_WRONG, ids=range(len(EQ6_WRONG)))
def test_eq6_rejects_wrong_forms_with_a_targeted_hint(answer, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        Q.eq6(answer)


h0, x1, x2, x3, wx, wh = Q.h0, Q.x1, Q.x2, Q.x3, Q.w_x, Q.w_h
_h1 = sp.tanh(wx * x1 + wh * h0)
_h2 = sp.tanh(wx * x2 + wh * _h1)
_h3 = sp.tanh(wx * x3 + wh * _h2)


def _rec(gp):
    d1 = gp(wx * x1 + wh * h0) * h0
    d2 = gp(wx * x2 + wh * _h1) * (_h1 + wh * d1)
    return gp(wx * x3 + wh * _h2) * (_h2 + wh * d2)


T3_RIGHT = [
    _rec(lambda z: 1 - sp.tanh(z) ** 2),
    _rec(lambda z: sp.sech(z) ** 2),
    _rec(lambda z: 1 / sp.cosh(z) ** 2),
    _rec(lambda z: sp.diff(sp.tanh(sp.Symbol("u")), sp.Symbol("u")).subs(sp.Symbol("u"), z)),
    sp.diff(_h3, wh),
    sp.expand(_rec(lambda z: 1 - sp.tanh(z) ** 2)),
    _rec(lambda z: 4 / (sp.exp(z) + sp.exp(-z)) ** 2),
    # plain (assumption-free) symbols of the same names
    _rec(lambda z: 1 - sp.tanh(z) ** 2).xreplace({s: sp.Symbol(s.name) for s in (h0, x1, x2, x3, wx, wh)}),
]
T3_WRONG = [
    (_rec(lambda z: 1 - z ** 2), "not 1 - z\\^2"),
    (_rec(lambda z: sp.tanh(z)), "not tanh\\(z\\)"),
    (_rec(lambda z: sp.sech(z)), "forgot the square"),
    (_rec(lambda z: 1), "tanh'\\(z_t\\) = 1 - tanh\\(z_t\\)\\^2 is missing"),
    ((1 - _h3 ** 2) * _h2, "only the direct term of the last step"),
    (sp.diff(_h3, wx), "that is dh_3/dw_x"),
    (-sp.diff(_h3, wh), "wrong sign"),
    (2 * sp.diff(_h3, wh), "constant factor"),
    ((1 - _h3 ** 2) * (_h2 + (1 - _h2 ** 2) * (_h1 + (1 - _h1 ** 2) * h0)), "w_h is missing on the recurrent path"),
    ((1 - _h3 ** 2) * (_h2 + wh * (1 - _h2 ** 2) * _h1), "stopped one step early"),
    (sp.diff(_h3, wh) + sp.Symbol("h2"), "Intermediate states are Python variables"),
    (sp.diff(_h3, wh) + x1 * 1e-3, "not equal to dh_3/dw_h. Counterexample"),
    (sp.Function("f")(wh), "unevaluated function"),
    (sp.Matrix([1, 2]), "matrix of shape"),
    (None, "no answer yet"),
]


def test_unrolled_t3_accepts_equivalent_forms():
    assert len(T3_RIGHT) >= 5
    for answer in T3_RIGHT:
        Q.unrolled_t3(answer)


@pytest.mark.parametrize("answer, fragment", T3_WRONG, ids=range(len(T3_WRONG)))
def test_unrolled_t3_rejects_wrong_forms_with_a_targeted_hint(answer, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        Q.unrolled_t3(answer)


@pytest.mark.parametrize("answer", ["E", "e", " (E) ", "E."])
def test_vanishing_term_accepts_e(answer):
    Q.vanishing_term(answer)


@pytest.mark.parametrize("answer, fragment", [
    ("A", "appears once, at the last step"), ("B", "softmax Jacobian appears once"), ("C", "W_hy appears once"),
    ("D", "added"), ("F", "unknown option"), ("D, E", "choose one option"), (5, "should be option letters"),
    (None, "no answer yet"),
])
def test_vanishing_term_rejects(answer, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        Q.vanishing_term(answer)


def test_unrolled_t3_rejects_an_answer_right_only_for_small_values():
    """The sample points reach h0 and x_t of size 100 (with weights as small as 0.01): capping h0 at 5, or x_t
    at 10, changes nothing at values of order one and is wrong there."""
    h0, x1 = Q._T3_SYMBOLS["h0"], Q._T3_SYMBOLS["x1"]
    right = Q._t3_expected()
    Q.unrolled_t3(right)
    for capped in (right.subs(h0, sp.Max(sp.Min(h0, 5), -5)), right.subs(x1, sp.Max(sp.Min(x1, 10), -10))):
        with pytest.raises(CheckFailed, match="not equal to dh_3/dw_h|constant factor|wrong sign"):
            Q.unrolled_t3(capped)
    values = Q._t3_values(np.random.default_rng(2024), 20)
    assert np.abs(values["h0"]).max() > 10 and np.abs(values["x1"]).max() > 10 and np.abs(values["w_h"]).min() < 0.1
