"""Data sets: the shipped 12-bit task and MNIST test set, split into train and test parts.

Every loader returns a :class:`Dataset` whose inputs are float32 in [0, 1] with
shape ``(n_samples, *input_shape)`` and whose labels are int64 class indices.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.io

IDX_IMAGE_MAGIC = 2051
IDX_LABEL_MAGIC = 2049


@dataclass(frozen=True)
class Dataset:
    """A classification data set split into train and test parts."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _shipped_file(name: str) -> Path:
    return Path(str(resources.files("infoplane") / "data" / name))


def split_train_test(x: np.ndarray, y: np.ndarray, train_fraction: float, seed: int):
    """Split ``(x, y)`` by a seeded permutation; returns ``(x_train, y_train, x_test, y_test)``."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(round(train_fraction * len(x)))
    if n_train == 0 or n_train == len(x):
        raise ValueError(f"train_fraction={train_fraction} leaves an empty part of {len(x)} samples")
    train, test = order[:n_train], order[n_train:]
    return x[train], y[train], x[test], y[test]


def load_szt(train_fraction: float = 0.8, seed: int = 0) -> Dataset:
    """Load the 12-bit task of Shwartz-Ziv and Tishby (2017): 4096 binary patterns, 2 classes."""
    mat = scipy.io.loadmat(_shipped_file("var_u.mat"))
    x = np.asarray(mat["F"], dtype=np.float32)
    y = np.asarray(mat["y"], dtype=np.int64).ravel()
    return Dataset("szt", *split_train_test(x, y, train_fraction, seed), n_classes=2)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) of unsigned bytes into a uint8 array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(f"{path} holds {len(raw)} bytes but its header of shape {shape} implies {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist_test(train_fraction: float = 0.8, seed: int = 0) -> Dataset:
    """Load the shipped MNIST test set (10,000 images) and split it into its own train and test parts."""
    images = read_idx(_shipped_file("t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    labels = read_idx(_shipped_file("t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = images[:, None, :, :]
    return Dataset("mnist10k", *split_train_test(x, labels, train_fraction, seed), n_classes=10)


LOADERS = {"szt": load_szt, "mnist10k": load_mnist_test}


def load_dataset(name: str, train_fraction: float = 0.8, seed: int = 0, **options) -> Dataset:
    """Load the data set called ``name`` (one of ``LOADERS``) with a seeded train/test split."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(sorted(LOADERS))}")
    return LOADERS[name](train_fraction=train_fraction, seed=seed, **options)
