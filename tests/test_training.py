"""Tests of fastscratch.training: the batch orders, the callback protocol (order of the calls,
stops by return value, exceptions), the stock callbacks, and its users (hpo's fit, the epoch
benchmark, Trainer with a batch generator) against transcriptions of the loops they had."""
import numpy as np
import pytest

from fastscratch import Adam, MultiLayerNetExtend, use_backend
from fastscratch.benchtools import steps
from fastscratch.checkpoint import CheckpointError
from fastscratch.run_control import Checkpoint
from fastscratch.trainer import TrainOptions, Trainer
from fastscratch.training import (Batches, Callback, EveryEpoch, MaxSteps, NanGuard, TimeBudget,
                                  TrainingLoop)

DATA = np.random.default_rng(0)
X, T = DATA.random((90, 12)), DATA.integers(0, 4, 90)


class Rows:
    """A stand-in network whose x rows are [row index]: it records each batch's indices."""

    def __init__(self):
        self.params = {"W": np.zeros(2)}
        self.batches = []

    def gradient(self, x, t):
        self.batches.append(x[:, 0].astype(int))
        return {"W": np.ones(2)}

    def loss(self, x, t):
        return float(len(x))

    def accuracy(self, x, t):
        return 0.5


def _rows(n):
    return np.arange(n, dtype=float)[:, None], np.zeros(n, dtype=int)


class Log(Callback):
    """Appends (name, method, current_iter, current_epoch) of every call to ``log``; returns
    True from ``stop_at`` = (method, current_iter)."""

    def __init__(self, name, log, stop_at=None):
        self.name, self.log, self.stop_at = name, log, stop_at

    def _note(self, method, loop):
        self.log.append((self.name, method, loop.current_iter, loop.current_epoch))
        return self.stop_at == (method, loop.current_iter)

    def on_start(self, loop):
        self._note("start", loop)

    def on_step(self, loop):
        return self._note("step", loop)

    def on_epoch(self, loop):
        return self._note("epoch", loop)

    def on_end(self, loop, finished):
        self._note(f"end {finished}", loop)


# ---------------------------------------------------------------- batches

def test_batches_without_replacement_visit_every_row_once_per_epoch():
    x, t = _rows(25)
    for drop_last, sizes in ((False, [10, 10, 5]), (True, [10, 10])):
        net = Rows()
        batches = Batches(25, 10, rng=np.random.default_rng(4), drop_last=drop_last)
        loop = TrainingLoop(net, Adam(), x, t, batches, epochs=2)
        loop.run()
        assert [len(b) for b in net.batches] == sizes * 2
        assert loop.current_epoch == 2 and loop.current_iter == 2 * len(sizes)
        rng = np.random.default_rng(4)
        for epoch in range(2):
            order = rng.permutation(25)
            got = np.concatenate(net.batches[epoch * len(sizes):(epoch + 1) * len(sizes)])
            np.testing.assert_array_equal(got, order[:sum(sizes)])


def test_batches_with_replacement_are_the_books_draws():
    x, t = _rows(25)
    for rng, source in ((np.random.default_rng(2), np.random.default_rng(2)), (None, None)):
        np.random.seed(9)
        net = Rows()
        loop = TrainingLoop(net, Adam(), x, t, Batches(25, 10, replace=True, rng=rng), epochs=2)
        assert loop.iter_per_epoch == 2.5 and loop.max_iter == 5
        loop.run()
        np.random.seed(9)
        draw = np.random if source is None else source
        for got in net.batches:
            np.testing.assert_array_equal(got, draw.choice(25, 10))
        assert loop.current_epoch == 1  # epochs end after steps 0 and 5; steps 0-4 ran
    ends = Batches(25, 10, replace=True)
    assert [ends.ends_epoch(i) for i in range(6)] == [True, False, False, False, False, True]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 0}, ValueError, "n must be a positive int"),
    ({"batch_size": 2.0}, TypeError, "batch_size must be a positive int"),
    ({"rng": 3}, TypeError, "rng must be a numpy.random.Generator"),
    ({"drop_last": True, "n": 5}, ValueError, "drop_last needs replace=False and at least "
                                              "batch_size rows, got replace=False, 5 rows"),
    ({"drop_last": True, "replace": True}, ValueError, "drop_last needs replace=False"),
])
def test_bad_batches(kwargs, error, message):
    args = {"n": 20, "batch_size": 10, **kwargs}
    with pytest.raises(error, match=message):
        Batches(args.pop("n"), args.pop("batch_size"), **args)


# ---------------------------------------------------------------- the callback protocol

def test_callbacks_are_called_in_list_order_each_steps_before_its_epoch():
    x, t = _rows(4)
    log = []
    loop = TrainingLoop(Rows(), Adam(), x, t, Batches(4, 2), epochs=2,
                        callbacks=[Log("a", log), Log("b", log)])
    loop.run()
    assert log == [("a", "start", 0, 0), ("b", "start", 0, 0),
                   ("a", "step", 1, 0), ("b", "step", 1, 0),
                   ("a", "step", 2, 1), ("a", "epoch", 2, 1),
                   ("b", "step", 2, 1), ("b", "epoch", 2, 1),
                   ("a", "step", 3, 1), ("b", "step", 3, 1),
                   ("a", "step", 4, 2), ("a", "epoch", 4, 2),
                   ("b", "step", 4, 2), ("b", "epoch", 4, 2),
                   ("a", "end True", 4, 2), ("b", "end True", 4, 2)]
    assert loop.train_loss_list == [2.0] * 4


@pytest.mark.parametrize("stop_at", [("step", 3), ("epoch", 2)])
def test_a_truthy_on_step_or_on_epoch_stops_after_that_step(stop_at):
    x, t = _rows(4)
    log = []
    loop = TrainingLoop(Rows(), Adam(), x, t, Batches(4, 2), epochs=5,
                        callbacks=[Log("a", log, stop_at=stop_at), Log("b", log)])
    loop.run()
    assert loop.current_iter == stop_at[1]
    # the callbacks after the one that stopped still got that step's calls
    assert log[-3][0] == "b" and log[-3][2] == stop_at[1]
    assert log[-2:] == [("a", "end True", stop_at[1], loop.current_epoch),
                        ("b", "end True", stop_at[1], loop.current_epoch)]


class Raises(Callback):
    """Raises OSError from ``method`` (at step 2 for on_step)."""

    def __init__(self, method):
        self.method = method

    def on_step(self, loop):
        if self.method == "on_step" and loop.current_iter == 2:
            raise OSError("disk full")

    def on_end(self, loop, finished):
        if self.method == "on_end":
            raise OSError("disk full")


@pytest.mark.parametrize("method, epochs", [("on_step", 3), ("on_end", 1)])
def test_an_exception_ends_the_run_and_every_callback_gets_on_end_not_finished(method, epochs):
    x, t = _rows(4)
    log = []
    loop = TrainingLoop(Rows(), Adam(), x, t, Batches(4, 2), epochs=epochs,
                        callbacks=[Raises(method), Log("a", log)])
    with pytest.raises(OSError, match="disk full"):
        loop.run()
    assert log[-1] == ("a", "end False", 2, 1)


def test_the_trainer_stops_when_a_callback_returns_true_from_on_epoch():
    x, t = _rows(300)
    log = []
    trainer = Trainer(Rows(), x, t, x, t, epochs=5, verbose=False,
                      options=TrainOptions(shuffle=True),
                      callbacks=[Log("a", log, stop_at=("epoch", 6))])
    trainer.train()
    assert trainer.current_iter == 6 and trainer.current_epoch == 2
    assert len(trainer.history) == 2 and trainer.final_test_acc == 0.5


def test_bad_loops():
    x, t = _rows(4)
    with pytest.raises(ValueError, match=r"x and t must have the same number of rows, got "
                                         r"shapes \(4, 1\) and \(3,\)"):
        TrainingLoop(Rows(), Adam(), x, t[:3], Batches(4, 2), epochs=1)
    with pytest.raises(ValueError, match="batches must be a Batches over the 4 rows of x, got 5"):
        TrainingLoop(Rows(), Adam(), x, t, Batches(5, 2), epochs=1)
    with pytest.raises(TypeError, match="epochs must be a positive int, got float 1.5"):
        TrainingLoop(Rows(), Adam(), x, t, Batches(4, 2), epochs=1.5)
    with pytest.raises(TypeError, match="callbacks must have on_start, on_step, on_epoch or "
                                        "on_end, got object"):
        TrainingLoop(Rows(), Adam(), x, t, Batches(4, 2), epochs=1, callbacks=[object()])


# ---------------------------------------------------------------- the stock callbacks

def test_max_steps_and_every_epoch():
    x, t = _rows(10)
    loop = TrainingLoop(Rows(), Adam(), x, t, Batches(10, 3), epochs=10, callbacks=[MaxSteps(6)])
    loop.run()
    assert loop.current_iter == 6
    seen = []
    loop = TrainingLoop(Rows(), Adam(), x, t, Batches(10, 3), epochs=10,
                        callbacks=[EveryEpoch(lambda net, epoch: seen.append(epoch) or
                                              epoch == 2)])
    loop.run()
    assert seen == [0, 1, 2] and loop.current_iter == 12
    with pytest.raises(ValueError, match="steps must be a positive int"):
        MaxSteps(0)


def test_time_budget_stops_at_the_first_step_past_it(monkeypatch):
    import fastscratch.training as training
    clock = iter(range(100))  # each reading one second later than the one before
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock))
    x, t = _rows(10)
    loop = TrainingLoop(Rows(), Adam(), x, t, Batches(10, 3), epochs=10,
                        callbacks=[TimeBudget(3.5)])
    loop.run()
    assert loop.current_iter == 4  # started at 0; steps read 1, 2, 3, 4
    with pytest.raises(ValueError, match="seconds must be a finite number > 0"):
        TimeBudget(0)


def test_nan_guard_without_a_checkpoint_or_a_measured_loss():
    net = MultiLayerNetExtend(12, [6], 4, seed=0)
    calls = []

    class Poison(Callback):
        def on_step(self, loop):
            calls.append(loop.current_iter)
            if loop.current_iter == 3:
                loop.network.params["b2"][1] = np.inf

    loop = TrainingLoop(net, Adam(), X, T, Batches(90, 30, rng=np.random.default_rng(0)),
                        epochs=3, callbacks=[Poison(), NanGuard()], measure_loss=False)
    with pytest.raises(FloatingPointError, match=r"^step 3: the first non-finite parameter is "
                                                 r"b2\[1\] = inf$"):
        loop.run()
    assert calls == [1, 2, 3] and loop.train_loss_list == []


# ---------------------------------------------------------------- the loop's users

def _old_fit_loop(network, optimizer, x, t, batch_rng, epochs, batch_size, on_epoch):
    """hpo.trial.fit's loop as it was written before the training loop."""
    for epoch in range(epochs):
        order = batch_rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            optimizer.update(network.params, network.gradient(x[rows], t[rows]))
        if on_epoch(network, epoch):
            break


def test_hpo_fit_trains_as_its_own_loop_did():
    pytest.importorskip("optuna")
    from fastscratch.hpo.trial import build_network, fit
    params = {"hidden_units": 8, "hidden_layers": 2, "weight_decay": 1e-3, "dropout": 0.2,
              "batchnorm": True, "optimizer": "adam", "lr": 0.01}
    got_epochs, want_epochs = [], []
    got = fit(params, X, T, seed=3, epochs=4, batch_size=16,
              on_epoch=lambda net, epoch: got_epochs.append(epoch) or epoch == 2)
    net_rng, batch_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(2))
    want = build_network(params, 12, net_rng)
    _old_fit_loop(want, Adam(lr=0.01), X, T, batch_rng, 4, 16,
                  lambda net, epoch: want_epochs.append(epoch) or epoch == 2)
    assert got_epochs == want_epochs == [0, 1, 2]
    for key in want.params:
        np.testing.assert_array_equal(got.params[key], want.params[key])


def test_the_epoch_benchmark_trains_as_its_own_loop_did(monkeypatch):
    x, t = DATA.random((250, 784)), DATA.integers(0, 10, 250)
    made, make = [], steps.net_and_optimizer
    monkeypatch.setattr(steps, "net_and_optimizer", lambda *a: made.append(make(*a)) or made[-1])
    epoch = steps.fastscratch_epoch(x, t, "784-20-10", "adam", "float64", "numpy", batch=40,
                                    seed=1)
    epoch()
    epoch()
    net, opt = make("784-20-10", "adam", "float64", 1)
    rng = np.random.default_rng(1)
    with use_backend("numpy"):
        for _ in range(2):
            order = rng.permutation(250)
            for k in range(250 // 40):
                idx = order[k * 40:(k + 1) * 40]
                opt.update(net.params, net.gradient(x[idx], t[idx]))
    for key in net.params:
        np.testing.assert_array_equal(made[0][0].params[key], net.params[key])


def test_a_trainer_with_a_batch_generator_leaves_the_global_rng_alone_and_resumes(tmp_path):
    def trainer(callbacks=(), seed=0):
        net = MultiLayerNetExtend(12, [6], 4, seed=seed)
        return Trainer(net, X, T, X[:30], T[:30], epochs=3, mini_batch_size=20,
                       optimizer="adam", verbose=False, callbacks=callbacks,
                       options=TrainOptions(shuffle=True, rng=np.random.default_rng(seed)))

    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    whole = trainer()
    whole.train()
    np.testing.assert_array_equal(np.random.get_state()[1], before)

    path = tmp_path / "ck.npz"
    stopped = trainer([Checkpoint(path), MaxSteps(7)])
    stopped.train()
    assert stopped.current_iter == 7
    resumed = trainer([Checkpoint(path, resume=True)], seed=5)  # other weights, other draws
    resumed.train()
    assert resumed.train_loss_list == whole.train_loss_list
    assert resumed.history_dict()["settings"]["batch_rng"] == "generator"
    for key in whole.network.params:
        np.testing.assert_array_equal(resumed.network.params[key], whole.network.params[key])


def test_a_plain_loop_checkpoints_and_resumes_as_if_never_stopped(tmp_path):
    def loop(callbacks, seed=0):
        net = MultiLayerNetExtend(12, [6], 4, use_dropout=True, dropout_ration=0.2, seed=seed)
        return TrainingLoop(net, Adam(lr=0.01), X, T,
                            Batches(90, 20, rng=np.random.default_rng(seed)), epochs=3,
                            callbacks=callbacks)

    whole = loop([])
    whole.run()
    path = tmp_path / "ck.npz"
    stopped = loop([Checkpoint(path, every="1 epoch"), MaxSteps(8)])
    stopped.run()
    resumed = loop([Checkpoint(path, resume=True)], seed=4)
    resumed.run()
    assert resumed.current_iter == whole.current_iter == 15
    assert resumed.train_loss_list == whole.train_loss_list
    for key in whole.network.params:
        np.testing.assert_array_equal(resumed.network.params[key], whole.network.params[key])
    other = TrainingLoop(MultiLayerNetExtend(12, [6], 4, use_dropout=True, dropout_ration=0.2,
                                             seed=0), Adam(lr=0.01), X, T,
                         Batches(90, 30, rng=np.random.default_rng(0)), epochs=3,
                         callbacks=[Checkpoint(path, resume=True)])
    with pytest.raises(CheckpointError, match=r"written by a TrainingLoop with other settings:"
                                              r"\n  mini_batch_size: checkpoint 20, now 30"):
        other.run()


def test_the_gradient_pass_loss_needs_no_extra_forward():
    """TrainOptions(loss_pass=False): the same params as the book's loss pass, and the losses
    of each step's own gradient pass (before its update), not a second forward."""
    from fastscratch import MultiLayerNet
    from fastscratch.trainer import TrainOptions, Trainer
    rng = np.random.default_rng(0)
    x, t = rng.random((50, 12)), rng.integers(0, 3, 50)

    def run(loss_pass):
        net = MultiLayerNet(12, [6], 3, seed=2)
        calls = []
        loss = net.loss
        net.loss = lambda *a, **k: calls.append(1) or loss(*a, **k)
        trainer = Trainer(net, x, t, x, t, epochs=2, mini_batch_size=10, verbose=False,
                          optimizer="Adam", options=TrainOptions(
                              rng=np.random.default_rng(3), loss_pass=loss_pass))
        trainer.train()
        return net, trainer.train_loss_list, len(calls)

    book, book_losses, book_calls = run(True)
    fast, fast_losses, fast_calls = run(False)
    for key in book.params:
        np.testing.assert_array_equal(fast.params[key], book.params[key])
    assert book_calls == len(book_losses) == len(fast_losses) == 10 and fast_calls == 0
    first = MultiLayerNet(12, [6], 3, seed=2)
    rows = np.random.default_rng(3).choice(50, 10)
    assert fast_losses[0] == first.loss(x[rows], t[rows])  # no dropout or BN: any mode
    assert fast_losses[1:] != book_losses[1:]
