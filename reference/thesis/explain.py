"""LRP / Deep Taylor decomposition through time for the thesis's cells (Sec. 3.3 and 4.2).

The explained quantity is ``f(x) = max_i h_i`` (or ``h_target``). Relevance goes down the unrolled
network: the head (z+), layer 4 at the last step, where it **splits** between the step's features and
the recurrent input ``r_T``; the features' share goes to the chunk's pixels (z^beta with the pixel
bounds on the layer that sees pixels, z+ on ReLU layers, max-pooling winner-take-all or proportional);
the recurrent share goes through layer 5 (z+) to ``a4_{T-1}`` and splits again, down to the first step.

Because z+ and z^beta do not put the (non-positive) biases in their denominators, nothing is absorbed
on the way: the pixel relevances sum to ``f(x)`` exactly, except for relevance that reaches a neuron
with no positive contribution (a zero denominator), which cannot happen in a ReLU network whose
relevance stays on active neurons. :func:`conservation_gap` measures it.

Shallow's layer 4 sees pixels and ``r_t`` together; its rule is z^beta on the pixel inputs and z+ on
the recurrent ones, one denominator for both (the root point lies in box x orthant).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import lrp
from .. import propagation as P
from .cells import RecurrentClassifier
from .data import from_sequence
from .gated import GatedClassifier


def zbeta_zplus(a, w, R, n_box: int, low: float, high: float):
    """One rule for an input that is a box part (first ``n_box`` entries, in [low, high]) and a ReLU part.

    ``R_j = (a_j w_jk - l w_jk^+ - h w_jk^-) s_k`` on the box part, ``a_j w_jk^+ s_k`` on the ReLU part,
    ``s_k = R_k / z_k`` with ``z_k`` the sum of both kinds of contributions.
    """
    x, r = a[..., :n_box], a[..., n_box:]
    wx, wr = w[:n_box], w[n_box:]
    wxp, wxn, wrp = lrp.positive(wx), lrp.negative(wx), lrp.positive(wr)
    z = x @ wx - low * wxp.sum(0) - high * wxn.sum(0) + r @ wrp
    s = lrp.safe_divide(R, z)
    R_x = x * (s @ wx.T) - low * (s @ wxp.T) - high * (s @ wxn.T)
    return torch.cat([R_x, r * (s @ wrp.T)], dim=-1)


@dataclass
class Explanation:
    heatmap: torch.Tensor     # (B, 28, 28) pixel relevance
    per_step: torch.Tensor    # (B, T) relevance of each chunk
    f: torch.Tensor           # (B,) the explained score
    target: torch.Tensor      # (B,) the explained class
    recurrent: list           # relevance reaching r_t at each step (B,) per step (None at t = 1)
    absorbed: torch.Tensor | None = None   # (B,) kept by epsilons and biases (gated cells); None: nothing


def explain(model: RecurrentClassifier, images: torch.Tensor, target: torch.Tensor | None = None, *,
            low: float = 0.0, high: float = 1.0, pooling: P.Rule = P.WINNER_TAKE_ALL) -> Explanation:
    """Explain ``f(x) = h_target`` (default: ``max_i h_i``) for images (B, 28, 28) in [low, high].

    The gated cells (lstm, gru) go to :func:`reference.thesis.explain_gated.explain_gated`."""
    if isinstance(model, GatedClassifier):
        # imported here: explain_gated builds on this module's Explanation
        from .explain_gated import explain_gated
        return explain_gated(model, images, target, low=low, high=high, pooling=pooling)
    if not isinstance(model, RecurrentClassifier):
        raise TypeError(f"model: expected a RecurrentClassifier from build_model, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        trace = model.steps(images)
        h = model.head(trace[-1]["a4"])
    target = h.argmax(1) if target is None else torch.as_tensor(target).reshape(-1)
    f = h.gather(1, target[:, None])[:, 0]
    R = torch.zeros_like(h).scatter(1, target[:, None], f[:, None])

    R = P.propagate(model.head, trace[-1]["a4"], P.uniform(P.ZPlus(), pooling), R)
    w4 = P.thesis_weight(model.combine)
    features = P.deep_taylor(low, high, pooling)
    R_steps, R_recurrent = [None] * model.seq_len, [None] * model.seq_len
    for t in reversed(range(model.seq_len)):
        step = trace[t]
        inp = torch.cat([step["features"], step["r"]], 1) if step["r"] is not None else step["features"]
        n_f = step["features"].shape[1]
        if len(model.features) == 0:   # Shallow: layer 4 sees the pixels themselves
            R_inp = zbeta_zplus(inp, w4, R, n_f, low, high)
        else:
            R_inp = lrp.zplus(inp, w4, R)
        R_f, R_r = R_inp[:, :n_f], R_inp[:, n_f:]
        R_steps[t] = R_f if len(model.features) == 0 else P.propagate(model.features, step["x"], features, R_f)
        if t > 0:
            R_recurrent[t] = R_r.sum(1)
            R = lrp.zplus(trace[t - 1]["a4"], P.thesis_weight(model.recur), R_r)
    model.train(was_training)
    chunks = torch.stack([r.reshape(r.shape[0], 28, model.width) for r in R_steps], 1)
    return Explanation(from_sequence(chunks), chunks.sum((2, 3)), f, target, R_recurrent)


def conservation_gap(e: Explanation) -> torch.Tensor:
    """``f(x) - sum of pixel relevances - absorbed`` per sample (0 up to rounding for z+ / z^beta, and for
    the gated cells once what their epsilons and biases absorb is counted)."""
    absorbed = 0 if e.absorbed is None else e.absorbed
    return e.f - e.heatmap.sum((1, 2)) - absorbed


# --- measures of an explanation -------------------------------------------------------------------

def step_distribution(values: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Share of ``values`` (B, 28, 28), summed over a population, in each of the ``seq_len`` chunks."""
    per_step = values.clamp(min=0).sum(0).reshape(28, seq_len, 28 // seq_len).sum((0, 2))
    return per_step / per_step.sum().clamp(min=1e-12)


def wasserstein_steps(p: torch.Tensor, q: torch.Tensor) -> float:
    """Earth mover's distance between two distributions over steps 1..T, in units of steps."""
    return float((p.cumsum(0) - q.cumsum(0)).abs().sum())


def pixel_flipping(model: RecurrentClassifier, images: torch.Tensor, e: Explanation) -> torch.Tensor:
    """Remove the most relevant chunks first (set them to 0) and record ``h_target``: (T + 1,) the mean
    score after removing k chunks, divided by the mean unperturbed score. A faster drop (smaller area) means a more faithful ranking."""
    order = e.per_step.argsort(1, descending=True)
    x = images.clone()
    w = model.width
    curve = []
    model.eval()
    with torch.no_grad():
        for k in range(model.seq_len + 1):
            if k > 0:
                for i, t in enumerate(order[:, k - 1].tolist()):
                    x[i, :, t * w:(t + 1) * w] = 0
            curve.append(model(x).gather(1, e.target[:, None])[:, 0])
    curve = torch.stack(curve, 1).mean(0)   # ratio of means: robust to samples whose score is near 0
    return curve / curve[0]


def flipping_area(curve: torch.Tensor) -> float:
    """Area under the pixel-flipping curve on [0, 1] (trapezoids); lower is better."""
    y = curve.double()
    return float(((y[1:] + y[:-1]) / 2).sum() / (len(y) - 1))
