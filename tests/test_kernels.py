"""Every Numba kernel (serial and parallel twin) against its NumPy reference twin.

Each case builds a kernel's arguments; the kernel and its twin run on separate copies, and every
array argument (outputs and in-place state) and the return value must agree.

Tolerances: float64 to rtol 1e-12 (the two differ only in the order of a few roundings, and for
batch norm's backward by an algebraically equal but shorter formula). float32 to rtol 1e-5 with
an absolute floor of 1e-5 times the output's scale: float32 carries 2^-24 ~ 6e-8 relative error
per operation, and the sums here (up to 1000 terms) and the two formula orders accumulate at most
a few hundred such roundings.
"""
import inspect
import linecache
import sys
import types

import numba
import numpy as np
import pytest
from numba import prange
from numba.core import ir
from numba.core import types as nb

import fastscratch
from fastscratch import constants, kernels, reference
from fastscratch._jit import kernel
from fastscratch.constants import BATCHNORM_EPS, NONE, OPTIMIZER_EPS, RELU, SIGMOID

ACTS = [NONE, RELU, SIGMOID]
SHAPES = [(1, 1), (1, 10), (7, 13), (100, 100), (100, 10), (1000, 1024)]
FLAT = [1, 17, 10_000, 300_001]


def _op(name):
    for module in kernels.MODULES:
        if name in module.__all__:
            return getattr(module, name)
    raise KeyError(name)


def _ref(name):
    for module in reference.MODULES:
        if name in module.__all__:
            return getattr(module, name)
    raise KeyError(name)


def _case(name, dtype, shape, rng, act=NONE):
    """Arguments for one call of op ``name``."""
    n, m = shape if isinstance(shape, tuple) else (1, shape)
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    e = lambda *s: np.full(s, np.nan, dtype=dtype)  # outputs start as NaN: all must be written
    d = (m * 7) % 300 + 1  # the product's inner size, varied with the shape
    if name == "affine_forward":
        return [r(n, d), r(d, m), r(m), act, e(n, m)]
    if name == "affine_backward":
        y = r(n, m)
        if act == SIGMOID:
            y = 1 / (1 + np.exp(-y))
        elif act == RELU:
            y = np.maximum(y, 0)
        dz = e(n, m) if act != NONE else np.zeros((n, m), dtype)  # NONE: dz is not written
        return [r(n, m), y.astype(dtype), act, r(n, d), r(d, m), dz, e(m), e(d, m), e(n, d)]
    if name == "act_forward":
        return [r(n * m), act, e(n * m)]
    if name == "act_backward":
        return [r(n * m), np.abs(r(n * m)) / 2, act, e(n * m)]
    if name in ("softmax_ce_forward", "softmax_ce_backward"):
        t = rng.integers(0, m, n)
        if name == "softmax_ce_forward":
            return [r(n, m) * 10, t, e(n, m)]
        y = np.abs(r(n, m))
        return [y / y.sum(1, keepdims=True), t, dtype(0.7), e(n, m)]
    if name in ("softmax_ce_forward_dense", "softmax_ce_backward_dense"):
        t = np.eye(m, dtype=dtype)[rng.integers(0, m, n)]
        if name == "softmax_ce_forward_dense":
            return [r(n, m) * 10, t, e(n, m)]
        y = np.abs(r(n, m))
        return [y / y.sum(1, keepdims=True), t, dtype(1.0), e(n, m)]
    if name == "bn_forward_train":
        return [r(n, m) * 3 + 1, r(m), r(m), 0.9, r(m), np.abs(r(m)), act, e(n, m), e(m),
                e(n, m)]
    if name == "bn_forward_eval":
        return [r(n, m), r(m), r(m), r(m), np.abs(r(m)), act, e(n, m)]
    if name == "bn_backward":
        x = r(n, m)
        mu, sd = x.mean(0), np.sqrt(x.var(0) + BATCHNORM_EPS)
        xn = ((x - mu) / sd).astype(dtype)
        return [r(n, m), np.abs(r(n, m)), act, xn, sd.astype(dtype), r(m), e(n, m), e(m), e(m)]
    if name == "dropout_forward":
        k = n * m
        return [r(k), rng.random(k), 0.3, np.zeros(k, bool), e(k)]
    if name == "dropout_backward":
        k = n * m
        return [r(k), rng.random(k) > 0.5, e(k)]
    k = n * m
    p, g = r(k), r(k)
    c = lambda v: dtype(v)
    if name == "sgd":
        return [p, g, c(0.01)]
    if name in ("momentum", "nesterov"):
        return [p, g, r(k), c(0.01), c(0.9)]
    if name == "adagrad":
        return [p, g, np.abs(r(k)), c(0.01), c(OPTIMIZER_EPS)]
    if name == "rmsprop":
        return [p, g, np.abs(r(k)), c(0.01), c(0.99), c(OPTIMIZER_EPS)]
    if name == "adam":
        return [p, g, r(k), np.abs(r(k)), c(0.001), c(0.9), c(0.999), c(OPTIMIZER_EPS)]
    if name == "weight_decay_grad":
        return [r(k), c(0.1), r(k), e(k)]
    if name == "sum_squares":
        return [r(k)]
    if name == "all_finite":  # odd sizes get one NaN or -Inf somewhere, even sizes none
        x = r(k)
        if k % 2:
            x[rng.integers(0, k)] = rng.choice([np.nan, -np.inf])
        return [x]
    if name == "cast_all_finite":  # float32 in, float64 out (and the other way for float64)
        x = _case("all_finite", dtype, k, rng)[0]
        return [x, np.full(k, np.nan, np.float64 if dtype == np.float32 else np.float32)]
    if name == "value_range":
        return [r(k)]
    raise KeyError(name)


MATRIX_OPS = ["affine_forward", "affine_backward", "bn_forward_train", "bn_forward_eval",
              "bn_backward"]
SOFTMAX_OPS = ["softmax_ce_forward", "softmax_ce_backward", "softmax_ce_forward_dense",
               "softmax_ce_backward_dense"]
FLAT_OPS = ["act_forward", "act_backward", "dropout_forward", "dropout_backward", "sgd",
            "momentum", "nesterov", "adagrad", "rmsprop", "adam", "weight_decay_grad",
            "sum_squares", "all_finite", "cast_all_finite", "value_range"]
ACT_OPS = {"affine_forward", "affine_backward", "bn_forward_train", "bn_forward_eval",
           "bn_backward", "act_forward", "act_backward"}


def _copies(args, refill=None):
    """Copies of the array arguments; with ``refill``, the outputs start at that value instead
    of NaN (outputs: the float arrays that are all NaN, after the first argument, which is
    always an input and for all_finite may be a single NaN)."""
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    if refill is not None:
        for a in copies[1:]:
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" and np.isnan(a).all():
                a.fill(refill)
    return copies


def _compare(name, args, twin, dtype):
    ref_args, got_args = _copies(args), _copies(args)
    want = _ref(name)(*ref_args)
    got = getattr(_op(name), twin)(*got_args)
    # every element of every output is written: a second run on outputs that start at another
    # value must end the same (an unwritten element keeps its start value: NaN, then -7)
    again = _copies(args, refill=-7.0)
    getattr(_op(name), twin)(*again)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for i, (w, g, a) in enumerate(zip(ref_args, got_args, again)):
        if isinstance(w, np.ndarray):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(a, g, err_msg=f"{name}: argument {i} not all written")
            scale = float(np.max(np.abs(w), initial=0, where=np.isfinite(w))) \
                if w.size and w.dtype != bool else 1.0
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale,
                                       err_msg=f"{name} ({twin}) argument {i}")
    if want is not None:
        # the loss is a mean of log(y + 1e-7): float32 rounds y + 1e-7 to within 2^-23 absolute
        atol = 0 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{name} result")


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", MATRIX_OPS + SOFTMAX_OPS)
def test_matrix_kernels_match_reference(name, shape, dtype, twin, rng):
    acts = ACTS if name in ACT_OPS else [NONE]
    if name in SOFTMAX_OPS and shape[1] > 100:
        shape = (shape[0], 10)
    for act in acts:
        _compare(name, _case(name, dtype, shape, rng, act), twin, dtype)


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", FLAT)
@pytest.mark.parametrize("name", FLAT_OPS)
def test_flat_kernels_match_reference(name, size, dtype, twin, rng):
    acts = ACTS[1:] if name in ACT_OPS else [NONE]
    for act in acts:
        _compare(name, _case(name, dtype, size, rng, act), twin, dtype)


def test_an_output_element_left_unwritten_by_kernel_and_twin_is_caught(monkeypatch):
    """Both skip out[-1]: they agree (NaN == NaN), but the run whose outputs start at -7 ends
    with -7 there."""
    def skip_last(x, act, out):
        out[:-1] = np.maximum(x[:-1], 0)
    fake = types.SimpleNamespace(serial=skip_last, parallel=skip_last)
    monkeypatch.setattr(sys.modules[__name__], "_op", lambda name: fake)
    monkeypatch.setattr(sys.modules[__name__], "_ref", lambda name: skip_last)
    args = _case("act_forward", np.float64, 5, np.random.default_rng(0), RELU)
    with pytest.raises(AssertionError, match="act_forward: argument 2 not all written"):
        _compare("act_forward", args, "serial", np.float64)


def test_every_kernel_has_a_twin_with_the_same_signature():
    assert [m.__name__.rsplit(".", 1)[1] for m in kernels.MODULES] == \
           [m.__name__.rsplit(".", 1)[1] for m in reference.MODULES]
    for km, rm in zip(kernels.MODULES, reference.MODULES):
        assert km.__all__ == rm.__all__
        for name in km.__all__:
            k = getattr(km, name)
            ks = inspect.signature(k.serial.py_func)
            assert ks == inspect.signature(getattr(rm, name)), name
            assert k.__doc__ and getattr(rm, name).__doc__, name
            assert _constants_read(k) == _constants_read(getattr(rm, name)), name


CONSTANT_NAMES = {name for name in vars(constants) if name.isupper()}
FORMULA_FLOATS = {0.0, 0.5, 1.0, 2.0}  # the structure of formulas (1 - momentum, 0.5 * dstd)
TUNING_FLOATS = {"PACK_COST"}  # kernels/gemm.py's tiling cost model: it picks tiles, not values


def _constants_read(fn, seen=None):
    """Names from fastscratch.constants that fn reads, itself or through the fastscratch
    functions it calls (kernels, inlined helpers, other twins); fails on any other float."""
    fn = getattr(getattr(fn, "serial", fn), "py_func", fn)
    seen = set() if seen is None else seen
    if fn in seen:
        return set()
    seen.add(fn)
    found = set()
    code = fn.__code__
    floats = {c for c in code.co_consts if isinstance(c, float)}
    assert floats <= FORMULA_FLOATS, \
        f"{fn.__qualname__} types the literals {floats - FORMULA_FLOATS}"
    for name in code.co_names:
        value = fn.__globals__.get(name)
        if name in CONSTANT_NAMES and value is getattr(constants, name):
            found.add(name)
        elif isinstance(value, (float, np.floating)) and name not in TUNING_FLOATS:
            raise AssertionError(f"{fn.__qualname__} reads the float {name} = {value!r}, which "
                                 "is not from fastscratch.constants")
        elif callable(value) and getattr(value, "__module__", "").startswith("fastscratch."):
            found |= _constants_read(value, seen)
    return found


def test_constants_come_from_the_constants_module():
    """The check above can fail: a literal epsilon or a module's own constant is caught."""
    def twin(y):
        return np.log(y + 1e-7)

    with pytest.raises(AssertionError, match=r"types the literals \{1e-07\}"):
        _constants_read(twin)
    assert _constants_read(reference.softmax_ce.softmax_ce_forward_dense) == {"CROSS_ENTROPY_EPS"}
    assert _constants_read(kernels.batchnorm.bn_forward_eval) >= {"BATCHNORM_EPS"}


ARITHMETIC = ("binop", "inplace_binop", "unary", "call")


def _float64_lines(fn, args):
    """The source lines where fn, compiled for args, computes array values in float64, as
    (file, line number, text). Array values: float arrays, their elements and whatever
    arithmetic or calls take them in (not shapes or sizes, so index and tiling arithmetic is
    left out)."""
    fresh = numba.njit(error_model="numpy")(fn)  # uncached, so the typing is done here
    left_out = list(inspect.signature(fn).parameters.values())[len(args):]
    fresh.compile(tuple(numba.typeof(a) for a in args) +
                  tuple(nb.Omitted(p.default) for p in left_out))
    annotation = next(iter(fresh.overloads.values())).type_annotation
    typemap = annotation.typemap
    stmts = [stmt for block in annotation.blocks.values() for stmt in block.body
             if isinstance(stmt, ir.Assign)]
    data = {name for name, t in typemap.items()
            if isinstance(t, nb.Array) and isinstance(t.dtype, nb.Float)}
    changed = True
    while changed:  # propagate through the function until nothing new is reached
        changed = False
        for stmt in stmts:
            value, target = stmt.value, stmt.target.name
            if target in data:
                continue
            if isinstance(value, ir.Var):
                reads = value.name in data
            elif isinstance(value, ir.Expr) and value.op != "getattr":
                reads = any(v.name in data for v in value.list_vars())
            else:
                reads = False
            if reads and isinstance(typemap[target], (nb.Float, nb.Array)):
                data.add(target)
                changed = True
    lines = set()
    for stmt in stmts:
        t = typemap[stmt.target.name]
        if stmt.target.name in data and isinstance(stmt.value, ir.Expr) and \
                stmt.value.op in ARITHMETIC and \
                (t == nb.float64 or isinstance(t, nb.Array) and t.dtype == nb.float64):
            text = linecache.getline(stmt.loc.filename, stmt.loc.line).strip()
            lines.add((stmt.loc.filename, stmt.loc.line, text))
    return lines


@pytest.mark.parametrize("name", MATRIX_OPS + SOFTMAX_OPS + FLAT_OPS)
def test_float32_kernels_compute_in_float32(name):
    """The precision rule of fastscratch.constants: on float32 input a kernel computes in
    float32, except on the lines marked '# float64' (the float64 accumulators of scalar sums);
    a float64 constant or an int count in array arithmetic fails."""
    shape = (7, 13) if name in MATRIX_OPS + SOFTMAX_OPS else 17
    args = _case(name, np.float32, shape, np.random.default_rng(0),
                 SIGMOID if name in ACT_OPS else NONE)
    _assert_float32_arithmetic(name, args)


def _assert_float32_arithmetic(name, args):
    lines = _float64_lines(_op(name).serial.py_func, args)
    unmarked = sorted(text for _, _, text in lines if "# float64" not in text)
    assert not unmarked, f"{name} computes in float64 on float32 input: {unmarked}"


def test_the_float64_check_catches_a_promoting_constant_or_count():
    def promoting(x, out, momentum):
        for i in range(x.size):
            out[i] = x[i] + BATCHNORM_EPS
            out[i] = x[i] / x.size
            out[i] = x[i] * x.dtype.type(BATCHNORM_EPS)
            out[i] = x[i] * x.dtype.type(1.0 - momentum / x.size)

    x = np.ones(3, np.float32)
    texts = {text for _, _, text in _float64_lines(promoting, [x, x, 0.9])}
    assert texts == {"out[i] = x[i] + BATCHNORM_EPS", "out[i] = x[i] / x.size"}


# Convolution geometries (N, C, H, W, FN, FH, FW, stride, pad): MNIST-like, stride > 1, pad > 0,
# odd and non-square sizes, batch 1, 1x1 filters, a filter as large as the padded image; pooling
# uses (N, C, H, W, pool_h, pool_w, stride, pad) from the same tuples (FN left out), so it meets
# overlapping windows (stride < pool) and windows reaching into the padding; the last two are
# the nets' 2x2 pooling (its unrolled path) on odd sides, at stride 2 and overlapping at stride 1.
# From (17, 16, ...) on, 16 or more channels: the per-tap products on shifted views of
# kernels/conv.py (by_shifts) at pad 1, 0 and 2 (non-square, a 3x2 filter), backward too where
# OW >= 5 (FW - 1), forward only at 8x8 outputs, and at stride 2 the patch matrix again. The
# last four (9x9 outputs) run backward's dW on patches in groups of patch_group images (3 here)
# within blocks of 3 or 4 (a partial group): with 16 channels on channels-last patches at pad
# 1, 0 and 2, dx on shifted views; with 3 channels on the patch matrix, dx by col2im.
CONV_GEOMETRIES = [(4, 1, 28, 28, 3, 5, 5, 1, 0), (1, 3, 7, 9, 4, 3, 3, 2, 1),
                   (3, 2, 11, 6, 5, 3, 2, 1, 2), (2, 4, 8, 8, 6, 1, 1, 1, 0),
                   (5, 3, 10, 10, 2, 4, 3, 3, 1), (1, 1, 3, 3, 2, 5, 5, 1, 1),
                   (3, 4, 9, 8, 5, 2, 2, 2, 0), (2, 3, 7, 5, 4, 2, 2, 1, 0),
                   (17, 16, 12, 12, 16, 3, 3, 1, 1), (3, 16, 12, 12, 8, 3, 3, 1, 0),
                   (2, 20, 11, 13, 4, 3, 2, 1, 2), (3, 16, 8, 8, 32, 3, 3, 1, 1),
                   (2, 16, 13, 11, 5, 3, 3, 2, 1), (50, 16, 9, 9, 4, 3, 3, 1, 1),
                   (50, 16, 11, 11, 4, 3, 3, 1, 0), (50, 16, 7, 7, 4, 3, 3, 1, 2),
                   (50, 3, 9, 9, 4, 3, 3, 1, 1)]
CONV_OPS = ["conv_forward", "conv_backward", "pool_forward", "pool_backward"]


def _conv_case(name, dtype, geometry, rng, act, need_dx=True):
    """Arguments for one call of a convolution or pooling op."""
    n, c, h, w, fn, fh, fw, stride, pad = geometry
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    e = lambda *s: np.full(s, np.nan, dtype=dtype)
    if name == "conv_forward":
        return [r(n, c, h, w), r(fn, c, fh, fw), r(fn), stride, pad, act, e(n, fn, oh, ow)]
    if name == "conv_backward":
        x, out = r(n, c, h, w), np.empty((n, fn, oh, ow), dtype)
        reference.conv.conv_forward(x, r(fn, c, fh, fw), r(fn), stride, pad, act, out)
        dout = r(n, fn, oh, ow)
        return [dout, dout if act == NONE else out, act, x, r(fn, c, fh, fw), stride, pad,
                e(fn, c, fh, fw), e(fn), e(n, c, h, w) if need_dx else None]
    arg_max = np.full(n * oh * ow * c, -1, np.intp)
    if name == "pool_forward":
        return [r(n, c, h, w), fh, fw, stride, pad, e(n, c, oh, ow), arg_max]
    reference.pool.pool_forward(r(n, c, h, w), fh, fw, stride, pad, e(n, c, oh, ow), arg_max)
    return [r(n, c, oh, ow), arg_max, fh, fw, stride, pad, e(n, c, h, w)]


# Convolution -> act -> Pooling(2, 2, stride 2) in one kernel (conv_forward's pooled and codes,
# conv_backward's codes): even and odd outputs (odd: the last row or column is in no window, as
# in the book's pool), on the patch matrix (C < 16, stride 2), on shifted views forward and
# backward, and on shifted views forward only (7x7 outputs, backward on patches).
POOLED_GEOMETRIES = [CONV_GEOMETRIES[0], CONV_GEOMETRIES[1], CONV_GEOMETRIES[2],
                     CONV_GEOMETRIES[8], CONV_GEOMETRIES[10], (3, 16, 7, 7, 8, 3, 3, 1, 1)]
POOLED_OPS = ["conv_forward", "conv_backward"]


def _pooled_conv_case(name, dtype, geometry, rng, act, need_dx=True):
    """Arguments for one call of a convolution op with the 2x2 stride-2 pool fused."""
    n, c, h, w, fn, fh, fw, stride, pad = geometry
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    pooled_shape = (n, fn, oh // 2, ow // 2)
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    e = lambda *s: np.full(s, np.nan, dtype=dtype)
    x, W, b = r(n, c, h, w), r(fn, c, fh, fw), r(fn)
    if name == "conv_forward":  # codes start out of range: each must be written
        return [x, W, b, stride, pad, act, e(n, fn, oh, ow), e(*pooled_shape),
                np.full(pooled_shape, 9, np.uint8)]
    out, pooled = np.empty((n, fn, oh, ow), dtype), np.empty(pooled_shape, dtype)
    codes = np.empty(pooled_shape, np.uint8)
    reference.conv.conv_forward(x, W, b, stride, pad, act, out, pooled, codes)
    dpool = r(*pooled_shape)
    return [dpool, dpool if act == NONE else pooled, act, x, W, stride, pad, e(fn, c, fh, fw),
            e(fn), e(n, c, h, w) if need_dx else None, codes]


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("geometry", POOLED_GEOMETRIES, ids=lambda g: "x".join(map(str, g)))
@pytest.mark.parametrize("name", POOLED_OPS)
def test_pooled_conv_kernels_match_reference(name, geometry, dtype, twin, rng):
    """As test_conv_kernels_match_reference, with the pool fused; inference and training
    forward are the same call."""
    for act in ACTS:
        for need_dx in ([True, False] if name == "conv_backward" else [True]):
            _compare(name, _pooled_conv_case(name, dtype, geometry, rng, act, need_dx), twin,
                     dtype)


def test_pooled_conv_kernels_equal_conv_then_pool_kernels(rng):
    """The fused kernels give exactly what conv_forward then pool_forward give (and backward
    pool_backward then conv_backward): the same operations in the same order."""
    for geometry in POOLED_GEOMETRIES:
        n, c, h, w, fn, fh, fw, stride, pad = geometry
        for act in ACTS:
            fwd = _pooled_conv_case("conv_forward", np.float64, geometry, rng, act)
            kernels.conv.conv_forward(*fwd)
            out, pooled, codes = fwd[6:]
            alone = np.empty_like(pooled)
            arg_max = np.empty(pooled.size, np.intp)
            kernels.pool.pool_forward(fwd[6].copy(), 2, 2, 2, 0, alone, arg_max)
            np.testing.assert_array_equal(pooled, alone)
            np.testing.assert_array_equal(codes.transpose(0, 2, 3, 1).reshape(-1), arg_max)
            dpool = rng.standard_normal(pooled.shape)
            grads = [np.empty_like(fwd[1]), np.empty(fn), np.empty_like(fwd[0])]
            kernels.conv.conv_backward(dpool, dpool if act == NONE else pooled, act, fwd[0],
                                       fwd[1], stride, pad, *grads, codes)
            dy = np.empty_like(out)
            kernels.pool.pool_backward(dpool, arg_max, 2, 2, 2, 0, dy)
            want = [np.empty_like(g) for g in grads]
            kernels.conv.conv_backward(dy, dy if act == NONE else out, act, fwd[0], fwd[1],
                                       stride, pad, *want)
            for got, wanted in zip(grads, want):
                np.testing.assert_array_equal(got, wanted)


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=lambda g: "x".join(map(str, g)))
@pytest.mark.parametrize("name", CONV_OPS)
def test_conv_kernels_match_reference(name, geometry, dtype, twin, rng):
    """Sums here run over at most C*FH*FW = 144 (forward) or N*OH*OW = 4050 terms (dW), within
    the float32 tolerance argued above."""
    acts = ACTS if name.startswith("conv") else [NONE]
    for act in acts:
        for need_dx in ([True, False] if name == "conv_backward" else [True]):
            _compare(name, _conv_case(name, dtype, geometry, rng, act, need_dx), twin, dtype)
    if name == "pool_forward":  # inference: an empty arg_max keeps nothing
        args = _conv_case(name, dtype, geometry, rng, NONE)
        args[-1] = args[-1][:0]
        _compare(name, args, twin, dtype)


# conv_forward and conv_backward with ``direct`` (kernels/conv.py's direct3x3 and, from 12
# output rows, weight_grad3x3: Numba's own loops for 3x3 stride-1 layers): 16, 20 and fewer channels (1, 3), pad 1, 2 and 0, odd and non-square
# sides, filter counts that end in a partial pass (5, 6, 9); float32 runs it from 12 output rows
# (DIRECT_MIN_OH_F32) and keeps the products at the last geometry's 8 x 8.
DIRECT_GEOMETRIES = [(3, 16, 12, 12, 8, 3, 3, 1, 1), (2, 3, 13, 12, 5, 3, 3, 1, 2),
                     (2, 20, 14, 13, 6, 3, 3, 1, 0), (4, 1, 14, 14, 9, 3, 3, 1, 1),
                     (17, 16, 12, 12, 16, 3, 3, 1, 1), (3, 16, 8, 8, 32, 3, 3, 1, 1)]


def _direct_case(name, pooled, dtype, geometry, rng, act, need_dx=True):
    """_conv_case or _pooled_conv_case with ``direct`` (and the pool's arguments) given."""
    if pooled:
        return _pooled_conv_case(name, dtype, geometry, rng, act, need_dx) + [True]
    rest = [None, None, True] if name == "conv_forward" else [None, True]
    return _conv_case(name, dtype, geometry, rng, act, need_dx) + rest


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("geometry", DIRECT_GEOMETRIES, ids=lambda g: "x".join(map(str, g)))
@pytest.mark.parametrize("pooled", [False, True], ids=["conv", "pooled"])
@pytest.mark.parametrize("name", POOLED_OPS)
def test_direct_conv_kernels_match_reference(name, pooled, geometry, dtype, twin, rng):
    """As test_conv_kernels_match_reference, on direct3x3's loops."""
    for act in ACTS:
        for need_dx in ([True, False] if name == "conv_backward" else [True]):
            _compare(name, _direct_case(name, pooled, dtype, geometry, rng, act, need_dx), twin,
                     dtype)


def test_direct_geometries_meet_direct3x3():
    """DIRECT_GEOMETRIES run direct3x3 in both dtypes but float32's at 8 x 8, which keeps the
    products, and weight_grad3x3 but at 8 x 8."""
    from fastscratch.kernels import conv
    for n, c, h, w, fn, fh, fw, stride, pad in DIRECT_GEOMETRIES:
        oh = (h + 2 * pad - fh) // stride + 1
        assert conv.direct_3x3(True, stride, fh, fw, oh, 8)
        assert conv.direct_3x3(True, stride, fh, fw, oh, 4) == (oh > 8)
        assert conv.direct_dw3x3(True, stride, fh, fw, oh) == (oh > 8)
        assert not conv.direct_3x3(False, stride, fh, fw, oh, 8)
        assert not conv.direct_dw3x3(False, stride, fh, fw, oh)


class _FakeBlas:
    def __init__(self, internal_api, architecture):
        self.internal_api, self.architecture = internal_api, architecture


@pytest.mark.parametrize("avx512,libs,pays", [
    (True, [("openblas", "Haswell")], True),
    (True, [("openblas", "Zen")], True),
    (True, [("openblas", "SkylakeX")], False),
    (True, [("openblas", "Haswell"), ("openblas", "SapphireRapids")], False),
    (True, [("mkl", None)], False),
    (True, [], False),
    (False, [("openblas", "Haswell")], False)])
def test_direct_pays_where_blas_is_narrower_than_the_host(monkeypatch, avx512, libs, pays):
    """kernels.conv.direct_pays: Numba's loops where the host has AVX-512 and every kernel
    BLAS is an OpenBLAS core without it."""
    import llvmlite.binding as llvm
    from fastscratch import threads
    from fastscratch.kernels import conv
    monkeypatch.setattr(llvm, "get_host_cpu_features", lambda: {"avx512f": avx512})
    monkeypatch.setattr(threads, "blas_pools",
                        lambda: ([_FakeBlas(*lib) for lib in libs], []))
    assert conv.direct_pays() is pays


def test_direct_convolution_is_off_on_the_twins(monkeypatch):
    """backend.direct_convolution: the machine's choice on the numba backend, False on the
    NumPy twins (which ignore it)."""
    from fastscratch import backend
    from fastscratch.kernels import conv
    monkeypatch.setattr(conv, "direct_pays", lambda: True)
    monkeypatch.setattr(backend, "_direct", None)
    with backend.use_backend("numpy"):
        assert backend.direct_convolution() is False
    with backend.use_backend("numba"):
        assert backend.direct_convolution() is True


@pytest.mark.parametrize("value,pays,direct", [("on", False, True), ("off", True, False),
                                               (" OFF ", True, False), ("auto", True, True),
                                               ("auto", False, False), (None, True, True)])
def test_direct_conv_setting_overrides_the_machine(monkeypatch, value, pays, direct):
    """FASTSCRATCH_DIRECT_CONV: on and off win over direct_pays, auto (the default) asks it."""
    from fastscratch import backend
    from fastscratch.kernels import conv
    monkeypatch.setattr(conv, "direct_pays", lambda: pays)
    monkeypatch.setattr(backend, "_direct", None)
    if value is None:
        monkeypatch.delenv("FASTSCRATCH_DIRECT_CONV", raising=False)
    else:
        monkeypatch.setenv("FASTSCRATCH_DIRECT_CONV", value)
    with backend.use_backend("numba"):
        assert backend.direct_convolution() is direct


def test_direct_conv_setting_refuses_other_values(monkeypatch):
    from fastscratch import backend
    monkeypatch.setattr(backend, "_direct", None)
    monkeypatch.setenv("FASTSCRATCH_DIRECT_CONV", "yes")
    with backend.use_backend("numba"), \
            pytest.raises(ValueError, match="FASTSCRATCH_DIRECT_CONV must be auto, on or off, "
                                            "got 'yes'"):
        backend.direct_convolution()


def _backward_paths(geometry):
    """(dW on shifted views, dx on shifted views, images per dW product on patches, most
    images in a block) of kernels/conv.py's conv_backward at ``geometry``."""
    from fastscratch.kernels import _common, conv
    n, c, h, w, fn, fh, fw, stride, pad = geometry
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    nb = _common.image_blocks(n)
    return (conv.by_shifts(stride, c, fw, ow, True), conv.by_shifts(stride, c, fw, ow, False),
            conv.patch_group(oh * ow, n, nb), -(-n // nb))


def test_conv_geometries_meet_every_backward_path():
    """CONV_GEOMETRIES run dW and dx on shifted views; and dW on patches in groups of several
    images, a block holding more images than a group (so a group is partial): channels-last
    patches (where dx runs on shifted views) at pad 0, 1 and 2, and the patch matrix with dx by
    col2im."""
    paths = {g: _backward_paths(g) for g in CONV_GEOMETRIES}
    assert any(dw and dx for dw, dx, _, _ in paths.values())
    grouped = [(g[-1], dx) for g, (dw, dx, group, most) in paths.items()
               if not dw and 1 < group < most and most % group]
    assert sorted(grouped) == [(0, True), (1, False), (1, True), (2, True)]


def test_sums_helpers_compute_float32_in_float32():
    """The precision rule for the conv kernels' ``sums`` helpers, compiled apart from them."""
    from fastscratch.kernels import conv
    f32 = lambda *s: np.ones(s, np.float32)
    for fn, args in [(conv.weight_grad3x3, [f32(3, 45), 5, 40, f32(2, 64), 8, f32(3, 2, 9)]),
                     (conv.direct3x3, [f32(5, 2, 9), f32(2, 70), 6, 8, f32(5, 46), 6, 40])]:
        lines = _float64_lines(fn.py_func, args)
        assert not lines, f"{fn.__name__} computes in float64 on float32 input: {lines}"


@pytest.mark.parametrize("geometry", [CONV_GEOMETRIES[1], (2, 16, 12, 12, 4, 3, 3, 1, 1),
                                      CONV_GEOMETRIES[-3], CONV_GEOMETRIES[-1]],
                         ids=["patches", "shifted-views", "grouped-channels-last",
                              "grouped-patches"])
@pytest.mark.parametrize("name,pooled", [(name, False) for name in CONV_OPS] +
                         [(name, True) for name in POOLED_OPS])
def test_float32_conv_kernels_compute_in_float32(name, pooled, geometry):
    """The precision rule, as test_float32_kernels_compute_in_float32."""
    case = _pooled_conv_case if pooled else _conv_case
    args = case(name, np.float32, geometry, np.random.default_rng(0), SIGMOID)
    _assert_float32_arithmetic(name, args)


@pytest.mark.parametrize("geometry", [(37, 3, 12, 12, 8, 3, 3, 1, 1),
                                      (37, 16, 12, 12, 8, 3, 3, 1, 1),
                                      (90, 16, 8, 8, 8, 3, 3, 1, 1),
                                      (90, 3, 8, 8, 8, 3, 3, 1, 1)],
                         ids=["patches", "shifted-views", "grouped-channels-last",
                              "grouped-patches"])
def test_conv_results_do_not_depend_on_thread_count(geometry):
    """The parallel twins on 1 and on every thread give bit-identical results."""
    import numba
    rng = np.random.default_rng(2)
    cases = {(name, False): _conv_case(name, np.float64, geometry, rng, RELU)
             for name in CONV_OPS}
    cases.update({(name, True): _pooled_conv_case(name, np.float64, geometry, rng, RELU)
                  for name in POOLED_OPS})
    if geometry[5:8] == (3, 3, 1):  # and on direct3x3's loops
        cases.update({(name, pooled, "direct"): _direct_case(name, pooled, np.float64,
                                                             geometry, rng, RELU)
                      for name in POOLED_OPS for pooled in (False, True)})
    results = []
    for n in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(n)
        run = {}
        for key, args in cases.items():
            args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            getattr(_op(key[0]), "parallel")(*args)
            run[key] = [a for a in args if isinstance(a, np.ndarray)]
        results.append(run)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for key in cases:
        for got, want in zip(results[1][key], results[0][key]):
            np.testing.assert_array_equal(got, want, err_msg=str(key))


def _double(a):
    for i in prange(a.size):
        a[i] *= 2


def test_dispatch_picks_the_twin_by_size():
    """Below parallel_min the serial twin runs, at or above it the parallel one; same result."""
    k = kernel(_double, parallel_min=100)
    small, big = np.ones(10), np.ones(100)
    k(small)
    assert k.serial.signatures and not k.parallel.signatures
    k(big)
    assert k.parallel.signatures
    assert k.parallel.py_func.__qualname__ == k.serial.py_func.__qualname__ + "__parallel"
    np.testing.assert_array_equal(small, 2.0)
    np.testing.assert_array_equal(big, 2.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_ce_is_stable_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    y = np.empty_like(x)
    loss = kernels.softmax_ce.softmax_ce_forward(x, np.array([1, 2]), y)
    assert np.isfinite(loss) and np.isfinite(y).all()
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    # -log(0 + 1e-7) for the first row, -log(1/3 + 1e-7) for the second, as the book computes
    np.testing.assert_allclose(loss, (-np.log(1e-7) - np.log(1 / 3 + 1e-7)) / 2, rtol=1e-5)


def test_relu_keeps_nan_like_the_book():
    x, W = np.ones((1, 1)), np.array([[np.nan, -1.0, 2.0]])
    out = np.empty((1, 3))
    kernels.affine.affine_forward(x, W, np.zeros(3), RELU, out)
    assert np.isnan(out[0, 0]) and out[0, 1] == 0 and out[0, 2] == 2


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_affine_backward_without_dx_matches_reference(twin, dtype, rng):
    """need_dx=False (the first layer): dx is None, every other output as with dx."""
    args = _case("affine_backward", dtype, (130, 70), rng, RELU)
    args[-1] = None
    ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    getattr(kernels.affine.affine_backward, twin)(*args)
    reference.affine.affine_backward(*ref_args)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for got, want in zip(args[5:8], ref_args[5:8]):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_kernel_results_do_not_depend_on_thread_count():
    """Fixed row blocks for the sums and tiles fixed by the shapes for the products give
    bit-identical results for any thread count."""
    import numba
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((1000, 300)), rng.standard_normal((300, 1024)), np.zeros(1024)
    dout, y = rng.standard_normal((1000, 1024)), rng.random((1000, 1024))
    results = []
    for twin, n in [("serial", 1)] + [("parallel", n) for n in
                                      sorted({1, numba.config.NUMBA_NUM_THREADS})]:
        numba.set_num_threads(n)
        out, dz, db = np.empty((1000, 1024)), np.empty_like(dout), np.empty(1024)
        dW, dx = np.empty((300, 1024)), np.empty((1000, 300))
        getattr(kernels.affine.affine_forward, twin)(x, W, b, RELU, out)
        getattr(kernels.affine.affine_backward, twin)(dout, y, RELU, x, W, dz, db, dW, dx)
        results.append((out, dz, db, dW, dx))
    numba.set_num_threads(fastscratch.get_num_threads())
    for other in results[1:]:
        for one, many in zip(results[0], other):
            np.testing.assert_array_equal(one, many)
