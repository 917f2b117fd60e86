"""Max pooling over pool_h x pool_w windows, in parallel over the images; the window index of
each maximum is kept in the book's layout for the backward pass. The nets' 2x2 windows without
padding take an unrolled path (3x faster than the general loops over the window)."""
import numpy as np
from numba import prange

from .._jit import inline, kernel
from ._common import activate_grad

__all__ = ["pool_forward", "pool_backward"]


@inline
def max2x2_rows(y, ys, out, codes):
    """out[c, i, j] = the maximum of the 2x2 window at rows 2i, 2i + 1 and columns 2j, 2j + 1
    of y (C, L) (row r at r * ys), and codes[c, i, j] = the window index 0..3 of its first
    maximum (row-major, the book's arg_max); out (C, OH, OW), codes (C, OH, OW) uint8.
    Branch-free selects on row slices (indices known to be >= 0), so the loop over j
    vectorizes."""
    c_, oh_, ow_ = out.shape
    for c in range(c_):
        for i in range(oh_):
            r0 = 2 * i * ys
            upper, lower = y[c, r0:r0 + 2 * ow_], y[c, r0 + ys:r0 + ys + 2 * ow_]
            out_i, codes_i = out[c, i], codes[c, i]
            for j in range(ow_):
                a, b = upper[2 * j], upper[2 * j + 1]
                d, e = lower[2 * j], lower[2 * j + 1]
                right_top, right_bottom = b > a, e > d
                top = b if right_top else a
                bottom = e if right_bottom else d
                low = bottom > top
                out_i[j] = bottom if low else top
                codes_i[j] = np.uint8(2 + right_bottom) if low else np.uint8(right_top)


@inline
def scatter2x2_rows(dout, y, codes, act, zero, one, g, gs):
    """The adjoint of max2x2_rows through act: g's window entry codes[c, i, j] = dout[c, i, j]
    * act'(given its output y[c, i, j]), its 3 other entries 0; dout, y, codes (C, OH, OW),
    g (C, L) (row r at r * gs). Entries outside every window are left as they are. Each pair
    of rows is cleared first, then one store per window (4x faster than selecting each of the
    window's 4 entries)."""
    c_, oh_, ow_ = dout.shape
    for c in range(c_):
        for i in range(oh_):
            r0 = 2 * i * gs
            for q in range(2 * ow_):
                g[c, r0 + q] = zero
                g[c, r0 + gs + q] = zero
            for j in range(ow_):
                k = codes[c, i, j]
                g[c, r0 + (k >> 1) * gs + 2 * j + (k & 1)] = activate_grad(
                    dout[c, i, j], y[c, i, j], act, zero, one)


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
