"""NumPy twins of kernels/activation.py (the book's Relu and Sigmoid)."""
import numpy as np

from ..constants import RELU, SIGMOID

__all__ = ["act_forward", "act_backward"]


def act_forward(x, act, out):
    """out = act(x)."""
    h = x.copy()
    if act == RELU:
        h[h <= 0] = 0
    elif act == SIGMOID:
        h = 1 / (1 + np.exp(-h))
    out[...] = h


def act_backward(dout, y, act, dx):
    """dx = dout * act'(y) where y is the activation's output."""
    g = dout.copy()
    if act == RELU:
        g[y <= 0] = 0
    elif act == SIGMOID:
        g = g * (1 - y) * y
    dx[...] = g
