"""Training the thesis's classifiers (Sec. 4.4, Table 4.2): Adam, batch 50, dropout 0.5, checkpoints.

A checkpoint holds the model, the optimizer, the configuration, the epoch reached, the learning
curve and the test accuracy; training with the same checkpoint path resumes where it stopped. A run
may be extended: more epochs, or a learning-rate step (``milestones``) after the epochs done, resume
from the same checkpoint, since the epochs already trained had the same learning rates.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import data as thesis_data
from .cells import build_model

# Table 4.4: the accuracy a model must reach before its heatmaps are worth comparing.
MIN_ACCURACY = {"mnist": 0.98, "mnist5k": 0.98, "fashion-mnist": 0.85}


@dataclass
class TrainConfig:
    cell: str = "deep"
    seq_len: int = 7
    dataset: str = "mnist5k"
    data_dir: str | None = None
    epochs: int = 10                # the thesis trains 200 epochs; the default here is a CPU budget
    lr: float = 1e-3                # "left adjustable" per architecture in the thesis
    batch_size: int = 50
    seed: int = 0
    max_train: int | None = None    # use only the first N training images (tests, quick runs)
    milestones: tuple = ()          # epochs (counted from 0) at which the learning rate is multiplied by gamma
    gamma: float = 0.1              # as torch's MultiStepLR: the last epochs of a short budget at lr / 10

    def __post_init__(self):
        self.milestones = tuple(self.milestones)   # a checkpoint's config may hold a list
        if list(self.milestones) != sorted(set(self.milestones)) or any(
                not isinstance(m, int) or m < 1 for m in self.milestones):
            raise ValueError(f"milestones must be increasing epochs >= 1, got {self.milestones}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (from 0): lr * gamma ** #{m in milestones : m <= epoch}."""
        return self.lr * self.gamma ** sum(m <= epoch for m in self.milestones)


@dataclass
class Result:
    config: TrainConfig
    accuracy: float
    epochs_done: int
    seconds: float
    history: list = field(default_factory=list)   # (epoch, mean training loss, test accuracy)

    @property
    def meets_table_4_4(self) -> bool:
        return self.accuracy >= MIN_ACCURACY[self.config.dataset]


def accuracy(model, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out = model(torch.as_tensor(images[i:i + batch]))
            correct += int((out.argmax(1) == torch.as_tensor(labels[i:i + batch])).sum())
    return correct / len(images)


def load_checkpoint(path: str | Path):
    """``(model, Result)`` from a checkpoint written by :func:`train`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (train one with `xai-course thesis train`)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    missing = {"model", "config", "epoch", "accuracy"} - set(state)
    if missing:
        raise ValueError(f"{path}: not a thesis checkpoint (missing {sorted(missing)})")
    config = TrainConfig(**state["config"])
    model = build_model(config.cell, config.seq_len, config.dataset)
    model.load_state_dict(state["model"])
    model.eval()
    return model, Result(config, state["accuracy"], state["epoch"], state.get("seconds", 0.0), state.get("history", []))


def train(config: TrainConfig, checkpoint: str | Path | None = None, *, progress: bool = True,
          splits: dict | None = None, on_epoch=None) -> tuple[torch.nn.Module, Result]:
    """Train (or resume) ``config``; save to ``checkpoint`` after every epoch if given (atomically: a run
    stopped mid-save keeps the previous epoch's checkpoint). ``on_epoch(epoch, loss, accuracy, seconds)``
    is called after each epoch (a log line of a long run)."""
    splits = splits or thesis_data.load(config.dataset, config.data_dir, seed=config.seed)
    X, y = splits["train"].images, splits["train"].labels
    if config.max_train:
        X, y = X[:config.max_train], y[:config.max_train]
    torch.manual_seed(config.seed)
    model = build_model(config.cell, config.seq_len, config.dataset)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    start_epoch, history, seconds = 0, [], 0.0
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        done = TrainConfig(**state["config"])   # a key added since it was written takes its default
        schedule = {"epochs": config.epochs, "milestones": config.milestones, "gamma": config.gamma}
        if (asdict(done) | schedule != asdict(config)
                or any(done.lr_at(e) != config.lr_at(e) for e in range(state["epoch"]))):
            raise ValueError(f"{ckpt}: holds a different configuration ({state['config']}, "
                             f"{state['epoch']} epochs done); use another checkpoint path")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, history, seconds = state["epoch"], state["history"], state.get("seconds", 0.0)
        if "rng" in state:   # dropout's random state: a resumed run draws the masks it would have drawn
            torch.set_rng_state(state["rng"])

    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(start_epoch):   # replay the shuffles so a resumed run sees the same batches
        torch.randperm(len(Xt), generator=gen)
    acc = accuracy(model, splits["test"].images, splits["test"].labels) if start_epoch else 0.0
    name = f"{config.cell}-{config.seq_len} on {config.dataset}"
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = config.lr_at(epoch)
        model.train()
        losses = []
        batches = torch.randperm(len(Xt), generator=gen).split(config.batch_size)
        for idx in tqdm(batches, desc=f"{name} epoch {epoch + 1}/{config.epochs}", disable=not progress,
                        leave=False):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        seconds += time.perf_counter() - t0
        acc = accuracy(model, splits["test"].images, splits["test"].labels)
        history.append((epoch + 1, float(np.mean(losses)), acc))
        if progress:
            print(f"{name}: epoch {epoch + 1}, lr {config.lr_at(epoch):g}, loss {np.mean(losses):.4f}, "
                  f"test accuracy {acc:.4f}")
        if on_epoch:
            on_epoch(epoch + 1, float(np.mean(losses)), acc, seconds)
        if ckpt:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_name(ckpt.name + ".tmp")
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "config": asdict(config),
                        "epoch": epoch + 1, "history": history, "accuracy": acc, "seconds": seconds,
                        "rng": torch.get_rng_state()}, tmp)
            tmp.replace(ckpt)
    model.eval()
    return model, Result(config, acc, max(start_epoch, config.epochs), seconds, history)
