"""Activation-maximization prototypes (ML2 sheet 11, Ex 1; Montavon et al. 2018, Sec. 3).

For the linear model ``y = w^T x + b`` read as ``log p(w_c | x)`` the three formulations have
closed forms. Each function accepts numpy arrays *or* SymPy matrices (``MatrixSymbol``), so the same
formula gives numbers for plots and expressions for symbolic checking.

======================  =====================================================  =========================
formulation             objective                                               maximiser
======================  =====================================================  =========================
L2 regulariser (3.1)    ``w^T x + b - lam ||x||^2``                              ``x* = w / (2 lam)``
Gaussian expert (3.2)   ``w^T x + b + log N(x; mu, Sigma)``                     ``x* = mu + Sigma w``
generator (3.3)         ``w^T (A z + c) + b - lam ||z||^2``, ``x = A z + c``    ``z* = A^T w / (2 lam)``,
                                                                                ``x* = A A^T w / (2 lam) + c``
======================  =====================================================  =========================

They coincide when the expert is the Gaussian that the other two imply: the L2 prototype is the
Gaussian one with ``mu = 0, Sigma = I / (2 lam)``; the generator's is the Gaussian one with
``mu = c, Sigma = A A^T / (2 lam)`` (and ``x = A z + c`` with ``z ~ N(0, I)`` *is* ``N(c, A A^T)``, so
``lam = 1/2`` recovers the generator's own data distribution); the generator's equals the L2
prototype when ``c = 0`` and ``A A^T = I``.
"""
from __future__ import annotations

import numpy as np
import sympy

from .validate import as_float_array, check_positive, check_same_length, check_spd


def _symbolic(*xs) -> bool:
    return any(isinstance(x, (sympy.Basic, sympy.MatrixBase)) for x in xs)


# --- closed forms ----------------------------------------------------------------------------

def l2_prototype(w, lam):
    """``x* = argmax_x w^T x + b - lam ||x||^2 = w / (2 lam)``.  w: (n,) or (n, 1); lam > 0."""
    if not _symbolic(w, lam):
        w = as_float_array(w, "w", ndim=(1, 2))
        check_positive(lam, "lam")
    return w / (2 * lam)


def gaussian_expert_prototype(w, mu, Sigma):
    """``x* = argmax_x w^T x + b + log N(x; mu, Sigma) = mu + Sigma w``.

    Setting the gradient ``w - Sigma^{-1} (x - mu)`` to zero gives the formula.
    w, mu: (n,); Sigma: (n, n) symmetric positive definite.
    """
    if not _symbolic(w, mu, Sigma):
        w = as_float_array(w, "w", ndim=1)
        mu = as_float_array(mu, "mu", ndim=1)
        Sigma = as_float_array(Sigma, "Sigma", ndim=2)
        check_same_length(w, mu, "w", "mu")
        check_spd(Sigma, "Sigma")
        check_same_length(w, Sigma, "w", "Sigma")
    return mu + Sigma @ w


def generator_code(w, A, lam):
    """``z* = argmax_z w^T (A z + c) + b - lam ||z||^2 = A^T w / (2 lam)``.  A: (n, d); w: (n,)."""
    if not _symbolic(w, A, lam):
        w = as_float_array(w, "w", ndim=1)
        A = as_float_array(A, "A", ndim=2)
        if A.shape[0] != w.shape[0]:
            raise ValueError(f"A: expected {w.shape[0]} rows (the length of w), got shape {A.shape}")
        check_positive(lam, "lam")
    return A.T @ w / (2 * lam)


def generator_prototype(w, A, c, lam):
    """``x* = g(z*) = A z* + c = A A^T w / (2 lam) + c``.  A: (n, d); w, c: (n,)."""
    if not _symbolic(c):
        c = as_float_array(c, "c", ndim=1)
    return A @ generator_code(w, A, lam) + c


# --- when they coincide ----------------------------------------------------------------------

def gaussian_equivalent_to_l2(lam, n: int):
    """The Gaussian expert ``(mu, Sigma) = (0, I / (2 lam))`` whose prototype is the L2 prototype."""
    if _symbolic(lam, n):
        return sympy.ZeroMatrix(n, 1), sympy.Identity(n) / (2 * lam)
    check_positive(lam, "lam")
    return np.zeros(n), np.eye(n) / (2 * lam)


def gaussian_equivalent_to_generator(A, c, lam):
    """The Gaussian expert ``(mu, Sigma) = (c, A A^T / (2 lam))`` whose prototype is the generator's."""
    return c, A @ A.T / (2 * lam)


# --- gradients of the objectives (first-order optimality holds at the prototype) --------------

def l2_objective_gradient(x, w, lam):
    """``d/dx [w^T x - lam ||x||^2] = w - 2 lam x``."""
    return np.asarray(w, float) - 2 * lam * np.asarray(x, float)


def gaussian_objective_gradient(x, w, mu, Sigma):
    """``d/dx [w^T x + log N(x; mu, Sigma)] = w - Sigma^{-1} (x - mu)``."""
    x, w, mu = (np.asarray(v, float) for v in (x, w, mu))
    return w - np.linalg.solve(np.asarray(Sigma, float), x - mu)


# --- numeric activation maximization of a trained network ------------------------------------

def activation_maximization(model, target: int, x0, *, lam: float = 0.01, steps: int = 200,
                            lr: float = 0.1, low: float | None = 0.0, high: float | None = 1.0):
    """Gradient ascent on ``log p(target | x) - lam ||x||^2`` (Sec. 3.1), from ``x0``.

    model: torch module mapping ``(B, n)`` inputs to ``(B, C)`` logits; x0: tensor ``(n,)`` or
    ``(B, n)``; ``low``/``high`` clamp x to the input domain after each step (None: no clamp).
    Returns the prototype(s) with the shape of ``x0`` (detached) and the objective per step.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    x = torch.as_tensor(x0, dtype=torch.float32).clone()
    single = x.dim() == 1
    x = x.reshape(1, -1) if single else x
    x.requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    history = []
    was_training = model.training
    model.eval()
    for _ in range(steps):
        opt.zero_grad()
        log_p = torch.log_softmax(model(x), dim=-1)[:, target]
        objective = log_p - lam * (x ** 2).sum(dim=-1)
        (-objective.sum()).backward()
        opt.step()
        with torch.no_grad():
            if low is not None or high is not None:
                x.clamp_(low, high)
        history.append(float(objective.mean().detach()))
    model.train(was_training)
    out = x.detach()
    return (out[0] if single else out), history
