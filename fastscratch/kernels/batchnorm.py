"""Batch normalisation over the batch axis of (N, D) input, optionally fused with an activation."""
import numpy as np
from numba import prange

from .._codes import NONE, RELU, SIGMOID
from .._jit import kernel

__all__ = ["bn_forward_train", "bn_forward_eval", "bn_backward"]

EPS = 10e-7  # the book's sqrt(var + 10e-7)
_COLS = 64


@kernel
def bn_forward_train(x, gamma, beta, momentum, running_mean, running_var, act, xn, std, out):
    """Normalise x (N, D) with its batch statistics: xn = (x - mean) / std, out = act(gamma*xn +
    beta); std (D,) is written, running_mean/var (D,) are updated in place."""
    n, d = x.shape
    zero = out.dtype.type(0.0)
    one = out.dtype.type(1.0)
    keep = running_mean.dtype.type(momentum)
    take = running_mean.dtype.type(1.0 - momentum)
    for c in prange((d + _COLS - 1) // _COLS):
        j0 = c * _COLS
        j1 = min(d, j0 + _COLS)
        mu = np.zeros(j1 - j0, x.dtype)
        var = np.zeros(j1 - j0, x.dtype)
        for i in range(n):
            for j in range(j0, j1):
                mu[j - j0] += x[i, j]
        for j in range(j0, j1):
            mu[j - j0] = mu[j - j0] / n
        for i in range(n):
            for j in range(j0, j1):
                v = x[i, j] - mu[j - j0]
                var[j - j0] += v * v
        for j in range(j0, j1):
            var[j - j0] = var[j - j0] / n
            std[j] = np.sqrt(var[j - j0] + EPS)
            running_mean[j] = keep * running_mean[j] + take * mu[j - j0]
            running_var[j] = keep * running_var[j] + take * var[j - j0]
        for i in range(n):
            for j in range(j0, j1):
                h = (x[i, j] - mu[j - j0]) / std[j]
                xn[i, j] = h
                v = gamma[j] * h + beta[j]
                if act == RELU:
                    if v <= zero:
                        v = zero
                elif act == SIGMOID:
                    v = one / (one + np.exp(-v))
                out[i, j] = v


@kernel
def bn_forward_eval(x, gamma, beta, running_mean, running_var, act, out):
    """out = act(gamma * (x - running_mean) / sqrt(running_var + 10e-7) + beta); x, out (N, D)."""
    n, d = x.shape
    zero = out.dtype.type(0.0)
    one = out.dtype.type(1.0)
    for i in prange(n):
        for j in range(d):
            h = (x[i, j] - running_mean[j]) / np.sqrt(running_var[j] + EPS)
            v = gamma[j] * h + beta[j]
            if act == RELU:
                if v <= zero:
                    v = zero
            elif act == SIGMOID:
                v = one / (one + np.exp(-v))
            out[i, j] = v


@kernel
def bn_backward(dout, y, act, xn, std, gamma, dx, dgamma, dbeta):
    """Backward of bn_forward_train: g = dout * act'(y), dbeta = sum(g), dgamma = sum(g * xn),
    dx = gamma / std * (g - (dbeta + xn * dgamma) / N); all sums over the batch axis."""
    n, d = dout.shape
    zero = dx.dtype.type(0.0)
    one = dx.dtype.type(1.0)
    for c in prange((d + _COLS - 1) // _COLS):
        j0 = c * _COLS
        j1 = min(d, j0 + _COLS)
        for j in range(j0, j1):
            dbeta[j] = zero
            dgamma[j] = zero
        for i in range(n):
            for j in range(j0, j1):
                g = dout[i, j]
                if act == RELU:
                    if y[i, j] <= zero:
                        g = zero
                elif act == SIGMOID:
                    g = g * (one - y[i, j]) * y[i, j]
                dbeta[j] += g
                dgamma[j] += g * xn[i, j]
        for i in range(n):
            for j in range(j0, j1):
                g = dout[i, j]
                if act == RELU:
                    if y[i, j] <= zero:
                        g = zero
                elif act == SIGMOID:
                    g = g * (one - y[i, j]) * y[i, j]
                dx[i, j] = gamma[j] / std[j] * (g - (dbeta[j] + xn[i, j] * dgamma[j]) / n)
