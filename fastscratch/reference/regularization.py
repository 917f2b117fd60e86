"""NumPy twins of kernels/regularization.py."""
import numpy as np

__all__ = ["weight_decay_grad", "sum_squares"]


def weight_decay_grad(dw, lam, w, out):
    """out = dw + lam * w."""
    out[...] = dw + lam * w


def sum_squares(w):
    """Returns sum(w ** 2): squares in w's dtype, added in float64."""
    return float(np.sum(np.square(w), dtype=np.float64))
