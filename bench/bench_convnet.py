"""The book's conv nets: one SimpleConvNet training step (ch07 configuration, Adam, batch 100)
on both backends beside the book's NumPy code and PyTorch eager (skipped without torch), and
DeepConvNet inference (accuracy over the MNIST test images, or random images when MNIST is not
on disk) on both backends beside the book's. Kind "convnet"; speed-ups and ratios are over
the book's implementation.
DeepConvNet runs on seeded random parameters: the book's trained params files are not here."""
import os
import sys
from pathlib import Path

import pytest
import settings

from fastscratch.benchtools import convnet_cases as cases
from fastscratch.benchtools.results import tag
from fastscratch.dataset.mnist import DatasetError, load_mnist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the transcription of the book's code
import book_convnet  # noqa: E402
import book_reference  # noqa: E402

INFERENCE_IMAGES = 200 if settings.QUICK else 10_000


def _step_cases():
    """(dtype, impl) with PyTorch last, so that its thread pool cannot slow the others."""
    for impls in (("numba", "numpy", "book"), ("torch",)):
        for dtype in settings.DTYPES:
            for impl in impls:
                yield pytest.param(dtype, impl, id=f"{dtype}-{impl}")


@pytest.mark.parametrize("dtype,impl", list(_step_cases()))
def test_convnet_step(benchmark, dtype, impl):
    if impl == "torch":
        pytest.importorskip("torch")
        step = cases.torch_convnet_step(dtype, settings.THREADS)
    elif impl == "book":
        step = cases.book_convnet_step(book_convnet.SimpleConvNet, book_reference.Adam, dtype)
    else:
        step = cases.convnet_step(dtype, backend=impl)
    tag(benchmark, "convnet", "simpleconvnet-step/adam", dtype, impl, reference="book",
        batch=100)
    step()  # compile and warm up outside the timing
    benchmark(step)


@pytest.fixture(scope="module")
def test_images():
    """(x, t): the first INFERENCE_IMAGES MNIST test images, or random ones without MNIST."""
    shared = REPO.parent / "shared" / "data" / "mnist"
    data_dir = None if os.environ.get("FASTSCRATCH_DATA") or not shared.is_dir() else shared
    try:
        _, (x, t) = load_mnist(flatten=False, data_dir=data_dir, download=False,
                               progress=False)
        x, t = x[:INFERENCE_IMAGES].astype("float64"), t[:INFERENCE_IMAGES]
    except (DatasetError, OSError):
        x, t = cases.mnist_images(INFERENCE_IMAGES, "float64")
    return x, t, cases.deepconvnet_params()


_BOOK_ACCURACY = {}  # the book's accuracy on the images (the same for both dtypes)


def _book_accuracy(run):
    if "value" not in _BOOK_ACCURACY:
        _BOOK_ACCURACY["value"] = run()
    return _BOOK_ACCURACY["value"]


@pytest.mark.parametrize("dtype,impl", [pytest.param(d, i, id=f"{d}-{i}")
                                        for d in settings.DTYPES
                                        for i in ("book", "numba", "numpy")])
def test_deepconvnet_inference(benchmark, test_images, dtype, impl):
    x, t, params = test_images
    book = cases.book_deepconvnet_accuracy(book_convnet.DeepConvNet, params, x, t)
    if impl == "book":
        run = book
    else:
        run = cases.deepconvnet_accuracy(params, x, t, dtype, impl)
        accuracy = run()  # compiles; the same accuracy as the book's code
        # float32 may flip an argmax whose two top scores are within rounding of each other
        assert abs(accuracy - _book_accuracy(book)) <= (0 if dtype == "float64" else 2 / len(x))
    tag(benchmark, "convnet", f"deepconvnet-inference/{len(x)}", dtype, impl,
        reference="book", images=len(x))
    # one round of the slow implementations: the book's takes minutes for 10 000 images
    accuracy = benchmark.pedantic(run, rounds=3 if impl == "numba" else 1)
    if impl == "book":
        _BOOK_ACCURACY.setdefault("value", accuracy)
