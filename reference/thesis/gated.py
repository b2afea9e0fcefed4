"""Gated cells for the thesis's column-sequence task: an LSTM and a GRU with the Deep cell's front.

The thesis (abstract) sets its Deep cells against LSTMs, "hard to explain by deep Taylor LRP in a
fully principled manner", without measuring one. These cells make the comparison possible. Each
step sees its chunk ``x_t`` (28 x w pixels) through

- ``features`` (as Deep's layer 1'): ``a_t = relu(W1^T x_t - softplus(b1))``, dropout 0.5;
- the gated recurrence, state size ``H = 128`` (as the thesis's layer 5), ``h_0 = c_0 = 0``:

  LSTM (gates in torch's order i, f, g, o)::

      [z_i, z_f, z_g, z_o] = W_x a_t + W_h h_{t-1} + b           (4H)
      i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
      c_t = f * c_{t-1} + i * g
      h_t = o * tanh(c_t)

  GRU (torch's formulation)::

      [z_r, z_z, z_n] = W_x a_t + b                                (3H)
      r = sigmoid(z_r + W_hr h_{t-1});  z = sigmoid(z_z + W_hz h_{t-1})
      n = tanh(z_n + r * (W_hn h_{t-1} + b_hn))
      h_t = (1 - z) * h_{t-1} + z * n

- ``head`` at the last step: dropout 0.5, then ``y = W_y h_T + b_y`` (10 classes).

At SEQ = 1 the recurrent map (``W_h``, and the GRU's ``b_hn``) is absent, as the thesis drops layer 5:
with ``h_0 = 0`` it could only add dead parameters. The width of ``features`` (:data:`FEATURES`) is
chosen per SEQ so that the parameter count is within 0.1% of Deep's in Table 4.3 (the tests allow 2%).

Initialisation: weights as the thesis's (normal truncated at +-2 sigma, sigma = 0.1); the gates'
biases start at 0 except the LSTM's forget gate at +1 (Jozefowicz et al. 2015), and they may take
either sign: the gates are explained by the epsilon rule, which has no sign assumption on biases.
"""
from __future__ import annotations

import torch
from torch import nn

from .cells import RECURRENT, SIGMA, NegBiasLinear, RecurrentClassifier

GATES = {"lstm": 4, "gru": 3}
# n1 per SEQ: count(n1) = n1 (28 w + 1) + G H (n1 + H [SEQ > 1]) + G H + H [GRU, SEQ > 1] + 10 (H + 1)
FEATURES = {"lstm": {1: 423, 4: 349, 7: 327, 14: 309},
            "gru": {1: 469, 4: 454, 7: 445, 14: 436}}


class GatedClassifier(nn.Module):
    """``features -> LSTM or GRU step`` over the chunks, ``head`` on ``h_T``.

    Input: images (B, 28, 28) or chunks (B, T, 28, w); output: raw class scores (B, 10).
    Same interface as :class:`~reference.thesis.cells.RecurrentClassifier` (``cell``, ``seq_len``,
    ``width``, ``features``, ``head``, ``steps``), so training, flipping and reports work unchanged.
    """

    chunks = RecurrentClassifier.chunks   # the same cutting and shape check as the thesis's cells

    def __init__(self, cell: str, seq_len: int, n1: int, num_classes: int = 10, hidden: int = RECURRENT):
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"cell: expected one of {tuple(GATES)}, got {cell!r}")
        self.cell, self.seq_len, self.width, self.hidden = cell, seq_len, 28 // seq_len, hidden
        G, H = GATES[cell], hidden
        self.features = nn.Sequential(NegBiasLinear(28 * self.width, n1), nn.ReLU(), nn.Dropout(0.5))
        self.input_map = nn.Linear(n1, G * H)                                          # W_x, b
        self.recurrent_map = nn.Linear(H, G * H, bias=False) if seq_len > 1 else None  # W_h
        self.b_hn = nn.Parameter(torch.zeros(H)) if cell == "gru" and seq_len > 1 else None
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(H, num_classes))
        for layer in (self.input_map, self.recurrent_map, self.head[1]):
            if layer is not None:
                nn.init.trunc_normal_(layer.weight, mean=0.0, std=SIGMA, a=-2 * SIGMA, b=2 * SIGMA)
        nn.init.zeros_(self.input_map.bias)
        nn.init.zeros_(self.head[1].bias)
        if cell == "lstm":
            with torch.no_grad():
                self.input_map.bias[H:2 * H] = 1.0   # forget gate open at the start

    def steps(self, x):
        """Run the recurrence; per step a dict of every quantity LRP needs, each (B, H) or (B, n1).

        LSTM: ``x, a, h_prev, c_prev, z_g, i, f, o, g, c, h``;
        GRU: ``x, a, h_prev, r, z, n, z_n`` (the whole pre-activation of n), ``hn`` (= W_hn h + b_hn), ``h``.
        """
        x = self.chunks(x)
        B, H = x.shape[0], self.hidden
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        trace = []
        for t in range(self.seq_len):
            a = self.features(x[:, t])
            zx = self.input_map(a)
            zh = self.recurrent_map(h) if self.recurrent_map is not None else torch.zeros_like(zx)
            step = {"x": x[:, t], "a": a, "h_prev": h}
            if self.cell == "lstm":
                z_i, z_f, z_g, z_o = (zx + zh).chunk(4, dim=1)
                i, f, o, g = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_o), torch.tanh(z_g)
                step.update(c_prev=c, z_g=z_g, i=i, f=f, o=o, g=g)
                c = f * c + i * g
                h = o * torch.tanh(c)
                step.update(c=c, h=h)
            else:
                xr, xz, xn = zx.chunk(3, dim=1)
                hr, hz, hn = zh.chunk(3, dim=1)
                if self.b_hn is not None:
                    hn = hn + self.b_hn
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                z_n = xn + r * hn
                n = torch.tanh(z_n)
                h = (1 - z) * h + z * n
                step.update(r=r, z=z, n=n, z_n=z_n, hn=hn, h=h)
            trace.append(step)
        return trace

    def forward(self, x):
        return self.head(self.steps(x)[-1]["h"])


def build_gated(cell: str, seq_len: int, num_classes: int = 10) -> GatedClassifier:
    """The ``lstm`` or ``gru`` classifier for ``seq_len`` chunks, sized like Deep (Table 4.3)."""
    return GatedClassifier(cell, seq_len, FEATURES[cell][seq_len], num_classes)
