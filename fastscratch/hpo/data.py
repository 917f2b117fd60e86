"""The validation split: a shuffled part of MNIST's training set, never its test set."""
import functools
from dataclasses import dataclass

import numpy as np

from .. import validation
from ..dataset.mnist import load_mnist


@dataclass(frozen=True)
class DataSpec:
    """Which split to use: ``train_size`` rows of the training set (None: all 60000) drawn with
    ``seed``, of which the first ``val_fraction`` become the validation part. ``data_dir`` is
    passed to load_mnist (None: FASTSCRATCH_DATA or the cache of the driver, which loads it)."""

    seed: int = 0
    train_size: int = 500
    val_fraction: float = 0.2
    data_dir: str = None

    def __post_init__(self):
        validation.positive_int("train_size", self.train_size, none_ok=True, least=2)
        if not isinstance(self.val_fraction, (int, float)) or not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be a number in (0, 1), got {self.val_fraction!r}")


@dataclass(frozen=True)
class Split:
    """The training part (x_train (N, 784) float32, t_train (N,) labels) and the validation part
    (x_val, t_val); ``train_idx``/``val_idx`` are their rows in MNIST's training set."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray


def split_indices(n_rows, spec):
    """(train_idx, val_idx): disjoint rows of a training set of ``n_rows`` rows, chosen as
    ``spec`` says; raises ValueError if ``spec.train_size`` exceeds ``n_rows``."""
    size = n_rows if spec.train_size is None else spec.train_size
    if size > n_rows:
        raise ValueError(f"train_size must be at most {n_rows} (the training set), got {size}")
    n_val = int(round(size * spec.val_fraction))
    if not 0 < n_val < size:
        raise ValueError(f"val_fraction={spec.val_fraction} of train_size={size} leaves "
                         f"{n_val} validation and {size - n_val} training rows; both must be >= 1")
    rows = np.random.default_rng(spec.seed).permutation(n_rows)[:size]
    return rows[n_val:], rows[:n_val]


@functools.lru_cache(maxsize=2)
def load_split(spec):
    """The Split ``spec`` describes, from MNIST's training set (cached per process: a driver
    that runs several studies on one split loads it once)."""
    (x, t), _ = load_mnist(normalize=True, flatten=True, data_dir=spec.data_dir, progress=False)
    train_idx, val_idx = split_indices(len(x), spec)
    return Split(x[train_idx], t[train_idx], x[val_idx], t[val_idx], train_idx, val_idx)

