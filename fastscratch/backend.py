"""Maps each operation name to the Numba kernel or its NumPy reference twin.

Layers call ``backend.ops.<name>(...)``; ``use_backend`` swaps the whole namespace at once.
The namespace is built on the first access of ``ops``, so importing this module (and
fastscratch) loads neither Numba nor the kernels.
"""
import functools
import types

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
    global name_in_use
    name_in_use = name
    if name in _tables:
        globals()["ops"] = _tables[name]
    else:
        globals().pop("ops", None)  # built by __getattr__ on first use


def __getattr__(attr):
    """``ops``: the namespace of the backend in use, built (its modules imported) now."""
    if attr != "ops":
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    globals()["ops"] = table = operations(name_in_use)
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
