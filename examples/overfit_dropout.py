"""Book section 6.4.3: the overfitting 7-layer net of overfit_weight_decay.py (300 training
images, SGD lr 0.01, batches of 100) trained by the Trainer for 301 epochs, without and with
dropout (ratio 0.2) after each hidden layer (overfit_dropout.png: without | with).

--quick: 11 epochs, 1000 test images.
"""
import _common
from fastscratch import MultiLayerNetExtend


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0], lambda p: p.add_argument(
        "--dropout", type=float, default=0.2, help="dropout ratio (default 0.2, the book's)"))

    def build(use_dropout):
        return lambda: MultiLayerNetExtend(784, [100] * 6, 10, use_dropout=use_dropout,
                                           dropout_ration=args.dropout)

    _common.compare_overfitting(args, {"no dropout": build(False),
                                       f"dropout ratio {args.dropout}": build(True)},
                                11 if args.quick else 301, "overfit_dropout.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
