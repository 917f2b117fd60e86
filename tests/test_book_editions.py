"""Book copies of other editions through ``fastscratch run`` (book_editions, book_scripts):
definitions that are not the edition fastscratch implements run the copy's own code."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastscratch import book_editions
from fastscratch.book_scripts import BOOK_MODULES, run_script

THE_BOOK = Path(__file__).resolve().parents[2] / "shared" / "book" / "deep-learning-from-scratch"
COMMON = [m for m, target in BOOK_MODULES.items() if target and m.startswith("common.")]

# common/functions.py as another edition has it (the Korean translation's repository): a new
# squared_error, mean_squared_error divided by n, cross_entropy_error without the 1e-7, an older
# softmax (the same numbers, other code).
OTHER_FUNCTIONS = '''\
# coding: utf-8
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T

    x = x - np.max(x) # 오버플로 대책
    return np.exp(x) / np.sum(np.exp(x))


def squared_error(y, t):
    return 0.5 * np.sum((y-t)**2)


def mean_squared_error(y, t):
    n = len(y)
    return np.sum((y-t)**2) / n


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size
'''

SCRIPT = '''\
import os, sys
sys.path.append(os.pardir)
import numpy as np
import common.functions as F
from common.functions import squared_error, mean_squared_error, cross_entropy_error, softmax
y = softmax(np.array([[0.3, 2.9, 4.0], [1e-3, -50.0, 60.0]]))
t = np.array([[0, 0, 1], [0, 1, 0]])
print(repr(squared_error(y, t)), repr(mean_squared_error(y, t)), repr(cross_entropy_error(y, t)))
'''


@pytest.fixture
def other_edition(tmp_path):
    """A book copy: common/functions.py of another edition, a script in ch04/ using it."""
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "__init__.py").write_text("")
    (tmp_path / "common" / "functions.py").write_text(OTHER_FUNCTIONS, encoding="utf-8")
    (tmp_path / "ch04").mkdir()
    script = tmp_path / "ch04" / "uses_functions.py"
    script.write_text(SCRIPT)
    return script


def test_known_is_the_books_code():
    if not (THE_BOOK / "common" / "layers.py").is_file():
        pytest.skip(f"the book's repository is not at {THE_BOOK}")
    assert book_editions.known_from(THE_BOOK, COMMON) == book_editions.KNOWN
    assert set(book_editions.KNOWN) == set(COMMON)


def test_digests_ignore_comments_docstrings_and_layout():
    a = "def f(x, y):\n    return x + y * 2\n"
    b = 'def f(x,y):  # sum\n    """Doc."""\n\n    return (x + (y*2))\n'
    assert book_editions.definitions(a) == book_editions.definitions(b)
    assert book_editions.definitions(a) != book_editions.definitions(a.replace("2", "3"))
    assert book_editions.definitions(a) != book_editions.definitions(a.replace("x, y", "y, x"))


def test_unknown_definitions_names_new_and_changed_code():
    unknown = book_editions.unknown_definitions("common.functions", OTHER_FUNCTIONS)
    assert unknown == ["softmax", "squared_error", "mean_squared_error", "cross_entropy_error"]


def test_another_editions_functions_give_that_editions_numbers(other_edition, capfd):
    book = subprocess.run([sys.executable, other_edition.name], cwd=other_edition.parent,
                          capture_output=True, text=True, check=True).stdout
    assert run_script(other_edition) == 0
    out, err = capfd.readouterr()
    assert out == book
    assert "softmax, squared_error, mean_squared_error, cross_entropy_error are not the code" in err
    assert str(other_edition.parent.parent / "common" / "functions.py") in err


def test_the_unchanged_definitions_stay_fastscratchs(other_edition):
    other_edition.write_text(SCRIPT.split("y = softmax")[0] + textwrap.dedent('''\
        import fastscratch.functions
        print(F.softmax is fastscratch.functions.softmax, F.sigmoid is fastscratch.functions.sigmoid,
              F.cross_entropy_error is fastscratch.functions.cross_entropy_error,
              F.relu is fastscratch.functions.relu)
        '''))
    import io
    from contextlib import redirect_stdout
    with redirect_stdout(io.StringIO()) as out:
        run_script(other_edition)
    assert out.getvalue().split() == ["False", "True", "False", "True"]


def test_comment_only_edits_keep_fastscratchs_module(tmp_path, capfd):
    if not (THE_BOOK / "common" / "functions.py").is_file():
        pytest.skip(f"the book's repository is not at {THE_BOOK}")
    source = (THE_BOOK / "common" / "functions.py").read_text(encoding="utf-8")
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "functions.py").write_text(
        "# a translated edition\n" + source.replace("    return x\n", '    """恒等"""\n    return x\n'),
        encoding="utf-8")
    script = tmp_path / "s.py"
    script.write_text("import common.functions, fastscratch.functions\n"
                      "print(common.functions is fastscratch.functions)\n")
    assert run_script(script) == 0
    out, err = capfd.readouterr()
    assert out.split() == ["True"] and err == ""


def test_a_module_only_the_copy_has_comes_from_the_copy(tmp_path, capfd):
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "three_layer_net.py").write_text(
        "from common.layers import Relu\nclass ThreeLayerNet:\n    relu = Relu\n")
    script = tmp_path / "s.py"
    script.write_text("from common.three_layer_net import ThreeLayerNet\n"
                      "import fastscratch.layers\n"
                      "print(ThreeLayerNet.relu is fastscratch.layers.Relu)\n")
    assert run_script(script) == 0
    assert capfd.readouterr().out.split() == ["True"]
    assert "common.three_layer_net" not in sys.modules  # forgotten after the run
