"""Small differentiable functions of a vector, as data: what a check hands to a student's
``taylor_relevances(f, x, root)`` or ``integrated_gradients(f, ...)`` (and what can travel to a sandboxed
kernel as a record of its fields).

Each is a frozen dataclass (of numpy weights, or of a torch network) whose ``__call__`` is a torch
function of ``z`` (shape (n,) or (N, n)), in the dtype of ``z``; nothing here knows an answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Linear:
    """``f(z) = z @ w``: w (n,) -> a scalar per input vector."""

    w: np.ndarray

    def __call__(self, z):
        import torch

        return z @ torch.as_tensor(self.w, dtype=z.dtype)


@dataclass(frozen=True)
class TanhSum:
    """``f(z) = sum_k tanh((z @ W)_k)``: W (n, K) -> one scalar (summed over the batch as well)."""

    W: np.ndarray

    def __call__(self, z):
        import torch

        return torch.tanh(z @ torch.as_tensor(self.W, dtype=z.dtype)).sum()


@dataclass(frozen=True)
class Score:
    """``f(Z) = net(Z)[:, target]``: one class score of a torch network, per row. Z (N, n) -> (N,)."""

    net: object   # a torch.nn.Module (a layer of the codec's LAYERS, to travel)
    target: int = 0

    def __call__(self, z):
        return self.net(z)[:, self.target]
