"""A working copy of the book's repository and the comparison of what its scripts print.

Used by ``bench/book_scripts.py`` (every script, both ways, timed) and by
``tests/test_book_scripts.py`` (a fast selection): ``copy_book`` makes a temporary copy of the
read-only book with the four MNIST files in its ``dataset/``; ``shorten`` applies the same
literal edits to a script for both runs (fewer iterations); ``split_numbers`` and
``same_numbers`` compare two runs' printed lines, numbers to a relative tolerance.
"""
import re
import shutil
from pathlib import Path

import numpy as np

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# The book's files that other scripts import; they print nothing when run.
BOOK_MODULES = ("ch04/two_layer_net.py", "ch05/two_layer_net.py", "ch05/layer_naive.py",
                "ch07/simple_convnet.py", "ch08/deep_convnet.py")
_CUT_DATA = ("load_mnist(flatten=False)\n",
             "load_mnist(flatten=False)\nx_train, t_train = x_train[:1000], t_train[:1000]\n"
             "x_test, t_test = x_test[:500], t_test[:500]\n")
# script -> literal (old, new) edits that shorten its training; the same on both sides.
SHORT = {
    "ch04/train_neuralnet.py": [("iters_num = 10000", "iters_num = 20")],
    "ch05/train_neuralnet.py": [("iters_num = 10000", "iters_num = 1200")],
    "ch06/batch_norm_test.py": [("max_epochs = 20", "max_epochs = 3")],
    "ch06/hyperparameter_optimization.py": [("optimization_trial = 100",
                                             "optimization_trial = 3")],
    "ch06/optimizer_compare_mnist.py": [("max_iterations = 2000", "max_iterations = 300")],
    "ch06/weight_init_compare.py": [("max_iterations = 2000", "max_iterations = 300")],
    "ch06/overfit_dropout.py": [("epochs=301", "epochs=21")],
    "ch06/overfit_weight_decay.py": [("max_epochs = 201", "max_epochs = 21")],
    "ch07/train_convnet.py": [("max_epochs = 20", "max_epochs = 1"), _CUT_DATA],
    "ch08/train_deepnet.py": [("epochs=20", "epochs=1"), _CUT_DATA],
    "ch08/half_float_network.py": [("sampled = 10000", "sampled = 1000")],
    "ch08/misclassified_mnist.py": [("#sampled = 1000\n#x_test = x_test[:sampled]\n"
                                     "#t_test = t_test[:sampled]",
                                     "sampled = 1000\nx_test = x_test[:sampled]\n"
                                     "t_test = t_test[:sampled]")],
}
# script -> edits that keep all the data but train one of the book's 20 epochs: the two long
# conv-net runs, timed per epoch (bench/book_scripts.py --one-epoch); the same on both sides.
ONE_EPOCH = {
    "ch07/train_convnet.py": [("max_epochs = 20", "max_epochs = 1")],
    "ch08/train_deepnet.py": [("epochs=20", "epochs=1")],
}
# script -> absolute tolerance besides rtol: these print mean |backprop - numerical gradient|,
# differences of central differences whose rounding part (about eps * loss / h = 5e-12 per
# entry) is all the two codes may differ by, not 1e-6 of the tiny means.
ATOL = {"ch05/gradient_check.py": 1e-11, "ch06/batch_norm_gradient_check.py": 1e-11,
        "ch07/gradient_check.py": 1e-11}
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b")
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")  # object reprs (PIL's Image.show prints one)


def book_scripts(book):
    """The runnable scripts of ch01-ch08 under ``book``, as 'chNN/name.py', sorted."""
    book = Path(book)
    return [p.relative_to(book).as_posix() for p in sorted(book.glob("ch0[1-8]/*.py"))
            if p.relative_to(book).as_posix() not in BOOK_MODULES]


def copy_book(book, mnist_dir, dest):
    """Copy the book's repository ``book`` to ``dest`` (which must not exist) with the four
    MNIST .gz files of ``mnist_dir`` in its dataset/; returns dest as a Path."""
    book, mnist_dir, dest = Path(book), Path(mnist_dir), Path(dest)
    if not (book / "common" / "layers.py").is_file():
        raise FileNotFoundError(f"book: expected the book's repository (with common/layers.py)"
                                f", {book} is not one")
    missing = [n for n in MNIST_FILES if not (mnist_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"mnist_dir: {mnist_dir} lacks {', '.join(missing)}")
    shutil.copytree(book, dest, ignore=shutil.ignore_patterns("notebooks", "__pycache__",
                                                              "mnist.pkl"))
    for name in MNIST_FILES:
        shutil.copyfile(mnist_dir / name, dest / "dataset" / name)
    return dest


def shorten(root, script, edits):
    """Apply the literal (old, new) ``edits`` to ``root/script`` in place; each old text must
    occur in it (a ValueError otherwise: the book changed)."""
    path = Path(root) / script
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        if old not in text:
            raise ValueError(f"{script}: cannot shorten, {old!r} is not in it")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def split_numbers(text):
    """(each printed line with its numbers replaced by '#', the numbers as floats); memory
    addresses are left out."""
    lines = [ADDRESS.sub("<address>", line) for line in text.strip().splitlines()]
    return ([NUMBER.sub("#", line) for line in lines],
            [float(n) for line in lines for n in NUMBER.findall(line)])


def same_numbers(a, b, rtol=1e-6, atol=0.0):
    """True when the printed texts a and b have the same lines up to their numbers, and the
    numbers agree to rtol (and atol)."""
    lines_a, numbers_a = split_numbers(a)
    lines_b, numbers_b = split_numbers(b)
    return lines_a == lines_b and np.allclose(numbers_a, numbers_b, rtol=rtol, atol=atol,
                                              equal_nan=True)
