"""Vanishing and exploding gradients in recurrent networks, and why the LSTM's cell path helps.

Sources: NUS CS3244 tutorial 9, Q1 (which term of BPTT makes gradients vanish) and the MIT
recitation on RNNs (exploding/vanishing gradients, the LSTM's gates and its additive cell-state
gradient); Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural
networks", for the bound and for clipping by norm.

**The vanilla RNN** (thesis / NUS orientation, weights map *from* the row index *to* the column index)::

    a_k = W_xh^T x_k + W_hh^T h_{k-1}       (= x_k @ W_xh + h_{k-1} @ W_hh)
    h_k = g(a_k),                           k = 1..T,  h_0 given

with ``x_k`` of shape ``(D,)``, ``h_k`` and ``a_k`` of shape ``(H,)``, ``W_xh`` of shape ``(D, H)``
and ``W_hh`` of shape ``(H, H)``. A sequence ``xs`` has shape ``(T, D)``; ``xs[k - 1]`` is ``x_k``.

**Jacobians** use the numerator layout: ``(dh_k/dh_{k-1})[i, j] = d h_k[i] / d h_{k-1}[j]``, so::

    dh_k/dh_{k-1} = diag(g'(a_k)) W_hh^T                                  (H, H)
    dh_T/dh_t     = dh_T/dh_{T-1} ... dh_{t+1}/dh_t
                  = prod_{k=T..t+1} diag(g'(a_k)) W_hh^T   (later steps on the left)

and, since ``||diag(g'(a))||_2 = max_i |g'(a_i)| <= gamma``,::

    ||dh_T/dh_t||_2 <= (gamma * sigma_max(W_hh)) ** (T - t)

with ``gamma`` the bound of the activation's derivative (1 for tanh, ReLU and the identity, 1/4 for
the logistic sigmoid). ``gamma * sigma_max < 1`` is *sufficient* for vanishing gradients, and
``gamma * sigma_max > 1`` is *necessary* (not sufficient) for exploding ones.

**The LSTM** (gate order ``i, f, g, o`` as in ``torch.nn.LSTM``)::

    z_k = x_k @ W_x + h_{k-1} @ W_h + b                  W_x (D, 4H), W_h (H, 4H), b (4H,)
    i_k, f_k, o_k = sigma(z_k[I]), sigma(z_k[F]), sigma(z_k[O]);   g_k = tanh(z_k[G])
    c_k = f_k * c_{k-1} + i_k * g_k,    h_k = o_k * tanh(c_k)

whose cell state has the *additive* direct path ``dc_k/dc_{k-1} = diag(f_k) + (paths through h_{k-1})``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .validate import as_float_array, check_positive

ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
#: sup_a |g'(a)|: the factor ``gamma`` of the bound.
DERIVATIVE_BOUND = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "identity": 1.0}


# === helpers ====================================================================================

def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # = 1 / (1 + exp(-a)), without overflow warnings


def activation_functions(name: str):
    """``(g, g_prime)``, numpy functions of the pre-activation ``a`` (any shape, elementwise).

    tanh: ``g' = 1 - tanh(a)^2``; sigmoid: ``g' = s (1 - s)``; relu: ``g' = [a > 0]`` (``g'(0) = 0``,
    as in torch); identity: ``g' = 1``.
    """
    _check_activation(name)
    if name == "tanh":
        return np.tanh, lambda a: 1.0 - np.tanh(a) ** 2
    if name == "sigmoid":
        return _sigmoid, lambda a: _sigmoid(a) * (1.0 - _sigmoid(a))
    if name == "relu":
        return (lambda a: np.maximum(a, 0.0)), (lambda a: (np.asarray(a) > 0).astype(float))
    return (lambda a: np.asarray(a, dtype=float) * 1.0), (lambda a: np.ones_like(np.asarray(a, dtype=float)))


def _torch_activation(name: str):
    import torch

    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "identity": lambda a: a}[name]


def _check_activation(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"activation: expected one of {', '.join(ACTIVATIONS)} as a string, got {type(name).__name__}")
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return name


def _check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low or high is not None and value > high:
        rng = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise ValueError(f"{name}: expected an integer in {rng}, got {value}")
    return value


def _rnn_inputs(W_xh, W_hh, xs, h0):
    """Validate the vanilla RNN's arrays; returns them as float arrays (``h0`` defaults to zeros)."""
    W_xh = as_float_array(W_xh, "W_xh", ndim=2)
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    xs = as_float_array(xs, "xs", ndim=2)
    D, H = W_xh.shape
    if W_hh.shape != (H, H):
        raise ValueError(f"W_hh: expected a square matrix of shape ({H}, {H}) (H = {H} from W_xh of shape "
                         f"{W_xh.shape}), got shape {W_hh.shape}")
    if xs.shape[1] != D:
        raise ValueError(f"xs: expected shape (T, {D}) (D = {D} inputs per step, the rows of W_xh), "
                         f"got shape {xs.shape}")
    if xs.shape[0] < 1:
        raise ValueError("xs: expected at least one time step, got an empty sequence")
    h0 = np.zeros(H) if h0 is None else as_float_array(h0, "h0", ndim=1)
    if h0.shape != (H,):
        raise ValueError(f"h0: expected shape ({H},), got shape {h0.shape}")
    return W_xh, W_hh, xs, h0


# === the vanilla RNN and its Jacobian chain =====================================================

def rnn_forward(W_xh, W_hh, xs, h0=None, activation: str = "tanh"):
    """Run ``h_k = g(W_xh^T x_k + W_hh^T h_{k-1})`` for ``k = 1..T``.

    W_xh (D, H), W_hh (H, H), xs (T, D), h0 (H,) (default zeros). Returns ``(hs, pre)``: the states
    ``hs`` of shape (T + 1, H) with ``hs[0] = h_0`` and ``hs[k] = h_k``, and the pre-activations
    ``pre`` of shape (T, H) with ``pre[k - 1] = a_k``.
    """
    W_xh, W_hh, xs, h0 = _rnn_inputs(W_xh, W_hh, xs, h0)
    g, _ = activation_functions(activation)
    T, H = xs.shape[0], W_hh.shape[0]
    hs, pre = np.zeros((T + 1, H)), np.zeros((T, H))
    hs[0] = h0
    for k in range(1, T + 1):
        pre[k - 1] = xs[k - 1] @ W_xh + hs[k - 1] @ W_hh
        hs[k] = g(pre[k - 1])
    return hs, pre


def step_jacobian(W_hh, a_k, activation: str = "tanh") -> np.ndarray:
    """One factor of the chain: ``dh_k/dh_{k-1} = diag(g'(a_k)) W_hh^T``, shape (H, H).

    W_hh (H, H), a_k (H,) the pre-activation of step k. Entry ``[i, j] = g'(a_k[i]) W_hh[j, i]``.
    """
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    a_k = as_float_array(a_k, "a_k", ndim=1)
    if W_hh.shape != (a_k.size, a_k.size):
        raise ValueError(f"W_hh: expected shape ({a_k.size}, {a_k.size}) to match a_k of shape {a_k.shape}, "
                         f"got {W_hh.shape}")
    _, dg = activation_functions(activation)
    return dg(a_k)[:, None] * W_hh.T


def jacobian_chain(W_xh, W_hh, xs, t: int, h0=None, activation: str = "tanh") -> np.ndarray:
    """``dh_T/dh_t = prod_{k=T..t+1} diag(g'(a_k)) W_hh^T`` (later steps on the left), shape (H, H).

    W_xh (D, H), W_hh (H, H), xs (T, D) with T = len(xs), h0 (H,), ``0 <= t <= T`` (``t = T`` gives
    the identity). Entry ``[i, j] = d h_T[i] / d h_t[j]``.
    """
    W_xh, W_hh, xs, h0 = _rnn_inputs(W_xh, W_hh, xs, h0)
    T = xs.shape[0]
    t = _check_int(t, "t", 0, T)
    _, pre = rnn_forward(W_xh, W_hh, xs, h0, activation)
    J = np.eye(W_hh.shape[0])
    for k in range(t + 1, T + 1):
        J = step_jacobian(W_hh, pre[k - 1], activation) @ J
    return J


def jacobian_chain_autograd(W_xh, W_hh, xs, t: int, h0=None, activation: str = "tanh") -> np.ndarray:
    """``dh_T/dh_t`` by torch autograd (``torch.autograd.functional.jacobian``, float64), shape (H, H).

    The state ``h_t`` of the forward pass is the input of a function that runs steps ``t+1..T``
    and returns ``h_T``; its Jacobian is ``dh_T/dh_t``. Same arguments as :func:`jacobian_chain`.
    """
    import torch

    W_xh, W_hh, xs, h0 = _rnn_inputs(W_xh, W_hh, xs, h0)
    T = xs.shape[0]
    t = _check_int(t, "t", 0, T)
    _check_activation(activation)
    hs, _ = rnn_forward(W_xh, W_hh, xs, h0, activation)
    g = _torch_activation(activation)
    Wx, Wh, X = (torch.as_tensor(v, dtype=torch.float64) for v in (W_xh, W_hh, xs))

    def run(h):
        for k in range(t + 1, T + 1):
            h = g(X[k - 1] @ Wx + h @ Wh)
        return h

    return torch.autograd.functional.jacobian(run, torch.as_tensor(hs[t], dtype=torch.float64)).numpy()


def jacobian_norms(W_xh, W_hh, xs, h0=None, activation: str = "tanh", ord=2) -> np.ndarray:
    """``norms[n] = ||dh_T/dh_{T-n}||`` for the distances ``n = 0..T``, shape (T + 1,).

    ``ord`` as in ``np.linalg.norm`` for matrices (default 2: the spectral norm, the largest singular
    value). ``norms[0] = ||I||``. Computed backwards in one pass: ``P <- P @ dh_k/dh_{k-1}``.
    """
    W_xh, W_hh, xs, h0 = _rnn_inputs(W_xh, W_hh, xs, h0)
    _, pre = rnn_forward(W_xh, W_hh, xs, h0, activation)
    T = xs.shape[0]
    P = np.eye(W_hh.shape[0])
    norms = np.zeros(T + 1)
    norms[0] = np.linalg.norm(P, ord)
    for k in range(T, 0, -1):
        P = P @ step_jacobian(W_hh, pre[k - 1], activation)
        norms[T - k + 1] = np.linalg.norm(P, ord)
    return norms


# === the bound and the decay rate ===============================================================

def sigma_max(W) -> float:
    """The largest singular value ``||W||_2`` of a matrix W (any 2-D shape)."""
    W = as_float_array(W, "W", ndim=2)
    return float(np.linalg.norm(W, 2))


def spectral_radius(W) -> float:
    """``max |lambda_i(W)|`` of a square matrix; ``<= sigma_max(W)``, with equality for normal W."""
    W = as_float_array(W, "W", ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix, got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def bound_rate(W_hh, activation: str = "tanh") -> float:
    """The per-step factor of the bound, ``gamma * sigma_max(W_hh)``, with gamma = sup |g'|."""
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    if W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh: expected a square matrix, got shape {W_hh.shape}")
    return DERIVATIVE_BOUND[_check_activation(activation)] * sigma_max(W_hh)


def predicted_bound(W_hh, distances, activation: str = "tanh") -> np.ndarray:
    """``(gamma * sigma_max(W_hh)) ** n`` for each distance ``n = T - t`` (array of n >= 0)."""
    n = as_float_array(distances, "distances", ndim=(0, 1))
    if np.any(n < 0):
        raise ValueError("distances: expected T - t >= 0")
    return bound_rate(W_hh, activation) ** n


def fit_log_slope(norms, distances=None) -> float:
    """Least-squares slope of ``log(norms)`` against ``distances`` (default ``0..len(norms)-1``).

    ``np.polyfit(distances, log(norms), 1)[0]``: the fitted log-rate per step; ``exp(slope)`` is the
    fitted factor per step, comparable with the bound's ``gamma * sigma_max``. norms (N,) > 0, N >= 2.
    """
    norms = as_float_array(norms, "norms", ndim=1)
    if norms.size < 2:
        raise ValueError(f"norms: expected at least 2 values to fit a line, got {norms.size}")
    if np.any(norms <= 0):
        raise ValueError("norms: expected positive norms (a norm of exactly 0, e.g. from dead ReLUs, has no "
                         "logarithm: fit a shorter range)")
    d = np.arange(norms.size, dtype=float) if distances is None else as_float_array(distances, "distances", ndim=1)
    if d.shape != norms.shape:
        raise ValueError(f"distances: expected shape {norms.shape} like norms, got {d.shape}")
    return float(np.polyfit(d, np.log(norms), 1)[0])


# === networks for the experiments ===============================================================

def scaled_orthogonal(H: int, rho: float, seed: int = 0) -> np.ndarray:
    """``rho * Q`` with Q a random orthogonal (H, H) matrix: every singular value equals ``rho``."""
    H = _check_int(H, "H", 1)
    rho = check_positive(rho, "rho")
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(H, H)))
    return rho * Q * np.sign(np.diag(R))  # Haar-distributed


def random_rnn(hidden: int = 16, inputs: int = 4, steps: int = 30, rho: float = 0.9, *, input_scale: float = 1.0,
               weight_scale: float = 1.0, orthogonal: bool = True, seed: int = 0) -> dict:
    """A random vanilla RNN and sequence. Returns ``dict(W_xh, W_hh, xs, h0)``.

    ``W_hh = rho * Q`` (orthogonal Q: every singular value is ``rho``) or, with ``orthogonal=False``,
    ``W_hh = rho * G / sqrt(hidden)`` with G standard normal (spectral radius about ``rho``, largest
    singular value about ``2 rho``: a non-normal matrix); ``W_xh ~ N(0, weight_scale^2 / inputs)`` of shape
    (inputs, hidden), ``xs ~ N(0, input_scale^2)`` of shape (steps, inputs), ``h0 = 0``.
    """
    hidden, inputs, steps = (_check_int(v, n, 1) for v, n in ((hidden, "hidden"), (inputs, "inputs"), (steps, "steps")))
    check_positive(input_scale, "input_scale")
    check_positive(weight_scale, "weight_scale")
    rng = np.random.default_rng(seed + 1)
    return {"W_xh": rng.normal(size=(inputs, hidden)) * weight_scale / math.sqrt(inputs),
            "W_hh": scaled_orthogonal(hidden, rho, seed) if orthogonal
            else rho * np.random.default_rng(seed).normal(size=(hidden, hidden)) / math.sqrt(hidden),
            "xs": rng.normal(size=(steps, inputs)) * input_scale, "h0": np.zeros(hidden)}


# === where the gradient of W_hh comes from ======================================================

def gradient_contributions(W_xh, W_hh, xs, dL_dhT, h0=None, activation: str = "tanh") -> np.ndarray:
    """Per-step terms of ``dL/dW_hh`` for a loss L at the last step with ``dL/dh_T = dL_dhT`` (H,).

    ``delta_T = g'(a_T) * dL/dh_T``, ``delta_{k-1} = g'(a_{k-1}) * (W_hh @ delta_k)``, and the term of
    step k is ``outer(h_{k-1}, delta_k)`` (H, H): the gradient through the copy of W_hh used at step k,
    whose size carries the factor ``dh_T/dh_k``. Returns shape (T, H, H), ``[k - 1]`` for step k; the
    sum over steps is ``dL/dW_hh``.
    """
    W_xh, W_hh, xs, h0 = _rnn_inputs(W_xh, W_hh, xs, h0)
    H, T = W_hh.shape[0], xs.shape[0]
    dL_dhT = as_float_array(dL_dhT, "dL_dhT", ndim=1)
    if dL_dhT.shape != (H,):
        raise ValueError(f"dL_dhT: expected shape ({H},), got {dL_dhT.shape}")
    hs, pre = rnn_forward(W_xh, W_hh, xs, h0, activation)
    _, dg = activation_functions(activation)
    out = np.zeros((T, H, H))
    dh = dL_dhT
    for k in range(T, 0, -1):
        delta = dg(pre[k - 1]) * dh
        out[k - 1] = np.outer(hs[k - 1], delta)
        dh = W_hh @ delta
    return out


def long_range_share(contributions, k: int) -> float:
    """Share of the gradient from steps more than ``k`` steps back:
    ``sum_{s : T - s > k} ||C_s||_F / sum_s ||C_s||_F`` for contributions ``C`` of shape (T, H, H)
    (from :func:`gradient_contributions`). 0 when every term is 0.
    """
    C = as_float_array(contributions, "contributions", ndim=3)
    T = C.shape[0]
    k = _check_int(k, "k", 0)
    sizes = np.linalg.norm(C.reshape(T, -1), axis=1)
    total = sizes.sum()
    if total == 0:
        return 0.0
    steps = np.arange(1, T + 1)
    return float(sizes[T - steps > k].sum() / total)


# === clipping ===================================================================================

def clip_by_global_norm(grads, max_norm: float, eps: float = 1e-6):
    """Rescale gradients jointly so that their global norm is at most ``max_norm``.

    ``total = sqrt(sum_i ||g_i||^2)``; every ``g_i`` is multiplied by ``min(1, max_norm / (total + eps))``
    (exactly ``torch.nn.utils.clip_grad_norm_`` with ``norm_type=2``, whose eps is 1e-6). The direction
    of the concatenated gradient is kept. grads: a non-empty sequence of arrays of any shapes. Returns
    ``(clipped, total)``: new arrays of the same shapes (the inputs are not modified) and the norm
    before clipping.
    """
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads: expected a list or tuple of arrays, got {type(grads).__name__}")
    if len(grads) == 0:
        raise ValueError("grads: expected at least one gradient array, got an empty list")
    arrays = [as_float_array(g, f"grads[{i}]") for i, g in enumerate(grads)]
    max_norm = check_positive(max_norm, "max_norm")
    if not np.isfinite(max_norm):
        raise ValueError("max_norm: expected a finite number")
    eps = float(eps)
    if eps < 0:
        raise ValueError(f"eps: expected eps >= 0, got {eps}")
    total = float(np.sqrt(sum(float(np.sum(g ** 2)) for g in arrays)))
    scale = min(1.0, max_norm / (total + eps)) if total + eps > 0 else 1.0
    return [g * scale for g in arrays], total


# === the LSTM ===================================================================================

def lstm_params(hidden: int = 8, inputs: int = 4, *, forget_bias: float = 0.0, scale: float = 0.3,
                seed: int = 0) -> dict:
    """Random LSTM parameters ``dict(W_x (D, 4H), W_h (H, 4H), b (4H,))``, gate order i, f, g, o.

    Weights ~ N(0, scale^2 / fan_in), biases 0 except the forget gate's, ``b[H:2H] = forget_bias``
    (a high forget bias makes ``f_k = sigma(.)`` close to 1 at initialisation).
    """
    H, D = _check_int(hidden, "hidden", 1), _check_int(inputs, "inputs", 1)
    check_positive(scale, "scale")
    forget_bias = float(forget_bias)
    rng = np.random.default_rng(seed)
    b = np.zeros(4 * H)
    b[H:2 * H] = forget_bias
    return {"W_x": rng.normal(size=(D, 4 * H)) * scale / math.sqrt(D),
            "W_h": rng.normal(size=(H, 4 * H)) * scale / math.sqrt(H), "b": b}


def lstm_params_from_torch(lstm) -> dict:
    """The one place where ``torch.nn.LSTM`` (weights (4H, D) and (4H, H), two biases) meets the
    thesis orientation: ``W_x = weight_ih_l0.T``, ``W_h = weight_hh_l0.T``, ``b = bias_ih + bias_hh``."""
    import torch

    if not isinstance(lstm, torch.nn.LSTM):
        raise TypeError(f"lstm: expected a torch.nn.LSTM, got {type(lstm).__name__}")
    if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        raise ValueError("lstm: expected a single-layer, unidirectional LSTM without projection")
    get = lambda name: getattr(lstm, name).detach().double().numpy()  # noqa: E731
    b = get("bias_ih_l0") + get("bias_hh_l0") if lstm.bias else np.zeros(4 * lstm.hidden_size)
    return {"W_x": get("weight_ih_l0").T.copy(), "W_h": get("weight_hh_l0").T.copy(), "b": b}


def _lstm_inputs(params, xs, h0, c0):
    if not isinstance(params, dict) or not {"W_x", "W_h", "b"} <= set(params):
        raise TypeError("params: expected a dict with W_x (D, 4H), W_h (H, 4H) and b (4H,)")
    W_x = as_float_array(params["W_x"], "W_x", ndim=2)
    W_h = as_float_array(params["W_h"], "W_h", ndim=2)
    b = as_float_array(params["b"], "b", ndim=1)
    H = W_h.shape[0]
    if W_h.shape != (H, 4 * H):
        raise ValueError(f"W_h: expected shape (H, 4H), got {W_h.shape}")
    if W_x.shape[1] != 4 * H:
        raise ValueError(f"W_x: expected shape (D, {4 * H}), got {W_x.shape}")
    if b.shape != (4 * H,):
        raise ValueError(f"b: expected shape ({4 * H},), got {b.shape}")
    xs = as_float_array(xs, "xs", ndim=2)
    if xs.shape[1] != W_x.shape[0] or xs.shape[0] < 1:
        raise ValueError(f"xs: expected shape (T, {W_x.shape[0]}) with T >= 1, got {xs.shape}")
    h0 = np.zeros(H) if h0 is None else as_float_array(h0, "h0", ndim=1)
    c0 = np.zeros(H) if c0 is None else as_float_array(c0, "c0", ndim=1)
    for v, name in ((h0, "h0"), (c0, "c0")):
        if v.shape != (H,):
            raise ValueError(f"{name}: expected shape ({H},), got {v.shape}")
    return W_x, W_h, b, xs, h0, c0


def lstm_forward(params, xs, h0=None, c0=None) -> dict:
    """Run the LSTM (module docstring) over xs (T, D) from h0, c0 (H,) (default zeros).

    Returns ``dict(h, c)`` of shape (T + 1, H) (index k for step k, 0 for the initial state) and the
    gates ``i, f, g, o`` and their pre-activations ``z`` (T, 4H), each (T, H) with index k - 1 for step k.
    """
    W_x, W_h, b, xs, h0, c0 = _lstm_inputs(params, xs, h0, c0)
    T, H = xs.shape[0], W_h.shape[0]
    out = {"h": np.zeros((T + 1, H)), "c": np.zeros((T + 1, H)), "z": np.zeros((T, 4 * H))}
    out.update({name: np.zeros((T, H)) for name in "ifgo"})
    out["h"][0], out["c"][0] = h0, c0
    for k in range(1, T + 1):
        z = xs[k - 1] @ W_x + out["h"][k - 1] @ W_h + b
        i, f, g, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
        out["c"][k] = f * out["c"][k - 1] + i * g
        out["h"][k] = o * np.tanh(out["c"][k])
        out["z"][k - 1] = z
        for name, v in zip("ifgo", (i, f, g, o)):
            out[name][k - 1] = v
    return out


def lstm_direct_path(params, xs, t: int, h0=None, c0=None) -> np.ndarray:
    """The direct (additive) path of the cell: ``prod_{k=t+1..T} diag(f_k) = diag(prod_k f_k)``, (H, H).

    This is ``dc_T/dc_t`` when every gate is held fixed (the MIT recitation's term ``B_k = f_k`` at
    each step). ``0 <= t <= T``.
    """
    fw = lstm_forward(params, xs, h0, c0)
    T = fw["f"].shape[0]
    t = _check_int(t, "t", 0, T)
    return np.diag(np.prod(fw["f"][t:T], axis=0))


def lstm_one_step_cell_jacobian(params, xs, k: int, h0=None, c0=None) -> np.ndarray:
    """``dc_k/dc_{k-1} = A_k + B_k + C_k + D_k`` (MIT recitation), by hand, shape (H, H).

    With ``h_{k-1} = o_{k-1} * tanh(c_{k-1})`` (``o_{k-1}`` held fixed), ``dh = diag(o_{k-1} tanh'(c_{k-1}))``
    and ``W_h[:, X]`` the hidden-to-gate weights of gate X::

        B_k = diag(f_k)                                                 (the direct path)
        A_k = diag(c_{k-1} * sigma'(z_f)) W_h[:, F]^T dh                (through the forget gate)
        C_k = diag(g_k * sigma'(z_i)) W_h[:, I]^T dh                    (through the input gate)
        D_k = diag(i_k * tanh'(z_g)) W_h[:, G]^T dh                     (through the candidate)

    (the recitation writes sigma' in D_k; the candidate's activation is tanh). For ``k = 1`` the
    initial ``h_0`` is given, not a function of ``c_0``: only ``B_1`` remains. ``1 <= k <= T``.
    """
    fw = lstm_forward(params, xs, h0, c0)
    W_h = as_float_array(params["W_h"], "W_h", ndim=2)
    H, T = W_h.shape[0], fw["f"].shape[0]
    k = _check_int(k, "k", 1, T)
    f, i, g = fw["f"][k - 1], fw["i"][k - 1], fw["g"][k - 1]
    B = np.diag(f)
    if k == 1:
        return B
    c_prev, o_prev = fw["c"][k - 1], fw["o"][k - 2]
    dh = np.diag(o_prev * (1.0 - np.tanh(c_prev) ** 2))
    W_i, W_f, W_g = W_h[:, :H], W_h[:, H:2 * H], W_h[:, 2 * H:3 * H]
    A = (c_prev * f * (1 - f))[:, None] * W_f.T @ dh
    C = (g * i * (1 - i))[:, None] * W_i.T @ dh
    D = (i * (1 - g ** 2))[:, None] * W_g.T @ dh
    return A + B + C + D


def lstm_cell_jacobian(params, xs, t: int, h0=None, c0=None) -> np.ndarray:
    """The full ``dc_T/dc_t`` (direct and indirect paths) by torch autograd (float64), shape (H, H).

    ``c_t`` is perturbed with ``h_t = o_t * tanh(c_t)`` following it (``o_t`` held fixed, as in the
    MIT recitation; for ``t = 0`` the given h_0 is held fixed), then steps ``t+1..T`` run and the
    Jacobian of ``c_T`` is taken with ``torch.autograd.functional.jacobian``. ``0 <= t <= T``.
    """
    import torch

    W_x, W_h, b, xs, h0, c0 = _lstm_inputs(params, xs, h0, c0)
    fw = lstm_forward(params, xs, h0, c0)
    T, H = xs.shape[0], W_h.shape[0]
    t = _check_int(t, "t", 0, T)
    Wx, Wh, bb, X = (torch.as_tensor(v, dtype=torch.float64) for v in (W_x, W_h, b, xs))
    o_t = torch.as_tensor(fw["o"][t - 1], dtype=torch.float64) if t > 0 else None
    h_fixed = torch.as_tensor(h0, dtype=torch.float64)

    def run(c):
        h = o_t * torch.tanh(c) if t > 0 else h_fixed
        for k in range(t + 1, T + 1):
            z = X[k - 1] @ Wx + h @ Wh + bb
            i, f = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H])
            g, o = torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(c)
        return c

    return torch.autograd.functional.jacobian(run, torch.as_tensor(fw["c"][t], dtype=torch.float64)).numpy()


def lstm_cell_jacobian_norms(params, xs, h0=None, c0=None, ord=2) -> dict:
    """Norms against the distance ``n = T - t = 0..T``: ``dict(full=..., direct=...)``, each (T + 1,),
    of the full ``dc_T/dc_{T-n}`` (:func:`lstm_cell_jacobian`) and of its direct path
    ``diag(prod f_k)`` (:func:`lstm_direct_path`)."""
    fw = lstm_forward(params, xs, h0, c0)
    T = fw["f"].shape[0]
    full = np.array([np.linalg.norm(lstm_cell_jacobian(params, xs, T - n, h0, c0), ord) for n in range(T + 1)])
    direct = np.array([np.linalg.norm(np.diag(np.prod(fw["f"][T - n:T], axis=0)), ord) for n in range(T + 1)])
    return {"full": full, "direct": direct}


def scalar_lstm_cell_symbolic() -> dict:
    """One step of a scalar LSTM (H = D = 1) in SymPy, for the cell-path derivative of the MIT recitation.

    Symbols (real): ``c_prev`` (c_{t-1}), ``o_prev`` (o_{t-1}), ``x`` (x_t) and, for each gate X in
    f, i, g, the recurrent weight ``w_X``, input weight ``u_X`` and bias ``b_X``. The previous output
    follows the previous cell, ``h_prev = o_prev * tanh(c_prev)``, and::

        f_t = sigma(w_f h_prev + u_f x + b_f),  i_t = sigma(w_i h_prev + u_i x + b_i),
        g_t = tanh(w_g h_prev + u_g x + b_g),   c_t = f_t c_prev + i_t g_t.

    Returns a dict with the symbols (by name), the expressions ``h_prev, f_t, i_t, g_t, c_t`` and the
    answers ``dc_direct = f_t`` (gates held fixed: the direct path ``B_t``) and
    ``dc_full = d c_t / d c_prev`` (``A_t + B_t + C_t + D_t``, all paths).
    """
    import sympy

    names = "c_prev o_prev x w_f u_f b_f w_i u_i b_i w_g u_g b_g"
    syms = dict(zip(names.split(), sympy.symbols(names, real=True)))
    sigmoid = lambda z: 1 / (1 + sympy.exp(-z))  # noqa: E731
    h_prev = syms["o_prev"] * sympy.tanh(syms["c_prev"])
    pre = {X: syms[f"w_{X}"] * h_prev + syms[f"u_{X}"] * syms["x"] + syms[f"b_{X}"] for X in "fig"}
    f_t, i_t, g_t = sigmoid(pre["f"]), sigmoid(pre["i"]), sympy.tanh(pre["g"])
    c_t = f_t * syms["c_prev"] + i_t * g_t
    return {**syms, "h_prev": h_prev, "f_t": f_t, "i_t": i_t, "g_t": g_t, "c_t": c_t,
            "dc_direct": f_t, "dc_full": sympy.diff(c_t, syms["c_prev"])}


# === a long-lag task: report the first symbol at the end =======================================

CELLS = ("rnn", "lstm")


@dataclass(frozen=True)
class LongLagConfig:
    """Settings of :func:`long_lag_experiment`. ``SMALL`` runs in a few seconds, ``LARGE`` in a minute."""

    lags: tuple = (5, 20)
    symbols: int = 4
    hidden: int = 16
    steps: int = 300
    batch: int = 64
    lr: float = 1e-2
    clip: float = 1.0
    forget_bias: float = 3.0
    eval_size: int = 1000
    seed: int = 0
    threads: int = 1  # torch intra-op threads while training; more only slow such small models down

    def __post_init__(self):
        if not isinstance(self.lags, tuple) or not self.lags:
            raise TypeError(f"lags: expected a non-empty tuple of positive integers, got {self.lags!r}")
        for lag in self.lags:
            _check_int(lag, "lag", 1)
        for name in ("symbols", "hidden", "steps", "batch", "eval_size", "threads"):
            _check_int(getattr(self, name), name, 2 if name == "symbols" else 1)
        check_positive(self.lr, "lr")
        check_positive(self.clip, "clip")


SMALL = LongLagConfig()
LARGE = LongLagConfig(lags=(5, 10, 20, 40), hidden=32, steps=1000, lr=3e-3)


def long_lag_batch(batch: int, lag: int, symbols: int = 4, generator=None):
    """A batch of the long-lag task: ``(x, y)``.

    Step 1 shows a symbol ``y`` in ``{0..symbols-1}`` as a one-hot vector; steps ``2..lag+1`` are
    distractors, Gaussian noise N(0, 1) in every input; the network must report ``y`` after the last
    step, ``lag`` steps after it saw it. x: float32 (batch, lag + 1, symbols), y: int64 (batch,).
    Chance level is ``1 / symbols``.
    """
    import torch

    batch, lag, symbols = _check_int(batch, "batch", 1), _check_int(lag, "lag", 1), _check_int(symbols, "symbols", 2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    y = torch.randint(0, symbols, (batch,), generator=generator)
    x = torch.randn(batch, lag + 1, symbols, generator=generator)
    x[:, 0] = torch.nn.functional.one_hot(y, symbols).float()
    return x, y


def long_lag_model(cell: str, symbols: int = 4, hidden: int = 16, forget_bias: float = 3.0):
    """``torch.nn.RNN`` (tanh) or ``torch.nn.LSTM`` (forget-gate bias ``forget_bias``) followed by a linear
    read-out of the last state: input (B, L, symbols), output logits (B, symbols)."""
    import torch

    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")

    class LongLagModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.RNN)(symbols, hidden, batch_first=True)
            if cell == "lstm":
                with torch.no_grad():  # torch keeps two biases; the forget gate is the second quarter
                    self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(forget_bias)
                    self.rnn.bias_hh_l0[hidden:2 * hidden].zero_()
            self.out = torch.nn.Linear(hidden, symbols)

        def forward(self, x):
            return self.out(self.rnn(x)[0][:, -1])

    return LongLagModel()


def train_long_lag(cell: str, lag: int, config: LongLagConfig = SMALL, *, progress=None) -> dict:
    """Train one model on the long-lag task with Adam and gradient clipping (global norm ``config.clip``).

    Every step draws a fresh batch (seeded by ``config.seed``); the global torch RNG and the number of
    torch threads (``config.threads`` while training) are left as they were. Returns ``dict(loss, accuracy)``, the training curves (``config.steps``,), and ``test_accuracy`` on
    ``config.eval_size`` fresh sequences. ``progress``: a tqdm bar to advance by one per step, or None.
    """
    import torch

    if not isinstance(config, LongLagConfig):
        raise TypeError(f"config: expected a LongLagConfig, got {type(config).__name__}")
    lag = _check_int(lag, "lag", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train_long_lag(cell, lag, config, progress)
    finally:
        torch.set_num_threads(threads)


def _train_long_lag(cell, lag, config, progress):
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = long_lag_model(cell, config.symbols, config.hidden, config.forget_bias)
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses, accs = np.zeros(config.steps), np.zeros(config.steps)
    for step in range(config.steps):
        x, y = long_lag_batch(config.batch, lag, config.symbols, gen)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()
        losses[step] = float(loss.detach())
        accs[step] = float((logits.argmax(1) == y).float().mean())
        if progress is not None:
            progress.update(1)
    x, y = long_lag_batch(config.eval_size, lag, config.symbols, torch.Generator().manual_seed(config.seed + 10_000))
    with torch.no_grad():
        test_accuracy = float((model(x).argmax(1) == y).float().mean())
    return {"loss": losses, "accuracy": accs, "test_accuracy": test_accuracy}


def long_lag_experiment(config: LongLagConfig = SMALL, cells=CELLS, *, progress: bool = True) -> dict:
    """Train every cell at every lag of ``config``: ``{cell: {lag: train_long_lag(...)}}``, with one tqdm
    progress bar over all training steps."""
    from tqdm.auto import tqdm

    if not isinstance(config, LongLagConfig):
        raise TypeError(f"config: expected a LongLagConfig, got {type(config).__name__}")
    cells = tuple(cells)
    for cell in cells:
        if cell not in CELLS:
            raise ValueError(f"cells: expected a subset of {CELLS}, got {cell!r}")
    results = {cell: {} for cell in cells}
    with tqdm(total=len(cells) * len(config.lags) * config.steps, desc="long-lag task", disable=not progress) as bar:
        for lag in config.lags:
            for cell in cells:
                bar.set_postfix(cell=cell, lag=lag)
                results[cell][lag] = train_long_lag(cell, lag, config, progress=bar)
    return results


def main(argv=None) -> int:
    """``python -m reference.vanishing [--large] [--figure PATH]``: the long-lag table (and figure)."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--large", action="store_true", help="the LARGE configuration (about a minute)")
    parser.add_argument("--figure", default=None, help="also save the learning curves to this image file")
    args = parser.parse_args(argv)
    config = LARGE if args.large else SMALL
    start = time.perf_counter()
    results = long_lag_experiment(config)
    print(f"test accuracy (chance {1 / config.symbols:.2f}), {time.perf_counter() - start:.1f} s")
    print("lag   " + "".join(f"{cell:>8}" for cell in results))
    for lag in config.lags:
        print(f"{lag:<6}" + "".join(f"{results[cell][lag]['test_accuracy']:>8.3f}" for cell in results))
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(config.lags), figsize=(3.2 * len(config.lags), 2.8), sharey=True)
        for ax, lag in zip(np.atleast_1d(axes), config.lags):
            for cell in results:
                acc = results[cell][lag]["accuracy"]
                ax.plot(np.convolve(acc, np.ones(20) / 20, mode="valid"), label=cell)
            ax.axhline(1 / config.symbols, color="gray", ls=":")
            ax.set_title(f"lag {lag}")
            ax.set_xlabel("training step")
        np.atleast_1d(axes)[0].set_ylabel("training accuracy")
        np.atleast_1d(axes)[0].legend()
        fig.tight_layout()
        fig.savefig(args.figure, dpi=120)
        print(f"wrote {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
