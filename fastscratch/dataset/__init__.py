"""Data sets: MNIST and Fashion-MNIST, loaded as in the book's ``dataset.mnist``."""

from .store import (ChecksumMismatchError, DatasetError, DatasetNotFoundError,
                    DownloadError, IDXFormatError)
from .mnist import load_mnist
from .fashion_mnist import load_fashion_mnist

__all__ = ["load_mnist", "load_fashion_mnist", "DatasetError", "DatasetNotFoundError",
           "ChecksumMismatchError", "IDXFormatError", "DownloadError"]
