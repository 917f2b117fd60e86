"""One benchmark per hot-path kernel: the NumPy reference twin against the Numba kernel's serial
and parallel twins (one 'numba' entry for kernels compiled serial only), per dtype and size.

Kernels take inputs then preallocated outputs; optimizer updates run over every parameter array
of a net (or one 10M-element array) with scalars cast to the array dtype. Kernels that change
their inputs in place get them restored before every timed round.
"""
import time

import numpy as np
import pytest
import settings

from fastscratch import kernels, reference
from fastscratch.constants import OPTIMIZER_EPS, RELU
from fastscratch.benchtools.results import tag
from fastscratch.benchtools.steps import layer_sizes

# optimizer: (number of state arrays, scalars before the cast to the array dtype)
OPTIM_KERNELS = {"sgd": (0, (0.01,)), "momentum": (1, (0.01, 0.9)),
                 "nesterov": (1, (0.01, 0.9)), "adagrad": (1, (0.01, OPTIMIZER_EPS)),
                 "rmsprop": (1, (0.01, 0.99, OPTIMIZER_EPS)),
                 "adam": (2, (0.001, 0.9, 0.999, OPTIMIZER_EPS))}


def implementations(module, name):
    """{impl: function}: the NumPy twin, then the serial and parallel twins (or one 'numba')."""
    k = getattr(getattr(kernels, module), name)
    impls = {"numpy": getattr(getattr(reference, module), name)}
    if k.serial is k.parallel:
        impls["numba"] = k.serial
    else:
        impls.update(serial=k.serial, parallel=k.parallel)
    return impls


def size_label(size):
    """'100x1024' for (100, 1024); a parameter-set name as it is."""
    return size if isinstance(size, str) else "x".join(map(str, size))


def _relu_out(rng, shape, dtype):
    return np.maximum(rng.standard_normal(shape), 0).astype(dtype)


AFFINE_IN = 784  # the inner size of the affine products: an MNIST image


def build_affine_forward(shape, dtype, rng):
    x = rng.standard_normal((shape[0], AFFINE_IN)).astype(dtype)
    W = rng.standard_normal((AFFINE_IN, shape[1])).astype(dtype)
    return [(x, W, rng.standard_normal(shape[1]).astype(dtype), RELU,
             np.empty(shape, dtype))], ()


def build_affine_backward(shape, dtype, rng):
    dout = rng.standard_normal(shape).astype(dtype)
    x = rng.standard_normal((shape[0], AFFINE_IN)).astype(dtype)
    W = rng.standard_normal((AFFINE_IN, shape[1])).astype(dtype)
    return [(dout, _relu_out(rng, shape, dtype), RELU, x, W, np.empty_like(dout),
             np.empty(shape[1], dtype), np.empty_like(W), np.empty_like(x))], ()


def build_softmax_ce_forward(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, shape[1], shape[0]).astype(np.uint8)
    return [(x, t, np.empty_like(x))], ()


def build_softmax_ce_backward(shape, dtype, rng):
    y = rng.random(shape).astype(dtype)
    y /= y.sum(axis=1, keepdims=True)
    t = rng.integers(0, shape[1], shape[0]).astype(np.uint8)
    return [(y, t, dtype.type(1.0), np.empty_like(y))], ()


def build_bn_forward_train(shape, dtype, rng):
    n, d = shape
    x = rng.standard_normal(shape).astype(dtype)
    gamma, beta = np.ones(d, dtype), np.zeros(d, dtype)
    args = (x, gamma, beta, 0.9, rng.random(d).astype(dtype), rng.random(d).astype(dtype),
            RELU, np.empty_like(x), np.empty(d, dtype), np.empty_like(x))
    return [args], (4, 5)  # running_mean, running_var are updated in place


def build_bn_backward(shape, dtype, rng):
    (fwd,), _ = build_bn_forward_train(shape, dtype, rng)
    reference.batchnorm.bn_forward_train(*fwd)
    x, gamma, _, _, _, _, act, xn, std, out = fwd
    return [(rng.standard_normal(shape).astype(dtype), out, act, xn, std, gamma,
             np.empty_like(x), np.empty_like(std), np.empty_like(std))], ()


def build_dropout_forward(shape, dtype, rng):
    x = rng.standard_normal(shape[0] * shape[1]).astype(dtype)
    u = rng.random(x.size)  # float64 draws, as the Dropout layer makes them
    return [(x, u, 0.5, np.empty(x.size, bool), np.empty_like(x))], ()


def build_dropout_backward(shape, dtype, rng):
    dout = rng.standard_normal(shape[0] * shape[1]).astype(dtype)
    return [(dout, rng.random(dout.size) > 0.5, np.empty_like(dout))], ()


def _conv_geometry(case, dtype, rng):
    """x, W, b and the output size of a settings.CONV_CASES entry."""
    n, c, h, w, fn, fh, fw, stride, pad = settings.CONV_CASES[case]
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = (rng.standard_normal((fn, c, fh, fw)) * 0.1).astype(dtype)
    return x, W, rng.standard_normal(fn).astype(dtype), stride, pad, (oh, ow)


def _conv_direct():
    """The conv kernels' ``direct`` as the layers pass it on this machine
    (kernels.conv.direct_pays), in a tuple; empty for a revision whose kernels predate it (a
    `bench ab` side)."""
    pays = getattr(kernels.conv, "direct_pays", None)
    return () if pays is None else (pays(),)


def build_conv_forward(case, dtype, rng):
    x, W, b, stride, pad, (oh, ow) = _conv_geometry(case, dtype, rng)
    out = np.empty((x.shape[0], W.shape[0], oh, ow), dtype)
    direct = _conv_direct()
    return [(x, W, b, stride, pad, RELU, out) + ((None, None) + direct if direct else ())], ()


def build_conv_backward(case, dtype, rng):
    """dW, db and dx (the inner layers' backward) through a fused ReLU."""
    (fwd,), _ = build_conv_forward(case, dtype, rng)
    x, W, b, stride, pad, act, out = fwd[:7]
    reference.conv.conv_forward(x, W, b, stride, pad, act, out)
    dout = rng.standard_normal(out.shape).astype(dtype)
    direct = _conv_direct()
    grads = (np.empty_like(W), np.empty(W.shape[0], dtype), np.empty_like(x))
    return [(dout, out, act, x, W, stride, pad) + grads +
            ((None,) + direct if direct else ())], ()


def build_pool_forward(case, dtype, rng):
    n, c, h, w, ph, pw, stride, pad = settings.POOL_CASES[case]
    oh, ow = (h + 2 * pad - ph) // stride + 1, (w + 2 * pad - pw) // stride + 1
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    return [(x, ph, pw, stride, pad, np.empty((n, c, oh, ow), dtype),
             np.empty(n * oh * ow * c, np.intp))], ()


def build_pool_backward(case, dtype, rng):
    (fwd,), _ = build_pool_forward(case, dtype, rng)
    reference.pool.pool_forward(*fwd)
    x, ph, pw, stride, pad, out, arg_max = fwd
    dout = rng.standard_normal(out.shape).astype(dtype)
    return [(dout, arg_max, ph, pw, stride, pad, np.empty_like(x))], ()


def param_sizes(name):
    """Element counts of the arrays of a parameter set: a net's W and b per layer, or 'flat10M'."""
    if name == "flat10M":
        return [10_000_000]
    sizes = layer_sizes(name)
    return [n for a, b in zip(sizes[:-1], sizes[1:]) for n in (a * b, b)]


def optimizer_builder(name):
    """Builder of one update call per parameter array: (p, g, states..., scalars...)."""
    n_states, scalars = OPTIM_KERNELS[name]

    def build(param_set, dtype, rng):
        calls = []
        for size in param_sizes(param_set):
            p = rng.standard_normal(size).astype(dtype)
            g = rng.standard_normal(size).astype(dtype)
            states = tuple(rng.random(size).astype(dtype) for _ in range(n_states))
            calls.append((p, g) + states + tuple(dtype.type(s) for s in scalars))
        return calls, (0,) + tuple(range(2, 2 + n_states))
    return build


MATRIX = [("affine", "affine_forward"), ("affine", "affine_backward"),
          ("batchnorm", "bn_forward_train"), ("batchnorm", "bn_backward"),
          ("dropout", "dropout_forward"), ("dropout", "dropout_backward")]
CLASSES = [("softmax_ce", "softmax_ce_forward"), ("softmax_ce", "softmax_ce_backward")]
CONV = [("conv", "conv_forward"), ("conv", "conv_backward")]
POOL = [("pool", "pool_forward"), ("pool", "pool_backward")]
BUILDERS = {name: globals()["build_" + name] for _, name in MATRIX + CLASSES + CONV + POOL}
BUILDERS.update({name: optimizer_builder(name) for name in OPTIM_KERNELS})
IMPLS = {name: implementations(module, name) for module, name in
         MATRIX + CLASSES + CONV + POOL + [("optim", o) for o in OPTIM_KERNELS]}


def _cases():
    sizes = [(MATRIX, settings.SHAPES), (CLASSES, settings.CLASS_SHAPES),
             (CONV, settings.CONV_CASES), (POOL, settings.POOL_CASES),
             ([("optim", o) for o in OPTIM_KERNELS], settings.PARAM_SETS)]
    for names, size_list in sizes:
        for _, name in names:
            for size in size_list:
                for dtype in settings.DTYPES:
                    for impl in IMPLS[name]:
                        yield pytest.param(name, size, dtype, impl,
                                           id=f"{name}-{size_label(size)}-{dtype}-{impl}")


def time_calls(benchmark, fn, calls, fresh):
    """Time ``fn`` over every argument tuple in ``calls`` after one untimed warm-up call (JIT);
    with ``fresh`` argument indices, those arrays are restored before every round."""
    def run():
        for args in calls:
            fn(*args)

    t0 = time.perf_counter()
    run()
    elapsed = time.perf_counter() - t0
    if not fresh:
        return benchmark(run)
    saved = [[args[i].copy() for i in fresh] for args in calls]

    def restore():
        for args, originals in zip(calls, saved):
            for i, original in zip(fresh, originals):
                np.copyto(args[i], original)

    rounds = int(min(max(settings.ROUND_BUDGET / max(elapsed, 1e-9), 5), 2000))
    return benchmark.pedantic(run, setup=restore, rounds=rounds, warmup_rounds=1)


@pytest.mark.parametrize("name,size,dtype,impl", list(_cases()))
def test_kernel(benchmark, name, size, dtype, impl):
    dtype = np.dtype(dtype)
    calls, fresh = BUILDERS[name](size, dtype, np.random.default_rng(0))
    elements = sum(args[0].size for args in calls)
    extra = {"elements": elements}
    if name in OPTIM_KERNELS:  # bytes read and written: p, g and the state, then p and state
        extra["bytes"] = (3 + 2 * OPTIM_KERNELS[name][0]) * elements * dtype.itemsize
    tag(benchmark, "kernel", name, f"{size_label(size)}-{dtype.name}", impl, **extra)
    time_calls(benchmark, IMPLS[name][impl], calls, fresh)
