"""Backpropagation against central differences, for every layer and both networks (float64)."""
import numpy as np
import pytest

from fastscratch.gradient import numerical_gradient
from fastscratch.layers import (Affine, BatchNormalization, Convolution, Dropout, Pooling,
                                Relu, Sigmoid, SoftmaxWithLoss)
from fastscratch.multi_layer_net import MultiLayerNet
from fastscratch.multi_layer_net_extend import MultiLayerNetExtend


def _check_layer(forward, backward, x, params, rng, rtol=1e-6):
    """d/dθ of L = sum(forward(x) * R) by backward(R) against central differences, θ in x+params."""
    R = rng.standard_normal(forward(x).shape)
    loss = lambda _: float(np.sum(forward(x) * R))
    forward(x)
    analytic = backward(R)
    for name, (value, grad) in {"x": (x, lambda: analytic), **params}.items():
        numeric = numerical_gradient(loss, value)
        forward(x)
        backward(R)
        np.testing.assert_allclose(grad(), numeric, rtol=rtol, atol=1e-7, err_msg=name)


def test_affine(backend_name, rng):
    layer = Affine(rng.standard_normal((12, 5)), rng.standard_normal(5))
    x = rng.standard_normal((4, 3, 4))  # (N, ...) is flattened to (N, 12)
    _check_layer(layer.forward, layer.backward, x,
                 {"W": (layer.W, lambda: layer.dW), "b": (layer.b, lambda: layer.db)}, rng)
    assert layer.backward(np.ones((4, 5))).shape == x.shape


@pytest.mark.parametrize("cls", [Relu, Sigmoid])
def test_activations(cls, backend_name, rng):
    layer = cls()
    x = rng.standard_normal((6, 7))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU's kink away from the finite differences
    _check_layer(layer.forward, layer.backward, x, {}, rng)


def _fused(layer, act):
    """The network's fused forward: the layer's unchecked pair with ``act`` (or alone)."""
    return lambda x: layer.forward_unchecked(x, True, act)


@pytest.mark.parametrize("act", [None, Relu, Sigmoid])
def test_affine_fused_with_activation(act, backend_name, rng):
    layer, a = Affine(rng.standard_normal((5, 4)), rng.standard_normal(4)), act and act()
    x = rng.standard_normal((6, 5))
    _check_layer(_fused(layer, a), lambda d: layer.backward_unchecked(d, a), x,
                 {"W": (layer.W, lambda: layer.dW), "b": (layer.b, lambda: layer.db)}, rng)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (1, 2)])
@pytest.mark.parametrize("act", [None, Relu, Sigmoid])
def test_convolution(act, stride, pad, backend_name, rng):
    """Alone through the public forward/backward (act None), or fused with the activation."""
    layer, a = Convolution(rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4), stride,
                           pad), act and act()
    x = rng.standard_normal((2, 3, 6, 5))
    forward, backward = (layer.forward, layer.backward) if a is None else \
        (_fused(layer, a), lambda d: layer.backward_unchecked(d, a))
    _check_layer(forward, backward, x,
                 {"W": (layer.W, lambda: layer.dW), "b": (layer.b, lambda: layer.db)}, rng)


@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (2, 16, 7, 9)],
                         ids=["patches", "shifted-views"])
@pytest.mark.parametrize("act", [None, Relu, Sigmoid])
def test_convolution_fused_with_activation_and_pooling(act, shape, backend_name, rng):
    """Convolution -> act -> Pooling(2, 2, 2) in the convolution's kernel, on both of its
    paths; odd outputs (the last row or column in no window) on shifted views."""
    layer = Convolution(rng.standard_normal((4, shape[1], 3, 3)), rng.standard_normal(4), 1, 1)
    a, pool = act and act(), Pooling(2, 2, 2)
    x = rng.standard_normal(shape)
    _check_layer(lambda x: layer.forward_unchecked(x, True, a, pool),
                 lambda d: layer.backward_unchecked(d, a, pool), x,
                 {"W": (layer.W, lambda: layer.dW), "b": (layer.b, lambda: layer.db)}, rng)


@pytest.mark.parametrize("pool,stride,pad", [((2, 2), 2, 0), ((3, 2), 1, 0), ((2, 3), 2, 1)])
def test_pooling(pool, stride, pad, backend_name, rng):
    """Inputs 0.01 apart and away from 0, so no central difference crosses a change of the
    maximum (padding counts as 0); overlapping windows (stride 1) sum their gradients."""
    layer = Pooling(*pool, stride=stride, pad=pad)
    x = (rng.permutation(2 * 3 * 7 * 6) - 126 + 0.5).reshape(2, 3, 7, 6) * 0.01
    _check_layer(layer.forward, layer.backward, x, {}, rng)


@pytest.mark.parametrize("act", [None, Relu, Sigmoid])
def test_batchnorm(act, backend_name, rng):
    layer = BatchNormalization(rng.standard_normal(6) + 1, rng.standard_normal(6))
    a = act and act()
    x = rng.standard_normal((8, 6)) * 2 + 1
    _check_layer(_fused(layer, a), lambda d: layer.backward_unchecked(d, a), x,
                 {"gamma": (layer.gamma, lambda: layer.dgamma),
                  "beta": (layer.beta, lambda: layer.dbeta)}, rng, rtol=1e-5)


def test_dropout_with_fixed_mask(backend_name, rng):
    layer = Dropout(0.4)

    def forward(x):
        np.random.seed(7)  # the same mask on every call
        return layer.forward(x, True)

    _check_layer(forward, layer.backward, rng.standard_normal((5, 9)), {}, rng)
    assert 0 < layer.mask.sum() < layer.mask.size


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss(one_hot, backend_name, rng):
    layer = SoftmaxWithLoss()
    t = rng.integers(0, 4, 6)
    if one_hot:
        t = np.eye(4)[t]
    x = rng.standard_normal((6, 4))
    layer.forward(x, t)
    numeric = numerical_gradient(lambda _: layer.forward(x, t), x)
    layer.forward(x, t)
    # the loss is -log(y + 1e-7) while backward is y - t (the book's pair): they differ by a
    # relative ~1e-7 / y, so keep y >= ~0.01 and allow 1e-4
    np.testing.assert_allclose(layer.backward(), numeric, rtol=1e-4, atol=1e-8)


def _check_net(net, x, t):
    """Backprop against central differences (h = 1e-4: truncation ~1e-7 absolute through BN)."""
    analytic = net.gradient(x, t)
    numeric = net.numerical_gradient(x, t)
    assert analytic.keys() == numeric.keys() == net.params.keys()
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_multi_layer_net_with_weight_decay(activation, backend_name, rng):
    net = MultiLayerNet(6, [5, 4], 3, activation=activation, weight_decay_lambda=0.1, seed=3)
    # small inputs keep the softmax away from 0, where the book's log(y + 1e-7) bends the loss
    _check_net(net, rng.standard_normal((4, 6)) * 0.3, rng.integers(0, 3, 4))


def test_multi_layer_net_extend_batchnorm_dropout_weight_decay(backend_name, rng, monkeypatch):
    np.random.seed(4)  # book style: masks come from NumPy's global RNG
    net = MultiLayerNetExtend(6, [5, 4], 3, weight_decay_lambda=0.05, use_batchnorm=True,
                              use_dropout=True, dropout_ration=0.3)
    draw = Dropout.forward_unchecked  # what the net's walk calls
    seeds = {}  # each Dropout layer its own seed, in the order they first run (not by address)

    def fixed_mask(self, x, train_flg):  # the same mask in every loss evaluation
        np.random.seed(seeds.setdefault(id(self), 7 + len(seeds)))
        return draw(self, x, train_flg)

    monkeypatch.setattr(Dropout, "forward_unchecked", fixed_mask)
    x, t = rng.standard_normal((5, 6)), np.eye(3)[rng.integers(0, 3, 5)]
    _check_net(net, x, t)
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= net.params.keys()
