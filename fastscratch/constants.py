"""The one home of fastscratch's numeric constants, shared by kernels, NumPy twins and classes.

Activation codes: the integer a fused kernel receives for the activation it applies after its
product (or before its backward): NONE, RELU or SIGMOID.
"""
NONE, RELU, SIGMOID = 0, 1, 2
