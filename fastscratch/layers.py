"""The book's layers (common/layers.py): same names, attributes, forward and backward.

Each ``forward``/``backward`` pair calls ``backend.ops``: fused Numba kernels or their NumPy
twins. Affine and BatchNormalization also offer ``forward_act``/``backward_act``, which fuse the
activation layer that follows them; the networks use these, and the activation layer is left
holding the same state (``out``) as if it had run on its own.
"""
import numpy as np

from . import backend
from ._codes import NONE, RELU, SIGMOID


def _flat(a):
    """A flat view of a (copied first if it is not C-contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


class _Activation:
    """An elementwise activation that keeps its output ``out`` for the backward pass."""

    code = NONE

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = np.empty_like(x, order="C")
        backend.ops.act_forward(_flat(x), self.code, out.reshape(-1))
        self.out = out
        return out

    def backward(self, dout):
        dx = np.empty_like(self.out)
        backend.ops.act_backward(_flat(dout), self.out.reshape(-1), self.code, dx.reshape(-1))
        return dx


class Relu(_Activation):
    """y = max(x, 0); NaN passes through as in the book."""

    code = RELU

    @property
    def mask(self):
        """The book's mask: where the input was <= 0."""
        return None if self.out is None else self.out <= 0


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x)); backward uses y (1 - y)."""

    code = SIGMOID


class Affine:
    """out = x W + b with x of shape (N, ...) flattened to (N, D); W (D, M), b (M,)."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        return self.forward_act(x, None)

    def backward(self, dout):
        return self.backward_act(dout, None)

    def forward_act(self, x, act):
        """act(x W + b) with the bias and the activation layer ``act`` (or None) in one pass."""
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        z = np.dot(x, self.W)
        backend.ops.bias_act(z, self.b, NONE if act is None else act.code, z)
        if act is not None:
            act.out = z
        return z

    def backward_act(self, dout, act, need_dx=True):
        """Gradients through ``act`` (or None) and this layer; dx is skipped when not needed."""
        if act is None:
            dz = dout
            self.db = np.sum(dout, axis=0)
        else:
            dz = np.empty_like(dout)
            self.db = np.empty(dout.shape[1], dtype=dout.dtype)
            backend.ops.act_backward_colsum(dout, act.out, act.code, dz, self.db)
        self.dW = np.dot(self.x.T, dz)
        if not need_dx:
            return None
        return np.dot(dz, self.W.T).reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax and mean cross-entropy; t is integer labels (N,) or one-hot (N, C)."""

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        if x.ndim == 1:
            x = x.reshape(1, -1)
            t = np.reshape(t, (1, -1) if np.size(t) == x.size else (1,))
        self.y = y = np.empty(x.shape, dtype=x.dtype)
        if t.size == y.size:
            self.loss = backend.ops.softmax_ce_forward_dense(x, t, y)
        else:
            self.loss = backend.ops.softmax_ce_forward(x, t, y)
        return self.loss

    def backward(self, dout=1):
        y = self.y
        t = np.reshape(self.t, (y.shape[0], -1) if np.size(self.t) == y.size else (y.shape[0],))
        dx = np.empty_like(y)
        if t.size == y.size:
            backend.ops.softmax_ce_backward_dense(y, t, y.dtype.type(dout), dx)
        else:
            backend.ops.softmax_ce_backward(y, t, y.dtype.type(dout), dx)
        return dx


class Dropout:
    """Zeroes each unit with probability ``dropout_ratio`` in training; scales by (1 - ratio) in
    inference, as the book does. Masks come from NumPy's global RNG unless ``rng`` is given."""

    def __init__(self, dropout_ratio=0.5, rng=None):
        self.dropout_ratio = dropout_ratio
        self.rng = rng
        self.mask = None

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        u = np.random.rand(*x.shape) if self.rng is None else self.rng.random(x.shape)
        self.mask = np.empty(x.shape, dtype=bool)
        out = np.empty_like(x, order="C")
        backend.ops.dropout_forward(_flat(x), u.reshape(-1), self.dropout_ratio,
                                    self.mask.reshape(-1), out.reshape(-1))
        return out

    def backward(self, dout):
        dx = np.empty_like(dout, order="C")
        backend.ops.dropout_backward(_flat(dout), self.mask.reshape(-1), dx.reshape(-1))
        return dx


class BatchNormalization:
    """Normalise each feature over the batch, then gamma * xn + beta; input (N, D) or (N, ...)
    (flattened to (N, -1)). Running statistics are updated in place during training."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    @property
    def xc(self):
        """The centred input of the last training forward (the book keeps it; here derived)."""
        return None if self.xn is None else self.xn * self.std

    def forward(self, x, train_flg=True):
        return self.forward_act(x, train_flg, None)

    def backward(self, dout):
        return self.backward_act(dout, None)

    def forward_act(self, x, train_flg, act):
        """act(batch_norm(x)) in one kernel; ``act`` is the activation layer or None."""
        self.input_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        n, d = x.shape
        dtype = np.result_type(x, self.gamma)
        if self.running_mean is None:
            self.running_mean = np.zeros(d, dtype=dtype)
            self.running_var = np.zeros(d, dtype=dtype)
        out = np.empty((n, d), dtype=dtype)
        code = NONE if act is None else act.code
        if train_flg:
            self.batch_size = n
            self.xn = np.empty((n, d), dtype=dtype)
            self.std = np.empty(d, dtype=dtype)
            backend.ops.bn_forward_train(x, self.gamma, self.beta, self.momentum,
                                         self.running_mean, self.running_var, code,
                                         self.xn, self.std, out)
        else:
            backend.ops.bn_forward_eval(x, self.gamma, self.beta, self.running_mean,
                                        self.running_var, code, out)
        if act is not None:
            act.out = out
        return out.reshape(self.input_shape)

    def backward_act(self, dout, act):
        """Gradients through ``act`` (or None) and the normalisation; sets dgamma and dbeta."""
        dout = dout.reshape(dout.shape[0], -1)
        dx = np.empty_like(self.xn)
        self.dgamma = np.empty_like(self.std)
        self.dbeta = np.empty_like(self.std)
        y = dout if act is None else act.out
        backend.ops.bn_backward(dout, y, NONE if act is None else act.code, self.xn, self.std,
                                self.gamma, dx, self.dgamma, self.dbeta)
        return dx.reshape(self.input_shape)
