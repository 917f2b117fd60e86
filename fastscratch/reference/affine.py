"""NumPy twins of kernels/affine.py."""
import numpy as np

from ..constants import NONE
from .activation import act_backward, act_forward

__all__ = ["affine_forward", "affine_backward"]


def affine_forward(x, W, b, act, out):
    """out = act(x @ W + b); x (N, D), W (D, M), b (M,), out (N, M)."""
    act_forward(np.dot(x, W) + b, act, out)


def affine_backward(dout, y, act, x, W, dz, db, dW, dx):
    """dz = dout * act'(y), db = dz.sum(axis=0), dW = x.T @ dz, dx = dz @ W.T unless dx is None;
    with act NONE dz is not written and dout is used in its place."""
    if act == NONE:
        dz = dout
    else:
        act_backward(dout, y, act, dz)
    db[...] = np.sum(dz, axis=0)
    dW[...] = np.dot(x.T, dz)
    if dx is not None:
        dx[...] = np.dot(dz, W.T)
