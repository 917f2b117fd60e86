"""Shared test setup: the MNIST location and a fixture that runs a test on each backend."""
import os
from pathlib import Path

import numpy as np
import pytest

import fastscratch

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def mnist_dir():
    """FASTSCRATCH_DATA if set, else ../shared/data/mnist beside the repo, else None."""
    env = os.environ.get("FASTSCRATCH_DATA")
    if env:
        return Path(env)
    return SHARED_MNIST if SHARED_MNIST.is_dir() else None


@pytest.fixture(params=fastscratch.backend.BACKENDS)
def backend_name(request):
    """Run the test once on every backend, restoring the default afterwards."""
    with fastscratch.use_backend(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def mnist_data_dir():
    """mnist_dir(), or skip the test when the MNIST files are not there."""
    d = mnist_dir()
    if d is None:
        pytest.skip("MNIST files not found: set FASTSCRATCH_DATA or put them in ../shared/data/mnist")
    return d
