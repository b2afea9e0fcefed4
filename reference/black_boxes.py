"""The black boxes that LIME explains, as data: frozen dataclasses whose ``__call__`` maps samples
``X`` (N, 2) to scores (N,), and the polynomial features LIME's surrogate is built from.

They are what a check hands to a student's ``lime_surrogate(f, ...)`` (and what travels to a sandboxed
kernel as a record of its fields); the surrogate's fit itself is in :mod:`reference.attribution`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validate import as_float_array


def polynomial_features(offsets, degree: int) -> np.ndarray:
    """Design matrix of the surrogate in the offsets ``u = z - x0`` (N, d):

    degree 1: ``[1, u_1, ..., u_d]``                             (N, 1 + d)
    degree 2: ``[1, u_1, ..., u_d, u_i u_j for i <= j]``         (N, 1 + d + d(d+1)/2)
    (for d = 2: ``[1, u1, u2, u1^2, u1 u2, u2^2]``).
    """
    U = as_float_array(offsets, "offsets", ndim=2)
    if degree not in (1, 2):
        raise ValueError(f"degree: expected 1 (linear) or 2 (quadratic), got {degree!r}")
    cols = [np.ones(len(U))] + [U[:, i] for i in range(U.shape[1])]
    if degree == 2:
        cols += [U[:, i] * U[:, j] for i in range(U.shape[1]) for j in range(i, U.shape[1])]
    return np.stack(cols, axis=1)


@dataclass(frozen=True)
class CurvedBoundary:
    """A 2-D toy classifier with a curved boundary (the parabola ``x2 = x1^2 - 1/2``)::

        f(x) = sigmoid(sharpness * (x2 - x1^2 + 1/2))        X (N, 2) -> (N,) in (0, 1)
    """

    sharpness: float = 3.0

    def __call__(self, X) -> np.ndarray:
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != 2:
            raise ValueError(f"X: expected 2 columns (x1, x2), got shape {X.shape}")
        return 1.0 / (1.0 + np.exp(-self.sharpness * (X[:, 1] - X[:, 0] ** 2 + 0.5)))


@dataclass(frozen=True)
class Polynomial:
    """``f(z) = polynomial_features(z - x0, degree) @ coef``: a black box that a surrogate of this
    degree fits exactly. x0 (d,), coef (P,) -> X (N, d) -> (N,)."""

    x0: np.ndarray
    coef: np.ndarray
    degree: int

    def __call__(self, X) -> np.ndarray:
        return polynomial_features(as_float_array(X, "X", ndim=2) - self.x0, self.degree) @ self.coef
