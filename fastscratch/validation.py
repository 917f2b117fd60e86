"""Argument checks for the public entry points: layers, networks and optimizers.

Each check raises TypeError (wrong kind of object or dtype) or ValueError (wrong shape or value)
naming the argument, what was expected and what was found, with the fix where it is obvious.
They run before any kernel, so a rejected call changes nothing and no Numba typing error reaches
the caller. Array values are scanned with the backend's ``all_finite``, ``cast_all_finite``
and ``value_range`` kernels (one pass, no temporaries); the exact location is looked up only to
word an error.

The rules:
  * x and dout: float32 or float64 arrays (array-likes go through np.asarray; float16 is
    widened to float32, exactly; int, bool, complex and object arrays are refused), non-empty,
    no NaN or Inf. Arrays that are
    not C-contiguous, or not in native byte order, are copied: kernels see C-contiguous arrays
    only. Layers and networks cast x to their parameters' dtype.
  * t for the loss: integer labels (N,) with 0 <= label < C (passed on as np.intp; one label
    may also come as shape (1, 1), as in the book's ch07/gradient_check.py), or dense
    targets (N, C) that are finite and >= 0 (soft labels are allowed: the loss takes each row's
    argmax as the label, as the book's cross_entropy_error does, while the gradient is
    (y - t) / N). accuracy needs one-hot-like dense rows: a unique maximum per row.
  * Arrays a kernel writes in place (optimizer parameters, batch-norm running statistics) are
    refused when read-only; they are never copied, since the caller holds them.
"""
import math
import numbers

import numpy as np

from . import backend

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _found(a):
    """How a wrong argument is described: its type, or dtype and shape for arrays."""
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return f"{type(a).__name__} {a!r}" if np.isscalar(a) or a is None else type(a).__name__


def _real(name, value, expected):
    """value if it is a finite real number; TypeError for another kind (bool included),
    ValueError for NaN or Inf."""
    if not is_real(value):
        raise TypeError(f"{name} must be {expected}, got {_found(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {expected}, got {_found(value)}")
    return value


def nonnegative(name, value):
    """A finite real number >= 0 (learning rates, weight decay)."""
    if _real(name, value, "a finite number >= 0") < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def fraction(name, value):
    """A real number in [0, 1) (momentum, decay rates, dropout ratio)."""
    if not 0 <= _real(name, value, "a number in [0, 1)") < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return value


def positive_int(name, value, none_ok=False, least=1):
    """An int >= least (1 unless given), returned as int; None passes when none_ok. TypeError
    for another kind (bool and float included), ValueError for an int below least."""
    if none_ok and value is None:
        return None
    expected = ("a positive int" if least == 1 else f"an int >= {least}") + \
        (" or None" if none_ok else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {_found(value)}")
    if value < least:
        raise ValueError(f"{name} must be {expected}, got {_found(value)}")
    return int(value)


def is_real(value):
    """Whether value is a real number (Python or NumPy; bool is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def positive(name, value, none_ok=False):
    """A finite real number > 0 (a standard deviation, a time budget); None passes when
    none_ok."""
    if none_ok and value is None:
        return None
    expected = "a finite number > 0" + (" or None" if none_ok else "")
    if _real(name, value, expected) <= 0:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def flag(name, value):
    """A bool (Python or NumPy), returned as bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_found(value)}")
    return bool(value)


def distinct(name, values, check):
    """A non-empty sequence of distinct values as a tuple, each passed through
    ``check(f"{name}[i]", value)``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence, got {_found(values)}")
    values = tuple(check(f"{name}[{i}]", v) for i, v in enumerate(values))
    if not values or len(set(values)) != len(values):
        raise ValueError(f"{name} must be a non-empty sequence of distinct values, got {values!r}")
    return values


def choice(name, value, options):
    """value if it is one of options, else a ValueError listing them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, "
                         f"got {value!r}")
    return value


def generator(name, rng):
    """None or a numpy.random.Generator."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed))"
                        f" or None, got {type(rng).__name__}")
    return rng


def float_dtype(name, dtype):
    """dtype as a np.dtype, float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dtype is None or dt is None or dt not in FLOATS:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}")
    return dt


def floats(name, a):
    """a as a C-contiguous, native-order float32/float64 ndarray with at least one element."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a float32 or float64 array, got "
                            f"{type(a).__name__} ({exc})") from None
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:  # float16, widened exactly; a layer
        a = a.astype(np.float32)  # then casts it to its parameters' dtype as NumPy does
    elif a.dtype not in FLOATS:
        if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
            fix = (f"; scale integer data yourself, e.g. {name}.astype(np.float32) / 255"
                   if a.dtype.kind in "iu" else
                   f"; convert it, e.g. {name}.astype(np.float32)" if a.dtype.kind in "fb" else
                   "")
            raise TypeError(f"{name} must be a float32 or float64 array, got {a.dtype}{fix}")
        a = a.astype(a.dtype.newbyteorder("="))
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a


def first_nonfinite(a):
    """The index of the first NaN or Inf (in C order) of the C-contiguous float array a, or
    None."""
    if backend.ops.all_finite(a.reshape(-1)):
        return None
    return np.unravel_index(int(np.argmin(np.isfinite(a))), a.shape)


def finite(name, a):
    """Raise ValueError naming the first NaN or Inf of the C-contiguous float array a."""
    idx = first_nonfinite(a)
    if idx is not None:
        where = f"{name}[{', '.join(map(str, idx))}]" if a.ndim else name
        raise ValueError(f"{name} must be finite, but {where} is {a[idx]}; "
                         "remove or replace NaN/Inf entries first")


def finite_floats(name, a):
    """a checked by ``floats`` and ``finite``."""
    a = floats(name, a)
    finite(name, a)
    return a


def batch(name, a, features, dtype=None):
    """a (N, ...) with N >= 1 rows of ``features`` values each, finite, C-contiguous, cast to
    ``dtype`` if given (in the same pass as the scan)."""
    a = floats(name, a)
    if a.ndim < 2:
        raise ValueError(f"{name} must have a batch axis, shape (N, {features}), got shape "
                         f"{a.shape}; for one sample use {name}.reshape(1, -1)")
    if math.prod(a.shape[1:]) != features:
        raise ValueError(f"{name} must have {features} features per row, got shape {a.shape} "
                         f"({math.prod(a.shape[1:])} per row)")
    return _finite_as(name, a, dtype)


def _finite_as(name, a, dtype):
    """The C-contiguous float array a checked by ``finite``, cast to ``dtype`` if given (in the
    same pass as the scan)."""
    if dtype is None or a.dtype == dtype:
        finite(name, a)
        return a
    out = np.empty(a.shape, dtype)
    if not backend.ops.cast_all_finite(a.reshape(-1), out.reshape(-1)):
        finite(name, a)  # raises, naming the entry
    return out


def images(name, a, window, pad, channels=None, dtype=None):
    """a (N, C, H, W), finite, C-contiguous, cast to ``dtype`` if given, with ``channels``
    channels if given and big enough for one (height, width) ``window`` after ``pad``."""
    a = floats(name, a)
    if a.ndim != 4:
        raise ValueError(f"{name} must be images of shape (N, C, H, W), got shape {a.shape}")
    if channels is not None and a.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels (axis 1) to match the filters, "
                         f"got shape {a.shape}")
    if a.shape[2] + 2 * pad < window[0] or a.shape[3] + 2 * pad < window[1]:
        raise ValueError(f"{name} must be at least {window[0]}x{window[1]} (H x W) with pad "
                         f"{pad} on each side for a {window[0]}x{window[1]} window, got shape "
                         f"{a.shape}")
    return _finite_as(name, a, dtype)


def _row_count(name_t, t, n, name_x):
    if t.shape[0] != n:
        raise ValueError(f"{name_t} has {t.shape[0]} rows but {name_x} has {n}; they must "
                         "describe the same batch")


def targets(t, n, classes, dtype, name="t", name_x="x"):
    """t for n rows of ``classes`` scores: integer labels (n,) in [0, classes), or dense
    targets (n, classes), finite and >= 0, returned C-contiguous as ``dtype``."""
    if not isinstance(t, np.ndarray):
        t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] == 1 and classes != 1 and t.dtype.kind in "iu":
        if n != 1 or t.shape[0] != 1:
            raise ValueError(f"{name} must be labels of shape ({n},), got labels of shape "
                             f"{t.shape}: the book's code would pair every row of x with every "
                             f"label; pass {name}.reshape(-1)")
        t = t.reshape(1)  # one label as (1, 1): the book's indexing reads it as that label
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            fix = f"; if they are whole numbers use {name}.astype(int)" \
                if t.dtype.kind == "f" else ""
            raise TypeError(f"{name} must hold integer class labels, got dtype {t.dtype}{fix}")
        _row_count(name, t, n, name_x)
        labels = t if t.dtype == np.intp and t.flags.c_contiguous else t.astype(np.intp)
        lo, hi = backend.ops.value_range(labels)
        if lo < 0 or hi >= classes:
            raise ValueError(f"{name} must hold labels 0 <= label < {classes}, got labels from "
                             f"{t.min()} to {t.max()}")
        return labels
    if t.ndim != 2 or t.shape[1] != classes:
        raise ValueError(f"{name} must be labels of shape ({n},) or one-hot rows of shape "
                         f"({n}, {classes}), got shape {t.shape}")
    if t.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be a numeric array of labels or one-hot rows, got dtype "
                        f"{t.dtype}")
    _row_count(name, t, n, name_x)
    t = np.ascontiguousarray(t, dtype=dtype)
    finite(name, t)
    if backend.ops.value_range(t.reshape(-1))[0] < 0:
        raise ValueError(f"{name} must be >= 0 (one-hot or soft labels), got a minimum of "
                         f"{t.min()}")
    return t


def one_hot_like(t, name="t"):
    """Dense targets (N, C) whose rows each have a unique maximum (the label accuracy uses)."""
    ties = np.count_nonzero(t == t.max(axis=1, keepdims=True), axis=1) != 1
    if ties.any():
        row = int(np.argmax(ties))
        raise ValueError(f"{name} must have one-hot-like rows (a unique maximum per row) for "
                         f"accuracy, but row {row} is {t[row]}")


def softmax_inputs(x, t):
    """x as (N, C) and t as (N,) labels or (N, C) dense, checked; a 1-D x is one sample whose
    t is one label or a dense row (the book's t.size == x.size rule)."""
    x = finite_floats("x", x)
    if x.ndim == 1:
        t = np.asarray(t)
        x = x.reshape(1, -1)
        t = t.reshape(1, -1) if t.size == x.size else t.reshape(-1)
    elif x.ndim != 2:
        raise ValueError(f"x must be scores of shape (N, C) or (C,), got shape {x.shape}")
    return x, targets(t, x.shape[0], x.shape[1], x.dtype)


def gradient_in(dout, shape, dtype=None, name="dout"):
    """dout for a backward pass: floats of the forward output's ``shape``, finite, cast to
    ``dtype`` if given."""
    dout = floats(name, dout)
    if dout.shape != shape:
        raise ValueError(f"{name} must have the forward output's shape {shape}, got "
                         f"{dout.shape}")
    if dtype is not None and dout.dtype != dtype:
        dout = dout.astype(dtype)
    finite(name, dout)
    return dout


def scalar_gradient(dout, name="dout"):
    """A finite real number (SoftmaxWithLoss.backward's dout)."""
    if isinstance(dout, np.ndarray) and dout.ndim == 0:
        dout = dout.item()
    return _real(name, dout, "a finite number")


def forward_done(layer, state, mode=""):
    """Raise if ``layer``'s forward pass (in ``mode``) has not run: its ``state`` is None."""
    if getattr(layer, state) is None:
        raise ValueError(f"{type(layer).__name__}.backward needs a {mode}forward pass first")


def vector_param(name, a, length=None, dtype=None):
    """A 1-D float32/float64 ndarray parameter (of ``length`` and ``dtype`` if given)."""
    if not isinstance(a, np.ndarray) or a.dtype not in FLOATS or a.ndim != 1:
        raise TypeError(f"{name} must be a 1-D float32 or float64 ndarray, got {_found(a)}")
    if length is not None and a.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got shape {a.shape}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} like the other parameters, got "
                        f"{a.dtype}")
    return a


def bias_param(name, b, length, dtype):
    """A bias: a 1-D ndarray as by ``vector_param``, or a real number (the book's
    ``Convolution(w, 0)`` adds it to every output) as a new array of ``length`` copies."""
    if is_real(b):
        if not math.isfinite(b):
            raise ValueError(f"{name} must be finite, got {b!r}")
        return np.full(length, b, dtype=dtype)
    return vector_param(name, b, length, dtype)


def filter_param(name, a):
    """A 4-D float32/float64 ndarray of filters (FN, C, FH, FW) with no empty axis."""
    if not isinstance(a, np.ndarray) or a.dtype not in FLOATS or a.ndim != 4:
        raise TypeError(f"{name} must be a 4-D float32 or float64 ndarray of filters (FN, C, FH,"
                        f" FW), got {_found(a)}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a


def matrix_param(name, a):
    """A 2-D float32/float64 ndarray parameter with no empty axis."""
    if not isinstance(a, np.ndarray) or a.dtype not in FLOATS or a.ndim != 2:
        raise TypeError(f"{name} must be a 2-D float32 or float64 ndarray, got {_found(a)}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a


def writable(name, a):
    """Refuse an array a kernel would write in place but cannot: read-only or not C-contiguous."""
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only, but it is updated in place; pass a writable "
                         f"copy ({name}.copy())")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous, since it is updated in place; pass "
                         f"np.ascontiguousarray({name})")
    return a
