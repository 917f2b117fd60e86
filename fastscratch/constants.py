"""The one home of fastscratch's numeric constants, shared by kernels, NumPy twins and classes.

Activation codes: the integer a fused kernel receives for the activation it applies after its
product (or before its backward): NONE, RELU or SIGMOID.

Epsilons and steps, each the book's value (common/layers.py, functions.py, optimizer.py,
gradient.py):
  BATCHNORM_EPS       added to the variance under the square root: sqrt(var + 10e-7)
  CROSS_ENTROPY_EPS   added to the probability under the log: log(y + 1e-7)
  OPTIMIZER_EPS       added to the root in AdaGrad, RMSprop and Adam: g / (sqrt(h) + 1e-7)
  NUMERICAL_GRADIENT_H  the step of the central differences (f(x + h) - f(x - h)) / 2h

The precision rule, followed by every kernel and its twin:
  * Arithmetic runs in the dtype of the arrays: float32 arrays give float32 arithmetic, as NumPy
    gives for float32 arrays combined with Python numbers.
  * A constant or scalar argument is cast to that dtype before it meets array values: a kernel
    writes ``x.dtype.type(BATCHNORM_EPS)`` (a float64 constant or an int count used directly
    would make Numba promote the whole expression to float64); a twin may use the Python float,
    which NumPy casts (NEP 50), so every constant here must stay a plain Python number.
    Scalars combined only with scalars (1 - momentum, Adam's bias-corrected lr_t) are computed
    in float64, as Python does, and cast once.
  * Sums that produce arrays (column sums, batch statistics) accumulate in the array's dtype,
    as NumPy's ``np.sum`` does; kernels add fixed blocks in a fixed order.
  * Sums that produce one Python float (the cross-entropy loss, the weight-decay sum of squares)
    accumulate in float64: each term is computed in the array's dtype, then widened and added.
The kernel lines that compute array values in float64 on float32 input (the scalar sums'
accumulators) carry a ``# float64`` comment; tests/test_kernels.py checks that no other kernel
line does.
"""
NONE, RELU, SIGMOID = 0, 1, 2

BATCHNORM_EPS = 10e-7
CROSS_ENTROPY_EPS = 1e-7
OPTIMIZER_EPS = 1e-7
NUMERICAL_GRADIENT_H = 1e-4
