"""The data and models of the ``rnn_explain`` checks: the shipped Shallow-7 / Deep-7 checkpoints, the embedded
MNIST test digits, randomly initialised cells, and the reference relevance-per-step measures."""
from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import torch

from reference.thesis import build_model
from reference.thesis import data as thesis_data
from reference.thesis.explain import explain as ref_explain
from reference.thesis.explain import step_distribution
from reference.thesis.train import load_checkpoint

from ...feedback import CheckFailed
from ...properties import Violation
from .probe import SEQ

RECURRENT = 128
CLASS = 1
WIDTHS = {1: 28, 4: 7, 7: 4, 14: 2}


# === data and the shipped models ===================================================================

def checkpoint_path(cell: str):
    """The shipped checkpoint ``<cell>-7-mnist5k.pt`` inside the installed ``reference.thesis`` package."""
    return resources.files("reference.thesis") / "checkpoints" / f"{cell}-7-mnist5k.pt"


@cache
def shipped(cell: str):
    """The shipped Shallow-7 or Deep-7 model (eval mode). Do not modify it."""
    model, _ = load_checkpoint(checkpoint_path(cell))
    return model.eval()


@cache
def test_digits():
    """The 1,000 test digits of the embedded MNIST subset (the split the checkpoints were evaluated on)."""
    split = thesis_data.load("mnist5k")["test"]
    return torch.as_tensor(split.images), torch.as_tensor(split.labels)


def class_digits(klass: int = CLASS) -> torch.Tensor:
    images, labels = test_digits()
    return images[labels == klass]


@cache
def _reference_class_measures():
    ones = class_digits()
    pixels = step_distribution(ones, SEQ)
    out = {"pixels": pixels}
    for cell in ("shallow", "deep"):
        heat = ref_explain(shipped(cell), ones).heatmap
        out[cell] = step_distribution(heat, SEQ)
        out[cell + "_mean_of_shares"] = _mean_of_shares(heat, SEQ)
    return out


def _mean_of_shares(values, seq):
    per = values.clamp(min=0).reshape(len(values), 28, seq, 28 // seq).sum((1, 3))
    return (per / per.sum(1, keepdim=True).clamp(min=1e-12)).mean(0)


def _tensor(x, what):
    """A student's return value as a float64 tensor (numpy arrays and tensors accepted)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(x, dtype=float))
    except Exception:
        raise Violation(f"{what}: expected a tensor (or array) of numbers, got {type(x).__name__}") from None


def _fmt_vec(v, n=7):
    v = np.asarray(v, dtype=float).ravel()
    body = ", ".join(f"{x:.4g}" for x in v[:n])
    return "[" + body + (", ..." if len(v) > n else "") + "]"


def _fixed_case(q, prop, example, header):
    """Run ``prop(**example)`` on a fixed example; a Violation becomes a CheckFailed headed by ``header``."""
    try:
        prop(**example)
    except NotImplementedError:
        raise CheckFailed(q, "the function is not implemented yet (it raises NotImplementedError)") from None
    except Violation as v:
        lines = [v.message] + header
        if v.expected is not None:
            lines += [f"  expected: {_fmt_vec(v.expected, 14)}", f"  yours:    {_fmt_vec(v.got, 14)}"]
        raise CheckFailed(q, "\n".join(lines)) from None



@cache
def random_model(cell: str, seq: int, seed: int):
    """A randomly initialised cell (as the thesis initialises it), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(cell, seq).eval()


