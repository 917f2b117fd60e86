"""What the step benchmarks time: one training step of a fastscratch net, the same step's matrix
products alone (the GEMM floor), the same step in PyTorch, one epoch, and a STREAM-like triad.

Architectures are strings like ``"784-100x4-10"`` (input, four hidden layers of 100, output);
optimizers are ``"sgd"``, ``"adam"`` and ``"bn-adam"`` (Adam on a net with batch norm).
"""
import numba
import numpy as np
from numba import prange

from .. import SGD, Adam, MultiLayerNet, MultiLayerNetExtend, use_backend
from .._jit import POLICY
from ..constants import BATCHNORM_EPS, OPTIMIZER_EPS
from ..training import Batches, TrainingLoop, gradient_step

STEP_OPTIMIZERS = ("sgd", "adam", "bn-adam")  # the step benchmarks' variants (bn: batch norm)
LR = {"sgd": 0.01, "adam": 0.001, "bn-adam": 0.001}


def layer_sizes(arch):
    """[784, 100, 100, 100, 100, 10] for "784-100x4-10"; ValueError if malformed."""
    sizes = []
    for part in arch.split("-"):
        width, _, count = part.partition("x")
        if not width.isdigit() or not (count or "1").isdigit() or int(width) < 1:
            raise ValueError(f"arch must look like '784-100x4-10', got {arch!r}")
        sizes += [int(width)] * int(count or "1")
    if len(sizes) < 2:
        raise ValueError(f"arch needs at least an input and an output size, got {arch!r}")
    return sizes


def _check_optimizer(optimizer):
    if optimizer not in STEP_OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {STEP_OPTIMIZERS}, got {optimizer!r}")


def mnist_like(batch, dtype, seed=0):
    """Random MNIST-shaped data: x (batch, 784) in [0, 1) of ``dtype``, labels (batch,) uint8."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 784)).astype(dtype)
    return x, rng.integers(0, 10, batch).astype(np.uint8)


def net_and_optimizer(arch, optimizer, dtype, seed=0):
    """A fastscratch net of ``arch`` (with batch norm for 'bn-adam') and its optimizer."""
    _check_optimizer(optimizer)
    sizes = layer_sizes(arch)
    if optimizer == "bn-adam":
        net = MultiLayerNetExtend(sizes[0], sizes[1:-1], sizes[-1], use_batchnorm=True,
                                  dtype=dtype, seed=seed)
    else:
        net = MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], dtype=dtype, seed=seed)
    opt = SGD(LR[optimizer]) if optimizer == "sgd" else Adam(LR[optimizer])
    return net, opt


def fastscratch_step(arch, optimizer, dtype, backend, batch=100, seed=0):
    """A callable running net.gradient + opt.update once on one random batch, on ``backend``."""
    net, opt = net_and_optimizer(arch, optimizer, dtype, seed)
    x, t = mnist_like(batch, dtype, seed)

    def step():
        with use_backend(backend):
            gradient_step(net, opt, x, t)
    return step


def fastscratch_epoch(x_train, t_train, arch, optimizer, dtype, backend, batch=100, seed=0):
    """A callable training one epoch (len(x_train) // batch steps over a fresh shuffle) on the
    training loop."""
    net, opt = net_and_optimizer(arch, optimizer, dtype, seed)
    batches = Batches(len(x_train), batch, rng=np.random.default_rng(seed), drop_last=True)
    loop = TrainingLoop(net, opt, x_train, t_train, batches, epochs=1, measure_loss=False)

    def epoch():
        with use_backend(backend):
            loop.run(loop.current_iter + batches.iter_per_epoch)
    return epoch


def gemm_floor_step(arch, dtype, batch=100, seed=0):
    """A callable doing only a step's matrix products into preallocated outputs: x @ W for every
    layer, dW = x.T @ dz for every layer and dx = dz @ W.T for all but the first."""
    sizes = layer_sizes(arch)
    rng = np.random.default_rng(seed)

    def draw(*shape):
        return rng.standard_normal(shape).astype(dtype)

    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(dict(x=draw(batch, fan_in), W=draw(fan_in, fan_out),
                           z=np.empty((batch, fan_out), dtype), dz=draw(batch, fan_out),
                           dW=np.empty((fan_in, fan_out), dtype),
                           dx=np.empty((batch, fan_in), dtype)))

    def step():
        for L in layers:
            np.dot(L["x"], L["W"], out=L["z"])
        for i in range(len(layers) - 1, -1, -1):
            L = layers[i]
            np.dot(L["x"].T, L["dz"], out=L["dW"])
            if i > 0:
                np.dot(L["dz"], L["W"].T, out=L["dx"])
    return step


def torch_step(arch, optimizer, dtype, threads, batch=100, seed=0, fused=False):
    """The same step in PyTorch CPU eager mode (Linear [+ BatchNorm1d] + ReLU, cross-entropy,
    torch.optim.SGD/Adam with the book's settings; ``fused`` Adam in one kernel) on ``threads``
    threads. Needs torch."""
    import torch

    _check_optimizer(optimizer)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
    sizes = layer_sizes(arch)
    modules = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        modules.append(torch.nn.Linear(fan_in, fan_out))
        if optimizer == "bn-adam":
            modules.append(torch.nn.BatchNorm1d(fan_out, eps=BATCHNORM_EPS, momentum=0.1))
        modules.append(torch.nn.ReLU())
    modules.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*modules).to(tdtype[np.dtype(dtype)]).train()
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=LR[optimizer])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=LR[optimizer], eps=OPTIMIZER_EPS,
                               fused=fused or None)
    return torch_training_step(model, opt, *mnist_like(batch, dtype, seed))


def torch_training_step(model, opt, x, t):
    """A callable: one PyTorch step of ``model`` (cross-entropy) and ``opt`` on the NumPy
    batch x and labels t."""
    import torch

    x, t = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), t).backward()
        opt.step()
    return step


@numba.njit(parallel=True, **POLICY)
def triad(a, b, c, s):
    """a = b + s * c on flat arrays, in parallel (STREAM's triad)."""
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


TRIAD_STREAMS = 3  # STREAM counts the bytes of b and c read and of a written


def run_triad_once():
    """Run the triad on a few elements (compiles it and starts Numba's threading layer)."""
    a = np.zeros(64)
    triad(a, a, a, 1.0)
