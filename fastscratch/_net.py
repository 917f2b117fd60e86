"""The engine shared by MultiLayerNet and MultiLayerNetExtend: weight init, the fused walk
through ``layers``, loss with weight decay, gradients, accuracy."""
from collections import OrderedDict

import numpy as np

from . import backend
from .gradient import numerical_gradient
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}
_FUSABLE = (Affine, BatchNormalization)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def init_scale(weight_init_std, fan_in):
    """The book's weight scale: 'relu'/'he' sqrt(2/n), 'sigmoid'/'xavier' sqrt(1/n), or a number."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return np.sqrt(2.0 / fan_in)
    if name in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / fan_in)
    if isinstance(weight_init_std, str) or isinstance(weight_init_std, bool):
        raise ValueError("weight_init_std must be 'relu', 'he', 'sigmoid', 'xavier' or a "
                         f"positive number, got {weight_init_std!r}")
    return weight_init_std


class LayeredNet:
    """A fully connected net whose ``layers`` the book's code can see and use one by one; its
    own passes fuse each Affine/BatchNormalization with the activation right after it."""

    def _build(self, input_size, hidden_size_list, output_size, activation, weight_init_std,
               weight_decay_lambda, dtype, seed, rng, use_batchnorm=False, use_dropout=False,
               dropout_ratio=0.5):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in _FLOATS:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        if rng is None and seed is not None:
            rng = np.random.default_rng(seed)
        self.rng = rng
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = list(hidden_size_list)
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
                    self.params["gamma%d" % idx], self.params["beta%d" % idx])
            self.layers["Activation_function%d" % idx] = ACTIVATIONS[activation]()
            if use_dropout:
                self.layers["Dropout%d" % idx] = Dropout(dropout_ratio, rng=rng)
        idx = self.hidden_layer_num + 1
        self.layers["Affine%d" % idx] = Affine(self.params["W%d" % idx], self.params["b%d" % idx])
        self.last_layer = SoftmaxWithLoss()
        self._plan_key = None

    def _plan(self):
        """[(layer, fused activation or None)] in order, rebuilt if ``layers`` was changed."""
        layers = list(self.layers.values())
        key = tuple(map(id, layers))
        if key != self._plan_key:
            plan, i = [], 0
            while i < len(layers):
                layer = layers[i]
                nxt = layers[i + 1] if i + 1 < len(layers) else None
                if type(layer) in _FUSABLE and type(nxt) in (Relu, Sigmoid):
                    plan.append((layer, nxt))
                    i += 2
                else:
                    plan.append((layer, None))
                    i += 1
            self._plan_steps, self._plan_key = plan, key
        return self._plan_steps

    def _input(self, x):
        """x as the net's dtype (the book's float32 images meet float64 weights here once)."""
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def _forward(self, x, train_flg):
        x = self._input(x)
        for layer, act in self._plan():
            if act is not None:
                x = (layer.forward_act(x, act) if type(layer) is Affine
                     else layer.forward_act(x, train_flg, act))
            elif isinstance(layer, (Dropout, BatchNormalization)):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def _loss(self, x, t, train_flg):
        y = self._forward(x, train_flg)
        loss = self.last_layer.forward(y, t)
        lam = self.weight_decay_lambda
        if lam != 0:
            for idx in range(1, self.hidden_layer_num + 2):
                loss += 0.5 * lam * backend.ops.sum_squares(self.params["W%d" % idx].reshape(-1))
        return loss

    def _backward(self):
        dout = self.last_layer.backward(1)
        plan = self._plan()
        for k in range(len(plan) - 1, -1, -1):
            layer, act = plan[k]
            if type(layer) is Affine:
                dout = layer.backward_act(dout, act, need_dx=k > 0)
            elif act is not None:
                dout = layer.backward_act(dout, act)
            else:
                dout = layer.backward(dout)

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

    def _numerical(self, loss_W):
        grads = {}
        for key in self.params:
            grads[key] = numerical_gradient(loss_W, self.params[key])
        return grads

    def _accuracy(self, x, t, batch_size):
        """Fraction of rows whose argmax matches t (labels or one-hot), batch_size rows at a time."""
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        n = x.shape[0]
        step = n if not batch_size else batch_size
        correct = 0
        for i in range(0, n, step):
            y = self._forward(x[i:i + step], False)
            correct += int(np.sum(np.argmax(y, axis=1) == t[i:i + step]))
        return correct / float(n)
