"""fastscratch: the book *Deep Learning from Scratch*'s ``common`` API on fused Numba kernels.

A book script runs by changing ``common.`` to ``fastscratch.`` and ``dataset.mnist`` to
``fastscratch.dataset.mnist``.
"""
from .backend import current_backend, use_backend
from .convnet import DeepConvNet, SimpleConvNet
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss
from .multi_layer_net import MultiLayerNet
from .multi_layer_net_extend import MultiLayerNetExtend
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"


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
           "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet", "SGD",
           "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "use_backend",
           "current_backend", "set_num_threads", "get_num_threads"]
