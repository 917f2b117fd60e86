"""The engine shared by MultiLayerNet and MultiLayerNetExtend: weight init, the fused walk
through ``layers``, loss with weight decay, gradients, accuracy.

The public methods check their arguments once (``validation``) and then walk the layers through
their unchecked passes; layers of the caller's own (or subclasses) run their own ``forward``.
"""
import numbers
from collections import OrderedDict

import numpy as np

from . import backend, validation
from .gradient import numerical_gradient
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss, Activation

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}
INIT_NAMES = {"relu": 2.0, "he": 2.0, "sigmoid": 1.0, "xavier": 1.0}  # scale sqrt(k / fan_in)


class ForeignLayer:
    """A layer of the caller's own, or a built-in one whose forward/backward a subclass
    overrides, seen through the protocol: the walk calls its public forward/backward. As in the
    book's predict, layers keyed 'Dropout...' or 'BatchNorm...' get train_flg."""

    fuses_activation = False

    def __init__(self, layer, takes_flag):
        self.layer = layer
        self.takes_flag = takes_flag

    def _run(self, x, train_flg, act=None):
        return self.layer.forward(x, train_flg) if self.takes_flag else self.layer.forward(x)

    def _grad(self, dout, act=None, need_dx=True):
        return self.layer.backward(dout)


def _native(layer):
    """Whether the walk may call the layer's unchecked pair (its public pair is the built-in's)."""
    cls = type(layer)
    return (getattr(getattr(cls, "forward", None), "has_unchecked_pair", False)
            and getattr(getattr(cls, "backward", None), "has_unchecked_pair", False))


def plan(layers):
    """[(layer, fused activation or None)] for an ordered {key: layer}: each layer that fuses
    activations takes the built-in activation right after it; foreign layers are wrapped."""
    items = list(layers.items())
    steps, i = [], 0
    while i < len(items):
        key, layer = items[i]
        nxt = items[i + 1][1] if i + 1 < len(items) else None
        if not _native(layer):
            steps.append((ForeignLayer(layer, "Dropout" in key or "BatchNorm" in key), None))
        elif layer.fuses_activation and isinstance(nxt, Activation) and _native(nxt):
            steps.append((layer, nxt))
            i += 1
        else:
            steps.append((layer, None))
        i += 1
    return steps


def forward(steps, x, train_flg):
    """x through every step, as the book's predict loop; fused activations get their output."""
    for layer, act in steps:
        x = layer._run(x, train_flg, act)
        if act is not None:
            act.hold(x)
    return x


def backward(steps, dout):
    """dout back through every step; the first layer's dx is not computed."""
    for k in range(len(steps) - 1, -1, -1):
        layer, act = steps[k]
        dout = layer._grad(dout, act, need_dx=k > 0)
    return dout


def check_init(weight_init_std):
    """weight_init_std as a lower-case name from INIT_NAMES or a finite number > 0."""
    if isinstance(weight_init_std, str) and weight_init_std.lower() in INIT_NAMES:
        return weight_init_std.lower()
    if isinstance(weight_init_std, numbers.Real) and not isinstance(weight_init_std, bool) \
            and np.isfinite(weight_init_std) and weight_init_std > 0:
        return weight_init_std
    raise ValueError(f"weight_init_std must be one of {', '.join(map(repr, INIT_NAMES))} (any "
                     f"case) or a finite number > 0, got {weight_init_std!r}")


def init_scale(weight_init_std, fan_in):
    """The book's weight scale: 'relu'/'he' sqrt(2/n), 'sigmoid'/'xavier' sqrt(1/n), or a number."""
    weight_init_std = check_init(weight_init_std)
    if isinstance(weight_init_std, str):
        return np.sqrt(INIT_NAMES[weight_init_std] / fan_in)
    return weight_init_std


def _dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dtype is None or dt is None or dt not in validation.FLOATS:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def _seed_and_rng(seed, rng):
    """The generator for initial weights and dropout masks: rng, default_rng(seed) or None."""
    validation.generator("rng", rng)
    if seed is None:
        return rng
    if rng is not None:
        raise ValueError("give seed or rng, not both")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
    return np.random.default_rng(seed)


class LayeredNet:
    """A fully connected net whose ``layers`` the book's code can see and use one by one; its
    own passes fuse each Affine/BatchNormalization with the activation right after it."""

    def _build(self, input_size, hidden_size_list, output_size, activation, weight_init_std,
               weight_decay_lambda, dtype, seed, rng, use_batchnorm=False, use_dropout=False,
               dropout_ratio=0.5):
        input_size = validation.positive_int("input_size", input_size)
        output_size = validation.positive_int("output_size", output_size)
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise TypeError("hidden_size_list must be a list of positive ints, got "
                            f"{type(hidden_size_list).__name__}")
        hidden = [validation.positive_int(f"hidden_size_list[{i}]", h)
                  for i, h in enumerate(hidden_size_list)]
        validation.choice("activation", activation, list(ACTIVATIONS))
        check_init(weight_init_std)
        validation.nonnegative("weight_decay_lambda", weight_decay_lambda)
        if use_dropout:
            validation.fraction("dropout_ration", dropout_ratio)
        self.dtype = _dtype(dtype)
        self.rng = rng = _seed_and_rng(seed, rng)
        self.activation = activation
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        sizes = [input_size] + self.hidden_size_list + [output_size]
        for idx in range(1, len(sizes)):
            scale = init_scale(weight_init_std, sizes[idx - 1])
            shape = (sizes[idx - 1], sizes[idx])
            draw = np.random.randn(*shape) if rng is None else rng.standard_normal(shape)
            self.params["W%d" % idx] = (scale * draw).astype(self.dtype, copy=False)
            self.params["b%d" % idx] = np.zeros(sizes[idx], dtype=self.dtype)
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine%d" % idx] = Affine(self.params["W%d" % idx],
                                                   self.params["b%d" % idx])
            if use_batchnorm:
                width = self.hidden_size_list[idx - 1]
                self.params["gamma%d" % idx] = np.ones(width, dtype=self.dtype)
                self.params["beta%d" % idx] = np.zeros(width, dtype=self.dtype)
                self.layers["BatchNorm%d" % idx] = BatchNormalization(
                    self.params["gamma%d" % idx], self.params["beta%d" % idx],
                    running_mean=np.zeros(width, dtype=self.dtype),
                    running_var=np.zeros(width, dtype=self.dtype))
            self.layers["Activation_function%d" % idx] = ACTIVATIONS[activation]()
            if use_dropout:
                self.layers["Dropout%d" % idx] = Dropout(dropout_ratio, rng=rng)
        idx = self.hidden_layer_num + 1
        self.layers["Affine%d" % idx] = Affine(self.params["W%d" % idx], self.params["b%d" % idx])
        self.last_layer = SoftmaxWithLoss()
        self._plan_key = None

    def _plan(self):
        """The steps of ``layers`` (see ``plan``), rebuilt if ``layers`` was changed."""
        key = tuple(map(id, self.layers.values())) + tuple(self.layers)
        if key != self._plan_key:
            self._plan_steps, self._plan_key = plan(self.layers), key
        return self._plan_steps

    def _input(self, x):
        """x checked: (N, ...) floats with input_size values per row, finite; as the net's
        dtype (the book's float32 images meet float64 weights here once)."""
        return validation.batch("x", x, self.input_size, self.dtype)

    def _inputs(self, x, t):
        """x checked as by _input and t as labels (N,) or dense targets (N, output_size)."""
        x = self._input(x)
        return x, validation.targets(t, x.shape[0], self.output_size, self.dtype)

    def _forward(self, x, train_flg):
        """Scores for a checked x: the fused walk through ``layers``."""
        return forward(self._plan(), x, train_flg)

    def _loss(self, x, t, train_flg):
        """Loss for a checked x and t."""
        y = self._forward(x, train_flg)
        last = self.last_layer
        loss = last._run(y, t) if _native(last) else last.forward(y, t)
        lam = self.weight_decay_lambda
        if lam != 0:
            for idx in range(1, self.hidden_layer_num + 2):
                loss += 0.5 * lam * backend.ops.sum_squares(self.params["W%d" % idx].reshape(-1))
        return loss

    def _backward(self):
        last = self.last_layer
        backward(self._plan(), last._grad(1) if _native(last) else last.backward(1))

    def _grads(self):
        """The grads dict from the layers: W (with the weight-decay term), b, gamma, beta."""
        grads = {}
        lam = self.weight_decay_lambda
        for idx in range(1, self.hidden_layer_num + 2):
            affine = self.layers["Affine%d" % idx]
            dW = affine.dW
            if lam != 0:
                out = np.empty_like(dW)
                backend.ops.weight_decay_grad(dW.reshape(-1), dW.dtype.type(lam),
                                              affine.W.reshape(-1), out.reshape(-1))
                dW = out
            grads["W%d" % idx] = dW
            grads["b%d" % idx] = affine.db
            bn = self.layers.get("BatchNorm%d" % idx)
            if bn is not None:
                grads["gamma%d" % idx] = bn.dgamma
                grads["beta%d" % idx] = bn.dbeta
        return grads

    def _param_keys(self):
        """The params keys in the book's order of gradients: W1 b1 gamma1 beta1 W2 ..."""
        return [name + str(idx) for idx in range(1, self.hidden_layer_num + 2)
                for name in ("W", "b", "gamma", "beta") if name + str(idx) in self.params]

    def _numerical(self, loss_W):
        return {key: numerical_gradient(loss_W, self.params[key]) for key in self._param_keys()}

    def _accuracy(self, x, t, batch_size):
        """Fraction of rows whose argmax matches t (labels or one-hot-like rows), batch_size
        rows at a time (x is cast to the net's dtype one slice at a time)."""
        step = None if batch_size is None else validation.positive_int("batch_size", batch_size)
        x = validation.batch("x", x, self.input_size)
        t = validation.targets(t, x.shape[0], self.output_size, self.dtype)
        if t.ndim != 1:
            validation.one_hot_like(t)
            t = np.argmax(t, axis=1)
        n = x.shape[0]
        step = step or n
        correct = 0
        for i in range(0, n, step):
            y = self._forward(x[i:i + step].astype(self.dtype, copy=False), False)
            correct += int(np.sum(np.argmax(y, axis=1) == t[i:i + step]))
        return correct / float(n)
