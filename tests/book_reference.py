"""A compact transcription of the book's NumPy code (common/layers.py, optimizer.py,
multi_layer_net_extend.py, util.py, ch06/optimizer_compare_naive.py), used only as the oracle
for drop-in equality tests.

Convolution, Pooling, im2col and col2im follow oreilly-japan/deep-learning-from-scratch as read
on 2026-11-28 (common/layers.py at commit 751d55dc, common/util.py at d4ebe2dc): im2col and
col2im build float64 arrays whatever the input dtype, Convolution returns a transposed view, and
Pooling computes its output size without the padding. The optimizers are the current
common/optimizer.py: Nesterov moves the params with the old v first and then updates v, as
changed upstream in January 2021 (older snapshots of the file, such as commit cfdcf92, update v
first).
"""
from collections import OrderedDict

import numpy as np


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7)) / y.shape[0]


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T)


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t, self.y = t, softmax(x)
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n


class Dropout:
    def __init__(self, ratio):
        self.ratio = ratio

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.ratio
            return x * self.mask
        return x * (1.0 - self.ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean = self.running_var = None

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class Net:
    """MultiLayerNetExtend with 'relu'/'sigmoid' activations and He/Xavier init."""

    def __init__(self, input_size, hidden, output_size, activation="relu",
                 weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5,
                 use_batchnorm=False):
        self.lam, self.params, sizes = weight_decay_lambda, {}, [input_size] + hidden + [output_size]
        for i in range(1, len(sizes)):
            scale = np.sqrt((2.0 if activation == "relu" else 1.0) / sizes[i - 1])
            self.params["W%d" % i] = scale * np.random.randn(sizes[i - 1], sizes[i])
            self.params["b%d" % i] = np.zeros(sizes[i])
        self.layers, self.n = OrderedDict(), len(hidden)
        for i in range(1, self.n + 1):
            self.layers["Affine%d" % i] = Affine(self.params["W%d" % i], self.params["b%d" % i])
            if use_batchnorm:
                self.params["gamma%d" % i] = np.ones(hidden[i - 1])
                self.params["beta%d" % i] = np.zeros(hidden[i - 1])
                self.layers["BatchNorm%d" % i] = BatchNormalization(self.params["gamma%d" % i],
                                                                    self.params["beta%d" % i])
            self.layers["Activation_function%d" % i] = Relu() if activation == "relu" else Sigmoid()
            if use_dropout:
                self.layers["Dropout%d" % i] = Dropout(dropout_ration)
        i = self.n + 1
        self.layers["Affine%d" % i] = Affine(self.params["W%d" % i], self.params["b%d" % i])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for key, layer in self.layers.items():
            x = layer.forward(x, train_flg) if ("Dropout" in key or "BatchNorm" in key) \
                else layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        decay = sum(0.5 * self.lam * np.sum(self.params["W%d" % i] ** 2)
                    for i in range(1, self.n + 2))
        return self.last_layer.forward(self.predict(x, train_flg), t) + decay

    def gradient(self, x, t):
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i in range(1, self.n + 2):
            a = self.layers["Affine%d" % i]
            grads["W%d" % i], grads["b%d" % i] = a.dW + self.lam * a.W, a.db
            if "BatchNorm%d" % i in self.layers:
                bn = self.layers["BatchNorm%d" % i]
                grads["gamma%d" % i], grads["beta%d" % i] = bn.dgamma, bn.dbeta
        return grads


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for k in params:
            params[k] -= self.lr * grads[k]


def _zeros(params):
    """The book's first-update state: np.zeros_like of each param."""
    return {k: np.zeros_like(v) for k, v in params.items()}


class _PerKey:
    """The book's update: the state tables (None at first) become zeros on the first update,
    then ``step`` runs the formulas for each key."""

    tables = ()

    def update(self, params, grads):
        for name in self.tables:
            if getattr(self, name) is None:
                setattr(self, name, _zeros(params))
        for k in params:
            self.step(params, grads, k)


class Momentum(_PerKey):
    tables = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def step(self, params, grads, k):
        self.v[k] = self.momentum * self.v[k] - self.lr * grads[k]
        params[k] += self.v[k]


class Nesterov(Momentum):
    def step(self, params, grads, k):
        params[k] += self.momentum * self.momentum * self.v[k]
        params[k] -= (1 + self.momentum) * self.lr * grads[k]
        self.v[k] *= self.momentum
        self.v[k] -= self.lr * grads[k]


class AdaGrad(_PerKey):
    tables = ("h",)

    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def step(self, params, grads, k):
        self.h[k] += grads[k] * grads[k]
        params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class RMSprop(AdaGrad):
    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr)
        self.decay_rate = decay_rate

    def step(self, params, grads, k):
        self.h[k] *= self.decay_rate
        self.h[k] += (1 - self.decay_rate) * grads[k] * grads[k]
        params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = _zeros(params), _zeros(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for k in params:
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


def naive_df(x, y):
    """ch06/optimizer_compare_naive.py: the gradient of f(x, y) = x**2 / 20 + y**2."""
    return x / 10.0, 2.0 * y


def naive_history(optimizer, steps=30):
    """ch06/optimizer_compare_naive.py's loop: params are the Python floats -7.0 and 2.0; returns
    the (x, y) visited, the start first."""
    params, grads, history = {}, {}, []
    params["x"], params["y"] = -7.0, 2.0
    for _ in range(steps):
        history.append((params["x"], params["y"]))
        grads["x"], grads["y"] = naive_df(params["x"], params["y"])
        optimizer.update(params, grads)
    return history


def im2col(images, fh, fw, stride=1, pad=0):
    """(N, C, H, W) -> (N*OH*OW, C*FH*FW), one row per output pixel, in float64."""
    n, c, h, w = images.shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    padded = np.pad(images, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, fh, fw, oh, ow))
    for i in range(fh):
        for j in range(fw):
            col[:, :, i, j] = padded[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def col2im(col, shape, fh, fw, stride=1, pad=0):
    """The adjoint of im2col, in float64."""
    n, c, h, w = shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    col = col.reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for i in range(fh):
        for j in range(fw):
            img[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += col[:, :, i, j]
    return img[:, :, pad:h + pad, pad:w + pad]


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        fn, _, fh, fw = self.W.shape
        n, _, h, w = x.shape
        oh = 1 + int((h + 2 * self.pad - fh) / self.stride)
        ow = 1 + int((w + 2 * self.pad - fw) / self.stride)
        self.x, self.col = x, im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = np.dot(self.col, self.col_W) + self.b
        return out.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(fn, c, fh, fw)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, fh, fw, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        n, c, h, w = x.shape
        oh = int(1 + (h - self.pool_h) / self.stride)
        ow = int(1 + (w - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(n, oh, ow, c).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
