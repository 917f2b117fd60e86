"""One thread design: Numba's pool runs every kernel, matrix products included, on the cores.

The kernels call SciPy's BLAS one tile per thread (``kernels.gemm``), so that BLAS is pinned to
one thread; NumPy's BLAS (the reference backend, the user's own products) gets the same count
as Numba. The two pools never run at once inside a step, and neither gets more threads than the
process may use. docs/threads.md gives the reasons and the numbers.

By default fastscratch uses every usable core: the CPUs this process may run on (affinity),
capped by the cgroup CPU quota of a container. ``FASTSCRATCH_NUM_THREADS`` sets another default.
"""
import math
import os
import warnings
from pathlib import Path

import numba
import numpy as np  # noqa: F401  (its BLAS must be loaded before the controller looks)
import scipy
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS the kernels call)
from threadpoolctl import ThreadpoolController

from . import _jit, validation


def _cgroup_quota(root=Path("/sys/fs/cgroup")):
    """CPUs allowed by the cgroup quota (v2 cpu.max or v1 cfs), or None without a quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cores():
    """Cores this process may use: its CPU affinity, capped by the cgroup CPU quota."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n or 1)


def _blas_pools():
    """(SciPy's BLAS libraries that the kernels call, the other BLAS libraries) as threadpoolctl
    controllers. Where SciPy and NumPy share one BLAS it is in the first group only."""
    scipy_root = Path(scipy.__file__).resolve().parent.parent
    kernel_libs, other_libs = [], []
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        path = Path(lib.filepath).resolve()
        inside = path.is_relative_to(scipy_root) and \
            path.relative_to(scipy_root).parts[0].startswith("scipy")
        (kernel_libs if inside else other_libs).append(lib)
    if not kernel_libs:  # a system BLAS shared by NumPy and SciPy: the kernels need it serial
        kernel_libs, other_libs = other_libs, []
    return kernel_libs, other_libs


_kernel_blas, _other_blas = _blas_pools()


def set_num_threads(n):
    """Use ``n`` threads in Numba's kernels and in NumPy's BLAS (the kernels' BLAS stays at one
    thread per tile). More than ``usable_cores()`` warns and is capped. Returns the count used."""
    n = validation.positive_int("n", n)
    usable = usable_cores()
    if n > usable:
        warnings.warn(f"set_num_threads({n}): this process may use {usable} cores (CPU affinity "
                      f"and cgroup quota); using {usable} threads, since more threads than "
                      "cores make every product many times slower", RuntimeWarning, stacklevel=2)
        n = usable
    n = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    _jit.threads_in_use = n
    for lib in _kernel_blas:
        lib.set_num_threads(1)
    for lib in _other_blas:
        lib.set_num_threads(n)
    return n


def get_num_threads():
    """The number of threads fastscratch's kernels use now."""
    return _jit.threads_in_use


def default_num_threads():
    """FASTSCRATCH_NUM_THREADS if set (a positive int), else every usable core."""
    text = os.environ.get("FASTSCRATCH_NUM_THREADS")
    if text is None:
        return usable_cores()
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"FASTSCRATCH_NUM_THREADS must be a positive int, got {text!r}")
    return int(text)


set_num_threads(min(default_num_threads(), usable_cores()))
