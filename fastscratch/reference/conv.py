"""NumPy twins of kernels/conv.py: the book's im2col formulation of Convolution."""
import numpy as np

from ..constants import NONE
from ..util import col2im, im2col
from .activation import act_backward, act_forward

__all__ = ["conv_forward", "conv_backward"]


def conv_forward(x, W, b, stride, pad, act, out):
    """out = act(conv(x, W) + b); x (N, C, H, W), W (FN, C, FH, FW), b (FN,),
    out (N, FN, OH, OW)."""
    n, fn = x.shape[0], W.shape[0]
    oh, ow = out.shape[2:]
    patches = im2col(x, W.shape[2], W.shape[3], stride, pad)  # (N*OH*OW, C*FH*FW)
    z = np.dot(patches, W.reshape(fn, -1).T) + b
    act_forward(z.reshape(n, oh, ow, fn).transpose(0, 3, 1, 2), act, out)


def conv_backward(dout, y, act, x, W, stride, pad, dW, db, dx):
    """Through act (y its output; with NONE y is not read) and the convolution of x: dW, db
    and, unless dx is None, dx; dout, y (N, FN, OH, OW), x, dx (N, C, H, W), W, dW
    (FN, C, FH, FW), db (FN,)."""
    fn = W.shape[0]
    dz = np.empty_like(dout)
    act_backward(dout, dout if act == NONE else y, act, dz)
    dz = dz.transpose(0, 2, 3, 1).reshape(-1, fn)  # (N*OH*OW, FN)
    patches = im2col(x, W.shape[2], W.shape[3], stride, pad)  # (N*OH*OW, C*FH*FW)
    db[...] = np.sum(dz, axis=0)
    dW[...] = np.dot(patches.T, dz).T.reshape(W.shape)
    if dx is not None:
        dcol = np.dot(dz, W.reshape(fn, -1))
        dx[...] = col2im(dcol, dx.shape, W.shape[2], W.shape[3], stride, pad)
