"""The work of one call of an operation (the names of ``kernels`` and ``reference``), from its
arguments' shapes: multiply-adds for the products (affine, convolution), the first argument's
elements for every other operation. The kernels choose their serial or parallel twin by it,
and the backend's warm-up spends its budget in it. Loads no Numba.
"""


def out_size(size, window, stride, pad):
    """Output positions along one axis of a window sliding over ``size`` values."""
    return (size + 2 * pad - window) // stride + 1


def elements(first, *rest):
    """The size of the first argument."""
    return first.size


def affine_forward(x, W, *rest):
    """x (N, D) @ W (D, M): N * D * M."""
    return x.shape[0] * W.size


def affine_backward(dout, y, act, x, *rest):
    """dW = x.T @ dz (and dx = dz @ W.T): N * D * M."""
    return x.size * dout.shape[1]


def convolution(x, W, stride, pad):
    """Multiply-adds of the convolution of images x (N, C, H, W) with filters W (F, C, FH, FW)."""
    return (x.shape[0] * W.size * out_size(x.shape[2], W.shape[2], stride, pad)
            * out_size(x.shape[3], W.shape[3], stride, pad))


def conv_forward(x, W, b, stride, pad, *rest):
    return convolution(x, W, stride, pad)


def conv_backward(dout, y, act, x, W, stride, pad, *rest):
    return convolution(x, W, stride, pad)


PRODUCTS = {"affine_forward": affine_forward, "affine_backward": affine_backward,
            "conv_forward": conv_forward, "conv_backward": conv_backward}


def of(name):
    """The work function of operation ``name``."""
    return PRODUCTS.get(name, elements)
