"""One MNIST epoch (600 steps of 100, Adam) on real data, on both backends; skipped when the
MNIST files are not on disk (FASTSCRATCH_DATA, <repo>/../shared/data/mnist or the cache)."""
import os
from pathlib import Path

import pytest
import settings

from fastscratch.benchtools.results import tag
from fastscratch.benchtools.steps import fastscratch_epoch, fastscratch_step
from fastscratch.dataset.mnist import DatasetError, load_mnist

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="module")
def mnist_train():
    data_dir = None if os.environ.get("FASTSCRATCH_DATA") or not SHARED.is_dir() else SHARED
    try:
        (x, t), _ = load_mnist(normalize=True, data_dir=data_dir, download=False,
                               progress=False)
    except (DatasetError, OSError) as exc:
        pytest.skip(f"MNIST not available: {exc}")
    return x, t


@pytest.mark.parametrize("impl", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", settings.DTYPES)
@pytest.mark.parametrize("arch", settings.EPOCH_ARCHS)
def test_epoch(benchmark, mnist_train, arch, dtype, impl):
    x, t = mnist_train
    fastscratch_step(arch, "adam", dtype, backend=impl)()  # compile outside the timing
    epoch = fastscratch_epoch(x, t, arch, "adam", dtype, backend=impl)
    tag(benchmark, "epoch", f"{arch}/adam", dtype, impl, steps=len(x) // 100)
    benchmark.pedantic(epoch, rounds=3)
