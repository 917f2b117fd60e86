"""Shared by the chapter-6 example scripts: the common options, MNIST, output files, the book's
train-several-networks-on-the-same-batches loop and its figures."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout too, as the book's scripts do

from fastscratch import set_num_threads, use_backend  # noqa: E402
from fastscratch.backend import BACKENDS  # noqa: E402
from fastscratch.cli_common import positive_int  # noqa: E402
from fastscratch.plotting import new_figure, plot_loss, save_figure  # noqa: E402

MARKERS = ("o", "x", "s", "D", "^", "v")


def parse_args(script, description, configure=None):
    """Parse --out, --quick, --backend, --data-dir, --seed, --threads (and what
    ``configure(parser)`` adds); selects the backend and thread count, seeds NumPy's global RNG
    and creates the output directory."""
    name = Path(script).stem
    parser = argparse.ArgumentParser(prog=Path(script).name, description=description)
    parser.add_argument("--out", type=Path, default=HERE / "out" / name,
                        help=f"directory for the figures (default examples/out/{name})")
    parser.add_argument("--quick", action="store_true",
                        help="tiny data and few iterations: runs in seconds, for smoke tests")
    parser.add_argument("--backend", choices=BACKENDS, default="numba")
    parser.add_argument("--data-dir", default=None,
                        help="MNIST directory (default: $FASTSCRATCH_DATA or the cache)")
    parser.add_argument("--seed", type=int, default=0, help="seed of NumPy's global RNG")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads for the kernels (default: every usable core, as "
                             "`fastscratch train`)")
    if configure is not None:
        configure(parser)
    args = parser.parse_args()
    use_backend(args.backend)
    if args.threads is not None:
        set_num_threads(args.threads)
    np.random.seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    return args


def load_data(args, one_hot_label=False):
    """MNIST as the book loads it: (x_train, t_train), (x_test, t_test), images flat in [0, 1]."""
    from fastscratch.dataset.mnist import load_mnist
    return load_mnist(normalize=True, one_hot_label=one_hot_label, data_dir=args.data_dir)


def save(fig, args, filename):
    """Write ``fig`` to args.out/filename and say so."""
    path = save_figure(fig, args.out / filename)
    print(f"wrote {path}")


def finish(args):
    print(f"done in {time.perf_counter() - args.started:.1f} s ({args.backend} backend)")


def train_together(networks, optimizers, x, t, iterations, batch_size, every=100, report=None):
    """The book's comparison loop: each iteration draws one mini-batch (np.random.choice, with
    replacement) and takes one step of every network with its optimizer on it.

    networks, optimizers: dicts with the same keys. Returns {key: loss after each step}.
    ``report(i, losses)`` is called when i % every == 0 (after step i, from i = 0).
    """
    losses = {key: [] for key in networks}
    for i in range(iterations):
        batch_mask = np.random.choice(x.shape[0], batch_size)
        x_batch, t_batch = x[batch_mask], t[batch_mask]
        for key, network in networks.items():
            grads = network.gradient(x_batch, t_batch)
            optimizers[key].update(network.params, grads)
            losses[key].append(network.loss(x_batch, t_batch))
        if report is not None and i % every == 0:
            report(i, losses)
    return losses


def print_losses(i, losses):
    """A ``report`` for train_together: the last loss of every network, as the book prints."""
    print(f"=========== iteration:{i}")
    for key, values in losses.items():
        print(f"{key}:{values[-1]:.6f}")


def loss_figure(losses, ylim, title):
    """Smoothed loss curves (one per key, the book's markers every 100 iterations)."""
    fig, ax = new_figure(size=(7, 5))
    for key, marker in zip(losses, MARKERS):
        plot_loss(ax, losses[key], label=key)
        ax.lines[-1].set(marker=marker, markevery=100)
    ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.legend()
    return fig


def compare_losses(args, networks, optimizers, ylim, title, filename):
    """The book's MNIST loss comparison: train_together with batches of 128 for 2000
    iterations (--quick: 100 on the first 2000 images), print the losses every 100 iterations
    and their means over the last 100, and plot the smoothed curves to args.out/filename."""
    (x_train, t_train), _ = load_data(args)
    iterations = 2000
    if args.quick:
        iterations, x_train, t_train = 100, x_train[:2000], t_train[:2000]
    losses = train_together(networks, optimizers, x_train, t_train, iterations, 128,
                            report=print_losses)
    for key, values in losses.items():
        print(f"{key:>10}: mean loss over the last 100 iterations {np.mean(values[-100:]):.4f}")
    save(loss_figure(losses, ylim, title), args, filename)


def accuracy_panel(ax, train_acc, test_acc, title, markevery=10):
    """Train (solid, circles) and test (dashed, squares) accuracy per epoch on ``ax``."""
    epochs = np.arange(len(train_acc))
    ax.plot(epochs, train_acc, marker="o", label="train", markevery=markevery)
    ax.plot(epochs, test_acc, marker="s", ls="--", label="test", markevery=markevery)
    ax.set_xlabel("epochs")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.0)
    ax.set_title(title)
    ax.legend(loc="lower right")


def compare_overfitting(args, builders, epochs, filename):
    """The book's overfitting setup: train on the first 300 MNIST training images with SGD
    (lr 0.01, batches of 100) for ``epochs`` epochs, once per network that ``builders``
    (title -> no-argument function) makes, and plot train/test accuracy side by side."""
    from fastscratch.trainer import Trainer
    (x_train, t_train), (x_test, t_test) = load_data(args)
    if args.quick:
        x_test, t_test = x_test[:1000], t_test[:1000]
    fig, axes = new_figure(1, len(builders), size=(5.5 * len(builders), 4.5))
    for ax, (title, build) in zip(axes[0], builders.items()):
        trainer = Trainer(build(), x_train[:300], t_train[:300], x_test, t_test, epochs=epochs,
                          mini_batch_size=100, optimizer="sgd", optimizer_param={"lr": 0.01},
                          verbose=False)
        trainer.train()
        train_acc, test_acc = trainer.train_acc_list, trainer.test_acc_list
        print(f"--- {title}")
        for epoch in sorted(set(range(0, len(train_acc), max(1, epochs // 4))) | {epochs - 1}):
            print(f"epoch {epoch:4d}: train acc {train_acc[epoch]:.4f}, test acc "
                  f"{test_acc[epoch]:.4f}, gap {train_acc[epoch] - test_acc[epoch]:.4f}")
        accuracy_panel(ax, train_acc, test_acc, title)
    save(fig, args, filename)
