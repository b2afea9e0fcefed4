"""Sensitivity analysis and Taylor decomposition (ML2 sheet 11, Ex 2; thesis Sec. 3.2.1-3.2.2).

For a differentiable ``f`` and a root point ``x~`` with ``f(x~) = 0`` the first-order Taylor
expansion ``f(x) = sum_i df/dx_i|_{x~} (x_i - x~_i) + higher order`` reads as relevances

    R_i = df/dx_i|_{x~} * (x_i - x~_i)               (Taylor decomposition)
    R_i = (df/dx_i|_x)^2                              (sensitivity analysis: no conservation)

For the homogeneous linear model ``f(x) = w^T x`` everything is closed form; the ``*_linear``
functions accept numpy arrays or SymPy column vectors (``sympy.Matrix``) so that one formula serves
numbers and symbolic checking. The ``torch`` functions handle any differentiable model.
"""
from __future__ import annotations

import numpy as np
import sympy

from .validate import as_float_array, check_same_length


def _hadamard(a, b):
    if isinstance(a, sympy.MatrixBase):
        return a.multiply_elementwise(b)
    return a * b


def _dot(a, b):
    if isinstance(a, sympy.MatrixBase):
        return a.dot(b)
    return a @ b


def _vectors(**named):
    """Validate numeric vectors of equal length (SymPy matrices pass through)."""
    if any(isinstance(v, sympy.MatrixBase) for v in named.values()):
        return named.values()
    arrays = {k: as_float_array(v, k, ndim=1) for k, v in named.items()}
    first = next(iter(arrays))
    for k in arrays:
        check_same_length(arrays[first], arrays[k], first, k)
    return arrays.values()


def sensitivity_linear(w):
    """Sensitivity of ``f(x) = w^T x``: ``R_i = (df/dx_i)^2 = w_i^2``.  w: (n,)."""
    (w,) = _vectors(w=w)
    return _hadamard(w, w)


def taylor_linear(w, x, root):
    """Taylor relevances of ``f(x) = w^T x`` at ``root``: ``R_i = w_i (x_i - root_i)``.

    They sum to ``f(x) - f(root)``: to ``f(x)`` exactly when ``root`` is a root point.
    """
    w, x, root = _vectors(w=w, x=x, root=root)
    return _hadamard(w, x - root)


def nearest_root_linear(w, x, b=0):
    """The root of ``f(x) = w^T x + b`` nearest to ``x`` (Euclidean): ``x~ = x - (w^T x + b) w / ||w||^2``.

    From the Lagrangian ``||x~ - x||^2 + lambda (w^T x~ + b)``; it is the orthogonal projection of
    ``x`` onto the hyperplane ``f = 0``.
    """
    w, x = _vectors(w=w, x=x)
    if not isinstance(w, sympy.MatrixBase) and not np.any(w):
        raise ValueError("w: expected a non-zero weight vector (f = b has no root direction)")
    return x - (_dot(w, x) + b) * w / _dot(w, w)


def taylor_nearest_root_linear(w, x):
    """Taylor relevances at the nearest root: ``R_i = w_i^2 (w^T x) / ||w||^2``."""
    return taylor_linear(w, x, nearest_root_linear(w, x))


# --- any differentiable model (torch) ----------------------------------------------------------

def _gradient(f, x):
    import torch

    x = torch.as_tensor(x, dtype=torch.float32).detach().clone().requires_grad_(True)
    y = f(x)
    if y.numel() != 1:
        raise ValueError(f"f: expected a scalar output, got shape {tuple(y.shape)}")
    (g,) = torch.autograd.grad(y.sum(), x)
    return x.detach(), g


def sensitivity(f, x):
    """``R_i = (df/dx_i (x))^2`` for a torch function ``f`` with scalar output; x: tensor (n,)."""
    _, g = _gradient(f, x)
    return g ** 2


def gradient_x_input(f, x):
    """``R_i = x_i df/dx_i (x)``: Taylor decomposition at root 0 when ``f`` is linear."""
    x, g = _gradient(f, x)
    return x * g


def taylor_decomposition(f, x, root):
    """First-order Taylor relevances ``R_i = df/dx_i(root) (x_i - root_i)``; x, root: tensors (n,)."""
    import torch

    root_t, g = _gradient(f, root)
    return g * (torch.as_tensor(x, dtype=torch.float32) - root_t)
