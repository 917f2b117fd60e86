"""Input scans for the argument checks: all-finite test (alone or fused with a dtype cast) and
value range of a flat array."""
import numpy as np
from numba import prange

from .._jit import kernel
from ._common import row_blocks

__all__ = ["all_finite", "cast_all_finite", "value_range"]


@kernel
def all_finite(x):
    """True when x, flat (K,) float, holds no NaN or +-Inf; one vectorised pass per block."""
    n = x.size
    nb = row_blocks(n)
    bad = np.zeros(nb, np.bool_)
    for b in prange(nb):
        block = x[b * n // nb:(b + 1) * n // nb]  # a slice indexed from 0 vectorises
        found = False
        for i in range(block.size):
            v = block[i]
            found |= not (v - v == 0)  # v - v is 0 for finite v, NaN otherwise
        bad[b] = found
    return not bad.any()


@kernel
def cast_all_finite(x, out):
    """out = x in out's dtype, and True when x holds no NaN or +-Inf; x, out flat (K,)."""
    n = x.size
    nb = row_blocks(n)
    bad = np.zeros(nb, np.bool_)
    for b in prange(nb):
        block = x[b * n // nb:(b + 1) * n // nb]
        dest = out[b * n // nb:(b + 1) * n // nb]
        found = False
        for i in range(block.size):
            v = block[i]
            dest[i] = v
            found |= not (v - v == 0)
        bad[b] = found
    return not bad.any()


@kernel(parallel=False)
def value_range(a):
    """(min, max) of a, flat (K,) with K >= 1, ints or finite floats."""
    lo = hi = a[0]
    for i in range(1, a.size):
        v = a[i]
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return lo, hi
