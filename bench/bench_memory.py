"""STREAM-like triad a = b + s*c on float64 (Numba, parallel), best of several rounds: the
memory bandwidth that optimizer updates on a 10M-element array are reported against."""
import numpy as np
import settings

from fastscratch.benchtools.results import tag
from fastscratch.benchtools.steps import TRIAD_STREAMS, triad


def test_triad(benchmark):
    n = settings.TRIAD_ELEMENTS
    rng = np.random.default_rng(0)
    a, b, c = np.zeros(n), rng.random(n), rng.random(n)
    triad(a, b, c, 3.0)  # compile and fault the pages in outside the timing
    tag(benchmark, "triad", "triad", f"{n}-float64", "numba", reference="numba", elements=n,
        bytes=TRIAD_STREAMS * a.itemsize * n, rounds=settings.TRIAD_ROUNDS)
    benchmark.pedantic(triad, args=(a, b, c, 3.0), rounds=settings.TRIAD_ROUNDS,
                       warmup_rounds=1)
