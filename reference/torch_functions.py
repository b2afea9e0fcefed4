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


@dataclass(frozen=True)
class InputShare:
    """A made-up relevance rule for a layer that reads ``[x; r]``: every input ``a_j`` gets the share
    ``a_j / sum_j a_j`` of the layer's total relevance, whatever the weights. Not an LRP rule of the course:
    a check hands it to a student's function to see that the function uses the rule it is given.

    ``(x (B, n), r (B, m), w (n + m, K), R (B, K)) -> (R_x (B, n), R_r (B, m))``."""

    def __call__(self, x, r, w, R):
        import torch

        a = torch.cat([x, r], -1)
        R_a = a / a.sum(-1, keepdim=True).clamp(min=1e-12) * R.sum(-1, keepdim=True)
        return R_a[..., :x.shape[-1]], R_a[..., x.shape[-1]:]
