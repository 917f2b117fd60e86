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
    """Shared plumbing: validation, per-key state, one kernel call per parameter array.

    A subclass names its kernel, its state dicts (``state_names``, e.g. ("v",) for Momentum) and
    the scalars of one step (``_scalars``).
    """

    kernel = None
    state_names = ()

    def __init__(self):
        for name in self.state_names:
            setattr(self, name, None)
        self._views = {}  # key -> ([param, *state], their flat views or None)

    def _scalars(self):
        raise NotImplementedError

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

    def _state(self, key, p):
        """(p and its state arrays, flat views of them or None if any is not C-contiguous),
        creating the state as zeros like p the first time a key (or a new array) is seen."""
        cached = self._views.get(key)
        if cached is not None and cached[0][0] is p and all(
                getattr(self, name)[key] is s for name, s in zip(self.state_names, cached[0][1:])):
            return cached
        arrays = [p]
        for name in self.state_names:
            table = getattr(self, name)
            if table is None:
                table = {}
                setattr(self, name, table)
            s = table.get(key)
            if s is None or s.shape != p.shape or s.dtype != p.dtype:
                s = table[key] = np.zeros_like(p)
            arrays.append(s)
        flat = tuple(a.reshape(-1) for a in arrays) \
            if all(a.flags.c_contiguous for a in arrays) else None
        self._views[key] = (arrays, flat)
        return arrays, flat

    def update(self, params, grads):
        items = self._checked(params, grads)
        scalars = self._scalars()
        op = getattr(backend.ops, self.kernel)
        typed = {}
        for key, p, g in items:
            dt = p.dtype
            if dt not in typed:
                typed[dt] = tuple(dt.type(s) for s in scalars)
            arrays, flat = self._state(key, p)
            if flat is not None:
                op(flat[0], g.reshape(-1), *flat[1:], *typed[dt])
            else:
                getattr(_reference, self.kernel)(arrays[0], g, *arrays[1:], *typed[dt])


class SGD(_Optimizer):
    """Stochastic gradient descent: p -= lr * g."""

    kernel = "sgd"

    def __init__(self, lr=0.01):
        _check_lr("lr", lr)
        super().__init__()
        self.lr = lr

    def _scalars(self):
        return (self.lr,)


class Momentum(_Optimizer):
    """v = momentum * v - lr * g; p += v."""

    kernel = "momentum"
    state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        _check_lr("lr", lr)
        _check_fraction("momentum", momentum)
        super().__init__()
        self.lr = lr
        self.momentum = momentum

    def _scalars(self):
        return (self.lr, self.momentum)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the book's form."""

    kernel = "nesterov"


class AdaGrad(_Optimizer):
    """h += g * g; p -= lr * g / (sqrt(h) + 1e-7)."""

    kernel = "adagrad"
    state_names = ("h",)

    def __init__(self, lr=0.01):
        _check_lr("lr", lr)
        super().__init__()
        self.lr = lr

    def _scalars(self):
        return (self.lr, 1e-7)


class RMSprop(_Optimizer):
    """h = decay_rate * h + (1 - decay_rate) g^2; p -= lr * g / (sqrt(h) + 1e-7)."""

    kernel = "rmsprop"
    state_names = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        _check_lr("lr", lr)
        _check_fraction("decay_rate", decay_rate)
        super().__init__()
        self.lr = lr
        self.decay_rate = decay_rate

    def _scalars(self):
        return (self.lr, self.decay_rate, 1e-7)


class Adam(_Optimizer):
    """Adam (http://arxiv.org/abs/1412.6980v8) with the book's bias-corrected step size."""

    kernel = "adam"
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

    def _scalars(self):
        """Advances the step count: the bias-corrected step size lr_t of this step first."""
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        return (lr_t, self.beta1, self.beta2, 1e-7)
