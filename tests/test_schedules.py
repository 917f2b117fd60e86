"""Tests of fastscratch.schedules and LRSchedule among a Trainer's callbacks: the rates, that each update
uses the rate of its step, that a resumed run follows the schedule, and bad arguments."""
import math

import numpy as np
import pytest

from fastscratch import SGD, MultiLayerNet
from fastscratch.run_control import Checkpoint
from fastscratch.schedules import LRSchedule
from fastscratch.trainer import TrainOptions, Trainer


def test_rates_of_each_kind():
    constant = LRSchedule("constant", 0.1, 10, 5)
    step = LRSchedule("step", 0.1, 10, 5, decay=0.5)
    cosine = LRSchedule("cosine", 0.1, 10, 5)
    assert [constant(s) for s in range(10)] == [0.1] * 10
    assert [step(s) for s in range(10)] == [0.1] * 5 + [0.05] * 5
    assert cosine(0) == 0.1 and cosine(5) == pytest.approx(0.05)
    assert cosine(9) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.9)) / 2)
    rates = [cosine(s) for s in range(10)]
    assert all(a > b > 0 for a, b in zip(rates, rates[1:]))


@pytest.mark.parametrize("args, error, message", [
    (("linear", 0.1, 10, 5), ValueError, "kind must be one of 'constant', 'step', 'cosine'"),
    (("cosine", 0, 10, 5), ValueError, "lr must be a finite number > 0, got 0"),
    (("cosine", 0.1, 0, 5), ValueError, "total_steps must be a positive int"),
    (("step", 0.1, 10, 2.5), TypeError, "steps_per_epoch must be a positive int"),
])
def test_bad_schedules(args, error, message):
    with pytest.raises(error, match=message):
        LRSchedule(*args)


class RateLog(SGD):
    """SGD that records the learning rate of every update."""

    def __init__(self, lr=0.01):
        super().__init__(lr)
        self.rates = []

    def update(self, params, grads):
        self.rates.append(self.lr)
        super().update(params, grads)


def _data(n=60):
    rng = np.random.default_rng(0)
    return rng.random((n, 784)), rng.integers(0, 10, n)


def test_each_update_uses_the_rate_of_its_step():
    x, t = _data()
    schedule = LRSchedule("cosine", 0.2, 6, 2)
    opt = RateLog()
    Trainer(MultiLayerNet(784, [8], 10, seed=0), x, t, x, t, epochs=3, mini_batch_size=30,
            optimizer=opt, verbose=False, options=TrainOptions(shuffle=True),
            callbacks=[schedule]).train()
    assert opt.rates == [schedule(s) for s in range(6)]


def test_a_resumed_run_follows_the_schedule(tmp_path):
    """Stopped after 3 of 6 steps and resumed, the run ends as the uninterrupted one."""
    x, t = _data()

    def run(epochs, resume):
        np.random.seed(1)
        trainer = Trainer(MultiLayerNet(784, [8], 10, seed=0), x, t, x, t, epochs=epochs,
                          mini_batch_size=20, optimizer="SGD", verbose=False,
                          options=TrainOptions(shuffle=True),
                          callbacks=[LRSchedule("cosine", 0.3, 9, 3),
                                     Checkpoint(tmp_path / "ck.npz", resume=resume)])
        trainer.train()
        return trainer

    whole = run(3, resume=False)
    (tmp_path / "ck.npz").unlink()
    run(1, resume=False)
    resumed = run(3, resume=True)
    assert resumed.train_loss_list == whole.train_loss_list
    for key, value in whole.network.params.items():
        np.testing.assert_array_equal(resumed.network.params[key], value)


def test_lr_schedule_needs_an_optimizer_with_lr():
    x, t = _data()
    net = MultiLayerNet(784, [8], 10, seed=0)

    class NoRate:
        def update(self, params, grads):
            pass

    trainer = Trainer(net, x, t, x, t, optimizer=NoRate(), verbose=False,
                      callbacks=[LRSchedule("cosine", 1, 2, 1)])
    with pytest.raises(TypeError, match="LRSchedule sets the optimizer's lr, but NoRate has no"):
        trainer.train()
