"""Tests of fastscratch.dataset (MNIST and Fashion-MNIST). They never use the network:
downloads are served by a local http.server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import pickle
import re
import shutil
import socket
import stat
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fastscratch.atomic as A
from fastscratch.dataset import mnist as M
from fastscratch.dataset import store as S
from fastscratch.dataset.fashion_mnist import load_fashion_mnist
from fastscratch.dataset.mnist import (ChecksumMismatchError, DatasetNotFoundError,
                                       IDXFormatError, load_mnist)

NAMES = [fs.name for fs in M.MNIST.files]
SHA_GZ = {fs.name: fs.sha256_gz[0] for fs in M.MNIST.files}


def _complete(d: Path) -> bool:
    return all((d / n).is_file() for n in NAMES)


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not _complete(FASHION_DIR), reason="Fashion-MNIST files absent "
    "(apt-get install dataset-fashion-mnist)")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated_env(mp: pytest.MonkeyPatch, cache: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/"
    mp.delenv("FASTSCRATCH_DATA", raising=False)
    mp.setenv("FASTSCRATCH_CACHE", str(cache))
    mp.setenv("FASTSCRATCH_MNIST_MIRROR", dead)  # never the real internet
    mp.setenv("FASTSCRATCH_FASHION_MNIST_MIRROR", dead)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fastscratch-cache")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, shared_cache):
    _isolated_env(monkeypatch, shared_cache)


@pytest.fixture(scope="session")
def real(shared_cache, mnist_dir):
    """The uint8 arrays of the real MNIST, decoded once per session."""
    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, shared_cache)
        (x, t), (xt, tt) = load_mnist(normalize=False, data_dir=mnist_dir)
    return x, t, xt, tt


def _copy_mnist(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for n in NAMES:
        shutil.copyfile(src / n, dst / n)
    return dst


def _no_decode(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("decoded again instead of using the cache")
    monkeypatch.setattr(S, "_decode", boom)


# ------------------------------------------------------------ synthetic IDX files

def _idx(magic: int, dims, payload: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def _make_synth(d: Path, n_train=50, n_test=20, gz=True, seed=0, **override) -> dict:
    """Write four small, valid IDX files; ``override`` maps a key to raw file bytes."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_img": rng.integers(0, 256, (n_train, 784), dtype=np.uint8),
        "train_label": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_img": rng.integers(0, 256, (n_test, 784), dtype=np.uint8),
        "test_label": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for fs in M.MNIST.files:
        a = arrays[fs.key]
        if fs.key.endswith("img"):
            raw = _idx(2051, (len(a), 28, 28), a.tobytes())
        else:
            raw = _idx(2049, (len(a),), a.tobytes())
        raw = override.get(fs.key, raw)
        (d / (fs.name if gz else fs.raw_name)).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


# ------------------------------------------------------------ real MNIST content

@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot", [True, False])
def test_shapes_and_dtypes(real, normalize, flatten, one_hot, mnist_dir):
    x, t, xt, tt = real
    (a, b), (c, e) = load_mnist(normalize=normalize, flatten=flatten,
                                one_hot_label=one_hot, data_dir=mnist_dir)
    shape = (784,) if flatten else (1, 28, 28)
    assert a.shape == (60000, *shape) and c.shape == (10000, *shape)
    assert a.dtype == c.dtype == (np.float32 if normalize else np.uint8)
    if one_hot:
        assert b.shape == (60000, 10) and e.shape == (10000, 10)
        assert b.dtype == e.dtype == np.float64
    else:
        assert b.shape == (60000,) and e.shape == (10000,)
        assert b.dtype == e.dtype == np.uint8
    for arr in (a, b, c, e):
        assert arr.flags.writeable
    # values as the book computes them
    ref = xt.astype(np.float32)
    if normalize:
        ref /= 255.0
    np.testing.assert_array_equal(c.reshape(10000, 784), ref)
    np.testing.assert_array_equal(e.argmax(1) if one_hot else e, tt)


def test_normalize_range_and_exact_values(real, mnist_dir):
    x = real[0]
    (a, _), (c, _) = load_mnist(data_dir=mnist_dir)
    assert a.dtype == np.float32 and a.min() == 0.0 and a.max() == 1.0
    assert c.min() >= 0.0 and c.max() <= 1.0
    book = x.astype(np.float32)
    book /= 255.0
    assert np.array_equal(a.view(np.uint32), book.view(np.uint32))  # bit-identical


def test_one_hot(real, mnist_dir):
    (_, b), (_, e) = load_mnist(one_hot_label=True, data_dir=mnist_dir)
    for oh, lab in ((b, real[1]), (e, real[3])):
        assert set(np.unique(oh)) == {0.0, 1.0}
        np.testing.assert_array_equal(oh.sum(1), 1.0)
        np.testing.assert_array_equal(oh.argmax(1), lab)
    # the book's loop
    X = np.array([3, 0, 9, 3], dtype=np.uint8)
    T = np.zeros((X.size, 10))
    for idx, row in enumerate(T):
        row[X[idx]] = 1
    got = S.change_one_hot_label(X)
    assert got.dtype == np.float64 and np.array_equal(got, T)


def test_known_statistics(real):
    x, t, xt, tt = real
    assert t[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert tt[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(t).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(tt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.mean() == pytest.approx(33.3184, abs=1e-4)
    assert xt.mean() == pytest.approx(33.7912, abs=1e-4)


def test_book_module_names():
    assert M.img_size == 784 and M.img_dim == (1, 28, 28)
    assert (M.train_num, M.test_num) == (60000, 10000)
    assert M.key_file == {"train_img": "train-images-idx3-ubyte.gz",
                          "train_label": "train-labels-idx1-ubyte.gz",
                          "test_img": "t10k-images-idx3-ubyte.gz",
                          "test_label": "t10k-labels-idx1-ubyte.gz"}


# ------------------------------------------------------------ cache

def test_cache_goes_to_cache_dir_not_readonly_data_dir(tmp_path, monkeypatch):
    # The test makes its own read-only folder. Root may write into it anyway (chmod does not
    # stop root), so what is checked is the loader's rule: it never writes into a folder
    # without write permission bits, whoever runs it.
    d = tmp_path / "ro"
    arrays = _make_synth(d)
    cache = tmp_path / "cache"
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(cache))
    _make_readonly(d)
    try:
        first = load_mnist(normalize=False, data_dir=d, verify=False)
        assert sorted(os.listdir(d)) == sorted(NAMES)  # nothing written into the data dir
        assert len(list((cache / "decoded").glob("mnist-*.npz"))) == 1
        _no_decode(monkeypatch)
        second = load_mnist(normalize=False, data_dir=d, verify=False)
    finally:
        d.chmod(0o755)
    np.testing.assert_array_equal(first[0][0], arrays["train_img"])
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)


def test_recompressed_copy_verifies_and_cache_follows_source(real, tmp_path, monkeypatch,
                                                             mnist_dir):
    d = _copy_mnist(mnist_dir, tmp_path / "data")
    # a recompressed label file: other .gz bytes, same content -> accepted
    lab = d / "t10k-labels-idx1-ubyte.gz"
    content = gzip.decompress(lab.read_bytes())
    lab.write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
    assert hashlib.sha256(lab.read_bytes()).hexdigest() != SHA_GZ[lab.name]
    (_, _), (_, tt) = load_mnist(normalize=False, data_dir=d)
    np.testing.assert_array_equal(tt, real[3])
    assert (d / "fastscratch-mnist-cache.npz").is_file()  # writable dir: cache beside files
    with monkeypatch.context() as mp:
        _no_decode(mp)
        load_mnist(normalize=False, data_dir=d)
    # change the source: the cache is rebuilt, and the change is detected
    changed = bytearray(content)
    changed[8] = (changed[8] + 1) % 10
    lab.write_bytes(gzip.compress(bytes(changed)))
    (_, _), (_, tt2) = load_mnist(normalize=False, data_dir=d, verify=False)
    assert tt2[0] == (real[3][0] + 1) % 10 and np.array_equal(tt2[1:], real[3][1:])
    with pytest.raises(ChecksumMismatchError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(normalize=False, data_dir=d)  # a verify=False cache is not trusted


def test_cache_invalidated_on_change_synthetic(tmp_path, monkeypatch):
    d = tmp_path / "syn"
    arrays = _make_synth(d)
    (x, t), _ = load_mnist(normalize=False, data_dir=d, verify=False)
    np.testing.assert_array_equal(x, arrays["train_img"])
    with monkeypatch.context() as mp:
        _no_decode(mp)
        (x2, _), _ = load_mnist(normalize=False, data_dir=d, verify=False)
        np.testing.assert_array_equal(x2, x)
    arrays2 = _make_synth(d, seed=1)
    (x3, t3), _ = load_mnist(normalize=False, data_dir=d, verify=False)
    np.testing.assert_array_equal(x3, arrays2["train_img"])
    np.testing.assert_array_equal(t3, arrays2["train_label"])


def test_corrupt_cache_is_rebuilt(tmp_path):
    d = tmp_path / "syn"
    arrays = _make_synth(d)
    load_mnist(data_dir=d, verify=False)
    cache = d / "fastscratch-mnist-cache.npz"
    cache.write_bytes(cache.read_bytes()[:1000])
    (x, _), _ = load_mnist(normalize=False, data_dir=d, verify=False)
    np.testing.assert_array_equal(x, arrays["train_img"])
    assert cache.stat().st_size > 1000


def _make_readonly(p: Path):
    p.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def test_nothing_writable_means_no_cache(tmp_path, monkeypatch):
    d = tmp_path / "syn"
    arrays = _make_synth(d)
    cache = tmp_path / "rocache"
    cache.mkdir()
    _make_readonly(d)
    _make_readonly(cache)
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(cache))
    try:
        (x, _), _ = load_mnist(normalize=False, data_dir=d, verify=False)
        np.testing.assert_array_equal(x, arrays["train_img"])
        assert sorted(os.listdir(d)) == sorted(NAMES) and os.listdir(cache) == []
    finally:
        d.chmod(0o755)
        cache.chmod(0o755)


# ------------------------------------------------------------ locations

def test_env_var_subfolder_and_uncompressed_names(tmp_path, monkeypatch):
    root = tmp_path / "root"
    arrays = _make_synth(root / "mnist", gz=False)
    monkeypatch.setenv("FASTSCRATCH_DATA", str(root))
    (_, t), (xt, _) = load_mnist(normalize=False, verify=False)
    np.testing.assert_array_equal(t, arrays["train_label"])
    np.testing.assert_array_equal(xt, arrays["test_img"])
    # data_dir beats the env var; files directly in it
    arrays2 = _make_synth(tmp_path / "direct", seed=3)
    (_, t2), _ = load_mnist(normalize=False, verify=False, data_dir=tmp_path / "direct")
    np.testing.assert_array_equal(t2, arrays2["train_label"])


class _Trap:
    """Unpickling this touches a marker file: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _book_clone(root: Path, marker: Path) -> dict:
    """A clone of the book: the four files and a booby-trapped mnist.pkl in root/dataset."""
    arrays = _make_synth(root / "dataset")
    (root / "ch05").mkdir()
    (root / "dataset" / "mnist.pkl").write_bytes(pickle.dumps(_Trap(marker)))
    return arrays


@pytest.mark.parametrize("how", ["sys.path", "script"])
def test_book_dataset_folder_is_searched(tmp_path, monkeypatch, how):
    book, marker = tmp_path / "book", tmp_path / "unpickled"
    arrays = _book_clone(book, marker)
    before = sorted(os.listdir(book / "dataset"))
    monkeypatch.chdir(book / "ch05")
    if how == "sys.path":  # what the book's scripts do: sys.path.append(os.pardir)
        monkeypatch.setattr(sys, "path", [*sys.path, os.pardir])
    else:  # a script in a chapter folder: dataset/ beside its folder
        monkeypatch.setattr(sys, "argv", [str(book / "ch05" / "train.py")])
    (x, t), (xt, tt) = load_mnist(normalize=False, verify=False)
    for got, key in ((x, "train_img"), (t, "train_label"), (xt, "test_img"), (tt, "test_label")):
        np.testing.assert_array_equal(got, arrays[key])
    assert not marker.exists()  # mnist.pkl was never unpickled
    assert sorted(os.listdir(book / "dataset")) == before  # the cache went elsewhere
    assert len(list((Path(os.environ["FASTSCRATCH_CACHE"]) / "decoded").glob("mnist-*.npz")))
    # verified as usual: these synthetic files are not the published ones
    with pytest.raises(ChecksumMismatchError, match=re.escape(str(book / "dataset"))):
        load_mnist()


def test_book_dataset_folder_not_searched_without_the_book(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "a" / "b.py")])
    monkeypatch.chdir(tmp_path)
    _make_synth(tmp_path / "elsewhere" / "dataset")  # not beside the script, not on sys.path
    assert tmp_path / "elsewhere" / "dataset" not in S.book_dataset_dirs()
    with pytest.raises(DatasetNotFoundError):
        load_mnist(download=False, verify=False)


def test_uncompressed_file_checked_against_content_checksum(tmp_path):
    d = tmp_path / "data"
    arrays = _make_synth(d)
    gz = d / "train-images-idx3-ubyte.gz"
    (d / "train-images-idx3-ubyte").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    with pytest.raises(ChecksumMismatchError) as ei:
        load_mnist(data_dir=d)
    msg = str(ei.value)
    assert str(d / "train-images-idx3-ubyte") in msg
    assert M.MNIST.files[0].sha256_raw in msg  # expected content checksum
    (x, _), _ = load_mnist(normalize=False, data_dir=d, verify=False)
    np.testing.assert_array_equal(x, arrays["train_img"])


# ------------------------------------------------------------ bad files

def test_checksum_mismatch_names_file_and_expected_sum(tmp_path, mnist_dir):
    d = _copy_mnist(mnist_dir, tmp_path / "data")
    p = d / "train-images-idx3-ubyte.gz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatchError) as ei:
        load_mnist(data_dir=d)
    msg = str(ei.value)
    assert str(p) in msg and SHA_GZ[p.name] in msg
    assert hashlib.sha256(bytes(data)).hexdigest() in msg
    assert isinstance(ei.value, ValueError)
    assert not (d / "fastscratch-mnist-cache.npz").exists()


def test_truncated_file(tmp_path, mnist_dir):
    d = _copy_mnist(mnist_dir, tmp_path / "data")
    p = d / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:200_000])
    with pytest.raises(ChecksumMismatchError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(data_dir=d)
    with pytest.raises(IDXFormatError, match=r"t10k-images-idx3-ubyte\.gz.*truncated"):
        load_mnist(data_dir=d, verify=False)


def test_truncated_raw_payload(tmp_path):
    d = tmp_path / "syn"
    img = np.zeros((20, 784), np.uint8).tobytes()
    _make_synth(d, test_img=_idx(2051, (20, 28, 28), img[:-100]))
    with pytest.raises(IDXFormatError, match=r"t10k-images.*20 images.*truncated"):
        load_mnist(data_dir=d, verify=False)


@pytest.mark.parametrize("key,good,bad", [("test_img", 2051, 2049), ("train_label", 2049, 2051)])
def test_wrong_magic(tmp_path, key, good, bad):
    d = tmp_path / "syn"
    n = 50 if key.startswith("train") else 20
    dims = (n, 28, 28) if key.endswith("img") else (n,)
    payload = bytes(n * (784 if key.endswith("img") else 1))
    _make_synth(d, **{key: _idx(bad, dims, payload)})
    name = M.key_file[key]
    with pytest.raises(IDXFormatError, match=rf"{name}.*magic number {bad}.*{good}"):
        load_mnist(data_dir=d, verify=False)


def test_wrong_dimensions_and_count_mismatch(tmp_path):
    d = tmp_path / "a"
    _make_synth(d, train_img=_idx(2051, (2, 32, 32), bytes(2 * 32 * 32)))
    with pytest.raises(IDXFormatError, match="32x32, expected 28x28"):
        load_mnist(data_dir=d, verify=False)
    d = tmp_path / "b"
    _make_synth(d, train_label=_idx(2049, (49,), bytes(49)))
    with pytest.raises(IDXFormatError, match="50 images but .*49 labels"):
        load_mnist(data_dir=d, verify=False)
    d = tmp_path / "c"
    _make_synth(d, test_label=_idx(2049, (20,), bytes([12] * 20)))
    with pytest.raises(IDXFormatError, match="label 12 is outside 0-9"):
        load_mnist(data_dir=d, verify=False)
    d = tmp_path / "e"
    _make_synth(d, test_label=b"\x00\x00\x08")
    with pytest.raises(IDXFormatError, match="too short"):
        load_mnist(data_dir=d, verify=False)


# ------------------------------------------------------------ missing files / downloads

def test_missing_files_message_names_searched_dirs(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist(data_dir=empty)
    msg = str(ei.value)
    assert isinstance(ei.value, FileNotFoundError)
    for part in [str(empty), str(empty / "mnist"), *NAMES, "FASTSCRATCH_DATA", "data_dir",
                 "FASTSCRATCH_MNIST_MIRROR", "127.0.0.1"]:
        assert part in msg, part
    # default locations: the cache dir is named
    cache = tmp_path / "cache"
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(cache))
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(cache / "mnist"))):
        load_mnist(download=False)
    assert not list(cache.glob("mnist/*.part"))


def test_readonly_explicit_dir_says_not_writable(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    _make_readonly(d)
    try:
        with pytest.raises(DatasetNotFoundError, match="is not writable"):
            load_mnist(data_dir=d)
    finally:
        d.chmod(0o755)


def test_no_network_clear_message(tmp_path):
    port = _closed_port()
    with pytest.raises(DatasetNotFoundError) as ei:
        load_mnist(data_dir=tmp_path / "d", mirrors=[f"http://127.0.0.1:{port}/"],
                   progress=False)
    msg = str(ei.value)
    assert "Downloading failed" in msg and f"127.0.0.1:{port}/train-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "d") in msg and "FASTSCRATCH_DATA" in msg
    assert not [p for p in (tmp_path / "d").iterdir()]  # no partial files left


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@contextlib.contextmanager
def _serve(directory: Path):
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory)))
    srv.requests = []
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", srv
    finally:
        srv.shutdown()
        srv.server_close()
        th.join()


def test_download_verifies_and_writes_atomically(real, tmp_path, monkeypatch, mnist_dir):
    target = tmp_path / "new"
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(A.os, "replace", spy)
    with _serve(mnist_dir) as (url, srv):
        monkeypatch.setenv("FASTSCRATCH_MNIST_MIRROR", url)  # the env var route
        (x, t), (xt, tt) = load_mnist(normalize=False, data_dir=target)
    assert sorted(srv.requests) == sorted("/" + n for n in NAMES)
    for n in NAMES:
        assert hashlib.sha256((target / n).read_bytes()).hexdigest() == SHA_GZ[n]
        assert (target / n).stat().st_mode & 0o044  # readable by others, not mkstemp's 0600
    moved = {dst.name: src for src, dst in replaced if dst.parent == target}
    assert set(NAMES) <= set(moved)
    for n in NAMES:
        src = moved[n]
        assert src.parent == target and src.name.startswith(f".{n}.") and src.name.endswith(".part")
    assert not list(target.glob("*.part"))
    for a, b in zip((x, t, xt, tt), real):
        np.testing.assert_array_equal(a, b)


def test_corrupt_mirror_rejected_next_mirror_used(tmp_path, mnist_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    for n in NAMES:
        data = bytearray((mnist_dir / n).read_bytes())
        data[100] ^= 1
        (bad / n).write_bytes(bytes(data))
    with _serve(bad) as (bad_url, bad_srv):
        # only the corrupt mirror: rejected, nothing written
        with pytest.raises(DatasetNotFoundError) as ei:
            M.download_mnist(tmp_path / "t1", mirrors=[bad_url], progress=False)
        assert "SHA-256 mismatch" in str(ei.value) and SHA_GZ[NAMES[0]] in str(ei.value)
        assert not any((tmp_path / "t1").iterdir())
        with _serve(mnist_dir) as (good_url, good_srv):
            got = M.download_mnist(tmp_path / "t2", mirrors=[bad_url, good_url], progress=False)
    assert got == tmp_path / "t2"
    assert sorted(good_srv.requests) == sorted("/" + n for n in NAMES)
    assert set(bad_srv.requests) >= {"/" + n for n in NAMES}
    for n in NAMES:
        assert hashlib.sha256((got / n).read_bytes()).hexdigest() == SHA_GZ[n]
    assert not list(got.glob("*.part"))


def test_mirror_list_from_env(monkeypatch):
    monkeypatch.setenv("FASTSCRATCH_MNIST_MIRROR", "http://a/x/, http://b/")
    assert S._mirror_list(M.MNIST, None) == ["http://a/x/", "http://b/"]
    assert S._mirror_list(M.MNIST, "http://c/") == ["http://c/"]
    monkeypatch.delenv("FASTSCRATCH_MNIST_MIRROR")
    assert S._mirror_list(M.MNIST, None) == list(M.MNIST.mirrors)


# ------------------------------------------------------------ Fashion-MNIST

@needs_fashion
def test_fashion_mnist_from_debian_location(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FASTSCRATCH_CACHE", str(cache))
    before = sorted(os.listdir(FASHION_DIR))
    (x, t), (xt, tt) = load_fashion_mnist(normalize=False)  # default search finds it
    assert sorted(os.listdir(FASHION_DIR)) == before  # package directory left alone
    assert len(list((cache / "decoded").glob("fashion-mnist-*.npz"))) == 1
    assert x.shape == (60000, 784) and xt.shape == (10000, 784) and x.dtype == np.uint8
    assert t[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert tt[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(t).tolist() == [6000] * 10 and np.bincount(tt).tolist() == [1000] * 10
    _no_decode(monkeypatch)
    (a, b), (c, e) = load_fashion_mnist(flatten=False, one_hot_label=True)
    assert a.shape == (60000, 1, 28, 28) and a.dtype == np.float32 and e.shape == (10000, 10)
    np.testing.assert_array_equal(e.argmax(1), tt)


@needs_fashion
def test_fashion_rejects_mnist_files(mnist_dir):
    with pytest.raises(ChecksumMismatchError, match="not the original Fashion-MNIST file"):
        load_fashion_mnist(data_dir=mnist_dir)


def test_fashion_mnist_on_the_same_store(tmp_path):
    d = tmp_path / "syn"
    arrays = _make_synth(d)  # Fashion-MNIST's files have MNIST's names and format
    (x, t), (xt, tt) = load_fashion_mnist(normalize=False, data_dir=d, verify=False)
    for got, key in ((x, "train_img"), (t, "train_label"), (xt, "test_img"), (tt, "test_label")):
        np.testing.assert_array_equal(got, arrays[key])
    load_mnist(normalize=False, data_dir=d, verify=False)
    assert {p.name for p in d.glob("*.npz")} == {"fastscratch-fashion-mnist-cache.npz",
                                                  "fastscratch-mnist-cache.npz"}
    with pytest.raises(ChecksumMismatchError, match="not the original Fashion-MNIST file"):
        load_fashion_mnist(data_dir=d)
