"""Fused epilogue and prologue of a matrix product: bias + activation forward, masked backward."""
import numpy as np
from numba import prange

from .._jit import kernel
from ._common import activate, activate_grad, add_blocks, block_rows, row_blocks

__all__ = ["bias_act", "act_backward_colsum"]


@kernel
def bias_act(z, b, act, out):
    """out = act(z + b); z, out (N, M), b (M,); act is NONE, RELU or SIGMOID; out may be z."""
    n, m = z.shape
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    for i in prange(n):
        for j in range(m):
            out[i, j] = activate(z[i, j] + b[j], act, zero, one)


@kernel
def act_backward_colsum(dout, y, act, dz, db):
    """dz = dout * act'(y) and db = dz.sum(axis=0); y is the activation's output (N, M)."""
    n, m = dout.shape
    zero, one = dz.dtype.type(0.0), dz.dtype.type(1.0)
    nb = row_blocks(n)
    part = np.zeros((nb, m), dz.dtype)
    for b in prange(nb):
        for i in block_rows(b, nb, n):
            for j in range(m):
                g = activate_grad(dout[i, j], y[i, j], act, zero, one)
                dz[i, j] = g
                part[b, j] += g
    add_blocks(part, db, one)
