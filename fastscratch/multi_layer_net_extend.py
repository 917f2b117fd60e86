"""The book's MultiLayerNetExtend (common/multi_layer_net_extend.py): batch norm and dropout."""
from ._net import LayeredNet


class MultiLayerNetExtend(LayeredNet):
    """MultiLayerNet with optional BatchNormalization (after each hidden Affine) and Dropout
    (after each hidden activation). ``dropout_ration`` keeps the book's spelling. Arguments are
    checked as in MultiLayerNet."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False, *, dtype="float64", seed=None,
                 rng=None):
        self.use_dropout = use_dropout
        self.dropout_ration = dropout_ration
        self.use_batchnorm = use_batchnorm
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std,
                    weight_decay_lambda, dtype, seed, rng, use_batchnorm=use_batchnorm,
                    use_dropout=use_dropout, dropout_ratio=dropout_ration)

    def predict(self, x, train_flg=False):
        """Scores (N, output_size); train_flg selects batch statistics and dropout masks."""
        return self._forward(self._input(x), train_flg)

    def loss(self, x, t, train_flg=False):
        """Cross-entropy plus the weight-decay term, in training or inference mode."""
        return self._loss(*self._inputs(x, t), train_flg)

    def accuracy(self, x, t, batch_size=None):
        """Fraction classified correctly in inference mode; ``batch_size`` bounds memory."""
        return self._accuracy(x, t, batch_size)

    def numerical_gradient(self, x, t):
        """grads by central differences of the training-mode loss."""
        x, t = self._inputs(x, t)
        return self._numerical(lambda W: self._loss(x, t, True))

    def gradient(self, x, t):
        """grads dict ('W1', 'b1', ..., 'gamma1', 'beta1', ...) by backpropagation."""
        self._loss(*self._inputs(x, t), True)
        self._backward()
        return self._grads()
