"""Layer-wise relevance propagation rules for dense layers (thesis Sec. 3.2.3 and 3.3).

Notation: input activations ``a`` (..., J), weights ``w`` (J, K), relevance ``R`` (..., K) of the
layer's outputs; each rule returns the relevance (..., J) of its inputs. Each rule is four lines,
as in Montavon's tutorial: ``z`` (contributions summed per output), ``s = R / z``, ``c = s w^T``
(sent back along the weights) and ``R_j = a_j c_j``.

A zero denominator means that output received no contribution of the kind the rule uses; its
relevance share is set to 0 instead of dividing by zero (documented, and exact, unlike adding a
small epsilon).
"""
from __future__ import annotations

import numpy as np

from .validate import as_float_array


def safe_divide(R, z):
    """``R / z`` with 0 wherever ``z == 0``."""
    z_safe = np.where(z == 0, 1.0, z)
    return np.where(z == 0, 0.0, R / z_safe)


def _layer_inputs(a, w, R):
    a = as_float_array(a, "a", ndim=(1, 2))
    w = as_float_array(w, "w", ndim=2)
    R = as_float_array(R, "R", ndim=(1, 2))
    if a.shape[-1] != w.shape[0]:
        raise ValueError(f"a has {a.shape[-1]} features but w has {w.shape[0]} rows: expected w of shape (J, K) "
                         f"with J = a.shape[-1]")
    if R.shape[-1] != w.shape[1]:
        raise ValueError(f"R has {R.shape[-1]} entries but w has {w.shape[1]} columns: expected R of shape (..., K)")
    return a, w, R


def zplus(a, w, R):
    """z+ rule: ``R_j = sum_k a_j w_jk^+ / (sum_j a_j w_jk^+) R_k``  (zennit: ``ZPlus``; = alpha1-beta0)."""
    a, w, R = _layer_inputs(a, w, R)
    wp = np.maximum(w, 0)
    z = a @ wp
    s = safe_divide(R, z)
    c = s @ wp.T
    return a * c


def alphabeta(a, w, R, alpha: float = 1.0, beta: float = 0.0):
    """alpha-beta rule (thesis eq. 3.2), with ``alpha - beta = 1``  (zennit: ``AlphaBeta``)::

        R_j = sum_k ( alpha a_j w_jk^+ / sum_j a_j w_jk^+  -  beta a_j w_jk^- / sum_j a_j w_jk^- ) R_k
    """
    if not np.isclose(alpha - beta, 1.0):
        raise ValueError(f"alphabeta: expected alpha - beta = 1 (conservation), got alpha={alpha}, beta={beta}")
    if alpha < 0 or beta < 0:
        raise ValueError(f"alphabeta: expected alpha, beta >= 0, got alpha={alpha}, beta={beta}")
    a, w, R = _layer_inputs(a, w, R)
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    zp, zn = a @ wp, a @ wn
    sp, sn = safe_divide(R, zp), safe_divide(R, zn)
    return a * (alpha * (sp @ wp.T) - beta * (sn @ wn.T))
