"""The global-average-pooling network of the CAM questions (NUS tutorial 9 Q3).

``features`` (convolutions and ReLUs, output ``A`` of shape (B, K, h, w)), then the CAM head: global
average pooling and one linear layer, ``f_c = sum_k w^c_k mean_ij A^k_ij + b_c``.

This module holds the network only (what travels to a sandboxed kernel, rebuilt from its constructor
arguments and state); CAM and Grad-CAM are in :mod:`reference.attribution`.
"""
from __future__ import annotations

import torch

#: The digit CNN's convolutions (kernel, stride, padding): 28 -> 14 -> 7 -> 7 pixels (conv.output_size).
CNN_LAYERS = ((5, 2, 2), (3, 2, 1), (3, 1, 1))


class GapCNN(torch.nn.Module):
    """``features`` (B, C, H, W) -> A (B, channels, h, w), then ``head``: pooling and Linear(channels, classes)."""

    def __init__(self, features: torch.nn.Sequential, channels: int, classes: int):
        super().__init__()
        self.features, self.channels, self.classes = features, channels, classes
        self.head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                        torch.nn.Linear(channels, classes))

    @property
    def classifier(self) -> torch.nn.Linear:
        return self.head[-1]

    def forward(self, x):
        return self.head(self.features(x))


def small_cnn(in_channels: int = 1, channels=(16, 32, 32), classes: int = 10, layers=CNN_LAYERS,
              seed: int | None = None) -> GapCNN:
    """A GAP network: ``conv(k, s, p) - ReLU`` per entry of ``layers`` (with ``channels``), then global
    average pooling and one Linear. Default: 1x28x28 -> 16x14x14 -> 32x7x7 -> 32x7x7 -> 10 logits."""
    if len(channels) != len(layers):
        raise ValueError(f"channels: expected one channel count per layer ({len(layers)}), got {len(channels)}")
    if seed is not None:
        torch.manual_seed(seed)
    mods, c_in = [], in_channels
    for c, (k, s, p) in zip(channels, layers):
        mods += [torch.nn.Conv2d(c_in, c, k, stride=s, padding=p), torch.nn.ReLU()]
        c_in = c
    return GapCNN(torch.nn.Sequential(*mods), c_in, classes)
