"""Book section 6.1.8: training loss of SGD, Momentum, AdaGrad and Adam (the book's default
learning rates) on MNIST with a 5-layer net of 100-unit ReLU layers, batches of 128, 2000
iterations, every network on the same batches (optimizer_compare_mnist.png).

--quick: 100 iterations on 2000 training images.
"""
from collections import OrderedDict

import _common
from fastscratch import SGD, AdaGrad, Adam, Momentum, MultiLayerNet


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0])
    optimizers = OrderedDict(SGD=SGD(), Momentum=Momentum(), AdaGrad=AdaGrad(), Adam=Adam())
    networks = {key: MultiLayerNet(784, [100] * 4, 10) for key in optimizers}
    _common.compare_losses(args, networks, optimizers, (0, 1), "MNIST, 5 layers",
                           "optimizer_compare_mnist.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
