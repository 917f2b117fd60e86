"""The book's imports for the rest of an interactive session (a REPL, IPython, Jupyter).

``install_book_imports()`` puts ``fastscratch run``'s import hook (book_scripts.book_imports)
in place until ``uninstall_book_imports()``: meanwhile ``import common.layers``,
``from dataset.mnist import load_mnist`` ... give fastscratch's modules (BOOK_MODULES).
``%load_ext fastscratch`` / ``%unload_ext fastscratch`` call them through
``fastscratch.load_ipython_extension`` / ``unload_ipython_extension``.
"""

from __future__ import annotations

import atexit

from .book_scripts import book_imports

__all__ = ["install_book_imports", "uninstall_book_imports", "book_imports_installed"]

_session = None  # the entered book_imports() context while installed


def install_book_imports() -> bool:
    """Resolve the book's ``common.*`` and ``dataset.*`` to fastscratch from now on; modules of
    those names imported before are set aside until uninstall. False if already installed."""
    global _session
    if _session is not None:
        return False
    session = book_imports()
    session.__enter__()
    _session = session
    atexit.register(uninstall_book_imports)  # before shutdown clears sys.meta_path
    return True


def uninstall_book_imports() -> bool:
    """Remove the hook and the aliases it made, and bring back what install set aside.
    False if it was not installed."""
    global _session
    if _session is None:
        return False
    session, _session = _session, None
    atexit.unregister(uninstall_book_imports)
    session.__exit__(None, None, None)
    return True


def book_imports_installed() -> bool:
    """Whether install_book_imports() is in effect."""
    return _session is not None
