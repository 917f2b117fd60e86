"""Central-difference numerical gradients (common/gradient.py)."""
import numpy as np

from .constants import NUMERICAL_GRADIENT_H


def numerical_gradient_2d(f, X):
    """Row by row numerical gradient of f, as the book's chapter-4 helper."""
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for idx, x in enumerate(X):
        grad[idx] = numerical_gradient(f, x)
    return grad


def numerical_gradient(f, x, h=NUMERICAL_GRADIENT_H):
    """d f(x) / dx by central differences, perturbing each element of x in place and restoring it."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad


_numerical_gradient_1d = numerical_gradient
