"""The networks: drop-in equality with the book's code, backends equal, dtypes end to end."""
import numpy as np
import pytest

import fastscratch
from fastscratch import Adam, MultiLayerNet, MultiLayerNetExtend
from fastscratch.layers import Affine, BatchNormalization, Dropout, Relu, SoftmaxWithLoss

import book_reference as book

EXTEND = dict(weight_decay_lambda=0.01, use_dropout=True, dropout_ration=0.2, use_batchnorm=True)


def _batches(steps, n=32, d=20, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((n, d)).astype(np.float32), rng.integers(0, classes, n))
            for _ in range(steps)]


def _train(net, opt, batches):
    losses = []
    for x, t in batches:
        opt.update(net.params, net.gradient(x, t))
        losses.append(net.loss(x, t))
    return losses


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_seeded_run_equals_the_books_code(activation, backend_name):
    """Same seed, same draws in the same order (weights, dropout masks): same numbers."""
    batches = _batches(30)
    np.random.seed(5)
    ref = book.Net(20, [16, 12, 8], 5, activation=activation, **EXTEND)
    want = _train(ref, book.Adam(lr=0.01), batches)
    np.random.seed(5)
    net = MultiLayerNetExtend(20, [16, 12, 8], 5, activation=activation,
                              weight_init_std=activation, **EXTEND)
    got = _train(net, Adam(lr=0.01), batches)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # the biases in front of batch norm get pure rounding noise as gradient (~1e-13; BN cancels
    # them), which Adam turns into values ~1e-12 that differ with BLAS's summation order
    for key in ref.params:
        np.testing.assert_allclose(net.params[key], ref.params[key], rtol=1e-9, atol=1e-10,
                                   err_msg=key)
    for i in (1, 2, 3):
        np.testing.assert_allclose(net.layers["BatchNorm%d" % i].running_var,
                                   ref.layers["BatchNorm%d" % i].running_var, rtol=1e-9)


def test_fifty_seeded_steps_equal_on_both_backends():
    """batch norm + dropout + weight decay, float64, MNIST-like widths: the same loss sequence."""
    batches = _batches(50, n=64, d=196, classes=10)
    runs = {}
    for name in fastscratch.backend.BACKENDS:
        with fastscratch.use_backend(name):
            np.random.seed(11)
            net = MultiLayerNetExtend(196, [100, 100, 100], 10, **EXTEND)
            runs[name] = _train(net, Adam(lr=0.005), batches)
    assert runs["numba"][-1] < runs["numba"][0]
    np.testing.assert_allclose(runs["numba"], runs["numpy"], rtol=1e-10)


def test_book_interface_is_kept():
    net = MultiLayerNetExtend(784, [50, 40], 10, use_batchnorm=True, use_dropout=True)
    assert list(net.layers) == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
                                "Affine2", "BatchNorm2", "Activation_function2", "Dropout2",
                                "Affine3"]
    # The book's order: its __init_weight adds every W and b, then the layer loop gamma/beta.
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1",
                                "gamma2", "beta2"]
    assert isinstance(net.layers["Affine1"], Affine)
    assert isinstance(net.layers["BatchNorm1"], BatchNormalization)
    assert isinstance(net.layers["Activation_function1"], Relu)
    assert isinstance(net.layers["Dropout1"], Dropout)
    assert isinstance(net.last_layer, SoftmaxWithLoss)
    assert net.layers["BatchNorm1"].gamma is net.params["gamma1"]
    x = np.random.rand(7, 1, 28, 28)
    assert net.predict(x).shape == (7, 10)
    plain = MultiLayerNet(784, [30], 10, activation="sigmoid", weight_init_std=0.01)
    assert list(plain.layers) == ["Affine1", "Activation_function1", "Affine2"]
    assert 0.005 < plain.params["W1"].std() < 0.015


def test_layers_left_in_the_books_state_after_a_fused_pass():
    """The fused walk leaves every layer as running it alone would: the book's code can use it."""
    np.random.seed(0)
    net = MultiLayerNet(12, [6], 3)
    x, t = np.random.rand(4, 12), np.array([0, 1, 2, 1])
    net.gradient(x, t)
    relu, a1 = net.layers["Activation_function1"], net.layers["Affine1"]
    h = x @ net.params["W1"] + net.params["b1"]
    np.testing.assert_allclose(relu.out, np.maximum(h, 0), rtol=1e-14)
    np.testing.assert_array_equal(relu.mask, h <= 0)
    dW_fused = a1.dW.copy()
    dout = net.last_layer.backward(1)
    for layer in reversed(list(net.layers.values())):  # the book's own backward walk
        dout = layer.backward(dout)
    np.testing.assert_allclose(a1.dW, dW_fused, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_end_to_end(dtype, backend_name):
    net = MultiLayerNetExtend(20, [10, 10], 5, use_batchnorm=True, weight_decay_lambda=0.1,
                              dtype=dtype, seed=0)
    x, t = _batches(1)[0]
    x = x.astype(np.float64)  # float64 data into a float32 net is converted at the entry
    grads = net.gradient(x, t)
    assert all(v.dtype == dtype for v in net.params.values())
    assert all(g.dtype == dtype for g in grads.values())
    assert net.predict(x).dtype == dtype
    Adam().update(net.params, grads)
    assert all(v.dtype == dtype for v in net.params.values())


def test_float32_training_tracks_float64():
    batches = _batches(40, n=64, d=50, classes=10)
    losses = {}
    for dtype in (np.float32, np.float64):
        net = MultiLayerNet(50, [40, 40], 10, dtype=dtype, seed=3)
        losses[dtype] = _train(net, Adam(lr=0.01), batches)
    np.testing.assert_allclose(losses[np.float32], losses[np.float64], rtol=1e-3)


def test_books_dtype_mix_float32_images_float64_weights():
    np.random.seed(1)
    net = MultiLayerNet(20, [10], 5)
    x, t = _batches(1)[0]
    assert x.dtype == np.float32 and net.params["W1"].dtype == np.float64
    grads = net.gradient(x, t)
    np.testing.assert_allclose(grads["W1"], net.gradient(x.astype(np.float64), t)["W1"],
                               rtol=1e-15)


def test_accuracy_in_batches_equals_accuracy_at_once(backend_name):
    net = MultiLayerNetExtend(20, [10], 5, use_batchnorm=True, seed=2)
    x, t = _batches(1, n=103)[0]
    net.gradient(x, t)
    full = net.accuracy(x, t)
    assert net.accuracy(x, t, batch_size=10) == full
    assert net.accuracy(x, np.eye(5)[t]) == full
    assert full == np.mean(np.argmax(net.predict(x), axis=1) == t)


def test_explicit_seed_is_reproducible_and_leaves_global_state_alone():
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    a = MultiLayerNetExtend(10, [8], 3, use_dropout=True, seed=42)
    b = MultiLayerNetExtend(10, [8], 3, use_dropout=True, seed=42)
    x, t = np.random.default_rng(0).random((4, 10)), np.array([0, 1, 2, 0])
    np.testing.assert_array_equal(a.gradient(x, t)["W1"], b.gradient(x, t)["W1"])
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_gradient_dicts_keep_the_books_key_order(rng):
    """Book's multi_layer_net_extend.py (gradient and numerical_gradient, both loop over idx
    adding W, b, then gamma, beta): W1 b1 gamma1 beta1 W2 b2 gamma2 beta2 W3 b3."""
    net = MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, seed=0)
    x, t = rng.standard_normal((4, 6)), np.array([0, 1, 2, 1])
    book = ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert list(net.gradient(x, t)) == book
    assert list(net.numerical_gradient(x, t)) == book
    plain = MultiLayerNet(6, [5], 3, seed=0)
    assert list(plain.gradient(x, t)) == list(plain.numerical_gradient(x, t)) == [
        "W1", "b1", "W2", "b2"]
