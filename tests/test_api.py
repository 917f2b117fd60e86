"""The drop-in promise: the book's module paths and names, the backend switch, threads."""
import importlib

import numpy as np
import pytest

import fastscratch

BOOK_NAMES = {
    "layers": ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization"],
    "functions": ["identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
                  "relu_grad", "softmax", "sum_squared_error", "cross_entropy_error",
                  "softmax_loss"],
    "optimizer": ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"],
    "gradient": ["numerical_gradient", "numerical_gradient_2d"],
    "util": ["smooth_curve", "shuffle_dataset", "im2col", "col2im", "conv_output_size"],
    "multi_layer_net": ["MultiLayerNet"],
    "multi_layer_net_extend": ["MultiLayerNetExtend"],
}


@pytest.mark.parametrize("module", sorted(BOOK_NAMES))
def test_book_modules_and_names_exist(module):
    mod = importlib.import_module("fastscratch." + module)
    for name in BOOK_NAMES[module]:
        assert callable(getattr(mod, name)), f"fastscratch.{module}.{name}"


def test_optimizer_defaults_are_the_books():
    o = fastscratch.optimizer
    assert o.SGD().lr == 0.01
    assert (o.Momentum().lr, o.Momentum().momentum) == (0.01, 0.9)
    assert (o.Nesterov().lr, o.Nesterov().momentum) == (0.01, 0.9)
    assert o.AdaGrad().lr == 0.01
    assert (o.RMSprop().lr, o.RMSprop().decay_rate) == (0.01, 0.99)
    a = o.Adam()
    assert (a.lr, a.beta1, a.beta2, a.iter) == (0.001, 0.9, 0.999, 0)


def test_functions_match_their_definitions():
    f = fastscratch.functions
    x = np.array([[1000.0, 1001.0, 999.0], [-1.0, 0.0, 1.0]])
    y = f.softmax(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    np.testing.assert_allclose(y[1], np.exp([-1, 0, 1]) / np.exp([-1, 0, 1]).sum())
    t = np.array([1, 2])
    want = -(np.log(y[0, 1] + 1e-7) + np.log(y[1, 2] + 1e-7)) / 2
    assert f.cross_entropy_error(y, t) == pytest.approx(want)
    assert f.cross_entropy_error(y, np.eye(3)[t]) == pytest.approx(want)
    np.testing.assert_array_equal(f.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
    np.testing.assert_allclose(f.sigmoid_grad(np.array([0.0])), [0.25])


def test_util_helpers():
    u = fastscratch.util
    np.testing.assert_allclose(u.smooth_curve(np.ones(30)), np.ones(30))
    np.random.seed(0)
    x, t = np.arange(20).reshape(10, 2), np.arange(10)
    xs, ts = u.shuffle_dataset(x, t)
    np.testing.assert_array_equal(xs[:, 0] // 2, ts)
    assert sorted(ts) == list(range(10)) and list(ts) != list(range(10))
    img = np.random.rand(2, 3, 5, 5)
    col = u.im2col(img, 3, 3, stride=1, pad=1)
    assert col.shape == (2 * 25, 27)
    # col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>
    c = np.random.rand(*col.shape)
    assert np.sum(col * c) == pytest.approx(np.sum(img * u.col2im(c, img.shape, 3, 3, 1, 1)))


def test_use_backend_switches_and_restores():
    assert fastscratch.current_backend() == "numba"
    with fastscratch.use_backend("numpy"):
        assert fastscratch.current_backend() == "numpy"
        assert fastscratch.backend.ops.sgd.__module__ == "fastscratch.reference.optim"
    assert fastscratch.current_backend() == "numba"
    fastscratch.use_backend("numpy")
    try:
        assert fastscratch.current_backend() == "numpy"
    finally:
        fastscratch.use_backend("numba")
    with pytest.raises(ValueError, match="backend must be one of .*'cuda'"):
        fastscratch.use_backend("cuda")


def test_use_backend_as_a_decorator_switches_on_every_call():
    @fastscratch.use_backend("numpy")
    def inside(fail=False):
        if fail:
            raise RuntimeError("inside")
        return fastscratch.current_backend(), fastscratch.backend.ops.sgd.__module__

    assert fastscratch.current_backend() == "numba"  # defining it switched nothing
    for _ in range(2):  # not just the first call
        assert inside() == ("numpy", "fastscratch.reference.optim")
        assert fastscratch.current_backend() == "numba"
    with pytest.raises(RuntimeError, match="inside"):
        inside(fail=True)
    assert fastscratch.current_backend() == "numba"
    with fastscratch.use_backend("numpy"):
        assert fastscratch.use_backend("numba")(fastscratch.current_backend)() == "numba"
        assert fastscratch.current_backend() == "numpy"  # restored to the one it found
    assert inside.__name__ == "inside"
    with pytest.raises(TypeError, match=r"use_backend\('numpy'\) decorates a function, got int"):
        fastscratch.use_backend("numpy")(3)
    assert fastscratch.current_backend() == "numba"


@pytest.mark.parametrize("cls", [fastscratch.MultiLayerNet, fastscratch.MultiLayerNetExtend])
def test_networks_take_the_books_argument_names(cls):
    net = cls(4, [3], 2, seed=0)
    x, t = np.random.default_rng(0).random((5, 4)), np.array([0, 1, 1, 0, 1])
    assert net.accuracy(x=x, t=t) == net.accuracy(x, t)
    assert net.loss(x=x, t=t) == net.loss(x, t)
    numerical = net.numerical_gradient(x=x, t=t)
    analytic = net.gradient(x=x, t=t)
    assert numerical.keys() == analytic.keys() == net.params.keys()


def test_set_num_threads_sets_numba_and_blas():
    from threadpoolctl import threadpool_info
    import numba
    before = numba.get_num_threads()
    try:
        assert fastscratch.set_num_threads(1) == 1
        assert numba.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    finally:
        fastscratch.set_num_threads(before)
    for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError),
                       (True, TypeError)):
        with pytest.raises(error, match="n must be a positive int"):
            fastscratch.set_num_threads(bad)
