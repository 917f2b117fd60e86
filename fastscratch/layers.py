"""The book's layers (common/layers.py): same names, attributes, forward and backward, on one
public base, ``Layer`` (its docstring is the protocol the networks walk).
"""
import numpy as np

from . import backend, validation
from .constants import NONE, RELU, SIGMOID
# The book's common/layers.py imports these, so `from common.layers import *` gives them too.
from .functions import (cross_entropy_error, identity_function, relu, relu_grad, sigmoid,
                        sigmoid_grad, softmax, softmax_loss, step_function, sum_squared_error)
from .util import col2im, im2col
from .work import out_size

__all__ = ["np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
           "relu_grad", "softmax", "sum_squared_error", "cross_entropy_error", "softmax_loss",
           "im2col", "col2im", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout",
           "BatchNormalization", "Convolution", "Pooling"]


def _flat(a):
    """A flat view of a (copied first if it is not C-contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


class Layer:
    """The base of every layer, built-in or a user's own, the loss layer included.

    The public face is the book's pair: ``forward(x)`` (or ``forward(x, train_flg=True)`` for a
    layer that behaves differently in training, ``forward(x, t)`` for the loss layer) and
    ``backward(dout)``, which keep what backward needs on the layer. A subclass that defines
    only these works in every net, walked through them (``fastscratch.fusion``).

    The fast path, which the networks call after checking their input once, is the unchecked
    pair beside them (the built-in layers' forward/backward check their arguments and call it):

        forward_unchecked(x, train_flg, *fused)        -> out
        backward_unchecked(dout, *fused, need_dx=True) -> dx (None allowed when not need_dx)
        (loss layer: forward_unchecked(x, t) -> loss, backward_unchecked(dout=1) -> dx)

    ``fuses`` lists the kinds of layer the class can take into its own kernel when they follow
    it, in order (Affine: ``(Activation,)``); the fused layers are passed as ``*fused``, and the
    fast path leaves each in the state it would have had running alone (``Activation.hold``).
    ``param_names`` are the attributes holding parameters, each with its gradient in ``d`` +
    name after backward (``W`` -> ``dW``); ``decayed`` those that weight decay applies to.
    """

    fuses = ()
    param_names = ()
    decayed = ()

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} defines no backward")


def _code(act):
    """The activation code of a fused activation layer (NONE for None)."""
    return NONE if act is None else act.code


def _held(act, out):
    """out, handed to the fused activation layer ``act`` (if any) as its own output."""
    if act is not None:
        act.hold(out)
    return out


class Activation(Layer):
    """An elementwise activation that keeps its output ``out`` for the backward pass."""

    code = NONE

    def __init__(self):
        self.out = None

    def forward(self, x):
        return self.forward_unchecked(validation.finite_floats("x", x), True)

    def backward(self, dout):
        validation.forward_done(self, "out")
        dout = validation.gradient_in(dout, self.out.shape, self.out.dtype)
        return self.backward_unchecked(dout)

    def hold(self, out):
        """Keep ``out``, this activation's output computed by the fused layer before it."""
        self.out = out

    def forward_unchecked(self, x, train_flg):
        out = np.empty_like(x, order="C")
        backend.ops.act_forward(_flat(x), self.code, out.reshape(-1))
        self.out = out
        return out

    def backward_unchecked(self, dout, need_dx=True):
        dx = np.empty_like(self.out)
        backend.ops.act_backward(_flat(dout), self.out.reshape(-1), self.code, dx.reshape(-1))
        return dx


class Relu(Activation):
    """y = max(x, 0)."""

    code = RELU

    @property
    def mask(self):
        """The book's mask: where the input was <= 0."""
        return None if self.out is None else self.out <= 0


class Sigmoid(Activation):
    """y = 1 / (1 + exp(-x)); backward uses y (1 - y)."""

    code = SIGMOID


class Affine(Layer):
    """out = x W + b with x of shape (N, ...) flattened to (N, D); W (D, M), b (M,) (or a
    number: stored as M copies)."""

    fuses = (Activation,)
    param_names = ("W", "b")
    decayed = ("W",)

    def __init__(self, W, b):
        self.W = validation.matrix_param("W", W)
        self.b = validation.bias_param("b", b, W.shape[1], W.dtype)
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        return self.forward_unchecked(validation.batch("x", x, self.W.shape[0], self.W.dtype),
                                      True)

    def backward(self, dout):
        validation.forward_done(self, "x")
        shape = (self.x.shape[0], self.W.shape[1])
        return self.backward_unchecked(validation.gradient_in(dout, shape, self.W.dtype))

    def forward_unchecked(self, x, train_flg, act=None):
        """act(x W + b): each tile of the product followed by its bias and activation."""
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.empty((x.shape[0], self.W.shape[1]), dtype=self.W.dtype)
        backend.ops.affine_forward(x, self.W, self.b, _code(act), out)
        return _held(act, out)

    def backward_unchecked(self, dout, act=None, need_dx=True):
        """Gradients through ``act`` (or None) and this layer; dx is skipped when not needed."""
        if act is not None:
            dz, y = np.empty_like(dout), act.out
        else:
            if not dout.flags.writeable:  # the kernel types dz as writable; dout stands for it
                dout = dout.copy()
            dz, y = dout, dout  # not written: dout is the product's operand
        self.db = np.empty(dout.shape[1], dtype=dout.dtype)
        self.dW = np.empty_like(self.W)
        dx = np.empty(self.x.shape, dtype=dout.dtype) if need_dx else None
        backend.ops.affine_backward(dout, y, _code(act), self.x, self.W, dz, self.db, self.dW, dx)
        return None if dx is None else dx.reshape(self.original_x_shape)


class SoftmaxWithLoss(Layer):
    """Softmax and mean cross-entropy of x (N, C) or (C,). t is integer labels (N,) or dense
    (N, C): one-hot, or soft labels (finite, >= 0) whose loss uses each row's argmax as the book
    does while the gradient is (y - t) / N. Shifted by each row's maximum: finite for any finite
    logits; log(y + eps) never takes log(0). As the last layer its unchecked pair is
    ``forward_unchecked(x, t)`` -> loss and ``backward_unchecked(dout)`` -> dx."""

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        return self.forward_unchecked(*validation.softmax_inputs(x, t))

    def backward(self, dout=1):
        validation.forward_done(self, "y")
        return self.backward_unchecked(validation.scalar_gradient(dout))

    def forward_unchecked(self, x, t):
        """x (N, C); t labels (N,) or dense (N, C) of x's dtype."""
        self.t = t
        self.y = y = np.empty(x.shape, dtype=x.dtype)
        if t.ndim == 2:
            self.loss = backend.ops.softmax_ce_forward_dense(x, t, y)
        else:
            self.loss = backend.ops.softmax_ce_forward(x, t, y)
        return self.loss

    def backward_unchecked(self, dout=1):
        y, t = self.y, self.t
        dx = np.empty_like(y)
        if t.ndim == 2:
            backend.ops.softmax_ce_backward_dense(y, t, y.dtype.type(dout), dx)
        else:
            backend.ops.softmax_ce_backward(y, t, y.dtype.type(dout), dx)
        return dx


class Dropout(Layer):
    """Zeroes each unit with probability ``dropout_ratio`` in training; scales by (1 - ratio) in
    inference, as the book does. Masks come from NumPy's global RNG unless ``rng`` is given."""

    def __init__(self, dropout_ratio=0.5, rng=None):
        self.dropout_ratio = validation.fraction("dropout_ratio", dropout_ratio)
        self.rng = validation.generator("rng", rng)
        self.mask = None

    def forward(self, x, train_flg=True):
        return self.forward_unchecked(validation.finite_floats("x", x), train_flg)

    def backward(self, dout):
        validation.forward_done(self, "mask")
        return self.backward_unchecked(validation.gradient_in(dout, self.mask.shape))

    def forward_unchecked(self, x, train_flg):
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        u = np.random.rand(*x.shape) if self.rng is None else self.rng.random(x.shape)
        self.mask = np.empty(x.shape, dtype=bool)
        out = np.empty_like(x, order="C")
        backend.ops.dropout_forward(_flat(x), u.reshape(-1), self.dropout_ratio,
                                    self.mask.reshape(-1), out.reshape(-1))
        return out

    def backward_unchecked(self, dout, need_dx=True):
        dx = np.empty_like(dout, order="C")
        backend.ops.dropout_backward(_flat(dout), self.mask.reshape(-1), dx.reshape(-1))
        return dx


class BatchNormalization(Layer):
    """Normalise each feature over the batch, then gamma * xn + beta; input (N, D) or (N, ...)
    (flattened to (N, -1)). Running statistics are updated in place during training.

    As the book computes it: a feature that is constant over the batch gets xn = 0 (the variance
    is 0 and the eps keeps the division finite), so every output of it is beta, and its dx is
    gamma / sqrt(eps) * (dout - mean(dout)): large but finite. A batch of one row in training
    mode is such a batch in every feature: the output is beta, dx is 0, and the running variance
    decays towards 0 by ``momentum``. It is allowed because the book's own batch-norm gradient
    check runs on one image.
    """

    fuses = (Activation,)
    param_names = ("gamma", "beta")

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = validation.vector_param("gamma", gamma)
        self.beta = validation.vector_param("beta", beta, gamma.size, gamma.dtype)
        self.momentum = validation.fraction("momentum", momentum)
        if (running_mean is None) != (running_var is None):
            raise ValueError("running_mean and running_var must be given together, got one "
                             "of them only")
        for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
            if stat is not None:
                validation.writable(name, validation.vector_param(name, stat, gamma.size,
                                                                  gamma.dtype))
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
        x = validation.batch("x", x, self.gamma.size, self.gamma.dtype)
        return self.forward_unchecked(x, train_flg)

    def backward(self, dout):
        validation.forward_done(self, "xn", "training-mode ")
        shape = (self.xn.shape[0],) + self.input_shape[1:]
        return self.backward_unchecked(validation.gradient_in(dout, shape, self.xn.dtype))

    def forward_unchecked(self, x, train_flg, act=None):
        """act(batch_norm(x)) in one kernel; ``act`` is the activation layer or None."""
        self.input_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        n, d = x.shape
        dtype = np.result_type(x, self.gamma)
        if self.running_mean is None:
            self.running_mean = np.zeros(d, dtype=dtype)
            self.running_var = np.zeros(d, dtype=dtype)
        out = np.empty((n, d), dtype=dtype)
        if train_flg:
            self.batch_size = n
            self.xn = np.empty((n, d), dtype=dtype)
            self.std = np.empty(d, dtype=dtype)
            backend.ops.bn_forward_train(x, self.gamma, self.beta, self.momentum,
                                         self.running_mean, self.running_var, _code(act),
                                         self.xn, self.std, out)
        else:
            backend.ops.bn_forward_eval(x, self.gamma, self.beta, self.running_mean,
                                        self.running_var, _code(act), out)
        return _held(act, out.reshape(self.input_shape))

    def backward_unchecked(self, dout, act=None, need_dx=True):
        """Gradients through ``act`` (or None) and the normalisation; sets dgamma and dbeta."""
        dout = dout.reshape(dout.shape[0], -1)
        dx = np.empty_like(self.xn)
        self.dgamma = np.empty_like(self.std)
        self.dbeta = np.empty_like(self.std)
        y = dout if act is None else act.out.reshape(dout.shape)
        backend.ops.bn_backward(dout, y, _code(act), self.xn, self.std, self.gamma, dx,
                                self.dgamma, self.dbeta)
        return dx.reshape(self.input_shape)


class Pooling(Layer):
    """Max pooling of x (N, C, H, W) over pool_h x pool_w windows: out (N, C, OH, OW) with
    OH = (H + 2 pad - pool_h) // stride + 1. Padding counts as zeros, as in the book's im2col.
    (The book computes OH without pad and so fails at a reshape for most pad > 0; where it runs,
    the results agree.) ``arg_max`` is the book's: each window's first maximum, (N*OH*OW*C,).

    A 2x2 stride-2 pool without padding after a Convolution (and its activation) runs in the
    convolution's kernel (``Convolution.forward_unchecked``), which keeps each maximum's window
    index in (N, C, OH, OW) order; ``arg_max`` is made from it on first access."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = validation.positive_int("pool_h", pool_h)
        self.pool_w = validation.positive_int("pool_w", pool_w)
        self.stride = validation.positive_int("stride", stride)
        self.pad = validation.positive_int("pad", pad, least=0)
        self.x = None
        self.arg_max = None

    @property
    def arg_max(self):
        """The book's arg_max of the last training-mode forward, (N*OH*OW*C,)."""
        if self._arg_max is None and self._codes is not None:
            self._arg_max = self._codes.transpose(0, 2, 3, 1).reshape(-1).astype(np.intp)
        return self._arg_max

    @arg_max.setter
    def arg_max(self, arg_max):
        self._arg_max, self._codes = arg_max, None

    def fits_2x2(self, shape):
        """Whether this pool over images of ``shape`` (N, C, H, W) is the 2x2 stride-2 pool
        without padding that the convolution kernels fuse."""
        return (self.pool_h, self.pool_w, self.stride, self.pad) == (2, 2, 2, 0) and \
            min(shape[2:]) >= 2

    def hold(self, x, codes):
        """Keep the state of a forward over ``x`` that the convolution before it computed:
        ``codes`` (N, C, OH, OW) the window index of each maximum (None in inference)."""
        self.x = x
        self._arg_max, self._codes = None, codes

    def forward(self, x):
        x = validation.images("x", x, (self.pool_h, self.pool_w), self.pad)
        return self.forward_unchecked(x, True)

    def backward(self, dout):
        validation.forward_done(self, "arg_max", "training-mode ")
        n, c, h, w = self.x.shape
        shape = (n, c, out_size(h, self.pool_h, self.stride, self.pad),
                 out_size(w, self.pool_w, self.stride, self.pad))
        return self.backward_unchecked(validation.gradient_in(dout, shape, self.x.dtype))

    def forward_unchecked(self, x, train_flg=True):
        """The pooled maxima of checked x; sets x, and arg_max in training mode."""
        n, c, h, w = x.shape
        oh = out_size(h, self.pool_h, self.stride, self.pad)
        ow = out_size(w, self.pool_w, self.stride, self.pad)
        out = np.empty((n, c, oh, ow), dtype=x.dtype)
        arg_max = np.empty(n * oh * ow * c if train_flg else 0, dtype=np.intp)
        backend.ops.pool_forward(x, self.pool_h, self.pool_w, self.stride, self.pad, out,
                                 arg_max)
        self.x = x
        self.arg_max = arg_max if train_flg else None
        return out

    def backward_unchecked(self, dout, need_dx=True):
        """dx: each dout routed to its window's maximum (None when not ``need_dx``)."""
        if not need_dx:
            return None
        dx = np.empty(self.x.shape, dtype=dout.dtype)
        backend.ops.pool_backward(dout, self.arg_max, self.pool_h, self.pool_w, self.stride,
                                  self.pad, dx)
        return dx


class Convolution(Layer):
    """out = conv(x, W) + b over images x (N, C, H, W) with filters W (FN, C, FH, FW), b (FN,)
    (or a number, as the book's ch07/apply_filter.py passes: stored as FN copies):
    out (N, FN, OH, OW), OH = (H + 2 pad - FH) // stride + 1. A following Relu or Sigmoid can
    be fused (``act``), as for Affine.

    ``col`` is the book's patch matrix (N*OH*OW, C*FH*FW) of the last input, made from ``x``
    on first access (the kernels make each image's patches in a scratch and do not keep them);
    ``col_W`` is W.reshape(FN, -1).T as in the book. A following 2x2 stride-2 Pooling (after the
    activation) is fused too: the kernel returns the pooled output, and backward takes its
    gradient.
    """

    fuses = (Activation, Pooling)
    param_names = ("W", "b")
    decayed = ("W",)

    def __init__(self, W, b, stride=1, pad=0):
        self.W = validation.filter_param("W", W)
        self.b = validation.bias_param("b", b, W.shape[0], W.dtype)
        self.stride = validation.positive_int("stride", stride)
        self.pad = validation.positive_int("pad", pad, least=0)
        self.x = None
        self._train_x = None  # x of the last training-mode forward, for backward
        self._col = None
        self.col_W = None
        self.dW = None
        self.db = None
        self._pooled = None  # the fused pool's output and codes, for backward
        self._codes = None

    @property
    def col(self):
        """The book's im2col matrix of the last forward input, (N*OH*OW, C*FH*FW)."""
        if self._col is None and self.x is not None:
            self._col = im2col(self.x, self.W.shape[2], self.W.shape[3], self.stride, self.pad)
        return self._col

    def forward(self, x):
        x = validation.images("x", x, self.W.shape[2:], self.pad, self.W.shape[1],
                              self.W.dtype)
        return self.forward_unchecked(x, True)

    def backward(self, dout):
        validation.forward_done(self, "_train_x", "training-mode ")
        n, _, h, w = self.x.shape
        shape = (n, self.W.shape[0], out_size(h, self.W.shape[2], self.stride, self.pad),
                 out_size(w, self.W.shape[3], self.stride, self.pad))
        return self.backward_unchecked(validation.gradient_in(dout, shape, self.W.dtype))

    def forward_unchecked(self, x, train_flg=True, act=None, pool=None):
        """act(conv(x, W) + b) for checked x, pooled by ``pool`` if given; ``act`` and ``pool``
        are the following activation and Pooling layers or None. Backward is allowed after a
        training-mode forward only."""
        W = np.ascontiguousarray(self.W)
        fn, c, fh, fw = W.shape
        n, _, h, w = x.shape
        oh = out_size(h, fh, self.stride, self.pad)
        ow = out_size(w, fw, self.stride, self.pad)
        if pool is not None and not pool.fits_2x2((n, fn, oh, ow)):
            return pool.forward_unchecked(self.forward_unchecked(x, train_flg, act), train_flg)
        out = np.empty((n, fn, oh, ow), dtype=W.dtype)
        self.x = x
        self._train_x = x if train_flg else None
        self._col = None
        self.col_W = self.W.reshape(fn, -1).T
        self._pooled = self._codes = None
        if pool is None:
            backend.ops.conv_forward(x, W, self.b, self.stride, self.pad, _code(act), out,
                                     None, None, backend.direct_convolution())
            return _held(act, out)
        pooled = np.empty((n, fn, oh // 2, ow // 2), dtype=W.dtype)
        codes = np.empty(pooled.shape, dtype=np.uint8)
        backend.ops.conv_forward(x, W, self.b, self.stride, self.pad, _code(act), out, pooled,
                                 codes, backend.direct_convolution())
        if train_flg:
            self._pooled, self._codes = pooled, codes
        pool.hold(_held(act, out), self._codes)
        return pooled

    def backward_unchecked(self, dout, act=None, pool=None, need_dx=True):
        """Gradients through ``pool`` and ``act`` (each None or the layer) and this layer: sets
        dW and db, returns dx (None when not ``need_dx``)."""
        W = np.ascontiguousarray(self.W)
        dtype = W.dtype
        self.dW = np.empty(W.shape, dtype=dtype)
        self.db = np.empty(W.shape[0], dtype=dtype)
        dx = np.empty(self.x.shape, dtype=dtype) if need_dx else None
        if pool is not None and self._codes is not None:  # the pool ran in the forward kernel
            backend.ops.conv_backward(dout, dout if act is None else self._pooled, _code(act),
                                      self._train_x, W, self.stride, self.pad, self.dW,
                                      self.db, dx, self._codes, backend.direct_convolution())
            return dx
        if pool is not None:
            dout = pool.backward_unchecked(dout)
        backend.ops.conv_backward(dout, dout if act is None else act.out, _code(act),
                                  self._train_x, W, self.stride, self.pad, self.dW, self.db, dx,
                                  None, backend.direct_convolution())
        return dx
