"""Running the book's scripts unchanged (``fastscratch run SCRIPT.py [args]``).

``run_script`` executes a script as ``__main__`` the way ``python SCRIPT.py`` would from the
script's own folder (the book's scripts expect their chapter folder as the current directory
and put ``os.pardir`` on ``sys.path``), with an import hook that resolves the book's ``common``
and ``dataset`` packages to fastscratch (BOOK_MODULES). The hook, the current directory,
``sys.argv``, ``sys.path`` and the modules the script imported from its own folders exist for
that run only; the script's local modules (ch05's ``two_layer_net``, ...) import through the
hook too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
import types
from contextlib import contextmanager

from . import book_editions

__all__ = ["BOOK_MODULES", "run_script", "book_imports"]

# The book's module name -> the fastscratch module it becomes; None: a package that only holds
# the mapped modules. One entry per module a book script may import.
BOOK_MODULES = {
    "common": None,
    "common.functions": "fastscratch.functions",
    "common.gradient": "fastscratch.gradient",
    "common.layers": "fastscratch.layers",
    "common.multi_layer_net": "fastscratch.multi_layer_net",
    "common.multi_layer_net_extend": "fastscratch.multi_layer_net_extend",
    "common.optimizer": "fastscratch.optimizer",
    "common.trainer": "fastscratch.trainer",
    "common.util": "fastscratch.util",
    "dataset": None,
    "dataset.mnist": "fastscratch.dataset.mnist",
}


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias: an empty package (target None) or the target module itself."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return None  # the default module; exec_module replaces it for a module alias

    def exec_module(self, module):
        name = module.__name__
        if self.target is None:
            module.__doc__ = "fastscratch's stand-in for the book's package of this name."
            # the book copy's own folders of this package, for its modules fastscratch lacks
            module.__path__ = [os.path.abspath(os.path.join(entry or os.curdir, name))
                               for entry in sys.path if isinstance(entry, str)
                               and os.path.isdir(os.path.join(entry or os.curdir, name))]
            return
        ours = importlib.import_module(self.target)
        package, _, leaf = name.rpartition(".")
        book_file = next((os.path.join(folder, leaf + ".py")
                          for folder in getattr(sys.modules.get(package), "__path__", ())
                          if os.path.isfile(os.path.join(folder, leaf + ".py"))), None)
        # dataset.mnist stays fastscratch's whatever the copy's download code says: the data is
        # the same, and fastscratch's loader works offline
        if book_file is not None and package == "common":
            ours = _with_book_definitions(name, ours, book_file)
        sys.modules[name] = ours  # importlib returns what sys.modules holds after exec_module


def _with_book_definitions(name, ours, book_file):
    """``ours`` (fastscratch's module for book module ``name``) if every function and class of
    the book copy's ``book_file`` is the code fastscratch implements (book_editions); else a
    module with fastscratch's names, the copy's own definitions of the others and the names only
    the copy has (its own code, run with its imports going through the hook), noted on stderr."""
    with open(book_file, encoding="utf-8") as f:
        source = f.read()
    unknown = book_editions.unknown_definitions(name, source, book_file)
    if not unknown:
        return ours
    book = types.ModuleType(name)
    book.__file__ = book_file
    exec(compile(source, book_file, "exec"), book.__dict__)
    mixed = types.ModuleType(name, book.__doc__)
    mixed.__dict__.update({k: v for k, v in vars(ours).items() if not k.startswith("__")})
    mixed.__dict__.update({k: v for k, v in vars(book).items() if not k.startswith("__")
                           and (k in unknown or k not in mixed.__dict__)})
    mixed.__file__ = book_file
    print(f"fastscratch run: {book_file}: {', '.join(unknown)} "
          f"{'is' if len(unknown) == 1 else 'are'} not the code of the book edition fastscratch "
          "implements; the copy's own code runs for "
          f"{'it' if len(unknown) == 1 else 'them'}", file=sys.stderr)
    return mixed


class _BookFinder(importlib.abc.MetaPathFinder):
    """Finds the names of ``aliases``; other modules of its stand-in packages come from the
    book copy's own folders, and where it has none are refused with a clear error."""

    def __init__(self, aliases):
        self.aliases = dict(aliases)

    def find_spec(self, name, path=None, target=None):
        if name in self.aliases:
            is_package = self.aliases[name] is None
            return importlib.util.spec_from_loader(name, _AliasLoader(self.aliases[name]),
                                                   is_package=is_package)
        parent = name.rpartition(".")[0]
        if parent and self.aliases.get(parent, "") is None:
            if path and importlib.machinery.PathFinder.find_spec(name, path) is not None:
                return None  # a module of the book copy's own that fastscratch lacks
            known = ", ".join(k for k in self.aliases if k.startswith(parent + "."))
            raise ModuleNotFoundError(
                f"fastscratch run: the book's module {name} has no fastscratch counterpart "
                f"(the {parent} package provides: {known})", name=name)
        return None


def _under(path, folders) -> bool:
    path = os.path.realpath(path)
    return any(os.path.commonpath([path, f]) == f for f in folders)


@contextmanager
def book_imports(aliases=None):
    """Within the block, ``import common.layers`` etc. give fastscratch's modules (``aliases``:
    book name -> fastscratch module name or None for a package; default BOOK_MODULES).
    Afterwards the hook and the aliases are gone from ``sys.meta_path`` and ``sys.modules``."""
    aliases = BOOK_MODULES if aliases is None else aliases
    finder = _BookFinder(aliases)
    tops = {a.split(".")[0] for a in aliases}

    def take_out():
        return {name: sys.modules.pop(name) for name in list(sys.modules)
                if name.split(".")[0] in tops}

    shadowed = take_out()  # e.g. a package named dataset imported before
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        take_out()
        sys.modules.update(shadowed)


def run_script(path, argv=(), *, aliases=None, seed=None) -> int:
    """Run the Python script ``path`` as ``__main__`` with ``sys.argv = [path, *argv]``, from its
    own folder, inside ``book_imports(aliases)``; ``seed``: ``np.random.seed(seed)`` first.

    Returns the exit status (0, or the script's ``sys.exit`` code); exceptions propagate.
    A relative FASTSCRATCH_DATA is made absolute for the run. Restores the current directory,
    ``sys.argv``, ``sys.path`` and FASTSCRATCH_DATA afterwards and forgets the
    modules imported from the script's folder or from folders it put on ``sys.path``, and the
    importers cached for those entries.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"script: expected a Python file, {path} is not a file")
    folder = os.path.dirname(path)
    saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), os.getcwd()
    saved_modules = set(sys.modules)
    saved_data = os.environ.get("FASTSCRATCH_DATA")
    if saved_data:  # the script runs from its own folder: a relative data path must not move
        os.environ["FASTSCRATCH_DATA"] = os.path.abspath(saved_data)
    code = 0
    with book_imports(aliases):
        sys.argv = [path, *map(str, argv)]
        sys.path.insert(0, folder)
        os.chdir(folder)
        try:
            if seed is not None:
                import numpy as np
                np.random.seed(seed)
            runpy.run_path(path, run_name="__main__")
        except SystemExit as exc:  # as python would: None is 0, a message is printed, 1
            code = exc.code
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
        finally:
            new_entries = [p for p in sys.path if isinstance(p, str) and p not in saved_path]
            added = [os.path.realpath(folder)] + [os.path.realpath(p or os.curdir)
                                                  for p in new_entries]
            for entry in new_entries:  # a relative entry ('..') means another folder next run
                sys.path_importer_cache.pop(entry, None)
            os.chdir(saved_cwd)
            sys.argv, sys.path[:] = saved_argv, saved_path
            if saved_data:
                os.environ["FASTSCRATCH_DATA"] = saved_data
            for name in set(sys.modules) - saved_modules:
                file = getattr(sys.modules[name], "__file__", None)
                if file and _under(file, added):
                    del sys.modules[name]
    return code or 0
