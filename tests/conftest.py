"""Shared test setup: where MNIST is (the ``mnist_dir`` fixture, and the ``needs_mnist`` marker
on every test that uses it), a fixture that runs a test on each backend, and a seeded
generator. Test modules never import this file: they ask for its fixtures."""
import os
from pathlib import Path

import numpy as np
import pytest

# The kernels from the first call: the default backend's warm-up on the NumPy twins
# (backend.py) would otherwise decide, by what ran before in this process, whether a test
# meets a kernel or a twin. tests/test_warm_up.py tests the warm-up in fresh processes.
os.environ["FASTSCRATCH_WARM_UP"] = "0"

import fastscratch  # noqa: E402

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
NO_MNIST = ("MNIST not found: set FASTSCRATCH_DATA to the folder of its four .gz files, or put "
            "them in <repo>/../shared/data/mnist")


def _find_mnist():
    """The folder holding the four MNIST .gz files: $FASTSCRATCH_DATA/mnist or
    $FASTSCRATCH_DATA when that is set, else <repo>/../shared/data/mnist; None if none does."""
    env = os.environ.get("FASTSCRATCH_DATA")
    repo = Path(__file__).resolve().parents[1]
    folders = [Path(env).resolve() / "mnist", Path(env).resolve()] if env else [
        repo.parent / "shared" / "data" / "mnist"]
    return next((d for d in folders if all((d / n).is_file() for n in MNIST_FILES)), None)


_MNIST = _find_mnist()


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder of the four MNIST .gz files; a test that asks for it (directly or through
    another fixture) is marked ``needs_mnist`` and skipped when there is none."""
    if _MNIST is None:
        pytest.skip(NO_MNIST)
    return _MNIST


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_mnist: the test reads the real MNIST files "
                                       "(select with -m needs_mnist or -m 'not needs_mnist')")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker("needs_mnist")


@pytest.fixture(params=fastscratch.backend.BACKENDS)
def backend_name(request):
    """Run the test once on every backend, restoring the default afterwards."""
    with fastscratch.use_backend(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
