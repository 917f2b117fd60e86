"""NumPy twins of kernels/dropout.py."""

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, u, ratio, mask, out):
    """mask = u > ratio and out = x * mask."""
    mask[...] = u > ratio
    out[...] = x * mask


def dropout_backward(dout, mask, dx):
    """dx = dout * mask."""
    dx[...] = dout * mask
