"""Stand-alone activations on flat arrays (the networks fuse them into affine/batch-norm instead)."""
from numba import prange

from .._jit import kernel
from ._common import activate, activate_grad

__all__ = ["act_forward", "act_backward"]


@kernel
def act_forward(x, act, out):
    """out = act(x); x, out flat (K,); act is RELU or SIGMOID."""
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    for i in prange(x.size):
        out[i] = activate(x[i], act, zero, one)


@kernel
def act_backward(dout, y, act, dx):
    """dx = dout * act'(y) where y is the activation's output; all flat (K,)."""
    zero, one = dx.dtype.type(0.0), dx.dtype.type(1.0)
    for i in prange(dout.size):
        dx[i] = activate_grad(dout[i], y[i], act, zero, one)
