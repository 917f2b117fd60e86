"""Which of a book copy's ``common/`` definitions are the edition fastscratch implements.

Other editions and printings of the book (translations, older commits) ship their own
``common/*.py``: mostly the same code with other comments, sometimes a function more
(``squared_error``) or a formula changed (``cross_entropy_error`` without its ``1e-7``). A
script run through ``fastscratch run`` must print what that book's own code prints, so each
top-level function and class of the script's ``common/X.py`` is compared with the one
fastscratch implements, by a digest of its syntax tree without docstrings (comments,
docstrings and layout do not count). ``KNOWN`` holds the digests of the edition fastscratch
follows (the book's repository, ``oreilly-japan/deep-learning-from-scratch``); regenerate it
with ``python -m fastscratch.book_editions BOOK_DIR`` after a deliberate change.
"""
from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

__all__ = ["KNOWN", "definitions", "unknown_definitions"]

# book module -> {top-level function or class name: digest of its code}
KNOWN = {
    'common.functions': {
        'identity_function': '2bf0ec54014d69cb',
        'step_function': '89e7f1adadf3b7d9',
        'sigmoid': '60b78067ebf49fee',
        'sigmoid_grad': '16b55718ab312ed9',
        'relu': '2d7f1b4accafa0bb',
        'relu_grad': '59081ff23e106ffa',
        'softmax': 'f45df82a7d164180',
        'sum_squared_error': '8feadb0e73588878',
        'cross_entropy_error': 'e187f1089c75b7b6',
        'softmax_loss': '51c7881934a68911',
    },
    'common.gradient': {
        '_numerical_gradient_1d': '231f6745ead82afa',
        'numerical_gradient_2d': '3483b920dd6848e0',
        'numerical_gradient': '74a7c1e019cc512e',
    },
    'common.layers': {
        'Relu': '822930158d1f4104',
        'Sigmoid': '6bd1179c6611f4ed',
        'Affine': 'f14706901963b971',
        'SoftmaxWithLoss': 'ec15048a81884efe',
        'Dropout': 'c7209e14db7ab4e0',
        'BatchNormalization': '780b639566d9242b',
        'Convolution': 'ad9f75ba97eb5318',
        'Pooling': 'e97c4a8a63129025',
    },
    'common.multi_layer_net': {
        'MultiLayerNet': '0936acbfaf70183f',
    },
    'common.multi_layer_net_extend': {
        'MultiLayerNetExtend': '4e2977f1ac53ea2f',
    },
    'common.optimizer': {
        'SGD': '282e2ba728f91158',
        'Momentum': '323b36939dc1b158',
        'Nesterov': 'f34864860b15ca92',
        'AdaGrad': '5ddb999f76d68bce',
        'RMSprop': '67bd904eca0e635f',
        'Adam': '04dbd84c453c9754',
    },
    'common.trainer': {
        'Trainer': 'e24876401b8c5543',
    },
    'common.util': {
        'smooth_curve': '9db44158a4f8e971',
        'shuffle_dataset': '6ee59157a546c7e3',
        'conv_output_size': 'd1516b95b19ac154',
        'im2col': '22e8e155c99a3ba6',
        'col2im': '82da284622e2074e',
    },
}


def _strip_docstrings(tree):
    """``tree`` without the docstring statement of each function, class and the module."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _canonical(value) -> str:
    """A text of the syntax tree ``value`` that is the same on every Python version: node
    types and their fields, leaving out empty and absent fields (which newer versions add or
    omit, e.g. ``type_params``) and string kinds."""
    if isinstance(value, ast.AST):
        fields = [f"{name}={_canonical(getattr(value, name))}" for name in value._fields
                  if name != "kind" and getattr(value, name, None) not in (None, [])]
        return f"{type(value).__name__}({', '.join(fields)})"
    if isinstance(value, list):
        return f"[{', '.join(map(_canonical, value))}]"
    return repr(value)


def definitions(source: str, filename: str = "<book>") -> dict[str, str]:
    """{name: digest} of every top-level function and class of the Python ``source`` (a later
    definition of a name replaces an earlier one, as when the module runs)."""
    tree = _strip_docstrings(ast.parse(source, filename))
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = hashlib.sha256(_canonical(node).encode()).hexdigest()[:16]
    return found


def unknown_definitions(module: str, source: str, filename: str = "<book>") -> list[str]:
    """The top-level functions and classes of ``source`` (the book copy's file for book module
    ``module``) that are not the code of the edition fastscratch implements, in file order."""
    known = KNOWN.get(module, {})
    return [name for name, digest in definitions(source, filename).items()
            if known.get(name) != digest]


def known_from(book: Path, modules) -> dict[str, dict[str, str]]:
    """KNOWN as computed from the book copy at ``book`` for the book modules ``modules``."""
    table = {}
    for module in modules:
        path = book.joinpath(*module.split(".")).with_suffix(".py")
        if path.is_file():
            table[module] = definitions(path.read_text(encoding="utf-8"), str(path))
    return table


def main(argv=None) -> int:
    """Print KNOWN computed from the book copy named on the command line (for the modules it
    holds now; tests/test_book_editions.py checks that they are book_scripts' common.*)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0], "common").is_dir():
        print("usage: python -m fastscratch.book_editions BOOK_DIR (the folder holding common/)",
              file=sys.stderr)
        return 2
    table = known_from(Path(args[0]), KNOWN)
    print("KNOWN = {")
    for module, names in table.items():
        print(f"    {module!r}: {{")
        for name, digest in names.items():
            print(f"        {name!r}: {digest!r},")
        print("    },")
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
