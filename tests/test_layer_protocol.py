"""The layer protocol: a user's layer (only forward/backward) and a user's net (the book's
OrderedDict of layers on network.LayeredNet) work in the nets' walk, and fusion.plan is what
decides which consecutive layers run as one kernel."""
from collections import OrderedDict

import numpy as np
import pytest

import book_reference as book
from fastscratch.convnet import DeepConvNet
from fastscratch.fusion import has_fast_path, plan
from fastscratch.layers import (Affine, BatchNormalization, Convolution, Dropout, Layer,
                                Pooling, Relu, Sigmoid, SoftmaxWithLoss)
from fastscratch.multi_layer_net import MultiLayerNet
from fastscratch.multi_layer_net_extend import MultiLayerNetExtend
from fastscratch.network import LayeredNet


class Softplus(Layer):
    """A user's layer: y = log(1 + exp(x)), dy/dx = sigmoid(x); forward/backward only."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x)

    def backward(self, dout):
        return dout / (1 + np.exp(-self.x))


class Scale(Layer):
    """A user's layer with a parameter of its own: y = x * s (s per feature)."""

    param_names = ("s",)

    def __init__(self, s):
        self.s = s

    def forward(self, x):
        self.x = x
        return x * self.s

    def backward(self, dout):
        self.ds = np.sum(dout * self.x, axis=0)
        return dout * self.s


class TwoLayerNet(LayeredNet):
    """The book's ch05 TwoLayerNet, written the book's way on the shared base: params, an
    OrderedDict of layers, the loss layer; predict/loss/gradient/accuracy are the base's."""

    def __init__(self, input_size, hidden_size, output_size, activation, seed):
        r = np.random.default_rng(seed)
        self.input_size, self.output_size = input_size, output_size
        self.params = {"W1": 0.5 * r.standard_normal((input_size, hidden_size)),
                       "b1": 0.1 * r.standard_normal(hidden_size),
                       "s": 1 + 0.1 * r.standard_normal(hidden_size),
                       "W2": 0.5 * r.standard_normal((hidden_size, output_size)),
                       "b2": 0.1 * r.standard_normal(output_size)}
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Act1"] = activation()
        self.layers["Scale1"] = Scale(self.params["s"])
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.last_layer = SoftmaxWithLoss()


def _close_grads(got, want, rtol=1e-4, atol=1e-6):
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=atol, err_msg=key)


def _data(rng, n=5, features=6, classes=3):
    return rng.standard_normal((n, features)) * 0.5, rng.integers(0, classes, n)


@pytest.mark.parametrize("activation", [Relu, Softplus])
def test_a_users_net_on_the_base_passes_the_gradient_check(activation, backend_name, rng):
    """Built-in and user layers mixed; a user layer's own parameter ('s') is in grads."""
    net = TwoLayerNet(6, 4, 3, activation, seed=1)
    x, t = _data(rng)
    analytic = net.gradient(x, t)
    assert list(analytic) == ["W1", "b1", "s", "W2", "b2"]  # in the order of the layers
    _close_grads(analytic, net.numerical_gradient(x, t))
    assert 0 <= net.accuracy(x, t) <= 1 and net.predict(x).shape == (5, 3)


def test_a_users_net_equals_the_books_layers_called_one_by_one(backend_name, rng):
    """The walk (Affine fused with Relu) gives what the book's own layers give, one by one."""
    net = TwoLayerNet(6, 4, 3, Relu, seed=2)
    x, t = _data(rng)
    grads = net.gradient(x, t)
    p = net.params
    theirs = [book.Affine(p["W1"], p["b1"]), book.Relu(), Scale(p["s"]),
              book.Affine(p["W2"], p["b2"])]
    last = book.SoftmaxWithLoss()
    h = x
    for layer in theirs:
        h = layer.forward(h)
    np.testing.assert_allclose(net.loss(x, t), last.forward(h, t), rtol=1e-12)
    dout = last.backward(1)
    for layer in reversed(theirs):
        dout = layer.backward(dout)
    want = {"W1": theirs[0].dW, "b1": theirs[0].db, "s": theirs[2].ds, "W2": theirs[3].dW,
            "b2": theirs[3].db}
    _close_grads(grads, want, rtol=1e-12, atol=1e-14)


def test_a_user_layer_inside_a_built_in_net(backend_name, rng):
    """A user's activation put into MultiLayerNet's layers: walked through its forward and
    backward, the Affine before it unfused, gradients correct."""
    net = MultiLayerNet(6, [5, 4], 3, weight_decay_lambda=0.1, seed=3)
    x, t = _data(rng)
    before = net.gradient(x, t)  # planned with the Relu: replacing it plans again
    net.layers["Activation_function1"] = Softplus()
    steps = plan(net.layers)
    assert [(type(s.layer).__name__, len(s.fused), s.fast) for s in steps] == [
        ("Affine", 0, True), ("Softplus", 0, False), ("Affine", 1, True), ("Affine", 0, True)]
    after = net.gradient(x, t)
    _close_grads(after, net.numerical_gradient(x, t))
    assert not np.allclose(after["W1"], before["W1"])


def test_a_subclass_overriding_the_books_pair_is_walked_through_it(backend_name, rng):
    """Overriding forward/backward of a built-in (activation or loss) takes it off the fast
    path: the override runs in the net, and the layer before it fuses nothing."""
    calls = []

    class CountingRelu(Relu):
        def forward(self, x):
            calls.append("relu")
            return super().forward(x)

    class CountingLoss(SoftmaxWithLoss):
        def backward(self, dout=1):
            calls.append("loss")
            return super().backward(dout)

    net, plain = (MultiLayerNet(6, [5], 3, seed=4) for _ in range(2))
    net.layers["Activation_function1"], net.last_layer = CountingRelu(), CountingLoss()
    assert not has_fast_path(net.layers["Activation_function1"])
    assert not has_fast_path(net.last_layer)
    assert [len(s.fused) for s in plan(net.layers)] == [0, 0, 0]
    x, t = _data(rng)
    got, want = net.gradient(x, t), plain.gradient(x, t)
    assert calls == ["relu", "loss"]
    _close_grads(got, want, rtol=1e-12, atol=1e-14)


def test_what_fuses_is_decided_by_plan():
    r = np.random.default_rng(0)
    affine = lambda: Affine(r.standard_normal((4, 4)), np.zeros(4))  # noqa: E731
    conv = Convolution(r.standard_normal((2, 1, 3, 3)), np.zeros(2))
    bn = BatchNormalization(np.ones(4), np.zeros(4))
    layers = OrderedDict(conv=conv, relu1=Relu(), pool=Pooling(2, 2, 2), relu2=Relu(),
                         a1=affine(), sig=Sigmoid(), a2=affine(), BatchNorm1=bn, relu3=Relu(),
                         Dropout1=Dropout(), a3=affine(), soft=Softplus(), a4=affine())
    steps = plan(layers)
    assert [(type(s.layer).__name__, [type(f).__name__ for f in s.fused]) for s in steps] == [
        ("Convolution", ["Relu", "Pooling"]), ("Relu", []), ("Affine", ["Sigmoid"]),
        ("Affine", []), ("BatchNormalization", ["Relu"]), ("Dropout", []), ("Affine", []),
        ("Softplus", []), ("Affine", [])]
    assert [s.takes_flag for s in steps] == [False] * 4 + [True, True] + [False] * 3


def test_the_fast_path_is_the_classs_own():
    class OwnFastPath(Relu):  # overrides both faces: the fast path stays in use
        def forward(self, x):
            return super().forward(x)

        def forward_unchecked(self, x, train_flg):
            return super().forward_unchecked(x, train_flg)

    assert has_fast_path(Relu()) and has_fast_path(SoftmaxWithLoss())
    assert has_fast_path(OwnFastPath())
    assert not has_fast_path(Softplus())
    assert not has_fast_path(book.Relu())  # the book's own layer: not a Layer at all


def test_deepconvnets_list_is_planned_with_the_books_dropout_rule():
    net = DeepConvNet(seed=0)
    steps = plan(net.layers)
    assert [(type(s.layer).__name__, len(s.fused)) for s in steps] == \
        [("Convolution", 1), ("Convolution", 2)] * 3 + \
        [("Affine", 1), ("Dropout", 0), ("Affine", 0), ("Dropout", 0)]
    assert [s.takes_flag for s in steps] == [isinstance(s.layer, Dropout) for s in steps]


def test_grads_come_from_the_layers_holding_params(rng):
    """Every net's params are the arrays its layers hold, so grads has every key, in the
    book's order."""
    net = MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, seed=5)
    x, t = _data(rng)
    assert list(net.gradient(x, t)) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2",
                                        "beta2", "W3", "b3"]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_a_layer_of_the_books_own_code_in_a_net_keeps_its_params(weight_decay):
    """The book's Affine (no param_names, no decayed) in place of fastscratch's: the same loss
    (weight decay over its W included) and the same grads, W1 and b1 among them."""
    net = MultiLayerNet(6, [5], 3, weight_decay_lambda=weight_decay, seed=1)
    x = np.random.default_rng(0).standard_normal((4, 6))
    t = np.array([0, 1, 2, 1])
    loss, grads = net.loss(x, t), net.gradient(x, t)
    net.layers["Affine1"] = book.Affine(net.params["W1"], net.params["b1"])
    assert net.loss(x, t) == pytest.approx(loss, rel=1e-12)
    foreign = net.gradient(x, t)
    assert foreign.keys() == grads.keys()
    for key in grads:
        np.testing.assert_allclose(foreign[key], grads[key], rtol=1e-12, atol=1e-15)
