"""Convolution: per image, im2col (from a zero-bordered copy of the image, so that every patch
row is a plain copy) into a (C*FH*FW, OH*OW) scratch patch matrix, one BLAS product with the
filters, and bias + activation fused around it while the image is in cache. The patches are not
kept: backward makes them again from x (cheaper than writing and reading them through memory).

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


def _forward_work(x, W, b, stride, pad, act, out):
    return out.size * W[0].size  # multiply-adds


def _backward_work(dout, y, act, x, W, *rest):
    return dout.size * W[0].size


@inline
def pad_into(img, pad, xp):
    """xp[c, pad + y, pad + x] = img[c, y, x]: img (C, H, W) into the interior of xp
    (C, H + 2 pad, W + 2 pad), whose border the caller keeps zero."""
    c_, h, w = img.shape
    for c in range(c_):
        for y in range(h):
            for x in range(w):
                xp[c, y + pad, x + pad] = img[c, y, x]


@inline
def crop_from(xp, pad, img):
    """img[c, y, x] = xp[c, pad + y, pad + x]: the adjoint of pad_into (the border is dropped)."""
    c_, h, w = img.shape
    for c in range(c_):
        for y in range(h):
            for x in range(w):
                img[c, y, x] = xp[c, y + pad, x + pad]


@inline
def patches(xp, fh_, fw_, stride, oh_, ow_, col, to_col):
    """to_col: im2col of one padded image, col[(c, fh, fw), (oh, ow)] = xp[c, oh*stride + fh,
    ow*stride + fw]. Else its adjoint col2im: each col entry is added to its pixel of xp.
    xp (C, H + 2 pad, W + 2 pad), col (C*FH*FW, OH*OW). Every index is in range, so the row
    loops are plain (vectorized) copies for stride 1."""
    for c in range(xp.shape[0]):
        for fh in range(fh_):
            for fw in range(fw_):
                k = (c * fh_ + fh) * fw_ + fw
                for oh in range(oh_):
                    iy, row = oh * stride + fh, oh * ow_
                    if to_col and stride == 1:
                        for ow in range(ow_):
                            col[k, row + ow] = xp[c, iy, ow + fw]
                    elif to_col:
                        for ow in range(ow_):
                            col[k, row + ow] = xp[c, iy, ow * stride + fw]
                    elif stride == 1:
                        for ow in range(ow_):
                            xp[c, iy, ow + fw] += col[k, row + ow]
                    else:
                        for ow in range(ow_):
                            xp[c, iy, ow * stride + fw] += col[k, row + ow]


# Partial sums kept by lane_sum: independent additions that the compiler can vectorize (a single
# running sum is one dependent addition after another).
LANES = 16


@inline
def lane_sum(v, lanes):
    """The sum of the 1-D v: LANES partial sums over consecutive groups of LANES entries (in
    ``lanes``, scratch), then added in order, then the tail; the order depends on len(v) only."""
    lanes[:] = 0
    q = len(v) // LANES * LANES
    for i in range(0, q, LANES):
        for j in range(LANES):
            lanes[j] += v[i + j]
    s = lanes[0]
    for j in range(1, LANES):
        s += lanes[j]
    for i in range(q, len(v)):
        s += v[i]
    return s


@kernel(work=_forward_work, parallel_min=PRODUCT_PARALLEL_MIN)
def conv_forward(x, W, b, stride, pad, act, out):
    """out = act(conv(x, W) + b); x (N, C, H, W), W (FN, C, FH, FW), b (FN,),
    out (N, FN, OH, OW). Each image's patches live in a scratch matrix only while it is used."""
    n_, fn_, oh_, ow_ = out.shape
    c_, h, w = x.shape[1], x.shape[2], x.shape[3]
    fh_, fw_ = W.shape[2], W.shape[3]
    k_, p_ = c_ * fh_ * fw_, oh_ * ow_
    w_mat = W.reshape(fn_, k_)
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    nb = image_blocks(n_)
    for blk in prange(nb):
        col = np.empty((k_, p_), out.dtype)
        xp = np.zeros((c_, h + 2 * pad, w + 2 * pad), out.dtype)
        for n in block_rows(blk, nb, n_):
            pad_into(x[n], pad, xp)
            patches(xp, fh_, fw_, stride, oh_, ow_, col, True)
            z = out[n].reshape(fn_, p_)
            gemm(w_mat, False, col, False, z)
            for f in range(fn_):
                bias = b[f]
                for p in range(p_):
                    z[f, p] = activate(z[f, p] + bias, act, zero, one)


@kernel(work=_backward_work, parallel_min=PRODUCT_PARALLEL_MIN)
def conv_backward(dout, y, act, x, W, stride, pad, dW, db, dx):
    """Through act (y its output; with NONE y is not read) and the convolution of x: dW, db
    and, unless dx is None, dx; dout, y (N, FN, OH, OW), x, dx (N, C, H, W), W, dW
    (FN, C, FH, FW), db (FN,). Each image's patches are made again from x, in a scratch."""
    n_, fn_, oh_, ow_ = dout.shape
    c_, h, w = x.shape[1], x.shape[2], x.shape[3]
    fh_, fw_ = W.shape[2], W.shape[3]
    k_, p_ = c_ * fh_ * fw_, oh_ * ow_
    w_mat = W.reshape(fn_, k_)
    zero, one = dW.dtype.type(0.0), dW.dtype.type(1.0)
    nb = image_blocks(n_)
    part_w = np.zeros((nb, fn_ * k_), dW.dtype)
    part_b = np.zeros((nb, fn_), dW.dtype)
    for blk in prange(nb):
        dz = np.empty((0 if act == NONE else fn_, p_), dW.dtype)
        col = np.empty((k_, p_), dW.dtype)
        xp = np.zeros((c_, h + 2 * pad, w + 2 * pad), dW.dtype)
        dw_n = np.empty((fn_, k_), dW.dtype)
        dcol = np.empty((0 if dx is None else k_, p_), dW.dtype)
        dxp = np.empty((0 if dx is None else c_, h + 2 * pad, w + 2 * pad), dW.dtype)
        dw_blk = part_w[blk].reshape(fn_, k_)
        lanes = np.empty(LANES, dW.dtype)
        for n in block_rows(blk, nb, n_):
            g_n = dout[n].reshape(fn_, p_)
            if act != NONE:
                y_n = y[n].reshape(fn_, p_)
                for f in range(fn_):
                    for p in range(p_):
                        dz[f, p] = activate_grad(g_n[f, p], y_n[f, p], act, zero, one)
                g_n = dz
            for f in range(fn_):
                part_b[blk, f] += lane_sum(g_n[f], lanes)
            pad_into(x[n], pad, xp)
            patches(xp, fh_, fw_, stride, oh_, ow_, col, True)
            gemm(g_n, False, col, True, dw_n)
            for f in range(fn_):
                for k in range(k_):
                    dw_blk[f, k] += dw_n[f, k]
            if dx is not None:
                gemm(w_mat, True, g_n, False, dcol)
                dxp[:] = 0
                patches(dxp, fh_, fw_, stride, oh_, ow_, dcol, False)
                crop_from(dxp, pad, dx[n])
    add_blocks(part_w, dW.reshape(fn_ * k_), one)
    add_blocks(part_b, db, one)
