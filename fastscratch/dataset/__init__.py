"""Data sets: MNIST and Fashion-MNIST, loaded as in the book's ``dataset.mnist``."""

from .mnist import (ChecksumMismatchError, DatasetError, DatasetNotFoundError,
                    DownloadError, IDXFormatError, load_mnist)
from .fashion_mnist import load_fashion_mnist

__all__ = ["load_mnist", "load_fashion_mnist", "DatasetError", "DatasetNotFoundError",
           "ChecksumMismatchError", "IDXFormatError", "DownloadError"]
