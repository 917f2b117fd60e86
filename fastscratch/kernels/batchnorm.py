"""Batch normalisation over the batch axis of (N, D) input, optionally fused with an activation."""
import numpy as np
from numba import prange

from ..constants import BATCHNORM_EPS
from .._jit import kernel
from ._common import activate, activate_grad, add_blocks, block_rows, row_blocks

__all__ = ["bn_forward_train", "bn_forward_eval", "bn_backward"]


@kernel
def bn_forward_train(x, gamma, beta, momentum, running_mean, running_var, act, xn, std, out):
    """Normalise x (N, D) with its batch statistics: xn = (x - mean) / std, out = act(gamma*xn +
    beta); std (D,) is written, running_mean/var (D,) are updated in place."""
    n, d = x.shape
    zero, one, eps = out.dtype.type(0.0), out.dtype.type(1.0), out.dtype.type(BATCHNORM_EPS)
    inv_n = one / x.dtype.type(n)
    nb = row_blocks(n)
    part = np.zeros((nb, d), x.dtype)
    mu = np.empty(d, x.dtype)
    var = np.empty(d, x.dtype)
    for b in prange(nb):
        for i in block_rows(b, nb, n):
            for j in range(d):
                part[b, j] += x[i, j]
    add_blocks(part, mu, inv_n)
    part[:] = zero
    for b in prange(nb):
        for i in block_rows(b, nb, n):
            for j in range(d):
                c = x[i, j] - mu[j]
                part[b, j] += c * c
    add_blocks(part, var, inv_n)
    keep, take = running_mean.dtype.type(momentum), running_mean.dtype.type(1.0 - momentum)
    for j in range(d):
        std[j] = np.sqrt(var[j] + eps)
        running_mean[j] = keep * running_mean[j] + take * mu[j]
        running_var[j] = keep * running_var[j] + take * var[j]
    for i in prange(n):
        for j in range(d):
            h = (x[i, j] - mu[j]) / std[j]
            xn[i, j] = h
            out[i, j] = activate(gamma[j] * h + beta[j], act, zero, one)


@kernel
def bn_forward_eval(x, gamma, beta, running_mean, running_var, act, out):
    """out = act(gamma * (x - running_mean) / sqrt(running_var + BATCHNORM_EPS) + beta);
    x, out (N, D)."""
    n, d = x.shape
    zero, one, eps = out.dtype.type(0.0), out.dtype.type(1.0), out.dtype.type(BATCHNORM_EPS)
    std = np.sqrt(running_var + eps)
    for i in prange(n):
        for j in range(d):
            out[i, j] = activate(gamma[j] * ((x[i, j] - running_mean[j]) / std[j]) + beta[j],
                                 act, zero, one)


@kernel
def bn_backward(dout, y, act, xn, std, gamma, dx, dgamma, dbeta):
    """Backward of bn_forward_train: g = dout * act'(y), dbeta = sum(g), dgamma = sum(g * xn),
    dx = gamma / std * (g - (dbeta + xn * dgamma) / N); all sums over the batch axis."""
    n, d = dout.shape
    zero, one, nf = dx.dtype.type(0.0), dx.dtype.type(1.0), dx.dtype.type(n)
    nb = row_blocks(n)
    part_beta = np.zeros((nb, d), dx.dtype)
    part_gamma = np.zeros((nb, d), dx.dtype)
    for b in prange(nb):
        for i in block_rows(b, nb, n):
            for j in range(d):
                g = activate_grad(dout[i, j], y[i, j], act, zero, one)
                part_beta[b, j] += g
                part_gamma[b, j] += g * xn[i, j]
    add_blocks(part_beta, dbeta, one)
    add_blocks(part_gamma, dgamma, one)
    for i in prange(n):
        for j in range(d):
            g = activate_grad(dout[i, j], y[i, j], act, zero, one)
            dx[i, j] = gamma[j] / std[j] * (g - (dbeta[j] + xn[i, j] * dgamma[j]) / nf)
