"""Book section 6.3.2: training accuracy per epoch of a 6-layer net (5 hidden layers of 100)
with and without batch normalization, for 16 initial weight scales np.logspace(0, -4, 16);
1000 training images, SGD lr 0.01, batches of 100, 20 epochs; both nets of a scale see the
same batches (batch_norm_test.png: a 4 x 4 grid, one panel per scale).

--quick: 3 scales, 4 epochs.
"""
import numpy as np

import _common
from fastscratch import SGD, MultiLayerNetExtend
from fastscratch.plotting import new_figure

BATCH = 100


def train_pair(x, t, weight_init_std, epochs):
    """Train accuracy per epoch {'Batch Normalization': [...], 'Normal': [...]}."""
    networks = {"Batch Normalization": MultiLayerNetExtend(784, [100] * 5, 10,
                                                           weight_init_std=weight_init_std,
                                                           use_batchnorm=True),
                "Normal": MultiLayerNetExtend(784, [100] * 5, 10,
                                              weight_init_std=weight_init_std)}
    accuracy = {key: [] for key in networks}

    def record(i, losses):
        for key, network in networks.items():
            accuracy[key].append(network.accuracy(x, t))

    iter_per_epoch = max(x.shape[0] // BATCH, 1)
    optimizer = SGD(lr=0.01)
    _common.train_together(networks, dict.fromkeys(networks, optimizer), x, t,
                           (epochs - 1) * iter_per_epoch + 1, BATCH, iter_per_epoch, record)
    return accuracy


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0])
    (x_train, t_train), _ = _common.load_data(args)
    x_train, t_train = x_train[:1000], t_train[:1000]
    scales, epochs = np.logspace(0, -4, num=16), 20
    if args.quick:
        scales, epochs = scales[::6], 4
    fig, axes = new_figure(4, 4, size=(12, 10))
    print(f"final train accuracy after {epochs} epochs:   with BN | without")
    for ax, w in zip(axes.reshape(-1), scales):
        with np.errstate(over="ignore", invalid="ignore"):  # the nets without BN blow up at
            accuracy = train_pair(x_train, t_train, w, epochs)  # the largest scales (book too)
        bn, normal = accuracy["Batch Normalization"], accuracy["Normal"]
        print(f"W std {w:.6f}: {bn[-1]:.3f} | {normal[-1]:.3f}")
        ax.plot(bn, label="Batch Normalization")
        ax.plot(normal, ls="--", label="Normal (without BatchNorm)")
        ax.set(ylim=(0, 1.0), title=f"W: {w:.2e}")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    _common.save(fig, args, "batch_norm_test.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
