"""Learning-rate schedules: the learning rate of each training step, from the step's index.

A schedule is called with the 0-based index of the step about to run and returns the learning
rate for its update. It is also a training-loop callback (training.py): among a loop's or a
Trainer's ``callbacks`` it sets ``optimizer.lr`` for the next step at the start and after every
step. Since the rate depends on the index alone, a resumed run follows the same schedule.
"""
import math

from . import validation
from .training import Callback

SCHEDULES = ("constant", "step", "cosine")


class LRSchedule(Callback):
    """The learning rate at step s of ``total_steps`` (steps_per_epoch to an epoch):

    constant: lr;  step: lr * decay ** (s // steps_per_epoch), a factor ``decay`` per epoch;
    cosine: lr * (1 + cos(pi * s / total_steps)) / 2, from lr at the first step towards 0 at
    the end (one half cosine over the run).
    """

    def __init__(self, kind, lr, total_steps, steps_per_epoch, decay=1.0):
        self.kind = validation.choice("kind", kind, SCHEDULES)
        self.lr = validation.positive("lr", lr)
        self.total_steps = validation.positive_int("total_steps", total_steps)
        self.steps_per_epoch = validation.positive_int("steps_per_epoch", steps_per_epoch)
        self.decay = validation.positive("decay", decay)

    def __call__(self, step):
        if self.kind == "step":
            return self.lr * self.decay ** (step // self.steps_per_epoch)
        if self.kind == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * step / self.total_steps))
        return self.lr

    def on_start(self, loop):
        if not hasattr(loop.optimizer, "lr"):
            raise TypeError(f"LRSchedule sets the optimizer's lr, but "
                            f"{type(loop.optimizer).__name__} has no lr attribute")
        loop.optimizer.lr = self(loop.current_iter)

    def on_step(self, loop):
        loop.optimizer.lr = self(loop.current_iter)  # steps done: the index of the next one

    def __repr__(self):
        return (f"LRSchedule({self.kind!r}, lr={self.lr}, total_steps={self.total_steps}, "
                f"steps_per_epoch={self.steps_per_epoch}, decay={self.decay})")
