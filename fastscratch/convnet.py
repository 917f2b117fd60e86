"""The book's conv nets: SimpleConvNet (ch07/simple_convnet.py) and DeepConvNet
(ch08/deep_convnet.py), with the book's constructors, ``params``, ``layers`` and methods.

Their passes run the same fused walk as the dense nets (``network.LayeredNet``): each
Convolution and Affine takes the Relu after it into its own kernel (``fusion.plan``), a
Convolution the 2x2 Pooling after that too, and the first layer's dx is skipped.
Images are (N, C, H, W) as ``input_dim`` says (``load_mnist(flatten=False)``), cast to the
net's ``dtype``. ``load_params`` reads the book's pickled files without running pickle code
(``safe_pickle``).
"""
import pickle
from collections import OrderedDict

import numpy as np

from . import safe_pickle, validation
from .layers import Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss
from .network import LayeredNet


def _input_dim(input_dim):
    """(C, H, W) as a tuple of three positive ints."""
    if isinstance(input_dim, (str, bytes)) or not hasattr(input_dim, "__len__") \
            or len(input_dim) != 3:
        raise ValueError(f"input_dim must be (channels, height, width), got {input_dim!r}")
    return tuple(validation.positive_int(f"input_dim[{i}]", n) for i, n in enumerate(input_dim))


def _conv_param(name, conv_param):
    """(filter_num, filter_size, pad, stride) from a dict with the book's four keys."""
    keys = ("filter_num", "filter_size", "pad", "stride")
    if not isinstance(conv_param, dict) or set(conv_param) != set(keys):
        raise ValueError(f"{name} must be a dict with the keys {', '.join(keys)}, got "
                         f"{conv_param!r}")
    return (validation.positive_int(f"{name}['filter_num']", conv_param["filter_num"]),
            validation.positive_int(f"{name}['filter_size']", conv_param["filter_size"]),
            validation.positive_int(f"{name}['pad']", conv_param["pad"], least=0),
            validation.positive_int(f"{name}['stride']", conv_param["stride"]))


def _conv_out(name, size, filter_size, pad, stride):
    """The side of a convolution's output, which must be a whole number >= 1."""
    span = size + 2 * pad - filter_size
    if span < 0 or span % stride:
        raise ValueError(f"{name}: an input side of {size} with pad {pad} does not fit "
                         f"filter_size {filter_size} at stride {stride} a whole number of times")
    return span // stride + 1


def _pool_out(name, size):
    """The side after the book's 2x2, stride-2 pooling (needs a side >= 2)."""
    if size < 2:
        raise ValueError(f"{name}: the 2x2 pooling after it needs a side of 2 or more, got {size}")
    return (size - 2) // 2 + 1


def _describe(value):
    """How a loaded value is named in an error: dtype and shape, or its type."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


class _ConvNet(LayeredNet):
    """What both conv nets share: image checks, accuracy in batches of 100 and the book's
    pickled params files; gradient is the training-mode one of ``LayeredNet``."""

    def _init_common(self, input_dim, output_size, dtype, seed, rng):
        self.input_dim = _input_dim(input_dim)
        self.input_size = int(np.prod(self.input_dim))
        self.output_size = validation.positive_int("output_size", output_size)
        self._start(dtype, seed, rng)

    def _add(self, idx, W):
        """params['W<idx>'] = W and a zero bias b<idx> for its output units."""
        self.params["W%d" % idx] = W
        self.params["b%d" % idx] = np.zeros(W.shape[0] if W.ndim == 4 else W.shape[1],
                                            dtype=self.dtype)

    def _check_shape(self, x):
        """Raise unless x has the shape (N, C, H, W) of ``input_dim``."""
        shape = np.shape(x)
        if len(shape) != 4 or tuple(shape[1:]) != self.input_dim:
            raise ValueError(f"x must be images of shape (N, {', '.join(map(str, self.input_dim))})"
                             f", got shape {shape}; for MNIST use load_mnist(flatten=False) or "
                             f"x.reshape(-1, {', '.join(map(str, self.input_dim))})")

    def _input(self, x):
        self._check_shape(x)
        return super()._input(x)

    def accuracy(self, x, t, batch_size=100):
        """Fraction classified correctly (inference mode), ``batch_size`` images at a time
        (every image counts; the book leaves out a last partial batch)."""
        self._check_shape(x)
        return self._accuracy(x, t, batch_size)

    def save_params(self, file_name="params.pkl"):
        """Pickle ``params`` (a dict of arrays) to ``file_name`` as the book does."""
        with open(file_name, "wb") as f:
            pickle.dump(dict(self.params), f)

    def load_params(self, file_name="params.pkl"):
        """Read params pickled by ``save_params`` or the book (ch07/params.pkl,
        ch08/deep_convnet_params.pkl) into ``params`` in place, cast to the net's dtype.

        The file may hold only a dict of float arrays with exactly this net's keys and shapes;
        anything else raises a ValueError naming the file before any parameter changes
        (safe_pickle.UnsafePickleError for pickle content other than dicts, lists and arrays,
        safe_pickle.PickleFileError for a file that is not a readable pickle: empty, truncated,
        corrupt, another kind of file).
        """
        with open(file_name, "rb") as f:
            loaded = safe_pickle.load(f)
        if not isinstance(loaded, dict):
            raise ValueError(f"{file_name}: expected a pickled dict of parameter arrays, got "
                             f"{type(loaded).__name__}")
        missing = [k for k in self.params if k not in loaded]
        extra = [k for k in loaded if k not in self.params]
        if missing or extra:
            raise ValueError(f"{file_name}: the parameters do not match this "
                             f"{type(self).__name__}: missing {missing}, unexpected {extra}")
        arrays = {}
        for key, value in loaded.items():
            mine = self.params[key]
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f" \
                    or value.shape != mine.shape:
                raise ValueError(f"{file_name}: params[{key!r}] must be a float array of shape "
                                 f"{mine.shape}, got {_describe(value)}")
            arrays[key] = validation.finite_floats(f"{file_name}: params[{key!r}]",
                                                   value.astype(self.dtype))
        for key, value in arrays.items():
            np.copyto(self.params[key], value)


class SimpleConvNet(_ConvNet):
    """conv - relu - pool - affine - relu - affine - softmax (the book's ch07 net).

    ``params``: W1 (filter_num, C, filter_size, filter_size), b1, W2 (pooled size,
    hidden_size), b2, W3 (hidden_size, output_size), b3, drawn as the book does with
    ``weight_init_std``. ``dtype`` float64 (the book's) or float32; ``seed``/``rng`` draw the
    weights from their own generator instead of NumPy's global one.
    """

    # the book's dict defaults, read and never changed
    def __init__(self, input_dim=(1, 28, 28),
                 conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                 hidden_size=100, output_size=10, weight_init_std=0.01, *, dtype="float64",
                 seed=None, rng=None):
        self._init_common(input_dim, output_size, dtype, seed, rng)
        filter_num, filter_size, pad, stride = _conv_param("conv_param", conv_param)
        hidden_size = validation.positive_int("hidden_size", hidden_size)
        validation.positive("weight_init_std", weight_init_std)
        channels, height, width = self.input_dim
        out_h = _conv_out("conv_param", height, filter_size, pad, stride)
        out_w = _conv_out("conv_param", width, filter_size, pad, stride)
        pooled = filter_num * _pool_out("conv_param", out_h) * _pool_out("conv_param", out_w)
        self._add(1, self._draw(weight_init_std, filter_num, channels, filter_size, filter_size))
        self._add(2, self._draw(weight_init_std, pooled, hidden_size))
        self._add(3, self._draw(weight_init_std, hidden_size, self.output_size))

        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(self.params["W1"], self.params["b1"], stride, pad)
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(self.params["W2"], self.params["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W3"], self.params["b3"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        """Scores (N, output_size) for images x (N, C, H, W)."""
        return self._forward(self._input(x), False)

    def loss(self, x, t):
        """Mean cross-entropy of the scores against t (labels (N,) or one-hot (N, classes))."""
        return self._loss(*self._inputs(x, t), False)

    def numerical_gradient(self, x, t):
        """grads by central differences of ``loss`` (slow; for checking ``gradient``)."""
        return self._numerical_gradient(x, t, False)


_DEEP_DEFAULTS = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]  # (filter_num, pad)


class DeepConvNet(_ConvNet):
    """The book's ch08 net (over 99% on MNIST):
    (conv - relu - conv - relu - pool) x 3 - affine - relu - dropout - affine - dropout - softmax.

    ``params`` W1..W6 (convolutions), W7 (affine, flattened pool output x hidden_size), W8, and
    b1..b8, He-initialised (sqrt(2 / fan_in)) in the book's order; ``layers`` is a list as in
    the book. The fan-ins and W7's rows come from the shapes (the book writes them out for its
    defaults, giving the same numbers). ``dtype``, ``seed`` and ``rng`` as in SimpleConvNet;
    the dropout masks come from ``rng`` when given ``predict(x, train_flg=False)``
    draws dropout masks in training mode instead of scaling.
    """

    # the book's dict defaults, read and never changed
    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1={"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_2={"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_3={"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_4={"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
                 conv_param_5={"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_6={"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
                 hidden_size=50, output_size=10, *, dtype="float64", seed=None, rng=None):
        self._init_common(input_dim, output_size, dtype, seed, rng)
        hidden_size = validation.positive_int("hidden_size", hidden_size)
        convs = [_conv_param(f"conv_param_{i}", p) for i, p in enumerate(
            (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
             conv_param_6), 1)]
        channels, height, width = self.input_dim
        self.layers = []
        for idx, (filter_num, filter_size, pad, stride) in enumerate(convs, 1):
            name = f"conv_param_{idx}"
            scale = np.sqrt(2.0 / (channels * filter_size * filter_size))
            self._add(idx, self._draw(scale, filter_num, channels, filter_size, filter_size))
            height = _conv_out(name, height, filter_size, pad, stride)
            width = _conv_out(name, width, filter_size, pad, stride)
            self.layers.append(Convolution(self.params["W%d" % idx], self.params["b%d" % idx],
                                           stride, pad))
            self.layers.append(Relu())
            if idx % 2 == 0:
                height, width = _pool_out(name, height), _pool_out(name, width)
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
            channels = filter_num
        flat = channels * height * width
        self._add(7, self._draw(np.sqrt(2.0 / flat), flat, hidden_size))
        self._add(8, self._draw(np.sqrt(2.0 / hidden_size), hidden_size, self.output_size))
        self.layers.append(Affine(self.params["W7"], self.params["b7"]))
        self.layers.append(Relu())
        self.layers.append(Dropout(0.5, rng=self.rng))
        self.layers.append(Affine(self.params["W8"], self.params["b8"]))
        self.layers.append(Dropout(0.5, rng=self.rng))
        self.last_layer = SoftmaxWithLoss()

    def loss(self, x, t):
        """Mean cross-entropy in training mode (dropout on), as the book's."""
        return self._loss(*self._inputs(x, t), True)
