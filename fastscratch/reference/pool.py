"""NumPy twins of kernels/pool.py: the book's im2col formulation of max pooling."""
import numpy as np

from ..util import col2im, im2col

__all__ = ["pool_forward", "pool_backward"]


def pool_forward(x, pool_h, pool_w, stride, pad, out, arg_max):
    """out = the maximum of each pool_h x pool_w window (padding counts as zeros, as in the
    book); arg_max = the index of its first maximum within the window, in the book's (N, OH, OW,
    C) order; x (N, C, H, W), out (N, C, OH, OW), arg_max (N*OH*OW*C,) integers, or empty to
    keep none (inference)."""
    n, c = x.shape[:2]
    oh, ow = out.shape[2:]
    windows = im2col(x, pool_h, pool_w, stride, pad).reshape(-1, pool_h * pool_w)
    if arg_max.size:
        arg_max[...] = np.argmax(windows, axis=1)
    out[...] = np.max(windows, axis=1).reshape(n, oh, ow, c).transpose(0, 3, 1, 2)


def pool_backward(dout, arg_max, pool_h, pool_w, stride, pad, dx):
    """dx = each dout routed to its window's maximum (summed where windows overlap);
    dout (N, C, OH, OW), arg_max as pool_forward writes it, dx (N, C, H, W)."""
    dout = dout.transpose(0, 2, 3, 1)
    dmax = np.zeros((dout.size, pool_h * pool_w), dtype=dx.dtype)
    dmax[np.arange(arg_max.size), arg_max] = dout.reshape(-1)
    dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
    dx[...] = col2im(dcol, dx.shape, pool_h, pool_w, stride, pad)
