"""fastscratch: the book *Deep Learning from Scratch*'s ``common`` API on fused Numba kernels.

A book script runs by changing ``common.`` to ``fastscratch.`` and ``dataset.mnist`` to
``fastscratch.dataset.mnist``.

The names below, and the submodules, are imported when first used, so ``import fastscratch``
(or ``fastscratch.functions``, ``.gradient``, ``.util``) loads neither Numba nor SciPy.
"""
import importlib

__version__ = "0.1.0"

_HOMES = {
    "backend": ("current_backend", "use_backend"),
    "book_session": ("install_book_imports", "uninstall_book_imports"),
    "convnet": ("DeepConvNet", "SimpleConvNet"),
    "layers": ("Affine", "BatchNormalization", "Dropout", "Layer", "Relu", "Sigmoid",
               "SoftmaxWithLoss"),
    "multi_layer_net": ("MultiLayerNet",),
    "multi_layer_net_extend": ("MultiLayerNetExtend",),
    "network": ("LayeredNet",),
    "optimizer": ("SGD", "AdaGrad", "Adam", "Momentum", "Nesterov", "RMSprop"),
    "threads": ("get_num_threads", "set_num_threads"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def load_ipython_extension(ipython):
    """``%load_ext fastscratch``: the book's ``common.*`` and ``dataset.*`` imports resolve to
    fastscratch for the rest of the session (fastscratch.book_session)."""
    from .book_session import install_book_imports
    install_book_imports()


def unload_ipython_extension(ipython):
    """``%unload_ext fastscratch``: the book's imports are the book's again."""
    from .book_session import uninstall_book_imports
    uninstall_book_imports()


__all__ = ["Affine", "BatchNormalization", "Dropout", "Relu", "Sigmoid", "SoftmaxWithLoss",
           "Layer", "LayeredNet", "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet",
           "DeepConvNet", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
           "use_backend", "current_backend", "set_num_threads", "get_num_threads",
           "install_book_imports", "uninstall_book_imports"]


def __getattr__(name):
    """A public name of ``__all__``, or a submodule (``fastscratch.backend``, ...), imported on
    first use."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    else:
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
