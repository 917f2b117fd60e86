"""The one Numba policy every fastscratch kernel is compiled with.

``@kernel`` compiles a function twice from the same source: a serial twin (``prange`` acts as
``range``) and a parallel twin.  Calls go to the parallel twin only when the first argument has at
least ``parallel_min`` elements: below that, thread start-up costs more than it saves.

Kernels release the GIL (``nogil``) and keep no global state, so several Python threads may run
them at once. Numba's 'tbb' and 'omp' threading layers accept concurrent parallel launches; its
'workqueue' layer (the fallback where neither library loads) aborts the process on them. So
parallel-twin launches hold a lock until the first launch has shown the layer in use, and keep
holding it only if that layer is 'workqueue' (serial twins never need it).
"""
import threading
import types

import numba

from . import settings, threads

# error_model="numpy": division by zero gives inf/nan as NumPy does (and lets loops vectorize).
# No fastmath: NaN and Inf must propagate exactly as in the NumPy reference.
POLICY = dict(cache=True, nogil=True, error_model="numpy")
# The one exception, for the multiply-add loops of ``sums`` helpers: fastmath's 'contract'
# (a * b + c as one FMA instruction, rounded once) and 'reassoc' (sums may be reordered, which
# lets LLVM vectorize a reduction); none of the flags that assume away NaN, Inf or signed zeros,
# so those propagate as in any order of the sum.
SUMS_POLICY = dict(POLICY, fastmath={"contract", "reassoc"})

# Elements below which the serial twin wins (settings.DEFAULT_PARALLEL_MIN). On a machine whose
# cores are busy with other work a parallel launch can wait milliseconds for a thread, so
# FASTSCRATCH_PARALLEL_MIN raises the threshold (a huge value keeps every kernel serial).
PARALLEL_MIN = settings.parallel_min()
# The same for kernels around a matrix product, counted in multiply-adds (m * n * k): BLAS does
# ~30 of them in the time an elementwise kernel touches one element.
PRODUCT_PARALLEL_MIN = 32 * PARALLEL_MIN


def inline(fn):
    """A helper for kernels, inlined into each kernel that calls it (not called from Python)."""
    return numba.njit(inline="always", **POLICY)(fn)


def sums(fn):
    """A helper for kernels made of multiply-add loops, compiled apart under SUMS_POLICY and
    called (not inlined) from kernels. Its results differ from the sequential order's by
    rounding, in an order fixed by the host's vector width and the arrays' lengths: the same on
    every call and at every thread count."""
    return numba.njit(**SUMS_POLICY)(fn)


def _renamed(fn, suffix):
    """A copy of ``fn`` with its own qualname, so the two twins get separate cache files."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return twin


_launch_lock = threading.Lock()
_serialize = True  # until the threading layer is known


def _launch(par, args):
    """par(*args), one launch at a time while the threading layer may be 'workqueue'."""
    global _serialize
    if not _serialize:
        return par(*args)
    with _launch_lock:
        result = par(*args)
        _serialize = numba.threading_layer() == "workqueue"
    return result


def kernel(fn=None, *, parallel=True, parallel_min=PARALLEL_MIN, work=None):
    """Compile ``fn`` under POLICY; with ``parallel`` also a parallel twin, called when
    ``work(*args)`` (None: the first argument's size, read without a call: at more than one
    thread every dispatch pays for it) reaches ``parallel_min`` and Numba has more than one
    thread. The first call of such a kernel configures the threads."""
    if fn is None:
        return lambda f: kernel(f, parallel=parallel, parallel_min=parallel_min, work=work)
    serial = numba.njit(**POLICY)(fn)
    if not parallel:
        serial.serial = serial.parallel = serial
        return serial
    par = numba.njit(parallel=True, **POLICY)(_renamed(fn, "__parallel"))

    def dispatch(*args):
        if (threads.threads_in_use or threads.configure()) > 1 and \
                (args[0].size if work is None else work(*args)) >= parallel_min:
            return _launch(par, args)
        return serial(*args)

    dispatch.__name__ = fn.__name__
    dispatch.__qualname__ = fn.__qualname__
    dispatch.__doc__ = fn.__doc__
    dispatch.__module__ = fn.__module__
    dispatch.serial = serial
    dispatch.parallel = par
    return dispatch
