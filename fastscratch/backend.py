"""Maps each operation name to the Numba kernel or its NumPy reference twin.

Layers call ``backend.ops.<name>(...)``; ``use_backend`` swaps the whole namespace at once.
The namespace is built on the first access of ``ops``, so importing this module (and
fastscratch) loads neither Numba nor the kernels.

The default backend, 'numba', starts with a warm-up: its operations run their NumPy twins
until the calls' work (fastscratch/work.py) passes ``settings.warm_up()``; the call that
passes it loads Numba and runs the kernel, and so does every later call. A script that does
less work never imports Numba. ``use_backend`` ends the warm-up.
"""
import functools
import types

from . import settings, work

BACKENDS = ("numba", "numpy")
_tables = {}


def operations(name):
    """The namespace of every operation of backend ``name`` ('numba' or 'numpy'), built on
    first use; ``ops`` is the one in use."""
    if name not in _tables:
        if name == "numba":
            from . import kernels as package
        else:
            from . import reference as package
        ops = {}
        for module in package.MODULES:
            ops.update({op: getattr(module, op) for op in module.__all__})
        _tables[name] = types.SimpleNamespace(**ops)
    return _tables[name]


def _warm_up_table():
    """The namespace of the warm-up: each operation runs its twin while the work so far stays
    within the budget, then ends the warm-up and runs the kernel."""
    from . import reference
    ops = {}
    for module in reference.MODULES:
        for op in module.__all__:
            ops[op] = _warm_up_operation(op, getattr(module, op), work.of(op))
    return types.SimpleNamespace(**ops)


def _warm_up_operation(name, twin, work_of):
    def operation(*args):
        global _work_left
        _work_left -= work_of(*args)
        if _work_left >= 0 and _warming_up:
            return twin(*args)
        if _warming_up:
            _end_warm_up()
        return getattr(operations(name_in_use), name)(*args)

    operation.__name__ = operation.__qualname__ = name
    operation.__doc__ = twin.__doc__
    return operation


def _end_warm_up():
    global _warming_up
    _warming_up = False
    if name_in_use == "numba":
        globals()["ops"] = operations("numba")


def direct_convolution():
    """The conv operations' ``direct`` argument: on the 'numba' backend past its warm-up,
    whether its 3x3 layers run forward, dx and dW on Numba's own loops (FASTSCRATCH_DIRECT_CONV,
    by default kernels.conv.direct_pays; asked once); else False (the twins have one
    formulation)."""
    global _direct
    if name_in_use != "numba" or _warming_up:
        return False
    if _direct is None:
        choice = settings.direct_conv()
        if choice == "auto":
            from .kernels import conv
            _direct = conv.direct_pays()
        else:
            _direct = choice == "on"
    return _direct


def warming_up():
    """True while the default backend still runs the NumPy twins (before Numba is loaded)."""
    return _warming_up and name_in_use == "numba"


class _Switch:
    """Returned by use_backend: the switch is already made; ``with`` restores the previous one,
    and as a decorator it undoes the switch and makes it on every call instead."""

    def __init__(self, name, previous):
        self.name = name
        self.previous = previous

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _select(self.previous)
        return False

    def __call__(self, func):
        _select(self.previous)  # decorating a function must not switch anything now
        if not callable(func):
            raise TypeError(f"use_backend({self.name!r}) decorates a function, got "
                            f"{type(func).__name__}")

        @functools.wraps(func)
        def on_backend(*args, **kwargs):
            with use_backend(self.name):
                return func(*args, **kwargs)
        return on_backend


def _select(name):
    global name_in_use, _warming_up
    name_in_use = name
    _warming_up = False
    if name in _tables:
        globals()["ops"] = _tables[name]
    else:
        globals().pop("ops", None)  # built by __getattr__ on first use


def __getattr__(attr):
    """``ops``: the namespace of the backend in use, built (its modules imported) now."""
    global _work_left, _warming_up, _warm_up_ops
    if attr != "ops":
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    if _warming_up and _work_left is None:
        _work_left = settings.warm_up()
        _warming_up = _work_left > 0
    if _warming_up:
        if _warm_up_ops is None:
            _warm_up_ops = _warm_up_table()
        table = _warm_up_ops
    else:
        table = operations(name_in_use)
    globals()["ops"] = table
    return table


def use_backend(name):
    """Run every layer and optimizer on 'numba' (fused kernels) or 'numpy' (the reference).

    Works as a plain call, as a context manager that restores the previous backend, and as a
    decorator (``@use_backend('numpy')``): each call of the function runs on that backend and
    restores the one it found.
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    switch = _Switch(name, name_in_use)
    _select(name)
    return switch


def current_backend():
    """The name of the backend in use: 'numba' or 'numpy'."""
    return name_in_use


name_in_use = None
_select("numba")
_warming_up = True  # the default backend's warm-up; its budget is read on the first ``ops``
_work_left = None
_warm_up_ops = None
_direct = None  # direct_convolution(), once asked
