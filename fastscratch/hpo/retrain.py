"""The last step of the book's recipe: retrain the best configuration on the whole training set
and measure it once on the test set."""
import time

import numpy as np
from optuna.trial import TrialState

from ..dataset.mnist import load_mnist
from .study import study_config
from .trial import EVAL_BATCH, fit, trial_seed


def _chosen_trial(study, number):
    """The best completed trial, or the completed trial ``number``."""
    done = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    if not done:
        raise ValueError(f"study {study.study_name!r} has no completed trial to retrain")
    if number is None:
        return study.best_trial
    if number not in done:
        raise ValueError(f"trial must be the number of a completed trial ({sorted(done)}), "
                         f"got {number!r}")
    return done[number]


def retrain_best(study, *, trial=None, epochs=None, train_size=None, data_dir=None):
    """Train the configuration of the best completed trial (or of trial number ``trial``) for
    ``epochs`` (default: the study's) on MNIST's whole training set (or a shuffled subset of
    ``train_size`` rows), then evaluate it once on the test set.

    Returns a dict: trial, config, epochs, train_size, train_acc (one per epoch), test_acc,
    seconds.
    """
    chosen = _chosen_trial(study, trial)
    config = study_config(study)
    epochs = config.epochs if epochs is None else epochs
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1 or None, got {epochs!r}")
    (x, t), (x_test, t_test) = load_mnist(normalize=True, flatten=True, data_dir=data_dir,
                                          progress=False)
    if train_size is not None:
        if not isinstance(train_size, int) or not 1 <= train_size <= len(x):
            raise ValueError(f"train_size must be an int in [1, {len(x)}] or None, got "
                             f"{train_size!r}")
        rows = np.random.default_rng(config.seed).permutation(len(x))[:train_size]
        x, t = x[rows], t[rows]
    train_acc = []
    start = time.perf_counter()
    network = fit(chosen.user_attrs["config"], x, t, seed=trial_seed(config.seed, chosen.number),
                  epochs=epochs, batch_size=config.batch_size,
                  on_epoch=lambda net, epoch: train_acc.append(
                      net.accuracy(x, t, batch_size=EVAL_BATCH)))
    return {"trial": chosen.number, "config": chosen.user_attrs["config"], "epochs": epochs,
            "train_size": len(x), "train_acc": train_acc,
            "test_acc": network.accuracy(x_test, t_test, batch_size=EVAL_BATCH),
            "seconds": time.perf_counter() - start}
