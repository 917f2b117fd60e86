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
import inspect
import numbers

import numpy as np

from . import backend, validation
from .constants import OPTIMIZER_EPS


class Hyper:
    """A declared hyper-parameter: its default, and ``check(name, value)`` that every
    assignment goes through."""

    def __init__(self, default, check):
        self.default = default
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(self.name, value)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _found(value):
    return str(value.dtype) if isinstance(value, np.ndarray) else type(value).__name__


class Optimizer:
    """The base of the optimizers: checks, per-key state, one kernel call per parameter array.

    A subclass declares
      * ``kernel``: the backend operation, called as kernel(p, g, *state, *scalars);
      * its hyper-parameters as ``Hyper`` attributes, ``lr`` first: in that order they are the
        constructor's arguments (defaults from the declarations) and the kernel's scalars;
      * ``state_names``: its per-key state tables, e.g. ("v",); each starts as None, as in the
        book, and maps a params key to an array like that entry;
      * ``constants``: scalars the kernel takes after the hyper-parameters, e.g. its epsilon;
      * ``counters``: step counts kept between updates, e.g. ("iter",) for Adam;
    and may override ``_step_lr()``, the learning rate of this step (Adam's bias correction).
    """

    kernel = None
    state_names = ()
    constants = ()
    counters = ()
    hyper_names = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        hypers = {}
        for klass in reversed(cls.__mro__):
            hypers.update({name: value for name, value in vars(klass).items()
                           if isinstance(value, Hyper)})
        if list(hypers)[:1] != ["lr"]:
            raise TypeError(f"{cls.__name__} must declare lr as its first Hyper attribute")
        cls.hyper_names = tuple(hypers)
        cls.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=h.default)
             for name, h in hypers.items()])

    def __init__(self, *args, **kwargs):
        try:
            bound = self.__signature__.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}{self.__signature__}: {exc}") from None
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            setattr(self, name, value)
        for name in self.state_names:
            setattr(self, name, None)
        for name in self.counters:
            setattr(self, name, 0)
        self._views = {}  # key -> ([param, *state], their flat views or None)

    def hyperparameters(self):
        """{name: value} of the constructor's arguments, as they are now."""
        return {name: getattr(self, name) for name in self.hyper_names}

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
        hyper = state["hyperparameters"]
        if set(hyper) != set(self.hyper_names):
            raise ValueError(f"{type(self).__name__} hyper-parameters are {self.hyper_names}, "
                             f"the state has {tuple(hyper)}")
        for name, value in hyper.items():
            getattr(type(self), name).check(name, value)
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
                like = np.asarray(p, np.float64) if _is_number(p) else p
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

    def _step_lr(self):
        """The learning rate of this step (called once per update)."""
        return self.lr

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
            if _is_number(p):
                if not (_is_number(g) or isinstance(g, np.ndarray) and g.shape == ()
                        and _is_number(g[()])):
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
        """Update every entry of ``params`` from ``grads`` (dicts with the same keys)."""
        items = self._checked(params, grads)
        scalars = (self._step_lr(), *(getattr(self, name) for name in self.hyper_names[1:]),
                   *self.constants)
        plain = getattr(backend.operations("numpy"), self.kernel)
        op = getattr(backend.ops, self.kernel)
        typed = {}
        for key, p, g, is_number in items:
            if is_number:
                p0 = np.array(p, dtype=np.float64)
                plain(p0, np.array(g, dtype=np.float64), *self._state(key, p0),
                      *(np.float64(s) for s in scalars))
                params[key] = p0[()]
                continue
            if p.dtype not in typed:
                typed[p.dtype] = tuple(p.dtype.type(s) for s in scalars)
            arrays, flat = self._views_of(key, p)
            if flat is not None:
                op(flat[0], g.reshape(-1), *flat[1:], *typed[p.dtype])
            else:
                plain(arrays[0], g, *arrays[1:], *typed[p.dtype])


class SGD(Optimizer):
    """Stochastic gradient descent: p -= lr * g."""

    kernel = "sgd"
    lr = Hyper(0.01, validation.nonnegative)


class Momentum(Optimizer):
    """v = momentum * v - lr * g; p += v."""

    kernel = "momentum"
    state_names = ("v",)
    lr = Hyper(0.01, validation.nonnegative)
    momentum = Hyper(0.9, validation.fraction)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the book's current form: p += momentum^2 * v;
    p -= (1 + momentum) * lr * g; then v = momentum * v - lr * g."""

    kernel = "nesterov"


class AdaGrad(Optimizer):
    """h += g * g; p -= lr * g / (sqrt(h) + OPTIMIZER_EPS)."""

    kernel = "adagrad"
    state_names = ("h",)
    constants = (OPTIMIZER_EPS,)
    lr = Hyper(0.01, validation.nonnegative)


class RMSprop(Optimizer):
    """h = decay_rate * h + (1 - decay_rate) g^2; p -= lr * g / (sqrt(h) + OPTIMIZER_EPS)."""

    kernel = "rmsprop"
    state_names = ("h",)
    constants = (OPTIMIZER_EPS,)
    lr = Hyper(0.01, validation.nonnegative)
    decay_rate = Hyper(0.99, validation.fraction)


class Adam(Optimizer):
    """Adam (http://arxiv.org/abs/1412.6980v8) with the book's bias-corrected step size."""

    kernel = "adam"
    state_names = ("m", "v")
    constants = (OPTIMIZER_EPS,)
    counters = ("iter",)
    lr = Hyper(0.001, validation.nonnegative)
    beta1 = Hyper(0.9, validation.fraction)
    beta2 = Hyper(0.999, validation.fraction)

    def _step_lr(self):
        """Advances the step count; lr_t = lr * sqrt(1 - beta2^iter) / (1 - beta1^iter)."""
        self.iter += 1
        return self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)


OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop,
                                                     Adam)}
