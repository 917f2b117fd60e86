"""Atomic file creation: write to a temporary file beside the target, flush and fsync it, rename
it over the target, fsync the directory. A crash at any point leaves the old file whole (or no
file), never a partial one. Used by checkpoints and by data set downloads."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable


def fsync_dir(path) -> None:
    """Flush a directory entry to disk (a no-op where the platform cannot)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(dest, write: Callable, check: Callable | None = None) -> None:
    """Create ``dest`` atomically.

    ``write(fileobj)`` fills a temporary file ``.<name>.<random>.part`` in ``dest``'s directory,
    which is flushed, fsync'ed, optionally passed to ``check(temp_path)`` (which raises to reject
    it) and renamed over ``dest``. On any error the temporary file is removed and the error
    re-raised. The file gets mode 0644, not mkstemp's 0600.
    """
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o644)  # readable by others, as a plainly created file would be
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(dest.parent)
