"""Fused epilogue and prologue of a matrix product: bias + activation forward, masked backward."""
import numpy as np
from numba import prange

from .._codes import NONE, RELU, SIGMOID
from .._jit import kernel

__all__ = ["bias_act", "act_backward_colsum"]

_COLS = 64  # columns per parallel chunk in column reductions: each thread owns whole columns


@kernel
def bias_act(z, b, act, out):
    """out = act(z + b); z, out (N, M), b (M,); act is NONE, RELU or SIGMOID; out may be z."""
    n, m = z.shape
    zero = out.dtype.type(0.0)
    one = out.dtype.type(1.0)
    for i in prange(n):
        for j in range(m):
            v = z[i, j] + b[j]
            if act == RELU:
                if v <= zero:  # NaN stays NaN, as in the book's Relu
                    v = zero
            elif act == SIGMOID:
                v = one / (one + np.exp(-v))
            out[i, j] = v


@kernel
def act_backward_colsum(dout, y, act, dz, db):
    """dz = dout * act'(y) and db = dz.sum(axis=0); y is the activation's output (N, M).

    dz may be dout (then for act NONE this is just the column sum). Columns are split among
    threads, so the sums are the same for every thread count.
    """
    n, m = dout.shape
    zero = dz.dtype.type(0.0)
    one = dz.dtype.type(1.0)
    for c in prange((m + _COLS - 1) // _COLS):
        j0 = c * _COLS
        j1 = min(m, j0 + _COLS)
        for j in range(j0, j1):
            db[j] = zero
        for i in range(n):
            for j in range(j0, j1):
                g = dout[i, j]
                if act == RELU:
                    if y[i, j] <= zero:
                        g = zero
                elif act == SIGMOID:
                    g = g * (one - y[i, j]) * y[i, j]
                dz[i, j] = g
                db[j] += g
