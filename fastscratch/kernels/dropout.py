"""Dropout: keep where the uniform draw exceeds the ratio (the book's rule), mask the gradient."""
from numba import prange

from .._jit import kernel

__all__ = ["dropout_forward", "dropout_backward"]


@kernel
def dropout_forward(x, u, ratio, mask, out):
    """mask = u > ratio and out = x * mask; x, u, mask (bool), out all flat (K,)."""
    for i in prange(x.size):
        keep = u[i] > ratio
        mask[i] = keep
        out[i] = x[i] * keep


@kernel
def dropout_backward(dout, mask, dx):
    """dx = dout * mask; flat (K,)."""
    for i in prange(dout.size):
        dx[i] = dout[i] * mask[i]
