"""The book's notebooks run under fastscratch (fastscratch.notebooks, fastscratch.book_session).

The book's real notebooks (``<repo>/../shared/book/deep-learning-from-scratch/notebooks``,
skipped when absent) are copied with ``common/``, ``dataset/`` (plus the four MNIST .gz files)
and the trained parameter files to a temporary folder, shortened by the rewrites in REWRITES,
and executed in a real kernel twice, seeded: with ``%load_ext fastscratch`` and on the book's
own ``common/`` and ``dataset/``. Each code cell must print the same lines, numbers to 1e-6
relative.

The rewrites only shorten training and evaluation, the same on both sides: fewer iterations
or epochs, narrower hidden layers in the numerical gradient checks, and for the conv nets
the book's own commented-out "reduce the data" lines switched on with smaller slices (ch07:
1000 images, a multiple of the batch fastscratch's Trainer evaluates with). ch08 slices the
data of its training cell and saves the shortened net to another file, so that its later cells
still evaluate the book's trained deep_convnet_params.pkl. ch03-ch08 pass.
"""
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fastscratch.book_session import (book_imports_installed, install_book_imports,
                                      uninstall_book_imports)
from fastscratch.cli import main
from fastscratch.notebooks import run_notebook

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO.parent / "shared" / "book" / "deep-learning-from-scratch"
BOOK_FILES = ("notebooks", "common", "dataset", "ch03/sample_weight.pkl", "ch07/params.pkl",
              "ch08/deep_convnet_params.pkl")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Rewrite:
    cell: int   # index in the notebook's cells
    old: str    # must occur exactly once in that cell
    new: str


REWRITES = {
    "ch03": [],  # its 10 000 one-image predictions run as they are
    "ch04": [Rewrite(11, "iters_num = 10000", "iters_num = 601")],
    "ch05": [Rewrite(9, "hidden_size=50", "hidden_size=10"),
             Rewrite(11, "iters_num = 10000", "iters_num = 601")],
    "ch06": [Rewrite(3, "max_iterations = 2000", "max_iterations = 11"),
             Rewrite(7, "max_iterations = 2000", "max_iterations = 11"),
             Rewrite(9, "hidden_size_list=[100, 100]", "hidden_size_list=[10, 10]"),
             Rewrite(11, "max_epochs = 20", "max_epochs = 1"),
             Rewrite(13, "max_epochs = 201", "max_epochs = 3"),
             Rewrite(15, "epochs=301", "epochs=3"),
             Rewrite(17, "optimization_trial = 100", "optimization_trial = 3"),
             Rewrite(17, "epocs=50", "epocs=2")],
    "ch07": [Rewrite(5, "#x_train, t_train = x_train[:5000], t_train[:5000]",
                     "x_train, t_train = x_train[:1000], t_train[:1000]"),
             Rewrite(5, "#x_test, t_test = x_test[:1000], t_test[:1000]",
                     "x_test, t_test = x_test[:1000], t_test[:1000]"),
             Rewrite(5, "max_epochs = 20", "max_epochs = 1")],
    "ch08": [Rewrite(5, "load_mnist(flatten=False)\n",
                     "load_mnist(flatten=False)\nx_train, t_train = x_train[:100], t_train[:100]"
                     "\nx_test, t_test = x_test[:100], t_test[:100]\n"),
             Rewrite(5, "epochs=20", "epochs=1"),
             Rewrite(5, 'save_params("../ch08/deep_convnet_params.pkl")',
                     'save_params("../ch08/short_run_params.pkl")'),
             Rewrite(7, "#sampled = 1000\n#x_test = x_test[:sampled]\n#t_test = t_test[:sampled]",
                     "sampled = 200\nx_test = x_test[:sampled]\nt_test = t_test[:sampled]"),
             Rewrite(9, "sampled = 10000", "sampled = 100")],
}
# Printed values that are rounding noise: the gradient checks print mean |backprop - numerical|
# (1e-10 .. 1e-7), differences of central differences whose rounding part is about
# eps * loss / h = 2.2e-16 * 2.3 / 1e-4 = 5e-12 per entry.
ATOL = {"ch05": 1e-11, "ch06": 1e-11, "ch07": 1e-11}


def _rewritten(name, source_dir):
    nb = nbformat.read(source_dir / f"{name}.ipynb", as_version=4)
    for r in REWRITES[name]:
        source = nb.cells[r.cell].source
        assert source.count(r.old) == 1, f"{name} cell {r.cell}: {r.old!r} not found once"
        nb.cells[r.cell].source = source.replace(r.old, r.new)
    return nb


@pytest.fixture(scope="module")
def book(tmp_path_factory, mnist_dir):
    """A writable copy of the parts of the book the notebooks use, MNIST in its dataset/."""
    if not BOOK.is_dir():
        pytest.skip(f"the book's repository is not at {BOOK}")
    root = tmp_path_factory.mktemp("book")
    for name in BOOK_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (BOOK / name).is_dir() else shutil.copyfile
        copy(BOOK / name, root / name)
    for gz in mnist_dir.glob("*.gz"):
        shutil.copyfile(gz, root / "dataset" / gz.name)
    # the book's loader converts the files to dataset/mnist.pkl on first use, printing as it
    # goes: done here once, so that the notebooks' own runs print only what their cells do
    subprocess.run([sys.executable, "-c", "from dataset.mnist import init_mnist; init_mnist()"],
                   cwd=root, check=True, capture_output=True)
    return root


@pytest.fixture
def inline_figures(monkeypatch):
    """The kernel's own matplotlib default (the inline backend), not a test-wide MPLBACKEND."""
    monkeypatch.delenv("MPLBACKEND", raising=False)


@pytest.fixture
def one_blas_thread(monkeypatch):
    """Kernels on one thread (NumPy's BLAS and fastscratch's): on a busy 2-core machine two
    spinning BLAS threads made the book's runs about 3x longer. Neither side's numbers depend
    on it (fastscratch's thread-count independence is tests/test_threads.py's)."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("FASTSCRATCH_NUM_THREADS", "1")


def _printed(nb):
    """Per code cell, what it printed on stdout."""
    return [''.join(o.text for o in cell.outputs
                    if o.output_type == "stream" and o.name == "stdout")
            for cell in nb.cells if cell.cell_type == "code"]


def _assert_same_prints(ours, theirs, atol):
    for index, (a, b) in enumerate(zip(ours, theirs)):
        lines_a, lines_b = a.splitlines(), b.splitlines()
        assert [NUMBER.sub("#", x) for x in lines_a] == [NUMBER.sub("#", x) for x in lines_b], \
            f"code cell {index} printed other lines:\n{a}\n--- the book's run:\n{b}"
        nums = [[float(n) for x in lines for n in NUMBER.findall(x)]
                for lines in (lines_a, lines_b)]
        np.testing.assert_allclose(nums[0], nums[1], rtol=1e-6, atol=atol,
                                   err_msg=f"code cell {index}:\n{a}\n--- the book's run:\n{b}")


@pytest.mark.parametrize("name", list(REWRITES))
def test_book_notebook_prints_the_books_numbers(book, name, tmp_path, inline_figures,
                                                one_blas_thread, capsys):
    nb_path = book / "notebooks" / f"{name}.ipynb"
    nbformat.write(_rewritten(name, BOOK / "notebooks"), nb_path)
    theirs, ours = tmp_path / "book.ipynb", tmp_path / "fastscratch.ipynb"
    assert run_notebook(nb_path, output=ours, seed=0) == 0, capsys.readouterr().err
    assert run_notebook(nb_path, output=theirs, seed=0, fastscratch_imports=False) == 0, \
        capsys.readouterr().err
    ours_nb, theirs_nb = (nbformat.read(p, as_version=4) for p in (ours, theirs))
    _assert_same_prints(_printed(ours_nb), _printed(theirs_nb), ATOL.get(name, 0.0))
    assert any(cell.outputs for cell in ours_nb.cells if cell.cell_type == "code")


MAGICS = [
    "%matplotlib inline\nimport matplotlib.pyplot as plt",
    "import sys, os\nsys.path.append(os.pardir)\nimport common.layers\n"
    "from dataset.mnist import load_mnist\nprint(common.layers.__name__, load_mnist.__module__)",
    "plt.plot([0, 1], [1, 0])\nplt.show()",
    "%unload_ext fastscratch\ntry:\n    import common.layers\nexcept ModuleNotFoundError:\n"
    "    print('book imports gone')",
    "%load_ext fastscratch\nimport common.optimizer\nprint(common.optimizer.__name__)",
]


def _notebook(folder, sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = folder / "nb" / "probe.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def test_extension_magics_and_inline_figures(tmp_path, inline_figures, capsys):
    """In the kernel: the hook is on from the start, %matplotlib inline gives PNG figures,
    %unload_ext removes the hook and %load_ext brings it back."""
    out = tmp_path / "out.ipynb"
    assert run_notebook(_notebook(tmp_path, MAGICS), output=out) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["fastscratch.layers fastscratch.dataset.mnist", "book imports gone",
                       "fastscratch.optimizer"]
    cells = nbformat.read(out, as_version=4).cells
    assert [c.execution_count for c in cells] == [1, 2, 3, 4, 5]
    assert any("image/png" in o.get("data", {}) for o in cells[2].outputs)


def test_failing_cell_stops_and_is_reported(tmp_path, capsys):
    out = tmp_path / "out.ipynb"
    path = _notebook(tmp_path, ["print('first')", "1 / 0", "print('never')"])
    assert run_notebook(path, output=out) == 1
    captured = capsys.readouterr()
    assert captured.out == "first\n"
    assert "ZeroDivisionError" in captured.err
    cells = nbformat.read(out, as_version=4).cells
    assert cells[1].outputs[0].output_type == "error" and not cells[2].outputs


def test_runs_from_the_notebooks_folder_and_seeds(tmp_path, capsys, monkeypatch):
    path = _notebook(tmp_path, ["import os, numpy as np\nprint(os.getcwd())\n"
                                "print(os.environ['FASTSCRATCH_DATA'])\n"
                                "print(np.random.randint(1 << 30))"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTSCRATCH_DATA", "data")
    assert run_notebook(path, seed=3) == 0
    cwd, data, drawn = capsys.readouterr().out.split()
    assert Path(cwd).resolve() == path.parent.resolve()
    assert Path(data).is_absolute() and Path(data).resolve() == (tmp_path / "data").resolve()
    assert int(drawn) == np.random.RandomState(3).randint(1 << 30)


def test_unreadable_notebook_names_the_file(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        run_notebook(bad)
    with pytest.raises(FileNotFoundError, match="expected a .ipynb file"):
        run_notebook(tmp_path / "missing.ipynb")


def test_cli_run_notebook_options(tmp_path, capsys):
    path = _notebook(tmp_path, ["print(6 * 7)"])
    out = tmp_path / "executed.ipynb"
    assert main(["run", "--output", str(out), str(path)]) == 0
    assert capsys.readouterr().out == "42\n"
    assert nbformat.read(out, as_version=4).cells[0].outputs[0].text == "42\n"
    assert main(["run", str(path), "extra"]) == 2
    assert "a notebook takes no arguments" in capsys.readouterr().err
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    assert main(["run", "--output", str(out), str(script)]) == 2
    assert "--output: only for a notebook" in capsys.readouterr().err


def test_install_book_imports_in_process(monkeypatch):
    """The plain-Python switch: on until uninstalled; what it set aside comes back."""
    stand_in = type(sys)("dataset")
    monkeypatch.setitem(sys.modules, "dataset", stand_in)
    assert install_book_imports() and not install_book_imports() and book_imports_installed()
    try:
        import common.layers
        import dataset.mnist
        import fastscratch.dataset.mnist
        import fastscratch.layers
        assert common.layers is fastscratch.layers
        assert dataset.mnist is fastscratch.dataset.mnist
    finally:
        assert uninstall_book_imports()
    assert not uninstall_book_imports() and not book_imports_installed()
    assert "common.layers" not in sys.modules and sys.modules["dataset"] is stand_in


def test_cli_without_the_notebook_extra(tmp_path, monkeypatch, capsys):
    path = _notebook(tmp_path, ["print(1)"])
    monkeypatch.setitem(sys.modules, "nbclient", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "fastscratch.notebooks")
    assert main(["run", str(path)]) == 2
    assert "pip install 'fastscratch[notebook]'" in capsys.readouterr().err
