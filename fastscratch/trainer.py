"""The book's Trainer (common/trainer.py): mini-batch training of a network with one optimizer,
on the training loop of training.py.

With the default arguments every step and every print is the book's, drawing the same batches
from NumPy's global RNG in the same order. ``options`` (TrainOptions) adds shuffled epochs, a
progress bar (``progress.py``), batched evaluation and a batch generator of its own;
``callbacks`` (training.py's protocol) add per-epoch reports, checkpoints with resume
(run_control.Checkpoint), a NaN/Inf guard, step and time limits. Every run keeps a timed history
(``history.py``) and stops cleanly at SIGINT/SIGTERM (run_control.SignalStop).
"""
import inspect
import math
import time
from dataclasses import dataclass

import numpy as np

from . import validation
from .network import LayeredNet
from .history import EpochRecords, history_dict, save_history
from .optimizer import OPTIMIZERS
from .progress import EpochBar
from .run_control import Checkpoint, SignalStop
from .training import Batches, Callback, TrainingLoop, paired

# Trainer keywords of earlier versions and what replaced them
_CALLBACKS = "callbacks=[Checkpoint(path, every=..., resume=...)] (fastscratch.run_control)"
_REPLACED = {
    "shuffle": "options=TrainOptions(shuffle=...)",
    "progress": "options=TrainOptions(progress=...)",
    "eval_batch_size": "options=TrainOptions(eval_batch_size=...)",
    "on_epoch": "callbacks=[a Callback whose on_epoch(trainer) reads trainer.history[-1]] "
                "(fastscratch.training)",
    "checkpoint_path": _CALLBACKS, "checkpoint_every": _CALLBACKS, "resume": _CALLBACKS,
    "nan_guard": "callbacks=[NanGuard()] (fastscratch.training; 'rollback' is "
                 "NanGuard(rollback=checkpoint), listed before that Checkpoint)",
}


def make_optimizer(optimizer, optimizer_param):
    """An optimizer from a name in OPTIMIZERS (any case) and its keyword arguments, or the given
    instance itself (anything with ``update(params, grads)``; optimizer_param is then unused)."""
    if not isinstance(optimizer, str):
        if not callable(getattr(optimizer, "update", None)):
            raise TypeError("optimizer must be a name or an object with update(params, grads), "
                            f"got {type(optimizer).__name__}")
        return optimizer
    cls = OPTIMIZERS.get(optimizer.lower())
    if cls is None:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (any case), "
                         f"got {optimizer!r}")
    if not isinstance(optimizer_param, dict):
        raise TypeError(f"optimizer_param must be a dict, got {type(optimizer_param).__name__}")
    try:
        return cls(**optimizer_param)
    except TypeError as exc:
        raise TypeError(f"optimizer_param {optimizer_param!r} does not fit {cls.__name__}: "
                        f"{exc}") from None


def _book_network(network):
    for attr in ("params", "gradient", "loss", "accuracy"):
        if not hasattr(network, attr):
            raise TypeError(f"network must have the book's params, gradient, loss and "
                            f"accuracy; {type(network).__name__} has no {attr!r}")
    return network


@dataclass(frozen=True)
class TrainOptions:
    """Trainer's settings beyond the book's arguments.

    shuffle: epochs without replacement, one permutation per epoch; iter_per_epoch is then
      ``ceil(train_size / mini_batch_size)`` (the last batch may be smaller) and accuracy is
      measured after the last step of each epoch.
    progress: a tqdm bar per epoch (loss, images/s) instead of the per-step prints.
    eval_batch_size: rows per forward pass when measuring accuracy (None: all at once); it is
      passed as ``batch_size`` to fastscratch's own nets (every row counts, so the accuracy does
      not depend on it); any other network is called as the book's Trainer calls it,
      ``network.accuracy(x, t)``.
    rng: a numpy.random.Generator to draw the batches from (None: NumPy's global RNG, as the
      book's Trainer draws).
    loss_pass: True: the book's ``network.loss`` of each batch after its update, an extra
      forward pass; False: train_loss_list holds the training-mode loss of each step's own
      gradient pass (before the update) instead, at no cost (fastscratch's nets; another net
      is measured as with True).
    """

    shuffle: bool = False
    progress: bool = False
    eval_batch_size: int = 1000
    rng: np.random.Generator = None
    loss_pass: bool = True


class _BookReport(Callback):
    """The book's per-step print (or the progress bar), and at each epoch's end the accuracies,
    a history record and the book's epoch print."""

    def __init__(self):
        self.bar = EpochBar()

    def on_step(self, trainer):
        step = trainer.current_iter - 1
        loss = trainer.train_loss_list[-1]
        trainer._epochs.add_step(trainer.step_seconds, trainer.step_rows)
        if trainer.progress:
            self.bar.advance(trainer.step_rows, loss, *trainer._bar_size(step))
        elif trainer.verbose:
            print("train loss:" + str(loss))
        if trainer.batches.epoch_of(step + 1) != trainer.batches.epoch_of(step):
            self.bar.close()

    def on_epoch(self, trainer):
        trainer._evaluate(self.bar)


class Trainer(TrainingLoop):
    """Trains ``network`` (the book's interface: params, gradient, loss, accuracy) for
    ``epochs`` epochs of mini-batches of ``mini_batch_size`` rows of x_train/t_train.

    Book semantics (the defaults): ``iter_per_epoch = max(train_size / mini_batch_size, 1)``,
    ``max_iter = int(epochs * iter_per_epoch)``, each step draws
    ``np.random.choice(train_size, mini_batch_size)`` (with replacement) and accuracy is measured
    after the steps whose index is a multiple of iter_per_epoch.

    Keyword-only extras: ``options`` (TrainOptions: shuffle, progress, eval_batch_size, rng) and
    ``callbacks`` (training.py's protocol, called after this trainer's own per-step print and
    per-epoch evaluation, so ``trainer.history[-1]`` is the epoch's record), e.g.
    ``[NanGuard(rollback=ck), ck]`` with ``ck = Checkpoint("ck.npz", every="2 epochs",
    resume=True)``. At SIGINT or SIGTERM train() finishes the current step, writes the
    checkpoint (if one is among the callbacks), restores the previous signal handlers and
    raises KeyboardInterrupt (SIGINT; a second SIGINT stops at once) or SystemExit(128 + signal
    number) (SIGTERM); the handlers are installed only while train() runs, in the main thread.
    """

    STATE_KEYS = TrainingLoop.STATE_KEYS + ("train_acc_list", "test_acc_list", "history",
                                            "since_record")

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param={"lr": 0.01},  # noqa: B006 (never changed)
                 evaluate_sample_num_per_epoch=None, verbose=True, *, options=None,
                 callbacks=(), **replaced):
        unknown = [k for k in replaced if k not in _REPLACED]
        if unknown:
            raise TypeError(f"Trainer() got an unexpected keyword argument {unknown[0]!r}")
        if replaced:
            raise TypeError("Trainer no longer takes " + "; ".join(
                f"{k}= (use {_REPLACED[k]})" for k in replaced))
        network = _book_network(network)
        self.verbose = verbose
        x_train, t_train = paired("x_train", x_train, "t_train", t_train)
        self.x_test, self.t_test = paired("x_test", x_test, "t_test", t_test)
        epochs = validation.positive_int("epochs", epochs)
        self.batch_size = validation.positive_int("mini_batch_size", mini_batch_size)
        self.evaluate_sample_num_per_epoch = validation.positive_int(
            "evaluate_sample_num_per_epoch", evaluate_sample_num_per_epoch, none_ok=True)
        optimizer = make_optimizer(optimizer, optimizer_param)
        options = TrainOptions() if options is None else options
        if not isinstance(options, TrainOptions):
            raise TypeError(f"options must be a TrainOptions or None, got "
                            f"{type(options).__name__}")
        self.shuffle = bool(options.shuffle)
        self.progress = bool(options.progress)
        self.eval_batch_size = validation.positive_int("eval_batch_size",
                                                       options.eval_batch_size, none_ok=True)
        self.train_size = x_train.shape[0]
        batches = Batches(self.train_size, self.batch_size, replace=not self.shuffle,
                          rng=options.rng)
        if isinstance(callbacks, Callback) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks must be a list of callbacks, got "
                            f"{type(callbacks).__name__}")
        callbacks = list(callbacks)
        self._report = _BookReport()
        self._checkpoint = next((c for c in callbacks if isinstance(c, Checkpoint)), None)
        super().__init__(network, optimizer, x_train, t_train, batches, epochs,
                         [self._report, *callbacks, SignalStop(self._checkpoint)],
                         measure_loss=True if options.loss_pass else "gradient")
        self.train_acc_list = []
        self.test_acc_list = []
        self.final_test_acc = None
        self._epochs = EpochRecords()

    @property
    def history(self):
        """One record (HISTORY_FIELDS) per evaluation."""
        return self._epochs.records

    def train(self):
        """The steps up to max_iter (all of them, unless resumed or stopped by a callback),
        then the accuracy on the whole test set (``final_test_acc``)."""
        try:
            self.run()
        finally:
            self._report.bar.close()

        test_acc = self.accuracy(self.x_test, self.t_test)
        self.final_test_acc = float(test_acc)

        if self.verbose:
            print("=============== " + "Final Test Accuracy" + " ===============")
            print("test acc:" + str(test_acc))

    def accuracy(self, x, t):
        """network.accuracy(x, t), eval_batch_size rows at a time for fastscratch's own nets.
        Any other network gets exactly the book's call, and its result is kept as it is: its
        own accuracy may batch differently (the book's conv nets leave out a last partial
        batch of their batch_size)."""
        ours = isinstance(self.network, LayeredNet)
        if ours and self.eval_batch_size is not None and \
                "batch_size" in inspect.signature(self.network.accuracy).parameters:
            return float(self.network.accuracy(x, t, batch_size=self.eval_batch_size))
        accuracy = self.network.accuracy(x, t)
        return float(accuracy) if ours else accuracy  # the book keeps what its net returns

    # ---------------------------------------------------------------- epochs

    def _bar_size(self, step):
        """(name, images) of the progress bar of the epoch of step ``step``."""
        epoch = self.batches.epoch_of(step)
        last = min(math.ceil((epoch + 1) * self.iter_per_epoch), self.max_iter)
        total = self.train_size if self.shuffle else (last - step) * self.batch_size
        return f"epoch {epoch + 1}/{self.epochs}", total

    def _evaluate(self, bar):
        """The book's per-epoch accuracies (on evaluate_sample_num_per_epoch rows when given),
        a history record and the book's epoch print (above the progress bar)."""
        start = time.perf_counter()
        x_train, t_train = self.x_train, self.t_train
        x_test, t_test = self.x_test, self.t_test
        n = self.evaluate_sample_num_per_epoch
        if n is not None:
            x_train, t_train = x_train[:n], t_train[:n]
            x_test, t_test = x_test[:n], t_test[:n]
        train_acc = self.accuracy(x_train, t_train)
        test_acc = self.accuracy(x_test, t_test)
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        self._epochs.record(self.current_epoch, self.current_iter, self.train_loss_list,
                            train_acc, test_acc, time.perf_counter() - start)
        if self.verbose:
            bar.write("=== epoch:" + str(self.current_epoch) + ", train acc:"
                      + str(train_acc) + ", test acc:" + str(test_acc) + " ===")

    # ---------------------------------------------------------------- checkpoints

    def save_checkpoint(self, path=None):
        """TrainingLoop.save_checkpoint to path (default: the path of the Checkpoint among the
        callbacks)."""
        super().save_checkpoint(self._path(path))

    def load_checkpoint(self, path=None):
        """TrainingLoop.load_checkpoint from path (default: the path of the Checkpoint among
        the callbacks)."""
        super().load_checkpoint(self._path(path))

    def state(self):
        """The loop's state, the accuracy lists and the history records."""
        return {**super().state(), "train_acc_list": self.train_acc_list,
                "test_acc_list": self.test_acc_list, **self._epochs.state()}

    def load_state(self, state):
        """Restore what ``state`` returned."""
        super().load_state(state)
        self.train_acc_list = state["train_acc_list"]
        self.test_acc_list = state["test_acc_list"]
        self._epochs.load_state(state)

    def _path(self, path):
        if path is None and self._checkpoint is None:
            raise ValueError("path is needed: no Checkpoint among this Trainer's callbacks")
        return self._checkpoint.path if path is None else path

    # ---------------------------------------------------------------- history

    def settings(self):
        """The loop's settings and the test set's size."""
        return {**super().settings(), "test_size": len(self.x_test)}

    def history_dict(self):
        """{'epochs': per-epoch records (HISTORY_FIELDS), 'train_loss': the loss of every step,
        'final_test_acc': float or None, 'settings': batch size, optimizer, ...} (JSON-ready)."""
        return history_dict(self.history, self.train_loss_list, self.final_test_acc,
                            self.settings())

    def save_history(self, path):
        """Write history_dict() as JSON (``*.json``) or the per-epoch records as CSV (``*.csv``)."""
        save_history(path, self.history_dict())
