"""The relevances of the three max-networks of :mod:`reference.maxnets` (ML2 sheet 11, Ex 3).

LRP-alpha1-beta0 (the z+ rule) then gives, with ``[P]`` the indicator of P:

===  ==============================================  ==============================================
net  a1 >= a2                                        a2 > a1
===  ==============================================  ==============================================
(a)  R1 = a1,             R2 = 0                     R1 = a1,             R2 = a2 - a1
(b)  R1 = a1 - a2,        R2 = a2                    R1 = 0,              R2 = a2
(c)  R1 = a1 - a2/2,      R2 = a2/2                  R1 = a1/2,           R2 = a2 - a1/2
===  ==============================================  ==============================================

Gradient x input gives ``R_winner = max(a1, a2)``, ``R_loser = 0`` for all three: it sees only the
function, LRP sees the wiring.
"""
from __future__ import annotations

import numpy as np
import sympy

from . import lrp
from .maxnets import get_network
from .validate import as_float_array


def _inputs(a1, a2):
    a = np.stack(np.broadcast_arrays(as_float_array(a1, "a1"), as_float_array(a2, "a2")), axis=-1)
    if np.any(a < 0):
        raise ValueError("a1, a2: expected non-negative activations (the networks compute max only on R+)")
    return a


def relevance_alpha1beta0(net, a1, a2):
    """LRP-alpha1-beta0 relevances ``(R1, R2)`` of ``y = max(a1, a2)`` computed by network ``net``.

    a1, a2: non-negative scalars or arrays of one shape; returns two arrays of that shape.
    """
    net = get_network(net)
    a = _inputs(a1, a2)
    h, y = net.forward(a)
    R_h = lrp.alphabeta(h, net.w2, y[..., None], alpha=1.0, beta=0.0)
    R_a = lrp.alphabeta(a, net.w1, R_h, alpha=1.0, beta=0.0)
    return R_a[..., 0], R_a[..., 1]


def gradient_x_input(net, a1, a2):
    """``R_i = a_i dy/da_i`` through the torch module (the same for all three networks)."""
    import torch

    a = torch.as_tensor(_inputs(a1, a2), dtype=torch.float32).requires_grad_(True)
    y = get_network(net).torch_module()(a).sum()
    (g,) = torch.autograd.grad(y, a)
    R = (a * g).detach().numpy().astype(float)
    return R[..., 0], R[..., 1]


def analytic_relevances(net, a1=None, a2=None):
    """The closed-form alpha1-beta0 relevances as SymPy ``Piecewise`` expressions ``(R1, R2)``.

    a1, a2: SymPy symbols to use (default: non-negative symbols named ``a1``, ``a2``).
    """
    a1 = a1 if a1 is not None else sympy.Symbol("a1", nonnegative=True)
    a2 = a2 if a2 is not None else sympy.Symbol("a2", nonnegative=True)
    half = sympy.Rational(1, 2)
    table = {
        "a": ((a1, 0), (a1, a2 - a1)),
        "b": ((a1 - a2, a2), (0, a2)),
        "c": ((a1 - half * a2, half * a2), (half * a1, a2 - half * a1)),
    }
    (r1_ge, r2_ge), (r1_lt, r2_lt) = table[get_network(net).name]
    R1 = sympy.Piecewise((r1_ge, a1 >= a2), (r1_lt, True))
    R2 = sympy.Piecewise((r2_ge, a1 >= a2), (r2_lt, True))
    return R1, R2
