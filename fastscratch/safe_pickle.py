"""Read pickles of NumPy arrays (the book's ``params.pkl`` files) without running their code.

A pickle names the callables that rebuild its objects, and ``pickle.load`` imports and calls
whatever it names (``os.system`` included). ``load`` and ``loads`` accept only the names that
dicts, lists, tuples, strings, numbers and NumPy arrays of numeric dtypes need, written by NumPy
1.x or 2.x at any pickle protocol; any other name raises UnsafePickleError before anything it
names is imported or called.
"""
import codecs
import io
import pickle

import numpy as np

try:  # NumPy 2 keeps these in numpy._core; pickles from NumPy 1 name numpy.core
    from numpy._core import multiarray as _multiarray, numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core import multiarray as _multiarray, numeric as _numeric


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something other than dicts, lists and NumPy arrays."""


def _latin1_encode(text, encoding):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"_codecs.encode is allowed with 'latin1' only (how protocol 2 "
                                f"stores bytes), got encoding {encoding!r}")
    return codecs.encode(text, "latin1")


# (module, name) as a pickle writes it -> the object used instead of importing that module
_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _numeric._frombuffer


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: this file may hold only dicts, lists and "
                f"NumPy arrays (a pickle that names anything else could run code)") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing to load a persistent id: this file may hold only "
                                "dicts, lists and NumPy arrays")


def _check_arrays(obj):
    """Refuse object arrays (their items would be arbitrary objects)."""
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise UnsafePickleError(f"refusing an array of dtype {obj.dtype}: only numeric arrays "
                                "are allowed")
    if isinstance(obj, dict):
        for value in obj.values():
            _check_arrays(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _check_arrays(value)
    return obj


def load(file):
    """The object pickled in the binary file object ``file`` (dicts, lists and arrays only)."""
    # latin1: how NumPy arrays pickled by Python 2 decode their data
    return _check_arrays(_Unpickler(file, encoding="latin1").load())


def loads(data):
    """The object pickled in the bytes ``data`` (dicts, lists and arrays only)."""
    return load(io.BytesIO(data))
