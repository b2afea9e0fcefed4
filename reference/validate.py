"""Input checks shared by the reference functions: a bad input gets a message naming what was expected."""
from __future__ import annotations

import numpy as np


def as_float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array; raise ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if x is None:
        raise TypeError(f"{name}: expected an array of numbers, got None")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__} ({err})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValueError(f"{name}: expected {' or '.join(map(str, allowed))} dimension(s), "
                             f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinity")
    return arr


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"{name_a} has length {a.shape[-1]} but {name_b} has length {b.shape[-1]}: "
                         f"expected the same")


def check_positive(x, name: str) -> float:
    value = float(x)
    if not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value}")
    return value


def check_spd(S: np.ndarray, name: str) -> None:
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {S.shape}")
    if not np.allclose(S, S.T, atol=1e-10):
        raise ValueError(f"{name}: expected a symmetric matrix")
    if np.linalg.eigvalsh(S).min() <= 0:
        raise ValueError(f"{name}: expected a positive definite matrix (all eigenvalues > 0)")
