"""NumPy twins of kernels/softmax_ce.py (the book's softmax and cross_entropy_error)."""
import numpy as np

from ..constants import CROSS_ENTROPY_EPS

__all__ = ["softmax_ce_forward", "softmax_ce_backward",
           "softmax_ce_forward_dense", "softmax_ce_backward_dense"]


def _softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def softmax_ce_forward(x, t, y):
    """y = softmax(x); returns the mean of -log(y[i, t[i]] + CROSS_ENTROPY_EPS), the logs in
    y's dtype, their sum in float64."""
    y[...] = _softmax(x)
    n = x.shape[0]
    return float(-np.sum(np.log(y[np.arange(n), t] + CROSS_ENTROPY_EPS), dtype=np.float64) / n)


def softmax_ce_forward_dense(x, t, y):
    """As softmax_ce_forward with one-hot t: the label is t's row argmax."""
    return softmax_ce_forward(x, t.argmax(axis=1), y)


def softmax_ce_backward(y, t, dout, dx):
    """dx = (y - onehot(t)) / N * dout."""
    n = y.shape[0]
    g = y.copy()
    g[np.arange(n), t] -= 1
    dx[...] = g / n * dout


def softmax_ce_backward_dense(y, t, dout, dx):
    """dx = (y - t) / N * dout."""
    dx[...] = (y - t) / y.shape[0] * dout
