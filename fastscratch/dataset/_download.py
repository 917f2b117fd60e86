"""Downloading a file from a list of mirrors, checked and moved into place atomically."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

from ..atomic import atomic_write
from ._idx import DatasetError

USER_AGENT = "fastscratch-dataset/1"
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024  # no data set file here is near this


class DownloadError(DatasetError, OSError):
    """Every mirror failed for a file."""


def _progress_bar(total: int | None, desc: str, enabled: bool):
    if enabled:
        try:
            from tqdm import tqdm
        except Exception:  # tqdm missing or broken: no bar
            pass
        else:
            return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                        desc=desc, leave=False)
    return contextlib.nullcontext(None)


def _fetch(url: str, f, desc: str, progress: bool, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > MAX_DOWNLOAD_BYTES:
            raise OSError(f"refusing a {total}-byte download")
        got = 0
        with _progress_bar(total, desc, progress) as bar:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
                if got > MAX_DOWNLOAD_BYTES:
                    raise OSError(f"download exceeds {MAX_DOWNLOAD_BYTES} bytes")
                f.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        if total is not None and got != total:
            raise OSError(f"connection closed after {got} of {total} bytes")


def join_url(base: str, name: str) -> str:
    return base if base.endswith(name) else base.rstrip("/") + "/" + name


def download_file(name: str, mirrors: Iterable[str], dest: Path,
                  check: Callable[[Path], None], progress: bool = True,
                  timeout: float = 30.0) -> str:
    """Download ``name`` into ``dest``, trying each mirror base URL in order.

    Each download goes to a temporary file next to ``dest``, is passed to
    ``check(temp_path)`` (raise to reject, e.g. on a checksum mismatch) and is
    then moved into place atomically. Returns the URL used; raises
    DownloadError listing every attempt if no mirror gave a good file.
    """
    failures = []
    for base in mirrors:
        url = join_url(base, name)
        try:
            atomic_write(dest, lambda f: _fetch(url, f, name, progress, timeout), check)
            return url
        except (OSError, urllib.error.URLError, ValueError, DatasetError) as exc:
            # http.client.HTTPException is not an OSError; catch it too below.
            failures.append(f"{url}: {exc}")
        except Exception as exc:  # http.client.IncompleteRead and friends
            if exc.__class__.__module__ != "http.client":
                raise
            failures.append(f"{url}: {exc!r}")
    if not failures:
        failures.append("no mirror configured")
    raise DownloadError(f"could not download {name}:\n  " + "\n  ".join(failures))
