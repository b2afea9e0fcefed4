"""A small ReLU classifier of the embedded MNIST digits, for prototypes and heatmaps."""
from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import load_mnist_5k, train_test_split


def mlp(sizes=(784, 100, 10)) -> torch.nn.Sequential:
    """Dense ReLU network ``784 -> 100 -> 10`` (logits out)."""
    layers = []
    for i, (j, k) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(j, k))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train_digit_classifier(*, epochs: int = 5, hidden: int = 100, seed: int = 0, batch_size: int = 50,
                           lr: float = 1e-3, progress: bool = True):
    """Train ``mlp((784, hidden, 10))`` with Adam on the embedded 4,000/1,000 split.

    Returns ``(model, test_accuracy)``. Seeded, so the same call gives the same network.
    """
    torch.manual_seed(seed)
    X, y = load_mnist_5k()
    X_tr, X_te, y_tr, y_te = (torch.as_tensor(v) for v in train_test_split(X, y, seed=seed))
    model = mlp((784, hidden, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), desc="training digit classifier", disable=not progress):
        for idx in torch.randperm(len(X_tr), generator=gen).split(batch_size):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X_tr[idx]), y_tr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(X_te).argmax(1) == y_te).float().mean())
    return model, accuracy


def class_means() -> np.ndarray:
    """The mean image of each digit in the embedded data, shape (10, 784)."""
    X, y = load_mnist_5k()
    return np.stack([X[y == c].mean(0) for c in range(10)])
