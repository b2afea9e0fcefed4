"""Attribution methods for one decision of a torch model (SUTD week 10, MIT recitation 3, NUS tutorial 9).

Notation: a model ``f`` maps a batch ``x`` of shape ``(B, ...)`` to scores ``(B, classes)`` (or
``(B,)``); ``target`` picks the class whose score ``f_c`` is explained. Every method returns an
attribution ``R`` with the shape of ``x``.

=====================  =========================================================================
sensitivity            ``R_d = (df_c/dx_d)^2`` (SUTD: "which dimension is most sensitive")
saliency               ``R_d = |df_c/dx_d|`` (Simonyan et al.; captum ``Saliency``)
gradient x input       ``R_d = (x_d - x'_d) df_c/dx_d`` (captum ``InputXGradient`` for x' = 0)
integrated gradients   ``R_d = (x_d - x'_d) int_0^1 df_c/dx_d (x' + a (x - x')) da``, by a quadrature
                       rule ``sum_k w_k g(a_k)``; completeness ``sum_d R_d = f_c(x) - f_c(x')`` up
                       to the quadrature error, reported as the *gap*
DeepLIFT (rescale)     ``R_d = (x_d - x'_d) m_d``: multipliers ``m`` back-propagated with the chain
                       rule, each ReLU's derivative replaced by the secant slope
                       ``(relu(z) - relu(z')) / (z - z')``; summation-to-delta holds exactly
guided backprop        backprop in which each ReLU zeroes the gradient where its forward input is
                       negative *and* where the gradient arriving from above is negative
CAM / Grad-CAM         class maps on the last convolutional features ``A^k`` (K, h, w):
                       ``CAM = sum_k w^c_k A^k``; ``Grad-CAM = relu(sum_k alpha_k A^k)``,
                       ``alpha_k = mean_ij df_c/dA^k_ij``
LIME                   a weighted least-squares surrogate (linear or quadratic) fitted to ``f`` on
                       samples around ``x0``, weighted by ``exp(-||z - x0||^2 / (2 width^2))``
=====================  =========================================================================

Where captum implements the same method the conventions are the same (see ``tests/test_attribution.py``),
with one documented exception: captum's ``riemann_trapezoid`` weights sum to ``(m - 1)/m`` instead of 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .black_boxes import CurvedBoundary, polynomial_features
from .gap_cnn import GapCNN, small_cnn
from .validate import as_float_array, check_positive

# --- helpers ---------------------------------------------------------------------------------


def _check_model(model) -> None:
    if not callable(model):
        raise TypeError(f"model: expected a torch.nn.Module (or a callable on tensors), got {type(model).__name__}")


def _dtype(model) -> torch.dtype:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.dtype
    return torch.get_default_dtype()


def _as_batch(x, name: str, model) -> torch.Tensor:
    """``x`` as a detached tensor of the model's dtype; a batch ``(B, ...)`` with ``B >= 1``."""
    if x is None:
        raise TypeError(f"{name}: expected a tensor of shape (B, ...), got None")
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x, dtype=float))
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected a tensor of shape (B, ...), got {type(x).__name__}") from None
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"{name}: expected a batch of shape (B, ...) with B >= 1, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinity")
    return x.detach().to(_dtype(model))


def _baseline(baseline, x: torch.Tensor, model) -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(x)
    b = _as_batch(baseline, "baseline", model) if isinstance(baseline, torch.Tensor) and baseline.ndim >= 1 \
        else torch.as_tensor(baseline, dtype=x.dtype)
    try:
        return torch.broadcast_to(b, x.shape).clone()
    except RuntimeError:
        raise ValueError(f"baseline: expected a shape that broadcasts to x's {tuple(x.shape)}, "
                         f"got {tuple(b.shape)}") from None


def _score(out: torch.Tensor, target) -> torch.Tensor:
    """The explained score per example, shape (B,)."""
    if out.ndim == 1:
        if target not in (None, 0):
            raise ValueError(f"target: the model has a single output per example, got target={target!r}")
        return out
    if out.ndim != 2:
        raise ValueError(f"model: expected outputs of shape (B,) or (B, classes), got {tuple(out.shape)}")
    if target is None:
        if out.shape[1] != 1:
            raise ValueError(f"target: the model has {out.shape[1]} outputs; say which one to explain")
        return out[:, 0]
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        target = int(target)
        if not 0 <= target < out.shape[1]:
            raise ValueError(f"target: expected a class index in [0, {out.shape[1]}), got {target}")
        return out[:, target]
    t = torch.as_tensor(target).reshape(-1)
    if t.numel() != out.shape[0]:
        raise ValueError(f"target: expected an int or one index per example ({out.shape[0]}), got {t.numel()}")
    return out.gather(1, t[:, None].long())[:, 0]


def score(model, x, target=None) -> torch.Tensor:
    """``f_c(x)``, shape (B,), without gradients."""
    _check_model(model)
    x = _as_batch(x, "x", model)
    with torch.no_grad():
        return _score(model(x), target)


def gradient(model, x, target=None) -> torch.Tensor:
    """``df_c/dx`` at each example of the batch x (B, ...); same shape as x."""
    _check_model(model)
    x = _as_batch(x, "x", model).requires_grad_(True)
    s = _score(model(x), target)
    (g,) = torch.autograd.grad(s.sum(), x)
    return g


# --- gradients (SUTD 1; MIT "gradient-based methods") ----------------------------------------

def sensitivity(model, x, target=None) -> torch.Tensor:
    """Sensitivity analysis ``R_d = (df_c/dx_d)^2``; x (B, ...) -> (B, ...).

    On a linear model ``f(x) = w^T x`` it is ``w_d^2`` whatever ``x`` is: it ignores the sign and the
    scale of ``x_d`` and answers "which dimension is most sensitive", not "what contributes to f(x)".
    """
    return gradient(model, x, target) ** 2


def saliency(model, x, target=None) -> torch.Tensor:
    """Saliency map ``R_d = |df_c/dx_d|`` (Simonyan et al. 2014; captum ``Saliency(abs=True)``)."""
    return gradient(model, x, target).abs()


def gradient_x_input(model, x, target=None, baseline=None) -> torch.Tensor:
    """``R_d = (x_d - x'_d) df_c/dx_d (x)`` (baseline ``x'`` = 0 by default: captum ``InputXGradient``).

    For a linear model ``f(x) = w^T x + b`` it is the natural decomposition ``R_d = w_d (x_d - x'_d)``,
    which sums to ``f(x) - f(x')``.
    """
    xb = _as_batch(x, "x", model)
    return (xb - _baseline(baseline, xb, model)) * gradient(model, xb, target)


# --- integrated gradients (MIT) --------------------------------------------------------------

QUADRATURES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def quadrature(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alpha`` and weights ``w`` (each (steps,)) with ``int_0^1 g(a) da ~ sum_k w_k g(alpha_k)``.

    riemann_left   alpha_k = k/m, k = 0..m-1; w_k = 1/m           (error O(1/m))
    riemann_right  alpha_k = k/m, k = 1..m; w_k = 1/m             (the recitation's formula; O(1/m))
    riemann_middle alpha_k = (k + 1/2)/m, k = 0..m-1; w_k = 1/m   (O(1/m^2))
    riemann_trapezoid  alpha_k = k/(m-1), k = 0..m-1; w = (1/2, 1, ..., 1, 1/2)/(m-1)   (O(1/m^2))
    gausslegendre  the m Gauss-Legendre nodes on [-1, 1] mapped to [0, 1]: alpha = (t + 1)/2, w/2
                   (exact for polynomials of degree <= 2m - 1)

    The weights sum to 1 for every rule (captum's trapezoid uses the same nodes with weights
    (1/2, 1, ..., 1, 1/2)/m, which sum to (m - 1)/m).
    """
    if method not in QUADRATURES:
        raise ValueError(f"method: expected one of {', '.join(QUADRATURES)}, got {method!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps: expected an integer, got {type(steps).__name__}")
    low = 2 if method == "riemann_trapezoid" else 1
    if steps < low:
        raise ValueError(f"steps: expected an integer >= {low} for {method}, got {steps}")
    m = int(steps)
    k = np.arange(m, dtype=float)
    if method == "riemann_left":
        return k / m, np.full(m, 1.0 / m)
    if method == "riemann_right":
        return (k + 1) / m, np.full(m, 1.0 / m)
    if method == "riemann_middle":
        return (k + 0.5) / m, np.full(m, 1.0 / m)
    if method == "riemann_trapezoid":
        w = np.full(m, 1.0 / (m - 1))
        w[[0, -1]] /= 2
        return k / (m - 1), w
    t, w = np.polynomial.legendre.leggauss(m)
    return (t + 1) / 2, w / 2


class Attribution(NamedTuple):
    """Attributions (shape of x) and the completeness gap ``f_c(x) - f_c(x') - sum_d R_d`` (B,)."""

    attributions: torch.Tensor
    gap: torch.Tensor


def _gap(model, x, baseline, target, R) -> torch.Tensor:
    with torch.no_grad():
        delta = _score(model(x), target) - _score(model(baseline), target)
    return delta - R.reshape(R.shape[0], -1).sum(1)


def integrated_gradients(model, x, baseline=None, target=None, steps: int = 50,
                         method: str = "gausslegendre", nodes=None) -> Attribution:
    """Integrated gradients (Sundararajan et al. 2017) by quadrature (:func:`quadrature`)::

        R_d = (x_d - x'_d) sum_k w_k df_c/dx_d (x' + alpha_k (x - x'))

    x: (B, ...), baseline x' broadcastable to x (default 0). Returns ``Attribution(R, gap)`` with
    ``gap = f_c(x) - f_c(x') - sum_d R_d`` (B,), which goes to 0 as ``steps`` grows (completeness);
    the recitation's approximation is ``method="riemann_right"``; captum's default is Gauss-Legendre.
    ``nodes = (alphas, weights)`` overrides ``method`` and ``steps`` with any quadrature rule.
    All ``steps * B`` path points go through the model in one batch.
    """
    _check_model(model)
    xb = _as_batch(x, "x", model)
    base = _baseline(baseline, xb, model)
    if nodes is None:
        alphas, weights = quadrature(method, steps)
    else:
        alphas, weights = (as_float_array(v, nm, ndim=1) for v, nm in zip(nodes, ("alphas", "weights")))
        if alphas.shape != weights.shape:
            raise ValueError(f"nodes: expected alphas and weights of the same length, got {alphas.shape}, {weights.shape}")
    a = torch.as_tensor(alphas, dtype=xb.dtype).reshape(-1, 1, *([1] * (xb.ndim - 1)))
    w = torch.as_tensor(weights, dtype=xb.dtype).reshape(-1, 1, *([1] * (xb.ndim - 1)))
    path = (base[None] + a * (xb - base)[None]).reshape(-1, *xb.shape[1:])
    tgt = target if target is None or isinstance(target, int) else torch.as_tensor(target).reshape(-1).repeat(len(alphas))
    g = gradient(model, path, tgt).reshape(len(alphas), *xb.shape)
    R = (xb - base) * (w * g).sum(0)
    return Attribution(R, _gap(model, xb, base, target, R))


# --- DeepLIFT, rescale rule (MIT) ------------------------------------------------------------

def rescale_multiplier(z, z_ref, eps: float = 1e-10):
    """The rescale rule's multiplier of a ReLU: ``m = (relu(z) - relu(z')) / (z - z')``, and the ReLU's
    gradient ``1[z > 0]`` where ``|z - z'| < eps`` (captum's convention). Tensors or numbers.

    The recitation's example: from ``z' = 2`` to ``z = -2`` the output drops by 2, so
    ``m = -2 / -4 = 0.5`` and the contribution is ``dz * m = -4 * 0.5 = -2``, where the gradient
    (0 at z = -2) would give 0: the saturation problem.
    """
    z = torch.as_tensor(z, dtype=z.dtype if isinstance(z, torch.Tensor) else torch.float64)
    z_ref = torch.as_tensor(z_ref, dtype=z.dtype)
    dz = z - z_ref
    dy = torch.relu(z) - torch.relu(z_ref)
    safe = torch.where(dz.abs() < eps, torch.ones_like(dz), dz)
    return torch.where(dz.abs() < eps, (z > 0).to(z.dtype), dy / safe)


_LINEAR = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d,
           torch.nn.Flatten, torch.nn.Unflatten, torch.nn.Identity, torch.nn.Dropout)


def deeplift_rescale(model: torch.nn.Sequential, x, baseline=None, target=None, eps: float = 1e-10) -> Attribution:
    """DeepLIFT with the rescale rule (Shrikumar et al. 2017), layer by layer on a ``Sequential``.

    Forward: activations ``a^(l)`` for x and ``a'^(l)`` for the baseline. Backward, starting from
    ``m = e_c`` (the multiplier of the explained score): an affine layer passes ``m`` on like a
    gradient (``m_in = W^T m_out``; its bias drops out of the differences), a ReLU multiplies by
    :func:`rescale_multiplier` of its inputs. At the input ``R = (x - x') * m``::

        sum_d R_d = f_c(x) - f_c(x')        (summation-to-delta, exact)

    Layers: Linear, Conv1d/2d, (Adaptive)AvgPool2d, Flatten, Unflatten, Identity, Dropout (eval),
    ReLU. x: (B, ...); baseline broadcastable to x (default 0). Returns ``Attribution(R, gap)``.
    """
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(f"model: expected a torch.nn.Sequential of affine layers and ReLUs, got "
                        f"{type(model).__name__} (use deeplift_rescale_override for other modules)")
    for i, layer in enumerate(model):
        if not isinstance(layer, (*_LINEAR, torch.nn.ReLU)):
            raise TypeError(f"model[{i}]: {type(layer).__name__} is not supported; expected affine layers "
                            f"({', '.join(t.__name__ for t in _LINEAR)}) and ReLU")
    xb = _as_batch(x, "x", model)
    base = _baseline(baseline, xb, model)
    acts, refs = [xb], [base]
    with torch.no_grad():
        for layer in model:
            acts.append(layer(acts[-1]))
            refs.append(layer(refs[-1]))
    out = acts[-1].detach().requires_grad_(True)
    (m,) = torch.autograd.grad(_score(out, target).sum(), out)   # e_c: the multiplier of f_c itself
    for i in range(len(model) - 1, -1, -1):
        layer = model[i]
        if isinstance(layer, torch.nn.ReLU):
            m = m * rescale_multiplier(acts[i], refs[i], eps)
        else:  # affine: the multiplier goes back like a gradient (a vector-Jacobian product)
            a = acts[i].detach().requires_grad_(True)
            (m,) = torch.autograd.grad(layer(a), a, grad_outputs=m)
    R = (xb - base) * m
    return Attribution(R, _gap(model, xb, base, target, R))


class _RescaleReLU(torch.autograd.Function):
    """relu(z) forward; backward multiplies by the rescale multiplier against the baseline's z'."""

    @staticmethod
    def forward(ctx, z, z_ref, eps):
        ctx.save_for_backward(z, z_ref)
        ctx.eps = eps
        return torch.relu(z)

    @staticmethod
    def backward(ctx, grad):
        z, z_ref = ctx.saved_tensors
        return grad * rescale_multiplier(z, z_ref, ctx.eps), None, None


def _relus(model) -> list[torch.nn.ReLU]:
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    if not relus:
        raise ValueError("model: expected nn.ReLU modules (functional relu calls cannot be overridden)")
    return relus


def _gradient_with_relus(model, xb: torch.Tensor, target, replace) -> torch.Tensor:
    """``d f_target / d x`` with the output of the k-th ``nn.ReLU`` replaced by ``replace(k, z)`` (z: its
    input), i.e. with each ReLU's backward pass overridden by ``replace``'s autograd function."""
    handles = [r.register_forward_hook(lambda mod, inp, out, k=k: replace(k, inp[0]))
               for k, r in enumerate(_relus(model))]
    try:
        xg = xb.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(_score(model(xg), target).sum(), xg)
    finally:
        for h in handles:
            h.remove()
    return g


def deeplift_rescale_override(model: torch.nn.Module, x, baseline=None, target=None, eps: float = 1e-10) -> Attribution:
    """DeepLIFT-rescale as a *gradient override*: run the baseline to record each ``nn.ReLU``'s input
    ``z'``, then back-propagate through x with every ReLU's derivative replaced by
    :func:`rescale_multiplier` ``(z, z')``; ``R = (x - x') * grad``. Any module whose only
    non-linearities are ``nn.ReLU`` modules (each used once per forward) works; the result equals
    :func:`deeplift_rescale` on a Sequential."""
    _check_model(model)
    xb = _as_batch(x, "x", model)
    base = _baseline(baseline, xb, model)
    relus = _relus(model)
    recorded: dict[int, torch.Tensor] = {}
    handles = [r.register_forward_hook(lambda mod, inp, out, k=k: recorded.__setitem__(k, inp[0].detach()))
               for k, r in enumerate(relus)]
    try:
        with torch.no_grad():
            model(base)
    finally:
        for h in handles:
            h.remove()
    g = _gradient_with_relus(model, xb, target, lambda k, z: _RescaleReLU.apply(z, recorded[k], eps))
    R = (xb - base) * g
    return Attribution(R, _gap(model, xb, base, target, R))


# --- guided backpropagation (SUTD 1.1) -------------------------------------------------------

class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, zero_negative_input, zero_negative_gradient):
        ctx.save_for_backward(z)
        ctx.flags = (zero_negative_input, zero_negative_gradient)
        return torch.relu(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        neg_input, neg_grad = ctx.flags
        if neg_input:
            grad = grad * (z > 0).to(grad.dtype)
        if neg_grad:
            grad = grad.clamp(min=0)
        return grad, None, None


def modified_relu_backprop(model: torch.nn.Module, x, target=None, *, zero_negative_input: bool = True,
                           zero_negative_gradient: bool = True) -> torch.Tensor:
    """Backprop in which every ``nn.ReLU`` ``g = relu(z)`` passes the gradient ``dE/dg`` from above on as

        dE/dg * 1[z > 0]   if zero_negative_input     (rule 1: ignore suppressed neurons)
        max(0, .)          if zero_negative_gradient  (rule 2: ignore gradients that decrease f)

    Both rules: **guided backprop** (Springenberg et al.; captum ``GuidedBackprop``); rule 1 only:
    the plain gradient; rule 2 only: **deconvnet** (captum ``Deconvolution``). x (B, ...) -> (B, ...).
    """
    _check_model(model)
    xb = _as_batch(x, "x", model)
    return _gradient_with_relus(model, xb, target,
                                lambda k, z: _GuidedReLU.apply(z, zero_negative_input, zero_negative_gradient))


def guided_backprop(model: torch.nn.Module, x, target=None) -> torch.Tensor:
    """Guided backprop: both zeroing rules at every ReLU (see :func:`modified_relu_backprop`).

    What is non-negative: the gradient each ReLU passes *down* (rule 2 clamps it). The input
    attribution itself is ``W_1^T g_1`` for a first affine layer ``W_1`` and is **not** sign-definite
    in general; it is >= 0 when the input feeds a ReLU directly (the model starts with ``nn.ReLU``)
    or when the first layer's weights are all >= 0.
    """
    return modified_relu_backprop(model, x, target, zero_negative_input=True, zero_negative_gradient=True)


def deconvnet(model: torch.nn.Module, x, target=None) -> torch.Tensor:
    """Deconvnet (Zeiler & Fergus): rule 2 only (see :func:`modified_relu_backprop`)."""
    return modified_relu_backprop(model, x, target, zero_negative_input=False, zero_negative_gradient=True)


# --- CAM and Grad-CAM (NUS Q3) ---------------------------------------------------------------

def train_digit_cnn(*, epochs: int = 4, seed: int = 0, batch_size: int = 64, lr: float = 1e-2,
                    channels=(16, 32, 32), threads: int | None = 1):
    """Train :func:`small_cnn` with Adam on the embedded 4,000/1,000 digit split (about 2 s on one
    CPU thread; test accuracy about 0.9). Images are (B, 1, 28, 28) in [0, 1].

    ``threads``: torch threads while training (1 by default: for a model this small, more threads
    mostly wait on each other on a shared machine); restored afterwards. Returns ``(model, test_accuracy)``.
    """
    from .data import load_mnist_5k, train_test_split

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        X, y = load_mnist_5k()
        X_tr, X_te, y_tr, y_te = (torch.as_tensor(v) for v in train_test_split(X, y, seed=seed))
        X_tr, X_te = X_tr.reshape(-1, 1, 28, 28), X_te.reshape(-1, 1, 28, 28)
        model = small_cnn(channels=channels)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for idx in torch.randperm(len(X_tr), generator=gen).split(batch_size):
                opt.zero_grad()
                F.cross_entropy(model(X_tr[idx]), y_tr[idx]).backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(X_te).argmax(1) == y_te).float().mean())
    finally:
        torch.set_num_threads(before)
    return model, accuracy


def cam(model: GapCNN, x, target: int) -> torch.Tensor:
    """Class activation map (Zhou et al. 2016) of a global-average-pooling network::

        CAM_c(i, j) = sum_k w^c_k A^k(i, j)        A = model.features(x): (B, K, h, w)

    Returns (B, h, w). Since ``f_c = mean_ij CAM_c(i, j) + b_c``, the map decomposes the score.
    """
    if not isinstance(model, GapCNN):
        raise TypeError(f"model: expected a GapCNN (features, then global average pooling and one Linear), "
                        f"got {type(model).__name__}")
    xb = _as_batch(x, "x", model)
    classes = model.classifier.out_features
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < classes:
        raise ValueError(f"target: expected a class index in [0, {classes}), got {target!r}")
    with torch.no_grad():
        A = model.features(xb)
    return torch.einsum("bkhw,k->bhw", A, model.classifier.weight.detach()[target])


def grad_cam(features: torch.nn.Module, head: torch.nn.Module, x, target: int, relu: bool = True) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) at the output ``A = features(x)`` (B, K, h, w) of a network
    split as ``f = head(features(x))``::

        alpha_k = (1 / hw) sum_ij df_c / dA^k_ij,      Grad-CAM = relu(sum_k alpha_k A^k)   (B, h, w)

    On a :class:`GapCNN` (``head`` = GAP + Linear), ``df_c/dA^k_ij = w^c_k / hw``, so
    ``Grad-CAM = relu(CAM) / hw``: Grad-CAM generalises CAM. captum: ``LayerGradCam`` (relu_attributions=True).
    """
    _check_model(features)
    _check_model(head)
    xb = _as_batch(x, "x", features)
    with torch.no_grad():
        A = features(xb)
    if A.ndim != 4:
        raise ValueError(f"features: expected feature maps of shape (B, K, h, w), got {tuple(A.shape)}")
    A = A.detach().requires_grad_(True)
    s = _score(head(A), target)
    (g,) = torch.autograd.grad(s.sum(), A)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    m = (alpha * A).sum(1).detach()
    return torch.relu(m) if relu else m


def upsample(maps, size=(28, 28)) -> torch.Tensor:
    """Bilinear upsampling of (B, h, w) maps to (B, *size), for overlaying a heatmap on the image."""
    maps = torch.as_tensor(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps: expected shape (B, h, w), got {tuple(maps.shape)}")
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


# --- LIME (SUTD 1; NUS Q2) -------------------------------------------------------------------

def sample_ball(x0, n: int, radius: float, seed: int = 0) -> np.ndarray:
    """``n`` points uniform in the ball of ``radius`` around ``x0`` (d,): "sampling by radius".

    Direction ``u`` uniform on the sphere (a normalised Gaussian), distance ``radius * U^(1/d)``.
    Seeded (``numpy.random.default_rng(seed)``): the same seed gives the same samples. Returns (n, d).
    """
    x0 = as_float_array(x0, "x0", ndim=1)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    radius = check_positive(radius, "radius")
    rng = np.random.default_rng(seed)
    d = x0.shape[0]
    u = rng.normal(size=(n, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = radius * rng.uniform(size=(n, 1)) ** (1.0 / d)
    return x0 + r * u


def exponential_kernel(distances, width: float) -> np.ndarray:
    """LIME's proximity weights ``pi = exp(-D^2 / (2 width^2))`` (the lime package writes
    ``sqrt(exp(-D^2 / width^2))``, the same; captum ``get_exp_kernel_similarity_function``)."""
    D = as_float_array(distances, "distances")
    width = check_positive(width, "kernel_width")
    return np.exp(-D ** 2 / (2 * width ** 2))


def weighted_least_squares(Phi, y, weights) -> np.ndarray:
    """``argmin_beta sum_n pi_n (y_n - Phi_n beta)^2`` (Phi (N, P), y (N,), pi (N,) >= 0) -> beta (P,),
    by least squares on ``sqrt(pi) Phi`` and ``sqrt(pi) y``."""
    Phi = as_float_array(Phi, "Phi", ndim=2)
    y = as_float_array(y, "y", ndim=1)
    pi = as_float_array(weights, "weights", ndim=1)
    if not (len(Phi) == len(y) == len(pi)):
        raise ValueError(f"Phi, y and weights must have the same number of rows, got {len(Phi)}, {len(y)}, {len(pi)}")
    if (pi < 0).any():
        raise ValueError("weights: expected non-negative weights")
    s = np.sqrt(pi)
    beta, *_ = np.linalg.lstsq(Phi * s[:, None], y * s, rcond=None)
    return beta


def weighted_r2(y, y_hat, weights) -> float:
    """Fidelity of a surrogate: ``1 - sum pi (y - y_hat)^2 / sum pi (y - ybar_pi)^2``, ``ybar_pi`` the
    weighted mean. 1 is a perfect local fit; 0 is no better than a constant."""
    y, y_hat, pi = (as_float_array(v, nm, ndim=1) for v, nm in ((y, "y"), (y_hat, "y_hat"), (weights, "weights")))
    if not (len(y) == len(y_hat) == len(pi)):
        raise ValueError(f"y, y_hat and weights must have the same length, got {len(y)}, {len(y_hat)}, {len(pi)}")
    ybar = np.sum(pi * y) / np.sum(pi)
    total = np.sum(pi * (y - ybar) ** 2)
    if total == 0:
        raise ValueError("y is constant on the weighted samples: the fidelity (R^2) is undefined")
    return float(1 - np.sum(pi * (y - y_hat) ** 2) / total)


@dataclass
class LimeFit:
    """A fitted LIME surrogate ``g(z) = polynomial_features(z - x0, degree) @ coef``."""

    x0: np.ndarray
    degree: int
    coef: np.ndarray        # (P,): intercept, then linear, then quadratic terms
    samples: np.ndarray     # (N, d)
    targets: np.ndarray     # (N,): f(samples)
    weights: np.ndarray     # (N,)
    fidelity: float         # weighted R^2 on the samples (NaN if f is constant on them)

    def predict(self, Z) -> np.ndarray:
        Z = as_float_array(Z, "Z", ndim=2)
        return polynomial_features(Z - self.x0, self.degree) @ self.coef

    @property
    def gradient(self) -> np.ndarray:
        """The surrogate's gradient at x0 (the linear coefficients), (d,)."""
        return self.coef[1:1 + len(self.x0)]

    @property
    def contributions(self) -> np.ndarray:
        """SUTD's linear explanation ``R_d = w_d x_d`` at x0, (d,)."""
        return self.gradient * self.x0


def lime(f: Callable[[np.ndarray], np.ndarray], x0, *, degree: int = 1, n_samples: int = 500,
         radius: float = 1.0, kernel_width: float = 0.5, seed: int = 0, samples=None) -> LimeFit:
    """LIME for a black box ``f`` ((N, d) -> (N,)) at ``x0`` (d,), with a linear or quadratic surrogate:

    1. ``z_n``: :func:`sample_ball` (``n_samples``, ``radius``, ``seed``), or the given ``samples``;
    2. ``pi_n = exp(-||z_n - x0||^2 / (2 kernel_width^2))``;
    3. ``coef = argmin sum_n pi_n (f(z_n) - phi(z_n - x0) . coef)^2`` with ``phi`` the
       :func:`polynomial_features` of ``degree``;
    4. fidelity: :func:`weighted_r2` of the surrogate on the samples.

    (The SUTD notes fit a *sparse* linear model; with d = 2 there is nothing to select, so this is
    the unregularised weighted fit.)
    """
    x0 = as_float_array(x0, "x0", ndim=1)
    if not callable(f):
        raise TypeError(f"f: expected a function of an (N, d) array, got {type(f).__name__}")
    Z = sample_ball(x0, n_samples, radius, seed) if samples is None else as_float_array(samples, "samples", ndim=2)
    if Z.shape[1] != x0.shape[0]:
        raise ValueError(f"samples: expected {x0.shape[0]} columns (the dimension of x0), got {Z.shape[1]}")
    y = as_float_array(f(Z), "f(samples)").reshape(-1)
    if y.shape[0] != Z.shape[0]:
        raise ValueError(f"f: expected one value per sample ({Z.shape[0]}), got {y.shape[0]}")
    pi = exponential_kernel(np.linalg.norm(Z - x0, axis=1), kernel_width)
    Phi = polynomial_features(Z - x0, degree)
    coef = weighted_least_squares(Phi, y, pi)
    constant = np.allclose(y, y[0])
    return LimeFit(x0, degree, coef, Z, y, pi, float("nan") if constant else weighted_r2(y, Phi @ coef, pi))


def holdout_fidelity(fit: LimeFit, f, n: int = 2000, seed: int = 12345, radius: float | None = None,
                     kernel_width: float | None = None) -> float:
    """Weighted R^2 of the surrogate on *fresh* samples from the same neighbourhood (out of sample).
    ``radius`` defaults to the spread of the fit's samples, ``kernel_width`` must be given again."""
    if kernel_width is None:
        raise ValueError("kernel_width: expected the width used for the fit")
    radius = radius or float(np.linalg.norm(fit.samples - fit.x0, axis=1).max())
    Z = sample_ball(fit.x0, n, radius, seed)
    pi = exponential_kernel(np.linalg.norm(Z - fit.x0, axis=1), kernel_width)
    return weighted_r2(np.asarray(f(Z), float).reshape(-1), fit.predict(Z), pi)


#: The notebook's black box, ``sigmoid(3 (x2 - x1^2 + 1/2))``: X (N, 2) -> (N,) (:class:`.black_boxes.CurvedBoundary`).
curved_black_box = CurvedBoundary()
