"""Files that fail clearly: what a demanding user may hand to ``load_params``,
``safe_pickle.load``, ``load_checkpoint``, ``load_mnist``, ``fastscratch train`` and
``fastscratch hpo run``. Each bad file gives a ValueError (FileNotFoundError for a missing one)
that names the file and the problem, before anything is allocated in proportion to what the
file merely declares, and before anything is changed; a command that stops leaves no empty
output folder or ``study.db`` behind."""
import gzip
import io
import json
import pickle
import re
import socket
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from fastscratch import Adam, safe_pickle
from fastscratch.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fastscratch.cli import main
from fastscratch.convnet import SimpleConvNet
from fastscratch.multi_layer_net_extend import MultiLayerNetExtend
from fastscratch.run_control import Checkpoint
from fastscratch.trainer import Trainer

BIG = 2 ** 28  # bytes a file may declare without holding them: enough to see if allocated
MiB = 2 ** 20


# ------------------------------------------------------------------ pickles written by hand

def _global(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def _text(value):
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(n):
    return b"\x8a\x08" + struct.pack("<q", n)  # LONG1, 8 bytes


def _tuple(*items):
    return b"(" + b"".join(items) + b"t"


def _call(func, *args):
    return func + _tuple(*args) + b"R"


def _bytes(data):
    """bytes as protocol 2 stores them: _codecs.encode(latin-1 text, 'latin1')."""
    return _call(_global("_codecs", "encode"), _text(data.decode("latin1")), _text("latin1"))


def _dtype(code):
    return _call(_global("numpy", "dtype"), _text(code), b"\x89", b"\x88")


def _shape(shape):
    return _tuple(*map(_int, shape))


def _reconstruct(shape=(0,)):
    return _call(_global("numpy._core.multiarray", "_reconstruct"), _global("numpy", "ndarray"),
                 _shape(shape), _bytes(b"b"))


def _array(shape, code, data):
    """An array as NumPy pickles it: _reconstruct, then BUILD with (1, shape, dtype, fortran,
    data); data may be any opcodes that leave the data on the stack."""
    return _reconstruct() + _tuple(_int(1), _shape(shape), _dtype(code), b"\x89", data) + b"b"


def _frombuffer(data, code, shape):
    return _call(_global("numpy._core.numeric", "_frombuffer"), _bytes(data), _dtype(code),
                 _shape(shape), _text("C"))


def _pickle(body):
    return b"\x80\x02" + body + b"."


def test_the_hand_written_pickles_are_what_numpy_reads():
    """The builders above make real pickles, so what follows refuses only what it should."""
    data = np.arange(6.0).tobytes()
    python2 = b"U" + bytes([len(data)]) + data  # Python 2's str (SHORT_BINSTRING)
    for body in (_array((2, 3), "<f8", _bytes(data)), _frombuffer(data, "<f8", (2, 3)),
                 _array((2, 3), "<f8", python2)):
        np.testing.assert_array_equal(pickle.loads(_pickle(body), encoding="latin1"),
                                      np.arange(6.0).reshape(2, 3))
        np.testing.assert_array_equal(safe_pickle.loads(_pickle(body)),
                                      np.arange(6.0).reshape(2, 3))


# What a small file may declare: (pickle, error class, what the message says). Unchecked, each
# makes NumPy or the unpickler allocate BIG bytes or more (1 TiB: MemoryError).
DECLARED = {
    "_reconstruct of a huge shape": (
        _pickle(_reconstruct((BIG,))), safe_pickle.PickleFileError,
        r"_reconstruct must start from an empty array, as NumPy writes it, got shape "
        rf"\({BIG},\)"),
    "_reconstruct of 1 TiB": (
        _pickle(_reconstruct((MiB, MiB))), safe_pickle.PickleFileError, "got shape"),
    "array state beyond its data": (
        _pickle(_array((BIG // 8,), "<f8", _bytes(b"12345678"))), safe_pickle.PickleFileError,
        rf"an array declares {BIG} bytes of data but the file holds 8 bytes for it"),
    "object array state of a huge shape": (
        _pickle(_array((BIG // 8,), "|O", b"]")), safe_pickle.UnsafePickleError,
        "refusing an array of dtype object"),
    "object dtype through _frombuffer": (
        _pickle(_frombuffer(bytes(16), "|O", (2,))), safe_pickle.UnsafePickleError,
        "refusing an array of dtype object"),
    "_frombuffer of a shape beyond its data": (
        _pickle(_frombuffer(bytes(16), "<f8", (MiB, MiB))), safe_pickle.PickleFileError,
        rf"declares {8 * MiB * MiB} bytes of data but the file holds 16"),
    "numpy.ndarray called directly": (
        _pickle(_call(_global("numpy", "ndarray"), _shape((BIG // 8,)))),
        safe_pickle.UnsafePickleError, "refusing to call numpy.ndarray directly"),
    "bytes8 of 1 TiB": (
        b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 40) + b"abc.", safe_pickle.PickleFileError,
        "expected 1099511627776 bytes in a bytes8, but only 4 remain"),
    "bytes of 2 GiB": (
        b"\x80\x03B" + struct.pack("<I", 2 ** 31) + b"abc.", safe_pickle.PickleFileError,
        "in a bytes4"),
    "frame of 1 TiB": (
        b"\x80\x04\x95" + struct.pack("<Q", 2 ** 40) + b"}.", safe_pickle.PickleFileError,
        "truncated"),
    "memo index 2**32 - 1": (
        b"\x80\x02]r\xff\xff\xff\xff.", safe_pickle.PickleFileError,
        "memo index 4294967295 at byte 3 is beyond the 9 bytes"),
    # one 64 KiB string, memoised, made into 64 arrays: 4 MiB from a 64 KiB file
    "arrays sharing one memoised data string": (
        _pickle(_bytes(bytes(2 ** 16)) + b"q\x00" + b"0" + b"]" + b"(" + b"".join(
            _array((2 ** 13,), "<f8", b"h\x00") for _ in range(64)) + b"e"),
        safe_pickle.PickleFileError, "the arrays it builds take more bytes than the"),
    # one 64 KiB text, memoised, encoded to bytes 64 times
    "bytes encoded again and again from one memoised text": (
        _pickle(_text("x" * 2 ** 16) + b"q\x00" + b"0" + b"]" + b"(" + b"".join(
            _call(_global("_codecs", "encode"), b"h\x00", _text("latin1")) for _ in range(64))
            + b"e"),
        safe_pickle.PickleFileError, "the byte strings it builds take more bytes than the"),
}


@pytest.mark.parametrize("case", DECLARED)
def test_what_a_pickle_declares_is_checked_before_anything_is_allocated(case, tmp_path):
    payload, error, message = DECLARED[case]
    assert len(payload) < 2 ** 17
    path = tmp_path / "params.pkl"
    path.write_bytes(payload)
    tracemalloc.start()
    try:
        with open(path, "rb") as f, pytest.raises(error, match=message) as caught:
            safe_pickle.load(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * MiB, f"{peak / MiB:.0f} MiB allocated"
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{path}: ")


def _book_params(seed=0):
    return {k: v + 1 for k, v in SimpleConvNet(seed=seed).params.items()}


CUTS = {"after one byte": lambda n: 1, "in half": lambda n: n // 2,
        "before STOP": lambda n: n - 1}


@pytest.fixture(scope="module")
def params_pickles():
    return {protocol: pickle.dumps(_book_params(), protocol=protocol) for protocol in (0, 2, 4, 5)}


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_truncated_params_file_is_a_value_error_naming_it(protocol, cut, params_pickles,
                                                            tmp_path):
    data = params_pickles[protocol]
    end = CUTS[cut](len(data))
    path = tmp_path / "params.pkl"
    path.write_bytes(data[:end])
    net = SimpleConvNet(seed=1)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(safe_pickle.PickleFileError,
                       match=rf"^{re.escape(str(path))}: not a readable pickle"):
        net.load_params(path)
    for key, value in before.items():
        np.testing.assert_array_equal(net.params[key], value)


def _other_files(tmp_path):
    """{case: (path, what the message says)} of files that are not params pickles."""
    np.save(tmp_path / "W1.npy", np.zeros(3))
    np.savez(tmp_path / "params.npz", W1=np.zeros(3))
    save_checkpoint(tmp_path / "ck.npz", MultiLayerNetExtend(4, [3], 2, seed=0))
    (tmp_path / "params.pkl.gz").write_bytes(gzip.compress(pickle.dumps(_book_params())))
    (tmp_path / "empty.pkl").write_bytes(b"")
    (tmp_path / "text.pkl").write_text("W1 = [1, 2, 3]\n")
    (tmp_path / "noise.pkl").write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / "no-stop.pkl").write_bytes(pickle.dumps({"W1": 1})[:-1] + b"N")
    return {"npy": ("W1.npy", "this is a .npy file"),
            "npz": ("params.npz", "this is a zip file"),
            "checkpoint": ("ck.npz", "this is a zip file"),
            "gzip": ("params.pkl.gz", "this is a gzip file"),
            "empty": ("empty.pkl", "is empty: expected a pickle"),
            "text": ("text.pkl", "not a readable pickle"),
            "noise": ("noise.pkl", "not a readable pickle"),
            "no STOP": ("no-stop.pkl", "not a readable pickle")}


@pytest.mark.parametrize("case", ["npy", "npz", "checkpoint", "gzip", "empty", "text", "noise",
                                  "no STOP"])
def test_load_params_names_a_file_that_is_not_a_params_pickle(case, tmp_path):
    name, says = _other_files(tmp_path)[case]
    net = SimpleConvNet(seed=1)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / name)) + ".*" + says):
        net.load_params(tmp_path / name)
    for key, value in before.items():
        np.testing.assert_array_equal(net.params[key], value)


def test_load_params_names_a_missing_file_and_a_directory(tmp_path):
    net = SimpleConvNet(seed=1)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "none.pkl"))):
        net.load_params(tmp_path / "none.pkl")
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        net.load_params(tmp_path)


def test_an_unsafe_params_file_is_named_too(tmp_path):
    path = tmp_path / "params.pkl"
    path.write_bytes(b"\x80\x02cos\nsystem\n(X\x04\x00\x00\x00truetR.")
    with pytest.raises(safe_pickle.UnsafePickleError,
                       match=rf"^{re.escape(str(path))}: refusing to load os.system"):
        SimpleConvNet(seed=1).load_params(path)


def test_the_errors_keep_their_classes():
    assert issubclass(safe_pickle.UnsafePickleError, safe_pickle.PickleFileError)
    assert issubclass(safe_pickle.PickleFileError, ValueError)
    assert issubclass(safe_pickle.PickleFileError, pickle.UnpicklingError)
    assert issubclass(CheckpointError, ValueError)


# ------------------------------------------------------------------ checkpoints

def _net(seed=3):
    return MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, use_dropout=True,
                               dropout_ration=0.2, seed=seed)


def _trained(seed=3):
    net, opt = _net(seed), Adam()
    rng = np.random.default_rng(seed)
    x, t = rng.random((8, 6)), rng.integers(0, 3, 8)
    for _ in range(2):
        opt.update(net.params, net.gradient(x, t))
    return net, opt


def _state(net, opt):
    """Everything load_checkpoint may write, copied."""
    arrays = {k: v.copy() for k, v in net.params.items()}
    for name, layer in net.layers.items():
        if getattr(layer, "running_mean", None) is not None:
            arrays[name + ".mean"] = layer.running_mean.copy()
            arrays[name + ".var"] = layer.running_var.copy()
    for key, value in (opt.m or {}).items():
        arrays["m." + key] = value.copy()
    return arrays, opt.iter, opt.lr, net.rng.bit_generator.state, np.random.get_state()[1].copy()


def _assert_unchanged(before, after):
    (arrays, *rest), (now, *rest_now) = before, after
    assert arrays.keys() == now.keys()
    for key in arrays:
        np.testing.assert_array_equal(now[key], arrays[key], err_msg=key)
    assert rest[:3] == rest_now[:3]
    np.testing.assert_array_equal(rest[3], rest_now[3])


def _entries(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _with_meta(meta_change=None, arrays_change=None, meta_bytes=None):
    """A function writing a good checkpoint into dst with its metadata or arrays changed."""
    def write(src, dst):
        arrays = _entries(src)
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta_change:
            meta_change(meta)
        if arrays_change:
            arrays_change(arrays)
        raw = meta_bytes if meta_bytes is not None else json.dumps(meta).encode()
        arrays["meta"] = np.frombuffer(raw, np.uint8)
        np.savez(dst, **arrays)
    return write


def _stored(members):
    """A zip file of members {name: bytes}, stored uncompressed as np.savez does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _zip_with(**members):
    return _bytes_of(_stored(members))


def _bytes_of(data):
    def write(src, dst):
        dst.write_bytes(data(src) if callable(data) else data)
    return write


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _pop(key):
    return lambda d: d.pop(key)


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


BAD_CHECKPOINTS = {
    "empty": (_bytes_of(b""), "is empty, not a checkpoint"),
    "npy": (_bytes_of(lambda src: _npy(np.zeros(3))), r"is a \.npy file"),
    "pickle": (_bytes_of(pickle.dumps({"W1": np.zeros(3)})),
               "is a pickle, not a checkpoint .*load_params"),
    "text": (_bytes_of(b"epoch 3\n"), "is not a zip file, not a checkpoint"),
    "first half": (_bytes_of(lambda src: src.read_bytes()[:src.stat().st_size // 2]),
                   "is not a readable checkpoint"),
    "last byte cut": (_bytes_of(lambda src: src.read_bytes()[:-1]),
                      "is not a readable checkpoint"),
    "zip of text": (_zip_with(**{"meta": "{}", "notes.txt": "hi"}),
                    r"is a zip file but not an \.npz: its entry 'meta' is not a \.npy array"),
    "empty zip": (_zip_with(), "has no 'meta' entry"),
    "meta not JSON": (_with_meta(meta_bytes=b"{'format': fastscratch"),
                      "its metadata is not JSON"),
    "meta not UTF-8": (_with_meta(meta_bytes=b"\xff\xfe{}"), "its metadata is not JSON"),
    "meta a list": (_with_meta(meta_bytes=b"[1, 2]"), "is not a fastscratch checkpoint"),
    **{f"meta lacks {key}": (_with_meta(_pop(key)), f"its metadata has no '{key}' entry")
       for key in ("network", "optimizer", "numpy_global_rng", "generators", "extra")},
    "network a list": (_with_meta(_set("network", [1])),
                       "its metadata's 'network' must be a dict, got list"),
    "optimizer a string": (_with_meta(_set("optimizer", "Adam")),
                           "'optimizer' must be a dict or null, got str"),
    "optimizer without class": (_with_meta(lambda m: m["optimizer"].pop("class")),
                                "holds a None optimizer, got Adam"),
    "a param missing": (_with_meta(arrays_change=_pop("param/W2")), "has no array 'param/W2'"),
    "a running mean missing": (_with_meta(arrays_change=_pop("stat/BatchNorm2/running_mean")),
                               "has no array 'stat/BatchNorm2/running_mean'"),
    "a param of another dtype": (
        _with_meta(arrays_change=lambda a: a.__setitem__("param/W2", a["param/W2"].astype(
            np.float32))),
        r"param/W2 is a float32 array of shape \(5, 4\); the network holds float64 \(5, 4\)"),
    "a param of another shape": (
        _with_meta(arrays_change=lambda a: a.__setitem__("param/b3", np.zeros(4))),
        r"param/b3 is a float64 array of shape \(4,\); the network holds float64 \(3,\)"),
    "an optimizer array of another shape": (
        _with_meta(arrays_change=lambda a: a.__setitem__("opt/state/m/W1", np.zeros(2))),
        r"state m\['W1'\]"),
    "an array the metadata names missing": (
        _with_meta(_set("extra", {"__array__": "extra/nothing"})),
        "its metadata names the array 'extra/nothing', which the file does not hold"),
    "global random state short": (
        _with_meta(lambda m: m["numpy_global_rng"].pop()),
        "its NumPy global random state is unreadable"),
    "global random key of another shape": (
        _with_meta(arrays_change=_set("rng/global/key", np.zeros(3, np.uint32))),
        "its NumPy global random state is unreadable"),
    "a generator state garbled": (
        _with_meta(lambda m: m["generators"]["network"].update(state="x")),
        "the random state of network is unreadable"),
    "a generator state missing": (
        _with_meta(lambda m: m["generators"].pop("network")),
        r"holds the random states of \[\]; the network draws from \['network'\]"),
}


@pytest.mark.parametrize("case", BAD_CHECKPOINTS)
def test_a_bad_checkpoint_is_a_value_error_naming_it_and_changes_nothing(case, tmp_path):
    write, says = BAD_CHECKPOINTS[case]
    good = tmp_path / "good.npz"
    save_checkpoint(good, *_trained(seed=3), extra={"epoch": 2})
    bad = tmp_path / "bad.npz"
    write(good, bad)
    net, opt = _trained(seed=4)
    before = _state(net, opt)
    with pytest.raises(CheckpointError, match=re.escape(str(bad)) + ".*" + says):
        load_checkpoint(bad, net, opt)
    _assert_unchanged(before, _state(net, opt))
    # the good one still loads into the same objects
    assert load_checkpoint(good, net, opt) == {"epoch": 2}


def _npy_header(shape, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _deflated_with_size(data, file_size):
    """A zip file of one deflated entry meta.npy holding data, its directory saying
    file_size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.npy", data)
    raw = buffer.getvalue()
    central = raw.rindex(b"PK\x01\x02")  # the uncompressed size is at byte 24 of the entry
    return raw[:central + 24] + struct.pack("<I", file_size) + raw[central + 28:]


# .npz entries whose .npy header declares more than they hold (NumPy allocates what the header
# says before reading): (zip file bytes, what the message says)
DECLARED_ENTRIES = {
    "stored entry declaring 256 MiB": (
        lambda: _stored({"meta.npy": _npy_header((BIG // 8,)) + bytes(16)}),
        rf"entry 'meta.npy' declares a float64 array of shape \({BIG // 8},\) \({BIG} bytes\) "
        "but holds 16 bytes"),
    "deflated entry said to expand to 4 GiB": (
        lambda: _deflated_with_size(_npy_header((2 ** 29 - 16,)) + bytes(16), 2 ** 32 - 1),
        "declares 4294967295 bytes from .*, more than the file can hold"),
    "object array": (lambda: _stored({"meta.npy": _npy_header((2,), "|O") + pickle.dumps([1, 2])}),
                     "is an array of Python objects"),
}


@pytest.mark.parametrize("case", DECLARED_ENTRIES)
def test_an_npz_entry_declaring_more_than_it_holds_is_refused_before_allocating(case, tmp_path):
    make, says = DECLARED_ENTRIES[case]
    path = tmp_path / "ck.npz"
    path.write_bytes(make())
    assert path.stat().st_size < 2 ** 17
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=re.escape(str(path)) + ": .*" + says):
            load_checkpoint(path, _net())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * MiB, f"{peak / MiB:.0f} MiB allocated"


def test_a_checkpoint_recompressed_by_savez_compressed_still_loads(tmp_path):
    """The checks on .npz entries refuse only what does not fit: deflated entries load."""
    net, opt = _trained(seed=3)
    save_checkpoint(tmp_path / "ck.npz", net, opt, extra={"epoch": 2})
    np.savez_compressed(tmp_path / "small.npz", **_entries(tmp_path / "ck.npz"))
    assert (tmp_path / "small.npz").stat().st_size < (tmp_path / "ck.npz").stat().st_size
    other, other_opt = _trained(seed=4)
    assert load_checkpoint(tmp_path / "small.npz", other, other_opt) == {"epoch": 2}
    for key, value in net.params.items():
        np.testing.assert_array_equal(other.params[key], value)


def test_a_directory_or_a_missing_file_as_a_checkpoint_is_named(tmp_path):
    net = _net()
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(tmp_path))} cannot be read as a "
                                              "checkpoint: Is a directory"):
        load_checkpoint(tmp_path, net)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "none.npz"))):
        load_checkpoint(tmp_path / "none.npz", net)


def _trainer(path, seed):
    rng = np.random.default_rng(0)
    x, t = rng.random((60, 6)), rng.integers(0, 3, 60)
    return Trainer(_net(seed), x, t, x[:20], t[:20], epochs=2, mini_batch_size=20,
                   optimizer="adam", verbose=False,
                   callbacks=[Checkpoint(path, resume=True)])


@pytest.mark.parametrize("change,says", [
    (lambda extra: extra["trainer"].pop("order"), r"its Trainer state lacks \['order'\]"),
    (lambda extra: extra["trainer"].update(settings=[1]),
     "its Trainer settings must be a dict, got list"),
    (lambda extra: extra.update(trainer=[1]), "holds no Trainer state"),
], ids=["order missing", "settings a list", "trainer a list"])
def test_resuming_from_a_checkpoint_of_a_bad_trainer_state_changes_nothing(change, says,
                                                                          tmp_path):
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    _trainer(good, seed=3).train()
    _with_meta(lambda meta: change(meta["extra"]))(good, bad)
    trainer = _trainer(bad, seed=4)
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    with pytest.raises(CheckpointError, match=re.escape(str(bad)) + ".*" + says):
        trainer.train()
    for key, value in before.items():
        np.testing.assert_array_equal(trainer.network.params[key], value)


# ------------------------------------------------------------------ MNIST files

def test_an_empty_mnist_file_is_named(tmp_path, monkeypatch):
    from fastscratch.dataset.mnist import IDXFormatError, MNIST, load_mnist
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FASTSCRATCH_MNIST_MIRROR", f"http://127.0.0.1:{_closed_port()}/")
    for spec in MNIST.files:
        (tmp_path / spec.name).write_bytes(gzip.compress(b""))
    with pytest.raises(IDXFormatError, match=re.escape(str(tmp_path / MNIST.files[0].name))
                       + r": too short for an IDX image file \(0 bytes"):
        load_mnist(data_dir=tmp_path, verify=False)


# ------------------------------------------------------------------ commands

def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("extra,status,says", [
    (["--model", "convnet", "--activation", "sigmoid"], 2, "--activation applies to --model mlp"),
    (["--model", "deepconvnet", "--hidden", "10,20"], 2, "has one hidden layer"),
    (["--data-dir", "EMPTY"], 1, "MNIST data files not found"),
], ids=["conv net option", "hidden widths", "no data"])
def test_train_options_refused_leave_no_output_folder(extra, status, says, tmp_path,
                                                      tmp_path_factory, monkeypatch, capsys):
    monkeypatch.delenv("FASTSCRATCH_DATA", raising=False)
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("FASTSCRATCH_MNIST_MIRROR", f"http://127.0.0.1:{_closed_port()}/")
    (tmp_path / "empty").mkdir()
    extra = [str(tmp_path / "empty") if a == "EMPTY" else a for a in extra]
    out = tmp_path / "runs" / "one"
    before = _listing(tmp_path)
    assert main(["train", "--out", str(out), "--checkpoint", str(tmp_path / "ck" / "c.npz"),
                 *extra]) == status
    assert says in capsys.readouterr().err
    assert _listing(tmp_path) == before


def test_train_stopped_by_a_checkpoint_that_does_not_fit_leaves_no_empty_folder(
        tmp_path, mnist_dir, capsys):
    checkpoint = tmp_path / "ck" / "c.npz"
    checkpoint.parent.mkdir()
    save_checkpoint(checkpoint, MultiLayerNetExtend(784, [7], 10, seed=0))
    out = tmp_path / "runs" / "one"
    assert main(["train", "--data-dir", str(mnist_dir), "--out", str(out), "--train-size",
                 "200", "--test-size", "100", "--hidden", "9", "--epochs", "1", "--checkpoint",
                 str(checkpoint), "--resume", "--quiet"]) == 1
    assert "does not fit this network" in capsys.readouterr().err
    assert _listing(tmp_path) == ["ck", "ck/c.npz"]


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hpo_run_without_data_leaves_no_study(tmp_path, tmp_path_factory, monkeypatch, capsys):
    pytest.importorskip("optuna")
    from fastscratch.hpo import main as hpo
    monkeypatch.delenv("FASTSCRATCH_DATA", raising=False)
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("FASTSCRATCH_MNIST_MIRROR", f"http://127.0.0.1:{_closed_port()}/")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "hpo"
    assert hpo(["run", "--out", str(out), "--n-trials", "1", "--data-dir",
                str(tmp_path / "empty")]) == 2
    assert "MNIST data files not found" in capsys.readouterr().err
    assert not out.exists()


def test_hpo_run_against_an_unreachable_scheduler_leaves_no_study(tmp_path, mnist_dir, capsys):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from fastscratch.hpo import main as hpo
    address = f"tcp://127.0.0.1:{_closed_port()}"
    out = tmp_path / "hpo"
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert hpo(["run", "--out", str(out), "--scheduler", address, "--n-trials", "1",
                    "--epochs", "1", "--train-size", "200", "--data-dir", str(mnist_dir)]) == 1
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err
    assert not out.exists()
