"""The book's scripts run unchanged through ``fastscratch run`` (fastscratch.book_scripts).

tests/book/ mirrors the book's repository (oreilly-japan/deep-learning-from-scratch, read on
2026-11-28; each file's header names the file and commit it was transcribed from): a fast
selection of chapter scripts with their local modules, and the few ``common/`` modules they
need. Each script runs seeded in float64 twice: through the import hook (common -> fastscratch)
and on the book's own ``common/`` (only ``dataset.mnist`` is fastscratch's in both runs, so both
see the same arrays). The printed lines must match, numbers to 1e-6 relative.

Adding a script: copy it (and its local modules) under tests/book/chNN/ and add one entry to
SCRIPTS.

WHOLE_BOOK runs scripts of the book's repository itself (../shared/book, skipped without it)
from a temporary copy with the MNIST files in its dataset/: through the hook, and with the
book's own common/ and dataset/ (its load_mnist and mnist.pkl), as ``python SCRIPT.py`` would;
each may be shortened by literal edits, the same on both sides.
"""
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fastscratch.benchtools.book_copy import ATOL, copy_book, shorten, split_numbers
from fastscratch.book_scripts import BOOK_MODULES, book_imports, run_script

BOOK = Path(__file__).resolve().parent / "book"
REPO = BOOK.parent.parent
THE_BOOK = REPO.parent / "shared" / "book" / "deep-learning-from-scratch"
# The reference run: the book's own common/ (found through the script's os.pardir), with only
# the data loader taken from fastscratch (the book's downloads and pickles).
BOOK_ONLY_DATASET = {"dataset": None, "dataset.mnist": "fastscratch.dataset.mnist"}


@dataclass(frozen=True)
class BookScript:
    path: str                # under tests/book/
    args: tuple = ()
    compare: bool = True     # also run it on the book's common/ and compare what it prints
    atol: float = 0.0        # besides rtol 1e-6: for printed values that are rounding noise
    mnist: bool = False      # it loads MNIST
    xfail: str = ""          # a known failure (the issue that fixes it)
    edits: tuple = ()        # WHOLE_BOOK: literal (old, new) edits, the same on both sides

    def param(self):
        marks = [pytest.mark.xfail(reason=self.xfail, strict=True)] if self.xfail else []
        marks += [pytest.mark.needs_mnist] if self.mnist else []
        return pytest.param(self, id=self.path, marks=marks)


SCRIPTS = [
    BookScript("ch04/gradient_simplenet.py"),
    # Prints mean |backprop - numerical gradient| per parameter (1e-10 .. 1e-7): differences
    # of central differences whose rounding part is about eps * loss / h = 2.2e-16 * 2.3 / 1e-4
    # = 5e-12 per entry, so the two codes agree to that, not to 1e-6 of the tiny means.
    BookScript("ch05/gradient_check.py", atol=1e-11, mnist=True),
    BookScript("ch06/optimizer_compare_naive.py", compare=False),
]

_PRINT_FILTERED = ("    out = out.reshape(out.shape[2], out.shape[3])\n",
                   "    out = out.reshape(out.shape[2], out.shape[3])\n"
                   "    print(i, out.dtype, out.sum(), out.min(), out.max())\n")
WHOLE_BOOK = [
    # labels of shape (1, 1) into the book's SimpleConvNet; prints mean |backprop - numerical|
    # (rounding noise of central differences, as for ch05/gradient_check.py)
    BookScript("ch07/gradient_check.py", atol=ATOL["ch07/gradient_check.py"]),
    # Convolution(w, 0) on a float32 image; prints nothing, so the edit prints each output
    BookScript("ch07/apply_filter.py", edits=(_PRINT_FILTERED,)),
    # float16 images (and float16-rounded float64 params) through the book's DeepConvNet
    BookScript("ch08/half_float_network.py", mnist=True,
               edits=(("sampled = 10000", "sampled = 200"),)),
    # the book's SimpleConvNet in the book's Trainer: 300 training, 150 test images, one epoch
    BookScript("ch07/train_convnet.py", mnist=True, edits=(
        ("max_epochs = 20", "max_epochs = 1"),
        ("#x_train, t_train = x_train[:5000], t_train[:5000]\n"
         "#x_test, t_test = x_test[:1000], t_test[:1000]",
         "x_train, t_train = x_train[:300], t_train[:300]\n"
         "x_test, t_test = x_test[:150], t_test[:150]"))),
    BookScript("ch03/neuralnet_mnist_batch.py", mnist=True),
]


@pytest.fixture
def no_windows(monkeypatch):
    """A non-interactive matplotlib for the scripts' plt.show(); their figures closed after."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _run(capsys, script, aliases=None):
    code = run_script(BOOK / script.path, script.args, aliases=aliases, seed=0)
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _same_numbers(fast, book, script):
    fast_lines, fast_numbers = split_numbers(fast)
    book_lines, book_numbers = split_numbers(book)
    assert book_numbers, f"{script.path} printed no numbers:\n{book}"
    assert fast_lines == book_lines
    np.testing.assert_allclose(fast_numbers, book_numbers, rtol=1e-6, atol=script.atol)


@pytest.mark.parametrize("script", [s.param() for s in SCRIPTS])
def test_book_script_prints_the_books_numbers(script, no_windows, capsys, request,
                                              monkeypatch):
    if script.mnist:
        monkeypatch.setenv("FASTSCRATCH_DATA", str(request.getfixturevalue("mnist_dir")))
    fast = _run(capsys, script)
    if not script.compare:
        return
    _same_numbers(fast, _run(capsys, script, aliases=BOOK_ONLY_DATASET), script)


# ---------------------------------------------------------------- the book's own repository

@pytest.fixture(scope="module")
def pristine_book(tmp_path_factory, mnist_dir):
    """A copy of the book with MNIST in its dataset/ and the book's own mnist.pkl made."""
    if not (THE_BOOK / "common" / "layers.py").is_file():
        pytest.skip(f"the book's repository is not at {THE_BOOK}")
    root = copy_book(THE_BOOK, mnist_dir, tmp_path_factory.mktemp("book") / "book")
    make_pkl = root / "make_pkl.py"
    make_pkl.write_text("from dataset.mnist import load_mnist\nload_mnist()\n")
    assert run_script(make_pkl, aliases={}) == 0
    return root


@pytest.fixture
def book_copy(pristine_book, tmp_path):
    """A fresh copy of pristine_book (scripts write files), its dataset/ files hard links (the
    book's scripts only read them; a symbolic link would put its modules outside the copy)."""
    root = tmp_path / "book"
    shutil.copytree(pristine_book, root, ignore=shutil.ignore_patterns("dataset"))
    shutil.copytree(pristine_book / "dataset", root / "dataset", copy_function=os.link)
    return root


def _run_both(capsys, path):
    """What the script at path prints through fastscratch run, and with the book's own code."""
    outs = []
    for aliases in (None, {}):
        assert run_script(path, aliases=aliases, seed=0) == 0
        outs.append(capsys.readouterr().out)
    return outs


@pytest.mark.parametrize("script", [s.param() for s in WHOLE_BOOK])
def test_the_books_own_script_prints_its_numbers(script, book_copy, no_windows, capsys):
    shorten(book_copy, script.path, script.edits)
    _same_numbers(*_run_both(capsys, book_copy / script.path), script)


def test_trainer_evaluates_a_book_net_as_the_books_trainer_does(book_copy, no_windows, capsys):
    """The book's own SimpleConvNet leaves out a last partial batch in accuracy (and divides by
    all rows): the Trainer must call its accuracy(x, t) as the book's does (150 test images:
    the correct ones among the first 100, over 150; with batch_size=1000 it would be 0.0)."""
    script = book_copy / "ch07" / "trainer_acc.py"
    script.write_text(textwrap.dedent("""
        import sys, os
        sys.path.append(os.pardir)
        from dataset.mnist import load_mnist
        from simple_convnet import SimpleConvNet
        from common.trainer import Trainer
        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
        network = SimpleConvNet(conv_param={'filter_num': 4, 'filter_size': 5, 'pad': 0,
                                            'stride': 1}, hidden_size=20)
        trainer = Trainer(network, x_train[:300], t_train[:300], x_test[:150], t_test[:150],
                          epochs=2, mini_batch_size=100, optimizer='Adam',
                          optimizer_param={'lr': 0.01})
        trainer.train()
        print(trainer.train_acc_list, trainer.test_acc_list)
        print(network.accuracy(x_test[:150], t_test[:150]), network.accuracy(x_test[:100],
                                                                             t_test[:100]))
        """))
    fast, book = _run_both(capsys, script)
    _same_numbers(fast, book, BookScript("ch07/trainer_acc.py"))
    last_test_acc, acc_150, acc_100 = split_numbers(fast)[1][-3:]
    assert last_test_acc == acc_150 == pytest.approx(acc_100 * 100 / 150)
    assert acc_100 > 0.15  # a net that learned something, so a wrong batching would show


# ---------------------------------------------------------------- the run's machinery

def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_script_runs_as_main_from_its_folder_with_its_argv(tmp_path, capsys):
    script = _write(tmp_path / "book" / "ch05", "show.py", """
        import os, sys
        sys.path.append(os.pardir)
        import local_net
        from common.layers import *
        print(__name__, os.path.basename(__file__), sys.argv[1:], os.getcwd())
        print(local_net.layer_module, Affine.__module__)
        """)
    _write(tmp_path / "book" / "ch05", "local_net.py", """
        from common.layers import Relu
        layer_module = type(Relu()).__module__
        """)
    cwd, argv, path = os.getcwd(), list(sys.argv), list(sys.path)
    assert run_script(script, ["--x", 3]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"__main__ show.py ['--x', '3'] {script.parent}",
                   "fastscratch.layers fastscratch.layers"]
    # nothing of the run is left: directory, argv, path, the hook, aliases, local modules
    assert (os.getcwd(), sys.argv, sys.path) == (cwd, argv, path)
    assert not any(type(f).__module__ == "fastscratch.book_scripts" for f in sys.meta_path)
    assert not {"common", "common.layers", "local_net"} & set(sys.modules)


def test_scripts_of_two_books_find_their_own_parent_modules(tmp_path, capsys):
    """sys.path.append(os.pardir) means another folder for each script: no importer cached
    for '..' by the first run may serve the second (the book's own common/ in each copy)."""
    for book in ("a", "b"):
        _write(tmp_path / book / "common", "__init__.py", "")
        _write(tmp_path / book / "common", "where.py", f"BOOK = {book!r}\n")
        _write(tmp_path / book / "ch01", "s.py", """
            import os, sys
            sys.path.append(os.pardir)
            import common.where
            print(common.where.BOOK)
            """)
    for book in ("a", "b"):
        assert run_script(tmp_path / book / "ch01" / "s.py", aliases={}) == 0
    assert capsys.readouterr().out.split() == ["a", "b"]


@pytest.mark.parametrize("ending,code,err", [("sys.exit(3)", 3, ""), ("sys.exit()", 0, ""),
                                             ("sys.exit('bad input')", 1, "bad input")])
def test_exit_status(tmp_path, capsys, ending, code, err):
    script = _write(tmp_path, "s.py", f"import sys\n{ending}\n")
    assert run_script(script) == code
    assert capsys.readouterr().err.strip() == err


def test_unknown_book_module_is_a_clear_error(tmp_path):
    script = _write(tmp_path, "s.py", "import common.three_layer_net\n")
    with pytest.raises(ModuleNotFoundError, match=r"common\.three_layer_net has no fastscratch "
                                                  r"counterpart.*common\.layers"):
        run_script(script)


def test_every_mapped_module_imports():
    with book_imports():
        import importlib
        for name, target in BOOK_MODULES.items():
            module = importlib.import_module(name)
            assert target is None or module is importlib.import_module(target), name


def test_seeded_runs_repeat(tmp_path, capsys):
    script = _write(tmp_path, "s.py", "import numpy as np\nprint(np.random.rand(3))\n")
    run_script(script, seed=5)
    run_script(script, seed=5)
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first == second == str(np.random.RandomState(5).rand(3))


def test_cli_runs_a_book_script(no_windows, capsys):
    script = BOOK / "ch04" / "gradient_simplenet.py"
    run_script(script, seed=1)
    expected = capsys.readouterr().out
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "fastscratch", "run", "--seed", "1", str(script)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


def test_cli_usage_errors(tmp_path, capsys):
    from fastscratch.cli import main
    assert main(["run", str(tmp_path / "missing.py")]) == 2
    assert "expected a Python file" in capsys.readouterr().err
    script = _write(tmp_path, "s.py", "print('ran')\n")
    assert main(["run", "--seed", "-1", str(script)]) == 2
    assert "--seed: expected an integer in [0, 2**32)" in capsys.readouterr().err


def test_a_relative_data_path_survives_the_change_of_folder(tmp_path, capsys, monkeypatch):
    """The script runs from its own folder; FASTSCRATCH_DATA relative to the caller's folder is
    made absolute for the run and restored afterwards."""
    (tmp_path / "data").mkdir()
    (tmp_path / "ch01").mkdir()
    script = tmp_path / "ch01" / "show.py"
    script.write_text("import os\nprint(os.environ['FASTSCRATCH_DATA'])\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTSCRATCH_DATA", "data")
    assert run_script(script) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "data")
    assert os.environ["FASTSCRATCH_DATA"] == "data"


def test_the_benchmarks_edits_fit_the_book(tmp_path):
    """bench/book_scripts.py's SHORT and ONE_EPOCH edits each find their text in the book."""
    from fastscratch.benchtools.book_copy import ONE_EPOCH, SHORT
    if not (THE_BOOK / "common" / "layers.py").is_file():
        pytest.skip(f"the book's repository is not at {THE_BOOK}")
    for table in (SHORT, ONE_EPOCH):
        for script, edits in table.items():
            (tmp_path / script).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(THE_BOOK / script, tmp_path / script)
            shorten(tmp_path, script, edits)
            assert (tmp_path / script).read_text() != (THE_BOOK / script).read_text()
