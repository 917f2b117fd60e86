"""Book section 6.3 (batch_norm_gradient_check.py): gradients of a batch-norm net
784-100-100-10 by backpropagation against central differences on the first training images;
prints the mean absolute difference per parameter and plots it on a log scale
(batch_norm_gradient_check.png).

The book checks on one image. Then every batch-norm layer outputs exactly beta = 0, so all
parameters below the last one get zero gradients and beta2 sits on the ReLU's kink, where
central differences see half a slope and backprop none. So the default here is 3 images;
--batch-size 1 shows the book's case. --quick: hidden layers of 10 units.
"""
import numpy as np

import _common
from fastscratch import MultiLayerNetExtend
from fastscratch.plotting import new_figure


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0], lambda p: p.add_argument(
        "--batch-size", type=int, default=3, help="images to check (default 3; the book: 1)"))
    (x_train, t_train), _ = _common.load_data(args, one_hot_label=True)
    hidden = [10, 10] if args.quick else [100, 100]
    network = MultiLayerNetExtend(784, hidden, 10, use_batchnorm=True)
    x_batch, t_batch = x_train[:args.batch_size], t_train[:args.batch_size]

    grad_backprop = network.gradient(x_batch, t_batch)
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    keys = list(grad_numerical)
    diffs = [float(np.mean(np.abs(grad_backprop[k] - grad_numerical[k]))) for k in keys]
    for key, diff in zip(keys, diffs):
        scale = np.mean(np.abs(grad_numerical[key]))
        print(f"{key:>7}: mean |backprop - numerical| {diff:.3e}   (mean |grad| {scale:.3e})")
    fig, ax = new_figure(size=(7, 4))
    ax.bar(keys, np.maximum(diffs, 1e-20))
    ax.set(yscale="log", ylabel="mean |backprop - numerical|",
           title=f"784-{'-'.join(map(str, hidden))}-10 with batch norm, {len(x_batch)} image(s)")
    _common.save(fig, args, "batch_norm_gradient_check.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
