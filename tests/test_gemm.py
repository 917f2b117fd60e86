"""kernels/gemm.py: the BLAS binding against NumPy's products (every transposition, strided
tiles, k = 0) and the check of the routines' declared Fortran arguments."""
import numba
import numpy as np
import pytest

from fastscratch.kernels import gemm as blas


@numba.njit
def _product(a, ta, b, tb, c, add):
    if add:
        blas.gemm_add(a, ta, b, tb, c)
    else:
        blas.gemm(a, ta, b, tb, c)


@pytest.mark.parametrize("add", [False, True], ids=["gemm", "gemm_add"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_equals_numpy_on_strided_tiles(ta, tb, dtype, add, rng):
    """op(a) (70, 50) @ op(b) (50, 30) into (gemm) or added to (gemm_add) a tile of a larger c,
    the operands being tiles of larger arrays too (leading dimensions larger than the rows)."""
    big_a = rng.standard_normal((90, 90)).astype(dtype)
    big_b = rng.standard_normal((90, 90)).astype(dtype)
    a = big_a[5:55, 3:73] if ta else big_a[5:75, 3:53]
    b = big_b[2:32, 1:51] if tb else big_b[2:52, 1:31]
    big_c = rng.standard_normal((80, 40)).astype(dtype)
    before = big_c.copy()
    _product(a, ta, b, tb, big_c[4:74, 2:32], add)
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    if add:
        want += before[4:74, 2:32]
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(big_c[4:74, 2:32], want, rtol=tol, atol=tol)
    before[4:74, 2:32] = big_c[4:74, 2:32]
    np.testing.assert_array_equal(big_c, before)  # nothing written outside the tile


def _one_row(x, stride):
    """x (1, n) as a view whose row stride is ``stride`` elements (NumPy calls any such view
    C-contiguous: a single row's stride is never used)."""
    return np.lib.stride_tricks.as_strided(x, x.shape, (stride * x.itemsize, x.itemsize))


@pytest.mark.parametrize("stride", [1, -3, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_single_rows_with_any_row_stride(ta, tb, dtype, stride, rng):
    """Operands and result of one row whose row stride is below their width, negative or 0
    (e.g. np.asfortranarray or a[::-1] of a (1, n) array): BLAS is given a legal leading
    dimension and the product is right (before: BLAS refused it and c kept its garbage)."""
    a = rng.standard_normal((6, 1) if ta else (1, 6)).astype(dtype)
    b = rng.standard_normal((4, 6) if tb else (6, 4)).astype(dtype)
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    a = a if ta else _one_row(a.copy(), stride)
    c = np.full((1, 4), np.nan, dtype)
    _product(a, ta, b, tb, _one_row(c, stride), False)
    np.testing.assert_allclose(c, want, rtol=1e-5)
    x = rng.standard_normal((1, 6)).astype(dtype)
    out = np.full((6, 6), np.nan, dtype)
    _product(_one_row(x.copy(), stride), True, _one_row(x.copy(), stride), False, out, False)
    np.testing.assert_allclose(out, x.T.astype(np.float64) @ x, rtol=1e-5)


def test_an_empty_inner_dimension_writes_zeros_or_adds_nothing():
    c = np.full((3, 4), 7.0)
    _product(np.ones((3, 0)), False, np.ones((0, 4)), False, c, True)
    assert (c == 7).all()
    _product(np.ones((3, 0)), False, np.ones((0, 4)), False, c, False)
    assert (c == 0).all()


GOOD = ["char *", "char *", "int *", "int *", "int *", "double *", "double *", "int *",
        "double *", "int *", "double *", "double *", "int *"]


def test_the_declarations_of_scipys_routines_are_checked_at_import():
    for name in ("dgemm", "sgemm"):
        declared = blas._declared_arguments("scipy.linalg.cython_blas", name)
        assert len(declared) == len(blas.GEMM_ARGUMENTS)
        blas.check_gemm_declaration(name, declared, name[0])
    blas.check_gemm_declaration("dgemm", GOOD, "d")


@pytest.mark.parametrize("declared,real,message", [
    ([*GOOD[:2], "npy_int64 *", *GOOD[3:]], "d",
     r"declares argument m as 'npy_int64 \*', expected int \* \(a 32-bit BLAS integer\): "
     r"fastscratch supports SciPy builds whose cython_blas uses 32-bit \(LP64\)"),
    (GOOD, "s", r"declares argument alpha as 'double \*', expected float \*"),
    ([*GOOD[:12]], "d", r"takes 12 arguments, expected the 13 of Fortran \?gemm \(transa, "),
    (["int *", *GOOD[1:]], "d", r"declares argument transa as 'int \*', expected char \*"),
])
def test_an_unsupported_blas_declaration_is_a_clear_import_error(declared, real, message):
    with pytest.raises(ImportError, match=message):
        blas.check_gemm_declaration("xgemm", declared, real)
