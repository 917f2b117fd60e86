"""One trial: train the network a configuration describes, epoch by epoch, and measure it.

``execute`` is what runs in a Dask worker (or in-process when serial). It never touches the
study's storage: it gets everything in a TrialTask and hands back a TrialResult.
"""
import contextlib
import os
import socket
import time
from dataclasses import dataclass, field

import numpy as np
import optuna

from ..multi_layer_net_extend import MultiLayerNetExtend
from ..threads import set_num_threads
from ..training import Batches, EveryEpoch, TrainingLoop
from .space import OPTIMIZERS

EVAL_BATCH = 1000  # rows per forward pass when measuring accuracy
N_CLASSES = 10


def trial_seed(seed, number):
    """The training seed of trial ``number`` in a study seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs besides the data: the trial's configuration
    (SearchSpace.suggest), its seed, the budget, its Numba/BLAS threads (None: the executor's
    choice), and for pruning the pruner and the finished trials to compare with."""

    number: int
    params: dict
    seed: int
    epochs: int
    batch_size: int
    threads: int = None
    pruner: optuna.pruners.BasePruner = None
    history: tuple = ()


@dataclass
class TrialResult:
    """What came of a task: state 'COMPLETE', 'PRUNED' or 'FAIL', accuracies per epoch, the
    error of a failure (``error_type``, the exception's class name, and ``error``,
    'Type: message'), the wall time and the host that ran it."""

    number: int
    state: str = "COMPLETE"
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    error: str = None
    error_type: str = None
    seconds: float = 0.0
    host: str = ""


def build_network(params, input_size, rng):
    """The MultiLayerNetExtend of a configuration (SearchSpace.suggest's dict)."""
    return MultiLayerNetExtend(
        input_size, [params["hidden_units"]] * params["hidden_layers"], N_CLASSES,
        weight_decay_lambda=params["weight_decay"], use_dropout=params["dropout"] > 0,
        dropout_ration=params["dropout"], use_batchnorm=params["batchnorm"], rng=rng)


def fit(params, x, t, *, seed, epochs, batch_size, on_epoch):
    """Train the network of ``params`` on (x (N, D), t (N,)) for ``epochs`` passes over shuffled
    mini-batches; ``on_epoch(network, epoch)`` runs after each pass and stops training by
    returning True. Returns the network."""
    net_rng, batch_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    network = build_network(params, x.shape[1], net_rng)
    optimizer = OPTIMIZERS[params["optimizer"]](lr=params["lr"])
    TrainingLoop(network, optimizer, x, t, Batches(len(x), batch_size, rng=batch_rng), epochs,
                 [EveryEpoch(on_epoch)], measure_loss=False).run()
    return network


def train_trial(task, split, report):
    """The default training of a trial: ``fit`` on the split's training part, calling
    ``report(train_acc, val_acc)`` after each epoch (it returns True to stop: pruned)."""
    def on_epoch(network, epoch):
        return report(network.accuracy(split.x_train, split.t_train, batch_size=EVAL_BATCH),
                      network.accuracy(split.x_val, split.t_val, batch_size=EVAL_BATCH))

    fit(task.params, split.x_train, split.t_train, seed=task.seed, epochs=task.epochs,
        batch_size=task.batch_size, on_epoch=on_epoch)


@contextlib.contextmanager
def _quiet_optuna():
    """Silence Optuna's INFO lines (e.g. 'A new study created in memory') for a moment."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _pruning_trial(task):
    """A trial in an in-memory copy of the finished trials, so the task's pruner can judge this
    trial's per-epoch validation accuracy against them without reaching the real storage."""
    with _quiet_optuna():
        study = optuna.create_study(direction="maximize", pruner=task.pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=0))
    study.add_trials(task.history)
    return study.ask()


def execute(task, split, train_fn=train_trial):
    """Run ``train_fn(task, split, report)`` on ``split`` (a Split) with the task's thread limit
    and return its TrialResult; an exception inside becomes state 'FAIL' with its error."""
    result = TrialResult(task.number, host=f"{socket.gethostname()}:{os.getpid()}")
    start = time.perf_counter()
    probe = None

    def report(train_acc, val_acc):
        result.train_acc.append(float(train_acc))
        result.val_acc.append(float(val_acc))
        if probe is None:
            return False
        probe.report(float(val_acc), len(result.val_acc) - 1)
        if probe.should_prune():
            result.state = "PRUNED"
        return result.state == "PRUNED"

    try:
        if task.threads is not None:
            set_num_threads(task.threads)
        if task.pruner is not None:
            probe = _pruning_trial(task)
        train_fn(task, split, report)
        if not result.val_acc:
            raise RuntimeError(f"train_fn {train_fn!r} reported no epoch")
    except Exception as exc:  # the trial fails, the study goes on
        result.state, result.error_type = "FAIL", type(exc).__name__
        result.error = f"{result.error_type}: {exc}"
    result.seconds = time.perf_counter() - start
    return result
