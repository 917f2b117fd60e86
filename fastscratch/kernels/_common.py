"""Inlined helpers shared by the kernels: activations and blocked column sums."""
import numpy as np

from ..constants import RELU, SIGMOID
from .._jit import inline

# Column sums run over this many fixed row blocks whose partial sums are then added in order:
# the blocks can go to different threads, and the result is the same for every thread count.
ROW_BLOCKS = 8
# Sums over the images of a batch (convolution weight gradients) run over this many fixed blocks
# of images: enough blocks to keep 16 threads busy, few enough that each is several images.
IMAGE_BLOCKS = 16


@inline
def activate(v, act, zero, one):
    """act(v) for act NONE, RELU (NaN passes, as in the book) or SIGMOID; zero and one are
    typed constants, so float32 stays float32."""
    if act == RELU:
        if v <= zero:
            v = zero
    elif act == SIGMOID:
        v = one / (one + np.exp(-v))
    return v


@inline
def activate_grad(g, y, act, zero, one):
    """g * act'(x) given the activation's output y = act(x)."""
    if act == RELU:
        if y <= zero:
            g = zero
    elif act == SIGMOID:
        g = g * (one - y) * y
    return g


@inline
def row_blocks(n):
    """The number of row blocks for an n-row column sum."""
    return min(n, ROW_BLOCKS)


@inline
def image_blocks(n):
    """The number of image blocks for a sum over n images."""
    return min(n, IMAGE_BLOCKS)


@inline
def block_rows(b, nb, n):
    """range of the rows in block b of nb over n rows."""
    return range(b * n // nb, (b + 1) * n // nb)


@inline
def add_blocks(part, out, scale):
    """out[j] = scale * sum over b of part[b, j], blocks added in order."""
    for j in range(part.shape[1]):
        s = part[0, j]
        for b in range(1, part.shape[0]):
            s += part[b, j]
        out[j] = s * scale
