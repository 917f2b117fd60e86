"""Property-based: random shapes, dtypes, memory layouts and values (NaN and Inf included) thrown
at layers, networks and optimizers. Every call either raises a ValueError/TypeError whose
message names the offending argument, or returns what the NumPy reference backend returns;
both backends reject exactly the same inputs with the same message."""
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastscratch
from fastscratch import MultiLayerNetExtend
from fastscratch.layers import (Affine, BatchNormalization, Dropout, Relu, Sigmoid,
                                SoftmaxWithLoss)
from fastscratch.optimizer import OPTIMIZERS

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FLOATS = [np.float64, np.float32]
BAD_DTYPES = [np.int64, np.uint8, np.float16, np.bool_, np.complex128, object]
LABEL_DTYPES = [np.int64, np.int32, np.uint8]
BAD_LABEL_DTYPES = [np.float64, np.bool_]
LAYOUTS = ["C", "F", "strided", "reversed"]
ODD_LAYOUTS = ["readonly", "big-endian"]  # accepted (copied) as inputs, refused as params


def sometimes(draw, good, bad):
    """``good``, or ``bad`` one time in eight (so that most calls get through the checks)."""
    return draw(st.sampled_from(bad)) if draw(st.integers(0, 7)) == 0 else \
        draw(st.sampled_from(good))


@st.composite
def arrays(draw, shape, dtypes=FLOATS, bad_dtypes=BAD_DTYPES, special=True, scale=50.0):
    """An array of ``shape`` in a drawn dtype and memory layout; sometimes of a bad dtype or
    with a NaN or Inf."""
    dtype = sometimes(draw, dtypes, bad_dtypes)
    values = draw(hnp.arrays(np.float64, shape,
                             elements=st.floats(-scale, scale, allow_nan=False, width=32)))
    if special and values.size and draw(st.integers(0, 9)) == 0:
        values.reshape(-1)[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
    with np.errstate(invalid="ignore"):  # NaN/Inf cast to ints: any value will do
        a = values.astype(dtype)
    layout = sometimes(draw, LAYOUTS, ODD_LAYOUTS)
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        wide = np.zeros((2 * a.shape[0],) + a.shape[1:], dtype=a.dtype)
        wide[::2] = a
        a = wide[::2]
    elif layout == "reversed" and a.ndim:
        a = a[::-1].copy()[::-1]
    elif layout == "readonly":
        a.flags.writeable = False
    elif layout == "big-endian" and a.dtype.kind in "fiuc" and a.dtype.itemsize > 1:
        a = a.astype(a.dtype.newbyteorder(">"))
    return a


def _outcome(fn):
    """('ok', result) or ('error', type, message) of fn() on each backend."""
    out = {}
    for name in fastscratch.backend.BACKENDS:
        with fastscratch.use_backend(name), np.errstate(all="ignore"):
            try:
                out[name] = ("ok", fn())
            except Exception as exc:  # anything but ValueError/TypeError fails in check()
                out[name] = ("error", type(exc), str(exc))
    return out["numba"], out["numpy"]


def _close(got, want, rtol):
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        for k in want:
            _close(got[k], want[k], rtol)
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w, rtol)
    elif want is not None:
        want, got = np.asarray(want), np.asarray(got)
        assert got.dtype == want.dtype and got.shape == want.shape
        scale = float(np.max(np.abs(want), initial=1.0, where=np.isfinite(want)))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def check(fn, names, rtol):
    """fn raises the same clear error on both backends (naming one of ``names``), or returns
    equal results."""
    got, want = _outcome(fn)
    assert got[0] == want[0], (got, want)
    event("accepted" if got[0] == "ok" else f"rejected: {got[1].__name__}")
    if got[0] == "error":
        assert got[1:] == want[1:]
        assert got[1] in (ValueError, TypeError), got
        assert any(n in got[2] for n in names), got
        assert "numba" not in got[2].lower() and "typing" not in got[2].lower(), got
        return False
    _close(got[1], want[1], rtol)
    return True


def _rtol(*arrays_):
    """1e-4 when any input is float32 or float16 (widened to float32; in any byte order), else
    1e-9."""
    return 1e-4 if any(a.dtype.kind == "f" and a.dtype.itemsize <= 4 for a in arrays_) else 1e-9


shapes = st.tuples(st.integers(0, 5), st.integers(1, 6))


def _width(draw, d):
    """d, or d + 1 (a wrong feature count) one time in eight."""
    return sometimes(draw, [d], [d + 1])


@SETTINGS
@given(data=st.data(), shape=shapes, cls=st.sampled_from([Relu, Sigmoid]))
def test_activation_layers(data, shape, cls):
    x = data.draw(arrays(shape))
    dout = data.draw(arrays(shape))

    def run():
        layer = cls()
        return layer.forward(x), layer.backward(dout)
    check(run, ["x", "dout"], _rtol(x))


@SETTINGS
@given(data=st.data(), n=st.integers(0, 5), d=st.integers(1, 5), m=st.integers(1, 5),
       dtype=st.sampled_from(FLOATS))
def test_affine(data, n, d, m, dtype):
    x = data.draw(arrays((n, _width(data.draw, d))))
    dout = data.draw(arrays((n, m)))
    rng = np.random.default_rng(n * 31 + d)
    W, b = rng.standard_normal((d, m)).astype(dtype), rng.standard_normal(m).astype(dtype)

    def run():
        layer = Affine(W, b)
        return layer.forward(x), layer.backward(dout), layer.dW, layer.db
    check(run, ["x", "dout"], _rtol(W))


@SETTINGS
@given(data=st.data(), n=st.integers(0, 5), d=st.integers(1, 5), train=st.booleans(),
       dtype=st.sampled_from(FLOATS))
def test_batchnorm(data, n, d, train, dtype):
    x = data.draw(arrays((n, _width(data.draw, d))))
    dout = data.draw(arrays((n, d)))
    rng = np.random.default_rng(d)
    gamma, beta = rng.standard_normal(d).astype(dtype) + 2, rng.standard_normal(d).astype(dtype)

    def run():
        layer = BatchNormalization(gamma.copy(), beta.copy(), running_mean=np.zeros(d, dtype),
                                   running_var=np.ones(d, dtype))
        out = layer.forward(x, train_flg=train)
        dx = layer.backward(dout) if train else None
        return out, dx, layer.running_mean, layer.running_var
    # batch norm divides by sqrt(var + 1e-6): float32 rounding is amplified for tiny variances
    check(run, ["x", "dout"], 1e-2 if dtype == np.float32 else 1e-7)


@SETTINGS
@given(data=st.data(), n=st.integers(0, 5), c=st.integers(1, 5), dense=st.booleans())
def test_softmax_with_loss(data, n, c, dense):
    x = data.draw(arrays((n, c), scale=1e4))
    rows = _width(data.draw, n)
    if dense:
        t = np.abs(data.draw(arrays((rows, c), dtypes=FLOATS + [np.int64, np.bool_], scale=1.0,
                                    bad_dtypes=[object])))
        t = -t.astype(np.float64) if sometimes(data.draw, [False], [True]) else t
    else:
        t = _labels(data.draw, rows, c)
    dout = sometimes(data.draw, [1, 0.5, np.float32(2.0)], [np.nan, "1"])

    def run():
        layer = SoftmaxWithLoss()
        return layer.forward(x, t), layer.backward(dout)
    check(run, ["x", "t", "dout"], _rtol(x))


@SETTINGS
@given(data=st.data(), shape=shapes, seed=st.integers(0, 9))
def test_dropout(data, shape, seed):
    ratio = sometimes(data.draw, [0.0, 0.3, 0.5, 0.99], [-0.1, 1.0, float("nan")])
    x = data.draw(arrays(shape))
    dout = data.draw(arrays(shape))

    def run():
        layer = Dropout(ratio, rng=np.random.default_rng(seed))
        return (layer.forward(x, True), layer.backward(dout), layer.forward(x, False))
    check(run, ["x", "dout", "dropout_ratio"], _rtol(x))


@SETTINGS
@given(data=st.data(), d=st.integers(1, 5), hidden=st.lists(st.integers(1, 5), max_size=2),
       c=st.integers(1, 4), n=st.integers(0, 5), batchnorm=st.booleans(), dropout=st.booleans(),
       activation=st.sampled_from(["relu", "sigmoid"]), dtype=st.sampled_from(FLOATS),
       lam=st.sampled_from([0, 0.1]), dense=st.booleans())
def test_networks(data, d, hidden, c, n, batchnorm, dropout, activation, dtype, lam, dense):
    x = data.draw(arrays((n, _width(data.draw, d))))
    labels = _labels(data.draw, _width(data.draw, n), c)
    t = (labels[:, None] == np.arange(c)).astype(dtype) if dense else labels

    def run():
        net = MultiLayerNetExtend(d, hidden, c, activation=activation, weight_decay_lambda=lam,
                                  use_batchnorm=batchnorm, use_dropout=dropout,
                                  dropout_ration=0.3, dtype=dtype, seed=7)
        grads = net.gradient(x, t)
        stats = [layer.running_var for layer in net.layers.values()
                 if isinstance(layer, BatchNormalization)]
        return grads, net.loss(x, t, train_flg=True), net.predict(x), stats
    check(run, ["x", "t"], 1e-2 if dtype == np.float32 else 1e-7)


def _labels(draw, n, c):
    """n labels for c classes; one time in eight a bad dtype, one in eight one out of range."""
    labels = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    if n and sometimes(draw, [False], [True]):
        labels[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1, c]))
    return labels.astype(sometimes(draw, LABEL_DTYPES, BAD_LABEL_DTYPES))


OPTIMIZER_CLASSES = list(OPTIMIZERS.values())  # every registered optimizer


@SETTINGS
@given(data=st.data(), cls=st.sampled_from(OPTIMIZER_CLASSES),
       shapes_=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1,
                        max_size=3),
       dtype=st.sampled_from(FLOATS))
def test_optimizers(data, cls, shapes_, dtype):
    lr = sometimes(data.draw, [0.01, 0.0], [-0.1, float("nan"), "0.1"])
    params = {f"p{i}": data.draw(arrays(s, dtypes=[dtype], bad_dtypes=[np.int64, np.float16],
                                        special=False))
              for i, s in enumerate(shapes_)}
    grads = {k: data.draw(arrays(v.shape, dtypes=[v.dtype], bad_dtypes=[np.float32]))
             for k, v in params.items()}
    if sometimes(data.draw, [False], [True]):
        grads.popitem()

    def run():
        opt = cls(lr=lr)
        ps = {k: _writable_like(v) for k, v in params.items()}
        for _ in range(2):
            opt.update(ps, grads)
        return ps, {name: getattr(opt, name) for name in cls.state_names}
    check(run, ["lr", "params", "grads"], _rtol(*params.values()))


def _writable_like(a):
    """A copy of a with the same layout, writable unless a was read-only."""
    if a.flags.c_contiguous or a.flags.f_contiguous:
        b = a.copy(order="K")
    else:
        wide = np.zeros((2 * a.shape[0],) + a.shape[1:], dtype=a.dtype)
        b = wide[::2]
        b[...] = a
    b.flags.writeable = a.flags.writeable
    return b
