"""Plain NumPy twins of ``fastscratch.kernels``: same names, same signatures, same results.

Written for clarity from the book's formulas; the oracle for tests and the baseline for
benchmarks. Each twin writes its outputs in place, as the kernel does.
"""
from . import (activation, affine, batchnorm, checks, conv, dropout, optim, pool, regularization,
               softmax_ce)

MODULES = (activation, affine, softmax_ce, batchnorm, optim, regularization, dropout, checks, conv,
           pool)
