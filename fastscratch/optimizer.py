"""The book's optimizers (common/optimizer.py): ``update(params, grads)`` changes the arrays in
``params`` in place, one fused kernel per array, with state kept per key.

Every array is checked before any is changed, so a rejected call leaves params and state as they
were. C-contiguous arrays go to the kernel as flat views; other layouts run the NumPy twin, which
updates them in place just the same.
"""
import math

import numpy as np

from . import backend
from .reference import optim as _reference

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_lr(name, value):
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_fraction(name, value):
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) \
            or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


class _Optimizer:
    """Shared plumbing: validation, per-key state, and the choice between kernel and twin."""

    state_names = ()  # the per-key state dicts, e.g. ("v",) for Momentum

    def __init__(self):
        for name in self.state_names:
            setattr(self, name, None)

    def _checked(self, params, grads):
        """Validate every key before any update; returns [(key, p, g)]."""
        if not hasattr(params, "keys") or not hasattr(grads, "keys"):
            raise TypeError("params and grads must be dicts of arrays, got "
                            f"{type(params).__name__} and {type(grads).__name__}")
        items = []
        for key in params.keys():
            p = params[key]
            if key not in grads:
                raise KeyError(f"grads has no entry for params key {key!r}")
            g = grads[key]
            if not isinstance(p, np.ndarray) or p.dtype not in _FLOATS:
                raise TypeError(f"params[{key!r}] must be a float32 or float64 ndarray, got "
                                f"{getattr(p, 'dtype', type(p).__name__)}")
            if not p.flags.writeable:
                raise ValueError(f"params[{key!r}] is read-only; the update writes it in place")
            if not isinstance(g, np.ndarray) or g.dtype != p.dtype:
                raise TypeError(f"grads[{key!r}] must be an ndarray of params[{key!r}]'s dtype "
                                f"{p.dtype}, got {getattr(g, 'dtype', type(g).__name__)}")
            if g.shape != p.shape:
                raise ValueError(f"grads[{key!r}] has shape {g.shape}, params[{key!r}] has "
                                 f"shape {p.shape}")
            items.append((key, p, g))
        return items

    def _state(self, name, key, p):
        """The state array ``name`` for ``key``, created as zeros like p on first use."""
        table = getattr(self, name)
        if table is None:
            table = {}
            setattr(self, name, table)
        s = table.get(key)
        if s is None or s.shape != p.shape or s.dtype != p.dtype:
            s = table[key] = np.zeros_like(p)
        return s

    def _apply(self, op, p, g, states, *scalars):
        """Run the update ``op`` on one array: the kernel on flat views, or the NumPy twin."""
        arrays = (p, g) + tuple(states)
        scalars = tuple(p.dtype.type(s) for s in scalars)
        if all(a.flags.c_contiguous for a in arrays):
            getattr(backend.ops, op)(*(a.reshape(-1) for a in arrays), *scalars)
        else:
            getattr(_reference, op)(*arrays, *scalars)

    def update(self, params, grads):
        for key, p, g in self._checked(params, grads):
            self._update_one(key, p, g)


class SGD(_Optimizer):
    """Stochastic gradient descent: p -= lr * g."""

    def __init__(self, lr=0.01):
        _check_lr("lr", lr)
        super().__init__()
        self.lr = lr

    def _update_one(self, key, p, g):
        self._apply("sgd", p, g, (), self.lr)


class Momentum(_Optimizer):
    """v = momentum * v - lr * g; p += v."""

    state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        _check_lr("lr", lr)
        _check_fraction("momentum", momentum)
        super().__init__()
        self.lr = lr
        self.momentum = momentum

    def _update_one(self, key, p, g):
        self._apply("momentum", p, g, (self._state("v", key, p),), self.lr, self.momentum)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the book's form."""

    def _update_one(self, key, p, g):
        self._apply("nesterov", p, g, (self._state("v", key, p),), self.lr, self.momentum)


class AdaGrad(_Optimizer):
    """h += g * g; p -= lr * g / (sqrt(h) + 1e-7)."""

    state_names = ("h",)

    def __init__(self, lr=0.01):
        _check_lr("lr", lr)
        super().__init__()
        self.lr = lr

    def _update_one(self, key, p, g):
        self._apply("adagrad", p, g, (self._state("h", key, p),), self.lr, 1e-7)


class RMSprop(_Optimizer):
    """h = decay_rate * h + (1 - decay_rate) g^2; p -= lr * g / (sqrt(h) + 1e-7)."""

    state_names = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        _check_lr("lr", lr)
        _check_fraction("decay_rate", decay_rate)
        super().__init__()
        self.lr = lr
        self.decay_rate = decay_rate

    def _update_one(self, key, p, g):
        self._apply("rmsprop", p, g, (self._state("h", key, p),), self.lr, self.decay_rate,
                    1e-7)


class Adam(_Optimizer):
    """Adam (http://arxiv.org/abs/1412.6980v8) with the book's bias-corrected step size."""

    state_names = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        _check_lr("lr", lr)
        _check_fraction("beta1", beta1)
        _check_fraction("beta2", beta2)
        super().__init__()
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0

    def update(self, params, grads):
        items = self._checked(params, grads)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key, p, g in items:
            self._apply("adam", p, g, (self._state("m", key, p), self._state("v", key, p)),
                        lr_t, self.beta1, self.beta2, 1e-7)
