"""Book section 6.2.4: training loss on MNIST of a 5-layer ReLU net (100 units per layer)
whose weights start with std 0.01, Xavier (sqrt(1/n)) or He (sqrt(2/n)) scale; SGD lr 0.01,
batches of 128, 2000 iterations on the same batches (weight_init_compare.png).

--quick: 100 iterations on 2000 training images.
"""
from collections import OrderedDict

import _common
from fastscratch import SGD, MultiLayerNet


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0])
    inits = OrderedDict([("std=0.01", 0.01), ("Xavier", "sigmoid"), ("He", "relu")])
    networks = {key: MultiLayerNet(784, [100] * 4, 10, weight_init_std=std)
                for key, std in inits.items()}
    optimizer = SGD(lr=0.01)  # stateless, so one is shared as in the book
    _common.compare_losses(args, networks, dict.fromkeys(inits, optimizer), (0, 2.5),
                           "MNIST, weight init", "weight_init_compare.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
