"""What MultiLayerNet and MultiLayerNetExtend share: their construction (the book's weight
init, the Affine / BatchNorm / activation / Dropout stack) on ``network.LayeredNet``, and the
weight-init names the command line offers."""
import numbers
from collections import OrderedDict

import numpy as np

from . import validation
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss
from .network import LayeredNet

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}
INIT_NAMES = {"relu": 2.0, "he": 2.0, "sigmoid": 1.0, "xavier": 1.0}  # scale sqrt(k / fan_in)


def check_init(weight_init_std):
    """weight_init_std as a lower-case name from INIT_NAMES or a finite number > 0."""
    if isinstance(weight_init_std, str) and weight_init_std.lower() in INIT_NAMES:
        return weight_init_std.lower()
    if isinstance(weight_init_std, numbers.Real) and not isinstance(weight_init_std, bool) \
            and np.isfinite(weight_init_std) and weight_init_std > 0:
        return weight_init_std
    raise ValueError(f"weight_init_std must be one of {', '.join(map(repr, INIT_NAMES))} (any "
                     f"case) or a finite number > 0, got {weight_init_std!r}")


def init_scale(weight_init_std, fan_in):
    """The book's weight scale: 'relu'/'he' sqrt(2/n), 'sigmoid'/'xavier' sqrt(1/n), or a number."""
    weight_init_std = check_init(weight_init_std)
    if isinstance(weight_init_std, str):
        return np.sqrt(INIT_NAMES[weight_init_std] / fan_in)
    return weight_init_std


class DenseNet(LayeredNet):
    """(Affine, [BatchNormalization], activation, [Dropout]) x len(hidden_size_list), Affine,
    SoftmaxWithLoss, with the book's keys: params W1 b1 ... (gamma1 beta1 ...), layers
    Affine1, BatchNorm1, Activation_function1, Dropout1, ..."""

    def __init__(self, input_size, hidden_size_list, output_size, *, activation,
                 weight_init_std, weight_decay_lambda, dtype, seed, rng, use_batchnorm=False,
                 use_dropout=False, dropout_ratio=0.5):
        input_size = validation.positive_int("input_size", input_size)
        output_size = validation.positive_int("output_size", output_size)
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise TypeError("hidden_size_list must be a list of positive ints, got "
                            f"{type(hidden_size_list).__name__}")
        hidden = [validation.positive_int(f"hidden_size_list[{i}]", h)
                  for i, h in enumerate(hidden_size_list)]
        validation.choice("activation", activation, list(ACTIVATIONS))
        check_init(weight_init_std)
        validation.nonnegative("weight_decay_lambda", weight_decay_lambda)
        if use_dropout:
            validation.fraction("dropout_ration", dropout_ratio)
        self._start(dtype, seed, rng)
        self.activation = activation
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        sizes = [input_size] + self.hidden_size_list + [output_size]
        for idx in range(1, len(sizes)):
            self.params["W%d" % idx] = self._draw(init_scale(weight_init_std, sizes[idx - 1]),
                                                  sizes[idx - 1], sizes[idx])
            self.params["b%d" % idx] = np.zeros(sizes[idx], dtype=self.dtype)
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine%d" % idx] = Affine(self.params["W%d" % idx],
                                                   self.params["b%d" % idx])
            if use_batchnorm:
                width = self.hidden_size_list[idx - 1]
                self.params["gamma%d" % idx] = np.ones(width, dtype=self.dtype)
                self.params["beta%d" % idx] = np.zeros(width, dtype=self.dtype)
                self.layers["BatchNorm%d" % idx] = BatchNormalization(
                    self.params["gamma%d" % idx], self.params["beta%d" % idx],
                    running_mean=np.zeros(width, dtype=self.dtype),
                    running_var=np.zeros(width, dtype=self.dtype))
            self.layers["Activation_function%d" % idx] = ACTIVATIONS[activation]()
            if use_dropout:
                self.layers["Dropout%d" % idx] = Dropout(dropout_ratio, rng=self.rng)
        idx = self.hidden_layer_num + 1
        self.layers["Affine%d" % idx] = Affine(self.params["W%d" % idx], self.params["b%d" % idx])
        self.last_layer = SoftmaxWithLoss()

