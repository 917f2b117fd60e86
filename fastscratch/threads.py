"""One thread design: Numba's pool runs every kernel, matrix products included, on the cores.

The kernels call SciPy's BLAS one tile per thread (``kernels.gemm``), so that BLAS is pinned to
one thread. The two pools never run at once inside a step, and neither gets more threads than the
process may use. docs/threads.md gives the reasons and the numbers.

Nothing happens at import. The first kernel call (``configure``) gives Numba's pool the default
count, every usable core (the CPUs this process may run on, capped by the cgroup CPU quota of a
container; ``FASTSCRATCH_NUM_THREADS`` sets another default), with the OpenMP wait policy of
``settings.openmp_load``, and pins SciPy's BLAS to one thread; NumPy's BLAS keeps its own count.
``set_num_threads(n)`` also gives NumPy's BLAS (the reference backend's products) ``n`` threads.
"""
import math
import os
import threading
import warnings
from pathlib import Path

import numba

from . import settings, validation


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


def _controller():
    """threadpoolctl's controller of the loaded libraries. Importing threadpoolctl sets
    KMP_DUPLICATE_LIB_OK in os.environ; fastscratch takes that back, since it changes nothing
    there, and sets it only while Numba loads its OpenMP runtime (settings.openmp_load)."""
    added = "KMP_DUPLICATE_LIB_OK" not in os.environ
    from threadpoolctl import ThreadpoolController
    if added:
        os.environ.pop("KMP_DUPLICATE_LIB_OK", None)
    return ThreadpoolController()


def _blas_pools():
    """(SciPy's BLAS libraries that the kernels call, the other BLAS libraries) as threadpoolctl
    controllers. Where SciPy and NumPy share one BLAS it is in the first group only."""
    from .kernels import _scipy_blas
    _scipy_blas.load()  # its BLAS must be loaded before the controller looks
    scipy_root = _scipy_blas.scipy_root()
    kernel_libs, other_libs = [], []
    for lib in _controller().select(user_api="blas").lib_controllers:
        path = Path(lib.filepath).resolve()
        inside = path.is_relative_to(scipy_root) and \
            path.relative_to(scipy_root).parts[0].startswith("scipy")
        (kernel_libs if inside else other_libs).append(lib)
    if not kernel_libs:  # a system BLAS shared by NumPy and SciPy: the kernels need it serial
        kernel_libs, other_libs = other_libs, []
    return kernel_libs, other_libs


_pools = None  # _blas_pools(), found on first use
_lock = threading.Lock()


def blas_pools():
    """_blas_pools(), computed once."""
    global _pools
    if _pools is None:
        _pools = _blas_pools()
    return _pools


# Numba's thread count as last set here (numba.get_num_threads() costs ~10 us; the kernels' dispatch
# in _jit reads this on every call); 0 until the first kernel call configures the threads.
threads_in_use = 0


def _use(n, numpy_blas):
    """Numba's pool at ``n`` threads (loading its threading layer under the wait policy the
    first time), the kernels' BLAS at 1, and NumPy's BLAS at ``n`` if ``numpy_blas``."""
    global threads_in_use
    kernel_blas, other_blas = blas_pools()
    n = min(n, numba.config.NUMBA_NUM_THREADS)
    with settings.openmp_load():
        numba.set_num_threads(n)
    for lib in kernel_blas:
        lib.set_num_threads(1)
    if numpy_blas:
        for lib in other_blas:
            lib.set_num_threads(n)
    threads_in_use = n
    return n


def configure():
    """On the first kernel call: the default thread count (``default_num_threads``, capped at the
    usable cores) for Numba's pool, SciPy's BLAS pinned to one thread, NumPy's BLAS untouched.
    Returns the count in use; a count already set (``set_num_threads``) is kept."""
    with _lock:
        if not threads_in_use:
            _use(min(default_num_threads(), usable_cores()), numpy_blas=False)
    return threads_in_use


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
    with _lock:
        return _use(n, numpy_blas=True)


def get_num_threads():
    """The number of threads fastscratch's kernels use (configuring them if not yet done)."""
    return threads_in_use or configure()


def default_num_threads():
    """FASTSCRATCH_NUM_THREADS if set (a positive int), else every usable core."""
    return settings.num_threads(usable_cores())
