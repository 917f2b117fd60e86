"""Book sections 7.5-7.6: train the SimpleConvNet of ch07/train_convnet.py (30 filters 5x5,
hidden 100; Adam lr 0.001, batches of 100, 20 epochs, per-epoch accuracy on 1000 images) and
show its first-layer filters before and after training as ch07/visualize_filter.py does
(train_convnet.png: accuracy per epoch; convnet_filters.png: the 30 filters, random | learned).
The trained parameters go to params.pkl in the book's format.

--quick: 1 epoch on the first 5000 training and 1000 test images.
"""
import numpy as np

import _common
from fastscratch.convnet import SimpleConvNet
from fastscratch.dataset.mnist import load_mnist
from fastscratch.plotting import new_figure
from fastscratch.trainer import Trainer
from fastscratch.training import Callback


def filter_show(axes, filters, title):
    """The book's filter_show on a block of axes: each filter's first channel in gray_r, one
    per axes in rows of axes.shape[1], no ticks."""
    for i, ax in enumerate(axes.reshape(-1)):
        ax.set(xticks=[], yticks=[])
        if i < len(filters):
            ax.imshow(filters[i, 0], cmap="gray_r", interpolation="nearest")
        else:
            ax.axis("off")
    axes[0, 0].set_title(title, loc="left", fontsize=10)


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0])
    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False, data_dir=args.data_dir)
    epochs = 20
    if args.quick:
        epochs, x_train, t_train = 1, x_train[:5000], t_train[:5000]
        x_test, t_test = x_test[:1000], t_test[:1000]
    network = SimpleConvNet(input_dim=(1, 28, 28),
                            conv_param={"filter_num": 30, "filter_size": 5, "pad": 0,
                                        "stride": 1},
                            hidden_size=100, output_size=10, weight_init_std=0.01)
    initial = network.params["W1"].copy()

    class Report(Callback):
        def on_epoch(self, trainer):
            r = trainer.history[-1]
            print(f"epoch {r['epoch']:2d}: loss {r['loss']:.4f}, train acc "
                  f"{r['train_acc']:.3f}, test acc {r['test_acc']:.3f} ({r['seconds']:.1f} s)")

    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=epochs,
                      mini_batch_size=100, optimizer="Adam", optimizer_param={"lr": 0.001},
                      evaluate_sample_num_per_epoch=1000, verbose=False,
                      callbacks=[Report()])
    trainer.train()
    print(f"final test accuracy {trainer.final_test_acc:.4f} on {len(x_test)} images")
    network.save_params(args.out / "params.pkl")
    print(f"wrote {args.out / 'params.pkl'}")

    fig, ax = new_figure()
    _common.accuracy_panel(ax, trainer.train_acc_list, trainer.test_acc_list,
                           "SimpleConvNet on MNIST", markevery=2)
    _common.save(fig, args, "train_convnet.png")

    rows = int(np.ceil(len(initial) / 8))
    fig, axes = new_figure(2 * rows, 8, size=(8, 2 * rows + 0.5))
    filter_show(axes[:rows], initial, "random initial weights")
    filter_show(axes[rows:], network.params["W1"], f"after {epochs} epoch{'s' * (epochs != 1)}")
    _common.save(fig, args, "convnet_filters.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
