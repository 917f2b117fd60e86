"""``LayeredNet``: the base of every net made of layers (MultiLayerNet(Extend), SimpleConvNet,
DeepConvNet, and a user's own), with the book's methods on the fused walk.

A net sets, the book's way, ``params`` ({key: array}), ``layers`` (an OrderedDict, or a list as
in the book's DeepConvNet) built on those arrays, ``last_layer`` (the loss layer), and
``input_size`` (values per row of x), ``output_size`` (classes) and, if not float64,
``dtype``; ``weight_decay_lambda`` adds 0.5 * lambda * sum(W ** 2) over the layers' decayed
parameters to the loss. The methods check x and t once, then walk the steps of
``fusion.plan(layers)`` (planned again when a layer or a params entry is replaced); grads are
keyed as ``params``, found by identity in the layers' ``param_names``, in the order of the
layers.
"""
import numbers

import numpy as np

from . import backend, validation
from .fusion import has_fast_path, named, plan
from .gradient import numerical_gradient


class LayeredNet:
    """predict / loss / accuracy / gradient / numerical_gradient over ``layers`` and
    ``last_layer`` (see the module docstring for what a net sets)."""

    dtype = np.dtype(np.float64)
    weight_decay_lambda = 0

    def predict(self, x, train_flg=False):
        """Scores (N, output_size); ``train_flg`` runs the layers in training mode (batch
        statistics, dropout masks)."""
        return self._forward(self._input(x), train_flg)

    def loss(self, x, t, train_flg=False):
        """Loss of the scores against t (labels (N,) or dense (N, output_size)) plus the
        weight-decay term."""
        return self._loss(*self._inputs(x, t), train_flg)

    def accuracy(self, x, t, batch_size=None):
        """Fraction classified correctly (inference mode); ``batch_size`` bounds the rows held
        at once."""
        return self._accuracy(x, t, batch_size)

    def gradient(self, x, t):
        """grads dict (the keys of ``params``) of the training-mode loss by backpropagation."""
        return self._gradient(x, t, True)

    def numerical_gradient(self, x, t):
        """grads by central differences of the training-mode loss (slow; for checking)."""
        return self._numerical_gradient(x, t, True)

    # ------------------------------------------------------------ construction helpers

    def _start(self, dtype, seed, rng):
        """dtype (float32/float64), rng (the generator for initial weights and dropout masks:
        ``rng``, default_rng(seed), or None for NumPy's global one) and empty ``params``."""
        self.dtype = validation.float_dtype("dtype", dtype)
        validation.generator("rng", rng)
        if seed is not None:
            if rng is not None:
                raise ValueError("give seed or rng, not both")
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
            rng = np.random.default_rng(seed)
        self.rng = rng
        self.params = {}

    def _draw(self, scale, *shape):
        """scale * standard normal draws of ``shape`` as the net's dtype, in the book's order
        (from NumPy's global RNG unless the net has its own generator)."""
        draw = np.random.randn(*shape) if self.rng is None else self.rng.standard_normal(shape)
        return (scale * draw).astype(self.dtype, copy=False)

    # ------------------------------------------------------------ the walk

    def _walk(self):
        """(fusion.plan(layers), whether last_layer has a fast path, _param_refs()), rebuilt
        when a layer, the last layer or an entry of params was added, removed or replaced."""
        layers, params = self.layers, self.params
        key = (tuple(layers.items()) if hasattr(layers, "items") else tuple(layers),
               self.last_layer, tuple(params), tuple(map(id, params.values())))
        if key != getattr(self, "_walk_key", None):
            self._walk_plan = plan(layers), has_fast_path(self.last_layer), self._param_refs()
            self._walk_key = key
        return self._walk_plan

    def _input(self, x):
        """x checked: (N, ...) floats with input_size values per row, finite; as the net's
        dtype (the book's float32 images meet float64 weights here once)."""
        return validation.batch("x", x, self.input_size, self.dtype)

    def _inputs(self, x, t):
        """x checked as by _input and t as labels (N,) or dense targets (N, output_size)."""
        x = self._input(x)
        return x, validation.targets(t, x.shape[0], self.output_size, self.dtype)

    def _forward(self, x, train_flg):
        """Scores for a checked x: every step, as the book's predict loop."""
        for step in self._walk()[0]:
            x = step.forward(x, train_flg)
        return x

    def _loss(self, x, t, train_flg):
        """Loss for a checked x and t."""
        y = self._forward(x, train_flg)
        _, loss_fast, refs = self._walk()
        last = self.last_layer
        loss = last.forward_unchecked(y, t) if loss_fast else last.forward(y, t)
        lam = self.weight_decay_lambda
        if lam != 0:
            for key, layer, name in refs:
                if name in _decayed(layer):
                    loss += 0.5 * lam * backend.ops.sum_squares(self.params[key].reshape(-1))
        return loss

    def _backward(self):
        """Backpropagation from the last loss; the first layer's dx is not computed."""
        steps, loss_fast, _ = self._walk()
        last = self.last_layer
        dout = last.backward_unchecked(1) if loss_fast else last.backward(1)
        for k in range(len(steps) - 1, -1, -1):
            dout = steps[k].backward(dout, k > 0)

    def _param_refs(self):
        """[(params key, layer, attribute name)] for each parameter a layer holds, in the order
        of the layers."""
        key_of = {id(value): key for key, value in self.params.items()}
        return [(key_of[id(getattr(layer, name))], layer, name) for _, layer in named(self.layers)
                for name in _param_names(layer, key_of) if id(getattr(layer, name)) in key_of]

    def _grads(self):
        """The grads dict from the layers' d<name> (plus lambda * W for decayed parameters)."""
        grads = {}
        lam = self.weight_decay_lambda
        for key, layer, name in self._walk()[2]:
            grad = getattr(layer, "d" + name)
            if lam != 0 and name in _decayed(layer):
                out = np.empty_like(grad)
                backend.ops.weight_decay_grad(grad.reshape(-1), grad.dtype.type(lam),
                                              getattr(layer, name).reshape(-1), out.reshape(-1))
                grad = out
            grads[key] = grad
        return grads

    def _gradient(self, x, t, train_flg):
        """grads of the loss in ``train_flg`` mode by backpropagation; that loss is kept in
        ``last_loss``."""
        self.last_loss = self._loss(*self._inputs(x, t), train_flg)
        self._backward()
        return self._grads()

    def _numerical_gradient(self, x, t, train_flg):
        """grads of the loss in ``train_flg`` mode by central differences."""
        x, t = self._inputs(x, t)
        loss_W = lambda W: self._loss(x, t, train_flg)  # noqa: E731 (the book's name)
        return {key: numerical_gradient(loss_W, self.params[key])
                for key, _, _ in self._walk()[2]}

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


def _param_names(layer, key_of):
    """The attributes of ``layer`` that hold parameters: its ``param_names``, or for a layer
    that does not declare them (the book's own ``Affine``, a user's class) every attribute
    that is one of the net's params (``key_of``: id -> params key); each has its gradient in
    ``d`` + name after backward."""
    names = getattr(layer, "param_names", None)
    if names is None:
        names = [name for name, value in vars(layer).items() if id(value) in key_of]
    return names


def _decayed(layer):
    """The parameters of ``layer`` that weight decay applies to: its ``decayed``, or ``W`` for
    a layer that does not say (the book decays every Affine's W)."""
    return getattr(layer, "decayed", ("W",))
