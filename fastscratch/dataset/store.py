"""A verified store of IDX image data sets (MNIST and its look-alikes): finding the four files,
downloading missing ones from mirrors, checking SHA-256 sums, caching the decoded arrays, and
handing them out in the book's format. A data set is described by a DatasetSpec.

Files are looked for, in this order of precedence (the first one given wins):

1. ``data_dir`` argument: the four files in ``data_dir/<subdir>/`` or directly
   in ``data_dir``; missing ones are downloaded into ``data_dir`` itself
   (or into ``data_dir/<subdir>/`` if that already holds some of them).
2. ``FASTSCRATCH_DATA`` environment variable: the same, except that missing
   files are downloaded into ``$FASTSCRATCH_DATA/<subdir>/`` (or into
   ``$FASTSCRATCH_DATA`` if only that already holds some), since one such
   directory can hold several data sets.
3. Otherwise ``<user cache dir>/<subdir>/`` (``$FASTSCRATCH_CACHE`` if set, else
   platformdirs' ``user_cache_dir("fastscratch")``, else ``~/.cache/fastscratch``),
   then, for a spec with ``book_folder``, the book's ``dataset/`` folder (see
   book_dataset_dirs), then the spec's system locations; downloads go to the cache one.

Each file may be gzip-compressed (``*.gz``) or not. Files are checked against
the published SHA-256 sums unless ``verify=False``; decoded arrays are cached
in an ``.npz`` next to the files, or in ``<user cache dir>/decoded/`` when that
directory is read-only, a system location or the book's folder. Nothing else in
those folders is read (the book's ``mnist.pkl`` in particular is never unpickled).
Mirrors: ``mirrors=`` or the spec's environment variable (base URLs separated by
spaces or commas).

pooch (1.9) was weighed for the download part and not taken: it fetches one URL per file
against one hash (no mirror list, no second accepted hash for a recompressed copy), knows
only its own cache folder, and would add requests; the fetch it would replace is ~60 lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import settings
from ..atomic import atomic_write
from ._download import DownloadError, download_file
from ._idx import DatasetError, IDXFormatError, decompress, is_gzip, parse_images, parse_labels

__all__ = [
    "FileSpec", "DatasetSpec", "DatasetError", "DatasetNotFoundError", "ChecksumMismatchError",
    "IDXFormatError", "DownloadError", "cache_root", "book_dataset_dirs", "locate",
    "load_arrays", "to_book_format", "load", "change_one_hot_label", "IMG_DIM", "IMG_SIZE",
]

ENV_DATA = settings.DATA
ENV_CACHE = settings.CACHE
CACHE_FORMAT = 1
KEYS = ("train_img", "train_label", "test_img", "test_label")
IMG_DIM = (1, 28, 28)
IMG_SIZE = 784


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The data files are not on disk and could not be downloaded."""


class ChecksumMismatchError(DatasetError, ValueError):
    """A data file's SHA-256 is not the published one."""


@dataclass(frozen=True)
class FileSpec:
    key: str                    # 'train_img', 'train_label', 'test_img', 'test_label'
    name: str                   # file name as published, ending in .gz
    sha256_gz: tuple            # accepted SHA-256 of the .gz file (the published one first)
    sha256_raw: str             # SHA-256 of the uncompressed content

    @property
    def raw_name(self) -> str:
        return self.name[:-3]


@dataclass(frozen=True)
class DatasetSpec:
    title: str                  # for messages
    subdir: str                 # default sub folder and cache name
    files: tuple                # four FileSpec, in KEYS order
    mirrors: tuple              # base URLs, tried in order
    mirror_env: str
    n_train: int
    n_test: int
    system_dirs: tuple = ()     # extra read-only default locations
    book_folder: bool = False   # also search the book's dataset/ folder (see book_dataset_dirs)


# ---------------------------------------------------------------- directories

def cache_root() -> Path:
    """The per-user cache directory: $FASTSCRATCH_CACHE, platformdirs, or ~/.cache."""
    env = settings.cache_dir()
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_cache_dir
        return Path(user_cache_dir("fastscratch"))
    except Exception:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "fastscratch"


def _is_writable_dir(d: Path) -> bool:
    try:
        st = d.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or not os.access(d, os.W_OK | os.X_OK):
        return False
    # os.access says yes to root everywhere; still leave r-x directories alone.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not st.st_mode & 0o222:
        return False
    return True


def _make_dir(d: Path) -> bool:
    """Create ``d`` if needed; True if it then is a writable directory."""
    if not d.is_dir():
        parent = d.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not _is_writable_dir(parent):
            return False
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
    return _is_writable_dir(d)


def _present(spec: DatasetSpec, d: Path) -> dict:
    """The spec's files found in ``d`` (key -> path), preferring the .gz name."""
    found = {}
    for fs in spec.files:
        for name in (fs.name, fs.raw_name):
            p = d / name
            if p.is_file():
                found[fs.key] = p
                break
    return found


@dataclass
class _Plan:
    origin: str
    search: list
    download_dir: Path


def book_dataset_dirs() -> list:
    """The existing ``dataset/`` folders of a clone of the book that the running program can see.

    The book's ``dataset/mnist.py`` keeps the MNIST files beside itself, in ``<book>/dataset/``,
    and its chapter scripts put ``os.pardir`` (the book's root) on ``sys.path``. So this is
    ``dataset/`` in each ``sys.path`` entry (``''`` is the current directory) and beside the
    running script's folder (``<script folder>/../dataset``), each once, in that order.
    """
    roots = [Path(p or os.curdir) for p in sys.path if isinstance(p, str)]
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
    if script:
        roots.append(Path(script).absolute().parent.parent)
    found, seen = [], set()
    for root in roots:
        d = root / "dataset"
        key = os.path.realpath(d)
        if key not in seen and d.is_dir():
            seen.add(key)
            found.append(Path(os.path.abspath(d)))
    return found


def _read_only_dirs(spec: DatasetSpec) -> list:
    """Default locations that are not ours to write into (their files are only read)."""
    book = book_dataset_dirs() if spec.book_folder else []
    return [*book, *map(Path, spec.system_dirs)]


def _plan(spec: DatasetSpec, data_dir) -> _Plan:
    env = settings.data_dir()
    if data_dir is not None or env:
        explicit = data_dir is not None
        base = Path(os.fspath(data_dir) if explicit else env).expanduser()
        sub = base / spec.subdir
        first, other = (base, sub) if explicit else (sub, base)
        target = other if (_present(spec, other) and not _present(spec, first)) else first
        origin = "the data_dir argument" if explicit else f"${ENV_DATA}"
        return _Plan(origin, [sub, base], target)
    home = cache_root() / spec.subdir
    return _Plan("the default locations", [home, *_read_only_dirs(spec)], home)


def _mirror_list(spec: DatasetSpec, mirrors) -> list:
    if mirrors is None:
        return settings.mirrors(spec.mirror_env) or list(spec.mirrors)
    if isinstance(mirrors, (str, bytes, os.PathLike)):
        mirrors = [mirrors]
    return [os.fsdecode(m) for m in mirrors]


# ---------------------------------------------------------------- checksums

def _sha256(data) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified_content(spec: DatasetSpec, fs: FileSpec, label: str, data: bytes,
                      verify: bool) -> tuple:
    """(uncompressed content, sha256 of the file or None); raises on mismatch."""
    if not verify:
        return decompress(data, label), None
    found = _sha256(data)
    if is_gzip(data):
        if found in fs.sha256_gz:
            return decompress(data, label), found
        try:  # a recompressed copy (e.g. a distribution's) with the right content
            content = decompress(data, label)
        except IDXFormatError:
            content = None
        if content is not None and _sha256(content) == fs.sha256_raw:
            return content, found
        expected = (f"{fs.sha256_gz[0]} (the .gz file; or {fs.sha256_raw} for its "
                    "uncompressed content)")
    else:
        if found == fs.sha256_raw:
            return data, found
        expected = f"{fs.sha256_raw} (uncompressed {fs.raw_name})"
    raise ChecksumMismatchError(
        f"{label}: SHA-256 mismatch: this is not the original {spec.title} file "
        f"{fs.name} (it is corrupt, truncated or a different file).\n"
        f"  expected: {expected}\n"
        f"  found:    {found}\n"
        "Delete or replace it (a missing file is downloaded again), or pass "
        "verify=False to load a nonstandard file on purpose."
    )


# ---------------------------------------------------------------- finding / downloading

def _missing_error(spec: DatasetSpec, plan: _Plan, problem: str, mirrors) -> DatasetNotFoundError:
    missing = [fs.name for fs in spec.files if fs.key not in _present(spec, plan.download_dir)]
    lines = [f"{spec.title} data files not found: {', '.join(missing)}.",
             f"Searched these directories ({plan.origin}; a .gz or an uncompressed "
             "copy of each file is accepted):"]
    for d in plan.search:
        n = len(_present(spec, d))
        state = "does not exist" if not d.is_dir() else f"has {n} of the 4 files"
        lines.append(f"  {d}  ({state})")
    lines.append(problem)
    names = ", ".join(fs.name for fs in spec.files)
    lines += [
        "To fix this, either",
        f"  * put the four files ({names}) into {plan.download_dir}, or",
        f"  * put them into a directory DIR of your choice (directly or in DIR/{spec.subdir}/) "
        f"and pass data_dir=DIR or set {ENV_DATA}=DIR, or",
        f"  * make a mirror reachable: pass mirrors=[URL, ...] or set {spec.mirror_env}=URL "
        f"(tried: {' '.join(mirrors) or 'none'}).",
    ]
    return DatasetNotFoundError("\n".join(lines))


def locate(spec: DatasetSpec, data_dir, mirrors, download: bool, progress: bool) -> dict:
    """Return key -> path of a complete set of files, downloading missing ones."""
    plan = _plan(spec, data_dir)
    for d in plan.search:
        files = _present(spec, d)
        if len(files) == len(spec.files):
            return files
    mirror_list = _mirror_list(spec, mirrors)
    target = plan.download_dir
    if not download:
        raise _missing_error(spec, plan, "Downloading is disabled (download=False).", [])
    if not _make_dir(target):
        why = "cannot be created" if not target.is_dir() else "is not writable"
        raise _missing_error(
            spec, plan, f"The directory {target} {why}, so the missing files cannot be "
            "downloaded into it.", mirror_list)
    have = _present(spec, target)
    for fs in spec.files:
        if fs.key in have:
            continue

        def check(tmp: Path, fs=fs) -> None:
            _verified_content(spec, fs, f"downloaded {fs.name}", tmp.read_bytes(), True)

        try:
            download_file(fs.name, mirror_list, target / fs.name, check, progress=progress)
        except DownloadError as exc:
            raise _missing_error(spec, plan, f"Downloading failed: {exc}", mirror_list) from None
    return _present(spec, target)


# ---------------------------------------------------------------- decoding and cache

def _source_key(files: dict) -> dict:
    out = {}
    for key in KEYS:
        st = files[key].stat()
        out[key] = [files[key].name, st.st_size, st.st_mtime_ns, st.st_ino]
    return out


def _cache_paths(spec: DatasetSpec, src_dir: Path) -> list:
    tag = hashlib.sha1(os.fsencode(os.path.abspath(src_dir))).hexdigest()[:16]
    return [src_dir / f"fastscratch-{spec.subdir}-cache.npz",
            cache_root() / "decoded" / f"{spec.subdir}-{tag}.npz"]


def _valid_arrays(spec: DatasetSpec, arrays: dict, verified: bool) -> bool:
    xtr, ttr, xte, tte = (arrays[k] for k in KEYS)
    ok = (all(a.dtype == np.uint8 for a in (xtr, ttr, xte, tte))
          and xtr.ndim == 2 and xte.ndim == 2 and xtr.shape[1] == IMG_SIZE
          and xte.shape[1] == IMG_SIZE and ttr.shape == (len(xtr),)
          and tte.shape == (len(xte),))
    if ok and verified:
        ok = len(xtr) == spec.n_train and len(xte) == spec.n_test
    return ok


def _read_cache(spec: DatasetSpec, path: Path, source: dict, verify: bool):
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"][()]))
            if (meta.get("format") != CACHE_FORMAT or meta.get("dataset") != spec.subdir
                    or meta.get("sources") != source or (verify and not meta.get("verified"))):
                return None
            arrays = {k: z[k] for k in KEYS}
    except Exception:  # missing, unreadable, truncated, foreign: rebuild it
        return None
    return arrays if _valid_arrays(spec, arrays, bool(meta.get("verified"))) else None


def _write_cache(spec: DatasetSpec, src_dir: Path, arrays: dict, meta: dict):
    payload = dict(arrays, meta=np.array(json.dumps(meta)))
    foreign = {os.path.realpath(d) for d in _read_only_dirs(spec)}
    for i, path in enumerate(_cache_paths(spec, src_dir)):
        if i == 0 and (os.path.realpath(src_dir) in foreign or not _is_writable_dir(src_dir)):
            continue  # never write into a read-only, package-managed or the book's folder
        if i > 0 and not _make_dir(path.parent):
            continue
        try:
            atomic_write(path, lambda f: np.savez(f, **payload))
            return path
        except OSError:
            continue
    return None  # nothing writable: no cache


def _decode(spec: DatasetSpec, files: dict, verify: bool) -> tuple:
    arrays, shas = {}, {}
    for fs in spec.files:
        path = files[fs.key]
        with open(path, "rb") as f:
            data = f.read()
        content, shas[fs.key] = _verified_content(spec, fs, str(path), data, verify)
        del data
        parse = parse_images if fs.key.endswith("img") else parse_labels
        arrays[fs.key] = parse(content, path)
    for part in ("train", "test"):
        x, t = arrays[f"{part}_img"], arrays[f"{part}_label"]
        if len(x) != len(t):
            raise IDXFormatError(
                f"{files[part + '_img']} has {len(x)} images but "
                f"{files[part + '_label']} has {len(t)} labels")
        if t.size and int(t.max()) > 9:
            raise IDXFormatError(
                f"{files[part + '_label']}: label {int(t.max())} is outside 0-9")
    return arrays, shas


def load_arrays(spec: DatasetSpec, data_dir=None, verify=True, mirrors=None,
                download=True, progress=True) -> dict:
    """The four uint8 arrays (images flattened), from the cache when it is valid."""
    files = locate(spec, data_dir, mirrors, download, progress)
    source = _source_key(files)
    src_dir = files["train_img"].parent
    for path in _cache_paths(spec, src_dir):
        arrays = _read_cache(spec, path, source, verify)
        if arrays is not None:
            return arrays
    arrays, shas = _decode(spec, files, verify)
    meta = {"format": CACHE_FORMAT, "dataset": spec.subdir, "verified": bool(verify),
            "sources": source, "sha256": shas}
    _write_cache(spec, src_dir, arrays, meta)
    return arrays


def change_one_hot_label(X) -> np.ndarray:
    """Labels (N,) -> float64 one-hot array (N, 10), as in the book."""
    X = np.asarray(X).reshape(-1)
    T = np.zeros((X.size, 10))
    T[np.arange(X.size), X] = 1
    return T


def to_book_format(arrays: dict, normalize: bool, flatten: bool, one_hot_label: bool) -> tuple:
    out = {}
    for key in ("train_img", "test_img"):
        x = arrays[key]
        if normalize:  # bit-identical to the book's astype(np.float32); /= 255.0
            x = np.divide(x, np.float32(255.0), dtype=np.float32)
        out[key] = x if flatten else x.reshape(-1, *IMG_DIM)
    for key in ("train_label", "test_label"):
        t = arrays[key]
        out[key] = change_one_hot_label(t) if one_hot_label else t
    return (out["train_img"], out["train_label"]), (out["test_img"], out["test_label"])


def load(spec, normalize, flatten, one_hot_label, data_dir, verify, mirrors,
          download, progress) -> tuple:
    arrays = load_arrays(spec, data_dir, verify, mirrors, download, progress)
    return to_book_format(arrays, normalize, flatten, one_hot_label)


