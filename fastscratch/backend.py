"""Maps each operation name to the Numba kernel or its NumPy reference twin.

Layers call ``backend.ops.<name>(...)``; ``use_backend`` swaps the whole namespace at once.
"""
import contextlib
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


class _Switch(contextlib.ContextDecorator):
    """Returned by use_backend: the switch is already made; ``with`` restores the previous one."""

    def __init__(self, previous):
        self.previous = previous

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _select(self.previous)
        return False


def _select(name):
    global ops, name_in_use
    ops = operations(name)
    name_in_use = name


def use_backend(name):
    """Run every layer and optimizer on 'numba' (fused kernels) or 'numpy' (the reference).

    Works as a plain call or as a context manager that restores the previous backend.
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    switch = _Switch(name_in_use)
    _select(name)
    return switch


def current_backend():
    """The name of the backend in use: 'numba' or 'numpy'."""
    return name_in_use


ops = None
name_in_use = None
_select("numba")
