"""Numba kernels, one module per hot path; ``reference/`` holds their NumPy twins.

Every kernel takes its inputs and preallocated outputs and writes the outputs in place; a twin
in ``fastscratch.reference`` with the same name and signature computes the same thing in NumPy.
"""
from . import (activation, affine, batchnorm, checks, conv, dropout, optim, pool, regularization,
               softmax_ce)

MODULES = (activation, affine, softmax_ce, batchnorm, optim, regularization, dropout, checks, conv,
           pool)
