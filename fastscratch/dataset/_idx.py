"""Reading IDX files (the MNIST file format), gzip-compressed or raw."""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(Exception):
    """Base class of the errors raised by ``fastscratch.dataset``."""


class IDXFormatError(DatasetError, ValueError):
    """A file is not a valid IDX file of the expected kind."""


def is_gzip(data: bytes) -> bool:
    """True if ``data`` starts with the gzip magic bytes."""
    return data[:2] == GZIP_MAGIC


def decompress(data: bytes, name: str | os.PathLike) -> bytes:
    """Return the content of ``data``: gunzipped if it is gzip, else unchanged."""
    if not is_gzip(data):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise IDXFormatError(
            f"{os.fspath(name)}: corrupt or truncated gzip file ({exc})"
        ) from None


def _header(buf: bytes, name, magic: int, header_len: int, kind: str) -> tuple:
    name = os.fspath(name)
    if len(buf) < header_len:
        raise IDXFormatError(
            f"{name}: too short for an IDX {kind} file "
            f"({len(buf)} bytes, the header alone is {header_len})"
        )
    fields = tuple(int.from_bytes(buf[i:i + 4], "big") for i in range(0, header_len, 4))
    if fields[0] != magic:
        raise IDXFormatError(
            f"{name}: wrong magic number {fields[0]} (0x{fields[0]:08x}); "
            f"an IDX {kind} file starts with {magic} (0x{magic:08x})"
        )
    return fields


def parse_images(buf: bytes, name, rows: int = 28, cols: int = 28) -> np.ndarray:
    """Parse the content of an IDX image file.

    Returns a writable uint8 array of shape (N, rows*cols), one flattened
    image per row. Raises IDXFormatError naming ``name`` on any inconsistency.
    """
    _, n, r, c = _header(buf, name, IMAGE_MAGIC, 16, "image")
    if (r, c) != (rows, cols):
        raise IDXFormatError(
            f"{os.fspath(name)}: images are {r}x{c}, expected {rows}x{cols}"
        )
    expected = 16 + n * r * c
    if len(buf) != expected:
        raise IDXFormatError(
            f"{os.fspath(name)}: header says {n} images of {r}x{c} "
            f"({expected} bytes in all) but the file content has {len(buf)} bytes"
            + (" (truncated)" if len(buf) < expected else "")
        )
    out = np.empty((n, r * c), dtype=np.uint8)
    out.reshape(-1)[:] = np.frombuffer(buf, dtype=np.uint8, offset=16)
    return out


def parse_labels(buf: bytes, name) -> np.ndarray:
    """Parse the content of an IDX label file.

    Returns a writable uint8 array of shape (N,). Raises IDXFormatError naming
    ``name`` on any inconsistency.
    """
    _, n = _header(buf, name, LABEL_MAGIC, 8, "label")
    if len(buf) != 8 + n:
        raise IDXFormatError(
            f"{os.fspath(name)}: header says {n} labels ({8 + n} bytes in all) "
            f"but the file content has {len(buf)} bytes"
            + (" (truncated)" if len(buf) < 8 + n else "")
        )
    return np.frombuffer(buf, dtype=np.uint8, offset=8).copy()


def read_idx_images(path) -> np.ndarray:
    """Read an IDX image file (gzip or raw); returns uint8 (N, 784)."""
    with open(path, "rb") as f:
        return parse_images(decompress(f.read(), path), path)


def read_idx_labels(path) -> np.ndarray:
    """Read an IDX label file (gzip or raw); returns uint8 (N,)."""
    with open(path, "rb") as f:
        return parse_labels(decompress(f.read(), path), path)
