"""The book's optimizers (common/optimizer.py): ``update(params, grads)`` changes the entries of
``params`` with the book's formulas, keeping state per key; ``OPTIMIZERS`` maps each lower-case
name to its class (the one registry for the trainer, the CLI and the hyper-parameter search).

Every entry and hyper-parameter is checked before anything is changed, so a rejected call
leaves params and state as they were. An entry is either
  * a float32 or float64 ndarray (0-d included), updated in place by one fused kernel, with a
    grad of the same dtype and shape; the arrays must share one dtype and be writable (read-only
    ones are refused, never copied: the caller holds them). C-contiguous arrays go to the kernel
    as flat views; other layouts run the NumPy twin, which updates them in place just the same;
  * or a real number (Python or NumPy scalar, as in the book's ch06/optimizer_compare_naive.py)
    with a real-number grad: updated in float64 by the NumPy twin, i.e. the book's formulas, and
    replaced in params by the result (a NumPy float64), as the book's ``params[key] -= ...`` does.
Hyper-parameters are checked at every assignment, also between steps (``opt.lr = -1`` raises).
Grads are not scanned for NaN/Inf (that would cost a pass over every gradient each step; the
networks check their inputs instead). State arrays set from outside that are read-only are
replaced by writable copies.
"""
import functools
import inspect

import numpy as np

from . import backend, validation
from .constants import OPTIMIZER_EPS
from .reference import optim as twins


class Hyper:
    """A hyper-parameter attribute whose every assignment goes through ``check(name, value)``
    (the constructor's, and any later ``opt.lr = ...``)."""

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(self.name, value)


def _found(value):
    return str(value.dtype) if isinstance(value, np.ndarray) else type(value).__name__


@functools.cache
def hyperparameter_names(cls):
    """The names of an optimizer class's hyper-parameters: its constructor's parameters, in
    their order (each one a ``Hyper`` attribute of the class)."""
    return tuple(inspect.signature(cls.__init__).parameters)[1:]


class Optimizer:
    """The base of the optimizers: checks, per-key state, one kernel call per parameter array.

    A subclass writes out
      * ``__init__(self, lr, ...)``: its hyper-parameters with the book's defaults, each assigned
        to a ``Hyper`` attribute of the class (which checks it), and its state tables and
        counters set to None and 0 as the book does, after ``super().__init__()``;
      * ``update(self, params, grads)``: ``self._apply(params, grads, op, *scalars)`` with
        ``op`` the name of its operation in kernels/optim.py and reference/optim.py and the
        operation's scalars;
    and declares ``state_names``, its per-key state tables in the kernel's argument order (each
    maps a params key to an array like that entry), and ``counters``, the step counts it keeps
    (e.g. ("iter",) for Adam); state_dict() saves both. ``train_lr`` is the learning rate
    ``fastscratch train`` starts from (None: the constructor's default).
    """

    state_names = ()
    counters = ()
    train_lr = None

    def __init__(self):
        self._views = {}  # key -> ([param, *state], their flat views or None)

    def hyperparameters(self):
        """{name: value} of the constructor's arguments, as they are now."""
        return {name: getattr(self, name) for name in hyperparameter_names(type(self))}

    # ------------------------------------------------------------ state

    def state_dict(self):
        """What the next updates depend on: {'hyperparameters': {name: value}, 'state':
        {state name: None or {params key: array}}, and each counter ('iter': n for Adam)}.
        The arrays are the optimizer's own, not copies."""
        state = {name: None if getattr(self, name) is None else dict(getattr(self, name))
                 for name in self.state_names}
        return {"hyperparameters": self.hyperparameters(), "state": state,
                **{name: getattr(self, name) for name in self.counters}}

    def check_state_dict(self, state, params=None):
        """Raise ValueError naming the first thing in ``state`` (a state_dict()) that does not
        fit this optimizer, or, when given, the arrays of ``params``; changes nothing."""
        if not isinstance(state, dict) or not isinstance(state.get("hyperparameters"), dict) \
                or not isinstance(state.get("state"), dict):
            raise ValueError(f"a {type(self).__name__} state must be a dict with 'hyperparameters' "
                             f"and 'state' dicts, got {_found(state)}")
        hyper, names = state["hyperparameters"], hyperparameter_names(type(self))
        if set(hyper) != set(names):
            raise ValueError(f"{type(self).__name__} hyper-parameters are {names}, "
                             f"the state has {tuple(hyper)}")
        for name, value in hyper.items():
            try:
                getattr(type(self), name).check(name, value)
            except TypeError as exc:  # a value of the wrong kind: this state does not fit either
                raise ValueError(str(exc)) from None
        if set(state["state"]) != set(self.state_names):
            raise ValueError(f"{type(self).__name__} state tables are {self.state_names}, the "
                             f"state has {tuple(state['state'])}")
        for name in self.counters:
            n = state.get(name)
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{type(self).__name__} state needs {name!r} as an int >= 0, "
                                 f"got {n!r}")
        for name, table in state["state"].items():
            if table is None:
                continue
            if not isinstance(table, dict):
                raise ValueError(f"state {name} must be None or a dict, got {_found(table)}")
            for key, value in table.items():
                if not isinstance(value, np.ndarray) or value.dtype not in validation.FLOATS:
                    raise ValueError(f"state {name}[{key!r}] must be a float32 or float64 "
                                     f"ndarray, got {_found(value)}")
                if params is None:
                    continue
                p = params.get(key)
                like = np.asarray(p, np.float64) if validation.is_real(p) else p
                if not isinstance(like, np.ndarray) or value.shape != like.shape or \
                        value.dtype != like.dtype:
                    found = "there is no such param" if p is None else \
                        f"params[{key!r}] is {_found(like)} {getattr(like, 'shape', '')}"
                    raise ValueError(f"optimizer state {name}[{key!r}] is {value.dtype} "
                                     f"{value.shape}, but {found}")

    def load_state_dict(self, state):
        """Restore a state_dict() after checking all of it; state arrays this optimizer holds
        keep their identity where shape and dtype fit (others are replaced by copies)."""
        self.check_state_dict(state)
        for name, value in state["hyperparameters"].items():
            setattr(self, name, value)
        for name in self.counters:
            setattr(self, name, int(state[name]))
        for name, saved in state["state"].items():
            if saved is None:
                setattr(self, name, None)
                continue
            table = getattr(self, name) or {}
            for key in set(table) - set(saved):
                del table[key]
            for key, value in saved.items():
                old = table.get(key)
                if isinstance(old, np.ndarray) and old.shape == value.shape and \
                        old.dtype == value.dtype and old.flags.writeable:
                    np.copyto(old, value)
                else:
                    table[key] = value.copy()
            setattr(self, name, table)

    # ------------------------------------------------------------ update

    def _checked(self, params, grads):
        """Check every key before any update; returns [(key, p, g, is_number)]."""
        if not hasattr(params, "keys") or not hasattr(grads, "keys"):
            raise TypeError("params and grads must be dicts of arrays, got "
                            f"{type(params).__name__} and {type(grads).__name__}")
        items, dtypes = [], {}
        for key in params.keys():
            p = params[key]
            if key not in grads:
                raise ValueError(f"grads has no entry for params key {key!r}; grads must have "
                                 "the keys of params")
            g = grads[key]
            if validation.is_real(p):
                if not (validation.is_real(g) or isinstance(g, np.ndarray) and g.shape == ()
                        and validation.is_real(g[()])):
                    raise TypeError(f"grads[{key!r}] must be a real number like params[{key!r}], "
                                    f"got {_found(g)}")
                items.append((key, p, g, True))
                continue
            if not isinstance(p, np.ndarray) or p.dtype not in validation.FLOATS:
                raise TypeError(f"params[{key!r}] must be a float32 or float64 ndarray or a real "
                                f"number, got {_found(p)}")
            if not p.flags.writeable:
                raise ValueError(f"params[{key!r}] is read-only; the update writes it in place")
            if not isinstance(g, np.ndarray) or g.dtype != p.dtype:
                raise TypeError(f"grads[{key!r}] must be an ndarray of params[{key!r}]'s dtype "
                                f"{p.dtype}, got {_found(g)}")
            if g.shape != p.shape:
                raise ValueError(f"grads[{key!r}] has shape {g.shape}, params[{key!r}] has "
                                 f"shape {p.shape}")
            dtypes[key] = p.dtype
            if len(set(dtypes.values())) > 1:
                found = ", ".join(f"{k} {d}" for k, d in dtypes.items())
                raise TypeError(f"params must all have one dtype, got {found}; build the network "
                                "with one dtype (e.g. dtype='float32') or cast the arrays")
            items.append((key, p, g, False))
        return items

    def _state(self, key, like):
        """The state arrays of ``key``, created as zeros like ``like`` where missing or not
        fitting (a new key, or a new array under a known key)."""
        arrays = []
        for name in self.state_names:
            table = getattr(self, name)
            if table is None:
                table = {}
                setattr(self, name, table)
            s = table.get(key)
            if not isinstance(s, np.ndarray) or s.shape != like.shape or s.dtype != like.dtype:
                s = table[key] = np.zeros_like(like)
            elif not s.flags.writeable:
                s = table[key] = s.copy()
            arrays.append(s)
        return arrays

    def _views_of(self, key, p):
        """(p and its state arrays, their flat views or None if any is not C-contiguous),
        cached while the arrays stay the same objects."""
        cached = self._views.get(key)
        if cached is not None and cached[0][0] is p and all(
                (getattr(self, name) or {}).get(key) is s
                for name, s in zip(self.state_names, cached[0][1:])):
            return cached
        arrays = [p, *self._state(key, p)]
        flat = tuple(a.reshape(-1) for a in arrays) \
            if all(a.flags.c_contiguous for a in arrays) else None
        self._views[key] = (arrays, flat)
        return arrays, flat

    def update(self, params, grads):
        """Update every entry of ``params`` from ``grads`` (dicts with the same keys) in place."""
        raise NotImplementedError

    def _apply(self, params, grads, op, *scalars):
        """Check every entry (a rejected call changes nothing), then run operation ``op``
        as ``op(p, g, *state, *scalars)`` (the state arrays in ``state_names`` order) on each:
        C-contiguous arrays as flat views on the backend's ``op``, other layouts on its NumPy
        twin in place, numbers on the twin in float64 (the result replaces the params entry).
        The scalars are cast to each entry's dtype."""
        twin = getattr(twins, op)
        typed = {}
        for key, p, g, is_number in self._checked(params, grads):
            if is_number:
                p0 = np.array(p, dtype=np.float64)
                twin(p0, np.array(g, dtype=np.float64), *self._state(key, p0),
                     *(np.float64(s) for s in scalars))
                params[key] = p0[()]
                continue
            if p.dtype not in typed:
                typed[p.dtype] = tuple(p.dtype.type(s) for s in scalars)
            arrays, flat = self._views_of(key, p)
            if flat is not None:
                getattr(backend.ops, op)(flat[0], g.reshape(-1), *flat[1:], *typed[p.dtype])
            else:
                twin(arrays[0], g, *arrays[1:], *typed[p.dtype])


class SGD(Optimizer):
    """Stochastic gradient descent: p -= lr * g."""

    lr = Hyper(validation.nonnegative)
    train_lr = 0.1

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr

    def update(self, params, grads):
        self._apply(params, grads, "sgd", self.lr)


class Momentum(Optimizer):
    """v = momentum * v - lr * g; p += v."""

    lr = Hyper(validation.nonnegative)
    momentum = Hyper(validation.fraction)
    state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        self._apply(params, grads, "momentum", self.lr, self.momentum)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the book's current form, with Momentum's constructor
    and state: p += momentum^2 * v; p -= (1 + momentum) * lr * g; then v = momentum * v - lr * g."""

    def update(self, params, grads):
        self._apply(params, grads, "nesterov", self.lr, self.momentum)


class AdaGrad(Optimizer):
    """h += g * g; p -= lr * g / (sqrt(h) + OPTIMIZER_EPS)."""

    lr = Hyper(validation.nonnegative)
    state_names = ("h",)

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        self._apply(params, grads, "adagrad", self.lr, OPTIMIZER_EPS)


class RMSprop(Optimizer):
    """h = decay_rate * h + (1 - decay_rate) g^2; p -= lr * g / (sqrt(h) + OPTIMIZER_EPS)."""

    lr = Hyper(validation.nonnegative)
    decay_rate = Hyper(validation.fraction)
    state_names = ("h",)
    train_lr = 0.001

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__()
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        self._apply(params, grads, "rmsprop", self.lr, self.decay_rate,
                    OPTIMIZER_EPS)


class Adam(Optimizer):
    """Adam (http://arxiv.org/abs/1412.6980v8) with the book's bias-corrected step size:
    lr_t = lr * sqrt(1 - beta2^iter) / (1 - beta1^iter); m += (1 - beta1)(g - m);
    v += (1 - beta2)(g^2 - v); p -= lr_t * m / (sqrt(v) + OPTIMIZER_EPS)."""

    lr = Hyper(validation.nonnegative)
    beta1 = Hyper(validation.fraction)
    beta2 = Hyper(validation.fraction)
    state_names = ("m", "v")
    counters = ("iter",)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__()
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        step = self.iter + 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** step) / (1.0 - self.beta1 ** step)
        self._apply(params, grads, "adam", lr_t, self.beta1, self.beta2,
                    OPTIMIZER_EPS)
        self.iter = step


OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop,
                                                     Adam)}
