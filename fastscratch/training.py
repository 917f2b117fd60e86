"""The one training loop: each step trains ``network`` on a mini-batch of (x, t) with
``optimizer`` (``network.gradient``, ``optimizer.update``), and callbacks watch the steps and
epochs and may stop the run. Trainer (trainer.py, hence ``fastscratch train``), the hpo trials
and the epoch benchmark all run on TrainingLoop.

The callback protocol: a callback is any object with some of these methods (``Callback`` has
them all, doing nothing); each gets the running TrainingLoop (``network``, ``optimizer``,
``current_iter`` steps done, ``current_epoch`` epochs done, ``train_loss_list``, ...):

  on_start(loop)            before the first step of ``run`` (a resume has loaded its state here)
  on_step(loop)             after every step
  on_epoch(loop)            after on_step, when the step ended an epoch
  on_end(loop, finished)    once when ``run`` ends: finished is True when the steps ran out or a
                            callback stopped the run, False when an exception is on its way out
                            (every callback gets it, also after an earlier on_end raised)

A truthy return of on_step or on_epoch stops the run after this step (the callbacks after it
still get this step's calls). Callbacks are called in list order, each one's on_step before its
on_epoch; a callback may also raise to end the run (NanGuard raises FloatingPointError).
The stock callbacks: NanGuard, MaxSteps, TimeBudget (here), Checkpoint and SignalStop
(run_control.py).
"""
import math
import time

import numpy as np

from . import checkpoint, validation


def paired(name_x, x, name_t, t):
    """x and t as arrays after checking that they have the same number of rows (at least one)."""
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
        raise ValueError(f"{name_x} and {name_t} must have the same number of rows, got shapes "
                         f"{x.shape} and {t.shape}")
    if len(x) == 0:
        raise ValueError(f"{name_x} must have at least one row, got shape {x.shape}")
    return x, t


def gradient_step(network, optimizer, x, t):
    """One step: the gradients of the network's loss on the batch (x, t), then the update."""
    optimizer.update(network.params, network.gradient(x, t))


class Batches:
    """Which rows of the training data each step uses.

    replace=True (the book's Trainer): every step draws ``rng.choice(n, batch_size)`` (with
    replacement); ``iter_per_epoch = max(n / batch_size, 1)`` may be fractional and an epoch ends
    after each step whose index is a multiple of it (the first step included).
    replace=False: one ``rng.permutation(n)`` per epoch, cut into ``ceil(n / batch_size)``
    batches (the last one smaller), or ``n // batch_size`` full ones with drop_last.
    rng: a numpy.random.Generator, or None for NumPy's global RNG (``np.random.choice`` /
    ``np.random.permutation``, as the book's code draws).
    """

    def __init__(self, n, batch_size, *, replace=False, rng=None, drop_last=False):
        self.n = validation.positive_int("n", n)
        self.batch_size = validation.positive_int("batch_size", batch_size)
        if drop_last and (replace or n < batch_size):
            raise ValueError(f"drop_last needs replace=False and at least batch_size rows, got "
                             f"replace={replace}, {n} rows and batch_size {batch_size}")
        self.replace = bool(replace)
        self.rng = validation.generator("rng", rng)
        if self.replace:
            self.iter_per_epoch = max(n / batch_size, 1)
        else:
            self.iter_per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
        self.order = None  # this epoch's permutation (replace=False)

    def _draw(self):
        return np.random if self.rng is None else self.rng

    def rows(self, step):
        """Row indices of the mini-batch of step ``step`` (0-based; steps come in order)."""
        if self.replace:
            return self._draw().choice(self.n, self.batch_size)
        j = step % self.iter_per_epoch
        if j == 0:
            self.order = self._draw().permutation(self.n)
        return self.order[j * self.batch_size:(j + 1) * self.batch_size]

    def ends_epoch(self, step):
        """Whether an epoch ends after step ``step``."""
        if self.replace:
            return step % self.iter_per_epoch == 0
        return (step + 1) % self.iter_per_epoch == 0

    def epoch_of(self, step):
        """The 0-based epoch that step ``step`` belongs to."""
        return int(step // self.iter_per_epoch)


class Callback:
    """The callback protocol (module docstring) with every method doing nothing."""

    def on_start(self, loop):
        pass

    def on_step(self, loop):
        pass

    def on_epoch(self, loop):
        pass

    def on_end(self, loop, finished):
        pass


class TrainingLoop:
    """Trains ``network`` (params, gradient; loss when measure_loss) with ``optimizer``
    (update(params, grads)) on x (N, ...) and t (N, ...) for ``epochs`` epochs of ``batches``
    (a Batches over N rows): ``max_iter = int(epochs * batches.iter_per_epoch)`` steps.

    measure_loss: True: after each update append ``network.loss`` of the batch to
    train_loss_list (the book's Trainer does); "gradient": append the loss that the gradient's
    own forward pass computed (training mode, before the update; fastscratch's nets keep it in
    ``last_loss``, other nets are measured after the update as with True): no extra forward
    pass; False: the list stays empty.
    Each step's wall time (batch, step and loss) and rows are ``step_seconds``/``step_rows``.
    save_checkpoint/load_checkpoint keep the whole run in one file (run_control.Checkpoint
    calls them).
    """

    # what save_checkpoint keeps of the loop (besides network, optimizer, RNGs) in ``extra``
    STATE_KEYS = ("settings", "current_iter", "current_epoch", "train_loss_list", "order")

    def __init__(self, network, optimizer, x, t, batches, epochs, callbacks=(), *,
                 measure_loss=True):
        self.network = network
        self.optimizer = optimizer
        self.x_train, self.t_train = paired("x", x, "t", t)
        if not isinstance(batches, Batches) or batches.n != len(x):
            raise ValueError(f"batches must be a Batches over the {len(x)} rows of x, got "
                             f"{getattr(batches, 'n', type(batches).__name__)!r}")
        self.batches = batches
        self.epochs = validation.positive_int("epochs", epochs)
        self.iter_per_epoch = batches.iter_per_epoch
        self.max_iter = int(epochs * batches.iter_per_epoch)
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not any(callable(getattr(callback, m, None)) for m in
                       ("on_start", "on_step", "on_epoch", "on_end")):
                raise TypeError(f"callbacks must have on_start, on_step, on_epoch or on_end, "
                                f"got {type(callback).__name__}")
        if measure_loss not in (True, False, "gradient"):
            raise ValueError(f"measure_loss must be True, False or 'gradient', got "
                             f"{measure_loss!r}")
        self.measure_loss = measure_loss
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list = []
        self.step_seconds, self.step_rows = 0.0, 0

    def _call(self, methods, *args):
        """Each callback's ``methods`` that it has, in order; True if any returned truthy."""
        stop = False
        for callback in self.callbacks:
            for method in methods:
                hook = getattr(callback, method, None)
                if hook is not None and hook(self, *args):
                    stop = True
        return stop

    def train_step(self):
        """One mini-batch step, then the callbacks' on_step (and on_epoch when the step ended
        an epoch: current_epoch counts it); True if a callback asked to stop."""
        start = time.perf_counter()
        rows = self.batches.rows(self.current_iter)
        x, t = self.x_train[rows], self.t_train[rows]
        gradient_step(self.network, self.optimizer, x, t)
        if self.measure_loss == "gradient" and hasattr(self.network, "last_loss"):
            self.train_loss_list.append(self.network.last_loss)
        elif self.measure_loss:
            self.train_loss_list.append(self.network.loss(x, t))
        self.step_seconds, self.step_rows = time.perf_counter() - start, len(rows)
        ends_epoch = self.batches.ends_epoch(self.current_iter)
        self.current_iter += 1
        if ends_epoch:
            self.current_epoch += 1
        return self._call(("on_step", "on_epoch") if ends_epoch else ("on_step",))

    def run(self, max_iter=None):
        """Steps until current_iter reaches max_iter (default self.max_iter) or a callback
        stops the run, between the callbacks' on_start and on_end."""
        max_iter = self.max_iter if max_iter is None else max_iter
        finished = False
        try:
            self._call(("on_start",))
            while self.current_iter < max_iter:
                if self.train_step():
                    break
            finished = True
        finally:
            self._end(finished)

    def _end(self, finished):
        """Every callback's on_end, also after one of them raised (the later ones then get
        finished=False); the first error is raised after the last on_end."""
        error = None
        for callback in self.callbacks:
            hook = getattr(callback, "on_end", None)
            try:
                if hook is not None:
                    hook(self, finished)
            except BaseException as exc:  # noqa: B036 (re-raised below)
                error, finished = error or exc, False
        if error is not None:
            raise error


    # ---------------------------------------------------------------- checkpoints

    def settings(self):
        """What a resumed run must share with the one that wrote the checkpoint (JSON values;
        epochs and max_iter may differ, to train for longer)."""
        return {"epochs": self.epochs, "mini_batch_size": self.batches.batch_size,
                "optimizer": type(self.optimizer).__name__, "train_size": self.batches.n,
                "shuffle": not self.batches.replace, "iter_per_epoch": self.iter_per_epoch,
                "max_iter": self.max_iter,
                **({} if self.batches.rng is None else {"batch_rng": "generator"})}

    def state(self):
        """STATE_KEYS' values (and the batch generator's state when there is one)."""
        state = {"settings": self.settings(), "current_iter": self.current_iter,
                 "current_epoch": self.current_epoch,
                 "train_loss_list": [float(v) for v in self.train_loss_list],
                 "order": self.batches.order}
        if self.batches.rng is not None:
            state["batch_rng"] = self.batches.rng.bit_generator.state
        return state

    def load_state(self, state):
        """Restore what ``state`` returned (checked by load_checkpoint)."""
        self.current_iter, self.current_epoch = state["current_iter"], state["current_epoch"]
        self.train_loss_list = state["train_loss_list"]
        self.batches.order = state["order"]
        if self.batches.rng is not None:
            self.batches.rng.bit_generator.state = state["batch_rng"]

    def save_checkpoint(self, path):
        """Write network, optimizer, RNG states (NumPy's global one, the network's and the
        batches' generators) and ``state()`` to path (fastscratch.checkpoint)."""
        checkpoint.save_checkpoint(path, self.network, self.optimizer,
                                   extra={"trainer": self.state()})

    def load_checkpoint(self, path):
        """Restore what save_checkpoint wrote, after checking all of it (CheckpointError,
        nothing changed): its state has STATE_KEYS and the same settings."""
        name = type(self).__name__
        loaded = {}

        def accept(extra):
            state = extra.get("trainer") if isinstance(extra, dict) else None
            if not isinstance(state, dict):
                raise checkpoint.CheckpointError(f"{path} holds no {name} state")
            missing = [key for key in self.STATE_KEYS if key not in state]
            if missing:
                raise checkpoint.CheckpointError(f"{path}: its {name} state lacks {missing}")
            if not isinstance(state["settings"], dict):
                raise checkpoint.CheckpointError(f"{path}: its {name} settings must be a dict, "
                                                 f"got {type(state['settings']).__name__}")
            now = self.settings()
            diffs = [f"{k}: checkpoint {v!r}, now {now.get(k)!r}"
                     for k, v in state["settings"].items()
                     if k not in ("epochs", "max_iter") and now.get(k) != v]
            if diffs:
                raise checkpoint.CheckpointError(f"{path} was written by a {name} with other "
                                                 "settings:\n  " + "\n  ".join(diffs))
            if self.batches.rng is not None:
                self._check_batch_rng(state.get("batch_rng"), path)
            loaded.update(state)

        checkpoint.load_checkpoint(path, self.network, self.optimizer, accept=accept)
        self.load_state(loaded)

    def _check_batch_rng(self, state, path):
        """CheckpointError unless ``state`` is a state of the batches' bit generator."""
        bit_generator = type(self.batches.rng.bit_generator)
        try:
            bit_generator().state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise checkpoint.CheckpointError(
                f"{path}: its batch generator state does not fit this loop's rng "
                f"({bit_generator.__name__}): {exc}") from None


class EveryEpoch(Callback):
    """Calls ``fn(network, epoch)`` (epoch 0-based) after each epoch; its truthy return stops
    the run (an hpo trial's pruning)."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch(self, loop):
        return self.fn(loop.network, loop.current_epoch - 1)


class MaxSteps(Callback):
    """Stops the run once ``steps`` steps are done."""

    def __init__(self, steps):
        self.steps = validation.positive_int("steps", steps)

    def on_step(self, loop):
        return loop.current_iter >= self.steps


class TimeBudget(Callback):
    """Stops the run after the first step that ends ``seconds`` or more after its start."""

    def __init__(self, seconds):
        self.seconds = validation.positive("seconds", seconds)
        self._start = None

    def on_start(self, loop):
        self._start = time.monotonic()

    def on_step(self, loop):
        return time.monotonic() - self._start >= self.seconds


class NanGuard(Callback):
    """After every step, checks that the step's loss (when measured) and every parameter are
    finite; on failure raises FloatingPointError naming the step and the first bad parameter.
    With ``rollback`` (a run_control.Checkpoint) it first loads that checkpoint, leaving the
    network at its last good state. List it before the Checkpoint, so that a bad state is never
    written."""

    def __init__(self, rollback=None):
        self.rollback = rollback

    def on_step(self, loop):
        loss = loop.train_loss_list[-1] if loop.measure_loss else 0.0
        bad = [] if math.isfinite(loss) else [f"the loss is {loss}"]
        for key, p in loop.network.params.items():
            idx = validation.first_nonfinite(np.ascontiguousarray(p))
            if idx is not None:
                bad.append(f"the first non-finite parameter is {key}{[int(i) for i in idx]} = "
                           f"{p[idx]}")
                break
        if not bad:
            return False
        message = f"step {loop.current_iter}: " + "; ".join(bad)
        if self.rollback is not None:
            self.rollback.load(loop)
            message += (f"; rolled back to the checkpoint of step {loop.current_iter} "
                        f"({self.rollback.path})")
        raise FloatingPointError(message)
