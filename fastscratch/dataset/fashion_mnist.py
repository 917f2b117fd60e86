"""Fashion-MNIST loader: same files, format and API as :mod:`.mnist`.

Searched like MNIST (sub folder and cache name ``fashion-mnist``), plus the
Debian package ``dataset-fashion-mnist`` location /usr/share/datasets/fashion-mnist.
Mirrors: ``mirrors=`` or ``FASTSCRATCH_FASHION_MNIST_MIRROR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from .. import settings
from .store import DatasetSpec, FileSpec, load, load_arrays, locate

__all__ = ["load_fashion_mnist", "download_fashion_mnist", "init_fashion_mnist", "classes"]

# .gz SHA-256: first the official release files (MD5s 8d4fb7e6..., 25c81989...,
# bef4ecab..., bb300cfd...), then Debian's recompressed copies (package
# dataset-fashion-mnist 0.0~git20200523.55506a9-1). The uncompressed content
# SHA-256 was taken from the Debian files; their uncompressed MD5s equal the
# published ones (f4a8712d..., 9018921c..., 8181f547..., 15d48437...).
FASHION_MNIST = DatasetSpec(
    title="Fashion-MNIST",
    subdir="fashion-mnist",
    files=(
        FileSpec("train_img", "train-images-idx3-ubyte.gz",
                 ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                  "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
                 "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        FileSpec("train_label", "train-labels-idx1-ubyte.gz",
                 ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                  "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
                 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        FileSpec("test_img", "t10k-images-idx3-ubyte.gz",
                 ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                  "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
                 "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        FileSpec("test_label", "t10k-labels-idx1-ubyte.gz",
                 ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                  "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
                 "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    mirror_env=settings.FASHION_MNIST_MIRROR,
    n_train=60000,
    n_test=10000,
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_fashion_mnist(normalize: bool = True, flatten: bool = True,
                       one_hot_label: bool = False, data_dir=None, *,
                       verify: bool = True, mirrors: Sequence[str] | str | None = None,
                       download: bool = True, progress: bool = True) -> tuple:
    """Load Fashion-MNIST: ``(x_train, t_train), (x_test, t_test)``.

    Same shapes, dtypes and options as :func:`fastscratch.dataset.mnist.load_mnist`:
    images uint8 (N, 784) or (N, 1, 28, 28), float32 / 255.0 if ``normalize``;
    labels uint8 (N,) or float64 one-hot (N, 10); N = 60000 / 10000.
    """
    return load(FASHION_MNIST, normalize, flatten, one_hot_label, data_dir, verify,
                 mirrors, download, progress)


def download_fashion_mnist(data_dir=None, *, mirrors: Iterable[str] | str | None = None,
                           progress: bool = True) -> Path:
    """Make sure the four Fashion-MNIST files are on disk; returns their directory."""
    return locate(FASHION_MNIST, data_dir, mirrors, True, progress)["train_img"].parent


def init_fashion_mnist(data_dir=None, **kwargs) -> None:
    """Download if needed and build the decoded cache."""
    load_arrays(FASHION_MNIST, data_dir, **kwargs)
