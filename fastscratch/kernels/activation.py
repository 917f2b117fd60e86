"""Stand-alone activations on flat arrays (the networks fuse them into affine/batch-norm instead)."""
import numpy as np
from numba import prange

from .._codes import RELU, SIGMOID
from .._jit import kernel

__all__ = ["act_forward", "act_backward"]


@kernel
def act_forward(x, act, out):
    """out = act(x); x, out flat (K,); act is RELU or SIGMOID."""
    zero = out.dtype.type(0.0)
    one = out.dtype.type(1.0)
    for i in prange(x.size):
        v = x[i]
        if act == RELU:
            if v <= zero:
                v = zero
        elif act == SIGMOID:
            v = one / (one + np.exp(-v))
        out[i] = v


@kernel
def act_backward(dout, y, act, dx):
    """dx = dout * act'(y) where y is the activation's output; all flat (K,)."""
    zero = dx.dtype.type(0.0)
    one = dx.dtype.type(1.0)
    for i in prange(dout.size):
        g = dout[i]
        if act == RELU:
            if y[i] <= zero:
                g = zero
        elif act == SIGMOID:
            g = g * (one - y[i]) * y[i]
        dx[i] = g
