"""Deep Taylor decomposition seen from one neuron: search direction, root point, redistribution.

For a ReLU neuron ``R_k = max(0, sum_j a_j w_jk + b_k)`` with ``b_k <= 0`` (thesis eq. 3.9) the
relevance is expanded at a root point ``a~ = a - t v`` on a line from ``a`` in direction ``v``
(eq. 3.10). ``R_k(a~) = 0`` fixes the step (eqs. 3.11-3.13)::

    t = R_k / sum_j v_j w_jk                        (with b_k = 0; in general t = z_k / sum_j v_j w_jk)

and the first-order terms give the rule (eq. 3.16): ``R_j = v_j w_jk / (sum_j v_j w_jk) R_k``.
The direction is chosen so that ``a~`` stays in the input domain:

=========  ===========================  ==================================================  ============
rule       domain                       direction v_j                                       root a~_j
=========  ===========================  ==================================================  ============
``w2``     a in R^J                     w_jk                                                a_j - t w_jk
``zplus``  a >= 0                       a_j 1{w_jk >= 0}                                    on the segment from a to a_j 1{w_jk < 0}
``zbeta``  l <= a <= h, l <= 0 <= h     a_j - l_j 1{w_jk >= 0} - h_j 1{w_jk < 0}            on the segment from a to the box corner
=========  ===========================  ==================================================  ============

For ``zplus`` and ``zbeta`` the step is ``0 <= t <= 1`` (the pre-activation cannot exceed the sum of
the positive contributions), so the root point stays in the domain; for ``w2`` it may land anywhere
in R^J.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validate import as_float_array


@dataclass(frozen=True)
class RootPoint:
    direction: np.ndarray   # v, (J,)
    t: float                # step length along -v
    root: np.ndarray        # a~ = a - t v, (J,)
    relevance: np.ndarray   # R_j = v_j w_jk / sum_j v_j w_jk R_k, (J,)


def direction(rule: str, a, w_k, low=None, high=None) -> np.ndarray:
    """The search direction ``v`` of ``rule`` for neuron k with incoming weights ``w_k`` (J,)."""
    a = as_float_array(a, "a", ndim=1)
    w_k = as_float_array(w_k, "w_k", ndim=1)
    if a.shape != w_k.shape:
        raise ValueError(f"a has shape {a.shape} but w_k has shape {w_k.shape}: expected both (J,)")
    if rule == "w2":
        return w_k.copy()
    if rule == "zplus":
        if (a < 0).any():
            raise ValueError("zplus: expected a >= 0 (ReLU activations)")
        return a * (w_k >= 0)
    if rule == "zbeta":
        if low is None or high is None:
            raise ValueError("zbeta: expected the box bounds low and high")
        low, high = (np.broadcast_to(as_float_array(v, n), a.shape) for v, n in ((low, "low"), (high, "high")))
        return a - low * (w_k >= 0) - high * (w_k < 0)
    raise ValueError(f"rule: expected one of 'w2', 'zplus', 'zbeta', got {rule!r}")


def root_point(rule: str, a, w_k, b_k: float = 0.0, low=None, high=None) -> RootPoint:
    """Line search from ``a`` along ``-v`` to where neuron k's pre-activation is zero.

    a: (J,); w_k: (J,) incoming weights of neuron k; b_k <= 0. If the neuron is inactive
    (``R_k = 0``), ``a`` is already a root point and nothing is redistributed.
    """
    if b_k > 0:
        raise ValueError(f"b_k: expected a non-positive bias (Deep Taylor assumes b <= 0), got {b_k}")
    v = direction(rule, a, w_k, low, high)
    a = np.asarray(a, float)
    w_k = np.asarray(w_k, float)
    z_k = float(a @ w_k + b_k)
    R_k = max(0.0, z_k)
    vw = float(v @ w_k)
    if R_k == 0.0 or vw == 0.0:
        return RootPoint(v, 0.0, a.copy(), np.zeros_like(a))
    t = z_k / vw
    return RootPoint(v, t, a - t * v, v * w_k / vw * R_k)


def in_domain(rule: str, x, low=None, high=None, tol: float = 1e-9) -> bool:
    """Is ``x`` in the input domain that ``rule`` assumes?"""
    x = np.asarray(x, float)
    if rule == "w2":
        return True
    if rule == "zplus":
        return bool((x >= -tol).all())
    if rule == "zbeta":
        return bool((x >= np.asarray(low) - tol).all() and (x <= np.asarray(high) + tol).all())
    raise ValueError(f"rule: expected one of 'w2', 'zplus', 'zbeta', got {rule!r}")
