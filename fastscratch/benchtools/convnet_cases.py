"""What the conv-net benchmarks time: one training step of the book's ch07 SimpleConvNet (30
filters 5x5, hidden 100, Adam lr 0.001, batch 100) on a fastscratch backend, in the book's own
NumPy code and in PyTorch; and DeepConvNet inference (``accuracy``) over a set of images.

The book's classes are passed in (the benchmarks take them from the transcription in
``tests/book_convnet.py``), so this module holds no copy of the book's code.
"""
import numpy as np

from .. import Adam, use_backend
from ..convnet import DeepConvNet, SimpleConvNet
from .steps import torch_training_step

CH07 = dict(input_dim=(1, 28, 28),
            conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
            hidden_size=100, output_size=10, weight_init_std=0.01)
LR = 0.001


def mnist_images(n, dtype, seed=0):
    """Random MNIST-shaped images x (n, 1, 28, 28) in [0, 1) of ``dtype``, labels (n,)."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28)).astype(dtype), rng.integers(0, 10, n)


def convnet_step(dtype, backend, batch=100, seed=0):
    """A callable: SimpleConvNet.gradient + Adam.update on one random batch, on ``backend``."""
    net = SimpleConvNet(**CH07, dtype=dtype, seed=seed)
    opt = Adam(lr=LR)
    x, t = mnist_images(batch, dtype, seed)

    def step():
        with use_backend(backend):
            opt.update(net.params, net.gradient(x, t))
    return step


def book_convnet_step(book_net, book_adam, dtype, batch=100, seed=0):
    """The same step in the book's code: ``book_net`` is the book's SimpleConvNet class and
    ``book_adam`` its Adam. The book's net is float64 whatever x is (its im2col makes float64
    columns), so x of ``dtype`` is all that changes."""
    np.random.seed(seed)
    net = book_net(**CH07)
    opt = book_adam(lr=LR)
    x, t = mnist_images(batch, dtype, seed)

    def step():
        opt.update(net.params, net.gradient(x, t))
    return step


def torch_convnet_step(dtype, threads, batch=100, seed=0):
    """The same step in PyTorch CPU eager mode (Conv2d, ReLU, MaxPool2d, Linear, ReLU, Linear,
    cross-entropy; Adam with the book's eps 1e-7, fused where the build has it) on ``threads``
    threads. Needs torch."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
        torch.nn.Flatten(), torch.nn.Linear(30 * 12 * 12, 100), torch.nn.ReLU(),
        torch.nn.Linear(100, 10)).to(tdtype[np.dtype(dtype)])
    try:
        opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7, fused=True)
    except (RuntimeError, TypeError):  # a build without the fused CPU kernel
        opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
    return torch_training_step(model, opt, *mnist_images(batch, dtype, seed))


def deepconvnet_params(seed=0):
    """DeepConvNet's parameters as its constructor draws them from np.random.seed(seed) (the
    book's trained params.pkl files are not stored here)."""
    np.random.seed(seed)
    return DeepConvNet().params


def deepconvnet_accuracy(params, x, t, dtype, backend, batch_size=100):
    """A callable: DeepConvNet(dtype).accuracy(x, t, batch_size) with ``params`` on
    ``backend``; returns the accuracy."""
    net = DeepConvNet(dtype=dtype, seed=0)
    for key, value in params.items():
        np.copyto(net.params[key], value)
    x = x.astype(dtype, copy=False)

    def run():
        with use_backend(backend):
            return net.accuracy(x, t, batch_size)
    return run


def book_deepconvnet_accuracy(book_net, params, x, t, batch_size=100):
    """A callable: the book's DeepConvNet (class ``book_net``) with ``params``, accuracy."""
    net = book_net()
    for key, value in params.items():
        np.copyto(net.params[key], value)

    def run():
        return net.accuracy(x, t, batch_size)
    return run
