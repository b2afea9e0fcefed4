"""LRP through time for the gated cells (LSTM, GRU), batched: Arras et al. (2017) rules in torch.

Arras, Montavon, Müller, Samek (2017), "Explaining recurrent neural network predictions in
sentiment analysis", propagate relevance through an LSTM with two kinds of steps:

**Linear maps** (the head ``y = W_y h_T + b_y``, the map into the cell input ``z_g``, the GRU's
candidate ``z_n``): the epsilon rule, with the bias and the stabiliser as neurons of their own that
receive their share and keep it (Arras et al.'s ``bias_factor = 0``, their recommended choice)::

    z_k = sum_j a_j w_jk + b_k,    s_k = R_k / (z_k + eps sign(z_k))
    R_j = a_j sum_k w_jk s_k                              (passed down)
    A   = sum_k (b_k + eps sign(z_k)) s_k                 (absorbed: sum_j R_j + A = sum_k R_k exactly)

**Products with a gate** (signal-take-all): the gate is a switch, not a signal, and receives no
relevance. ``h_t = o_t * tanh(c_t)`` passes all of ``R_{h_t}`` to ``c_t``; elementwise activations
(``tanh``) pass relevance unchanged; a sum of two signal terms splits in proportion to them (the
epsilon rule on a sum, with no bias)::

    LSTM  c_t = f_t c_{t-1} + i_t g_t:          R_{c_{t-1}} += f_t c_{t-1} / (c_t + eps sign c_t) R_{c_t},
                                                R_{g_t}      = i_t g_t     / (c_t + eps sign c_t) R_{c_t}
    GRU   h_t = (1 - z_t) h_{t-1} + z_t n_t:    R_{h_{t-1}} += (1 - z_t) h_{t-1} / (h_t + eps sign h_t) R_{h_t},
                                                R_{n_t}      = z_t n_t         / (h_t + eps sign h_t) R_{h_t}

and the stabiliser absorbs ``eps sign / (... + eps sign) R``. In the GRU's candidate
``z_n = W_xn a + b_xn + r * (W_hn h + b_hn)`` the reset gate ``r`` is a constant: the map is linear
with weights ``(W_xn, r W_hn)`` and bias ``b_xn + r b_hn``. At the pixels the chunk's features
``a_t = relu(W1^T x_t + b1)`` pass relevance by the same rules as the thesis's cells (z^beta with
the pixel bounds, or z+), which absorb nothing.

So, per sample, ``sum of pixel relevances + absorbed = f(x)`` up to rounding:
``Explanation.absorbed`` holds exactly what the epsilons and biases kept. Everything runs on the
whole batch at once: (B, .) tensors, one matmul per linear map and step.
"""
from __future__ import annotations

import torch

from .. import lrp
from .. import propagation as P
from .data import from_sequence
from .explain import Explanation
from .gated import GatedClassifier

EPS = 1e-3   # Arras et al.'s value
PIXEL_RULES = ("zbeta", "zplus")


def stabilise(z, eps: float):
    """``z + eps sign(z)`` (sign(0) = +1): never 0 for eps > 0."""
    return z + eps * lrp.sign(z)


def epsilon_linear(z, bias, R, eps: float):
    """For a linear map with outputs ``z`` (B, K), bias (K,) or (B, K), relevance ``R`` (B, K):
    ``s = R / (z + eps sign z)`` (B, K) and the absorbed ``A = sum_k (b_k + eps sign z_k) s_k`` (B,).
    The inputs' relevance is then ``a * (s @ w.T)`` for the caller's ``a`` and ``w`` (J, K)."""
    s = R / stabilise(z, eps)
    return s, ((bias + eps * lrp.sign(z)) * s).sum(1)


def signal_take_all(first, second, R, eps: float):
    """Split ``R`` of ``first + second`` (signal terms, (B, H)) in proportion to them; returns
    ``(R_first, R_second, absorbed)`` with ``absorbed = sum eps sign / (first + second + eps sign) R`` (B,)."""
    total = stabilise(first + second, eps)
    return first / total * R, second / total * R, (eps * lrp.sign(first + second) / total * R).sum(1)


def pixel_composite(pixels: str, low: float, high: float, pooling: P.Rule = P.WINNER_TAKE_ALL) -> P.Composite:
    """The rules from a chunk's features down to its pixels: z^beta (bounds low, high) or z+ on layer 1'."""
    if pixels == "zbeta":
        return P.deep_taylor(low, high, pooling)
    if pixels == "zplus":
        return P.uniform(P.ZPlus(), pooling)
    raise ValueError(f"pixels: expected one of {PIXEL_RULES}, got {pixels!r}")


def explain_gated(model: GatedClassifier, images: torch.Tensor, target: torch.Tensor | None = None, *,
                  low: float = 0.0, high: float = 1.0, pixels: str = "zbeta", eps: float = EPS,
                  pooling: P.Rule = P.WINNER_TAKE_ALL):
    """Explain ``f(x) = y_target`` (default ``max_i y_i``) of an LSTM or GRU classifier for images
    (B, 28, 28) in [low, high]. Returns an :class:`~reference.thesis.explain.Explanation` whose
    ``absorbed`` (B,) is what the epsilons and biases kept, and whose ``recurrent[t]`` (B,) is the
    relevance that reaches the state ``(h_{t-1}, c_{t-1})`` from step t (None at t = 1)."""
    if not isinstance(model, GatedClassifier):
        raise TypeError(f"model: expected a GatedClassifier (lstm or gru), got {type(model).__name__}")
    if eps <= 0:
        raise ValueError(f"eps: expected a positive stabiliser, got {eps}")
    composite = pixel_composite(pixels, low, high, pooling)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        trace = model.steps(images)
        y = model.head(trace[-1]["h"])
        target = y.argmax(1) if target is None else torch.as_tensor(target, device=y.device).reshape(-1)
        f = y.gather(1, target[:, None])[:, 0]
        R_y = torch.zeros_like(y).scatter(1, target[:, None], f[:, None])

        head = model.head[-1]
        s, absorbed = epsilon_linear(y, head.bias, R_y, eps)
        R_h = trace[-1]["h"] * (s @ head.weight)          # (B, H)
        R_c = torch.zeros_like(R_h)                        # LSTM: relevance of c_t from step t + 1
        H = model.hidden
        W_x, b_x = model.input_map.weight, model.input_map.bias             # (G H, n1), (G H,)
        W_h = model.recurrent_map.weight if model.recurrent_map is not None else None   # (G H, H)
        R_steps, R_recurrent = [None] * model.seq_len, [None] * model.seq_len
        for t in reversed(range(model.seq_len)):
            st = trace[t]
            if model.cell == "lstm":
                R_c = R_c + R_h                            # h_t = o_t tanh(c_t): all of R_h to c_t
                R_c, R_g, ab = signal_take_all(st["f"] * st["c_prev"], st["i"] * st["g"], R_c, eps)
                rows = slice(2 * H, 3 * H)                 # the g block of (i, f, g, o)
                s, ab_g = epsilon_linear(st["z_g"], b_x[rows], R_g, eps)
                R_a = st["a"] * (s @ W_x[rows])
                R_h = st["h_prev"] * (s @ W_h[rows]) if W_h is not None else torch.zeros_like(R_h)
                R_state = R_h.sum(1) + R_c.sum(1)
            else:
                R_h, R_n, ab = signal_take_all((1 - st["z"]) * st["h_prev"], st["z"] * st["n"], R_h, eps)
                rows = slice(2 * H, 3 * H)                 # the n block of (r, z, n)
                bias = b_x[rows] + (st["r"] * model.b_hn if model.b_hn is not None else 0)
                s, ab_g = epsilon_linear(st["z_n"], bias, R_n, eps)
                R_a = st["a"] * (s @ W_x[rows])
                if W_h is not None:                        # weights r * W_hn: the gate is a constant
                    R_h = R_h + st["h_prev"] * ((st["r"] * s) @ W_h[rows])
                R_state = R_h.sum(1)
            absorbed = absorbed + ab + ab_g
            R_steps[t] = P.propagate(model.features, st["x"], composite, R_a)
            if t > 0:
                R_recurrent[t] = R_state
    model.train(was_training)
    chunks = torch.stack([r.reshape(r.shape[0], 28, model.width) for r in R_steps], 1)
    return Explanation(from_sequence(chunks), chunks.sum((2, 3)), f, target, R_recurrent, absorbed)
