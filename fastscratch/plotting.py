"""PNG figures of a training run. Uses matplotlib's object API (Figure + Agg canvas), so it never
touches pyplot's global backend or open windows."""
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .util import smooth_curve


def new_figure(nrows=1, ncols=1, size=(6.4, 4.8), **subplots):
    """(figure, axes) for a grid of nrows x ncols plots; axes is a 2-D array when either > 1
    (or when ``squeeze=False``); other keywords go to Figure.subplots (e.g. ``sharey``)."""
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    subplots.setdefault("squeeze", nrows == 1 and ncols == 1)
    axes = fig.subplots(nrows, ncols, **subplots)
    return fig, axes


def save_figure(fig, path):
    """Lay out and write ``fig`` as a PNG at ``path`` (parent directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_loss(ax, losses, label=None, smooth=True):
    """Loss per iteration on ``ax``; smoothed with the book's smooth_curve when long enough."""
    losses = np.asarray(losses, dtype=float)
    if smooth and losses.size > 11:
        losses = smooth_curve(losses)
    ax.plot(np.arange(losses.size), losses, label=label)
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")


def plot_training(history, path):
    """Loss per iteration (raw and smoothed) and train/test accuracy per epoch of a
    Trainer.history_dict(), side by side, written to ``path``."""
    fig, axes = new_figure(1, 2, size=(11, 4))
    ax_loss, ax_acc = axes[0]
    losses = np.asarray(history["train_loss"], dtype=float)
    ax_loss.plot(np.arange(losses.size), losses, color="0.8", lw=0.6, label="per step")
    plot_loss(ax_loss, losses, label="smoothed")
    ax_loss.legend()
    records = history["epochs"]
    epochs = [r["epoch"] for r in records]
    ax_acc.plot(epochs, [r["train_acc"] for r in records], "o-", label="train")
    ax_acc.plot(epochs, [r["test_acc"] for r in records], "s--", label="test")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.set_xlabel("epochs")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend(loc="lower right")
    return save_figure(fig, path)
