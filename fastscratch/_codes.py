"""Activation codes shared by the kernels and their NumPy reference twins."""
NONE, RELU, SIGMOID = 0, 1, 2
