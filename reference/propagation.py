"""Relevance propagation through whole networks: rule objects, composites, and the layer types.

In zennit's vocabulary: a **rule** says how one layer passes relevance down, a **composite** maps
layer *types* to rules (``{Linear: ZPlus(), MaxPool2d: WinnerTakeAll(), ...}``), looked up along the
layer's class hierarchy, so a subclass such as the thesis's ``NegBiasLinear`` gets its base's rule.
Here a network is a ``torch.nn.Sequential`` of ``Linear``, ``Conv2d``, ``MaxPool2d`` and shape-only
layers (``ReLU``, ``Flatten``, ``Unflatten``, ``Dropout``, ``Identity``).

- dense layers use :mod:`reference.lrp` directly (the four-line rules);
- convolutions and pooling (and dense layers, for cross-checking) use the *gradient trick*: for ``z = layer(a)`` computed with the rule's
  modified weights, ``c = d/da sum_k z_k s_k`` with ``s = R / z`` held constant, and ``R_j = a_j c_j``
  (Montavon et al. 2019, "Layer-wise relevance propagation: an overview", Sec. 10.2.2);
- max-pooling passes relevance to the winner of each window (``winner_take_all``, the gradient of
  max) or in proportion to the activations in the window (``proportional``, a sum-pooling layer).

torch's ``Linear`` stores its weight as (K, J); :func:`thesis_weight` converts it to the thesis's
(J, K) in this one place.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import lrp


def thesis_weight(linear: torch.nn.Linear) -> torch.Tensor:
    """The weight of ``linear`` in the thesis orientation ``w`` of shape (J, K)."""
    return linear.weight.detach().T


def _gradient_trick(forward: Callable[[torch.Tensor], torch.Tensor], a, R):
    """``c = d/da <forward(a), stopgrad(R / forward(a))>``: the backward pass of a rule with modified weights."""
    a = a.detach().requires_grad_(True)
    z = forward(a)
    s = lrp.safe_divide(R, z).detach()
    (c,) = torch.autograd.grad(z, a, grad_outputs=s)
    return c


# --- rules -------------------------------------------------------------------------------------

def layer_forward(layer, x, weight, bias=None):
    """``layer``'s affine map applied with another weight (and bias): the rule's modified layer."""
    if isinstance(layer, torch.nn.Linear):
        return F.linear(x, weight, bias)
    if isinstance(layer, torch.nn.Conv2d):
        return F.conv2d(x, weight, bias, layer.stride, layer.padding, layer.dilation, layer.groups)
    raise TypeError(f"expected a Linear or Conv2d layer, got {type(layer).__name__}")


def layer_bias(layer) -> torch.Tensor | None:
    """The bias the layer adds: ``effective_bias`` where a layer keeps it there (the thesis's
    ``NegBias*`` layers, whose ``bias`` is None and whose bias is ``-softplus(b)``), else ``bias``."""
    b = getattr(layer, "effective_bias", None)
    if b is None:
        b = layer.bias
    return None if b is None else b.detach()


class Rule:
    """How one layer passes relevance down: ``relevance(layer, a, R)`` gives R_j from R_k."""

    def relevance(self, layer, a, R, *, via_gradient: bool = False):
        raise NotImplementedError


class WeightedRule(Rule):
    """A rule for a weighted layer (``Linear`` or ``Conv2d``).

    ``dense(a, w, b, R)`` is the four-line rule of :mod:`reference.lrp` in the thesis orientation;
    ``gradient(layer, a, R)`` is the same rule by the gradient trick on the layer with modified
    weights, which works for convolutions too. Two independent implementations that must agree.
    """

    def dense(self, a, w, b, R):
        raise NotImplementedError

    def gradient(self, layer, a, R):
        raise NotImplementedError

    def relevance(self, layer, a, R, *, via_gradient: bool = False):
        if isinstance(layer, torch.nn.Linear) and not via_gradient:
            return self.dense(a, thesis_weight(layer), layer_bias(layer), R)
        return self.gradient(layer, a, R)


@dataclass
class W2(WeightedRule):
    """w^2 rule (zennit: ``WSquare``): inputs in R^J."""

    def dense(self, a, w, b, R):
        return lrp.w2(w, R)

    def gradient(self, layer, a, R):
        ones = torch.ones_like(a)   # R_j = sum_k w_jk^2 s_k does not depend on a
        return _gradient_trick(lambda x: layer_forward(layer, x, layer.weight.detach() ** 2), ones, R)


@dataclass
class ZPlus(WeightedRule):
    """z+ rule (zennit: ``ZPlus``): ReLU activations a >= 0."""

    def dense(self, a, w, b, R):
        return lrp.zplus(a, w, R)

    def gradient(self, layer, a, R):
        wp = layer.weight.detach().clamp(min=0)
        return a * _gradient_trick(lambda x: layer_forward(layer, x, wp), a, R)


@dataclass
class ZBeta(WeightedRule):
    """z^beta rule (zennit: ``ZBox``): inputs in the box [low, high] with low <= 0 <= high."""

    low: float = 0.0
    high: float = 1.0

    def dense(self, a, w, b, R):
        return lrp.zbeta(a, w, R, self.low, self.high)

    def gradient(self, layer, a, R):
        w = layer.weight.detach()
        low, high = torch.full_like(a, self.low), torch.full_like(a, self.high)
        x, l_, h_ = (t.detach().requires_grad_(True) for t in (a, low, high))
        z = (layer_forward(layer, x, w) - layer_forward(layer, l_, w.clamp(min=0))
             - layer_forward(layer, h_, w.clamp(max=0)))
        s = lrp.safe_divide(R, z).detach()
        cx, cl, ch = torch.autograd.grad(z, (x, l_, h_), grad_outputs=s)
        return a * cx + low * cl + high * ch   # the minus signs are inside z's gradient


@dataclass
class AlphaBeta(WeightedRule):
    """alpha-beta rule (zennit: ``AlphaBeta``), alpha - beta = 1."""

    alpha: float = 1.0
    beta: float = 0.0

    def __post_init__(self):
        if abs(self.alpha - self.beta - 1) > 1e-9 or self.beta < 0:
            raise ValueError(f"AlphaBeta: expected alpha - beta = 1 and beta >= 0, got {self.alpha}, {self.beta}")

    def dense(self, a, w, b, R):
        return lrp.alphabeta(a, w, R, self.alpha, self.beta)

    def gradient(self, layer, a, R):
        w = layer.weight.detach()
        cp = _gradient_trick(lambda x: layer_forward(layer, x, w.clamp(min=0)), a, R)
        cn = _gradient_trick(lambda x: layer_forward(layer, x, w.clamp(max=0)), a, R)
        return a * (self.alpha * cp - self.beta * cn)


@dataclass
class Epsilon(WeightedRule):
    """epsilon rule (zennit: ``Epsilon``); the bias (:func:`layer_bias`) is part of z."""

    eps: float = 1e-6

    def dense(self, a, w, b, R):
        return lrp.epsilon(a, w, b, R, self.eps)

    def gradient(self, layer, a, R):
        w, b = layer.weight.detach(), layer_bias(layer)

        def forward(x):
            z = layer_forward(layer, x, w, b)
            return z + self.eps * lrp.sign(z).detach()

        return a * _gradient_trick(forward, a, R)


# --- rules for the layers without weights -------------------------------------------------------

class WinnerTakeAll(Rule):
    """Max-pooling: each window's relevance goes to its winner (the gradient of max)."""

    def relevance(self, layer, a, R, *, via_gradient: bool = False):
        args = (layer.kernel_size, layer.stride, layer.padding)
        return a * _gradient_trick(lambda x: F.max_pool2d(x, *args, ceil_mode=layer.ceil_mode), a, R)


class Proportional(Rule):
    """Max-pooling read as sum-pooling: a window's relevance in proportion to its activations (a >= 0)."""

    def relevance(self, layer, a, R, *, via_gradient: bool = False):
        args = (layer.kernel_size, layer.stride, layer.padding)
        return a * _gradient_trick(
            lambda x: F.avg_pool2d(x, *args, ceil_mode=layer.ceil_mode, divisor_override=1), a, R)


class Reshape(Rule):
    """Flatten / Unflatten: relevance takes the input's shape."""

    def relevance(self, layer, a, R, *, via_gradient: bool = False):
        return R.reshape(a.shape)


class Pass(Rule):
    """ReLU, Dropout (in eval mode), Identity: relevance passes unchanged."""

    def relevance(self, layer, a, R, *, via_gradient: bool = False):
        return R


# --- composites --------------------------------------------------------------------------------

WEIGHTED = (torch.nn.Linear, torch.nn.Conv2d)
WINNER_TAKE_ALL = WinnerTakeAll()
SHAPE_RULES = {torch.nn.ReLU: Pass(), torch.nn.Dropout: Pass(), torch.nn.Identity: Pass(),
               torch.nn.Flatten: Reshape(), torch.nn.Unflatten: Reshape(), torch.nn.MaxPool2d: WINNER_TAKE_ALL}


@dataclass
class Composite:
    """A map from layer types to rules (zennit's ``LayerMapComposite``), and optionally a rule of its
    own for the first weighted layer (zennit's ``SpecialFirstLayerMapComposite``: the input layer)."""

    layer_map: dict
    first: WeightedRule | None = None

    def rule_for(self, layer, *, first: bool = False) -> Rule:
        if first and self.first is not None and isinstance(layer, WEIGHTED):
            return self.first
        for kind in type(layer).__mro__:   # the most specific type that has a rule
            if kind in self.layer_map:
                return self.layer_map[kind]
        known = ", ".join(sorted(k.__name__ for k in self.layer_map))
        raise TypeError(f"no relevance rule for {type(layer).__name__}; this composite has rules for {known}")


def layered(first: WeightedRule, rest: WeightedRule, pooling: Rule = WINNER_TAKE_ALL) -> Composite:
    """``first`` on the input layer, ``rest`` on every other weighted layer, ``pooling`` on max-pooling."""
    return Composite({**SHAPE_RULES, torch.nn.MaxPool2d: pooling, torch.nn.Linear: rest, torch.nn.Conv2d: rest},
                     first=first)


def deep_taylor(low: float = 0.0, high: float = 1.0, pooling: Rule = WINNER_TAKE_ALL) -> Composite:
    """Table 3.1 of the thesis: z^beta on pixels in [low, high], z+ on ReLU layers."""
    return layered(ZBeta(low, high), ZPlus(), pooling)


def uniform(rule: WeightedRule, pooling: Rule = WINNER_TAKE_ALL) -> Composite:
    """One rule on every weighted layer."""
    return layered(rule, rule, pooling)


# --- propagation through a Sequential ----------------------------------------------------------

def forward_activations(model: torch.nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """``[x, layer_1(x), layer_2(layer_1(x)), ...]`` without gradients."""
    acts = [x]
    with torch.no_grad():
        for layer in model:
            acts.append(layer(acts[-1]))
    return acts


def propagate(model: torch.nn.Sequential, x: torch.Tensor, composite: Composite, R_out: torch.Tensor | None = None,
              *, return_all: bool = False, via_gradient: bool = False):
    """Propagate relevance from the output of ``model`` down to its input ``x``.

    x: (B, ...) input; R_out: (B, K) relevance of the outputs (default: the output itself, i.e. every
    output neuron explains its own value — pass ``output * one_hot(target)`` to explain one class).
    Dense layers use the four-line rules unless ``via_gradient`` (then every weighted layer uses the
    gradient trick: an independent implementation for checking).
    Returns the input relevance with the shape of ``x`` (and the relevance at every layer if asked).
    """
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(f"model: expected a torch.nn.Sequential, got {type(model).__name__}")
    if not isinstance(composite, Composite):
        raise TypeError(f"composite: expected a Composite (e.g. deep_taylor()), got {type(composite).__name__}")
    acts = forward_activations(model, x)
    R = acts[-1].clone() if R_out is None else R_out
    if R.shape != acts[-1].shape:
        raise ValueError(f"R_out: expected shape {tuple(acts[-1].shape)} (the model output), got {tuple(R.shape)}")
    first = next((i for i, layer in enumerate(model) if isinstance(layer, WEIGHTED)), None)
    relevances = [R]
    for i in reversed(range(len(model))):
        try:
            rule = composite.rule_for(model[i], first=i == first)
        except TypeError as error:
            raise TypeError(f"layer {i}: {error}") from None
        R = rule.relevance(model[i], acts[i], R, via_gradient=via_gradient)
        relevances.append(R)
    return (R, relevances[::-1]) if return_all else R
