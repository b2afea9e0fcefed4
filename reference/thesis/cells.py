"""The thesis's RNN cells (Sec. 4.3-4.4, Fig. 4.4-4.6, Table 4.3) as torch modules.

Every cell reads a sequence ``x_1 .. x_T`` of image chunks (28 x w, Table 4.1) and has four parts:

- ``features``: what a step sees of its chunk (Shallow: the pixels; Deep: layer 1', ReLU; DeepV2:
  1', 1''; ConvDeep: C1, P1, C2, P2);
- ``combine`` (layer 4): ``a4_t = relu(W4^T [features(x_t); r_t] - softplus(b4))``, the concatenation
  of the step's features and the recurrent input ``r_t`` (``r_1 = 0``);
- ``recur`` (layer 5, 128 units, absent when SEQ = 1): ``r_{t+1} = relu(W5^T a4_t - softplus(b5))``;
- ``head``: from ``a4_T`` at the last step to the raw output ``h`` (10 classes; Deep cells put
  layer 4' in between), ``y = softmax(h)``.

Layer sizes (Fig. 4.6): Shallow n4 = 768; Deep (1', 4, 4') = (512, 256, 64); DeepV2
(1', 1'', 4, 4') = (512, 256, 128, 64); ConvDeep C1 = conv 5x5 x 24, P1 = 2x2 pool, C2 = conv 3x3 x 48,
P2 = 2x2 pool ('same' padding), (4, 4') = (256, 128). With these, the parameter counts equal Table 4.3
for every cell and sequence length.

Biases are ``-softplus(b)`` (never positive, as Deep Taylor decomposition assumes), weights are
drawn from a normal truncated at +-2 sigma with sigma = 0.1, and ``b`` starts at
``log(e^0.01 - 1)`` so that the bias is -0.01.

Dropout (p = 0.5, Table 4.2) sits where Sec. 4.3 puts it: Deep on ``a1`` and on ``a4_T`` before layer
4' (Sec. 4.3.2); DeepV2 between 1' and 1'' ("with dropout regularization between") and on ``a4_T``;
ConvDeep, described as a variation of Deep, on ``a4_T``. For Shallow the thesis names no dropout;
we follow its code (``src/model/architectures/shallow.py`` in the thesis repository): dropout on
``a4_t`` where it enters the recurrent layer 5, at every step, and none before the output.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .data import SEQ_LENGTHS

GATED_CELLS = ("lstm", "gru")   # beyond the thesis: gated cells sized like Deep (reference.thesis.gated)
CELLS = ("shallow", "deep", "deepv2", "convdeep") + GATED_CELLS
RECURRENT = 128
SIGMA = 0.1
B_INIT = math.log(math.expm1(0.01))   # softplus(B_INIT) = 0.01

# Table 4.3: trainable parameters per cell and sequence length.
TABLE_4_3 = {
    "shallow": {1: 610570, 4: 355722, 7: 291210, 14: 248202},
    "deep": {1: 550346, 4: 314954, 7: 271946, 14: 243274},
    "deepv2": {1: 575050, 4: 306890, 7: 263882, 14: 235210},
    "convdeep": {1: 647594, 4: 283178, 7: 197162, 14: 197162},
}


def _init(weight, b):
    nn.init.trunc_normal_(weight, mean=0.0, std=SIGMA, a=-2 * SIGMA, b=2 * SIGMA)
    nn.init.constant_(b, B_INIT)


class NegBiasLinear(nn.Linear):
    """``z = x W^T - softplus(b)``: a Linear layer whose bias can never be positive."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, bias=False)
        self.b = nn.Parameter(torch.empty(out_features))
        _init(self.weight, self.b)

    @property
    def effective_bias(self):
        return -F.softplus(self.b)

    def forward(self, x):
        return F.linear(x, self.weight, self.effective_bias)


class NegBiasConv2d(nn.Conv2d):
    """A 'same'-padded convolution with bias ``-softplus(b)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.b = nn.Parameter(torch.empty(out_channels))
        _init(self.weight, self.b)

    @property
    def effective_bias(self):
        return -F.softplus(self.b)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.effective_bias, self.stride, self.padding)


def same_pool() -> nn.MaxPool2d:
    """2x2 max-pooling, stride 2, TensorFlow's 'same' padding (= ceil mode: odd sizes keep their last row)."""
    return nn.MaxPool2d(2, 2, ceil_mode=True)


class RecurrentClassifier(nn.Module):
    """``features -> combine (with r_t) -> recur`` over the steps, ``head`` at the last step.

    Input: images (B, 28, 28) or chunks (B, T, 28, w); output: raw class scores h (B, 10).
    """

    def __init__(self, cell: str, seq_len: int, features: nn.Sequential, feature_size: int, n4: int,
                 head: nn.Sequential, recur_dropout: float = 0.0):
        super().__init__()
        self.cell, self.seq_len, self.width = cell, seq_len, 28 // seq_len
        self.feature_size, self.n4, self.recur_dropout = feature_size, n4, recur_dropout   # to rebuild it
        self.features = features
        self.combine = NegBiasLinear(feature_size + (RECURRENT if seq_len > 1 else 0), n4)
        self.recur = NegBiasLinear(n4, RECURRENT) if seq_len > 1 else None
        self.dropout5 = nn.Dropout(recur_dropout)   # on a4_t where it enters layer 5 (Shallow only)
        self.head = head

    def chunks(self, x):
        if x.dim() == 3:
            from .data import to_sequence
            x = to_sequence(x, self.seq_len)
        if x.dim() != 4 or x.shape[1] != self.seq_len or tuple(x.shape[2:]) != (28, self.width):
            raise ValueError(f"expected images (B, 28, 28) or chunks (B, {self.seq_len}, 28, {self.width}), "
                             f"got {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.seq_len, 28 * self.width)

    def steps(self, x):
        """Run the recurrence; returns per step the features, the recurrent input and a4."""
        x = self.chunks(x)
        r = x.new_zeros(x.shape[0], RECURRENT) if self.recur is not None else None
        trace = []
        for t in range(self.seq_len):
            f = self.features(x[:, t])
            inp = torch.cat([f, r], dim=1) if r is not None else f
            a4 = torch.relu(self.combine(inp))
            trace.append({"x": x[:, t], "features": f, "r": r, "a4": a4})
            if self.recur is not None and t < self.seq_len - 1:
                r = torch.relu(self.recur(self.dropout5(a4)))
        return trace

    def forward(self, x):
        return self.head(self.steps(x)[-1]["a4"])


def build_model(cell: str, seq_len: int, dataset: str = "mnist", num_classes: int = 10) -> nn.Module:
    """The classifier of ``cell`` in :data:`CELLS` for sequences of ``seq_len`` chunks (the gated cells:
    :mod:`reference.thesis.gated`)."""
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {CELLS}, got {cell!r}")
    if seq_len not in SEQ_LENGTHS:
        raise ValueError(f"seq_len: expected one of {SEQ_LENGTHS} (Table 4.1), got {seq_len}")
    if dataset not in ("mnist", "mnist5k", "fashion-mnist"):
        raise ValueError(f"dataset: expected 'mnist', 'mnist5k' or 'fashion-mnist', got {dataset!r}")
    if cell in GATED_CELLS:
        # imported here: gated.py builds on this module's layers
        from .gated import build_gated
        return build_gated(cell, seq_len, num_classes)
    w = 28 // seq_len
    D = 28 * w
    drop = lambda: nn.Dropout(0.5)  # noqa: E731
    if cell == "shallow":
        # Identity keeps the parameter names (head.1) of checkpoints trained with dropout at that place
        return RecurrentClassifier(cell, seq_len, nn.Sequential(), D, 768,
                                   nn.Sequential(nn.Identity(), NegBiasLinear(768, num_classes)), recur_dropout=0.5)
    deep_head = lambda n4, n4p: nn.Sequential(drop(), NegBiasLinear(n4, n4p), nn.ReLU(),  # noqa: E731
                                              NegBiasLinear(n4p, num_classes))
    if cell == "deep":
        features = nn.Sequential(NegBiasLinear(D, 512), nn.ReLU(), drop())
        return RecurrentClassifier(cell, seq_len, features, 512, 256, deep_head(256, 64))
    if cell == "deepv2":
        features = nn.Sequential(NegBiasLinear(D, 512), nn.ReLU(), drop(), NegBiasLinear(512, 256), nn.ReLU())
        return RecurrentClassifier(cell, seq_len, features, 256, 128, deep_head(128, 64))
    features = nn.Sequential(nn.Unflatten(1, (1, 28, w)), NegBiasConv2d(1, 24, 5), nn.ReLU(), same_pool(),
                             NegBiasConv2d(24, 48, 3), nn.ReLU(), same_pool(), nn.Flatten())
    size = 48 * 7 * math.ceil(math.ceil(w / 2) / 2)
    return RecurrentClassifier(cell, seq_len, features, size, 256, deep_head(256, 128))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
