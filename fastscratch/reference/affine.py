"""NumPy twins of kernels/affine.py."""
import numpy as np

from .activation import act_backward, act_forward

__all__ = ["bias_act", "act_backward_colsum"]


def bias_act(z, b, act, out):
    """out = act(z + b); z, out (N, M), b (M,)."""
    act_forward(z + b, act, out)


def act_backward_colsum(dout, y, act, dz, db):
    """dz = dout * act'(y) and db = dz.sum(axis=0)."""
    act_backward(dout, y, act, dz)
    db[...] = np.sum(dz, axis=0)
