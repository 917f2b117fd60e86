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
import ctypes
import importlib
import sys

import llvmlite.binding as llvm
import numpy as np
import numba
from numba import types
from numba.extending import get_cython_function_address

from .._jit import POLICY, inline
from . import _scipy_blas

# The Fortran calling convention of ?gemm (C = alpha op(A) op(B) + beta C, column-major): every
# argument is passed by address, in this order. The flags are characters ('N' or 'T'); M, N, K
# and the leading dimensions are BLAS integers, which fastscratch writes as 32-bit ints (SciPy's
# cython_blas is built for 32-bit BLAS integers; checked below); the other five are the
# routine's floating-point type: alpha, beta and the matrices A, B, C.
GEMM_ARGUMENTS = ("transa", "transb", "m", "n", "k", "alpha", "a", "lda", "b", "ldb", "beta", "c",
                  "ldc")
_FLAGS = {"transa", "transb"}
_INTEGERS = {"m", "n", "k", "lda", "ldb", "ldc"}
NO_TRANSPOSE, TRANSPOSE = ord("N"), ord("T")
# A call's integer arguments live in one int32 array, one slot each (a flag as its character's
# code: the slot's first byte is the character on a little-endian machine); alpha and beta in
# one array of the product's dtype.
_TRANSA, _TRANSB, _M, _N, _K, _LDA, _LDB, _LDC = range(8)
_ALPHA, _BETA = range(2)


def _declared_arguments(module, name):
    """The C argument types ("char *", "int *", ...) of Cython function ``name`` of ``module``,
    from the signature its capsule carries."""
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    signature = get_name(importlib.import_module(module).__pyx_capi__[name]).decode()
    return [arg.strip() for arg in signature[signature.index("(") + 1:-1].split(",")]


def check_gemm_declaration(name, declared, real):
    """Raise ImportError unless ``declared`` (the C argument types of BLAS routine ``name``) is
    ?gemm's GEMM_ARGUMENTS with char flags, 32-bit ints and ``real`` ("d": double, "s": float)
    pointers: the arguments gemm() passes."""
    if ctypes.sizeof(ctypes.c_int) != 4 or sys.byteorder != "little":
        raise ImportError("fastscratch.kernels.gemm passes BLAS integers as 32-bit C ints and "
                          "flags in their first byte: it needs a little-endian platform with a "
                          f"4-byte int, found {sys.byteorder}-endian, "
                          f"{ctypes.sizeof(ctypes.c_int)}-byte int")
    pointer = {"d": "double *", "s": "float *"}[real]
    if len(declared) != len(GEMM_ARGUMENTS):
        raise ImportError(f"scipy.linalg.cython_blas.{name} takes {len(declared)} arguments, "
                          f"expected the {len(GEMM_ARGUMENTS)} of Fortran ?gemm "
                          f"({', '.join(GEMM_ARGUMENTS)}); this BLAS binding is not supported")
    for arg, ctype in zip(GEMM_ARGUMENTS, declared):
        expected = "char *" if arg in _FLAGS else "int *" if arg in _INTEGERS else pointer
        # SciPy declares the reals through its own typedefs, e.g. __pyx_t_..._cython_blas_d
        real_typedef = expected == pointer and ctype.endswith(f"_{real} *")
        if ctype != expected and not real_typedef:
            if arg in _INTEGERS:
                expected += " (a 32-bit BLAS integer)"
            raise ImportError(f"scipy.linalg.cython_blas.{name} declares argument {arg} as "
                              f"{ctype!r}, expected {expected}: fastscratch supports SciPy "
                              "builds whose cython_blas uses 32-bit (LP64) BLAS integers; "
                              "install such a SciPy (e.g. the wheels from PyPI)")


_scipy_blas.load()  # without scipy.linalg's package (0.1 s): the lookups below find it loaded
for _name in ("dgemm", "sgemm"):
    check_gemm_declaration(_name, _declared_arguments("scipy.linalg.cython_blas", _name),
                           _name[0])
    llvm.add_symbol("fastscratch_" + _name,
                    get_cython_function_address("scipy.linalg.cython_blas", _name))
_SIGNATURE = types.void(*([types.intp] * len(GEMM_ARGUMENTS)))  # every argument an address
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


@inline
def _slot(block, i):
    """The address of slot i of the 1-D array block."""
    return block.ctypes.data + i * block.itemsize


@inline
def _leading(x, size):
    """The leading dimension BLAS is given for the row-major view x: its row stride in
    elements, or, for a single row (whose stride NumPy leaves arbitrary: a (1, n) array is
    C-contiguous with any, even a negative, row stride), its width; at least 1, as BLAS
    requires."""
    ld = x.shape[1] if x.shape[0] <= 1 else x.strides[0] // size
    return max(1, ld)


@inline
def gemm(a, ta, b, tb, c):
    """c = op(a) @ op(b) with op transposing when ta / tb: 2-D row-major views whose rows are
    contiguous (strided row starts are fine, so tiles of larger arrays can be passed)."""
    _product(a, ta, b, tb, c, False)


@inline
def gemm_add(a, ta, b, tb, c):
    """c += op(a) @ op(b), as gemm (BLAS's beta = 1: the sum is added to c in its kernel)."""
    _product(a, ta, b, tb, c, True)


@inline
def _product(a, ta, b, tb, c, add):
    """c = op(a) @ op(b), plus c's old value when ``add``."""
    m, n = c.shape
    k = a.shape[0] if ta else a.shape[1]
    size = c.itemsize
    # Column-major BLAS sees each row-major view transposed: c.T = op(b).T @ op(a).T, so
    # Fortran's A is our b and its B our a.
    ints = np.empty(8, np.int32)
    ints[_TRANSA] = TRANSPOSE if tb else NO_TRANSPOSE
    ints[_TRANSB] = TRANSPOSE if ta else NO_TRANSPOSE
    ints[_M] = n
    ints[_N] = m
    ints[_K] = k
    ints[_LDA] = _leading(b, size)
    ints[_LDB] = _leading(a, size)
    ints[_LDC] = _leading(c, size)
    scalars = np.empty(2, c.dtype)
    scalars[_ALPHA] = 1
    scalars[_BETA] = 1 if add else 0
    if m == 0 or n == 0:
        return
    if k == 0:
        if not add:
            c[:] = 0
        return
    _call(ints, scalars, a, b, c)


@numba.njit(**POLICY)
def _call(ints, scalars, a, b, c):
    """?gemm on the argument slots of ``_product``. A function of its own, not inlined: the caller
    holds ``ints`` and ``scalars`` until it returns. Inlined, Numba frees them after their last
    use, which is taking their addresses, so BLAS would read freed memory."""
    args = (_slot(ints, _TRANSA), _slot(ints, _TRANSB), _slot(ints, _M), _slot(ints, _N),
            _slot(ints, _K), _slot(scalars, _ALPHA), b.ctypes.data, _slot(ints, _LDA),
            a.ctypes.data, _slot(ints, _LDB), _slot(scalars, _BETA), c.ctypes.data,
            _slot(ints, _LDC))  # in GEMM_ARGUMENTS order
    if c.itemsize == 8:
        _dgemm(*args)
    else:
        _sgemm(*args)


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
