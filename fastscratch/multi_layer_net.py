"""The book's MultiLayerNet (common/multi_layer_net.py) on fused kernels."""
from .dense_net import DenseNet


class MultiLayerNet(DenseNet):
    """Fully connected net: (Affine, activation) x len(hidden_size_list), Affine, SoftmaxWithLoss.

    Parameters are ``params['W1'], params['b1'], ...``; ``dtype`` (float64 by default, or
    float32) is the dtype of every parameter and activation; ``seed``/``rng`` draw the initial
    weights from their own generator instead of NumPy's global one. Every argument is checked
    (see ``fastscratch.validation``): x must be float32/float64 (N, input_size) or (N, ...) with
    input_size values per row, finite; t integer labels (N,) or dense rows (N, output_size).
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, *, dtype="float64", seed=None,
                 rng=None):
        super().__init__(input_size, hidden_size_list, output_size, activation=activation,
                         weight_init_std=weight_init_std,
                         weight_decay_lambda=weight_decay_lambda, dtype=dtype, seed=seed, rng=rng)

    def predict(self, x):
        """Scores (N, output_size) for x (N, input_size)."""
        return self._forward(self._input(x), False)

    def loss(self, x, t):
        """Cross-entropy of the scores against t plus 0.5 * lambda * sum of squared weights."""
        return self._loss(*self._inputs(x, t), False)

    def numerical_gradient(self, x, t):
        """grads by central differences of ``loss`` (slow; for checking ``gradient``)."""
        return self._numerical_gradient(x, t, False)

    def gradient(self, x, t):
        """grads dict ('W1', 'b1', ...) of ``loss`` by backpropagation."""
        return self._gradient(x, t, False)
