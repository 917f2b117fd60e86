"""NumPy twins of kernels/checks.py."""
import numpy as np

__all__ = ["all_finite", "cast_all_finite", "value_range"]


def all_finite(x):
    """True when x holds no NaN or +-Inf."""
    return bool(np.isfinite(x).all())


def cast_all_finite(x, out):
    """out = x in out's dtype, and True when x holds no NaN or +-Inf."""
    out[...] = x
    return all_finite(x)


def value_range(a):
    """(min, max) of a, flat (K,) with K >= 1."""
    return a.min(), a.max()
