"""The vanilla RNN of the NUS tutorial (CS3244 Tutorial 09, eqs 1-7) and its gradients by BPTT.

Forward pass (eqs 1-4), weights in the thesis orientation (from the unit below to the unit above)::

    z_t = W_xh^T x_t + W_hh^T h_{t-1}          W_xh (D, H), W_hh (H, H), h_0 = 0 by default
    h_t = g_h(z_t)                              (1)  g_h in {tanh, sigmoid, relu}
    y_t = g_y(W_hy^T h_t)                       (2)  W_hy (H, C), g_y the identity by default
    o_t = softmax(y_t)                          (3)
    L   = -sum_t y*_t . log o_t                 (4)  y*_t the target distribution (one-hot) at step t

In code the vectors are rows, so ``z_t = x_t @ W_xh + h_{t-1} @ W_hh`` and ``y_t = h_t @ W_hy``.
Inputs are ``x`` of shape ``(T, D)`` or ``(B, T, D)``: a leading batch dimension is allowed and the
loss of a batch is the *sum* of the sequence losses (so gradients of a batch are sums too).
``E_T = -y*_T . log o_T`` is the loss of the last step only (the NUS tutorial's eqs 5-7).

Backward pass (hand-written BPTT, forward and backward side by side in the style of CS231n's
``layers.py``). With ``dy_t = dL/dy_t = o_t - y*_t`` (softmax + cross-entropy, for targets summing to
1; ``o_t * sum(y*_t) - y*_t`` in general), MIT's future loss ``F_t = sum_{u>t} Loss(o_u, y*_u)`` and
``delta_t = dL/dh_t = dLoss_t/dh_t + dF_t/dh_t``::

    dF_T/dh_T = 0
    delta_t   = dy_t W_hy^T + dF_t/dh_t                 local loss + all future losses
    dz_t      = delta_t * g_h'(z_t)
    dF_{t-1}/dh_{t-1} = dz_t W_hh^T                     the recursion (dh_t/dh_{t-1} = diag(g') W_hh^T)
    dW_xh = sum_t x_t^T dz_t,  dW_hh = sum_t h_{t-1}^T dz_t,  dW_hy = sum_t h_t^T dy_t

For ``E_T`` only ``dy_T`` is non-zero. :func:`last_step_gradients_by_recursion` computes the same
gradient the other way round, by eq 7's forward recursion ``dh_t/dW = dg/dW + dg/dh_{t-1} dh_{t-1}/dW``
(real-time recurrent learning): an independent check of the backward pass.

The module also has the scalar RNN ``h_t = g(w_x x_t + w_h h_{t-1})`` in SymPy (for the chain-rule
questions) and central finite differences in the style of CS231n's ``gradient_check.py``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .validate import as_float_array

ACTIVATION_NAMES = ("tanh", "sigmoid", "relu")
OUTPUT_ACTIVATION_NAMES = ("identity",) + ACTIVATION_NAMES


# --- activations ---------------------------------------------------------------------------------

def _check_activation(name, allowed=ACTIVATION_NAMES, what="activation") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what}: expected one of {', '.join(map(repr, allowed))} (a string), "
                        f"got {type(name).__name__}")
    if name not in allowed:
        raise ValueError(f"{what}: expected one of {', '.join(map(repr, allowed))}, got {name!r}")
    return name


def activate(z, name: str = "tanh") -> np.ndarray:
    """``g(z)`` elementwise: ``tanh``, ``sigmoid`` = 1 / (1 + exp(-z)), ``relu`` = max(z, 0), ``identity``."""
    name = _check_activation(name, OUTPUT_ACTIVATION_NAMES)
    z = np.asarray(z, dtype=float)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        # numerically stable in both tails
        return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    if name == "relu":
        return np.maximum(z, 0.0)
    return z.copy()


def activation_derivative(z, name: str = "tanh") -> np.ndarray:
    """``g'(z)`` elementwise: tanh' = 1 - tanh^2, sigmoid' = s (1 - s), relu' = 1[z > 0] (0 at the kink,
    as torch), identity' = 1. Shape of ``z``."""
    name = _check_activation(name, OUTPUT_ACTIVATION_NAMES)
    z = np.asarray(z, dtype=float)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = activate(z, "sigmoid")
        return s * (1 - s)
    if name == "relu":
        return (z > 0).astype(float)
    return np.ones_like(z)


def softmax(y) -> np.ndarray:
    """``o = exp(y) / sum exp(y)`` over the last axis (eq 3), stable (the maximum is subtracted first)."""
    y = np.asarray(y, dtype=float)
    e = np.exp(y - y.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- input validation --------------------------------------------------------------------------

def _weights(x, W_xh, W_hh, W_hy):
    """Validate shapes; return float arrays ``x`` (B, T, D), the weights, and whether x had a batch axis."""
    x = as_float_array(x, "x", ndim=(2, 3))
    batched = x.ndim == 3
    if x.shape[-2] < 1:
        raise ValueError(f"x: expected at least one time step, got shape {x.shape} (T = 0)")
    W_xh = as_float_array(W_xh, "W_xh", ndim=2)
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    W_hy = as_float_array(W_hy, "W_hy", ndim=2)
    D = x.shape[-1]
    if W_xh.shape[0] != D:
        raise ValueError(f"W_xh: expected shape (D, H) with D = {D} (the last axis of x {x.shape}), "
                         f"got {W_xh.shape}")
    H = W_xh.shape[1]
    if W_hh.shape != (H, H):
        raise ValueError(f"W_hh: expected shape (H, H) = ({H}, {H}) (H from W_xh {W_xh.shape}), got {W_hh.shape}")
    if W_hy.shape[0] != H:
        raise ValueError(f"W_hy: expected shape (H, C) with H = {H}, got {W_hy.shape}")
    return (x if batched else x[None]), W_xh, W_hh, W_hy, batched


def _h0(h0, B, H, batched):
    if h0 is None:
        return np.zeros((B, H))
    h0 = as_float_array(h0, "h0", ndim=(1, 2))
    if h0.ndim == 1:
        if h0.shape != (H,):
            raise ValueError(f"h0: expected shape ({H},), got {h0.shape}")
        return np.broadcast_to(h0, (B, H)).copy()
    if not batched or h0.shape != (B, H):
        raise ValueError(f"h0: expected shape ({H},)" + (f" or ({B}, {H})" if batched else "")
                         + f", got {h0.shape}")
    return h0.copy()


def one_hot(labels, classes: int) -> np.ndarray:
    """Integer class labels of any shape -> one-hot float array of shape ``labels.shape + (classes,)``."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels: expected class indices in [0, {classes}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return np.eye(classes)[labels]


def _targets(targets, x_shape, C, batched):
    """Targets as (B, T, C) floats: one-hot / distributions of shape x.shape[:-1] + (C,), or integer labels."""
    if targets is None:
        raise TypeError("targets: expected an array of target distributions (one-hot rows) or integer labels, "
                        "got None")
    lead = tuple(x_shape[:-1])
    raw = np.asarray(targets)
    if raw.dtype.kind in "iu" and raw.shape == lead:
        Y = one_hot(raw, C)
    else:
        Y = as_float_array(targets, "targets")
        if Y.shape != lead + (C,):
            raise ValueError(f"targets: expected shape {lead + (C,)} (one row of C = {C} class probabilities "
                             f"per time step) or integer labels of shape {lead}, got {Y.shape}")
    return Y if batched else Y[None]


# --- forward and backward, one step at a time (CS231n layers.py style) --------------------------

def rnn_step_forward(x_t, h_prev, W_xh, W_hh, activation="tanh"):
    """One step of eq 1: ``z_t = x_t W_xh + h_{t-1} W_hh``, ``h_t = g(z_t)``.

    Shapes: x_t (B, D), h_prev (B, H), W_xh (D, H), W_hh (H, H) -> h_t (B, H) and a cache for
    :func:`rnn_step_backward`.
    """
    z = x_t @ W_xh + h_prev @ W_hh
    h = activate(z, activation)
    return h, (x_t, h_prev, z, W_xh, W_hh, activation)


def rnn_step_backward(dh, cache):
    """Backward of :func:`rnn_step_forward`. ``dh = dL/dh_t`` (B, H) ->

    ``dz = dh * g'(z_t)``; ``dx_t = dz W_xh^T`` (B, D); ``dh_{t-1} = dz W_hh^T`` (B, H);
    ``dW_xh = x_t^T dz`` (D, H); ``dW_hh = h_{t-1}^T dz`` (H, H).
    """
    x_t, h_prev, z, W_xh, W_hh, activation = cache
    dz = dh * activation_derivative(z, activation)
    return dz @ W_xh.T, dz @ W_hh.T, x_t.T @ dz, h_prev.T @ dz


def output_forward(h, W_hy, output_activation="identity"):
    """Eqs 2-3: ``y = g_y(h W_hy)``, ``o = softmax(y)``. h (..., H), W_hy (H, C) -> y, o (..., C), cache."""
    a = h @ W_hy
    y = activate(a, output_activation)
    return y, softmax(y), (h, a, W_hy, output_activation)


def output_backward(dy, cache):
    """Backward of :func:`output_forward` from ``dy = dL/dy`` (B, T, C): ``da = dy * g_y'(a)``,
    ``dh = da W_hy^T`` (B, T, H), ``dW_hy = sum_{b,t} h^T da`` (H, C)."""
    h, a, W_hy, output_activation = cache
    da = dy * activation_derivative(a, output_activation)
    return da @ W_hy.T, np.einsum("bth,btc->hc", h, da)


def log_softmax(y) -> np.ndarray:
    """``log o = y - log sum exp(y)`` over the last axis, exact even where ``softmax(y)`` underflows to 0."""
    y = np.asarray(y, dtype=float)
    m = y.max(axis=-1, keepdims=True)
    return y - m - np.log(np.exp(y - m).sum(axis=-1, keepdims=True))


def cross_entropy(y, Y, mask=None):
    """Eq 4 from the outputs ``y`` (..., T, C): ``L = -sum y*_t . log softmax(y_t)`` summed over time steps
    (and batch); ``mask`` (T,) weights the steps (``E_T``: only the last).

    Returns the loss and ``dL/dy = o * sum(y*) - y*`` with ``o = softmax(y)`` (= ``o - y*`` for one-hot
    or probability targets): the softmax-cross-entropy shortcut.
    """
    mask = np.ones(y.shape[-2]) if mask is None else mask
    loss = -float(np.sum((Y * log_softmax(y)).sum(-1) * mask))
    dy = (softmax(y) * Y.sum(-1, keepdims=True) - Y) * mask[:, None]
    return loss, dy


# --- the whole sequence ------------------------------------------------------------------------

class Forward(NamedTuple):
    """Hidden states ``h`` (..., T, H), outputs ``y`` (..., T, C) and probabilities ``o`` (..., T, C)."""

    h: np.ndarray
    y: np.ndarray
    o: np.ndarray


class Gradients(NamedTuple):
    """A loss and its gradients; unpacks as ``loss, dW_xh, dW_hh, dW_hy``."""

    loss: float
    dW_xh: np.ndarray
    dW_hh: np.ndarray
    dW_hy: np.ndarray


def _forward(x, W_xh, W_hh, W_hy, activation, h0, output_activation):
    x, W_xh, W_hh, W_hy, batched = _weights(x, W_xh, W_hh, W_hy)
    activation = _check_activation(activation)
    output_activation = _check_activation(output_activation, OUTPUT_ACTIVATION_NAMES, "output_activation")
    B, T, _ = x.shape
    H = W_xh.shape[1]
    h = _h0(h0, B, H, batched)
    hs, caches = [], []
    for t in range(T):
        h, cache = rnn_step_forward(x[:, t], h, W_xh, W_hh, activation)
        hs.append(h)
        caches.append(cache)
    h_all = np.stack(hs, axis=1)
    y, o, out_cache = output_forward(h_all, W_hy, output_activation)
    return h_all, y, o, caches, out_cache, batched


def forward(x, W_xh, W_hh, W_hy, activation="tanh", h0=None, output_activation="identity") -> Forward:
    """The forward pass, eqs 1-3, for x (T, D) or (B, T, D); h0 (H,) or (B, H), zeros by default.

    Returns :class:`Forward` ``(h, y, o)`` with h (..., T, H), y and o (..., T, C), same leading axes as x.
    """
    h, y, o, _, _, batched = _forward(x, W_xh, W_hh, W_hy, activation, h0, output_activation)
    return Forward(h, y, o) if batched else Forward(h[0], y[0], o[0])


def loss(x, targets, W_xh, W_hh, W_hy, activation="tanh", h0=None, output_activation="identity",
         last_only=False) -> float:
    """Eq 4 (``last_only=False``, summed over all steps) or ``E_T`` (``last_only=True``), summed over the batch.

    targets: one-hot rows / distributions of shape x.shape[:-1] + (C,), or integer labels x.shape[:-1].
    """
    return bptt(x, targets, W_xh, W_hh, W_hy, activation, h0, output_activation, last_only).loss


def bptt(x, targets, W_xh, W_hh, W_hy, activation="tanh", h0=None, output_activation="identity",
         last_only=False) -> Gradients:
    """Loss and gradients of all three weight matrices by backpropagation through time.

    ``last_only=False``: the sequence loss ``L = sum_t E_t`` (eq 4) with MIT's future-loss recursion
    ``delta_t = dLoss_t/dh_t + dF_t/dh_t``, ``dF_{t-1}/dh_{t-1} = (delta_t * g'(z_t)) W_hh^T``.
    ``last_only=True``: ``E_T`` (eqs 5-7): only the last step injects ``o_T - y*_T``.

    Shapes: x (T, D) or (B, T, D); targets (..., T, C) or integer labels (..., T); W_xh (D, H),
    W_hh (H, H), W_hy (H, C). Returns :class:`Gradients` ``(loss, dW_xh, dW_hh, dW_hy)``, the gradients
    in the shapes of the weights (summed over the batch).
    """
    h, y, o, caches, out_cache, batched = _forward(x, W_xh, W_hh, W_hy, activation, h0, output_activation)
    B, T, C = o.shape
    Y = _targets(targets, np.shape(x), C, batched)
    mask = np.zeros(T) if last_only else np.ones(T)
    mask[-1] = 1.0
    L, dy = cross_entropy(y, Y, mask)
    dh_local, dW_hy = output_backward(dy, out_cache)  # dLoss_t/dh_t for every t
    W_xh, W_hh = caches[0][3], caches[0][4]
    dW_xh, dW_hh = np.zeros_like(W_xh), np.zeros_like(W_hh)
    dF = np.zeros((B, W_hh.shape[0]))                   # dF_T/dh_T = 0: no loss after the last step
    for t in reversed(range(T)):
        delta = dh_local[:, t] + dF                     # dL/dh_t = local + future
        _, dF, dWx, dWh = rnn_step_backward(delta, caches[t])
        dW_xh += dWx
        dW_hh += dWh
    return Gradients(L, dW_xh, dW_hh, dW_hy)


def bptt_last(x, targets, W_xh, W_hh, W_hy, activation="tanh", h0=None, output_activation="identity") -> Gradients:
    """``E_T = -y*_T . log o_T`` and its gradients (eqs 5-7): :func:`bptt` with ``last_only=True``."""
    return bptt(x, targets, W_xh, W_hh, W_hy, activation, h0, output_activation, last_only=True)


def hidden_deltas(x, targets, W_xh, W_hh, W_hy, activation="tanh", h0=None, last_only=False) -> np.ndarray:
    """``delta_t = dL/dh_t`` (local loss + MIT's ``dF_t/dh_t``) for every step: shape (..., T, H)."""
    h, y, o, caches, out_cache, batched = _forward(x, W_xh, W_hh, W_hy, activation, h0, "identity")
    B, T, C = o.shape
    Y = _targets(targets, np.shape(x), C, batched)
    mask = np.zeros(T) if last_only else np.ones(T)
    mask[-1] = 1.0
    _, dy = cross_entropy(y, Y, mask)
    dh_local, _ = output_backward(dy, out_cache)
    deltas = np.zeros_like(h)
    dF = np.zeros((B, h.shape[-1]))
    for t in reversed(range(T)):
        deltas[:, t] = dh_local[:, t] + dF
        _, dF, _, _ = rnn_step_backward(deltas[:, t], caches[t])
    return deltas if batched else deltas[0]


def last_step_gradients_by_recursion(x, targets, W_xh, W_hh, W_hy, activation="tanh", h0=None) -> Gradients:
    """``E_T`` and its gradients by eq 7 read forwards (real-time recurrent learning), no backward pass:

        J_t = dh_t/dW = diag(g'(z_t)) [ dz_t/dW |_{h_{t-1} fixed} + W_hh^T J_{t-1} ],   J_0 = 0,
        dE_T/dW = (o_T - y*_T) W_hy^T J_T.

    ``J_t`` for ``W_hh`` has shape (B, H, H, H) (``dh_t[b, i] / dW_hh[a, c]``), for ``W_xh`` (B, H, D, H).
    Costs O(T H^3 (D + H)): a cross-check of :func:`bptt_last`, not for large networks.
    """
    h, y, o, caches, out_cache, batched = _forward(x, W_xh, W_hh, W_hy, activation, h0, "identity")
    B, T, C = o.shape
    Y = _targets(targets, np.shape(x), C, batched)
    W_xh, W_hh, W_hy = caches[0][3], caches[0][4], out_cache[2]
    D, H = W_xh.shape
    eye = np.eye(H)
    J_xh, J_hh = np.zeros((B, H, D, H)), np.zeros((B, H, H, H))
    for t in range(T):
        x_t, h_prev, z, *_ = caches[t]
        gp = activation_derivative(z, activation)                       # (B, H)
        direct_xh = np.einsum("bd,ic->bidc", x_t, eye)                   # dz_t[i]/dW_xh[d, c] = x_t[d] 1[i=c]
        direct_hh = np.einsum("ba,ic->biac", h_prev, eye)                # dz_t[i]/dW_hh[a, c] = h_{t-1}[a] 1[i=c]
        J_xh = gp[:, :, None, None] * (direct_xh + np.einsum("ki,bkdc->bidc", W_hh, J_xh))
        J_hh = gp[:, :, None, None] * (direct_hh + np.einsum("ki,bkac->biac", W_hh, J_hh))
    o_T, Y_T = o[:, -1], Y[:, -1]
    E_T = -float(np.sum(Y_T * log_softmax(y[:, -1])))
    dy = o_T * Y_T.sum(-1, keepdims=True) - Y_T                         # (B, C)
    dh_T = dy @ W_hy.T                                                   # dE_T/dh_T (B, H)
    return Gradients(E_T, np.einsum("bi,bidc->dc", dh_T, J_xh), np.einsum("bi,biac->ac", dh_T, J_hh),
                     h[:, -1].T @ dy)


# --- the scalar RNN in SymPy (the chain-rule questions) -------------------------------------------

def scalar_states(xs, h0, w_x, w_h, g: Callable):
    """``h_t = g(w_x x_t + w_h h_{t-1})`` for t = 1..len(xs): the list ``[h_1, ..., h_T]``.

    Works on SymPy symbols (``g = sympy.tanh``) as well as numbers (``g = numpy.tanh``).
    """
    hs, h = [], h0
    for x_t in xs:
        h = g(w_x * x_t + w_h * h)
        hs.append(h)
    return hs


def scalar_dh_dwh_recursion(xs, h0, w_x, w_h, g: Callable, g_prime: Callable):
    """Eq 7 for the scalar RNN: ``dh_t/dw_h = g'(z_t) (h_{t-1} + w_h dh_{t-1}/dw_h)``, ``dh_0/dw_h = 0``.

    Returns ``[dh_1/dw_h, ..., dh_T/dw_h]``; ``g_prime(z)`` is the derivative of ``g`` at ``z``.
    """
    out, h, d = [], h0, 0
    for x_t in xs:
        z = w_x * x_t + w_h * h
        d = g_prime(z) * (h + w_h * d)
        h = g(z)
        out.append(d)
    return out


def scalar_eq6(w_x, w_h, x_T, h_prev, dE_dh, g_prime, dhprev_dwh):
    """Eq 6 for the scalar RNN, *derived by SymPy*: differentiate ``E(g(w_x x_T + w_h h_{T-1}(w_h)))``
    with respect to ``w_h`` and name the pieces: ``dE_dh = dE_T/dh_T``, ``g_prime = g'(z_T)`` and
    ``dhprev_dwh = dh_{T-1}/dw_h`` (left unexpanded, as the tutorial asks). Returns

        dE_dh * g_prime * (h_prev + w_h * dhprev_dwh).
    """
    import sympy

    E, g, hprev = sympy.Function("E"), sympy.Function("g"), sympy.Function("h_prev_of")(w_h)
    expr = sympy.diff(E(g(w_x * x_T + w_h * hprev)), w_h)   # SymPy applies the chain rule
    expr = expr.replace(lambda e: isinstance(e, sympy.Derivative) and e.expr.func == E, lambda e: dE_dh)
    expr = expr.replace(lambda e: isinstance(e, sympy.Subs), lambda e: g_prime)      # g'(z_T)
    expr = expr.subs(sympy.Derivative(hprev, w_h), dhprev_dwh).subs(hprev, h_prev)
    if expr.has(sympy.Derivative, sympy.Subs, E, g):
        raise RuntimeError(f"scalar_eq6: could not name every factor of {expr}")
    return sympy.expand(expr)


# --- finite differences (CS231n gradient_check.py style) -------------------------------------------

def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every entry of ``x``.

    ``f(x)`` returns a scalar; ``x`` is a float array that is perturbed *in place* (and restored), so ``f``
    may also read it through a closure. Returns an array of the shape of ``x``.
    """
    if not callable(f):
        raise TypeError(f"f: expected a function returning a number, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"x: expected a float numpy array (it is perturbed in place), got "
                        f"{type(x).__name__}{'' if not isinstance(x, np.ndarray) else ' of dtype ' + str(x.dtype)}")
    if not h > 0:
        raise ValueError(f"h: expected a positive step, got {h}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = float(f(x))
        x[i] = old - h
        minus = float(f(x))
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def relative_error(a, b) -> float:
    """``max |a - b| / max(1e-8, |a| + |b|)`` elementwise (CS231n's ``rel_error``); ~1e-7 or less is a match."""
    a, b = as_float_array(a, "a"), as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b: expected the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradients(x, targets, W_xh, W_hh, W_hy, activation="tanh", last_only=False, h=1e-5) -> Gradients:
    """:func:`loss` and its gradients by central differences for all three weights (for checking BPTT)."""
    Ws = [as_float_array(W, name, ndim=2).copy() for W, name in ((W_xh, "W_xh"), (W_hh, "W_hh"), (W_hy, "W_hy"))]
    f = lambda _: loss(x, targets, *Ws, activation=activation, last_only=last_only)  # noqa: E731
    grads = [eval_numerical_gradient(f, W, h) for W in Ws]
    return Gradients(f(None), *grads)
