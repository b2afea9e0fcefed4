"""LRP / Deep Taylor decomposition through time for the thesis's cells (Sec. 3.3 and 4.2).

The explained quantity is ``f(x) = max(0, h_target)`` (default target: ``argmax_i h_i``), the score
the thesis's code explains (``relu(h)``). Relevance goes down the unrolled network: the head (z+),
layer 4 at the last step, where it **splits** between the step's features and the recurrent input
``r_T``; the features' share goes to the chunk's pixels (the *pixel rule* on the layer that sees
pixels, z+ on ReLU layers, max-pooling winner-take-all or proportional); the recurrent share goes
through layer 5 (z+) to ``a4_{T-1}`` and splits again, down to the first step.

z+, z^beta and w^2 keep the (non-positive) biases out of their denominators, so nothing is absorbed on
the way: the pixel relevances sum to ``f(x)``. A zero denominator needs an output neuron with no
positive contribution, and relevance only reaches active neurons, except at the top: when
``h_target <= 0`` (e.g. an untrained model whose last ReLU layer is dead, so ``h = -softplus(b)``),
there is no positive evidence to explain; ``f(x) = 0``, the heatmap is 0 and
``Explanation.explained`` is False for that sample (:func:`conservation_gap` stays 0; nothing is NaN).

The pixel rule is a factor of the study (issue 12), :data:`PIXEL_RULES`:

- ``zbeta``: z^beta with the pixel box [0, 1] (the thesis, Table 3.1);
- ``zplus``: z+ (valid since pixels are >= 0);
- ``w2``: w^2 (ignores the input);
- ``zbeta-pm1``: z^beta on pixels scaled to [-1, 1] with bounds (-1, 1), as the thesis's code does. It
  is a data transform plus bounds: the model must have been trained on ``2 x - 1``; ``explain`` takes
  images in [0, 1] and scales them itself.

Shallow's layer 4 sees pixels and ``r_t`` together: the pixel rule on the pixel inputs and z+ on the
recurrent ones, with one denominator for both (:func:`pixels_and_recurrent`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import lrp
from .. import propagation as P
from .cells import RecurrentClassifier
from .data import from_sequence
from .gated import GatedClassifier


@dataclass(frozen=True)
class PixelRule:
    """The rule of the first layer (the one that sees pixels) and the pixel range the model sees."""

    name: str
    rule: P.Rule
    low: float = 0.0
    high: float = 1.0

    def scale(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> the pixel range [low, high] the model was trained on."""
        return images if (self.low, self.high) == (0.0, 1.0) else self.low + (self.high - self.low) * images


PIXEL_RULES = {
    "zbeta": PixelRule("zbeta", P.ZBeta(0.0, 1.0)),
    "zplus": PixelRule("zplus", P.ZPlus()),
    "w2": PixelRule("w2", P.W2()),
    "zbeta-pm1": PixelRule("zbeta-pm1", P.ZBeta(-1.0, 1.0), -1.0, 1.0),
}


def get_pixel_rule(name: str | PixelRule) -> PixelRule:
    """The :class:`PixelRule` named ``name`` (or ``name`` itself)."""
    if isinstance(name, PixelRule):
        return name
    if name not in PIXEL_RULES:
        raise ValueError(f"pixel_rule: expected one of {sorted(PIXEL_RULES)}, got {name!r}")
    return PIXEL_RULES[name]


def _pixel_terms(rule: P.Rule, x, w):
    """``(z, back)`` of a dense rule on inputs x (B, J), weights w (J, K): ``z_k = sum_j q_jk`` and
    ``back(s)_j = sum_k q_jk s_k`` with ``q_jk`` the rule's contribution of input j to output k."""
    if isinstance(rule, P.ZBeta):
        wp, wn = lrp.positive(w), lrp.negative(w)
        z = x @ w - rule.low * wp.sum(0) - rule.high * wn.sum(0)
        return z, lambda s: x * (s @ w.T) - rule.low * (s @ wp.T) - rule.high * (s @ wn.T)
    if isinstance(rule, P.ZPlus):
        wp = lrp.positive(w)
        return x @ wp, lambda s: x * (s @ wp.T)
    if isinstance(rule, P.W2):
        v = w * w
        return v.sum(0).expand(x.shape[0], -1), lambda s: s @ v.T
    raise TypeError(f"pixel rule: expected ZBeta, ZPlus or W2, got {type(rule).__name__}")


def pixels_and_recurrent(a, w, R, n_pixels: int, rule: P.Rule):
    """One rule for an input that is pixels (first ``n_pixels`` entries) and a ReLU part (``r_t``).

    ``R_j = q_jk s_k`` with the pixel rule's contributions ``q_jk`` on the pixels and ``a_j w_jk^+``
    on the ReLU part, ``s_k = R_k / z_k``, ``z_k`` the sum of both kinds of contributions.
    """
    x, r = a[..., :n_pixels], a[..., n_pixels:]
    wr = lrp.positive(w[n_pixels:])
    z_x, back = _pixel_terms(rule, x, w[:n_pixels])
    s = lrp.safe_divide(R, z_x + r @ wr)
    return torch.cat([back(s), r * (s @ wr.T)], dim=-1)


def zbeta_zplus(a, w, R, n_box: int, low: float, high: float):
    """:func:`pixels_and_recurrent` with z^beta on the box part [low, high] (the thesis's rule)."""
    return pixels_and_recurrent(a, w, R, n_box, P.ZBeta(low, high))


@dataclass
class Explanation:
    heatmap: torch.Tensor     # (B, 28, 28) pixel relevance
    per_step: torch.Tensor    # (B, T) relevance of each chunk
    f: torch.Tensor           # (B,) the raw target score h_target; the relevance explained is max(0, f)
    target: torch.Tensor      # (B,) the explained class
    recurrent: list           # relevance reaching r_t at each step (B,) per step (None at t = 1)
    absorbed: torch.Tensor | None = None   # (B,) kept by epsilons and biases (gated cells); None: nothing
    explained: torch.Tensor | None = None   # (B,) bool: f > 0 (else there is no evidence to explain)


def explain(model: RecurrentClassifier, images: torch.Tensor, target: torch.Tensor | None = None, *,
            pixel_rule: str | PixelRule = "zbeta", pooling: P.Rule = P.WINNER_TAKE_ALL) -> Explanation:
    """Explain ``f(x) = max(0, h_target)`` (default: ``max_i h_i``) for images (B, 28, 28) in [0, 1].

    ``pixel_rule``: a name in :data:`PIXEL_RULES` (the rule of the layer that sees pixels). The gated
    cells (lstm, gru) go to :func:`reference.thesis.explain_gated.explain_gated` (z^beta or z+ at the
    pixels; w^2 is not defined for them).
    """
    if isinstance(model, GatedClassifier):
        # imported here: explain_gated builds on this module's Explanation
        from .explain_gated import explain_gated
        rule = get_pixel_rule(pixel_rule)
        if not isinstance(rule.rule, (P.ZBeta, P.ZPlus)):
            raise ValueError(f"pixel_rule: the gated cells take zbeta, zplus or zbeta-pm1, got {rule.name!r}")
        pixels = "zplus" if isinstance(rule.rule, P.ZPlus) else "zbeta"
        return explain_gated(model, rule.scale(images), target, low=rule.low, high=rule.high, pixels=pixels,
                             pooling=pooling)
    if not isinstance(model, RecurrentClassifier):
        raise TypeError(f"model: expected a RecurrentClassifier from build_model, got {type(model).__name__}")
    rule = get_pixel_rule(pixel_rule)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        trace = model.steps(rule.scale(images))
        h = model.head(trace[-1]["a4"])
    target = h.argmax(1) if target is None else torch.as_tensor(target).reshape(-1)
    f = h.gather(1, target[:, None])[:, 0]
    R = torch.zeros_like(h).scatter(1, target[:, None], f.clamp(min=0)[:, None])

    R = P.propagate(model.head, trace[-1]["a4"], P.uniform(P.ZPlus(), pooling), R)
    w4 = P.thesis_weight(model.combine)
    features = P.layered(rule.rule, P.ZPlus(), pooling)
    R_steps, R_recurrent = [None] * model.seq_len, [None] * model.seq_len
    for t in reversed(range(model.seq_len)):
        step = trace[t]
        inp = torch.cat([step["features"], step["r"]], 1) if step["r"] is not None else step["features"]
        n_f = step["features"].shape[1]
        if len(model.features) == 0:   # Shallow: layer 4 sees the pixels themselves
            R_inp = pixels_and_recurrent(inp, w4, R, n_f, rule.rule)
        else:
            R_inp = lrp.zplus(inp, w4, R)
        R_f, R_r = R_inp[:, :n_f], R_inp[:, n_f:]
        R_steps[t] = R_f if len(model.features) == 0 else P.propagate(model.features, step["x"], features, R_f)
        if t > 0:
            R_recurrent[t] = R_r.sum(1)
            R = lrp.zplus(trace[t - 1]["a4"], P.thesis_weight(model.recur), R_r)
    model.train(was_training)
    chunks = torch.stack([r.reshape(r.shape[0], 28, model.width) for r in R_steps], 1)
    return Explanation(from_sequence(chunks), chunks.sum((2, 3)), f, target, R_recurrent, explained=f > 0)


def conservation_gap(e: Explanation) -> torch.Tensor:
    """``max(0, f(x)) - sum of pixel relevances - absorbed`` per sample (0 up to rounding for every pixel
    rule, and for the gated cells once what their epsilons and biases absorb is counted)."""
    f = e.f if e.explained is None else e.f.clamp(min=0)
    absorbed = 0 if e.absorbed is None else e.absorbed
    return f - e.heatmap.sum((1, 2)) - absorbed


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
