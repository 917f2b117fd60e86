"""NumPy twins of kernels/batchnorm.py, staged as in the book's BatchNormalization."""
import numpy as np

from ..constants import BATCHNORM_EPS
from .activation import act_backward, act_forward

__all__ = ["bn_forward_train", "bn_forward_eval", "bn_backward"]


def _scale_shift_act(scaled, beta, act, out):
    """out = act(scaled + beta)."""
    act_forward(scaled + beta, act, out)


def _act_grad_colsum(dout, y, act, g, dbeta):
    """g = dout * act'(y) and dbeta = g.sum(axis=0)."""
    act_backward(dout, y, act, g)
    dbeta[...] = np.sum(g, axis=0)


def bn_forward_train(x, gamma, beta, momentum, running_mean, running_var, act, xn, std, out):
    """Batch statistics, normalisation, running averages (in place), then act(gamma*xn + beta)."""
    mu = x.mean(axis=0)
    xc = x - mu
    var = np.mean(xc ** 2, axis=0)
    std[...] = np.sqrt(var + BATCHNORM_EPS)
    xn[...] = xc / std
    running_mean[...] = momentum * running_mean + (1 - momentum) * mu
    running_var[...] = momentum * running_var + (1 - momentum) * var
    _scale_shift_act(gamma * xn, beta, act, out)


def bn_forward_eval(x, gamma, beta, running_mean, running_var, act, out):
    """out = act(gamma * (x - running_mean) / sqrt(running_var + BATCHNORM_EPS) + beta)."""
    xn = (x - running_mean) / np.sqrt(running_var + BATCHNORM_EPS)
    _scale_shift_act(gamma * xn, beta, act, out)


def bn_backward(dout, y, act, xn, std, gamma, dx, dgamma, dbeta):
    """The book's staged backward through gamma, std, the variance and the mean."""
    g = np.empty_like(dout)
    _act_grad_colsum(dout, y, act, g, dbeta)
    n = dout.shape[0]
    xc = xn * std
    dgamma[...] = np.sum(xn * g, axis=0)
    dxn = gamma * g
    dxc = dxn / std
    dstd = -np.sum((dxn * xc) / (std * std), axis=0)
    dvar = 0.5 * dstd / std
    dxc += (2.0 / n) * xc * dvar
    dmu = np.sum(dxc, axis=0)
    dx[...] = dxc - dmu / n
