"""Every ``FASTSCRATCH_*`` environment variable, read here and nowhere else, when first needed.

Importing this module reads nothing and writes nothing. Each function reads its variable when
called; the callers call them at first use (the thread count and the parallel thresholds when
the first kernel loads, the data paths on every ``load_mnist``). The README's "Settings" table
lists them all.
"""
import contextlib
import os

NUM_THREADS = "FASTSCRATCH_NUM_THREADS"
PARALLEL_MIN = "FASTSCRATCH_PARALLEL_MIN"
DATA = "FASTSCRATCH_DATA"
CACHE = "FASTSCRATCH_CACHE"
MNIST_MIRROR = "FASTSCRATCH_MNIST_MIRROR"
FASHION_MNIST_MIRROR = "FASTSCRATCH_FASHION_MNIST_MIRROR"
BENCH_THREADS = "FASTSCRATCH_BENCH_THREADS"
WARM_UP = "FASTSCRATCH_WARM_UP"
DIRECT_CONV = "FASTSCRATCH_DIRECT_CONV"

# Elements below which a kernel's serial twin wins (bench/bench_kernels.py, 2 free cores:
# break-even at 16K-65K elements, the parallel twin 1.2-1.8x ahead from 2^18).
DEFAULT_PARALLEL_MIN = 1 << 18

# Work (multiply-adds of the products, elements of the rest: fastscratch/work.py) that the
# default backend runs on the NumPy twins before it loads Numba: about 0.1-0.3 s of NumPy here,
# less than Numba's import and the first kernels' cache loads (0.35-0.45 s), so a script that
# does less than this never pays for them.
DEFAULT_WARM_UP = 10 ** 8

# How Numba's OpenMP workers wait between parallel kernels (docs/threads.md): spin about half a
# millisecond (GNU OpenMP's spin count, Intel OpenMP's block time), then sleep.
WAIT_POLICY = {"GOMP_SPINCOUNT": "20000", "KMP_BLOCKTIME": "1"}


def _int(name, default, minimum):
    """$name as an int >= minimum; ``default`` when unset."""
    text = os.environ.get(name)
    if text is None:
        return default
    if not text.strip().isdigit() or int(text) < minimum:
        wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {text!r}")
    return int(text)


def warm_up():
    """$FASTSCRATCH_WARM_UP (an int >= 0): the work the default backend runs on the NumPy
    twins before it loads Numba's kernels; 0: kernels from the first call. Default 10^8."""
    return _int(WARM_UP, DEFAULT_WARM_UP, 0)


def num_threads(default):
    """$FASTSCRATCH_NUM_THREADS (a positive int), else ``default``."""
    return _int(NUM_THREADS, default, 1)


def parallel_min():
    """$FASTSCRATCH_PARALLEL_MIN (a positive int): elements from which elementwise kernels run
    their parallel twin; a huge value keeps every kernel serial. Default 2^18."""
    return _int(PARALLEL_MIN, DEFAULT_PARALLEL_MIN, 1)


def direct_conv():
    """$FASTSCRATCH_DIRECT_CONV: 'auto' (the default: the machine decides,
    kernels.conv.direct_pays), 'on' or 'off': whether the numba backend's 3x3 stride-1 layers
    run forward, dx and dW on Numba's own loops instead of BLAS products."""
    text = os.environ.get(DIRECT_CONV, "auto")
    if text.strip().lower() not in ("auto", "on", "off"):
        raise ValueError(f"{DIRECT_CONV} must be auto, on or off, got {text!r}")
    return text.strip().lower()


def data_dir():
    """$FASTSCRATCH_DATA as given (None when unset or empty): where the dataset files are."""
    return os.environ.get(DATA) or None


def cache_dir():
    """$FASTSCRATCH_CACHE (None when unset or empty): the download cache instead of the user's."""
    return os.environ.get(CACHE) or None


def mirrors(variable):
    """The base URLs in the mirror variable ``variable`` (separated by spaces or commas)."""
    return os.environ.get(variable, "").replace(",", " ").split()


def bench_threads():
    """$FASTSCRATCH_BENCH_THREADS (a comma list of positive ints) sorted, or None when unset."""
    text = os.environ.get(BENCH_THREADS)
    if not text:
        return None
    counts = text.split(",")
    if not all(c.strip().isdigit() and int(c) > 0 for c in counts):
        raise ValueError(f"{BENCH_THREADS} must be positive ints separated by commas (1,2,4), "
                         f"got {text!r}")
    return sorted({int(c) for c in counts})


@contextlib.contextmanager
def openmp_load():
    """Within the block, for an OpenMP runtime that loads there (it reads the variables once,
    when it loads): the wait policy of WAIT_POLICY, unless the user set those variables or any
    OMP_WAIT_POLICY, and KMP_DUPLICATE_LIB_OK=True, threadpoolctl's guard against Intel OpenMP
    aborting the process when a second copy loads. os.environ is as before after the block."""
    wanted = {"KMP_DUPLICATE_LIB_OK": "True"}
    if "OMP_WAIT_POLICY" not in os.environ:
        wanted.update(WAIT_POLICY)
    added = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
