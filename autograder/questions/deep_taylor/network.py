"""Deep Taylor decomposition through a whole network: ``deep_taylor(layers, x, target, low, high)`` (z^beta on the
pixels, z+ above, from the target logit) against the reference rules on generated small networks (biases of
both signs) and against :func:`reference.propagation.propagate` with ``deep_taylor(0, 1)`` on the notebook's
trained digit classifier. A failure names the likely mistake, decided on fixed probe networks."""
from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
from hypothesis import strategies as st

from reference import lrp as ref_lrp

from ...feedback import CheckFailed, passed
from ...lrp_rules import Diagnosis, neg, pos, safe
from ...properties import Violation, arrays, check_properties
from ...question import array, call, question
from .rules import _zbeta_generic

# --- the whole network --------------------------------------------------------------------------------

def _forward(layer_list, x):
    acts = [x]
    for i, (w_, b_) in enumerate(layer_list):
        zz = acts[-1] @ w_ + b_
        acts.append(np.maximum(zz, 0) if i < len(layer_list) - 1 else zz)
    return acts


def _one_hot_logit(logits, target):
    R = np.zeros_like(logits)
    rows = np.arange(len(target))
    R[rows, target] = logits[rows, target]
    return R


def _reference_deep_taylor(layer_list, x, target, low=0.0, high=1.0):
    """The reference relevance (B, J0): :func:`reference.lrp.zbeta` on the pixels, :func:`reference.lrp.zplus`
    above, from the target logit (float64). Equal to ``reference.propagation.propagate`` with ``deep_taylor(low,
    high)`` (tests/test_deep_taylor.py checks it), without building a torch module per generated example."""
    acts = _forward(layer_list, np.asarray(x, float))
    R = _one_hot_logit(acts[-1], np.asarray(target))
    for i in reversed(range(len(layer_list))):
        w_ = np.asarray(layer_list[i][0], float)
        R = ref_lrp.zbeta(acts[i], w_, R, low, high) if i == 0 else ref_lrp.zplus(acts[i], w_, R)
    return R


def _propagate_reference(model, x, target, low=0.0, high=1.0):
    """``reference.propagation.propagate(model, x, deep_taylor(low, high), logit of target)`` in float64."""
    import torch

    from reference import propagation as P

    net = copy.deepcopy(model).double()
    xt = torch.as_tensor(np.asarray(x, float))
    with torch.no_grad():
        logits = net(xt)
    R_out = torch.zeros_like(logits)
    rows = torch.arange(len(xt))
    R_out[rows, torch.as_tensor(target)] = logits[rows, torch.as_tensor(target)]
    return P.propagate(net, xt, P.deep_taylor(low, high), R_out).numpy()


def _np_zbeta(a_, w_, b_, R_, lo, hi):   # also on hidden layers, outside the box: not reference.lrp.zbeta
    return _zbeta_generic(a_, w_, R_, lo, hi, lw=pos, hw=neg)


def _np_zplus(a_, w_, b_, R_, lo, hi):
    return ref_lrp.zplus(a_, w_, R_)


def _np_lrp0(a_, w_, b_, R_, lo, hi):
    return a_ * (safe(R_, a_ @ w_ + b_) @ w_.T)


def _np_lrp0_no_bias(a_, w_, b_, R_, lo, hi):
    return a_ * (safe(R_, a_ @ w_) @ w_.T)


def _np_network(first, rest, start="target"):
    """A (possibly wrong) deep Taylor in numpy: ``first`` on the pixels, ``rest`` above, starting from ``start``."""
    def relevance(L, x, tg, lo, hi):
        acts = _forward(L, x)
        logits = acts[-1]
        if start == "target":
            R = _one_hot_logit(logits, tg)
        elif start == "one":
            R = _one_hot_logit(np.ones_like(logits), tg)
        else:
            R = logits.copy()
        for i in reversed(range(len(L))):
            R = (first if i == 0 else rest)(acts[i], L[i][0], L[i][1], R, lo, hi)
        return R
    return relevance


NETWORK_MISTAKES = [
    ("the pixel layer needs z^beta: you used z+ on every layer (pixels are bounded inputs in [low, high], and z+ "
     "ignores the box)", _np_network(_np_zplus, _np_zplus)),
    ("you used z^beta on every layer; the hidden layers hold ReLU activations (a >= 0, no upper bound): use z+ there",
     _np_network(_np_zbeta, _np_zbeta)),
    ("the rules are swapped: z^beta belongs to the pixel layer (the first), z+ to the layers above",
     _np_network(_np_zplus, _np_zbeta)),
    ("start from the logit of the target class only: R = 0 for every other output (you explained all logits at "
     "once)", _np_network(_np_zbeta, _np_zplus, "all")),
    ("start from the logit of the target class, not from 1 (the relevance to share out is f_c(x) itself)",
     _np_network(_np_zbeta, _np_zplus, "one")),
    ("that is LRP-0 / gradient x input (the z rule a_j w_jk / z_k everywhere); deep Taylor uses z^beta on the pixels "
     "and z+ above", _np_network(_np_lrp0, _np_lrp0)),
    ("that is the z rule a_j w_jk / sum_j a_j w_jk everywhere (LRP-0 without the bias); deep Taylor uses z^beta on "
     "the pixels and z+ above", _np_network(_np_lrp0_no_bias, _np_lrp0_no_bias)),
]


def _network_probes():
    rng = np.random.default_rng(5)
    out = []
    for sizes, target in (((6, 4, 3), [0, 1, 2]), ((5, 4, 3, 2), [1, 0, 1])):
        L = [(np.round(rng.normal(size=(j, k)), 2), np.round(rng.uniform(-0.5, 0.5, k), 2))
             for j, k in zip(sizes[:-1], sizes[1:])]
        x = np.round(rng.uniform(0.0, 1.0, (3, sizes[0])), 2)
        out.append((L, x, np.array(target), 0.0, 1.0))
    return out


def _networks(max_examples):
    """Small random ReLU networks with 1 or 2 hidden layers, biases of both signs, pixels in [0, 1]."""
    def build(d):
        B, sizes = d
        parts = {"x": arrays((B, sizes[0]), 0.0, 1.0, 0.05),
                 "target": st.lists(st.integers(0, sizes[-1] - 1), min_size=B, max_size=B)}
        for i, (j, k) in enumerate(zip(sizes[:-1], sizes[1:])):
            parts[f"w{i + 1}"] = arrays((j, k), -2.0, 2.0)
            parts[f"b{i + 1}"] = arrays((k,), -1.0, 1.0)
        return st.fixed_dictionaries(parts)

    sizes = st.one_of(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
                      st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)))
    return st.tuples(st.integers(1, 2), sizes).flatmap(build)


def _layers_of(ex):
    n = sum(1 for k in ex if k.startswith("w"))
    return [(ex[f"w{i}"], ex[f"b{i}"]) for i in range(1, n + 1)]


def _network_output(fn, layer_list, x, target, low, high):
    out = call(fn, [(w_, b_) for w_, b_ in layer_list], x, np.asarray(target), low, high, name="deep_taylor",
               context=f"\nIt must accept layers = [(w, b), ...] (w of shape (J, K)), x of shape (B, J0), target of "
                       f"shape (B,) (class indices), low and high; here B = {x.shape[0]}, J0 = {x.shape[1]}, "
                       f"{len(layer_list)} layers.")
    out = array(out, "deep_taylor(...)")
    if out.shape != x.shape:
        hint = " That is the shape of the output layer: propagate down to the pixels." if out.shape[-1:] == \
            (layer_list[-1][0].shape[1],) else ""
        raise Violation(f"deep_taylor returned shape {out.shape}; expected x.shape = {x.shape} (one relevance per "
                        f"pixel).{hint}")
    if not np.all(np.isfinite(out)):
        raise Violation("the relevance contains NaN or infinity (a zero denominator in one of your rules?)", got=out)
    return out


def _network_hint(mistake, message):
    if mistake.hint():
        return mistake.explain(message)
    return message + ". If the checks of your zbeta or zplus above fail, fix those first: deep_taylor uses them."


def _network_props(fn, low=0.0, high=1.0):
    mistake = Diagnosis(fn, NETWORK_MISTAKES, _network_probes())

    def shape_and_finite(**ex):
        L = _layers_of(ex)
        _network_output(fn, L, ex["x"], ex["target"], low, high)

    def conserves_the_logit(**ex):
        L = _layers_of(ex)
        out = _network_output(fn, L, ex["x"], ex["target"], low, high)
        want = _reference_deep_taylor(L, ex["x"], ex["target"], low, high).sum(-1)
        if not np.allclose(out.sum(-1), want, rtol=1e-6, atol=1e-6):
            logits = _forward(L, ex["x"])[-1][np.arange(len(ex["target"])), ex["target"]]
            raise Violation(_network_hint(mistake, f"the pixel relevances must add up to the explained logit, here "
                                                   f"f_c(x) = {np.round(logits, 4).tolist()}: z^beta and z+ leave the "
                                                   f"bias out of their denominators and pass everything down, except "
                                                   f"that an output whose denominator is 0 drops its relevance"),
                            expected=want, got=out.sum(-1))

    def agreement(**ex):
        L = _layers_of(ex)
        out = _network_output(fn, L, ex["x"], ex["target"], low, high)
        want = _reference_deep_taylor(L, ex["x"], ex["target"], low, high)
        if not np.allclose(out, want, rtol=1e-5, atol=1e-6):
            raise Violation(_network_hint(mistake, "your pixel relevances differ from deep Taylor (z^beta on the "
                                                   "pixels, z+ on the hidden layers)"), expected=want, got=out)

    return {"shape and no NaN": shape_and_finite, "conserves the explained logit": conserves_the_logit,
            "agreement with deep Taylor": agreement}


def layers_of_model(model):
    """``[(w, b), ...]`` of a ``Sequential`` of ``Linear`` and ``ReLU`` in the thesis orientation (float64)."""
    from reference.propagation import thesis_weight

    out = []
    for m in model:
        if hasattr(m, "weight"):
            out.append((thesis_weight(m).double().numpy(), m.bias.detach().double().numpy()))
    return out


@question("deep Taylor through the network", answers="deep_taylor",
          hint="run the forward pass and keep every layer's input; start from the target logit alone and go down, "
               "your zbeta on the first layer (the pixels), your zplus on the layers above")
def network(ask, fn, model=None, x=None, *, max_examples: int = 20):
    """``fn(layers, x, target, low=0.0, high=1.0) -> R`` (B, J0): z^beta on the pixels, z+ on the hidden layers,
    starting from the logit of ``target``. Checked on generated small networks and, when given, on ``model``
    (a trained ``Sequential`` of ``Linear`` and ``ReLU``) at the inputs ``x`` (pixels in [0, 1]), explaining the
    predicted class, against :func:`reference.propagation.propagate` with ``deep_taylor(0, 1)``."""
    q = ask.title
    ask.function(fn, "deep_taylor", "deep_taylor(layers, x, target, low, high)")
    if model is None or x is None:
        return check_properties(q, _network_props(fn), _networks(max_examples), max_examples=max_examples)
    with contextlib.redirect_stdout(io.StringIO()):   # one ✓ line at the end, for both parts
        check_properties(q, _network_props(fn), _networks(max_examples), max_examples=max_examples)
    L = layers_of_model(model)
    xs = np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, float)
    target = _forward(L, xs)[-1].argmax(-1)
    where = f"on the trained digit classifier ({len(xs)} digits, explaining the predicted class)"
    try:
        out = _network_output(fn, L, xs, target, 0.0, 1.0)
    except Violation as err:
        raise CheckFailed(q, f"{where}: {err.message}") from None
    want = _propagate_reference(model, xs, target)
    mistake = Diagnosis(fn, NETWORK_MISTAKES, _network_probes())
    if not np.allclose(out.sum(-1), want.sum(-1), rtol=1e-6, atol=1e-6):
        raise CheckFailed(q, f"{where}: " + _network_hint(mistake,
            f"the pixel relevances add up to {np.round(out.sum(-1), 4).tolist()}, but deep Taylor conserves the "
            f"explained logits {np.round(want.sum(-1), 4).tolist()}"))
    if not np.allclose(out, want, rtol=1e-5, atol=1e-8):
        i, j = np.unravel_index(np.argmax(np.abs(out - want)), out.shape)
        raise CheckFailed(q, f"{where}: " + _network_hint(mistake,
            f"your heatmaps differ from deep Taylor's, most at digit {i}, pixel {j} (row {j // 28}, column {j % 28}): "
            f"expected {want[i, j]:.4g}, yours {out[i, j]:.4g}"))
    return passed(q, f"agrees with deep Taylor on {max_examples} generated networks and on the trained classifier")
