"""The training loop's run-control callbacks (training.py's protocol): Checkpoint writes and
resumes checkpoints, SignalStop stops at SIGINT or SIGTERM after the current step.

Both work on the running loop's ``save_checkpoint(path)`` / ``load_checkpoint(path)``
(TrainingLoop's: network, optimizer, RNG states, counters, losses and epoch order; a Trainer's
also its accuracies and history) and ``current_iter``.
"""
import re
import signal
import sys
import threading
from pathlib import Path

from . import validation
from .training import Callback


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


class Checkpoint(Callback):
    """A checkpoint at ``path``: written when the run starts, every ``every`` steps or epochs
    (parse_every: 100, '100 steps', '2 epochs'), at the end, and when SignalStop stops the run.
    With ``resume`` the run first loads it instead, when it exists, and continues from there:
    with the same data and settings the run ends exactly as an uninterrupted one."""

    def __init__(self, path, every=None, resume=False):
        if path is None:
            raise ValueError("Checkpoint needs a path, got None")
        self.path = Path(path)
        self.every = parse_every(every, "every")
        self.resume = bool(resume)
        self.saved_at = None  # the loop's current_iter when the checkpoint was written

    def save(self, loop):
        loop.save_checkpoint(self.path)
        self.saved_at = loop.current_iter

    def load(self, loop):
        loop.load_checkpoint(self.path)
        self.saved_at = loop.current_iter

    def on_start(self, loop):
        if self.resume and self.path.exists():
            self.load(loop)
        else:
            self.save(loop)

    def on_step(self, loop):
        if self.every is not None and self.every[1] == "steps" and \
                loop.current_iter % self.every[0] == 0:
            self.save(loop)

    def on_epoch(self, loop):
        if self.every is not None and self.every[1] == "epochs" and \
                loop.current_epoch % self.every[0] == 0:
            self.save(loop)

    def on_end(self, loop, finished):
        if finished and self.saved_at != loop.current_iter:
            self.save(loop)


class SignalStop(Callback):
    """While the run goes on (in the main thread only), SIGINT or SIGTERM stops it after the
    current step: the run ends (a Checkpoint listed before this callback writes the step), the
    previous signal handlers come back and SIGINT raises KeyboardInterrupt (a second SIGINT
    stops at once), SIGTERM SystemExit(128 + signal number). ``checkpoint`` (a Checkpoint or
    None) is named in the message."""

    def __init__(self, checkpoint=None):
        self.checkpoint = checkpoint
        self._asked = None  # the signal that asked for a stop
        self._previous = None

    def on_start(self, loop):
        if threading.current_thread() is not threading.main_thread():
            return

        def ask_to_stop(signum, frame):
            if self._asked == signal.SIGINT == signum:
                raise KeyboardInterrupt("second SIGINT: stopped at once")
            self._asked = signum

        self._previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGINT,
                                                                     signal.SIGTERM)}

    def on_step(self, loop):
        return self._asked is not None

    def on_end(self, loop, finished):
        if self._previous is not None:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            self._previous = None
        signum, self._asked = self._asked, None
        if not finished or signum is None:
            return
        message = f"{signal.Signals(signum).name}: stopped after step {loop.current_iter}"
        if self.checkpoint is not None:
            message += f"; checkpoint in {self.checkpoint.path} (resume with resume=True)"
        if signum == signal.SIGINT:
            raise KeyboardInterrupt(message)
        from tqdm import tqdm  # imported on a stop only: it takes 30 ms to import
        tqdm.write(message, file=sys.stderr)
        raise SystemExit(128 + signum)
