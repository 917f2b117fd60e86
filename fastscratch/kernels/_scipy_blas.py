"""The BLAS the kernels call: the one SciPy exports to Cython (``scipy.linalg.cython_blas``).

Importing ``scipy.linalg.cython_blas`` the usual way first runs ``scipy/linalg/__init__.py``,
0.08-0.15 s on the 2-core machine for routines the kernels never use. The extension module
needs none of it, so it is loaded from its file under its own name (it registers itself in
``sys.modules``, and a later ``import scipy.linalg.cython_blas`` gets the same module, though
``scipy.linalg`` imported later lacks it as an attribute). Only ``scipy``'s top-level package is
imported, by the extension itself.
"""
import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

MODULE = "scipy.linalg.cython_blas"


def scipy_root():
    """The folder holding SciPy's package (its BLAS library lies below it in wheels)."""
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("fastscratch's kernels call SciPy's BLAS, but SciPy is not installed")
    return Path(spec.submodule_search_locations[0]).resolve().parent


def load():
    """The ``scipy.linalg.cython_blas`` module, loaded (with its BLAS library) if not yet."""
    if MODULE in sys.modules:
        return sys.modules[MODULE]
    if "scipy.linalg" in sys.modules:  # already paid for: the usual import, parent attribute set
        return importlib.import_module(MODULE)
    folder = scipy_root() / "scipy" / "linalg"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / ("cython_blas" + suffix)
        if path.is_file():
            spec = importlib.util.spec_from_file_location(MODULE, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[MODULE] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[MODULE]
                raise
            return module
    raise ImportError(f"fastscratch's kernels call SciPy's BLAS, but {folder} holds no "
                      "cython_blas extension for this Python "
                      f"({importlib.machinery.EXTENSION_SUFFIXES})")

