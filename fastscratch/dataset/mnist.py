"""MNIST loader, a drop-in replacement for the book's ``dataset/mnist.py``: the MNIST files'
description (names, SHA-256 sums, mirrors) on the verified store of :mod:`.store`, and the
book's names (``load_mnist``, ``init_mnist``, ``key_file``, ``img_size``, ...).

Without ``data_dir`` or ``FASTSCRATCH_DATA`` the files are found in the user cache, else in the
book's own ``dataset/`` folder when the program runs inside a clone of the book (a book script,
or ``fastscratch run``), else downloaded into the user cache. Mirrors: ``mirrors=`` or
``FASTSCRATCH_MNIST_MIRROR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from .. import settings
from .store import (IMG_DIM, IMG_SIZE, ChecksumMismatchError, DatasetError, DatasetNotFoundError,
                    DatasetSpec, DownloadError, FileSpec, IDXFormatError, load, load_arrays,
                    locate)

__all__ = [
    "load_mnist", "download_mnist", "init_mnist", "MNIST", "DatasetError",
    "DatasetNotFoundError", "ChecksumMismatchError", "IDXFormatError", "DownloadError",
    "key_file", "train_num", "test_num", "img_dim", "img_size",
]

MNIST = DatasetSpec(
    title="MNIST",
    subdir="mnist",
    files=(
        FileSpec("train_img", "train-images-idx3-ubyte.gz",
                 ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",),
                 "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        FileSpec("train_label", "train-labels-idx1-ubyte.gz",
                 ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
                 "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        FileSpec("test_img", "t10k-images-idx3-ubyte.gz",
                 ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
                 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        FileSpec("test_label", "t10k-labels-idx1-ubyte.gz",
                 ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
                 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    mirror_env=settings.MNIST_MIRROR,
    n_train=60000,
    n_test=10000,
    book_folder=True,
)

# The book's module-level names.
url_base = MNIST.mirrors[0]
key_file = {fs.key: fs.name for fs in MNIST.files}
train_num = 60000
test_num = 10000
img_dim = IMG_DIM
img_size = IMG_SIZE

# ---------------------------------------------------------------- public API

def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
               data_dir=None, *, verify: bool = True,
               mirrors: Sequence[str] | str | None = None,
               download: bool = True, progress: bool = True) -> tuple:
    """Load MNIST as in the book: ``(x_train, t_train), (x_test, t_test)``.

    Images: uint8 of shape (N, 784) if ``flatten`` else (N, 1, 28, 28);
    float32 in [0, 1] (pixel / 255.0) if ``normalize``. Labels: uint8 of
    shape (N,), or float64 one-hot of shape (N, 10) if ``one_hot_label``.
    N is 60000 for train and 10000 for test.

    ``data_dir``: where the files are (see :mod:`fastscratch.dataset.store` for the
    search order); ``verify=False`` skips the SHA-256 check of local files (for
    nonstandard files); ``mirrors``: base URLs to download from;
    ``download=False`` never downloads; ``progress``: show a download bar.
    Raises DatasetNotFoundError (a FileNotFoundError), ChecksumMismatchError or
    IDXFormatError (ValueErrors) with messages naming the files.
    """
    return load(MNIST, normalize, flatten, one_hot_label, data_dir, verify, mirrors,
                 download, progress)


def download_mnist(data_dir=None, *, mirrors: Iterable[str] | str | None = None,
                   progress: bool = True) -> Path:
    """Make sure the four MNIST files are on disk; returns their directory."""
    return locate(MNIST, data_dir, mirrors, True, progress)["train_img"].parent


def init_mnist(data_dir=None, **kwargs) -> None:
    """Download if needed and build the decoded cache (the book's init_mnist)."""
    load_arrays(MNIST, data_dir, **kwargs)
