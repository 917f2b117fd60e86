"""NumPy twins of kernels/optim.py: the book's update formulas, in place."""
import numpy as np

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


def sgd(p, g, lr):
    """p -= lr * g."""
    p -= lr * g


def momentum(p, g, v, lr, mom):
    """v = mom * v - lr * g; p += v."""
    v[...] = mom * v - lr * g
    p += v


def nesterov(p, g, v, lr, mom):
    """The book's Nesterov (common/optimizer.py since January 2021): p += mom*mom*v;
    p -= (1 + mom)*lr*g with the old v, then v *= mom; v -= lr*g."""
    p += mom * mom * v
    p -= (1 + mom) * lr * g
    v *= mom
    v -= lr * g


def adagrad(p, g, h, lr, eps):
    """h += g * g; p -= lr * g / (sqrt(h) + eps)."""
    h += g * g
    p -= lr * g / (np.sqrt(h) + eps)


def rmsprop(p, g, h, lr, decay, eps):
    """h = decay * h + (1 - decay) * g * g; p -= lr * g / (sqrt(h) + eps)."""
    h *= decay
    h += (1 - decay) * g * g
    p -= lr * g / (np.sqrt(h) + eps)


def adam(p, g, m, v, lr_t, beta1, beta2, eps):
    """m += (1 - beta1)(g - m); v += (1 - beta2)(g^2 - v); p -= lr_t * m / (sqrt(v) + eps)."""
    m += (1 - beta1) * (g - m)
    v += (1 - beta2) * (g ** 2 - v)
    p -= lr_t * m / (np.sqrt(v) + eps)
