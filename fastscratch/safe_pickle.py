"""Read pickles of NumPy arrays (the book's ``params.pkl`` files) without running their code.

A pickle names the callables that rebuild its objects, and ``pickle.load`` imports and calls
whatever it names (``os.system`` included). ``load`` and ``loads`` accept only the names that
dicts, lists, tuples, strings, numbers and NumPy arrays of numeric dtypes need, written by NumPy
1.x or 2.x at any pickle protocol; any other name raises UnsafePickleError before anything it
names is imported or called.

The size of what a pickle may build is bounded by its own: before unpickling, every length the
pickle declares is checked against the bytes that follow it; each array's declared shape and
dtype must account for exactly the bytes it is given, and all its arrays together may not
declare more bytes than the pickle holds. So a small file cannot make NumPy allocate a huge
array. A file that is not such a pickle (empty, truncated, corrupt) raises PickleFileError.
Both errors are ValueErrors and name the file.
"""
import codecs
import io
import math
import pickle
import pickletools

import numpy as np

from .file_kinds import kind_of

try:  # NumPy 2 keeps these in numpy._core; pickles from NumPy 1 name numpy.core
    from numpy._core import multiarray as _multiarray, numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core import multiarray as _multiarray, numeric as _numeric


class PickleFileError(pickle.UnpicklingError, ValueError):
    """The data is not a readable pickle of dicts, lists and numeric arrays."""


class UnsafePickleError(PickleFileError):
    """The pickle asks for something other than dicts, lists and NumPy arrays."""


_MEMO_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")


def _scan(data):
    """Walk the opcodes of the pickle in data without building anything: each declared length
    must fit in the data, memo indices must be plausible, and a STOP must end it."""
    what = kind_of(data)
    if what is not None and what != "a pickle":
        raise PickleFileError(f"this is {what}, not a pickle")
    try:
        for opcode, arg, pos in pickletools.genops(data):
            # the C unpickler sizes its memo by the largest index it is given
            if opcode.name in _MEMO_PUTS and arg > len(data):
                raise PickleFileError(f"memo index {arg} at byte {pos} is beyond the "
                                      f"{len(data)} bytes of the pickle")
    except ValueError as exc:  # genops' own words: truncated, unknown opcode, bad literal
        if isinstance(exc, PickleFileError):
            raise
        raise PickleFileError(f"not a readable pickle: {exc}") from None


def _nbytes(shape, dtype):
    """The bytes an array of shape and dtype (as a pickle declares them) takes."""
    if not isinstance(dtype, np.dtype):
        raise PickleFileError(f"an array's dtype must be a numpy.dtype, got "
                              f"{type(dtype).__name__}")
    if dtype.hasobject:
        raise UnsafePickleError(f"refusing an array of dtype {dtype}: only numeric arrays are "
                                "allowed")
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise PickleFileError(f"an array's shape must be a tuple of non-negative ints, got "
                              f"{shape!r}")
    return math.prod(shape) * dtype.itemsize


def _fitting(wanted, given):
    """wanted, the bytes an array declares, if they are the ``given`` bytes of its data."""
    if wanted != given:
        raise PickleFileError(f"an array declares {wanted} bytes of data but the file holds "
                              f"{given} bytes for it")
    return wanted


def _size(buffer):
    try:
        return memoryview(buffer).nbytes
    except TypeError:
        raise PickleFileError(f"an array's data must be bytes, got "
                              f"{type(buffer).__name__}") from None


class _PendingArray:
    """What ``_reconstruct`` gives the unpickler: an empty array whose ``__setstate__`` (the
    pickle's BUILD) checks the declared shape and dtype against the data before NumPy sees
    them. load() swaps each for its array."""

    __hash__ = None  # as unhashable as the array it stands for

    def __init__(self, array, unpickler):
        self.array = array
        self._unpickler = unpickler

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise PickleFileError(f"an array's state must be a tuple of 4 or 5 items, got "
                                  f"{type(state).__name__}")
        shape, dtype, _fortran, data = state[-4:]
        wanted = _nbytes(shape, dtype)
        # Python 2's str comes decoded as latin-1: one char per byte
        given = len(data) if isinstance(data, str) else _size(data)
        self._unpickler.take("arrays", _fitting(wanted, given))
        self.array.__setstate__(state)


class _NotCallable:
    """numpy.ndarray as a pickle may name it: the class _reconstruct is told to make. Called
    directly it would allocate whatever shape the pickle asks for, uninitialised."""

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError("refusing to call numpy.ndarray directly: NumPy's own pickles "
                                "build arrays through _reconstruct or _frombuffer")


_NDARRAY = _NotCallable()


class _Unpickler(pickle.Unpickler):
    """Builds only what _names allows, within an allowance of bytes: what _codecs.encode makes
    and what arrays take may each total at most the size of the pickle."""

    def __init__(self, data):
        # latin1: how NumPy arrays pickled by Python 2 decode their data
        super().__init__(io.BytesIO(data), encoding="latin1")
        self._size = len(data)
        self._left = {"arrays": len(data), "byte strings": len(data)}
        self._names = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): np.dtype,
                       ("_codecs", "encode"): self._encode}
        for module in ("numpy.core", "numpy._core"):
            self._names[(f"{module}.multiarray", "_reconstruct")] = self._reconstruct
            self._names[(f"{module}.numeric", "_frombuffer")] = self._frombuffer

    def find_class(self, module, name):
        try:
            return self._names[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: this file may hold only dicts, lists and "
                f"NumPy arrays (a pickle that names anything else could run code)") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing to load a persistent id: this file may hold only "
                                "dicts, lists and NumPy arrays")

    def take(self, kind, n):
        """Take n bytes from the allowance of kind ('arrays' or 'byte strings'); refuse past
        it."""
        if n > self._left[kind]:
            raise PickleFileError(f"the {kind} it builds take more bytes than the "
                                  f"{self._size} bytes of the file")
        self._left[kind] -= n

    def _encode(self, text, encoding):
        """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 only."""
        if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
            raise UnsafePickleError(f"_codecs.encode is allowed with 'latin1' only (how "
                                    f"protocol 2 stores bytes), got encoding {encoding!r}")
        self.take("byte strings", len(text))
        return codecs.encode(text, "latin1")

    def _reconstruct(self, cls, shape, dtype):
        """NumPy's first step: an empty array (shape (0,)), its contents set by BUILD."""
        if cls is not _NDARRAY:
            raise UnsafePickleError(f"refusing _reconstruct of {type(cls).__name__}: only "
                                    "numpy.ndarray is allowed")
        if not isinstance(shape, tuple) or 0 not in shape:
            raise PickleFileError(f"_reconstruct must start from an empty array, as NumPy "
                                  f"writes it, got shape {shape!r}")
        return _PendingArray(_multiarray._reconstruct(np.ndarray, shape, dtype), self)

    def _frombuffer(self, buffer, dtype, shape, order):
        """Protocol 5's array: ``buffer`` viewed as ``dtype``, reshaped to ``shape``."""
        self.take("arrays", _fitting(_nbytes(shape, dtype), _size(buffer)))
        return _numeric._frombuffer(buffer, dtype, shape, order)


def _resolve(obj, seen):
    """obj with every _PendingArray inside its dicts, lists and tuples replaced by its array;
    object arrays refused."""
    if isinstance(obj, _PendingArray):
        obj = obj.array
    if isinstance(obj, np.ndarray):
        _nbytes(obj.shape, obj.dtype)  # refuses object dtypes
        return obj
    if not isinstance(obj, (dict, list, tuple)) or id(obj) in seen:
        return seen.get(id(obj), obj)
    seen[id(obj)] = obj
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _resolve(value, seen)
    elif isinstance(obj, list):
        obj[:] = [_resolve(value, seen) for value in obj]
    else:
        items = tuple(_resolve(value, seen) for value in obj)
        if any(a is not b for a, b in zip(items, obj)):
            seen[id(obj)] = obj = items
    return obj


# What a corrupt pickle makes the unpickler raise besides UnpicklingError (a BUILD on an int,
# a tuple where a dtype belongs, a memo index that was never set, ...).
_CORRUPT = (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, RecursionError)


def _load(data, where):
    if not data:
        raise PickleFileError(f"{where} is empty: expected a pickle of dicts, lists and arrays")
    try:
        _scan(data)
        return _resolve(_Unpickler(data).load(), {})
    except PickleFileError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    except _CORRUPT as exc:
        raise PickleFileError(f"{where}: not a readable pickle ({type(exc).__name__}: "
                              f"{exc})") from None


def load(file):
    """The object pickled in the binary file object ``file`` (dicts, lists and arrays only),
    read to its end; errors name ``file.name``."""
    return _load(file.read(), str(getattr(file, "name", "the file")))


def loads(data):
    """The object pickled in the bytes ``data`` (dicts, lists and arrays only)."""
    return _load(bytes(data), "the pickled data")
