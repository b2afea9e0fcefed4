"""Figures and numbers of Sec. 4.5: heatmaps (Fig. 4.7/4.8), relevance per time step against the
pixel-intensity distribution of a class (Fig. 4.9), pixel flipping; and the study's statistics (variance
shares, seed-paired differences) and figures (``benchmarks/thesis_study.py``)."""
from __future__ import annotations

import math
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


# --- the study (benchmarks/thesis_study.py): factors, effect sizes, figures ---------------------------

def mean_std(values) -> tuple[float, float, int]:
    """(mean, sample standard deviation (0 for one value), n) of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def fmt(values, digits: int = 2) -> str:
    """``mean ± std (n)`` over seeds, or ``mean`` for one seed, ``-`` for none."""
    m, s, n = mean_std(values)
    if n == 0:
        return "-"
    return f"{m:.{digits}f}" if n == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"


def variance_shares(rows: list[dict], factors: tuple, value: str) -> dict:
    """Main-effect share of the total sum of squares of ``value`` for each factor (one-way, on the same
    rows): ``SS_f / SS_total`` with ``SS_f = sum_levels n_l (mean_l - grand mean)^2``. For a balanced
    grid these add up, with the interactions and the seeds, to 1 (``residual``)."""
    y = np.array([r[value] for r in rows], dtype=float)
    total = float(((y - y.mean()) ** 2).sum())
    out = {}
    for f in factors:
        levels = {}
        for r, v in zip(rows, y):
            levels.setdefault(r[f], []).append(v)
        ss = sum(len(v) * (np.mean(v) - y.mean()) ** 2 for v in levels.values())
        out[f] = float(ss / total) if total > 0 else 0.0
    out["residual"] = max(0.0, 1.0 - sum(out.values()))
    return out


def paired_difference(a: dict, b: dict) -> tuple[float, float, int]:
    """``a - b`` over the seeds both have (``{seed: value}``): (mean, std, n)."""
    seeds = sorted(set(a) & set(b))
    return mean_std([a[s] - b[s] for s in seeds])


def clearly_positive(diff: tuple[float, float, int], min_seeds: int = 3) -> bool:
    """A difference larger than twice its standard error, over at least ``min_seeds`` seeds."""
    m, s, n = diff
    return n >= min_seeds and m > 0 and m > 2 * s / math.sqrt(n)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def study_heatmaps(images: np.ndarray, maps: dict, path, title: str = "") -> Path:
    """Rows: (cell, trained / untrained), columns: methods; each panel the example images' heatmaps side by
    side (each scaled to its own maximum |R|). ``maps[(row, method)]``: (n, 28, 28)."""
    rows = sorted({r for r, _ in maps}, key=lambda r: list(dict.fromkeys(r for r, _ in maps)).index(r))
    methods = list(dict.fromkeys(m for _, m in maps))
    fig, axes = plt.subplots(len(rows) + 1, len(methods), figsize=(2.2 * len(methods), 0.62 * (len(rows) + 1) + 0.4),
                             squeeze=False)
    strip = lambda a: np.concatenate(list(a), axis=1)  # noqa: E731
    for j, method in enumerate(methods):
        axes[0, j].imshow(strip(images), cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(method, fontsize=8)
        for i, row in enumerate(rows, start=1):
            r = maps.get((row, method))
            if r is not None:
                r = np.asarray(r)
                r = r / np.maximum(np.abs(r).reshape(len(r), -1).max(1), 1e-12)[:, None, None]
                axes[i, j].imshow(strip(r), cmap="seismic", vmin=-1, vmax=1)
            if j == 0:
                axes[i, 0].set_ylabel(row, rotation=0, ha="right", va="center", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def study_steps(pixels: np.ndarray, shares: dict, path, title: str = "") -> Path:
    """Per-step relevance share per method (one panel each): a line per cell, trained solid and untrained
    dashed (mean over seeds, band = ± std), the pixel intensity per step in black.
    ``shares[(method, cell, trained)]``: (seeds, T).

    The y-range is that of the trained lines and the pixels (what the panels compare); an untrained model's
    signed shares can lie far outside [0, 1] (IG's positive and negative relevance nearly cancel), so its
    line is cut at the edge and the panel's title says so, instead of squeezing every other line flat."""
    methods = list(dict.fromkeys(m for m, _, _ in shares))
    cells = list(dict.fromkeys(c for _, c, _ in shares))
    fig, axes = plt.subplots(1, len(methods), figsize=(2.6 * len(methods), 2.8), squeeze=False)
    steps = np.arange(1, len(pixels) + 1)
    colors = {c: f"C{i}" for i, c in enumerate(cells)}
    for ax, method in zip(axes[0], methods):
        ax.plot(steps, pixels, "k:", label="pixel intensity")
        shown = [np.asarray(pixels, dtype=float)]
        cut = False
        for (m, cell, trained), v in shares.items():
            if m != method:
                continue
            v = np.asarray(v)
            mean = v.mean(0)
            ax.plot(steps, mean, "-" if trained else "--", color=colors[cell],
                    label=f"{cell}{'' if trained else ' (untrained)'}")
            if trained:
                shown.append(mean)
                if len(v) > 1:
                    ax.fill_between(steps, mean - v.std(0, ddof=1), mean + v.std(0, ddof=1), color=colors[cell],
                                    alpha=0.2)
        lo, hi = min(0.0, *(x.min() for x in shown)), max(1.0, *(x.max() for x in shown))
        margin = 0.05 * (hi - lo)
        ax.set_ylim(lo - margin, hi + margin)
        for (m, _, trained), v in shares.items():
            if m == method and not trained:
                mean = np.asarray(v).mean(0)
                cut = cut or bool(mean.min() < lo - margin or mean.max() > hi + margin)
        ax.set_title(method + (" (untrained cut off)" if cut else ""), fontsize=8)
        ax.set_xlabel("time step")
    axes[0, 0].set_ylabel("share of relevance")
    axes[0, -1].legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def study_curves(curves: dict, path, title: str = "") -> Path:
    """Chunk-removal curves with their baselines: rows fills, columns cells; per method the most relevant
    first (solid), and the model's random order (black) and z^beta's least relevant first (dotted).
    ``curves[(fill, cell, label)]``: (seeds, T + 1)."""
    fills = list(dict.fromkeys(f for f, _, _ in curves))
    cells = list(dict.fromkeys(c for _, c, _ in curves))
    fig, axes = plt.subplots(len(fills), len(cells), figsize=(2.6 * len(cells), 2.3 * len(fills)), squeeze=False,
                             sharey=True)
    for (fill, cell, label), v in curves.items():
        ax = axes[fills.index(fill), cells.index(cell)]
        v = np.asarray(v).mean(0)
        style = {"random": {"color": "k", "lw": 2}, "zbeta least": {"color": "C0", "ls": ":"}}.get(label, {})
        ax.plot(np.linspace(0, 1, len(v)), v, label=label, **style)
        ax.set_title(f"{cell}, fill {fill}", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("fraction of chunks removed")
    for ax in axes[:, 0]:
        ax.set_ylabel("h_c / h_c before")
    axes[0, -1].legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
