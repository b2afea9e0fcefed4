"""Layer-wise relevance propagation rules for a dense layer (thesis Sec. 3.2.3, 3.3 and Table 3.1).

Notation: input activations ``a`` of shape (..., J), weights ``w`` of shape (J, K) (from neuron j
below to neuron k above), ``z = a @ w + b``, relevance ``R`` of the outputs (..., K); each rule
returns the relevance (..., J) of the inputs. A leading batch dimension is allowed. numpy arrays and
torch tensors both work (the result has the type of the input).

Every rule is four lines, as in Montavon's tutorial code::

    z = ...          # contributions summed per output neuron k
    s = R / z        # relevance per unit of contribution
    c = s @ v.T      # sent back along the (modified) weights
    R_j = a_j * c_j  # or the rule's own numerator

================  ============================================================  ==============
rule              R_j =                                                         zennit
================  ============================================================  ==============
``w2``            sum_k w_jk^2 / (sum_j w_jk^2) R_k                             ``WSquare``
``zplus``         sum_k a_j w_jk^+ / (sum_j a_j w_jk^+) R_k                     ``ZPlus``
``zbeta``         sum_k (a_j w_jk - l_j w_jk^+ - h_j w_jk^-) / (sum_j ...) R_k  ``ZBox``
``alphabeta``     sum_k (alpha a_j w_jk^+/sum_j a_j w_jk^+                      ``AlphaBeta``
                  - beta a_j w_jk^-/sum_j a_j w_jk^-) R_k
``epsilon``       sum_k a_j w_jk / (z_k + eps sign(z_k)) R_k                    ``Epsilon``
================  ============================================================  ==============

Zero denominators: an output neuron that received no contribution of the kind a rule uses gets
``s_k = 0`` (its relevance is dropped) instead of a division by zero; this is exact where the rule
is defined and is the only place relevance can be lost in ``w2``, ``zplus`` and ``zbeta``, whose
denominators do not contain the bias. ``epsilon`` includes the bias in ``z`` and therefore absorbs
``sum_k (b_k + eps sign(z_k)) / (z_k + eps sign(z_k)) R_k`` (see :func:`epsilon_absorbed`).

On ``zbeta``: the thesis's Table 3.1 prints ``- l_j w_jk^- - h_j w_jk^+``; its own derivation (the
root point ``l_j 1{w_jk >= 0} + h_j 1{w_jk <= 0}``, eqs. 3.22-3.25) gives ``- l_j w_jk^+ - h_j w_jk^-``,
which is also Montavon et al. (2017). We implement the derivation; the table has the signs swapped.
"""
from __future__ import annotations

import numpy as np

from .validate import as_float_array


# --- numpy / torch in one vocabulary ----------------------------------------------------------

def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def positive(w):
    """``w^+ = max(0, w)``."""
    return w.clamp(min=0) if _is_torch(w) else np.maximum(w, 0)


def negative(w):
    """``w^- = min(0, w)``."""
    return w.clamp(max=0) if _is_torch(w) else np.minimum(w, 0)


def safe_divide(R, z):
    """``R / z`` with 0 wherever ``z == 0``."""
    if _is_torch(z):
        import torch

        return torch.where(z == 0, torch.zeros_like(z), R / torch.where(z == 0, torch.ones_like(z), z))
    z_safe = np.where(z == 0, 1.0, z)
    return np.where(z == 0, 0.0, R / z_safe)


def sign(z):
    """``sign(z)`` with ``sign(0) = +1``, so that ``z + eps sign(z)`` is never 0."""
    if _is_torch(z):
        import torch

        return torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))
    return np.where(z >= 0, 1.0, -1.0)


_NO_A = object()   # w2 has no input activations; None is a bad input, not "no a"


def _check(name, a=_NO_A, w=None, R=None, *, nonnegative_a=False):
    """Validate shapes (and, for numpy, convert to float arrays); returns the inputs."""
    torch_in = any(_is_torch(v) for v in (a, w, R))
    conv = (lambda v, n, nd: v) if torch_in else (lambda v, n, nd: as_float_array(v, f"{name}: {n}", ndim=nd))
    w = conv(w, "w", None)
    if w.ndim != 2:
        raise ValueError(f"{name}: expected w of shape (J, K), got shape {tuple(w.shape)}")
    if a is not _NO_A:
        a = conv(a, "a", None)
        if a.ndim < 1 or a.shape[-1] != w.shape[0]:
            raise ValueError(f"{name}: a has shape {tuple(a.shape)} but w has {w.shape[0]} rows: expected a of "
                             f"shape (..., J) with J = w.shape[0]")
        if nonnegative_a and bool((a < 0).any()):
            raise ValueError(f"{name}: expected non-negative activations a (ReLU outputs); use zbeta or w2 for "
                             f"inputs that can be negative")
    R = conv(R, "R", None)
    if R.ndim < 1 or R.shape[-1] != w.shape[1]:
        raise ValueError(f"{name}: R has shape {tuple(R.shape)} but w has {w.shape[1]} columns: expected R of "
                         f"shape (..., K) with K = w.shape[1]")
    return a, w, R


# --- the rules ----------------------------------------------------------------------------------

def w2(w, R):
    """w^2 rule, for inputs in R^J (root point along ``v_j = w_jk``); independent of ``a``. -> (..., J)"""
    _, w, R = _check("w2", _NO_A, w, R)
    v = w * w
    z = v.sum(0)                      # z_k = sum_j w_jk^2
    s = safe_divide(R, z)             # s_k = R_k / z_k
    return s @ v.T                    # R_j = sum_k w_jk^2 s_k


def zplus(a, w, R):
    """z+ rule, for ReLU activations ``a >= 0`` (root point ``a_j 1{w_jk < 0}``). = alphabeta(1, 0)."""
    a, w, R = _check("zplus", a, w, R, nonnegative_a=True)
    wp = positive(w)
    z = a @ wp                        # z_k = sum_j a_j w_jk^+
    s = safe_divide(R, z)             # s_k = R_k / z_k
    c = s @ wp.T                      # c_j = sum_k w_jk^+ s_k
    return a * c                      # R_j = a_j c_j


def zbeta(a, w, R, low, high):
    """z^beta rule, for bounded inputs ``low <= a <= high`` with ``low <= 0 <= high`` (e.g. pixels).

    Root point ``l_j 1{w_jk >= 0} + h_j 1{w_jk <= 0}``; low, high: scalars or arrays broadcastable to a.
    """
    a, w, R = _check("zbeta", a, w, R)
    low, high = _bounds(a, low, high)
    wp, wn = positive(w), negative(w)
    z = a @ w - low @ wp - high @ wn                   # z_k = sum_j a_j w_jk - l_j w_jk^+ - h_j w_jk^-
    s = safe_divide(R, z)                              # s_k = R_k / z_k
    return a * (s @ w.T) - low * (s @ wp.T) - high * (s @ wn.T)   # R_j = sum_k (a_j w_jk - l_j w_jk^+ - h_j w_jk^-) s_k


def alphabeta(a, w, R, alpha: float = 1.0, beta: float = 0.0):
    """alpha-beta rule (thesis eq. 3.2) for ``a >= 0``, with ``alpha - beta = 1``, ``beta >= 0``.

    Conserves relevance for outputs that have both positive and negative contributions (or beta = 0).
    """
    if not np.isclose(alpha - beta, 1.0):
        raise ValueError(f"alphabeta: expected alpha - beta = 1 (conservation), got alpha={alpha}, beta={beta}")
    if beta < 0:
        raise ValueError(f"alphabeta: expected beta >= 0, got beta={beta}")
    a, w, R = _check("alphabeta", a, w, R, nonnegative_a=True)
    wp, wn = positive(w), negative(w)
    zp, zn = a @ wp, a @ wn                               # positive and negative contributions
    sp, sn = safe_divide(R, zp), safe_divide(R, zn)
    return a * (alpha * (sp @ wp.T) - beta * (sn @ wn.T))   # R_j = a_j (alpha c_j^+ - beta c_j^-)


def epsilon(a, w, b, R, eps: float = 1e-6):
    """epsilon rule: ``R_j = sum_k a_j w_jk / (z_k + eps sign(z_k)) R_k`` with ``z = a @ w + b``.

    eps = 0 is LRP-0 (gradient x input for a linear layer). b: (K,) or None.
    """
    if eps < 0:
        raise ValueError(f"epsilon: expected eps >= 0, got {eps}")
    a, w, R = _check("epsilon", a, w, R)
    z = a @ w + (0 if b is None else b)
    s = safe_divide(R, z + eps * sign(z))   # only LRP-0 (eps = 0) can meet z = 0
    return a * (s @ w.T)


def epsilon_absorbed(a, w, b, R, eps: float = 1e-6):
    """The relevance the epsilon rule does not pass down, ``sum_k R_k - sum_j R_j`` per sample: exactly
    ``sum_k (b_k + eps sign(z_k)) / (z_k + eps sign(z_k)) R_k``."""
    a, w, R = _check("epsilon_absorbed", a, w, R)
    b = 0 * w[0] if b is None else b
    z = a @ w + b
    return (safe_divide(b + eps * sign(z), z + eps * sign(z)) * R).sum(-1)


def _bounds(a, low, high):
    if _is_torch(a):
        import torch

        low = torch.as_tensor(low, dtype=a.dtype).expand_as(a) if not _is_torch(low) else low.expand_as(a)
        high = torch.as_tensor(high, dtype=a.dtype).expand_as(a) if not _is_torch(high) else high.expand_as(a)
    else:
        low = np.broadcast_to(as_float_array(low, "zbeta: low"), a.shape)
        high = np.broadcast_to(as_float_array(high, "zbeta: high"), a.shape)
    if bool((low > 0).any()) or bool((high < 0).any()):
        raise ValueError("zbeta: expected low <= 0 <= high (the box must contain 0)")
    if bool((a < low - 1e-9).any()) or bool((a > high + 1e-9).any()):
        raise ValueError("zbeta: expected low <= a <= high (the input must lie in its box)")
    return low, high


RULES = {"w2": w2, "zplus": zplus, "zbeta": zbeta, "alphabeta": alphabeta, "epsilon": epsilon}
