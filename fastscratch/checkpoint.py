"""Checkpoints: a network, its optimizer, the random number generators and the caller's metadata
in one ``.npz`` file (no pickles), written atomically.

``save_checkpoint(path, network, optimizer=None, extra=None)`` stores
  * ``network.params`` and every batch-norm layer's ``running_mean``/``running_var``;
  * the optimizer's class and its ``state_dict()`` (hyper-parameters, per-key state arrays,
    step counts such as Adam's ``iter``);
  * NumPy's global RNG state and the state of every ``numpy.random.Generator`` the network or
    its Dropout layers draw from;
  * ``extra``: the caller's metadata (epoch, step, history, ...): JSON values, plus NumPy arrays
    anywhere inside, which are stored as arrays.
The file holds one JSON entry ``meta`` (format name, format version, descriptions) and one
array entry per array. It is written to a temporary file in the same directory, flushed,
fsync'ed and renamed over ``path`` (then the directory is fsync'ed): a crash at any point leaves
the previous checkpoint whole.

``load_checkpoint(path, network, optimizer=None)`` checks everything first (that the file is a
checkpoint, its format version and metadata, architecture, each array's dtype and shape,
optimizer class and state, the random states) and names each difference; only then does it
write, in place: the arrays the network, its layers and the optimizer already hold
keep their identity (the optimizer's own state arrays are replaced when their shape differs).
It restores the optimizer's hyper-parameters and NumPy's global RNG state, and returns
``extra``. A checkpoint that cannot be read or does not fit raises CheckpointError (a
ValueError).
"""
import json
import math
import os
import zipfile
import zlib

import numpy as np

from . import __version__
from .atomic import atomic_write
from .file_kinds import kind_of
from .optimizer import Optimizer

FORMAT = "fastscratch-checkpoint"
VERSION = 1
_ARRAY = "__array__"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not fit the objects to load into."""


# ---------------------------------------------------------------- JSON with arrays beside it

def _pack(value, name, arrays):
    """value as JSON, each ndarray inside replaced by {__array__: entry} and put in arrays."""
    if isinstance(value, np.ndarray):
        arrays[name] = value
        return {_ARRAY: name}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{name}: dict keys must be str to be stored, got "
                            f"{sorted(map(repr, value))}")
        return {k: _pack(v, f"{name}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pack(v, f"{name}/{i}", arrays) for i, v in enumerate(value)]
    return value


def _unpack(value, arrays, path):
    """value with each {__array__: entry} replaced by that entry of arrays (of the file path)."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            if not isinstance(value[_ARRAY], str) or value[_ARRAY] not in arrays:
                raise CheckpointError(f"{path}: its metadata names the array "
                                      f"{value[_ARRAY]!r}, which the file does not hold")
            return arrays[value[_ARRAY]]
        return {k: _unpack(v, arrays, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays, path) for v in value]
    return value


# ---------------------------------------------------------------- what a network holds

def named_layers(network):
    """{name: layer} of ``network.layers``: its keys, or the positions of a list (the book's
    DeepConvNet keeps its layers in a list)."""
    layers = getattr(network, "layers", {})
    if hasattr(layers, "items"):
        return layers
    return {str(i): layer for i, layer in enumerate(layers)}


def _batchnorm_layers(network):
    """{layer name: layer} of the layers that keep running statistics."""
    return {name: layer for name, layer in named_layers(network).items()
            if getattr(layer, "running_mean", None) is not None}


def _entries(network):
    """{checkpoint entry: the array of network it holds}: params, then running statistics."""
    entries = {f"param/{key}": value for key, value in network.params.items()}
    for name, layer in _batchnorm_layers(network).items():
        entries[f"stat/{name}/running_mean"] = layer.running_mean
        entries[f"stat/{name}/running_var"] = layer.running_var
    return entries


def _generators(network):
    """{'network': network.rng, 'layers/<name>': layer.rng, ...}: each distinct Generator once
    (a layer sharing the network's generator is recorded as sharing it)."""
    found = {}
    if getattr(network, "rng", None) is not None:
        found["network"] = network.rng
    for name, layer in named_layers(network).items():
        rng = getattr(layer, "rng", None)
        if rng is not None and not any(rng is g for g in found.values()):
            found[f"layers/{name}"] = rng
    return found


def _describe(network):
    """The fields load_checkpoint compares: class, sizes, activation, flags, dtype, params."""
    params = network.params
    desc = {"class": type(network).__name__,
            "params": {k: [list(v.shape), str(v.dtype)] for k, v in params.items()},
            "layers": [f"{name}:{type(layer).__name__}"
                       for name, layer in named_layers(network).items()],
            "running_stats": {name: [list(layer.running_mean.shape),
                                     str(layer.running_mean.dtype)]
                              for name, layer in _batchnorm_layers(network).items()},
            "generators": {k: g.bit_generator.state["bit_generator"]
                           for k, g in _generators(network).items()}}
    for attr in ("input_size", "hidden_size_list", "output_size", "activation",
                 "use_batchnorm", "use_dropout", "weight_decay_lambda"):
        if hasattr(network, attr):
            desc[attr] = _pack(getattr(network, attr), attr, {})
    if getattr(network, "use_dropout", False):
        desc["dropout_ration"] = network.dropout_ration
    if hasattr(network, "dtype"):
        desc["dtype"] = str(np.dtype(network.dtype))
    return desc


def _describe_optimizer(optimizer, arrays):
    """{'class': its name, **its state_dict()}, the arrays put in arrays."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be a fastscratch optimizer (SGD, Momentum, Nesterov, "
                        f"AdaGrad, RMSprop, Adam) or None, got {type(optimizer).__name__}")
    return {"class": type(optimizer).__name__, **_pack(optimizer.state_dict(), "opt", arrays)}


def _optimizer_state(desc):
    """The state_dict() stored in an optimizer description (format version 1 as written)."""
    return {k: v for k, v in desc.items() if k != "class"}


# ---------------------------------------------------------------- save

def save_checkpoint(path, network, optimizer=None, extra=None):
    """Write network (+ optimizer, RNG states, extra) to ``path`` atomically; see the module."""
    arrays = _entries(network)
    meta = {"format": FORMAT, "version": VERSION, "fastscratch": __version__,
            "network": _describe(network)}
    meta["optimizer"] = None if optimizer is None else _describe_optimizer(optimizer, arrays)
    kind, key, pos, has_gauss, cached = np.random.get_state()
    arrays["rng/global/key"] = key
    meta["numpy_global_rng"] = [kind, pos, has_gauss, cached]
    meta["generators"] = {name: _pack(g.bit_generator.state, f"rng/{name}", arrays)
                          for name, g in _generators(network).items()}
    meta["extra"] = _pack(extra, "extra", arrays)
    try:
        text = json.dumps(meta, allow_nan=True)
    except TypeError as exc:
        raise TypeError(f"extra must hold JSON values (and numpy arrays): {exc}") from None
    arrays["meta"] = np.frombuffer(text.encode(), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


# ---------------------------------------------------------------- load

_DEFLATE_MOST = 1032  # deflate expands data at most this many times
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}

# what save_checkpoint writes into meta besides format and version, and its JSON type
_META = {"network": dict, "optimizer": (dict, type(None)), "numpy_global_rng": list,
         "generators": dict, "extra": object}


def _open_npz(path):
    """{entry: array} of the .npz file at path; CheckpointError naming what else it is."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read as a checkpoint: "
                              f"{exc.strerror or exc}") from None
    if not head:
        raise CheckpointError(f"{path} is empty, not a checkpoint (an .npz file)")
    what = kind_of(head)
    if not head.startswith(b"PK"):
        raise CheckpointError(f"{path} is {what or 'not a zip file'}, not a checkpoint (an .npz "
                              "file)" + ("; the book's params.pkl files load with "
                                         "load_params" if what == "a pickle" else ""))
    try:
        with np.load(path, allow_pickle=False) as data:
            _check_entries(data.zip, path)
            return {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{path} is not a readable checkpoint: {exc}") from None


def _check_entries(archive, path):
    """Refuse, before any is read, an entry of the zip file ``archive`` that is not a .npy
    array, or whose header declares other bytes than the entry holds: NumPy allocates what the
    header declares before it reads the data."""
    size = os.path.getsize(path)
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise CheckpointError(f"{path} is a zip file but not an .npz: its entry {name!r} is "
                                  "not a .npy array")
        most = 1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MOST
        if info.compress_size > size or info.file_size > most * info.compress_size:
            raise CheckpointError(f"{path}: its entry {name!r} declares {info.file_size} bytes "
                                  f"from {info.compress_size}, more than the file can hold")
        with archive.open(info) as f:
            read_header = _NPY_HEADERS.get(np.lib.format.read_magic(f))
            if read_header is None:
                raise CheckpointError(f"{path}: its entry {name!r} is not a .npy version 1 or "
                                      "2 array")
            shape, _, dtype = read_header(f)
            declared, held = math.prod(shape) * dtype.itemsize, info.file_size - f.tell()
        if dtype.hasobject:
            raise CheckpointError(f"{path}: its entry {name!r} is an array of Python objects "
                                  "(a pickle); a checkpoint holds numeric arrays only")
        if declared != held:
            raise CheckpointError(f"{path}: its entry {name!r} declares a {dtype} array of shape "
                                  f"{shape} ({declared} bytes) but holds {held} bytes")


def _read(path):
    """(meta, arrays) of the checkpoint at path, its format, version and metadata checked."""
    arrays = _open_npz(path)
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is not a fastscratch checkpoint: it has no 'meta' "
                              "entry")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{path}: its metadata is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a fastscratch checkpoint (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; this "
                              f"fastscratch ({__version__}) reads version {VERSION} only"
                              + ("; upgrade fastscratch to load it" if newer else
                                 "; there is no migration from that version"))
    for key, kind in _META.items():
        if key not in meta:
            raise CheckpointError(f"{path}: its metadata has no {key!r} entry")
        if not isinstance(meta[key], kind):
            raise CheckpointError(f"{path}: its metadata's {key!r} must be a "
                                  f"{kind.__name__ if isinstance(kind, type) else 'dict or null'}"
                                  f", got {type(meta[key]).__name__}")
    return _unpack(meta, arrays, path), arrays


def _differences(saved, now, prefix=""):
    """['field: checkpoint A, network B', ...] for every field whose value differs."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key, "absent"), now.get(key, "absent")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint {a!r}, network {b!r}")
    return out


def _check_network(meta, arrays, network, path):
    """Refuse a checkpoint of another network, or whose arrays do not fit this one's."""
    saved, now = meta["network"], _describe(network)
    derived = ("params", "layers", "running_stats")  # follow from the others, if they agree
    diffs = _differences({k: v for k, v in saved.items() if k not in derived},
                         {k: v for k, v in now.items() if k not in derived}) \
        or _differences(saved, now)
    if diffs:
        raise CheckpointError(f"{path} does not fit this network:\n  " + "\n  ".join(diffs))
    for entry, target in _entries(network).items():
        if entry not in arrays:
            raise CheckpointError(f"{path} has no array {entry!r}")
        found = arrays[entry]
        if found.shape != target.shape or found.dtype != target.dtype:
            raise CheckpointError(f"{path}: {entry} is a {found.dtype} array of shape "
                                  f"{found.shape}; the network holds {target.dtype} "
                                  f"{target.shape}")
        if not target.flags.writeable:
            raise CheckpointError("the network holds a read-only array; load_checkpoint "
                                  "writes its arrays in place")


def _check_optimizer(desc, optimizer, network, path):
    """The optimizer's state tables from the checkpoint, checked against the network."""
    if desc is None:
        raise CheckpointError(f"{path} holds no optimizer; load it with optimizer=None")
    if desc.get("class") != type(optimizer).__name__:
        raise CheckpointError(f"{path} holds a {desc.get('class')} optimizer, got "
                              f"{type(optimizer).__name__}")
    try:
        optimizer.check_state_dict(_optimizer_state(desc), network.params)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _random_states(meta, arrays, network, path):
    """(NumPy's global RNG state, {network's Generator: its state}) from the checkpoint, each
    state tried on a fresh generator of its kind first."""
    try:
        kind, pos, has_gauss, cached = meta["numpy_global_rng"]
        global_state = (kind, arrays["rng/global/key"], pos, has_gauss, cached)
        np.random.RandomState().set_state(global_state)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CheckpointError(f"{path}: its NumPy global random state is unreadable "
                              f"({type(exc).__name__}: {exc})") from None
    generators = _generators(network)
    states = meta["generators"]
    if set(states) != set(generators):
        raise CheckpointError(f"{path} holds the random states of {sorted(states)}; the "
                              f"network draws from {sorted(generators)}")
    for name, state in states.items():
        try:
            type(generators[name].bit_generator)().state = state
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise CheckpointError(f"{path}: the random state of {name} is unreadable "
                                  f"({type(exc).__name__}: {exc})") from None
    return global_state, {generators[name]: state for name, state in states.items()}


def load_checkpoint(path, network, optimizer=None, *, accept=None):
    """Restore what save_checkpoint wrote into network (and optimizer); returns ``extra``.

    ``accept(extra)``, if given, is called after the checks and before anything is written; it
    may raise to refuse the checkpoint. Raises CheckpointError naming every difference if the
    checkpoint does not fit; then nothing has been changed.
    """
    path = os.fspath(path)
    meta, arrays = _read(path)
    _check_network(meta, arrays, network, path)
    if optimizer is not None:
        _check_optimizer(meta["optimizer"], optimizer, network, path)
    global_state, generator_states = _random_states(meta, arrays, network, path)
    if accept is not None:
        accept(meta["extra"])
    for entry, target in _entries(network).items():
        np.copyto(target, arrays[entry])
    if optimizer is not None:
        optimizer.load_state_dict(_optimizer_state(meta["optimizer"]))
    np.random.set_state(global_state)
    for generator, state in generator_states.items():
        generator.bit_generator.state = state
    return meta["extra"]
