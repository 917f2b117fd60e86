"""Softmax + cross-entropy (the book's SoftmaxWithLoss) forward and backward, one pass per row."""
import numpy as np

from ..constants import CROSS_ENTROPY_EPS
from .._jit import kernel

__all__ = ["softmax_ce_forward", "softmax_ce_backward",
           "softmax_ce_forward_dense", "softmax_ce_backward_dense"]


@kernel(parallel=False)
def _softmax_rows(x, y):
    """y = softmax(x) row by row, shifted by the row maximum; x, y (N, C)."""
    n, c = x.shape
    for i in range(n):
        mx = x[i, 0]
        for j in range(1, c):
            if x[i, j] > mx:
                mx = x[i, j]
        s = y.dtype.type(0.0)
        for j in range(c):
            e = np.exp(x[i, j] - mx)
            y[i, j] = e
            s += e
        for j in range(c):
            y[i, j] = y[i, j] / s


@kernel(parallel=False)
def softmax_ce_forward(x, t, y):
    """y = softmax(x); returns the mean of -log(y[i, t[i]] + CROSS_ENTROPY_EPS); x, y (N, C),
    t (N,) ints."""
    _softmax_rows(x, y)
    eps = y.dtype.type(CROSS_ENTROPY_EPS)
    loss = 0.0
    for i in range(x.shape[0]):
        loss += np.log(y[i, t[i]] + eps)  # float64: the accumulator of a scalar sum
    return -loss / x.shape[0]  # float64: the loss is a Python float


@kernel(parallel=False)
def softmax_ce_forward_dense(x, t, y):
    """As softmax_ce_forward with one-hot t (N, C): the label is t's row argmax (the book's rule)."""
    _softmax_rows(x, y)
    n, c = t.shape
    eps = y.dtype.type(CROSS_ENTROPY_EPS)
    loss = 0.0
    for i in range(n):
        k = 0
        for j in range(1, c):
            if t[i, j] > t[i, k]:
                k = j
        loss += np.log(y[i, k] + eps)  # float64: the accumulator of a scalar sum
    return -loss / n  # float64: the loss is a Python float


@kernel(parallel=False)
def softmax_ce_backward(y, t, dout, dx):
    """dx = (y - onehot(t)) / N * dout; y, dx (N, C), t (N,) ints."""
    n, c = y.shape
    one, nf = dx.dtype.type(1.0), dx.dtype.type(n)
    for i in range(n):
        for j in range(c):
            v = y[i, j]
            if j == t[i]:
                v = v - one
            dx[i, j] = v / nf * dout


@kernel(parallel=False)
def softmax_ce_backward_dense(y, t, dout, dx):
    """dx = (y - t) / N * dout; y, t, dx (N, C)."""
    n, c = y.shape
    nf = dx.dtype.type(n)
    for i in range(n):
        for j in range(c):
            dx[i, j] = (y[i, j] - t[i, j]) / nf * dout
