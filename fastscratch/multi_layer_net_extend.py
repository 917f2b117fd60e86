"""The book's MultiLayerNetExtend (common/multi_layer_net_extend.py): batch norm and dropout."""
from .dense_net import DenseNet


class MultiLayerNetExtend(DenseNet):
    """MultiLayerNet with optional BatchNormalization (after each hidden Affine) and Dropout
    (after each hidden activation). ``dropout_ration`` keeps the book's spelling. Arguments are
    checked as in MultiLayerNet. The methods are the book's (``network.LayeredNet``):
    ``predict(x, train_flg=False)``, ``loss(x, t, train_flg=False)``, ``accuracy``, and
    ``gradient``/``numerical_gradient`` of the training-mode loss ('W1', 'b1', ..., 'gamma1',
    'beta1', ...)."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False, *, dtype="float64", seed=None,
                 rng=None):
        self.use_dropout = use_dropout
        self.dropout_ration = dropout_ration
        self.use_batchnorm = use_batchnorm
        super().__init__(input_size, hidden_size_list, output_size, activation=activation,
                         weight_init_std=weight_init_std,
                         weight_decay_lambda=weight_decay_lambda, dtype=dtype, seed=seed, rng=rng,
                         use_batchnorm=use_batchnorm, use_dropout=use_dropout,
                         dropout_ratio=dropout_ration)
