"""Figures and numbers of Sec. 4.5: heatmaps (Fig. 4.7/4.8), relevance per time step against the
pixel-intensity distribution of a class (Fig. 4.9), and pixel flipping."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from .explain import (
    explain,
    flipping_area,
    pixel_flipping,
    step_distribution,
    wasserstein_steps,
)


@dataclass
class Measures:
    name: str
    accuracy: float
    distance: float          # earth mover's distance (in steps) between relevance and pixel distributions
    flipping_area: float     # area under the pixel-flipping curve (lower: more faithful)
    last_step_share: float   # share of relevance on the last chunk
    relevance_dist: np.ndarray
    pixel_dist: np.ndarray
    curve: np.ndarray


def measure(name: str, model, images: torch.Tensor, labels: torch.Tensor, accuracy: float,
            klass: int | None = None) -> Measures:
    """Explain ``images`` (of class ``klass`` if given) and compute the measures."""
    if klass is not None:
        images = images[labels == klass]
    e = explain(model, images)
    rel = step_distribution(e.heatmap, model.seq_len)
    pix = step_distribution(images, model.seq_len)
    curve = pixel_flipping(model, images, e)
    return Measures(name, accuracy, wasserstein_steps(rel, pix), flipping_area(curve), float(rel[-1]),
                    rel.numpy(), pix.numpy(), curve.numpy())


def heatmap_grid(models: dict, images: torch.Tensor, path: str | Path, title: str = "") -> Path:
    """A PNG: the samples in the first row, each model's relevance heatmap in the rows below."""
    n = len(images)
    fig, axes = plt.subplots(1 + len(models), n, figsize=(1.3 * n, 1.4 * (1 + len(models))), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray", vmin=0, vmax=1)
    for row, (name, model) in enumerate(models.items(), start=1):
        e = explain(model, images)
        for i in range(n):
            r = e.heatmap[i].numpy()
            lim = max(abs(r).max(), 1e-12)
            axes[row, i].imshow(r, cmap="seismic", vmin=-lim, vmax=lim)
            for t in range(1, model.seq_len):   # chunk borders
                axes[row, i].axvline(t * model.width - 0.5, color="0.7", lw=0.4)
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[0, 0].set_ylabel("input", rotation=0, ha="right", va="center", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def distribution_plot(measures: list[Measures], path: str | Path, title: str = "") -> Path:
    """Fig. 4.9: relevance per step for each model against the class's pixel-intensity distribution,
    and the pixel-flipping curves."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    steps = np.arange(1, len(measures[0].pixel_dist) + 1)
    ax1.plot(steps, measures[0].pixel_dist, "k--", label="pixel intensity")
    for m in measures:
        ax1.plot(steps, m.relevance_dist, marker="o", label=f"{m.name} (EMD {m.distance:.2f})")
        ax2.plot(np.linspace(0, 1, len(m.curve)), m.curve, marker="o", label=f"{m.name} (area {m.flipping_area:.2f})")
    ax1.set_xlabel("time step")
    ax1.set_ylabel("share")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("fraction of chunks removed (most relevant first)")
    ax2.set_ylabel("f(x) / f(x) before")
    ax2.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
