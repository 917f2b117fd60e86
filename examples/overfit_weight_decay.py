"""Book section 6.4.1-6.4.2: a 7-layer net (6 hidden layers of 100) trained on only 300 MNIST
images overfits (train accuracy near 1, test far below); weight decay lambda = 0.1 narrows
the gap. SGD lr 0.01, batches of 100, 201 epochs (overfit_weight_decay.png: without | with).

--quick: 11 epochs, 1000 test images.
"""
import _common
from fastscratch import MultiLayerNet


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0], lambda p: p.add_argument(
        "--weight-decay", type=float, default=0.1, help="lambda (default 0.1, the book's)"))

    def build(weight_decay_lambda):
        return lambda: MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=weight_decay_lambda)

    _common.compare_overfitting(args, {"no weight decay": build(0),
                                       f"weight decay lambda={args.weight_decay}":
                                           build(args.weight_decay)},
                                11 if args.quick else 201, "overfit_weight_decay.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
