"""Three ReLU networks that compute ``y = max(a1, a2)`` for ``a1, a2 >= 0`` (ML2 sheet 11, Ex 3).

The sheet's figure is lost; these three bias-free wirings are consistent with what survives:

(a) ``h1 = relu(a1)``,       ``h2 = relu(a2 - a1)``,  ``y = h1 + h2``
(b) ``h1 = relu(a1 - a2)``,  ``h2 = relu(a2)``,       ``y = h1 + h2``
(c) ``h1 = relu(a1 - a2)``,  ``h2 = relu(a2 - a1)``,  ``y = 0.5 a1 + 0.5 a2 + 0.5 h1 + 0.5 h2``

Each is stored as two dense layers in the thesis orientation (``w`` of shape (J, K)). In (c) the
skip connections from the inputs to ``y`` are two extra hidden neurons that pass ``a1`` and ``a2``
through (``relu(a) = a`` for ``a >= 0``), so LRP treats them like any other neuron.

This module holds the networks only (what a notebook may import, and what travels to a sandboxed
kernel as data); their relevances are in :mod:`reference.maxnet_relevance`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MaxNet:
    """A two-layer ReLU network: ``h = relu(a @ w1)``, ``y = h @ w2`` (no biases)."""

    name: str
    w1: np.ndarray  # (2, H)
    w2: np.ndarray  # (H, 1)

    def forward(self, a):
        """a: (..., 2) non-negative -> (hidden activations (..., H), output (...,))."""
        h = np.maximum(0.0, a @ self.w1)
        return h, (h @ self.w2)[..., 0]

    def layers(self):
        """The weight list ``[(w1, b1), (w2, b2)]`` in the thesis orientation (biases are zero)."""
        return [(self.w1, np.zeros(self.w1.shape[1])), (self.w2, np.zeros(self.w2.shape[1]))]

    def torch_module(self):
        """The same network as a ``torch.nn.Sequential`` (Linear, ReLU, Linear), bias-free."""
        import torch

        net = torch.nn.Sequential(torch.nn.Linear(2, self.w1.shape[1], bias=False), torch.nn.ReLU(),
                                  torch.nn.Linear(self.w1.shape[1], 1, bias=False))
        with torch.no_grad():
            # torch's Linear stores (K, J); the thesis's w is (J, K): transpose here, once.
            net[0].weight.copy_(torch.as_tensor(self.w1.T, dtype=torch.float32))
            net[2].weight.copy_(torch.as_tensor(self.w2.T, dtype=torch.float32))
        return net


NETWORKS = {
    "a": MaxNet("a", w1=np.array([[1.0, -1.0], [0.0, 1.0]]), w2=np.array([[1.0], [1.0]])),
    "b": MaxNet("b", w1=np.array([[1.0, 0.0], [-1.0, 1.0]]), w2=np.array([[1.0], [1.0]])),
    # hidden neurons: [a1, a2, relu(a1 - a2), relu(a2 - a1)]
    "c": MaxNet("c", w1=np.array([[1.0, 0.0, 1.0, -1.0], [0.0, 1.0, -1.0, 1.0]]), w2=np.full((4, 1), 0.5)),
}


def get_network(net) -> MaxNet:
    if isinstance(net, MaxNet):
        return net
    if net not in NETWORKS:
        raise ValueError(f"net: expected one of {sorted(NETWORKS)} or a MaxNet, got {net!r}")
    return NETWORKS[net]
