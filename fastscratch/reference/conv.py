"""NumPy twins of kernels/conv.py: the book's im2col formulation of Convolution."""
import numpy as np

from ..constants import NONE
from ..util import col2im, im2col
from .activation import act_backward, act_forward

__all__ = ["conv_forward", "conv_backward"]


def conv_forward(x, W, b, stride, pad, act, col, out):
    """out = act(conv(x, W) + b) and col[n] = image n's patches, one column per output pixel;
    x (N, C, H, W), W (FN, C, FH, FW), b (FN,), col (N, C*FH*FW, OH*OW), out (N, FN, OH, OW).
    A col of shape (0, C*FH*FW, OH*OW) keeps no patches (inference)."""
    n, fn = x.shape[0], W.shape[0]
    oh, ow = out.shape[2:]
    patches = im2col(x, W.shape[2], W.shape[3], stride, pad)  # (N*OH*OW, C*FH*FW)
    if col.shape[0]:
        col[...] = patches.reshape(n, oh * ow, -1).transpose(0, 2, 1)
    z = np.dot(patches, W.reshape(fn, -1).T) + b
    act_forward(z.reshape(n, oh, ow, fn).transpose(0, 3, 1, 2), act, out)


def conv_backward(dout, y, act, col, W, stride, pad, dW, db, dx):
    """Through act (y its output; with NONE y is not read) and the convolution: dW, db and,
    unless dx is None, dx; dout, y (N, FN, OH, OW), col as conv_forward keeps it, W, dW
    (FN, C, FH, FW), db (FN,), dx (N, C, H, W)."""
    fn = W.shape[0]
    dz = np.empty_like(dout)
    act_backward(dout, dout if act == NONE else y, act, dz)
    dz = dz.transpose(0, 2, 3, 1).reshape(-1, fn)  # (N*OH*OW, FN)
    patches = col.transpose(0, 2, 1).reshape(dz.shape[0], -1)  # (N*OH*OW, C*FH*FW)
    db[...] = np.sum(dz, axis=0)
    dW[...] = np.dot(patches.T, dz).T.reshape(W.shape)
    if dx is not None:
        dcol = np.dot(dz, W.reshape(fn, -1))
        dx[...] = col2im(dcol, dx.shape, W.shape[2], W.shape[3], stride, pad)
