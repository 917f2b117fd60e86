"""In-place optimizer updates (the book's formulas), one pass per parameter array.

All arrays are flat (K,) views of C-contiguous parameters; scalars arrive already in the
parameters' dtype, so float32 parameters are updated in float32 arithmetic as NumPy would.
"""
import numpy as np
from numba import prange

from .._jit import kernel

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@kernel
def sgd(p, g, lr):
    """p -= lr * g."""
    for i in prange(p.size):
        p[i] -= lr * g[i]


@kernel
def momentum(p, g, v, lr, mom):
    """v = mom * v - lr * g; p += v."""
    for i in prange(p.size):
        vi = mom * v[i] - lr * g[i]
        v[i] = vi
        p[i] += vi


@kernel
def nesterov(p, g, v, lr, mom):
    """The book's Nesterov, params first with the old v: p += mom * mom * v;
    p -= (1 + mom) * lr * g; then v = mom * v - lr * g."""
    one = p.dtype.type(1.0)
    for i in prange(p.size):
        gi = g[i]
        vi = v[i]
        pi = p[i] + mom * mom * vi
        p[i] = pi - (one + mom) * lr * gi
        vi *= mom
        v[i] = vi - lr * gi


@kernel
def adagrad(p, g, h, lr, eps):
    """h += g * g; p -= lr * g / (sqrt(h) + eps)."""
    for i in prange(p.size):
        hi = h[i] + g[i] * g[i]
        h[i] = hi
        p[i] -= lr * g[i] / (np.sqrt(hi) + eps)


@kernel
def rmsprop(p, g, h, lr, decay, eps):
    """h = decay * h + (1 - decay) * g * g; p -= lr * g / (sqrt(h) + eps)."""
    one = p.dtype.type(1.0)
    for i in prange(p.size):
        hi = h[i] * decay
        hi += (one - decay) * g[i] * g[i]
        h[i] = hi
        p[i] -= lr * g[i] / (np.sqrt(hi) + eps)


@kernel
def adam(p, g, m, v, lr_t, beta1, beta2, eps):
    """m += (1 - beta1)(g - m); v += (1 - beta2)(g^2 - v); p -= lr_t * m / (sqrt(v) + eps)."""
    one = p.dtype.type(1.0)
    for i in prange(p.size):
        gi = g[i]
        mi = m[i] + (one - beta1) * (gi - m[i])
        vi = v[i] + (one - beta2) * (gi * gi - v[i])
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (np.sqrt(vi) + eps)
