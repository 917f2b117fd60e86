"""Affine layer passes with the product's elementwise work fused around it.

Forward: out = act(x W + b), each output tile's product followed by its bias and activation
while the tile is in cache. Backward: dz = dout * act'(y) with db = dz.sum(axis=0) in one pass,
then dW = x.T dz and dx = dz W.T as one set of tiles. Products run in BLAS one tile per call
(``gemm``; the tiles: ``grid``), the kernel's threads taking tiles, so they are the only pool.
"""
import numpy as np
from numba import prange

from .. import work
from .._jit import PRODUCT_PARALLEL_MIN, kernel
from ..constants import NONE
from ._common import activate, activate_grad, add_blocks, block_rows, row_blocks
from .gemm import gemm, grid, tile_span

__all__ = ["affine_forward", "affine_backward"]


@kernel(work=work.affine_forward, parallel_min=PRODUCT_PARALLEL_MIN)
def affine_forward(x, W, b, act, out):
    """out = act(x @ W + b); x (N, D), W (D, M), b (M,), out (N, M); act NONE, RELU or SIGMOID."""
    n, m = out.shape
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    ti, tj = grid(n, m, x.shape[1])
    for t in prange(ti * tj):
        i0, i1 = tile_span(t // tj, ti, n)
        j0, j1 = tile_span(t % tj, tj, m)
        tile = out[i0:i1, j0:j1]
        gemm(x[i0:i1], False, W[:, j0:j1], False, tile)
        for i in range(i1 - i0):
            for j in range(j1 - j0):
                tile[i, j] = activate(tile[i, j] + b[j0 + j], act, zero, one)


@kernel(work=work.affine_backward, parallel_min=PRODUCT_PARALLEL_MIN)
def affine_backward(dout, y, act, x, W, dz, db, dW, dx):
    """dz = dout * act'(y) (y the activation's output), db = dz.sum(axis=0), dW = x.T @ dz and,
    unless dx is None, dx = dz @ W.T. dout, y, dz (N, M); x (N, D); W, dW (D, M); dx (N, D).
    With act NONE dz is not written and dout itself is the product's operand."""
    n, m = dout.shape
    d = x.shape[1]
    one = dz.dtype.type(1.0)
    zero = dz.dtype.type(0.0)
    nb = row_blocks(n)
    part = np.zeros((nb, m), dz.dtype)
    for blk in prange(nb):
        for i in block_rows(blk, nb, n):
            for j in range(m):
                g = dout[i, j]
                if act != NONE:
                    g = activate_grad(g, y[i, j], act, zero, one)
                    dz[i, j] = g
                part[blk, j] += g
    add_blocks(part, db, one)
    g = dout if act == NONE else dz
    wi, wj = grid(d, m, n)
    n_dw = wi * wj
    xi, xj = grid(n, d, m)
    n_dx = 0 if dx is None else xi * xj
    for t in prange(n_dw + n_dx):
        if t < n_dw:
            k0, k1 = tile_span(t // wj, wi, d)
            j0, j1 = tile_span(t % wj, wj, m)
            gemm(x[:, k0:k1], True, g[:, j0:j1], False, dW[k0:k1, j0:j1])
        elif dx is not None:
            u = t - n_dw
            i0, i1 = tile_span(u // xj, xi, n)
            k0, k1 = tile_span(u % xj, xj, d)
            gemm(g[i0:i1], False, W[k0:k1], True, dx[i0:i1, k0:k1])
