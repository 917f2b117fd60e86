"""One thread count for both Numba's kernels and the BLAS behind the matrix products."""
import numba
from threadpoolctl import threadpool_limits

from . import validation

_blas_limit = None


def set_num_threads(n):
    """Use ``n`` threads in Numba's parallel kernels and in every loaded BLAS (NumPy's, SciPy's).

    Numba and BLAS never run at the same time within a step, so sharing the cores is safe.
    """
    global _blas_limit
    n = validation.positive_int("n", n)
    n_numba = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n_numba)
    _blas_limit = threadpool_limits(limits=n, user_api="blas")
    return n_numba


def get_num_threads():
    """The number of threads Numba's parallel kernels use now."""
    return numba.get_num_threads()
