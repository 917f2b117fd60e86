"""NumPy twins of kernels/conv.py: the book's im2col formulation of Convolution."""
import numpy as np

from ..constants import NONE
from ..util import col2im, im2col
from ..work import out_size
from .activation import act_backward, act_forward
from .pool import pool_backward, pool_forward

__all__ = ["conv_forward", "conv_backward"]


def conv_forward(x, W, b, stride, pad, act, out, pooled=None, codes=None, direct=False):
    """out = act(conv(x, W) + b); x (N, C, H, W), W (FN, C, FH, FW), b (FN,),
    out (N, FN, OH, OW). With pooled and codes (N, FN, OH // 2, OW // 2), codes uint8: also the
    book's 2x2 stride-2 max pool of out, codes its arg_max in (N, FN, OH // 2, OW // 2)
    order. ``direct`` chooses the kernel's loops; the twin has only the book's."""
    n, fn = x.shape[0], W.shape[0]
    oh, ow = out.shape[2:]
    patches = im2col(x, W.shape[2], W.shape[3], stride, pad)  # (N*OH*OW, C*FH*FW)
    z = np.dot(patches, W.reshape(fn, -1).T) + b
    act_forward(z.reshape(n, oh, ow, fn).transpose(0, 3, 1, 2), act, out)
    if codes is not None:
        arg_max = np.empty(pooled.size, np.intp)
        pool_forward(out, 2, 2, 2, 0, pooled, arg_max)
        codes[...] = arg_max.reshape(n, oh // 2, ow // 2, fn).transpose(0, 3, 1, 2)


def conv_backward(dout, y, act, x, W, stride, pad, dW, db, dx, codes=None, direct=False):
    """Through act (y its output; with NONE y is not read) and the convolution of x: dW, db
    and, unless dx is None, dx; dout, y (N, FN, OH, OW), x, dx (N, C, H, W), W, dW
    (FN, C, FH, FW), db (FN,). With codes (conv_forward's): dout and y are the gradient and the
    values of the pooled output (N, FN, OH // 2, OW // 2), the book's pool backward first.
    ``direct`` as in conv_forward."""
    fn = W.shape[0]
    if codes is not None:
        n, _, h, w = x.shape
        oh, ow = out_size(h, W.shape[2], stride, pad), out_size(w, W.shape[3], stride, pad)
        arg_max = codes.transpose(0, 2, 3, 1).reshape(-1)
        dy, y_max = np.empty((2, n, fn, oh, ow), dout.dtype)
        pool_backward(dout, arg_max, 2, 2, 2, 0, dy)
        # act's output where dy may be nonzero, at the maxima: the pooled values (0 elsewhere)
        pool_backward(y, arg_max, 2, 2, 2, 0, y_max)
        dout, y = dy, y_max
    dz = np.empty_like(dout)
    act_backward(dout, dout if act == NONE else y, act, dz)
    dz = dz.transpose(0, 2, 3, 1).reshape(-1, fn)  # (N*OH*OW, FN)
    patches = im2col(x, W.shape[2], W.shape[3], stride, pad)  # (N*OH*OW, C*FH*FW)
    db[...] = np.sum(dz, axis=0)
    dW[...] = np.dot(patches.T, dz).T.reshape(W.shape)
    if dx is not None:
        dcol = np.dot(dz, W.reshape(fn, -1))
        dx[...] = col2im(dcol, dx.shape, W.shape[2], W.shape[3], stride, pad)
