"""Bad input at every public entry point: a TypeError/ValueError naming the argument, what was
expected and what was found; a rejected call changes nothing. Plus the numerics edge cases:
huge logits, constant batch-norm features, a batch of one."""
import numpy as np
import pytest

import fastscratch
from fastscratch import (SGD, AdaGrad, Adam, Momentum, MultiLayerNet, MultiLayerNetExtend,
                         Nesterov, RMSprop)
from fastscratch.layers import (Affine, BatchNormalization, Dropout, Relu, Sigmoid,
                                SoftmaxWithLoss)

R = np.random.default_rng(0)
X = R.standard_normal((4, 6))
T = np.array([0, 1, 2, 0])


def _nan_at(shape, idx, value=np.nan):
    a = np.ones(shape)
    a[idx] = value
    return a


def _affine():
    return Affine(R.standard_normal((6, 5)), np.zeros(5))


def _bn(**kw):
    return BatchNormalization(np.ones(6), np.zeros(6), **kw)


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _after_forward(layer, x=X):
    layer.forward(x)
    return layer


def _net(**kw):
    return MultiLayerNet(6, [5], 3, seed=0, **kw)


def _extend(**kw):
    return MultiLayerNetExtend(6, [5], 3, seed=0, **kw)


def _update(opt, params, grads):
    return lambda: opt.update(params, grads)


# (id, call, exception type, regex the message must match)
LAYER_CASES = [
    ("relu int x", lambda: Relu().forward(np.arange(6)), TypeError,
     r"x must be a float32 or float64 array, got int64; scale integer data"),
    ("relu float128 x", lambda: Relu().forward(np.ones(3, np.longdouble)), TypeError,
     r"x must be a float32 or float64 array, got float128; convert it"),
    ("sigmoid complex x", lambda: Sigmoid().forward(np.ones(3, complex)), TypeError,
     r"x must be a float32 or float64 array, got complex128"),
    ("relu bool x", lambda: Relu().forward(np.array([True, False])), TypeError,
     r"x must be a float32 or float64 array, got bool"),
    ("relu object x", lambda: Relu().forward(np.array([1.0, None])), TypeError,
     r"x must be a float32 or float64 array, got object"),
    ("relu ragged list", lambda: Relu().forward([[1.0], [1.0, 2.0]]), TypeError,
     r"x must be a float32 or float64 array, got list"),
    ("relu empty x", lambda: Relu().forward(np.empty((0, 3))), ValueError,
     r"x must not be empty, got shape \(0, 3\)"),
    ("relu NaN x", lambda: Relu().forward(_nan_at((2, 3), (1, 2))), ValueError,
     r"x must be finite, but x\[1, 2\] is nan"),
    ("sigmoid -Inf x", lambda: Sigmoid().forward(_nan_at(4, 3, -np.inf)), ValueError,
     r"x must be finite, but x\[3\] is -inf"),
    ("relu backward first", lambda: Relu().backward(X), ValueError,
     r"Relu.backward needs a forward pass first"),
    ("relu dout shape", lambda: _after_forward(Relu()).backward(np.ones((4, 5))), ValueError,
     r"dout must have the forward output's shape \(4, 6\), got \(4, 5\)"),
    ("relu dout NaN", lambda: _after_forward(Relu()).backward(_nan_at((4, 6), (0, 0))),
     ValueError, r"dout must be finite, but dout\[0, 0\] is nan"),
    ("affine int W", lambda: Affine(np.ones((6, 5), int), np.zeros(5)), TypeError,
     r"W must be a 2-D float32 or float64 ndarray, got int64 array of shape \(6, 5\)"),
    ("affine 1-D W", lambda: Affine(np.ones(6), np.zeros(5)), TypeError,
     r"W must be a 2-D float32 or float64 ndarray"),
    ("affine b length", lambda: Affine(np.ones((6, 5)), np.zeros(4)), ValueError,
     r"b must have length 5, got shape \(4,\)"),
    ("affine mixed dtypes", lambda: Affine(np.ones((6, 5)), np.zeros(5, np.float32)), TypeError,
     r"b must have dtype float64 like the other parameters, got float32"),
    ("affine 1-D x", lambda: _affine().forward(np.ones(6)), ValueError,
     r"x must have a batch axis, shape \(N, 6\), got shape \(6,\); for one sample use "
     r"x.reshape\(1, -1\)"),
    ("affine features", lambda: _affine().forward(np.ones((4, 5))), ValueError,
     r"x must have 6 features per row, got shape \(4, 5\) \(5 per row\)"),
    ("affine Inf x", lambda: _affine().forward(_nan_at((4, 6), (2, 1), np.inf)), ValueError,
     r"x must be finite, but x\[2, 1\] is inf"),
    ("affine backward first", lambda: _affine().backward(np.ones((4, 5))), ValueError,
     r"Affine.backward needs a forward pass first"),
    ("affine dout batch", lambda: _after_forward(_affine()).backward(np.ones((3, 5))),
     ValueError, r"dout must have the forward output's shape \(4, 5\), got \(3, 5\)"),
    ("softmax float labels", lambda: SoftmaxWithLoss().forward(X, T.astype(float)), TypeError,
     r"t must hold integer class labels, got dtype float64; if they are whole numbers use "
     r"t.astype\(int\)"),
    ("softmax bool labels", lambda: SoftmaxWithLoss().forward(X, T > 0), TypeError,
     r"t must hold integer class labels, got dtype bool"),
    ("softmax label too big", lambda: SoftmaxWithLoss().forward(X, np.array([0, 1, 6, 2])),
     ValueError, r"t must hold labels 0 <= label < 6, got labels from 0 to 6"),
    ("softmax negative label", lambda: SoftmaxWithLoss().forward(X, np.array([0, -1, 2, 2])),
     ValueError, r"t must hold labels 0 <= label < 6, got labels from -1 to 2"),
    ("softmax batch mismatch", lambda: SoftmaxWithLoss().forward(X, T[:3]), ValueError,
     r"t has 3 rows but x has 4; they must describe the same batch"),
    ("softmax dense shape", lambda: SoftmaxWithLoss().forward(X, np.ones((4, 5))), ValueError,
     r"t must be labels of shape \(4,\) or one-hot rows of shape \(4, 6\), got shape \(4, 5\)"),
    ("softmax (N, 1) labels", lambda: SoftmaxWithLoss().forward(X, T.reshape(4, 1)),
     ValueError, r"t must be labels of shape \(4,\), got labels of shape \(4, 1\): the book's "
     r"code would pair every row of x with every label; pass t.reshape\(-1\)"),
    ("softmax dense rows", lambda: SoftmaxWithLoss().forward(X, np.eye(6)[:3]), ValueError,
     r"t has 3 rows but x has 4"),
    ("softmax dense negative", lambda: SoftmaxWithLoss().forward(X, -np.eye(6)[T]), ValueError,
     r"t must be >= 0 \(one-hot or soft labels\), got a minimum of -1.0"),
    ("softmax dense NaN", lambda: SoftmaxWithLoss().forward(X, _nan_at((4, 6), (3, 3))),
     ValueError, r"t must be finite, but t\[3, 3\] is nan"),
    ("softmax object t", lambda: SoftmaxWithLoss().forward(X, np.array([[None] * 6] * 4)),
     TypeError, r"t must be a numeric array of labels or one-hot rows, got dtype object"),
    ("softmax 3-D x", lambda: SoftmaxWithLoss().forward(np.ones((2, 2, 2)), T[:2]), ValueError,
     r"x must be scores of shape \(N, C\) or \(C,\), got shape \(2, 2, 2\)"),
    ("softmax NaN x", lambda: SoftmaxWithLoss().forward(_nan_at((4, 6), (0, 5)), T), ValueError,
     r"x must be finite, but x\[0, 5\] is nan"),
    ("softmax backward first", lambda: SoftmaxWithLoss().backward(), ValueError,
     r"SoftmaxWithLoss.backward needs a forward pass first"),
    ("softmax dout str", lambda: _after_softmax().backward("1"), TypeError,
     r"dout must be a finite number, got str '1'"),
    ("softmax dout NaN", lambda: _after_softmax().backward(float("nan")), ValueError,
     r"dout must be a finite number, got float nan"),
    ("dropout ratio 1", lambda: Dropout(1.0), ValueError,
     r"dropout_ratio must be a number in \[0, 1\), got 1.0"),
    ("dropout ratio -0.1", lambda: Dropout(-0.1), ValueError,
     r"dropout_ratio must be a number in \[0, 1\), got -0.1"),
    ("dropout ratio str", lambda: Dropout("0.5"), TypeError,
     r"dropout_ratio must be a number in \[0, 1\), got str '0.5'"),
    ("dropout rng int", lambda: Dropout(0.5, rng=42), TypeError,
     r"rng must be a numpy.random.Generator \(np.random.default_rng\(seed\)\) or None, got int"),
    ("dropout backward first", lambda: Dropout().backward(X), ValueError,
     r"Dropout.backward needs a forward pass first"),
    ("dropout NaN x", lambda: Dropout().forward(_nan_at(3, 0)), ValueError,
     r"x must be finite, but x\[0\] is nan"),
    ("bn 2-D gamma", lambda: BatchNormalization(np.ones((6, 1)), np.zeros(6)), TypeError,
     r"gamma must be a 1-D float32 or float64 ndarray, got float64 array of shape \(6, 1\)"),
    ("bn beta length", lambda: BatchNormalization(np.ones(6), np.zeros(5)), ValueError,
     r"beta must have length 6, got shape \(5,\)"),
    ("bn momentum 1", lambda: _bn(momentum=1.0), ValueError,
     r"momentum must be a number in \[0, 1\), got 1.0"),
    ("bn one running stat", lambda: _bn(running_mean=np.zeros(6)), ValueError,
     r"running_mean and running_var must be given together"),
    ("bn read-only stat", lambda: _bn(running_mean=_readonly(np.zeros(6)),
                                      running_var=np.zeros(6)), ValueError,
     r"running_mean is read-only, but it is updated in place"),
    ("bn strided stat", lambda: _bn(running_mean=np.zeros(12)[::2], running_var=np.zeros(6)),
     ValueError, r"running_mean must be C-contiguous, since it is updated in place"),
    ("bn features", lambda: _bn().forward(np.ones((4, 5))), ValueError,
     r"x must have 6 features per row, got shape \(4, 5\)"),
    ("bn backward first", lambda: _bn().backward(X), ValueError,
     r"BatchNormalization.backward needs a training-mode forward pass first"),
]


def _after_softmax():
    layer = SoftmaxWithLoss()
    layer.forward(X, T)
    return layer


NETWORK_CASES = [
    ("input_size 0", lambda: MultiLayerNet(0, [5], 3), ValueError,
     r"input_size must be a positive int, got int 0"),
    ("output_size float", lambda: MultiLayerNet(6, [5], 3.0), TypeError,
     r"output_size must be a positive int, got float 3.0"),
    ("hidden entry 0", lambda: MultiLayerNet(6, [5, 0], 3), ValueError,
     r"hidden_size_list\[1\] must be a positive int, got int 0"),
    ("hidden entry -2", lambda: MultiLayerNet(6, [-2], 3), ValueError,
     r"hidden_size_list\[0\] must be a positive int, got int -2"),
    ("hidden not a list", lambda: MultiLayerNet(6, 5, 3), TypeError,
     r"hidden_size_list must be a list of positive ints, got int"),
    ("activation tanh", lambda: MultiLayerNet(6, [5], 3, activation="tanh"), ValueError,
     r"activation must be one of 'relu', 'sigmoid', got 'tanh'"),
    ("init name", lambda: MultiLayerNet(6, [5], 3, weight_init_std="glorot"), ValueError,
     r"weight_init_std must be one of 'relu', 'he', 'sigmoid', 'xavier' \(any case\) or a "
     r"finite number > 0, got 'glorot'"),
    ("init 0", lambda: MultiLayerNet(6, [5], 3, weight_init_std=0), ValueError,
     r"weight_init_std must be one of .* got 0"),
    ("weight decay -1", lambda: MultiLayerNet(6, [5], 3, weight_decay_lambda=-1), ValueError,
     r"weight_decay_lambda must be a finite number >= 0, got -1"),
    ("weight decay NaN", lambda: MultiLayerNet(6, [5], 3, weight_decay_lambda=float("nan")),
     ValueError, r"weight_decay_lambda must be a finite number >= 0, got float nan"),
    ("dtype float16", lambda: MultiLayerNet(6, [5], 3, dtype="float16"), TypeError,
     r"dtype must be float32 or float64, got 'float16'"),
    ("dtype junk", lambda: MultiLayerNet(6, [5], 3, dtype="floaty"), TypeError,
     r"dtype must be float32 or float64, got 'floaty'"),
    ("seed -1", lambda: MultiLayerNet(6, [5], 3, seed=-1), ValueError,
     r"seed must be an int >= 0 or None, got -1"),
    ("seed and rng", lambda: MultiLayerNet(6, [5], 3, seed=1, rng=np.random.default_rng()),
     ValueError, r"give seed or rng, not both"),
    ("rng RandomState", lambda: MultiLayerNet(6, [5], 3, rng=np.random.RandomState(0)),
     TypeError, r"rng must be a numpy.random.Generator"),
    ("dropout_ration 1.5", lambda: _extend(use_dropout=True, dropout_ration=1.5), ValueError,
     r"dropout_ration must be a number in \[0, 1\), got 1.5"),
    ("predict 1-D x", lambda: _net().predict(np.ones(6)), ValueError,
     r"x must have a batch axis, shape \(N, 6\), got shape \(6,\)"),
    ("predict features", lambda: _net().predict(np.ones((2, 7))), ValueError,
     r"x must have 6 features per row, got shape \(2, 7\) \(7 per row\)"),
    ("predict uint8 x", lambda: _net().predict(np.ones((2, 6), np.uint8)), TypeError,
     r"x must be a float32 or float64 array, got uint8; scale integer data yourself, "
     r"e.g. x.astype\(np.float32\) / 255"),
    ("predict empty", lambda: _net().predict(np.ones((0, 6))), ValueError,
     r"x must not be empty, got shape \(0, 6\)"),
    ("predict NaN", lambda: _extend().predict(_nan_at((2, 6), (1, 4)), train_flg=True),
     ValueError, r"x must be finite, but x\[1, 4\] is nan"),
    ("loss batch mismatch", lambda: _net().loss(X, T[:3]), ValueError,
     r"t has 3 rows but x has 4"),
    ("gradient label range", lambda: _net().gradient(X, np.array([0, 1, 3, 0])), ValueError,
     r"t must hold labels 0 <= label < 3, got labels from 0 to 3"),
    ("gradient float labels", lambda: _net().gradient(X, T * 1.0), TypeError,
     r"t must hold integer class labels, got dtype float64"),
    ("gradient one-hot width", lambda: _net().gradient(X, np.eye(4)[T]), ValueError,
     r"t must be labels of shape \(4,\) or one-hot rows of shape \(4, 3\), got shape \(4, 4\)"),
    ("numerical_gradient Inf", lambda: _net().numerical_gradient(_nan_at((4, 6), 0, np.inf), T),
     ValueError, r"x must be finite, but x\[0, 0\] is inf"),
    ("accuracy ties", lambda: _net().accuracy(X, np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0],
                                                           [0, 0, 1]])), ValueError,
     r"t must have one-hot-like rows \(a unique maximum per row\) for accuracy, but row 1 is"),
    ("accuracy batch_size 0", lambda: _net().accuracy(X, T, batch_size=0), ValueError,
     r"batch_size must be a positive int, got int 0"),
]


def _params(dtype=np.float64):
    return {"W": np.ones((3, 2), dtype), "b": np.zeros(2, dtype)}


def _grads(dtype=np.float64):
    return {"W": np.ones((3, 2), dtype), "b": np.ones(2, dtype)}


def _set_lr(opt, value):
    opt.lr = value


OPTIMIZER_CASES = [
    ("SGD lr -0.1", lambda: SGD(lr=-0.1), ValueError, r"lr must be a finite number >= 0, got "
                                                      r"-0.1"),
    ("SGD lr NaN", lambda: SGD(lr=float("nan")), ValueError, r"lr must be a finite number >= 0"),
    ("SGD lr str", lambda: SGD(lr="0.1"), TypeError, r"lr must be a finite number >= 0, got "
                                                      r"str '0.1'"),
    ("Momentum 1.0", lambda: Momentum(momentum=1.0), ValueError,
     r"momentum must be a number in \[0, 1\), got 1.0"),
    ("Nesterov -0.5", lambda: Nesterov(momentum=-0.5), ValueError,
     r"momentum must be a number in \[0, 1\), got -0.5"),
    ("RMSprop decay 1.2", lambda: RMSprop(decay_rate=1.2), ValueError,
     r"decay_rate must be a number in \[0, 1\), got 1.2"),
    ("Adam beta1 1", lambda: Adam(beta1=1), ValueError, r"beta1 must be a number in \[0, 1\)"),
    ("Adam beta2 True", lambda: Adam(beta2=True), TypeError,
     r"beta2 must be a number in \[0, 1\), got bool True"),
    ("lr set to -1 later", lambda: _set_lr(AdaGrad(), -1), ValueError,
     r"lr must be a finite number >= 0, got -1"),
    ("params a list", _update(SGD(), [np.ones(2)], [np.ones(2)]), TypeError,
     r"params and grads must be dicts of arrays, got list and list"),
    ("grads missing key", _update(SGD(), _params(), {"W": np.ones((3, 2))}), ValueError,
     r"grads has no entry for params key 'b'; grads must have the keys of params"),
    ("int params", _update(SGD(), {"W": np.ones(3, int)}, {"W": np.ones(3, int)}), TypeError,
     r"params\['W'\] must be a float32 or float64 ndarray or a real number, got int64"),
    ("read-only params", _update(SGD(), {"W": _readonly(np.ones(3))}, {"W": np.ones(3)}),
     ValueError, r"params\['W'\] is read-only; the update writes it in place"),
    ("grads dtype", _update(Adam(), _params(), _grads(np.float32)), TypeError,
     r"grads\['W'\] must be an ndarray of params\['W'\]'s dtype float64, got float32"),
    ("grads shape", _update(Adam(), _params(), {"W": np.ones((2, 3)), "b": np.ones(2)}),
     ValueError, r"grads\['W'\] has shape \(2, 3\), params\['W'\] has shape \(3, 2\)"),
    ("mixed param dtypes", _update(Adam(), {"W": np.ones(2), "b": np.ones(2, np.float32)},
                                   {"W": np.ones(2), "b": np.ones(2, np.float32)}), TypeError,
     r"params must all have one dtype, got W float64, b float32"),
    ("use_backend cuda", lambda: fastscratch.use_backend("cuda"), ValueError,
     r"backend must be one of \('numba', 'numpy'\), got 'cuda'"),
    ("set_num_threads 0", lambda: fastscratch.set_num_threads(0), ValueError,
     r"n must be a positive int, got int 0"),
]

CASES = LAYER_CASES + NETWORK_CASES + OPTIMIZER_CASES


@pytest.mark.parametrize("call,exc,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(call, exc, message, backend_name):
    with pytest.raises(exc, match=message):
        call()


# ---------------------------------------------------------------- rejected calls change nothing

def _snapshot(net):
    state = {k: v.copy() for k, v in net.params.items()}
    for name, layer in net.layers.items():
        if isinstance(layer, BatchNormalization):
            state[name + ".mean"] = layer.running_mean.copy()
            state[name + ".var"] = layer.running_var.copy()
    return state


@pytest.mark.parametrize("bad", ["nan_x", "inf_x", "labels", "rows"])
def test_a_rejected_step_leaves_the_network_as_it_was(bad, backend_name):
    net = MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, use_dropout=True, seed=1)
    net.gradient(X, T[:4] % 3)  # running statistics are no longer zeros
    before = _snapshot(net)
    x, t = X.copy(), T % 3
    if bad == "nan_x":
        x[3, 5] = np.nan  # the last entry: a scan that stops early would miss nothing here
    elif bad == "inf_x":
        x[0, 0] = np.inf
    elif bad == "labels":
        t = np.array([0, 1, 2, 3])
    else:
        t = t[:3]
    with pytest.raises(ValueError):
        net.gradient(x, t)
    with pytest.raises(ValueError):
        net.loss(x, t, train_flg=True)
    after = _snapshot(net)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


def test_a_rejected_update_leaves_params_and_state_as_they_were(backend_name):
    params = {"W1": np.ones((3, 2)), "W2": np.ones(4)}
    opt = Adam()
    opt.update(params, {k: np.ones_like(v) for k, v in params.items()})
    before = {k: v.copy() for k, v in params.items()}
    m, iters = {k: v.copy() for k, v in opt.m.items()}, opt.iter
    grads = {"W1": np.ones((3, 2)), "W2": np.ones(4, np.float32)}  # the last key is bad
    with pytest.raises(TypeError):
        opt.update(params, grads)
    assert opt.iter == iters
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
        np.testing.assert_array_equal(opt.m[k], m[k])


# ---------------------------------------------------------------- accepted conversions

def test_strided_big_endian_and_list_inputs_are_converted(backend_name):
    """Copied to C-contiguous native arrays: the result equals the plain input's."""
    net = _extend(use_batchnorm=True)
    wide = np.zeros((4, 12))
    wide[:, ::2] = X
    swapped = X.astype(">f8")
    labels = np.zeros(8, int)
    labels[::2] = T % 3
    want = net.predict(X)
    for x in (wide[:, ::2], swapped, X.tolist(), np.asfortranarray(X), _readonly(X)):
        np.testing.assert_array_equal(net.predict(x), want)
    g_want = net.gradient(X, T % 3)
    g_got = net.gradient(wide[:, ::2], labels[::2])
    for k in g_want:
        np.testing.assert_array_equal(g_got[k], g_want[k])


def test_float16_input_is_widened_and_cast_to_the_parameters_dtype(backend_name):
    """As NumPy does in the book's layers (float16 x times float64 W is float64): exact."""
    half = X.astype(np.float16)
    layer = _affine()
    np.testing.assert_array_equal(layer.forward(half), layer.forward(half.astype(np.float64)))
    assert Relu().forward(half.astype(">f2")).dtype == np.float32
    np.testing.assert_array_equal(Relu().forward(half), np.maximum(half, 0))


def test_one_label_of_shape_1_1_is_that_label(backend_name):
    """The book's ch07/gradient_check.py passes T = np.array([1]).reshape((1, 1))."""
    layer, plain = SoftmaxWithLoss(), SoftmaxWithLoss()
    assert layer.forward(X[:1], np.array([[1]])) == plain.forward(X[:1], np.array([1]))
    np.testing.assert_array_equal(layer.backward(), plain.backward())
    net = _extend()
    want = net.gradient(X[:1], np.array([1]))
    got = net.gradient(X[:1], np.array([[1]]))
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_a_number_as_bias_is_the_books_broadcast(backend_name):
    """Convolution(w, 0) (the book's ch07/apply_filter.py) and Affine(W, 0.5): b + every out."""
    from fastscratch.layers import Convolution
    w = R.standard_normal((2, 1, 3, 3))
    img = R.standard_normal((1, 1, 6, 6))
    np.testing.assert_array_equal(Convolution(w, 0).forward(img),
                                  Convolution(w, np.zeros(2)).forward(img))
    layer = Affine(R.standard_normal((6, 5)), 0.5)
    np.testing.assert_array_equal(layer.b, np.full(5, 0.5))
    assert layer.forward(X).shape == (4, 5) and layer.backward(np.ones((4, 5))).shape == (4, 6)
    np.testing.assert_array_equal(layer.db, np.full(5, 4.0))
    for bad, exc, message in ((True, TypeError, "b must be a 1-D float32 or float64 ndarray, "
                                                "got bool True"),
                              (float("inf"), ValueError, "b must be finite, got inf")):
        with pytest.raises(exc, match=message):
            Convolution(w, bad)


def test_layers_cast_x_to_their_parameters_dtype(backend_name):
    layer = Affine(R.standard_normal((6, 5)).astype(np.float32), np.zeros(5, np.float32))
    assert layer.forward(X).dtype == np.float32
    assert layer.backward(np.ones((4, 5))).dtype == np.float32


def test_read_only_optimizer_state_is_replaced_by_a_copy(backend_name):
    params = {"w": np.zeros(3)}
    opt = Momentum(lr=1.0, momentum=0.5)
    opt.update(params, {"w": np.ones(3)})
    opt.v["w"] = _readonly(np.full(3, 2.0))
    opt.update(params, {"w": np.zeros(3)})
    np.testing.assert_array_equal(opt.v["w"], 1.0)
    np.testing.assert_array_equal(params["w"], 0.0)  # -1 + 1


def test_soft_labels_are_allowed_in_the_layer(backend_name):
    """Rows of t need only be finite and >= 0: loss on t's argmax, gradient (y - t) / N."""
    layer = SoftmaxWithLoss()
    t = np.full((4, 6), 0.02)
    t[np.arange(4), T] = 0.9
    loss = layer.forward(X, t)
    assert loss == pytest.approx(SoftmaxWithLoss().forward(X, T), rel=1e-12)
    np.testing.assert_allclose(layer.backward(), (layer.y - t) / 4, rtol=1e-12)


# ---------------------------------------------------------------- numerics

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_give_a_finite_loss_and_gradient_in_the_layer(dtype, backend_name):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [-1e4, 1e4, 1e4]], dtype=dtype)
    t = np.array([1, 2, 0])
    for targets in (t, np.eye(3, dtype=dtype)[t]):
        layer = SoftmaxWithLoss()
        loss = layer.forward(x, targets)
        dx = layer.backward()
        assert np.isfinite(loss) and np.isfinite(dx).all() and dx.dtype == dtype
        # rows 1 and 3 put ~0 on the label: -log(0 + 1e-7); row 2 is uniform
        want = (-2 * np.log(1e-7) - np.log(1 / 3 + 1e-7)) / 3
        assert loss == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_give_a_finite_loss_and_gradient_in_the_network(dtype, backend_name):
    net = MultiLayerNet(4, [3], 2, dtype=dtype, seed=0)
    net.params["W2"][...] = [[5e3, -5e3], [-5e3, 5e3], [5e3, -5e3]]
    x = np.abs(np.random.default_rng(1).standard_normal((5, 4))).astype(dtype) * 3
    logits = net.predict(x)
    assert np.abs(logits).max() > 1e3
    t = (logits[:, 0] > logits[:, 1]).astype(int)  # the wrong class: loss ~ -log(1e-7)
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    assert np.isfinite(loss) and loss == pytest.approx(-np.log(1e-7), rel=1e-3)
    assert all(np.isfinite(g).all() for g in grads.values())


def test_batchnorm_constant_feature_gives_beta_and_a_finite_gradient(backend_name):
    """xn = 0 and out = beta; dx = gamma / sqrt(10e-7) * (dout - mean(dout)): large, finite."""
    layer = BatchNormalization(np.full(3, 2.0), np.array([0.5, -1.0, 0.25]))
    x = R.standard_normal((5, 3))
    x[:, 1] = 7.0  # constant over the batch
    out = layer.forward(x, train_flg=True)
    np.testing.assert_array_equal(out[:, 1], -1.0)
    np.testing.assert_array_equal(layer.xn[:, 1], 0.0)
    dout = R.standard_normal((5, 3))
    dx = layer.backward(dout)
    assert np.isfinite(dx).all()
    np.testing.assert_allclose(dx[:, 1], 2.0 / np.sqrt(10e-7) * (dout[:, 1] - dout[:, 1].mean()),
                               rtol=1e-9)


def test_batchnorm_batch_of_one_in_training_is_the_books_degenerate_case(backend_name):
    """Documented (not refused, the book's gradient check runs on one image): out = beta,
    dx = 0, running_var decays by momentum, running_mean moves towards x."""
    layer = BatchNormalization(np.ones(4), np.array([0.1, 0.2, 0.3, 0.4]), momentum=0.9,
                               running_mean=np.zeros(4), running_var=np.ones(4))
    x = np.array([[3.0, -1.0, 0.0, 2.0]])
    out = layer.forward(x, train_flg=True)
    np.testing.assert_array_equal(out, [[0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_allclose(layer.running_var, 0.9)
    np.testing.assert_allclose(layer.running_mean, 0.1 * x[0])
    np.testing.assert_allclose(layer.backward(np.ones((1, 4))), 0.0, atol=1e-12)
    net = MultiLayerNetExtend(4, [3], 2, use_batchnorm=True, seed=0)
    grads = net.gradient(x, np.array([1]))
    assert all(np.isfinite(g).all() for g in grads.values())
