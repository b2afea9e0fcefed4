"""Is an explanation of the thesis's models faithful, and is it about what the model learned?

Everything here works on a ``forward`` callable, images (B, 28, 28) in [0, 1] -> scores h (B, 10),
and a heatmap (B, 28, 28); all perturbations of a batch go through the model together.

**Perturbation** (Samek et al. 2017, "Evaluating the visualization of what a deep neural network has
learned"): cut the image into patches, rank them by summed relevance, replace them one at a time by a
*fill* (:data:`FILLS`: 0 = the background, the data's mean image, uniform noise) and watch the target
score ``h_c``. Each ordering is compared with the **random** ordering on the same model and fill:

- :func:`aopc`: area over the perturbation curve, ``AOPC = 1/(L+1) sum_{k=0}^{L} (h_c(x^0) - h_c(x^k))``
  over 4 x 4 patches, L = 49 steps (the thesis's code); higher = the ranking finds what matters;
- :func:`flip_count`: 7 x 7 patches flipped until the predicted label changes (the thesis's code);
  fewer = more faithful (16 + 1 when the label never changes);
- :func:`chunk_curve` / :func:`curve_area`: whole chunks (time steps) removed, the mean score relative
  to the unperturbed one; smaller area = more faithful.

``most`` relevant first (MoRF), ``least`` relevant first (LeRF) and ``random`` orders come from
:func:`patch_order`; ties (e.g. patches with no relevance at all) are broken at random, never by
position, so that a heatmap with many zeros is not rewarded for where its zeros lie.

**Controls and baselines**: :func:`randomized_model` (the same architecture, seed and scheme,
untrained: Adebayo et al. 2018's model-randomisation check), :func:`integrated_gradients` and
:func:`occlusion` (non-LRP explanations).

**Where the relevance lies**: :func:`lag_curve` (share of relevance reaching step T - k or earlier,
the explanation's counterpart of vanishing gradients), :func:`zero_pixel_share`.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import attribution
from .cells import build_model

Forward = Callable[[torch.Tensor], torch.Tensor]
FILLS = ("zero", "mean", "uniform")
ORDERS = ("most", "least", "random")


# --- patches and orders ------------------------------------------------------------------------------

def patch_ids(height: int, width: int) -> tuple[torch.Tensor, int]:
    """``(ids, n)``: ids (28, 28) the row-major index of the ``height x width`` patch of each pixel."""
    if 28 % height or 28 % width:
        raise ValueError(f"patch: expected sides that divide 28, got {height} x {width}")
    rows = torch.arange(28) // height
    cols = torch.arange(28) // width
    per_row = 28 // width
    return rows[:, None] * per_row + cols[None, :], (28 // height) * per_row


def patch_sums(heatmap: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, n) relevance summed over each patch."""
    ids, n = patch_ids(height, width)
    B = heatmap.shape[0]
    return torch.zeros(B, n, dtype=heatmap.dtype).index_add_(1, ids.reshape(-1), heatmap.reshape(B, -1))


def patch_order(heatmap: torch.Tensor | None, height: int, width: int, order: str,
                generator: torch.Generator) -> torch.Tensor:
    """(B, n) patch indices, most / least relevant first or in random order; ties broken at random."""
    if order not in ORDERS:
        raise ValueError(f"order: expected one of {ORDERS}, got {order!r}")
    _, n = patch_ids(height, width)
    B = heatmap.shape[0]
    shuffle = torch.rand(B, n, generator=generator).argsort(1)   # a random permutation per sample
    if order == "random":
        return shuffle
    scores = patch_sums(heatmap, height, width).gather(1, shuffle)
    ranked = scores.argsort(dim=1, descending=order == "most", stable=True)
    return shuffle.gather(1, ranked)


def fill_image(fill: str, images: torch.Tensor, mean_image: torch.Tensor, generator: torch.Generator):
    """What a removed pixel becomes: 0 (the background), the data's mean image, or uniform noise in [0, 1]."""
    if fill == "zero":
        return torch.zeros_like(images)
    if fill == "mean":
        return mean_image.expand_as(images).to(images.dtype)
    if fill == "uniform":
        return torch.rand(images.shape, generator=generator, dtype=images.dtype)
    raise ValueError(f"fill: expected one of {FILLS}, got {fill!r}")


def perturbation(forward: Forward, images, target, order, height: int, width: int, fill_values,
                 steps: int | None = None, batch: int = 4096):
    """Replace patches in ``order`` (B, n) by ``fill_values`` one at a time.

    Returns ``(scores, labels)``, both (B, steps + 1): the target score ``h_c`` and the predicted label
    after 0, 1, ..., steps patches (default: all n). All perturbed images go through the model in
    batches of ``batch`` images.
    """
    ids, n = patch_ids(height, width)
    steps = n if steps is None else steps
    B = images.shape[0]
    rank = order.argsort(1)                                    # (B, n): when each patch is removed
    removed_at = rank.gather(1, ids.reshape(1, -1).expand(B, -1)).reshape(B, 1, 28, 28)
    k = torch.arange(steps + 1).reshape(1, -1, 1, 1)
    x = torch.where(removed_at < k, fill_values[:, None], images[:, None])   # (B, steps + 1, 28, 28)
    x = x.reshape(-1, 28, 28)
    t = target.repeat_interleave(steps + 1)
    scores, labels = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            h = forward(x[i:i + batch])
            scores.append(h.gather(1, t[i:i + batch, None])[:, 0])
            labels.append(h.argmax(1))
    return torch.cat(scores).reshape(B, steps + 1), torch.cat(labels).reshape(B, steps + 1)


def aopc(scores: torch.Tensor) -> float:
    """Area over the perturbation curve: the mean over samples and steps of ``h_c(x^0) - h_c(x^k)``."""
    return float((scores[:, :1] - scores).mean())


def flip_count(labels: torch.Tensor) -> float:
    """Mean number of patches flipped before the predicted label first changes (n + 1 if it never does)."""
    changed = labels != labels[:, :1]
    n = labels.shape[1] - 1
    first = torch.where(changed.any(1), changed.float().argmax(1), torch.full_like(labels[:, 0], n + 1))
    return float(first.float().mean())


def chunk_curve(scores: torch.Tensor) -> torch.Tensor:
    """Mean score after removing k chunks over the mean unperturbed score (ratio of means: robust to
    samples whose score is near 0)."""
    mean = scores.mean(0)
    return mean / mean[0]


def curve_area(curve: torch.Tensor) -> float:
    """Area under a curve on [0, 1] (trapezoids)."""
    y = curve.double()
    return float(((y[1:] + y[:-1]) / 2).sum() / (len(y) - 1))


# the three measures: (patch height, patch width or "chunk", steps, summary of the scores / labels)
MEASURES = {
    "aopc": (4, 4, 49),          # thesis code: 4 x 4 patches, 49 steps, higher = more faithful
    "flips": (7, 7, 16),         # thesis code: 7 x 7 patches until the label changes, lower = more faithful
    "chunks": (28, "chunk", None),   # whole time steps, area under the curve, lower = more faithful
}
HIGHER_IS_FAITHFUL = {"aopc": True, "flips": False, "chunks": False}


def faithfulness(forward: Forward, images, target, heatmap, seq_len: int, *, fills=FILLS, mean_image=None,
                 orders=("most", "least"), seed: int = 0, random_repeats: int = 3) -> dict:
    """Every measure x fill x order for one heatmap: ``{(measure, fill, order): value}``.

    ``heatmap=None`` gives the ``random`` order only (averaged over ``random_repeats`` orders): the
    model's own baseline that the ratios divide by. Also ``(chunks, fill, order, "curve")`` -> the curve.
    """
    mean_image = torch.zeros(28, 28) if mean_image is None else mean_image
    out = {}
    for fill in fills:
        g = torch.Generator().manual_seed(seed)
        fill_values = fill_image(fill, images, mean_image, g)
        for measure, (h, w, steps) in MEASURES.items():
            w = 28 // seq_len if w == "chunk" else w
            for order in (("random",) * random_repeats if heatmap is None else orders):
                o = patch_order(heatmap if heatmap is not None else images, h, w, order, g)
                scores, labels = perturbation(forward, images, target, o, h, w, fill_values, steps)
                if measure == "aopc":
                    value = aopc(scores)
                elif measure == "flips":
                    value = flip_count(labels)
                else:
                    curve = chunk_curve(scores)
                    value = curve_area(curve)
                    key = (measure, fill, order, "curve")
                    out[key] = out.get(key, 0) + curve / (random_repeats if heatmap is None else 1)
                key = (measure, fill, order)
                out[key] = out.get(key, 0.0) + value / (random_repeats if heatmap is None else 1)
    return out


# --- controls and non-LRP baselines ------------------------------------------------------------------

def randomized_model(cell: str, seq_len: int, seed: int, dataset: str = "mnist5k"):
    """The model of ``cell`` as training starts (same architecture, ``torch.manual_seed(seed)`` then
    :func:`~reference.thesis.cells.build_model`, as :func:`~reference.thesis.train.train` does)."""
    torch.manual_seed(seed)
    return build_model(cell, seq_len, dataset).eval()


def integrated_gradients(forward: torch.nn.Module, images, target, steps: int = 32) -> torch.Tensor:
    """Integrated gradients of ``h_target`` from the black image (B, 28, 28), Gauss-Legendre nodes."""
    return attribution.integrated_gradients(forward, images, baseline=0.0, target=target, steps=steps).attributions


def occlusion(forward: Forward, images, target, seq_len: int, fill: float = 0.0, batch: int = 4096) -> torch.Tensor:
    """Occlusion through time: the drop of ``h_target`` when a 4-row patch inside one chunk is set to
    ``fill``, spread evenly over the patch's pixels (B, 28, 28). Patches are ``4 x gcd(4, w)`` so that
    each lies within one time step."""
    w = math.gcd(4, 28 // seq_len)
    ids, n = patch_ids(4, w)
    masks = ids[None] == torch.arange(n).reshape(-1, 1, 1)                  # (n, 28, 28)
    x = torch.where(masks[None], torch.as_tensor(fill, dtype=images.dtype), images[:, None]).reshape(-1, 28, 28)
    t = target.repeat_interleave(n)
    with torch.no_grad():
        base = forward(images).gather(1, target[:, None])                    # (B, 1)
        h = torch.cat([forward(x[i:i + batch]).gather(1, t[i:i + batch, None])[:, 0]
                       for i in range(0, len(x), batch)]).reshape(-1, n)
    drop = (base - h) / (4 * w)                                               # (B, n) per pixel of the patch
    return drop.gather(1, ids.reshape(1, -1).expand(len(images), -1)).reshape(-1, 28, 28)


# --- where the relevance lies ---------------------------------------------------------------------------

def step_shares(heatmap: torch.Tensor, seq_len: int) -> torch.Tensor:
    """(T,) share of the population's (signed) relevance on each chunk."""
    per_step = heatmap.reshape(heatmap.shape[0], 28, seq_len, 28 // seq_len).sum((0, 1, 3))
    total = per_step.sum()
    return per_step / total if total != 0 else torch.zeros_like(per_step)


def lag_curve(heatmap: torch.Tensor, seq_len: int) -> torch.Tensor:
    """(T,) share of relevance reaching step T - k or earlier, k = 0 .. T - 1 (1 at k = 0): how much of
    f(x) the backward pass carries k steps back through the recurrence."""
    return step_shares(heatmap, seq_len).cumsum(0).flip(0)


def zero_pixel_share(heatmap: torch.Tensor, images: torch.Tensor) -> float:
    """Share of the (signed) relevance that lies on pixels that are exactly 0 (black background)."""
    total = heatmap.sum()
    return float(heatmap[images == 0].sum() / total) if total != 0 else 0.0
