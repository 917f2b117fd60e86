"""Convolution: per image, im2col into a (C*FH*FW, OH*OW) patch matrix, one BLAS product with
the filters, and bias + activation fused around it while the image is in cache.

The kernels run in parallel over the images; each product is a single-threaded BLAS call inside
the parallel loop. The weight and bias gradients sum over fixed blocks of images, added in
order, so they do not depend on the thread count.
"""
import numpy as np
from numba import prange

from .._jit import PARALLEL_MIN, inline, kernel
from ._common import activate, activate_grad, add_blocks, block_rows, image_blocks

__all__ = ["conv_forward", "conv_backward"]

# A convolution does FN*FH*FW multiply-adds per input element, so the parallel twin pays off
# at far fewer input elements than an elementwise kernel: a few MNIST images already.
CONV_PARALLEL_MIN = max(PARALLEL_MIN // 64, 1)


@inline
def valid_range(n_out, size, offset, stride):
    """lo, hi such that 0 <= o * stride + offset < size exactly for lo <= o < hi (o < n_out)."""
    lo = max(0, -(offset // stride))
    hi = min(n_out, (size - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


@inline
def im2col_image(img, fh_, fw_, stride, pad, oh_, ow_, col):
    """col[(c, fh, fw), (oh, ow)] = img[c, oh*stride + fh - pad, ow*stride + fw - pad], zero
    outside the image; img (C, H, W), col (C*FH*FW, OH*OW)."""
    c_, h, w = img.shape
    zero = col.dtype.type(0.0)
    for c in range(c_):
        for fh in range(fh_):
            y_lo, y_hi = valid_range(oh_, h, fh - pad, stride)
            for fw in range(fw_):
                k = (c * fh_ + fh) * fw_ + fw
                x_lo, x_hi = valid_range(ow_, w, fw - pad, stride)
                for oh in range(oh_):
                    row = oh * ow_
                    if oh < y_lo or oh >= y_hi:
                        for ow in range(ow_):
                            col[k, row + ow] = zero
                        continue
                    iy = oh * stride + fh - pad
                    for ow in range(x_lo):
                        col[k, row + ow] = zero
                    for ow in range(x_lo, x_hi):
                        col[k, row + ow] = img[c, iy, ow * stride + fw - pad]
                    for ow in range(x_hi, ow_):
                        col[k, row + ow] = zero


@inline
def col2im_image(col, fh_, fw_, stride, pad, oh_, ow_, img):
    """The adjoint of im2col_image: img = 0, then each col entry added back to its pixel
    (entries that fall into the padding are dropped)."""
    c_, h, w = img.shape
    img[...] = 0
    for c in range(c_):
        for fh in range(fh_):
            y_lo, y_hi = valid_range(oh_, h, fh - pad, stride)
            for fw in range(fw_):
                k = (c * fh_ + fh) * fw_ + fw
                x_lo, x_hi = valid_range(ow_, w, fw - pad, stride)
                for oh in range(y_lo, y_hi):
                    iy = oh * stride + fh - pad
                    row = oh * ow_
                    for ow in range(x_lo, x_hi):
                        img[c, iy, ow * stride + fw - pad] += col[k, row + ow]


@kernel(parallel_min=CONV_PARALLEL_MIN)
def conv_forward(x, W, b, stride, pad, act, col, out):
    """out = act(conv(x, W) + b) and col[n] = image n's patches, one column per output pixel;
    x (N, C, H, W), W (FN, C, FH, FW), b (FN,), col (N, C*FH*FW, OH*OW), out (N, FN, OH, OW).
    A col of shape (0, C*FH*FW, OH*OW) keeps no patches (inference)."""
    n_, fn_, oh_, ow_ = out.shape
    fh_, fw_ = W.shape[2], W.shape[3]
    k_, p_ = col.shape[1], oh_ * ow_
    w_mat = W.reshape(fn_, k_)
    keep = col.shape[0] == n_
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    nb = image_blocks(n_)
    for blk in prange(nb):
        scratch = np.empty((0 if keep else k_, p_), out.dtype)
        for n in block_rows(blk, nb, n_):
            patches = col[n] if keep else scratch
            im2col_image(x[n], fh_, fw_, stride, pad, oh_, ow_, patches)
            z = out[n].reshape(fn_, p_)
            np.dot(w_mat, patches, z)
            for f in range(fn_):
                bias = b[f]
                for p in range(p_):
                    z[f, p] = activate(z[f, p] + bias, act, zero, one)


@kernel(parallel_min=CONV_PARALLEL_MIN)
def conv_backward(dout, y, act, col, W, stride, pad, need_dx, dW, db, dx):
    """Through act (y is its output; pass dout itself for NONE) and the convolution: dW, db and,
    if need_dx, dx (else dx is left as it is); shapes as in conv_forward, dx like x."""
    n_, fn_, oh_, ow_ = dout.shape
    k_, p_ = col.shape[1], col.shape[2]
    fh_, fw_ = W.shape[2], W.shape[3]
    w_t = W.reshape(fn_, k_).T
    zero, one = dW.dtype.type(0.0), dW.dtype.type(1.0)
    nb = image_blocks(n_)
    part_w = np.zeros((nb, fn_ * k_), dW.dtype)
    part_b = np.zeros((nb, fn_), dW.dtype)
    for blk in prange(nb):
        dz = np.empty((fn_, p_), dW.dtype)
        dw_n = np.empty((fn_, k_), dW.dtype)
        dcol = np.empty((k_, p_), dW.dtype)
        dw_blk = part_w[blk].reshape(fn_, k_)
        for n in block_rows(blk, nb, n_):
            g_n = dout[n].reshape(fn_, p_)
            y_n = y[n].reshape(fn_, p_)
            for f in range(fn_):
                s = zero
                for p in range(p_):
                    g = activate_grad(g_n[f, p], y_n[f, p], act, zero, one)
                    dz[f, p] = g
                    s += g
                part_b[blk, f] += s
            np.dot(dz, col[n].T, dw_n)
            for f in range(fn_):
                for k in range(k_):
                    dw_blk[f, k] += dw_n[f, k]
            if need_dx:
                np.dot(w_t, dz, dcol)
                col2im_image(dcol, fh_, fw_, stride, pad, oh_, ow_, dx[n])
    add_blocks(part_w, dW.reshape(fn_ * k_), one)
    add_blocks(part_b, db, one)
