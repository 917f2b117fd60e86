"""Convolution: per image, im2col into a (C*FH*FW, OH*OW) patch matrix, one BLAS product with
the filters, and bias + activation fused around it while the image is in cache.

The kernels run in parallel over fixed blocks of images; each product is a single-threaded BLAS
call (``gemm``) on the thread that owns the image. The weight and bias gradients are summed per
block of images and the blocks added in order, so no result depends on the thread count.
"""
import numpy as np
from numba import prange

from .._jit import PRODUCT_PARALLEL_MIN, inline, kernel
from ..constants import NONE
from ._common import activate, activate_grad, add_blocks, block_rows, image_blocks
from .gemm import gemm

__all__ = ["conv_forward", "conv_backward"]


def _forward_work(x, W, b, stride, pad, act, col, out):
    return out.size * col.shape[1]  # multiply-adds


def _backward_work(dout, y, act, col, *rest):
    return dout.size * col.shape[1]


@inline
def valid_range(n_out, size, offset, stride):
    """lo, hi such that 0 <= o * stride + offset < size exactly for lo <= o < hi (o < n_out)."""
    lo = max(0, -(offset // stride))
    hi = min(n_out, (size - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


@inline
def copy_patches(img, fh_, fw_, stride, pad, oh_, ow_, col, to_col):
    """to_col: im2col of one image, col[(c, fh, fw), (oh, ow)] = img[c, oh*stride + fh - pad,
    ow*stride + fw - pad], zero outside the image. Else its adjoint col2im: each col entry is
    added to its pixel of img (entries that fall into the padding are dropped).
    img (C, H, W), col (C*FH*FW, OH*OW)."""
    c_, h, w = img.shape
    zero = col.dtype.type(0.0)
    for c in range(c_):
        for fh in range(fh_):
            y_lo, y_hi = valid_range(oh_, h, fh - pad, stride)
            for fw in range(fw_):
                k = (c * fh_ + fh) * fw_ + fw
                x_lo, x_hi = valid_range(ow_, w, fw - pad, stride)
                if to_col:  # the patch entries that fall into the padding
                    for oh in range(oh_):
                        lo, hi = (x_lo, x_hi) if y_lo <= oh < y_hi else (ow_, ow_)
                        for ow in range(lo):
                            col[k, oh * ow_ + ow] = zero
                        for ow in range(hi, ow_):
                            col[k, oh * ow_ + ow] = zero
                for oh in range(y_lo, y_hi):
                    iy = oh * stride + fh - pad
                    row = oh * ow_
                    if to_col:
                        for ow in range(x_lo, x_hi):
                            col[k, row + ow] = img[c, iy, ow * stride + fw - pad]
                    else:
                        for ow in range(x_lo, x_hi):
                            img[c, iy, ow * stride + fw - pad] += col[k, row + ow]


@kernel(work=_forward_work, parallel_min=PRODUCT_PARALLEL_MIN)
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
            copy_patches(x[n], fh_, fw_, stride, pad, oh_, ow_, patches, True)
            z = out[n].reshape(fn_, p_)
            gemm(w_mat, False, patches, False, z)
            for f in range(fn_):
                bias = b[f]
                for p in range(p_):
                    z[f, p] = activate(z[f, p] + bias, act, zero, one)


@kernel(work=_backward_work, parallel_min=PRODUCT_PARALLEL_MIN)
def conv_backward(dout, y, act, col, W, stride, pad, dW, db, dx):
    """Through act (y its output; with NONE y is not read) and the convolution: dW, db and,
    unless dx is None, dx; dout, y (N, FN, OH, OW), col as conv_forward keeps it, W, dW
    (FN, C, FH, FW), db (FN,), dx (N, C, H, W)."""
    n_, fn_, oh_, ow_ = dout.shape
    k_, p_ = col.shape[1], col.shape[2]
    fh_, fw_ = W.shape[2], W.shape[3]
    w_mat = W.reshape(fn_, k_)
    zero, one = dW.dtype.type(0.0), dW.dtype.type(1.0)
    nb = image_blocks(n_)
    part_w = np.zeros((nb, fn_ * k_), dW.dtype)
    part_b = np.zeros((nb, fn_), dW.dtype)
    for blk in prange(nb):
        dz = np.empty((0 if act == NONE else fn_, p_), dW.dtype)
        dw_n = np.empty((fn_, k_), dW.dtype)
        dcol = np.empty((0 if dx is None else k_, p_), dW.dtype)
        dw_blk = part_w[blk].reshape(fn_, k_)
        for n in block_rows(blk, nb, n_):
            g_n = dout[n].reshape(fn_, p_)
            if act != NONE:
                y_n = y[n].reshape(fn_, p_)
                for f in range(fn_):
                    for p in range(p_):
                        dz[f, p] = activate_grad(g_n[f, p], y_n[f, p], act, zero, one)
                g_n = dz
            for f in range(fn_):
                s = zero
                for p in range(p_):
                    s += g_n[f, p]
                part_b[blk, f] += s
            gemm(g_n, False, col[n], True, dw_n)
            for f in range(fn_):
                for k in range(k_):
                    dw_blk[f, k] += dw_n[f, k]
            if dx is not None:
                gemm(w_mat, True, g_n, False, dcol)
                dx[n] = 0
                copy_patches(dx[n], fh_, fw_, stride, pad, oh_, ow_, dcol, False)
    add_blocks(part_w, dW.reshape(fn_ * k_), one)
    add_blocks(part_b, db, one)
