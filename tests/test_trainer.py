"""Tests of fastscratch.trainer: the book's Trainer semantics, the opt-in extras, validation."""
import io
from contextlib import redirect_stdout

import numpy as np
import pytest

from fastscratch import Momentum, MultiLayerNet, MultiLayerNetExtend
from fastscratch.history import HISTORY_FIELDS, load_history
from fastscratch.trainer import OPTIMIZERS, TrainOptions, Trainer
from fastscratch.training import Callback


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    from fastscratch.dataset.mnist import load_mnist
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=mnist_dir)
    return x_train[:2000], t_train[:2000], x_test[:500], t_test[:500]


class Recorder:
    """A stand-in network with the book's interface that logs every call; x rows are
    [row index, ...] so the recorded batches are the drawn indices."""

    def __init__(self):
        self.params = {"W": np.zeros(2)}
        self.calls = []
        self.batches = []

    def gradient(self, x, t):
        self.calls.append("gradient")
        self.batches.append(x[:, 0].astype(int))
        return {"W": np.ones(2)}

    def loss(self, x, t):
        self.calls.append("loss")
        return float(len(x))

    def accuracy(self, x, t):
        self.calls.append("accuracy")
        return float(np.mean(x[:, 1] == t))


def indexed(n):
    """x (n, 2) = [index, index % 3] and t = 0..., so accuracy = fraction of rows with i%3==0."""
    i = np.arange(n)
    return np.stack([i, i % 3], axis=1).astype(float), np.zeros(n, dtype=int)


def quiet(trainer, method="train"):
    """Run trainer.<method>() and return what it printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        getattr(trainer, method)()
    return out.getvalue()


# ---------------------------------------------------------------- the book's semantics

@pytest.mark.parametrize("n, batch, epochs, max_iter, evaluations",
                         [(300, 100, 3, 9, 3), (250, 100, 3, 7, 2), (50, 100, 4, 4, 4)])
def test_book_step_counts_and_prints(n, batch, epochs, max_iter, evaluations):
    x, t = indexed(n)
    net = Recorder()
    trainer = Trainer(net, x, t, x[:30], t[:30], epochs=epochs, mini_batch_size=batch)
    assert trainer.iter_per_epoch == max(n / batch, 1)
    assert trainer.max_iter == max_iter
    printed = quiet(trainer)
    lines = printed.splitlines()
    assert trainer.current_iter == max_iter
    assert trainer.current_epoch == evaluations
    assert len(trainer.train_loss_list) == max_iter
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == evaluations
    assert sum(line.startswith("train loss:") for line in lines) == max_iter
    assert sum(line.startswith("=== epoch:") for line in lines) == evaluations
    assert lines[-2:] == ["=============== Final Test Accuracy ===============",
                          "test acc:" + str(trainer.final_test_acc)]
    assert trainer.final_test_acc == pytest.approx(10 / 30)
    assert net.calls[:2] == ["gradient", "loss"]


def test_book_draws_batches_from_global_rng_with_replacement():
    x, t = indexed(250)
    net = Recorder()
    trainer = Trainer(net, x, t, x, t, epochs=2, mini_batch_size=40, verbose=False)
    np.random.seed(3)
    expected = [np.random.choice(250, 40) for _ in range(trainer.max_iter)]
    np.random.seed(3)
    trainer.train()
    assert len(net.batches) == len(expected) == 12
    for got, want in zip(net.batches, expected):
        np.testing.assert_array_equal(got, want)
    # the epoch's accuracy comes right after the step whose index is a multiple of 6.25
    assert net.calls[:4] == ["gradient", "loss", "accuracy", "accuracy"]


def test_seeded_runs_are_equal(mnist):
    x_train, t_train, x_test, t_test = mnist

    def run():
        np.random.seed(7)
        net = MultiLayerNetExtend(784, [30], 10, use_dropout=True, dropout_ration=0.1)
        trainer = Trainer(net, x_train[:500], t_train[:500], x_test, t_test, epochs=2,
                          verbose=False)
        trainer.train()
        return trainer

    a, b = run(), run()
    assert a.train_loss_list == b.train_loss_list
    assert a.train_acc_list == b.train_acc_list and a.test_acc_list == b.test_acc_list
    assert a.final_test_acc == b.final_test_acc


def test_learns_mnist_subset(mnist):
    x_train, t_train, x_test, t_test = mnist
    np.random.seed(0)
    net = MultiLayerNet(784, [100], 10, seed=0)
    trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=4, mini_batch_size=50,
                      optimizer="Adam", optimizer_param={"lr": 0.002}, verbose=False,
                      options=TrainOptions(shuffle=True))
    trainer.train()
    assert trainer.final_test_acc >= 0.85
    assert trainer.train_acc_list[-1] >= trainer.train_acc_list[0]
    assert np.mean(trainer.train_loss_list[-20:]) < np.mean(trainer.train_loss_list[:20])


# ---------------------------------------------------------------- opt-in extras

def test_shuffle_visits_every_sample_once_per_epoch():
    x, t = indexed(250)
    net = Recorder()
    trainer = Trainer(net, x, t, x, t, epochs=3, mini_batch_size=100, verbose=False,
                      options=TrainOptions(shuffle=True))
    assert trainer.iter_per_epoch == 3 and trainer.max_iter == 9
    trainer.train()
    assert [len(b) for b in net.batches] == [100, 100, 50] * 3
    epochs = [np.concatenate(net.batches[i:i + 3]) for i in (0, 3, 6)]
    for seen in epochs:
        np.testing.assert_array_equal(np.sort(seen), np.arange(250))
    assert not np.array_equal(epochs[0], epochs[1])
    assert [r["iterations"] for r in trainer.history] == [3, 6, 9]
    assert [r["epoch"] for r in trainer.history] == [1, 2, 3]


def test_batched_evaluation_equals_unbatched(mnist):
    x_train, t_train, x_test, t_test = mnist
    net = MultiLayerNet(784, [50], 10, seed=1)
    trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=2,
                      optimizer="sgd", optimizer_param={"lr": 0.1}, verbose=False)
    trainer.train()
    whole = net.accuracy(x_test, t_test)
    for size in (None, 1, 7, 128, 500, 10_000):
        trainer.eval_batch_size = size
        assert trainer.accuracy(x_test, t_test) == pytest.approx(whole, abs=1e-12)
    assert 0.5 < whole < 1  # a net that tells digits apart, so wrong batching would show


def test_progress_bar_replaces_step_prints(capsys):
    x, t = indexed(300)
    trainer = Trainer(Recorder(), x, t, x, t, epochs=2,
                      options=TrainOptions(shuffle=True, progress=True))
    trainer.train()
    out, err = capsys.readouterr()
    assert "train loss:" not in out
    assert out.count("=== epoch:") == 2 and "Final Test Accuracy" in out
    assert "epoch 1/2" in err and "epoch 2/2" in err and "img" in err


def test_progress_bar_in_book_mode_has_one_bar_per_epoch(capsys):
    x, t = indexed(250)  # iter_per_epoch 2.5: 7 steps, bars over steps 0-2, 3-4 and 5-6
    trainer = Trainer(Recorder(), x, t, x, t, epochs=3, options=TrainOptions(progress=True))
    trainer.train()
    out, err = capsys.readouterr()
    # the book evaluates after steps 0 and 5 (multiples of 2.5)
    assert "train loss:" not in out and out.count("=== epoch:") == 2
    assert [f"epoch {e}/3" in err for e in (1, 2, 3, 4)] == [True, True, True, False]


class Seen(Callback):
    """Keeps each epoch's newest history record."""

    def __init__(self):
        self.records = []

    def on_epoch(self, trainer):
        self.records.append(trainer.history[-1])


def test_history_records_and_on_epoch():
    x, t = indexed(300)
    callback = Seen()
    seen = callback.records
    trainer = Trainer(Recorder(), x, t, x[:90], t[:90], epochs=3, verbose=False,
                      options=TrainOptions(shuffle=True), callbacks=[callback])
    trainer.train()
    assert seen == trainer.history and len(seen) == 3
    for record in seen:
        assert tuple(record) == HISTORY_FIELDS
        assert record["seconds"] > 0 and record["eval_seconds"] >= 0
        assert record["images_per_second"] == pytest.approx(300 / record["seconds"])
        assert record["loss"] == 100.0
        assert record["train_acc"] == record["test_acc"] == pytest.approx(1 / 3)
    d = trainer.history_dict()
    assert d["train_loss"] == [100.0] * 9 and d["final_test_acc"] == pytest.approx(1 / 3)
    assert d["settings"]["optimizer"] == "SGD" and d["settings"]["max_iter"] == 9


def test_history_json_and_csv_round_trip(tmp_path, mnist):
    x_train, t_train, x_test, t_test = mnist
    trainer = Trainer(MultiLayerNet(784, [20], 10, seed=2), x_train[:300], t_train[:300],
                      x_test[:100], t_test[:100], epochs=2, verbose=False)
    trainer.train()
    trainer.save_history(tmp_path / "h.json")
    trainer.save_history(tmp_path / "h.CSV")
    assert load_history(tmp_path / "h.json") == trainer.history_dict()
    assert load_history(tmp_path / "h.CSV") == {"epochs": trainer.history}
    with pytest.raises(ValueError, match=r"\.json or \.csv.*h\.txt"):
        trainer.save_history(tmp_path / "h.txt")


def test_evaluate_sample_num_per_epoch_limits_evaluation():
    x, t = indexed(300)
    net = Recorder()
    sizes = []
    net.accuracy = lambda xs, ts: sizes.append(len(xs)) or 1.0
    Trainer(net, x, t, x[:200], t[:200], epochs=2, evaluate_sample_num_per_epoch=30,
            options=TrainOptions(eval_batch_size=None), verbose=False).train()
    assert sizes == [30, 30, 30, 30, 200]


# ---------------------------------------------------------------- optimizers and validation

@pytest.mark.parametrize("name", list(OPTIMIZERS) + ["SGD", "Adam", "RMSProp"])
def test_optimizer_names(name):
    x, t = indexed(10)
    trainer = Trainer(Recorder(), x, t, x, t, optimizer=name, optimizer_param={"lr": 0.5})
    assert type(trainer.optimizer) is OPTIMIZERS[name.lower()]
    assert trainer.optimizer.lr == 0.5


def test_optimizer_instance_is_used():
    x, t = indexed(100)
    opt = Momentum(lr=0.1)
    net = Recorder()
    trainer = Trainer(net, x, t, x, t, epochs=1, optimizer=opt, verbose=False)
    assert trainer.optimizer is opt
    trainer.train()
    np.testing.assert_allclose(net.params["W"], -0.1)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"optimizer": "adamw"}, ValueError, "optimizer must be one of sgd, momentum, nesterov, "
                                         "adagrad, rmsprop, adam.*'adamw'"),
    ({"optimizer": 3}, TypeError, "optimizer must be a name or an object with update"),
    ({"optimizer": "adam", "optimizer_param": {"momentum": 0.9}}, TypeError,
     "optimizer_param .*momentum.* does not fit Adam"),
    ({"optimizer_param": [0.1]}, TypeError, "optimizer_param must be a dict, got list"),
    ({"epochs": 0}, ValueError, "epochs must be a positive int, got int 0"),
    ({"epochs": 2.5}, TypeError, "epochs must be a positive int, got float 2.5"),
    ({"epochs": True}, TypeError, "epochs must be a positive int, got bool True"),
    ({"mini_batch_size": -1}, ValueError, "mini_batch_size must be a positive int, got int -1"),
    ({"options": TrainOptions(eval_batch_size=0)}, ValueError,
     "eval_batch_size must be a positive int or None"),
    ({"options": {"shuffle": True}}, TypeError, "options must be a TrainOptions or None, got "
                                                "dict"),
    ({"options": TrainOptions(rng=3)}, TypeError, "rng must be a numpy.random.Generator"),
    ({"evaluate_sample_num_per_epoch": "10"}, TypeError, "evaluate_sample_num_per_epoch"),
    ({"callbacks": Seen()}, TypeError, "callbacks must be a list of callbacks, got Seen"),
    ({"callbacks": [5]}, TypeError, "callbacks must have on_start, on_step, on_epoch or "
                                    "on_end, got int"),
    ({"on_epoch": print}, TypeError, r"Trainer no longer takes on_epoch= \(use callbacks="),
    ({"shuffle": True, "progress": True}, TypeError, r"no longer takes shuffle= \(use "
     r"options=TrainOptions\(shuffle=\.\.\.\)\); progress= \(use options=TrainOptions"),
    ({"colour": 1}, TypeError, r"Trainer\(\) got an unexpected keyword argument 'colour'"),
])
def test_bad_arguments(kwargs, error, message):
    x, t = indexed(10)
    with pytest.raises(error, match=message):
        Trainer(Recorder(), x, t, x, t, **kwargs)


def test_bad_data_and_network():
    x, t = indexed(10)
    with pytest.raises(ValueError, match=r"x_train and t_train .* \(10, 2\) and \(9,\)"):
        Trainer(Recorder(), x, t[:9], x, t)
    with pytest.raises(ValueError, match=r"x_test and t_test .* \(3, 2\) and \(10,\)"):
        Trainer(Recorder(), x, t, x[:3], t)
    with pytest.raises(ValueError, match="x_train must have at least one row"):
        Trainer(Recorder(), x[:0], t[:0], x, t)
    with pytest.raises(TypeError, match="network must have the book's .* object has no 'params'"):
        Trainer(object(), x, t, x, t)
