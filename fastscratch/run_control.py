"""Run control around Trainer.train's loop: when checkpoints are written, the stop at SIGINT or
SIGTERM, and the NaN/Inf guard.

RunControl only decides and calls back: the trainer writes and reads its checkpoints
(``trainer.save_checkpoint()`` / ``trainer.load_checkpoint()``) and reports where it is
(``current_iter``, ``current_epoch``, ``train_loss_list``, ``network.params``).
"""
import contextlib
import math
import re
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from . import validation


def parse_every(value, name="checkpoint_every"):
    """(n, 'steps' or 'epochs') from a positive int (steps) or a text such as '100', '100 steps',
    '2 epochs' or '1epoch'; None stays None."""
    if value is None:
        return None
    expected = (f"{name} must be a positive int (steps) or a text such as '100 steps' or "
                f"'2 epochs', got {value!r}")
    if not isinstance(value, str):
        try:
            return validation.positive_int(name, value), "steps"
        except (TypeError, ValueError) as exc:
            raise type(exc)(expected) from None
    match = re.fullmatch(r"\s*([1-9][0-9]*)\s*(steps?|epochs?)?\s*", value)
    if match is None:
        raise ValueError(expected)
    unit = match.group(2) or "steps"
    return int(match.group(1)), unit if unit.endswith("s") else unit + "s"


class RunControl:
    """Checkpoints at ``checkpoint_path`` (at the start, every ``checkpoint_every`` steps or
    epochs, at the end, and at SIGINT/SIGTERM), ``resume`` from it, and ``nan_guard`` (False,
    True or 'rollback'), as described for Trainer."""

    def __init__(self, checkpoint_path=None, checkpoint_every=None, resume=False,
                 nan_guard=False):
        if not (isinstance(nan_guard, bool) or nan_guard == "rollback"):
            raise ValueError(f"nan_guard must be False, True or 'rollback', got {nan_guard!r}")
        self.every = parse_every(checkpoint_every)
        if checkpoint_path is None and (self.every or resume or nan_guard == "rollback"):
            raise ValueError("checkpoint_every, resume and nan_guard='rollback' need "
                             "checkpoint_path")
        self.path = None if checkpoint_path is None else Path(checkpoint_path)
        self.resume = bool(resume)
        self.nan_guard = nan_guard
        self._saved_at = None  # the trainer's current_iter when the checkpoint was written
        self._stop_signal = None

    @contextlib.contextmanager
    def running(self, trainer):
        """Around the loop: SIGINT/SIGTERM ask for a stop (main thread only); first load the
        checkpoint (resume, when it exists) or write it; at the end write it once more and
        stop if a signal came after the last step's check."""
        with self._signals():
            if self.resume and self.path.exists():
                self._load(trainer)
            elif self.path is not None:
                self._save(trainer)
            yield
            if self.path is not None and self._saved_at != trainer.current_iter:
                self._save(trainer)
            if self._stop_signal is not None:
                self._stop(trainer)

    def after_step(self, trainer, epoch_before):
        """The NaN/Inf guard, a periodic checkpoint when due, and a stop asked for by a signal;
        ``epoch_before`` is the trainer's current_epoch before the step."""
        if self.nan_guard:
            self._check_finite(trainer)
        if self.every is not None:
            n, unit = self.every
            if unit == "steps" and trainer.current_iter % n == 0 or unit == "epochs" and \
                    trainer.current_epoch != epoch_before and trainer.current_epoch % n == 0:
                self._save(trainer)
        if self._stop_signal is not None:
            self._stop(trainer)

    def _save(self, trainer):
        trainer.save_checkpoint(self.path)
        self._saved_at = trainer.current_iter

    def _load(self, trainer):
        trainer.load_checkpoint(self.path)
        self._saved_at = trainer.current_iter

    def _check_finite(self, trainer):
        """Raise FloatingPointError naming the step, a non-finite loss and the first non-finite
        parameter; with 'rollback', after loading the last checkpoint."""
        loss = trainer.train_loss_list[-1]
        bad = [] if math.isfinite(loss) else [f"the loss is {loss}"]
        for key, p in trainer.network.params.items():
            idx = validation.first_nonfinite(np.ascontiguousarray(p))
            if idx is not None:
                bad.append(f"the first non-finite parameter is {key}{list(idx)} = {p[idx]}")
                break
        if not bad:
            return
        message = f"step {trainer.current_iter}: " + "; ".join(bad)
        if self.nan_guard == "rollback":
            self._load(trainer)
            message += (f"; rolled back to the checkpoint of step {trainer.current_iter} "
                        f"({self.path})")
        raise FloatingPointError(message)

    def _stop(self, trainer):
        """Write the checkpoint (if there is a path) and stop as the signal asked: SIGINT
        raises KeyboardInterrupt, SIGTERM SystemExit(128 + SIGTERM)."""
        signum, self._stop_signal = self._stop_signal, None
        message = f"{signal.Signals(signum).name}: stopped after step {trainer.current_iter}"
        if self.path is not None:
            if self._saved_at != trainer.current_iter:
                self._save(trainer)
            message += f"; checkpoint in {self.path} (resume with resume=True)"
        if signum == signal.SIGINT:
            raise KeyboardInterrupt(message)
        from tqdm import tqdm  # imported on a stop only: it takes 30 ms to import
        tqdm.write(message, file=sys.stderr)
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def _signals(self):
        """While training (main thread only): SIGINT/SIGTERM ask for a stop after this step;
        a second SIGINT stops at once."""
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
