"""Matrix products called from inside kernels: BLAS gemm on row-major blocks, one thread each.

The kernels reach the BLAS that SciPy exports to Cython (``scipy.linalg.cython_blas``, the one
Numba's own ``np.dot`` calls). ``fastscratch.threads`` pins that BLAS to one thread: a product
is split into fixed tiles that the kernel's ``prange`` hands to its threads, each tile's BLAS
call runs on the calling thread, and the elementwise work around the product runs on the tile
while it is in cache. One pool, Numba's, owns the cores. The tiles depend on the shapes only (``grid``),
so the result is the same for any thread count.

The BLAS routines are bound by symbol name (``ExternalFunction``), so kernels that call them can
be cached: the address is looked up again each time the package is imported.
"""
import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

from .._jit import inline
from . import _scipy_blas

_scipy_blas.load()  # without scipy.linalg's package (0.1 s): the lookups below find it loaded
for _name in ("dgemm", "sgemm"):
    llvm.add_symbol("fastscratch_" + _name,
                    get_cython_function_address("scipy.linalg.cython_blas", _name))
_SIGNATURE = types.void(*([types.intp] * 13))  # Fortran BLAS: every argument by address
_dgemm = types.ExternalFunction("fastscratch_dgemm", _SIGNATURE)
_sgemm = types.ExternalFunction("fastscratch_sgemm", _SIGNATURE)

# A product is split into up to TILES tiles, by its shape alone, so every thread count computes
# the same tiles: the result does not depend on it. 16 tiles feed 1, 2, 4, 8 or 16 threads
# evenly. Tiles start at multiples of TILE_ALIGN rows and columns and hold at least
# MIN_TILE_WORK multiply-adds (below ~10^6 some BLAS builds take a direct path for small
# products), so a product too small to split is one plain BLAS call.
TILES = 16
TILE_ALIGN = 64
MIN_TILE_WORK = 1 << 21
# Packing one operand element for BLAS costs about this many multiply-adds.
PACK_COST = 8.0
_N, _T = 78, 84  # 'N', 'T'


@inline
def gemm(a, ta, b, tb, c):
    """c = op(a) @ op(b) with op transposing when ta / tb: 2-D row-major views whose rows are
    contiguous (strided row starts are fine, so tiles of larger arrays can be passed)."""
    m, n = c.shape
    k = a.shape[0] if ta else a.shape[1]
    size = c.itemsize
    # Column-major BLAS sees each row-major view transposed: c.T = op(b).T @ op(a).T.
    ints = np.empty(8, np.int32)
    ints[0] = _T if tb else _N
    ints[1] = _T if ta else _N
    ints[2] = n
    ints[3] = m
    ints[4] = k
    ints[5] = max(1, b.strides[0] // size)
    ints[6] = max(1, a.strides[0] // size)
    ints[7] = max(1, c.strides[0] // size)
    scalars = np.empty(2, c.dtype)
    scalars[0] = 1
    scalars[1] = 0
    p, s = ints.ctypes.data, scalars.ctypes.data
    if m == 0 or n == 0:
        return
    if k == 0:
        c[:] = 0
        return
    if size == 8:
        _dgemm(p, p + 4, p + 8, p + 12, p + 16, s, b.ctypes.data, p + 20, a.ctypes.data,
               p + 24, s + size, c.ctypes.data, p + 28)
    else:
        _sgemm(p, p + 4, p + 8, p + 12, p + 16, s, b.ctypes.data, p + 20, a.ctypes.data,
               p + 24, s + size, c.ctypes.data, p + 28)


@inline
def grid(m, n, k):
    """(row tiles, column tiles) for an (m, n) output with inner size k: at most TILES, shaped
    so that one tile's multiply-adds plus the repacking of the operands (op(a) once per column
    tile, op(b) once per row tile, spread over TILES threads) is least."""
    most = min(TILES, max(1, (m * n * k) // MIN_TILE_WORK))
    max_i, max_j = max(1, m // TILE_ALIGN), max(1, n // TILE_ALIGN)
    best_i, best_j, best = 1, 1, np.inf
    for ti in range(1, min(most, max_i) + 1):
        tj = min(max(1, most // ti), max_j)
        cost = (m / ti) * (n / tj) + PACK_COST * (tj * m + ti * n) / most
        if cost < best:
            best_i, best_j, best = ti, tj, cost
    return best_i, best_j


@inline
def tile_span(t, count, n):
    """(start, stop) of tile t of count over n: near-equal, starting at multiples of TILE_ALIGN
    (count is at most n // TILE_ALIGN, so no tile is empty)."""
    start = (t * n // count) // TILE_ALIGN * TILE_ALIGN
    stop = n if t == count - 1 else ((t + 1) * n // count) // TILE_ALIGN * TILE_ALIGN
    return start, stop
