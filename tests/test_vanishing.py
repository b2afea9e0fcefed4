"""Tests of ``reference.vanishing`` (against torch autograd, finite differences and torch's own LSTM and
clipping) and of the ``vanishing`` assignment's checks (``autograder.questions.vanishing``)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.feedback import CheckFailed, Passed
from autograder.properties import arrays, decimals
from autograder.questions import vanishing as check
from reference import vanishing as ref

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def rnns(max_h=4, max_t=5, low=-2.0, high=2.0):
    """Small random RNNs with every activation (pre-activations kept away from ReLU's kink)."""
    def build(dims):
        H, D, T = dims
        return st.fixed_dictionaries({
            "W_xh": arrays((D, H), low, high), "W_hh": arrays((H, H), low, high), "xs": arrays((T, D), -2, 2),
            "h0": arrays((H,), -1, 1), "activation": st.sampled_from(ref.ACTIVATIONS)})

    def no_kink(ex):
        _, pre = ref.rnn_forward(ex["W_xh"], ex["W_hh"], ex["xs"], ex["h0"], ex["activation"])
        return ex["activation"] != "relu" or bool(np.all(np.abs(pre) > 1e-3))

    return st.tuples(st.integers(1, max_h), st.integers(1, 3), st.integers(1, max_t)).flatmap(build).filter(no_kink)


# === the Jacobian chain =========================================================================

@FAST
@given(rnns())
def test_jacobian_chain_matches_autograd(net):
    T = len(net["xs"])
    for t in range(T + 1):
        args = (net["W_xh"], net["W_hh"], net["xs"], t, net["h0"], net["activation"])
        np.testing.assert_allclose(ref.jacobian_chain(*args), ref.jacobian_chain_autograd(*args), atol=1e-10)


def test_jacobian_chain_matches_finite_differences():
    net = ref.random_rnn(5, 3, 6, 1.2, seed=4)
    t, eps = 2, 1e-6
    hs, _ = ref.rnn_forward(net["W_xh"], net["W_hh"], net["xs"], net["h0"])

    def h_T(h_t):
        h = h_t
        for k in range(t + 1, 7):
            h = np.tanh(net["xs"][k - 1] @ net["W_xh"] + h @ net["W_hh"])
        return h

    fd = np.stack([(h_T(hs[t] + eps * e) - h_T(hs[t] - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(ref.jacobian_chain(net["W_xh"], net["W_hh"], net["xs"], t, net["h0"]), fd, atol=1e-8)


def test_jacobian_chain_conventions():
    net = ref.random_rnn(4, 2, 5, 0.9, seed=0)
    args = (net["W_xh"], net["W_hh"], net["xs"])
    np.testing.assert_array_equal(ref.jacobian_chain(*args, 5, net["h0"]), np.eye(4))  # t = T: identity
    _, pre = ref.rnn_forward(*args, net["h0"])
    one = ref.jacobian_chain(*args, 4, net["h0"])  # a single factor diag(g'(a_T)) W_hh^T
    np.testing.assert_allclose(one, np.diag(1 - np.tanh(pre[-1]) ** 2) @ net["W_hh"].T)
    norms = ref.jacobian_norms(*args, net["h0"])
    direct = [np.linalg.norm(ref.jacobian_chain(*args, 5 - n, net["h0"]), 2) for n in range(6)]
    np.testing.assert_allclose(norms, direct)


def test_rnn_forward_matches_torch_rnn():
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 4, bias=False, batch_first=True).double()
    xs = torch.randn(1, 6, 3, dtype=torch.float64)
    out, _ = rnn(xs)
    # torch: h_k = tanh(x_k W_ih^T + h_{k-1} W_hh^T); thesis orientation: W_xh = W_ih^T, W_hh = W_hh(torch)^T
    hs, _ = ref.rnn_forward(rnn.weight_ih_l0.detach().numpy().T, rnn.weight_hh_l0.detach().numpy().T, xs[0].numpy())
    np.testing.assert_allclose(hs[1:], out[0].detach().numpy(), atol=1e-12)


# === the bound and the rates ====================================================================

@FAST
@given(rnns(max_h=4, max_t=6, low=-3.0, high=3.0))
def test_norm_never_exceeds_the_bound(net):
    norms = ref.jacobian_norms(net["W_xh"], net["W_hh"], net["xs"], net["h0"], net["activation"])
    bound = ref.predicted_bound(net["W_hh"], np.arange(norms.size), net["activation"])
    assert np.all(norms <= bound * (1 + 1e-9) + 1e-12)


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 1.5])
def test_identity_with_orthogonal_weights_sits_on_the_bound(rho):
    net = ref.random_rnn(8, 3, 20, rho, seed=3)
    norms = ref.jacobian_norms(net["W_xh"], net["W_hh"], net["xs"], net["h0"], "identity")
    np.testing.assert_allclose(norms, rho ** np.arange(21), rtol=1e-9)
    assert ref.fit_log_slope(norms) == pytest.approx(np.log(rho), abs=1e-9)
    assert ref.sigma_max(net["W_hh"]) == pytest.approx(rho) == pytest.approx(ref.spectral_radius(net["W_hh"]))


def test_experiment_network_numbers():
    """The numbers the notebook is about: bound > 1 for tanh but the measured chain vanishes."""
    net = check.EXPERIMENT_NETWORK
    W = net["W_hh"]
    with pytest.raises(ValueError, match="read-only"):
        W[0, 0] = 1.0   # the notebook's cells and the checks share it: nobody changes it in place
    assert ref.spectral_radius(W) < 1 < ref.sigma_max(W)
    for act in ("tanh", "sigmoid"):
        slope = ref.fit_log_slope(ref.jacobian_norms(net["W_xh"], W, net["xs"], net["h0"], act))
        assert slope < 0
        assert np.exp(slope) < ref.bound_rate(W, act)
    assert ref.bound_rate(W, "tanh") > 1 > ref.bound_rate(W, "sigmoid")


def test_gradient_contributions_sum_to_autograd():
    net = ref.random_rnn(5, 3, 8, 1.1, seed=2)
    dL = np.random.default_rng(0).normal(size=5)
    for act in ref.ACTIVATIONS:
        C = ref.gradient_contributions(net["W_xh"], net["W_hh"], net["xs"], dL, net["h0"], act)
        W = torch.tensor(net["W_hh"], requires_grad=True)
        h = torch.tensor(net["h0"])
        for x in torch.tensor(net["xs"]):
            h = ref._torch_activation(act)(x @ torch.tensor(net["W_xh"]) + h @ W)
        (h @ torch.tensor(dL)).backward()
        np.testing.assert_allclose(C.sum(0), W.grad.numpy(), atol=1e-12)
        shares = [ref.long_range_share(C, k) for k in range(9)]
        assert shares[0] <= 1 and all(a >= b for a, b in zip(shares, shares[1:])) and shares[7] == 0


def test_long_range_share_shrinks_with_vanishing():
    net = ref.random_rnn(8, 3, 30, 0.5, seed=0)
    C = ref.gradient_contributions(net["W_xh"], net["W_hh"], net["xs"], np.ones(8), net["h0"], "tanh")
    assert ref.long_range_share(C, 10) < 1e-3
    net = ref.random_rnn(8, 3, 30, 1.0, seed=0)
    C = ref.gradient_contributions(net["W_xh"], net["W_hh"], net["xs"], np.ones(8), net["h0"], "identity")
    assert ref.long_range_share(C, 10) > 0.3


# === clipping ===================================================================================

def grad_lists():
    shape = st.one_of(st.just(()), st.tuples(st.integers(1, 4)), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return st.tuples(st.lists(shape.flatmap(lambda s: arrays(s, -50, 50)), min_size=1, max_size=4),
                     decimals(0.1, 20.0))


@FAST
@given(grad_lists())
def test_clipping_matches_torch(case):
    grads, max_norm = case
    clipped, total = ref.clip_by_global_norm(grads, max_norm)
    want, want_total = check._torch_clip(grads, max_norm)
    assert total == pytest.approx(want_total, rel=1e-12, abs=1e-12)
    for a, b in zip(clipped, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    after = np.sqrt(sum(np.sum(c ** 2) for c in clipped))
    assert after == pytest.approx(min(total, max_norm), rel=1e-5, abs=1e-9)
    flat, flat_c = np.concatenate([np.ravel(g) for g in grads]), np.concatenate([np.ravel(c) for c in clipped])
    if total > 0:  # one common, positive factor: the direction is kept
        factor = flat_c @ flat / (flat @ flat)
        np.testing.assert_allclose(flat_c, factor * flat, atol=1e-12)
        assert 0 < factor <= 1


def test_clipping_leaves_inputs_alone():
    g = [np.array([3.0, 4.0])]
    out, total = ref.clip_by_global_norm(g, 1.0)
    assert total == 5.0 and np.array_equal(g[0], [3.0, 4.0])
    np.testing.assert_allclose(out[0], np.array([3.0, 4.0]) / (5 + 1e-6))


# === the LSTM ===================================================================================

def test_lstm_forward_matches_torch_lstm():
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 5, batch_first=True).double()
    xs = torch.randn(1, 7, 3, dtype=torch.float64)
    out, (h, c) = lstm(xs)
    fw = ref.lstm_forward(ref.lstm_params_from_torch(lstm), xs[0].numpy())
    np.testing.assert_allclose(fw["h"][1:], out[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(fw["c"][-1], c[0, 0].detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_one_step_cell_jacobian_mit_formula_matches_autograd(seed):
    p = ref.lstm_params(4, 3, forget_bias=0.5, scale=1.5, seed=seed)
    xs = np.random.default_rng(seed).normal(size=(5, 3))
    for k in range(1, 6):
        np.testing.assert_allclose(ref.lstm_one_step_cell_jacobian(p, xs, k),
                                   ref.lstm_cell_jacobian(p, xs[:k], k - 1), atol=1e-12)


def test_lstm_cell_jacobian_matches_finite_differences():
    p = ref.lstm_params(3, 2, forget_bias=1.0, scale=1.0, seed=5)
    xs = np.random.default_rng(5).normal(size=(6, 2))
    t, eps = 2, 1e-6
    fw = ref.lstm_forward(p, xs)
    H = 3

    def c_T(c_t):
        h, c = fw["o"][t - 1] * np.tanh(c_t), c_t
        for k in range(t + 1, 7):
            z = xs[k - 1] @ p["W_x"] + h @ p["W_h"] + p["b"]
            s = 1 / (1 + np.exp(-z))
            c = s[H:2 * H] * c + s[:H] * np.tanh(z[2 * H:3 * H])
            h = s[3 * H:] * np.tanh(c)
        return c

    fd = np.stack([(c_T(fw["c"][t] + eps * e) - c_T(fw["c"][t] - eps * e)) / (2 * eps) for e in np.eye(H)], axis=1)
    np.testing.assert_allclose(ref.lstm_cell_jacobian(p, xs, t), fd, atol=1e-8)


def test_direct_path_is_the_product_of_forget_gates():
    p = ref.lstm_params(4, 3, forget_bias=2.0, seed=0)
    xs = np.random.default_rng(0).normal(size=(6, 3))
    fw = ref.lstm_forward(p, xs)
    np.testing.assert_allclose(ref.lstm_direct_path(p, xs, 2), np.diag(fw["f"][2:].prod(0)))
    p0 = dict(p, W_h=np.zeros_like(p["W_h"]))  # no hidden-to-gate weights: no indirect paths, full == direct
    np.testing.assert_allclose(ref.lstm_cell_jacobian(p0, xs, 2), ref.lstm_direct_path(p0, xs, 2), atol=1e-12)


def test_high_forget_bias_keeps_the_cell_gradient_while_the_vanilla_chain_vanishes():
    T = 30
    xs = np.random.default_rng(0).normal(size=(T, 4))
    high = ref.lstm_cell_jacobian_norms(ref.lstm_params(8, 4, forget_bias=5.0, seed=0), xs)
    low = ref.lstm_cell_jacobian_norms(ref.lstm_params(8, 4, forget_bias=0.0, seed=0), xs)
    vanilla = ref.random_rnn(8, 4, T, 0.9, seed=0)
    chain = ref.jacobian_norms(vanilla["W_xh"], vanilla["W_hh"], vanilla["xs"], vanilla["h0"])
    assert high["direct"][-1] > 0.7 and high["full"][-1] > 0.7
    assert chain[-1] < 1e-3 and low["full"][-1] < 1e-3


def test_scalar_symbolic_cell_matches_the_numeric_cell():
    L = ref.scalar_lstm_cell_symbolic()
    vals = dict(c_prev=0.3, o_prev=0.6, x=-0.4, w_f=0.7, u_f=0.2, b_f=1.0, w_i=-0.5, u_i=0.4, b_i=0.1,
                w_g=0.9, u_g=-0.3, b_g=0.2)
    full = float(L["dc_full"].subs({L[k]: v for k, v in vals.items()}))
    # by hand, the MIT recitation's A + B + C + D
    h_prev = vals["o_prev"] * np.tanh(vals["c_prev"])
    s = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    f = s(vals["w_f"] * h_prev + vals["u_f"] * vals["x"] + vals["b_f"])
    i = s(vals["w_i"] * h_prev + vals["u_i"] * vals["x"] + vals["b_i"])
    g = np.tanh(vals["w_g"] * h_prev + vals["u_g"] * vals["x"] + vals["b_g"])
    dh = vals["o_prev"] * (1 - np.tanh(vals["c_prev"]) ** 2)
    mit = f + vals["c_prev"] * f * (1 - f) * vals["w_f"] * dh + g * i * (1 - i) * vals["w_i"] * dh \
        + i * (1 - g ** 2) * vals["w_g"] * dh
    assert full == pytest.approx(mit, rel=1e-12)
    assert float(L["dc_direct"].subs({L[k]: v for k, v in vals.items()})) == pytest.approx(f)


# === the long-lag task ==========================================================================

TINY = ref.LongLagConfig(lags=(5,), hidden=8, steps=80, batch=32, eval_size=200)


def test_long_lag_batch():
    x, y = ref.long_lag_batch(16, 7, 4, torch.Generator().manual_seed(0))
    assert x.shape == (16, 8, 4) and y.shape == (16,)
    np.testing.assert_array_equal(x[:, 0].argmax(1).numpy(), y.numpy())
    assert torch.all(x[:, 0].sum(1) == 1)


def test_lstm_learning_curve_improves_and_runs_are_reproducible():
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    first = ref.long_lag_experiment(TINY, cells=("lstm",), progress=False)["lstm"][5]
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    assert torch.get_num_threads() == threads
    assert first["loss"].shape == first["accuracy"].shape == (80,)
    assert first["loss"][-20:].mean() < first["loss"][:20].mean() - 0.2
    assert first["accuracy"][-20:].mean() > first["accuracy"][:20].mean()
    again = ref.train_long_lag("lstm", 5, TINY)
    np.testing.assert_array_equal(first["loss"], again["loss"])


@pytest.mark.slow
def test_lstm_succeeds_where_the_vanilla_rnn_fails():
    start = time.perf_counter()
    results = ref.long_lag_experiment(ref.LARGE, progress=False)
    seconds = time.perf_counter() - start
    acc = {cell: {lag: r["test_accuracy"] for lag, r in by_lag.items()} for cell, by_lag in results.items()}
    print(f"\nlong-lag task, LARGE config ({seconds:.0f} s): {acc}")
    assert all(acc["lstm"][lag] >= 0.9 for lag in ref.LARGE.lags)
    assert acc["rnn"][5] >= 0.9
    assert acc["rnn"][20] <= 0.5 and acc["rnn"][40] <= 0.5


# === input validation ===========================================================================

NET = ref.random_rnn(3, 2, 4, 0.9, seed=0)
P = ref.lstm_params(3, 2)


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: ref.jacobian_chain(NET["W_xh"], NET["W_hh"][:2], NET["xs"], 1), ValueError, "square"),
    (lambda: ref.jacobian_chain(NET["W_xh"], NET["W_hh"], NET["xs"][:, :1], 1), ValueError, r"xs: expected shape \(T, 2\)"),
    (lambda: ref.jacobian_chain(NET["W_xh"], NET["W_hh"], NET["xs"], 5), ValueError, "t: expected an integer in 0..4"),
    (lambda: ref.jacobian_chain(NET["W_xh"], NET["W_hh"], NET["xs"], 1.5), TypeError, "t: expected an integer"),
    (lambda: ref.jacobian_chain(NET["W_xh"], NET["W_hh"], NET["xs"], 1, activation="softplus"), ValueError, "tanh"),
    (lambda: ref.jacobian_chain(NET["W_xh"], NET["W_hh"], NET["xs"], 1, h0=np.zeros(2)), ValueError, "h0"),
    (lambda: ref.jacobian_chain(None, NET["W_hh"], NET["xs"], 1), TypeError, "W_xh"),
    (lambda: ref.rnn_forward(NET["W_xh"], NET["W_hh"], np.full((4, 2), np.nan)), ValueError, "finite"),
    (lambda: ref.rnn_forward(NET["W_xh"], NET["W_hh"], np.zeros((0, 2))), ValueError, "at least one"),
    (lambda: ref.predicted_bound(NET["W_hh"], [-1, 2]), ValueError, "T - t >= 0"),
    (lambda: ref.fit_log_slope([1.0, 0.0, 0.1]), ValueError, "positive"),
    (lambda: ref.fit_log_slope([1.0]), ValueError, "at least 2"),
    (lambda: ref.scaled_orthogonal(3, -1.0), ValueError, "rho: expected a positive"),
    (lambda: ref.long_range_share(np.zeros((3, 2)), 1), ValueError, "3 dimension"),
    (lambda: ref.clip_by_global_norm(np.ones(3), 1.0), TypeError, "list or tuple"),
    (lambda: ref.clip_by_global_norm([], 1.0), ValueError, "at least one"),
    (lambda: ref.clip_by_global_norm([np.ones(2)], 0.0), ValueError, "max_norm"),
    (lambda: ref.clip_by_global_norm([np.ones(2), "a"], 1.0), TypeError, r"grads\[1\]"),
    (lambda: ref.lstm_forward({"W_x": 1}, np.zeros((2, 2))), TypeError, "params"),
    (lambda: ref.lstm_forward(P, np.zeros((2, 3))), ValueError, r"xs: expected shape \(T, 2\)"),
    (lambda: ref.lstm_cell_jacobian(P, np.zeros((2, 2)), 3), ValueError, "t: expected an integer in 0..2"),
    (lambda: ref.lstm_one_step_cell_jacobian(P, np.zeros((2, 2)), 0), ValueError, "k: expected an integer in 1..2"),
    (lambda: ref.lstm_params_from_torch(torch.nn.GRU(2, 3)), TypeError, "torch.nn.LSTM"),
    (lambda: ref.long_lag_batch(4, 0), ValueError, "lag"),
    (lambda: ref.long_lag_model("gru"), ValueError, "rnn, lstm"),
    (lambda: ref.LongLagConfig(lags=[5]), TypeError, "tuple"),
    (lambda: ref.LongLagConfig(lr=0.0), ValueError, "lr"),
    (lambda: ref.train_long_lag("lstm", 5, config={"steps": 3}), TypeError, "LongLagConfig"),
])
def test_bad_input_is_named(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# === the checks: jacobian_chain ==================================================================

def chain_with(factor, order="left", start=1):
    def fn(W_xh, W_hh, xs, h0, t, activation):
        _, pre = ref.rnn_forward(W_xh, W_hh, xs, h0, activation)
        J = np.eye(W_hh.shape[0])
        for k in range(t + start, len(xs) + 1):
            F = factor(W_hh, pre[k - 1], activation)
            J = F @ J if order == "left" else J @ F
        return J
    return fn


def _dg(a, act):
    return ref.activation_functions(act)[1](a)


right_chain = chain_with(lambda W, a, act: _dg(a, act)[:, None] * W.T)


def test_chain_check_accepts_a_correct_implementation():
    assert "✓" in check.jacobian_chain(right_chain)
    torch_version = lambda W_xh, W_hh, xs, h0, t, act: torch.tensor(  # noqa: E731 - a tensor is fine too
        ref.jacobian_chain_autograd(W_xh, W_hh, xs, t, h0, act), dtype=torch.float32)
    check.jacobian_chain(torch_version)


@pytest.mark.parametrize("wrong, fragment", [
    (chain_with(lambda W, a, act: W.T), "left out g'"),
    (chain_with(lambda W, a, act: _dg(a, act)[:, None] * W), "orientation"),
    (chain_with(lambda W, a, act: _dg(a, act)[:, None] * W.T, order="right"), "wrong order"),
    (chain_with(lambda W, a, act: _dg(ref.activation_functions(act)[0](a), act)[:, None] * W.T), "pre-activation"),
    (lambda W_xh, W_hh, xs, h0, t, act: np.eye(W_hh.shape[0] + 1), "shape"),
    (lambda *args: 1 / 0, "ZeroDivisionError"),
    (None, "no answer"),
])
def test_chain_check_rejects(wrong, fragment):
    with pytest.raises(CheckFailed, match=fragment) as err:
        check.jacobian_chain(wrong)
    if wrong is not None and "ZeroDivision" not in fragment:
        assert "smallest" in str(err.value)  # the shrunk counterexample is shown


def test_chain_hint_is_decided_on_probes_not_on_the_shrunk_counterexample():
    """The shrunk counterexample of a chain without g' is tiny (H = 1, one factor, weights like 0.1), where
    several catalogued mistakes give the same numbers; the hint is decided on the fixed probes and names only
    the mistake made."""
    Q = check
    mistakes = Q._jacobian_mistakes()
    no_g = chain_with(lambda W, a, act: W.T)
    with pytest.raises(CheckFailed) as err:
        check.jacobian_chain(no_g)
    text = str(err.value)
    named = [why for why, _ in mistakes if why in text]
    assert named == [mistakes[0][0]], text
    # every catalogued variant, made into a student's function, is named as itself and only as itself
    for i, (why, wrong) in enumerate(mistakes):
        student = lambda W_xh, W_hh, xs, h0, t, act, wrong=wrong: wrong(W_xh, W_hh, xs, h0, t, act)  # noqa: E731
        assert Q.Diagnosis(student, mistakes, Q._jacobian_probes()).hint() == why, i


def test_chain_with_an_uncatalogued_mistake_gets_no_named_hint():
    doubled = lambda *args: 2 * right_chain(*args)  # noqa: E731
    with pytest.raises(CheckFailed) as err:
        check.jacobian_chain(doubled)
    assert "dh_T/dh_t is wrong" in str(err.value)
    assert not any(why in str(err.value) for why, _ in check._jacobian_mistakes())


# === the checks: the bound (symbolic) ============================================================

gamma, sigma = sp.symbols("gamma sigma", positive=True)
n = sp.Symbol("n", integer=True, nonnegative=True)
g_plain, s_plain, n_plain = sp.symbols("gamma sigma n")  # a student's symbols without assumptions


@pytest.mark.parametrize("answer", [
    (gamma * sigma) ** n, gamma ** n * sigma ** n, sp.exp(n * sp.log(gamma * sigma)),
    sp.exp(n * sp.log(gamma) + n * sp.log(sigma)), "(gamma*sigma)**n", (sigma * gamma) ** (n - 1) * gamma * sigma,
    sp.Matrix([[(gamma * sigma) ** n]]),
])
def test_bound_check_accepts_equivalent_forms(answer):
    check.bound(answer)


@pytest.mark.parametrize("answer, fragment", [
    (sigma ** n, "gamma enters every step"), (gamma ** n, "sigma = sigma_max"),
    (n * gamma * sigma, "multiply"), ((gamma + sigma) ** n, "product"), (gamma * sigma, "one step"),
    ((gamma * sigma) ** (n + 1), "too many"), (gamma * sigma ** n, "once per step"),
    ((gamma * sigma) ** n / 2, "times the expected"), (gamma ** n * sigma ** n + 1, "Counterexample"),
    (sp.Symbol("rho") ** n, "does not define"), (None, "no answer"),
])
def test_bound_check_rejects(answer, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        check.bound(answer)


# === the checks: predicted and fitted rates ======================================================

NETWORK = check.EXPERIMENT_NETWORK
S_MAX = np.linalg.norm(NETWORK["W_hh"], 2)


def slopes(ord=2, log=np.log, offset=0):
    T = len(NETWORK["xs"])
    out = []
    for act in ("tanh", "sigmoid"):
        norms = [np.linalg.norm(ref.jacobian_chain(NETWORK["W_xh"], NETWORK["W_hh"], NETWORK["xs"], T - d,
                                                   NETWORK["h0"], act), ord) for d in range(offset, T + 1)]
        out.append(np.polyfit(np.arange(offset, T + 1), log(norms), 1)[0])
    return out


def test_rate_and_slope_checks_accept_the_right_numbers():
    check.predicted_rates(S_MAX, S_MAX / 4)
    check.predicted_rates(np.float32(S_MAX), torch.tensor(S_MAX / 4))
    check.fitted_slopes(*slopes())
    check.fit_below_bound(*slopes(), S_MAX, S_MAX / 4)


@pytest.mark.parametrize("rates, fragment", [
    ((np.max(np.abs(np.linalg.eigvals(NETWORK["W_hh"]))), S_MAX / 4), "spectral radius"),
    ((np.linalg.norm(NETWORK["W_hh"]), S_MAX / 4), "Frobenius"),
    ((S_MAX, S_MAX), "1/4 for the sigmoid"),
    ((np.log(S_MAX), S_MAX / 4), "log of the factor"),
    ((S_MAX, S_MAX ** 2 / 4), "not its square"),
    ((None, 1.0), "no answer"), (([1.0, 2.0], 1.0), "one number"), ((np.nan, 1.0), "finite"),
])
def test_rate_check_rejects(rates, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        check.predicted_rates(*rates)


@pytest.mark.parametrize("answer, fragment", [
    (slopes(ord="fro"), "Frobenius"), ([-s for s in slopes()], "sign"),
    (slopes(log=np.log10), "log10"), (slopes()[::-1], "swapped"), (slopes(offset=1), "n = 0"),
    ([0.0, 0.0], "np.polyfit"),
])
def test_slope_check_rejects(answer, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        check.fitted_slopes(*answer)


def test_fit_below_bound_rejects_inconsistent_numbers():
    with pytest.raises(CheckFailed, match="exceeds"):
        check.fit_below_bound(0.5, -1.0, S_MAX, S_MAX / 4)


# === the checks: clipping ========================================================================

def clip_right(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]


def clip_no_eps(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g if total <= max_norm else g * max_norm / total for g in grads]


def clip_per_tensor(grads, max_norm):
    return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]


def clip_always(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * max_norm / (total + 1e-6) for g in grads]


def clip_inverted(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * min(1.0, total / max_norm) for g in grads]


def clip_nan_on_zero(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 on purpose
        return [g * max_norm / max(total, max_norm) if total else g / total for g in grads]


def clip_in_place(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    for g in grads:
        g *= min(1.0, max_norm / (total + 1e-6))
    return grads


@pytest.mark.parametrize("fn", [clip_right, clip_no_eps, lambda g, c: ref.clip_by_global_norm(g, c)])
def test_clip_check_accepts(fn):
    check.clip_by_global_norm(fn)


@pytest.mark.parametrize("wrong, fragment", [
    (clip_per_tensor, "direction"),
    (lambda g, c: [np.clip(x, -c, c) for x in g], "direction"),
    (clip_always, "already below max_norm"),
    (clip_inverted, "not norm / max_norm"),
    (clip_nan_on_zero, "guard the division"),
    (clip_in_place, "in place"),
    (lambda g, c: np.concatenate([np.ravel(x) for x in g]), "list of arrays"),
    (lambda g, c: clip_right(g, c)[:1] + [np.zeros(1)] * (len(g) - 1) if len(g) > 1 else [np.zeros(2)], "shape"),
    (None, "no answer"),
])
def test_clip_check_rejects(wrong, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        check.clip_by_global_norm(wrong)


# === the checks: the LSTM's cell path (symbolic, numeric identity) ==============================

L = check.LSTM
T_ = check._lstm_terms()
names = "c_prev o_prev x w_f u_f b_f w_i u_i b_i w_g u_g b_g"
PLAIN = dict(zip(names.split(), sp.symbols(names)))  # a student's own symbols, no assumptions
z_f = L["w_f"] * L["h_prev"] + L["u_f"] * L["x"] + L["b_f"]


@pytest.mark.parametrize("answer", [
    L["f_t"], 1 / (1 + sp.exp(-z_f)), sp.exp(z_f) / (1 + sp.exp(z_f)), (1 + sp.tanh(z_f / 2)) / 2,
    "1/(1 + exp(-(w_f*o_prev*tanh(c_prev) + u_f*x + b_f)))",
    sp.diff(PLAIN["c_prev"] * sp.Symbol("F"), PLAIN["c_prev"]).subs(
        sp.Symbol("F"), 1 / (1 + sp.exp(-(PLAIN["w_f"] * PLAIN["o_prev"] * sp.tanh(PLAIN["c_prev"])
                                          + PLAIN["u_f"] * PLAIN["x"] + PLAIN["b_f"])))),
])
def test_direct_path_check_accepts(answer):
    check.lstm_direct(answer)


@pytest.mark.parametrize("answer, fragment", [
    (1, "not 1"), (L["dc_full"], "full derivative"), (L["c_prev"], "the result is f_t"),
    (L["f_t"] * L["c_prev"], "term f_t c_{t-1} itself"), (L["f_t"] + L["i_t"] * L["g_t"], "input term"),
    (L["f_t"] * (1 - L["f_t"]), "derivative of the forget gate"), (L["i_t"], "Counterexample"),
    (L["f_t"] + sp.Symbol("f_fixed"), "does not define"), (sp.Matrix([1, 2]), "shape"), (None, "no answer"),
])
def test_direct_path_check_rejects(answer, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        check.lstm_direct(answer)


def _sech2(z):
    return 1 / sp.cosh(z) ** 2


@pytest.mark.parametrize("answer", [
    L["dc_full"], T_["A"] + T_["B"] + T_["C"] + T_["D"], sp.expand(L["dc_full"]),
    sp.diff(L["c_t"].xreplace({L[k]: PLAIN[k] for k in PLAIN}), PLAIN["c_prev"]),
    T_["B"] + sum(check._lstm_terms(L["o_prev"] * _sech2(L["c_prev"]))[k] for k in "ACD"),
    str(L["dc_full"]),
])
def test_full_derivative_check_accepts(answer):
    start = time.perf_counter()
    check.lstm_full(answer)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("answer, fragment", [
    (T_["B"], "direct path B_t = f_t only"), (T_["B"] + T_["C"] + T_["D"], "forget gate is missing"),
    (T_["A"] + T_["B"] + T_["D"], "input gate"), (T_["A"] + T_["B"] + T_["C"], "candidate"),
    (T_["B"] + sum(check._lstm_terms(L["o_prev"])[k] for k in "ACD"), "tanh' factor"),
    (T_["A"] + T_["C"] + T_["D"], "direct path f_t"), (2 * L["dc_full"], "Counterexample"),
    (sp.Derivative(sp.Function("c")(L["c_prev"]), L["c_prev"]), "does not define|unevaluated"),
])
def test_full_derivative_check_rejects_quickly(answer, fragment):
    start = time.perf_counter()
    with pytest.raises(CheckFailed, match=fragment):
        check.lstm_full(answer)
    assert time.perf_counter() - start < 2  # no sympy.simplify on a large wrong answer


# === the checks: multiple choice =================================================================

def test_multiple_choice():
    check.vanishing_term("D")
    check.vanishing_term({"d"})
    check.statements({"A", "D", "E"})
    check.statements("ADE")
    for answer, fragment in [("A", r"not \(A\): dE_T/do_T"), ("C", "W_hy"), ({"C", "D"}, "one option"), ("Z", "unknown"),
                             (3, "option letters"), (None, "no answer")]:
        with pytest.raises(CheckFailed, match=fragment):
            check.vanishing_term(answer)
    for answer, fragment in [({"A", "B", "D", "E"}, r"not \(B\): the bound is only an upper bound"),
                             ({"A", "C", "D", "E"}, r"not \(C\): clipping"), ({"D", "E"}, r"missed one: \(A\)"),
                             ({"A", "E"}, r"missed one: \(D\)"), ({"A", "D"}, r"missed one: \(E\)"),
                             (set(), "empty")]:
        with pytest.raises(CheckFailed, match=fragment):
            check.statements(answer)


def test_checks_return_quiet_success_messages():
    result = check.vanishing_term("D")
    assert isinstance(result, Passed) and result.startswith("✓")


# === the checks: relevance through the cell path (signal-take-all) ==============================

def take_all_right(R_c, fc_prev, ig):
    c = fc_prev + ig
    return fc_prev / c * R_c, ig / c * R_c


def take_all_reference(R_c, fc_prev, ig):
    from reference.thesis.explain_gated import signal_take_all

    R_prev, R_g, _ = signal_take_all(torch.as_tensor(fc_prev)[None], torch.as_tensor(ig)[None],
                                     torch.as_tensor(R_c)[None], 1e-12)
    return R_prev[0], R_g[0]


def take_all_signless(R_c, fc_prev, ig):
    share = np.abs(fc_prev) / (np.abs(fc_prev) + np.abs(ig))
    return share * R_c, (1 - share) * R_c


def take_all_with_gates(R_c, fc_prev, ig):   # the gates f_t and i_t take half of each term's share
    R_prev, R_g = take_all_right(R_c, fc_prev, ig)
    return R_prev / 2, R_g / 2


@pytest.mark.parametrize("fn", [take_all_right, take_all_reference])
def test_signal_take_all_check_accepts(fn):
    assert isinstance(check.signal_take_all(fn, thorough=True), Passed)


@pytest.mark.parametrize("wrong, fragment", [
    (lambda R, a, b: (R / 2, R / 2), "equal split"),
    (take_all_with_gates, "did the gates f_t and i_t take a share"),
    (lambda R, a, b: (*take_all_right(R, a, b), 0 * R), "the gates are switches"),
    (lambda R, a, b: take_all_right(R, a, b)[::-1], "swapped"),
    (take_all_signless, "the shares are signed"),
    (lambda R, a, b: (a * R, b * R), "not conserved"),
    (lambda R, a, b: (a ** 2 / (a ** 2 + b ** 2) * R, b ** 2 / (a ** 2 + b ** 2) * R), "not split in proportion"),
    (lambda R, a, b: np.stack(take_all_right(R, a, b)).sum(0), "expected a pair"),
    (lambda R, a, b: (R[:1], R[1:]), "shape"),
    (lambda R, a, b: (a / 0 * R, R), "NaN or infinity"),
    (lambda R, a, b: 1 / 0, "ZeroDivisionError"),
    (None, "no answer"),
])
def test_signal_take_all_check_rejects(wrong, fragment):
    with np.errstate(all="ignore"), pytest.raises(CheckFailed, match=fragment):
        check.signal_take_all(wrong)


# === hints decided on chosen probes: signal_take_all ===============================================

def _take_all_reason(fn) -> str:
    with np.errstate(all="ignore"), pytest.raises(CheckFailed) as err:
        check.signal_take_all(fn)
    return err.value.reason


@pytest.mark.parametrize("i", range(len(check.TAKE_ALL_MISTAKES)))
def test_signal_take_all_names_the_mistake_made_and_no_other(i):
    hints = [h for h, _ in check.TAKE_ALL_MISTAKES]
    wrong = check.TAKE_ALL_MISTAKES[i][1]
    reason = _take_all_reason(lambda R, a, b: tuple(wrong(R, a, b)))
    assert [h for h in hints if h in reason] == [hints[i]], reason


@pytest.mark.parametrize("student", [
    # all relevance to the old cell: where fc_prev = 0 (the shrinker's favourite) it is exactly the swapped
    # split, and where ig = fc_prev the equal split; the student made neither mistake
    lambda R, a, b: (R, 0 * R),
    lambda R, a, b: (a * R, b * R),                                         # not divided by c_t
    lambda R, a, b: (a ** 2 / (a ** 2 + b ** 2) * R, b ** 2 / (a ** 2 + b ** 2) * R),
    lambda R, a, b: (0 * R, 0 * R),                                         # all zeros
])
def test_signal_take_all_other_mistakes_get_no_catalogued_hint(student):
    reason = _take_all_reason(student)
    assert not any(h in reason for h, _ in check.TAKE_ALL_MISTAKES), reason


# === sample points across decades: the LSTM's derivatives ==========================================

def test_lstm_checks_reject_answers_right_only_for_small_values():
    L = check.LSTM
    clip = lambda s, c: sp.Max(sp.Min(s, c), -c)  # noqa: E731
    check.lstm_direct(L["dc_direct"])
    check.lstm_full(L["dc_full"])
    with pytest.raises(CheckFailed, match="not equal"):
        check.lstm_direct(L["dc_direct"].subs(L["x"], clip(L["x"], 4)))       # right for |x| <= 4
    with pytest.raises(CheckFailed, match="not equal"):
        check.lstm_full(L["dc_full"].subs(L["c_prev"], clip(L["c_prev"], 3)))  # right for |c_prev| <= 3
    points = check._lstm_points()
    assert max(abs(p["c_prev"]) for p in points) > 10 and max(abs(p["x"]) for p in points) > 10
