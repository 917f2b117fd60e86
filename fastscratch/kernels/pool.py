"""Max pooling over pool_h x pool_w windows, in parallel over the images; the window index of
each maximum is kept in the book's layout for the backward pass. The nets' 2x2 windows without
padding take an unrolled path (3x faster than the general loops over the window)."""
from numba import prange

from .._jit import inline, kernel

__all__ = ["pool_forward", "pool_backward"]


@inline
def max2x2(img, stride, out, arg_max, keep, first, step):
    """out = the maxima of img's 2x2 windows (no padding) and, if keep, arg_max[first + step * i]
    = the window index of output pixel i's first maximum; img (H, W), out (OH, OW)."""
    oh_, ow_ = out.shape
    for oh in range(oh_):
        y0 = oh * stride
        for ow in range(ow_):
            x0 = ow * stride
            best, arg = img[y0, x0], 0
            v = img[y0, x0 + 1]
            if v > best:
                best, arg = v, 1
            v = img[y0 + 1, x0]
            if v > best:
                best, arg = v, 2
            v = img[y0 + 1, x0 + 1]
            if v > best:
                best, arg = v, 3
            out[oh, ow] = best
            if keep:
                arg_max[first + step * (oh * ow_ + ow)] = arg


@kernel
def pool_forward(x, pool_h, pool_w, stride, pad, out, arg_max):
    """out = the maximum of each pool_h x pool_w window (padding counts as zeros, as in the
    book); arg_max = the index of its first maximum within the window, in the book's (N, OH, OW,
    C) order; x (N, C, H, W), out (N, C, OH, OW), arg_max (N*OH*OW*C,) integers, or empty to
    keep none (inference)."""
    n_, c_, h, w = x.shape
    oh_, ow_ = out.shape[2], out.shape[3]
    keep = arg_max.size > 0
    zero = out.dtype.type(0.0)
    for n in prange(n_):
        for c in range(c_):
            if pool_h == 2 and pool_w == 2 and pad == 0:
                max2x2(x[n, c], stride, out[n, c], arg_max, keep, n * oh_ * ow_ * c_ + c, c_)
                continue
            for oh in range(oh_):
                y0 = oh * stride - pad
                rows_inside = y0 >= 0 and y0 + pool_h <= h
                for ow in range(ow_):
                    x0 = ow * stride - pad
                    best = zero
                    arg = 0
                    if rows_inside and x0 >= 0 and x0 + pool_w <= w:
                        best = x[n, c, y0, x0]
                        for i in range(pool_h):
                            for j in range(pool_w):
                                v = x[n, c, y0 + i, x0 + j]
                                if v > best:
                                    best, arg = v, i * pool_w + j
                    else:
                        for i in range(pool_h):
                            for j in range(pool_w):
                                iy, ix = y0 + i, x0 + j
                                v = x[n, c, iy, ix] if 0 <= iy < h and 0 <= ix < w else zero
                                if (i == 0 and j == 0) or v > best:
                                    best, arg = v, i * pool_w + j
                    out[n, c, oh, ow] = best
                    if keep:
                        arg_max[((n * oh_ + oh) * ow_ + ow) * c_ + c] = arg


@kernel
def pool_backward(dout, arg_max, pool_h, pool_w, stride, pad, dx):
    """dx = each dout routed to its window's maximum (summed where windows overlap);
    dout (N, C, OH, OW), arg_max as pool_forward writes it, dx (N, C, H, W)."""
    n_, c_, oh_, ow_ = dout.shape
    h, w = dx.shape[2], dx.shape[3]
    for n in prange(n_):
        dx[n] = 0
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    k = arg_max[((n * oh_ + oh) * ow_ + ow) * c_ + c]
                    ki, kj = (k >> 1, k & 1) if pool_w == 2 else (k // pool_w, k % pool_w)
                    iy = oh * stride - pad + ki
                    ix = ow * stride - pad + kj
                    if 0 <= iy < h and 0 <= ix < w:
                        dx[n, c, iy, ix] += dout[n, c, oh, ow]
