"""Weight decay (the book's L2 regularisation): its loss term and its gradient term."""
from numba import prange

from .._jit import kernel

__all__ = ["weight_decay_grad", "sum_squares"]


@kernel
def weight_decay_grad(dw, lam, w, out):
    """out = dw + lam * w (the L2 term of the gradient); dw, w, out flat (K,), out may be dw."""
    for i in prange(dw.size):
        out[i] = dw[i] + lam * w[i]


@kernel(parallel=False)
def sum_squares(w):
    """Returns sum(w ** 2) of flat w (K,): squares in w's dtype, added in float64."""
    s = 0.0
    for i in range(w.size):
        s += w[i] * w[i]  # float64: the accumulator of a scalar sum
    return s
