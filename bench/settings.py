"""Sizes and thread count of the benchmarks, from the environment:

FASTSCRATCH_BENCH_THREADS  thread counts, a comma list (1,2,4,8,16): the step benchmarks run at
                           each, the others at the largest (default 1, 2, 4, ... up to every
                           usable core)
FASTSCRATCH_BENCH_QUICK=1  only the smallest sizes, no 10M-element or epoch cases (smoke test)
"""
import os

QUICK = os.environ.get("FASTSCRATCH_BENCH_QUICK", "0") not in ("", "0")

def _thread_counts():
    """The comma list in FASTSCRATCH_BENCH_THREADS, or 1, 2, 4, ... up to the CPUs this process
    may use. Read here, not from the package, so `bench ab` can time older revisions too."""
    text = os.environ.get("FASTSCRATCH_BENCH_THREADS")
    if text:
        counts = text.split(",")
        if not all(c.strip().isdigit() and int(c) > 0 for c in counts):
            raise ValueError("FASTSCRATCH_BENCH_THREADS must be positive ints separated by "
                             f"commas (1,2,4), got {text!r}")
        return sorted({int(c) for c in counts})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts = [1]
    while counts[-1] * 2 <= cores:
        counts.append(counts[-1] * 2)
    return counts if counts[-1] == cores else counts + [cores]


THREAD_COUNTS = _thread_counts()
THREADS = THREAD_COUNTS[-1]

DTYPES = ("float64", "float32")
# (batch, hidden units): MNIST batches of 100 and 1000 with 100 and 1024 hidden units
SHAPES = ((100, 100), (100, 1024), (1000, 100), (1000, 1024))
# (batch, classes) for softmax + cross-entropy
CLASS_SHAPES = ((100, 10), (1000, 10))
# convolutions (N, C, H, W, FN, FH, FW, stride, pad): SimpleConvNet's 30 5x5 filters on MNIST,
# a DeepConvNet-like 16 -> 16 3x3 pad-1 layer; pooling (N, C, H, W, pool_h, pool_w, stride, pad)
CONV_CASES = {"simple": (100, 1, 28, 28, 30, 5, 5, 1, 0),
              "deep16": (100, 16, 28, 28, 16, 3, 3, 1, 1)}
POOL_CASES = {"simple": (100, 30, 24, 24, 2, 2, 2, 0)}
# optimizer updates: all parameters of a net, or one flat array of 10M elements
PARAM_SETS = ("784-100x4-10", "784-1024-1024-10", "flat10M")
# (arch, batch) of the step benchmarks
STEP_CASES = (("784-100x4-10", 100), ("784-1024-1024-10", 100), ("784-1024-1024-10", 1000))
EPOCH_ARCHS = ("784-100x4-10",)
TRIAD_ELEMENTS = 10_000_000
TRIAD_ROUNDS = 20
# seconds of timed rounds for benchmarks that restore their state before every round
ROUND_BUDGET = 0.5

if QUICK:
    SHAPES, CLASS_SHAPES, PARAM_SETS = SHAPES[:1], CLASS_SHAPES[:1], PARAM_SETS[:1]
    CONV_CASES = {"quick": (4, 2, 10, 10, 3, 3, 3, 1, 1)}
    POOL_CASES = {"quick": (4, 3, 8, 8, 2, 2, 2, 0)}
    STEP_CASES = STEP_CASES[:1]
    TRIAD_ELEMENTS, TRIAD_ROUNDS = 1 << 16, 3
    ROUND_BUDGET = 0.05
