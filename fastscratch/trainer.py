"""The book's Trainer (common/trainer.py): mini-batch training of a network with one optimizer.

With the default arguments every step and every print is the book's, drawing the same batches
from NumPy's global RNG in the same order. Opt-in keywords add shuffled epochs, a tqdm bar,
batched evaluation, a per-epoch callback, a timed history that can be saved as JSON or CSV,
checkpoints (periodic, at SIGINT/SIGTERM, resumable to the same numbers) and a NaN/Inf guard.
"""
import contextlib
import csv
import json
import math
import re
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from . import checkpoint, validation
from .optimizer import OPTIMIZERS

HISTORY_FIELDS = ("epoch", "iterations", "seconds", "images_per_second", "eval_seconds",
                  "loss", "train_acc", "test_acc")


def _positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        expected = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _pair(name_x, x, name_t, t):
    """x and t as arrays after checking that they have the same number of rows (at least one)."""
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
        raise ValueError(f"{name_x} and {name_t} must have the same number of rows, got shapes "
                         f"{x.shape} and {t.shape}")
    if len(x) == 0:
        raise ValueError(f"{name_x} must have at least one row, got shape {x.shape}")
    return x, t


def parse_every(value, name="checkpoint_every"):
    """(n, 'steps' or 'epochs') from a positive int (steps) or a text such as '100', '100 steps',
    '2 epochs' or '1epoch'; None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1:
        return int(value), "steps"
    match = re.fullmatch(r"\s*([1-9][0-9]*)\s*(steps?|epochs?)?\s*", value) \
        if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{name} must be a positive int (steps) or a text such as '100 steps' "
                         f"or '2 epochs', got {value!r}")
    unit = match.group(2) or "steps"
    return int(match.group(1)), unit if unit.endswith("s") else unit + "s"


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
      eval_batch_size: rows per forward pass when measuring accuracy (None: all at once).
      on_epoch: called with each new ``history`` record after it is appended.
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
                 progress=False, eval_batch_size=1000, on_epoch=None, checkpoint_path=None,
                 checkpoint_every=None, resume=False, nan_guard=False):
        for attr in ("params", "gradient", "loss", "accuracy"):
            if not hasattr(network, attr):
                raise TypeError(f"network must have the book's params, gradient, loss and "
                                f"accuracy; {type(network).__name__} has no {attr!r}")
        self.x_train, self.t_train = _pair("x_train", x_train, "t_train", t_train)
        self.x_test, self.t_test = _pair("x_test", x_test, "t_test", t_test)
        _positive_int("epochs", epochs)
        _positive_int("mini_batch_size", mini_batch_size)
        _positive_int("evaluate_sample_num_per_epoch", evaluate_sample_num_per_epoch, True)
        _positive_int("eval_batch_size", eval_batch_size, True)
        if on_epoch is not None and not callable(on_epoch):
            raise TypeError(f"on_epoch must be callable or None, got {type(on_epoch).__name__}")
        if not (isinstance(nan_guard, bool) or nan_guard == "rollback"):
            raise ValueError(f"nan_guard must be False, True or 'rollback', got {nan_guard!r}")
        self.checkpoint_every = parse_every(checkpoint_every)
        if checkpoint_path is None and (self.checkpoint_every or resume or nan_guard == "rollback"):
            raise ValueError("checkpoint_every, resume and nan_guard='rollback' need "
                             "checkpoint_path")
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.resume = bool(resume)
        self.nan_guard = nan_guard
        self.network = network
        self.verbose = verbose
        self.epochs = int(epochs)
        self.batch_size = int(mini_batch_size)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = make_optimizer(optimizer, optimizer_param)
        self.shuffle = bool(shuffle)
        self.progress = bool(progress)
        self.eval_batch_size = eval_batch_size
        self.on_epoch = on_epoch

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
        self.history = []
        self.final_test_acc = None
        self._order = None
        self._bar = None
        self._since_record = {"seconds": 0.0, "images": 0, "first_loss": 0}
        self._stop_signal = None
        self._saved_at = None  # current_iter when the checkpoint was last written

    # ---------------------------------------------------------------- one step

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

    def train_step(self):
        """One mini-batch: gradient, optimizer update, loss (appended to train_loss_list), and
        at an epoch boundary the accuracies and a history record."""
        start = time.perf_counter()
        batch_mask = self._batch_mask()
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]

        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)

        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        self._since_record["seconds"] += time.perf_counter() - start
        self._since_record["images"] += len(batch_mask)
        if self.progress:
            self._advance_bar(len(batch_mask), loss)
        elif self.verbose:
            print("train loss:" + str(loss))

        if self._epoch_ends_here():
            if self.shuffle:
                self._close_bar()
            self._end_epoch()
        self.current_iter += 1
        if self.progress and self._epoch_of(self.current_iter) != self._epoch_of(
                self.current_iter - 1):
            self._close_bar()

    def _end_epoch(self):
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
        self._record(train_acc, test_acc, time.perf_counter() - start)
        if self.verbose:
            self._say("=== epoch:" + str(self.current_epoch) + ", train acc:" + str(train_acc)
                      + ", test acc:" + str(test_acc) + " ===")
        if self.on_epoch is not None:
            self.on_epoch(self.history[-1])

    def _record(self, train_acc, test_acc, eval_seconds):
        """Append the history record of the steps since the previous one."""
        since = self._since_record
        losses = self.train_loss_list[since["first_loss"]:]
        seconds = since["seconds"]
        self.history.append({
            "epoch": self.current_epoch,
            "iterations": self.current_iter + 1,
            "seconds": seconds,
            "images_per_second": since["images"] / seconds if seconds > 0 else float("nan"),
            "eval_seconds": eval_seconds,
            "loss": float(np.mean(losses)),
            "train_acc": float(train_acc),
            "test_acc": float(test_acc),
        })
        self._since_record = {"seconds": 0.0, "images": 0,
                              "first_loss": len(self.train_loss_list)}

    # ---------------------------------------------------------------- the whole run

    def train(self):
        """The steps up to max_iter (all of them, unless resumed), then the accuracy on the whole
        test set (``final_test_acc``)."""
        with self._stop_on_signals():
            if self.resume and self.checkpoint_path.exists():
                self.load_checkpoint()
            elif self.checkpoint_path is not None:
                self.save_checkpoint()
            while self.current_iter < self.max_iter:
                epoch = self.current_epoch
                self.train_step()
                self._after_step(epoch)
            if self.checkpoint_path is not None and self._saved_at != self.current_iter:
                self.save_checkpoint()
            if self._stop_signal is not None:  # arrived after the last step's check
                self._stop()
        self._close_bar()

        test_acc = self.accuracy(self.x_test, self.t_test)
        self.final_test_acc = float(test_acc)

        if self.verbose:
            print("=============== " + "Final Test Accuracy" + " ===============")
            print("test acc:" + str(test_acc))

    def accuracy(self, x, t):
        """network.accuracy(x, t) computed eval_batch_size rows at a time."""
        n = x.shape[0]
        step = self.eval_batch_size or n
        if step >= n:
            return float(self.network.accuracy(x, t))
        correct = 0
        for i in range(0, n, step):
            rows = min(step, n - i)
            correct += round(float(self.network.accuracy(x[i:i + step], t[i:i + step])) * rows)
        return correct / n

    # ---------------------------------------------------------------- checkpoints, guard, signals

    def _after_step(self, epoch_before):
        """The NaN/Inf guard, a periodic checkpoint when due, and a stop asked for by a signal."""
        if self.nan_guard:
            self._check_finite()
        if self.checkpoint_every is not None:
            n, unit = self.checkpoint_every
            if unit == "steps" and self.current_iter % n == 0 or unit == "epochs" and \
                    self.current_epoch != epoch_before and self.current_epoch % n == 0:
                self.save_checkpoint()
        if self._stop_signal is not None:
            self._stop()

    def _check_finite(self):
        loss = self.train_loss_list[-1]
        bad = [] if math.isfinite(loss) else [f"the loss is {loss}"]
        for key, p in self.network.params.items():
            idx = validation.first_nonfinite(np.ascontiguousarray(p))
            if idx is not None:
                bad.append(f"the first non-finite parameter is {key}{list(idx)} = {p[idx]}")
                break
        if not bad:
            return
        message = f"step {self.current_iter}: " + "; ".join(bad)
        if self.nan_guard == "rollback":
            self.load_checkpoint()
            message += (f"; rolled back to the checkpoint of step {self.current_iter} "
                        f"({self.checkpoint_path})")
        raise FloatingPointError(message)

    def _stop(self):
        """Write the checkpoint (if there is a path) and stop as the signal asked."""
        signum, self._stop_signal = self._stop_signal, None
        message = f"{signal.Signals(signum).name}: stopped after step {self.current_iter}"
        if self.checkpoint_path is not None:
            if self._saved_at != self.current_iter:
                self.save_checkpoint()
            message += f"; checkpoint in {self.checkpoint_path} (resume with resume=True)"
        self._close_bar()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt(message)
        print(message, file=sys.stderr)
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """While training (main thread only): SIGINT/SIGTERM ask for a stop after this step."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ask_to_stop(signum, frame):
            if self._stop_signal == signal.SIGINT == signum:
                raise KeyboardInterrupt("second SIGINT: stopped at once")
            self._stop_signal = signum

        previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _state(self):
        """This trainer's part of a checkpoint (JSON values and the epoch order array)."""
        return {"settings": self._settings(), "current_iter": self.current_iter,
                "current_epoch": self.current_epoch,
                "train_loss_list": [float(v) for v in self.train_loss_list],
                "train_acc_list": self.train_acc_list, "test_acc_list": self.test_acc_list,
                "history": self.history, "since_record": self._since_record,
                "order": self._order}

    def save_checkpoint(self, path=None):
        """Write network, optimizer, RNG states and this trainer's state to path (default
        checkpoint_path)."""
        checkpoint.save_checkpoint(path or self.checkpoint_path, self.network, self.optimizer,
                                   extra={"trainer": self._state()})
        self._saved_at = self.current_iter

    def load_checkpoint(self, path=None):
        """Restore what save_checkpoint wrote; the data settings must be the same (epochs may
        differ, to train for longer)."""
        path = path or self.checkpoint_path
        loaded = {}

        def accept(extra):
            state = (extra or {}).get("trainer")
            if state is None:
                raise checkpoint.CheckpointError(f"{path} holds no Trainer state")
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
        self.history, self._since_record = loaded["history"], loaded["since_record"]
        self._order = loaded["order"]
        self._saved_at = self.current_iter

    # ---------------------------------------------------------------- progress display

    def _epoch_of(self, iteration):
        return int(iteration // self.iter_per_epoch)

    def _advance_bar(self, images, loss):
        if self._bar is None:
            from tqdm.auto import tqdm
            epoch = self._epoch_of(self.current_iter)
            first = self.current_iter
            last = min(math.ceil((epoch + 1) * self.iter_per_epoch), self.max_iter)
            total = self.train_size if self.shuffle else (last - first) * self.batch_size
            self._bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{self.epochs}", unit="img",
                             unit_scale=True, leave=False)
        self._bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
        self._bar.update(images)

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _say(self, message):
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message)

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
        return {
            "epochs": [dict(r) for r in self.history],
            "train_loss": [float(v) for v in self.train_loss_list],
            "final_test_acc": self.final_test_acc,
            "settings": self._settings(),
        }

    def save_history(self, path):
        """Write history_dict() as JSON (``*.json``) or the per-epoch records as CSV (``*.csv``)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise ValueError(f"path must end in .json or .csv, got {str(path)!r}")
        if suffix == ".json":
            path.write_text(json.dumps(self.history_dict(), indent=1) + "\n")
            return
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(self.history)


def load_history(path):
    """Read a file written by Trainer.save_history: the history_dict for JSON, or
    {'epochs': records} with numbers restored for CSV."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return json.loads(path.read_text())
    if path.suffix.lower() != ".csv":
        raise ValueError(f"path must end in .json or .csv, got {str(path)!r}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {"epochs": [{k: (int(v) if k in ("epoch", "iterations") else float(v))
                        for k, v in row.items()} for row in rows]}
