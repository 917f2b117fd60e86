"""The book's Trainer (common/trainer.py): mini-batch training of a network with one optimizer.

With the default arguments every step and every print is the book's, drawing the same batches
from NumPy's global RNG in the same order. Opt-in keywords add shuffled epochs, a progress bar
(``progress.py``), batched evaluation, a per-epoch callback, a timed history (``history.py``),
and checkpoints with resume, a stop at SIGINT/SIGTERM and a NaN/Inf guard (``run_control.py``).
"""
import inspect
import math
import time

import numpy as np

from . import checkpoint, validation
from ._net import LayeredNet
from .history import EpochRecords, history_dict, save_history
from .optimizer import OPTIMIZERS
from .progress import EpochBar
from .run_control import RunControl

# what save_checkpoint keeps of a Trainer (besides the network and optimizer) in ``extra``
_STATE_KEYS = ("settings", "current_iter", "current_epoch", "train_loss_list", "train_acc_list",
               "test_acc_list", "history", "since_record", "order")


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


def _pair(name_x, x, name_t, t):
    """x and t as arrays after checking that they have the same number of rows (at least one)."""
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
        raise ValueError(f"{name_x} and {name_t} must have the same number of rows, got shapes "
                         f"{x.shape} and {t.shape}")
    if len(x) == 0:
        raise ValueError(f"{name_x} must have at least one row, got shape {x.shape}")
    return x, t


class Trainer:
    """Trains ``network`` (the book's interface: params, gradient, loss, accuracy) for
    ``epochs`` epochs of mini-batches of ``mini_batch_size`` rows of x_train/t_train.

    Book semantics (the defaults): ``iter_per_epoch = max(train_size / mini_batch_size, 1)``,
    ``max_iter = int(epochs * iter_per_epoch)``, each step draws
    ``np.random.choice(train_size, mini_batch_size)`` (with replacement) and accuracy is measured
    after the steps whose index is a multiple of iter_per_epoch.

    Opt-in keywords:
      shuffle: epochs without replacement, one ``np.random.permutation`` per epoch;
        iter_per_epoch is then ``ceil(train_size / mini_batch_size)`` (the last batch may be
        smaller) and accuracy is measured after the last step of each epoch.
      progress: a tqdm bar per epoch (loss, images/s) instead of the per-step prints.
      eval_batch_size: rows per forward pass when measuring accuracy (None: all at once); it is
        passed as ``batch_size`` to fastscratch's own nets (every row counts, so the accuracy
        does not depend on it); any other network is called as the book's Trainer calls it,
        ``network.accuracy(x, t)``.
      on_epoch: called with each new ``history`` record after it is appended.
      lr_schedule: a callable (e.g. ``schedules.LRSchedule``) giving the learning rate of step
        i (0-based); before each update ``optimizer.lr`` is set to ``lr_schedule(i)``.
      checkpoint_path: where train() keeps a checkpoint (fastscratch.checkpoint: network,
        optimizer, RNG states and this trainer's counters, lists and epoch order). It is written
        when training starts, every ``checkpoint_every`` steps or epochs (parse_every), at the
        end, and when SIGINT or SIGTERM arrives: train() then finishes the current step, writes
        the checkpoint, restores the previous signal handlers and raises KeyboardInterrupt
        (SIGINT; a second SIGINT stops at once) or SystemExit(128 + signal number) (SIGTERM).
        The handlers are installed only while train() runs, and only in the main thread.
      resume: train() first loads checkpoint_path if it exists and continues from there: with
        the same data and settings the run ends exactly as an uninterrupted one.
      nan_guard: after every step check that the loss and every parameter are finite; on failure
        raise FloatingPointError naming the step and the first bad parameter. 'rollback' also
        loads the last checkpoint first, leaving the network at its last good state.
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param={"lr": 0.01},  # noqa: B006 (never changed)
                 evaluate_sample_num_per_epoch=None, verbose=True, *, shuffle=False,
                 progress=False, eval_batch_size=1000, on_epoch=None, lr_schedule=None,
                 checkpoint_path=None, checkpoint_every=None, resume=False, nan_guard=False):
        self.network = _book_network(network)
        self.verbose = verbose
        self.x_train, self.t_train = _pair("x_train", x_train, "t_train", t_train)
        self.x_test, self.t_test = _pair("x_test", x_test, "t_test", t_test)
        self.epochs = validation.positive_int("epochs", epochs)
        self.batch_size = validation.positive_int("mini_batch_size", mini_batch_size)
        self.evaluate_sample_num_per_epoch = validation.positive_int(
            "evaluate_sample_num_per_epoch", evaluate_sample_num_per_epoch, none_ok=True)
        self.optimizer = make_optimizer(optimizer, optimizer_param)

        self.shuffle = bool(shuffle)
        self.train_size = self.x_train.shape[0]
        if self.shuffle:
            self.iter_per_epoch = math.ceil(self.train_size / self.batch_size)
        else:
            self.iter_per_epoch = max(self.train_size / self.batch_size, 1)
        self.max_iter = int(self.epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0

        self.train_loss_list = []
        self.train_acc_list = []
        self.test_acc_list = []
        self.final_test_acc = None

        self.progress = bool(progress)
        self.eval_batch_size = validation.positive_int("eval_batch_size", eval_batch_size,
                                                       none_ok=True)
        if on_epoch is not None and not callable(on_epoch):
            raise TypeError(f"on_epoch must be callable or None, got {type(on_epoch).__name__}")
        self.on_epoch = on_epoch
        if lr_schedule is not None and not (callable(lr_schedule)
                                            and hasattr(self.optimizer, "lr")):
            raise TypeError("lr_schedule must be callable (step -> learning rate) and the "
                            "optimizer must have an lr attribute, got "
                            f"{type(lr_schedule).__name__} and {type(self.optimizer).__name__}")
        self.lr_schedule = lr_schedule
        self.control = RunControl(checkpoint_path, checkpoint_every, resume, nan_guard)
        self._epochs = EpochRecords()
        self._bar = EpochBar()
        self._order = None  # this epoch's permutation (shuffle)

    @property
    def history(self):
        """One record (HISTORY_FIELDS) per evaluation."""
        return self._epochs.records

    # ---------------------------------------------------------------- the book's loop

    def train_step(self):
        """One mini-batch: gradient, optimizer update, loss (appended to train_loss_list), and
        at an epoch boundary the accuracies and a history record."""
        start = time.perf_counter()
        batch_mask = self._batch_mask()
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]

        grads = self.network.gradient(x_batch, t_batch)
        if self.lr_schedule is not None:
            self.optimizer.lr = self.lr_schedule(self.current_iter)
        self.optimizer.update(self.network.params, grads)

        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        self._epochs.add_step(time.perf_counter() - start, len(batch_mask))
        if self.progress:
            self._bar.advance(len(batch_mask), loss, *self._bar_size())
        elif self.verbose:
            print("train loss:" + str(loss))
        if self._epoch_of(self.current_iter + 1) != self._epoch_of(self.current_iter):
            self._bar.close()

        if self._epoch_ends_here():
            self._end_epoch()
        self.current_iter += 1

    def train(self):
        """The steps up to max_iter (all of them, unless resumed), then the accuracy on the whole
        test set (``final_test_acc``)."""
        try:
            with self.control.running(self):
                while self.current_iter < self.max_iter:
                    epoch = self.current_epoch
                    self.train_step()
                    self.control.after_step(self, epoch)
        finally:
            self._bar.close()

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

    def _batch_mask(self):
        """Row indices of the next mini-batch."""
        if not self.shuffle:
            return np.random.choice(self.train_size, self.batch_size)
        j = self.current_iter % self.iter_per_epoch
        if j == 0:
            self._order = np.random.permutation(self.train_size)
        return self._order[j * self.batch_size:(j + 1) * self.batch_size]

    def _epoch_ends_here(self):
        if self.shuffle:
            return (self.current_iter + 1) % self.iter_per_epoch == 0
        return self.current_iter % self.iter_per_epoch == 0

    def _epoch_of(self, iteration):
        return int(iteration // self.iter_per_epoch)

    def _bar_size(self):
        """(name, images) of the progress bar of the epoch of the current step."""
        epoch = self._epoch_of(self.current_iter)
        last = min(math.ceil((epoch + 1) * self.iter_per_epoch), self.max_iter)
        total = self.train_size if self.shuffle else (last - self.current_iter) * self.batch_size
        return f"epoch {epoch + 1}/{self.epochs}", total

    def _end_epoch(self):
        """The book's per-epoch accuracies (on evaluate_sample_num_per_epoch rows when given),
        a history record and the on_epoch call."""
        self.current_epoch += 1
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
        record = self._epochs.record(self.current_epoch, self.current_iter + 1,
                                     self.train_loss_list, train_acc, test_acc,
                                     time.perf_counter() - start)
        if self.verbose:
            self._bar.write("=== epoch:" + str(self.current_epoch) + ", train acc:"
                            + str(train_acc) + ", test acc:" + str(test_acc) + " ===")
        if self.on_epoch is not None:
            self.on_epoch(record)

    # ---------------------------------------------------------------- checkpoints

    def save_checkpoint(self, path=None):
        """Write network, optimizer, RNG states and this trainer's state to path (default
        checkpoint_path)."""
        state = {"settings": self._settings(), "current_iter": self.current_iter,
                 "current_epoch": self.current_epoch,
                 "train_loss_list": [float(v) for v in self.train_loss_list],
                 "train_acc_list": self.train_acc_list, "test_acc_list": self.test_acc_list,
                 **self._epochs.state(), "order": self._order}
        checkpoint.save_checkpoint(path or self.control.path, self.network, self.optimizer,
                                   extra={"trainer": state})

    def load_checkpoint(self, path=None):
        """Restore what save_checkpoint wrote; the data settings must be the same (epochs may
        differ, to train for longer)."""
        path = path or self.control.path
        loaded = {}

        def accept(extra):
            state = extra.get("trainer") if isinstance(extra, dict) else None
            if not isinstance(state, dict):
                raise checkpoint.CheckpointError(f"{path} holds no Trainer state")
            missing = [key for key in _STATE_KEYS if key not in state]
            if missing:
                raise checkpoint.CheckpointError(f"{path}: its Trainer state lacks {missing}")
            if not isinstance(state["settings"], dict):
                raise checkpoint.CheckpointError(f"{path}: its Trainer settings must be a dict, "
                                                 f"got {type(state['settings']).__name__}")
            now = self._settings()
            diffs = [f"{k}: checkpoint {v!r}, now {now.get(k)!r}"
                     for k, v in state["settings"].items()
                     if k not in ("epochs", "max_iter") and now.get(k) != v]
            if diffs:
                raise checkpoint.CheckpointError(f"{path} was written by a Trainer with other "
                                                 "settings:\n  " + "\n  ".join(diffs))
            loaded.update(state)

        checkpoint.load_checkpoint(path, self.network, self.optimizer, accept=accept)
        self.current_iter, self.current_epoch = loaded["current_iter"], loaded["current_epoch"]
        self.train_loss_list = loaded["train_loss_list"]
        self.train_acc_list = loaded["train_acc_list"]
        self.test_acc_list = loaded["test_acc_list"]
        self._epochs.load_state(loaded)
        self._order = loaded["order"]

    # ---------------------------------------------------------------- history

    def _settings(self):
        return {"epochs": self.epochs, "mini_batch_size": self.batch_size,
                "optimizer": type(self.optimizer).__name__,
                "train_size": int(self.train_size), "test_size": len(self.x_test),
                "shuffle": self.shuffle, "iter_per_epoch": self.iter_per_epoch,
                "max_iter": self.max_iter}

    def history_dict(self):
        """{'epochs': per-epoch records (HISTORY_FIELDS), 'train_loss': the loss of every step,
        'final_test_acc': float or None, 'settings': batch size, optimizer, ...} (JSON-ready)."""
        return history_dict(self.history, self.train_loss_list, self.final_test_acc,
                            self._settings())

    def save_history(self, path):
        """Write history_dict() as JSON (``*.json``) or the per-epoch records as CSV (``*.csv``)."""
        save_history(path, self.history_dict())
