"""The book's optimizers (common/optimizer.py): ``update(params, grads)`` changes the arrays in
``params`` in place, one fused kernel per array, with state kept per key.

Every array and hyper-parameter is checked before any array is changed, so a rejected call
leaves params and state as they were: params must be float32 or float64 ndarrays of one dtype,
writable (read-only ones are refused, never copied: the caller holds them), each with a grad of
the same dtype and shape. Hyper-parameters are checked at every assignment, also between steps
(``opt.lr = -1`` raises). Grads are not scanned for NaN/Inf (that would cost a pass over every
gradient each step; the networks check their inputs instead). C-contiguous arrays go to the
kernel as flat views; other layouts run the NumPy twin, which updates them in place just the
same. State arrays set from outside that are read-only are replaced by writable copies.
"""
import numpy as np

from . import backend, validation
from .reference import optim as _reference


class Hyper:
    """A hyper-parameter attribute whose every assignment goes through ``check(name, value)``."""

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(self.name, value)


class _Optimizer:
    """Shared plumbing: validation, per-key state, one kernel call per parameter array.

    A subclass names its kernel, its hyper-parameters (``Hyper`` attributes), its state dicts
    (``state_names``, e.g. ("v",) for Momentum) and the scalars of one step (``_scalars``).
    """

    kernel = None
    state_names = ()
    lr = Hyper(validation.nonnegative)

    def __init__(self, **hyper):
        for name, value in hyper.items():
            setattr(self, name, value)
        for name in self.state_names:
            setattr(self, name, None)
        self._views = {}  # key -> ([param, *state], their flat views or None)

    def hyperparameters(self):
        """{name: value} of the constructor's arguments (the Hyper attributes), as they are now."""
        names = [name for cls in reversed(type(self).__mro__) for name, value in vars(cls).items()
                 if isinstance(value, Hyper)]
        return {name: getattr(self, name) for name in names}

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
                raise ValueError(f"grads has no entry for params key {key!r}; grads must have "
                                 "the keys of params")
            g = grads[key]
            if not isinstance(p, np.ndarray) or p.dtype not in validation.FLOATS:
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
            if p.dtype != items[0][1].dtype:
                found = ", ".join(f"{key} {p.dtype}" for key, p, _ in items)
                raise TypeError(f"params must all have one dtype, got {found}; build the network "
                                "with one dtype (e.g. dtype='float32') or cast the arrays")
        return items

    def _state(self, key, p):
        """(p and its state arrays, flat views of them or None if any is not C-contiguous),
        creating the state as zeros like p the first time a key (or a new array) is seen."""
        cached = self._views.get(key)
        if cached is not None and cached[0][0] is p and all(
                (getattr(self, name) or {}).get(key) is s
                for name, s in zip(self.state_names, cached[0][1:])):
            return cached
        arrays = [p]
        for name in self.state_names:
            table = getattr(self, name)
            if table is None:
                table = {}
                setattr(self, name, table)
            s = table.get(key)
            if not isinstance(s, np.ndarray) or s.shape != p.shape or s.dtype != p.dtype:
                s = table[key] = np.zeros_like(p)
            elif not s.flags.writeable:
                s = table[key] = s.copy()
            arrays.append(s)
        flat = tuple(a.reshape(-1) for a in arrays) \
            if all(a.flags.c_contiguous for a in arrays) else None
        self._views[key] = (arrays, flat)
        return arrays, flat

    def update(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (dicts with the same keys)."""
        items = self._checked(params, grads)
        scalars = self._scalars()
        if not items:
            return
        dtype = items[0][1].dtype.type
        scalars = tuple(dtype(s) for s in scalars)
        op = getattr(backend.ops, self.kernel)
        for key, p, g in items:
            arrays, flat = self._state(key, p)
            if flat is not None:
                op(flat[0], g.reshape(-1), *flat[1:], *scalars)
            else:
                getattr(_reference, self.kernel)(arrays[0], g, *arrays[1:], *scalars)


class SGD(_Optimizer):
    """Stochastic gradient descent: p -= lr * g."""

    kernel = "sgd"

    def __init__(self, lr=0.01):
        super().__init__(lr=lr)

    def _scalars(self):
        return (self.lr,)


class Momentum(_Optimizer):
    """v = momentum * v - lr * g; p += v."""

    kernel = "momentum"
    state_names = ("v",)
    momentum = Hyper(validation.fraction)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr=lr, momentum=momentum)

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
        super().__init__(lr=lr)

    def _scalars(self):
        return (self.lr, 1e-7)


class RMSprop(_Optimizer):
    """h = decay_rate * h + (1 - decay_rate) g^2; p -= lr * g / (sqrt(h) + 1e-7)."""

    kernel = "rmsprop"
    state_names = ("h",)
    decay_rate = Hyper(validation.fraction)

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr=lr, decay_rate=decay_rate)

    def _scalars(self):
        return (self.lr, self.decay_rate, 1e-7)


class Adam(_Optimizer):
    """Adam (http://arxiv.org/abs/1412.6980v8) with the book's bias-corrected step size."""

    kernel = "adam"
    state_names = ("m", "v")
    beta1 = Hyper(validation.fraction)
    beta2 = Hyper(validation.fraction)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__(lr=lr, beta1=beta1, beta2=beta2)
        self.iter = 0

    def _scalars(self):
        """Advances the step count: the bias-corrected step size lr_t of this step first."""
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        return (lr_t, self.beta1, self.beta2, 1e-7)
