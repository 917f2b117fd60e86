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

``load_checkpoint(path, network, optimizer=None)`` checks everything first (format version,
architecture, dtypes, shapes, optimizer class, generator kinds) and names each difference; only
then does it write, in place: the arrays the network, its layers and the optimizer already hold
keep their identity (the optimizer's own state arrays are replaced when their shape differs).
It restores the optimizer's hyper-parameters and NumPy's global RNG state, and returns
``extra``. A checkpoint that cannot be read or does not fit raises CheckpointError (a
ValueError).
"""
import json
import os
import zipfile

import numpy as np

from . import __version__
from .atomic import atomic_write
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


def _unpack(value, arrays):
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return arrays[value[_ARRAY]]
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays) for v in value]
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
    arrays = {}
    meta = {"format": FORMAT, "version": VERSION, "fastscratch": __version__,
            "network": _describe(network)}
    for key, value in network.params.items():
        arrays[f"param/{key}"] = value
    for name, layer in _batchnorm_layers(network).items():
        arrays[f"stat/{name}/running_mean"] = layer.running_mean
        arrays[f"stat/{name}/running_var"] = layer.running_var
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

def _read(path):
    """(meta, arrays) of the checkpoint at path, its format and version checked."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CheckpointError(f"{path} is not a readable checkpoint: {exc}") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is not a fastscratch checkpoint: it has no 'meta' "
                              "entry")
    meta = json.loads(arrays.pop("meta").tobytes().decode())
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
    return meta, arrays


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


def _check_network(meta, network, path):
    saved, now = meta["network"], _describe(network)
    derived = ("params", "layers", "running_stats")  # follow from the others, if they agree
    diffs = _differences({k: v for k, v in saved.items() if k not in derived},
                         {k: v for k, v in now.items() if k not in derived}) \
        or _differences(saved, now)
    if diffs:
        raise CheckpointError(f"{path} does not fit this network:\n  " + "\n  ".join(diffs))
    targets = list(network.params.values())
    targets += [getattr(layer, stat) for layer in _batchnorm_layers(network).values()
                for stat in ("running_mean", "running_var")]
    for a in targets:
        if not a.flags.writeable:
            raise CheckpointError("the network holds a read-only array; load_checkpoint "
                                  "writes its arrays in place")


def _check_optimizer(desc, optimizer, network, path):
    """The optimizer's state tables from the checkpoint, checked against the network."""
    if desc is None:
        raise CheckpointError(f"{path} holds no optimizer; load it with optimizer=None")
    if desc["class"] != type(optimizer).__name__:
        raise CheckpointError(f"{path} holds a {desc['class']} optimizer, got "
                              f"{type(optimizer).__name__}")
    try:
        optimizer.check_state_dict(_optimizer_state(desc), network.params)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def load_checkpoint(path, network, optimizer=None, *, accept=None):
    """Restore what save_checkpoint wrote into network (and optimizer); returns ``extra``.

    ``accept(extra)``, if given, is called after the checks and before anything is written; it
    may raise to refuse the checkpoint. Raises CheckpointError naming every difference if the
    checkpoint does not fit; then nothing has been changed.
    """
    path = os.fspath(path)
    meta, arrays = _read(path)
    meta = _unpack(meta, arrays)
    _check_network(meta, network, path)
    if optimizer is not None:
        _check_optimizer(meta["optimizer"], optimizer, network, path)
    if accept is not None:
        accept(meta["extra"])
    for key, value in network.params.items():
        np.copyto(value, arrays[f"param/{key}"])
    for name, layer in _batchnorm_layers(network).items():
        np.copyto(layer.running_mean, arrays[f"stat/{name}/running_mean"])
        np.copyto(layer.running_var, arrays[f"stat/{name}/running_var"])
    if optimizer is not None:
        optimizer.load_state_dict(_optimizer_state(meta["optimizer"]))
    kind, pos, has_gauss, cached = meta["numpy_global_rng"]
    np.random.set_state((kind, arrays["rng/global/key"], pos, has_gauss, cached))
    generators = _generators(network)
    for name, state in meta["generators"].items():
        generators[name].bit_generator.state = state
    return meta["extra"]
