"""The book's Trainer (common/trainer.py): mini-batch training of a network with one optimizer.

With the default arguments every step and every print is the book's, drawing the same batches
from NumPy's global RNG in the same order. Opt-in keywords add shuffled epochs, a tqdm bar,
batched evaluation, a per-epoch callback and a timed history that can be saved as JSON or CSV.
"""
import csv
import json
import math
import time
from pathlib import Path

import numpy as np

from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}
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
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param={"lr": 0.01},  # noqa: B006 (never changed)
                 evaluate_sample_num_per_epoch=None, verbose=True, *, shuffle=False,
                 progress=False, eval_batch_size=1000, on_epoch=None):
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
        """All max_iter steps, then the accuracy on the whole test set (``final_test_acc``)."""
        for _ in range(self.max_iter):
            self.train_step()
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

    def history_dict(self):
        """{'epochs': per-epoch records (HISTORY_FIELDS), 'train_loss': the loss of every step,
        'final_test_acc': float or None, 'settings': batch size, optimizer, ...} (JSON-ready)."""
        return {
            "epochs": [dict(r) for r in self.history],
            "train_loss": [float(v) for v in self.train_loss_list],
            "final_test_acc": self.final_test_acc,
            "settings": {"epochs": self.epochs, "mini_batch_size": self.batch_size,
                         "optimizer": type(self.optimizer).__name__,
                         "train_size": int(self.train_size), "test_size": len(self.x_test),
                         "shuffle": self.shuffle, "iter_per_epoch": self.iter_per_epoch,
                         "max_iter": self.max_iter},
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
