"""Trainer checkpoints: resuming equals not stopping (float64: the identical loss sequence),
SIGINT/SIGTERM stop after the current step with a checkpoint, the NaN/Inf guard; and the
``fastscratch train`` command killed at random points (SIGTERM, and SIGKILL for a crash) and
resumed ends exactly as an uninterrupted run."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastscratch import MultiLayerNetExtend
from fastscratch.checkpoint import CheckpointError
from fastscratch.run_control import Checkpoint, parse_every
from fastscratch.trainer import TrainOptions, Trainer
from fastscratch.training import NanGuard

REPO = Path(__file__).resolve().parents[1]

DATA = np.random.default_rng(0)
X, T = DATA.random((90, 12)), DATA.integers(0, 4, 90)


class Hooked(MultiLayerNetExtend):
    """A net that runs ``hook(step)`` at the start of each gradient call."""

    hook = None

    def gradient(self, x, t):
        self.calls = getattr(self, "calls", 0) + 1
        if self.hook is not None:
            self.hook(self.calls)
        return super().gradient(x, t)


def _trainer(path=None, shuffle=True, hook=None, seed=0, nan_guard=None, **kw):
    """A Trainer on a Hooked net with a Checkpoint(path, **kw) (when path is given), after
    NanGuard (nan_guard: 'stop' or 'rollback')."""
    np.random.seed(seed)  # batches and dropout masks come from NumPy's global RNG
    net = Hooked(12, [10, 8], 4, use_batchnorm=True, use_dropout=True, dropout_ration=0.2)
    net.hook = hook
    ck = None if path is None else Checkpoint(path, **kw)
    guard = nan_guard and NanGuard(rollback=ck if nan_guard == "rollback" else None)
    return Trainer(net, X, T, X[:30], T[:30], epochs=3, mini_batch_size=20, optimizer="adam",
                   optimizer_param={"lr": 0.01}, verbose=False,
                   options=TrainOptions(shuffle=shuffle),
                   callbacks=[c for c in (guard, ck) if c])


def _signal_at(step, signum):
    def hook(calls):
        if calls == step:
            os.kill(os.getpid(), signum)
    return hook


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled-epochs", "book-draws"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_after_the_step_and_resuming_equals_not_stopping(signum, shuffle,
                                                                        tmp_path):
    whole = _trainer(shuffle=shuffle)
    whole.train()
    path = tmp_path / "ck.npz"
    stopped = _trainer(path, shuffle, hook=_signal_at(7, signum), every=5)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    expected = KeyboardInterrupt if signum == signal.SIGINT else SystemExit
    with pytest.raises(expected) as info:
        stopped.train()
    if signum == signal.SIGTERM:
        assert info.value.code == 128 + signal.SIGTERM
    else:
        assert "SIGINT: stopped after step 7; checkpoint in" in str(info.value)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert stopped.current_iter == 7 and len(stopped.train_loss_list) == 7
    resumed = _trainer(path, shuffle, seed=99, resume=True)  # other weights and RNG state
    resumed.train()
    assert resumed.train_loss_list == whole.train_loss_list
    assert resumed.train_acc_list == whole.train_acc_list
    assert resumed.test_acc_list == whole.test_acc_list
    assert resumed.final_test_acc == whole.final_test_acc
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]
    for key in whole.network.params:
        np.testing.assert_array_equal(resumed.network.params[key], whole.network.params[key])


def test_periodic_checkpoints_in_steps_and_epochs(tmp_path):
    path = tmp_path / "ck.npz"
    for every, want in (("2 epochs", [0] * 10 + [10] * 5), (4, [0] * 4 + [4] * 4 + [8] * 4
                                                             + [12] * 3)):
        seen = []
        _trainer(path, every=every,
                 hook=lambda calls: seen.append(_checkpoint_step(path))).train()
        assert seen == want  # 3 epochs of 5 steps; the checkpoint each step starts from
        assert _checkpoint_step(path) == 15  # and the last one, at the end
    assert parse_every(7) == (7, "steps") and parse_every("3epoch") == (3, "epochs")
    assert parse_every(" 100 steps ") == (100, "steps")
    for bad, error in ((0, ValueError), ("0 steps", ValueError), ("2 weeks", ValueError),
                       (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="checkpoint_every must be a positive int"):
            parse_every(bad)
        with pytest.raises(error, match="every must be a positive int"):
            Checkpoint(path, every=bad)


def test_resume_without_a_checkpoint_starts_afresh_and_finished_runs_stay_finished(tmp_path):
    path = tmp_path / "ck.npz"
    first = _trainer(path, resume=True)
    first.train()
    assert first.current_iter == first.max_iter and path.exists()
    again = _trainer(path, resume=True, seed=5)
    again.train()
    assert again.train_loss_list == first.train_loss_list
    assert again.final_test_acc == first.final_test_acc
    assert not hasattr(again.network, "calls")  # no step was run


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    path = tmp_path / "ck.npz"
    _trainer(path).train()
    other = Trainer(Hooked(12, [10, 8], 4, use_batchnorm=True, use_dropout=True,
                           dropout_ration=0.2), X, T, X[:30], T[:30], epochs=3,
                    mini_batch_size=30, optimizer="adam", verbose=False,
                    options=TrainOptions(shuffle=True),
                    callbacks=[Checkpoint(path, resume=True)])
    before = {k: v.copy() for k, v in other.network.params.items()}
    with pytest.raises(CheckpointError, match=r"other settings:\n  mini_batch_size: "
                                              r"checkpoint 20, now 30"):
        other.train()
    for key in before:
        np.testing.assert_array_equal(other.network.params[key], before[key])


@pytest.mark.parametrize("mode", ["stop", "rollback"])
def test_nan_guard_names_the_step_and_the_first_bad_parameter(mode, tmp_path):
    trainer = _trainer(tmp_path / "ck.npz", nan_guard=mode, every=3)

    def poison(calls):
        if calls == 8:
            trainer.network.params["W2"][1, 2] = np.nan
    trainer.network.hook = poison
    with pytest.raises(FloatingPointError) as info:
        trainer.train()
    message = str(info.value)
    # backprop through the NaN weight spreads it to W1, the first key of params
    assert message.startswith("step 8: the loss is nan; the first non-finite parameter is W1[")
    if mode == "rollback":
        assert "rolled back to the checkpoint of step 6" in message
        assert trainer.current_iter == 6 and len(trainer.train_loss_list) == 6
        assert all(np.isfinite(p).all() for p in trainer.network.params.values())
    else:
        assert trainer.current_iter == 8


@pytest.mark.parametrize("keyword, replacement", [
    ("checkpoint_path", "callbacks=[Checkpoint(path, every=..., resume=...)]"),
    ("checkpoint_every", "callbacks=[Checkpoint(path, every=..., resume=...)]"),
    ("resume", "callbacks=[Checkpoint(path, every=..., resume=...)]"),
    ("nan_guard", "callbacks=[NanGuard()]"),
])
def test_the_former_checkpoint_keywords_name_their_replacement(keyword, replacement):
    net = MultiLayerNetExtend(12, [4], 4)
    with pytest.raises(TypeError, match=rf"Trainer no longer takes {keyword}= \(use "
                                        + re.escape(replacement)):
        Trainer(net, X, T, X, T, verbose=False, **{keyword: True})
    with pytest.raises(ValueError, match="Checkpoint needs a path, got None"):
        Checkpoint(None)


# ---------------------------------------------------------------- the command, killed

TRAIN = ["train", "--train-size", "3000", "--test-size", "300", "--epochs", "3", "--hidden",
         "100,100", "--batch-size", "30", "--batchnorm", "--dropout", "0.1", "--dtype",
         "float64", "--seed", "0", "--threads", "1", "--quiet", "--checkpoint-every", "25"]


def _start(mnist_dir, out, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), FASTSCRATCH_DATA=str(mnist_dir))
    return subprocess.Popen([sys.executable, "-m", "fastscratch", *TRAIN, "--out", str(out),
                             "--checkpoint", str(out / "ck.npz"), *extra], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(path, proc, step, timeout=120):
    """The time at which the checkpoint at path is of ``step`` or later (polled)."""
    start = time.monotonic()
    while not (path.exists() and _checkpoint_step(path) >= step):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < timeout
        time.sleep(0.005)
    return time.monotonic()


def _history(out):
    h = json.loads((out / "history.json").read_text())
    return h["train_loss"], [(r["loss"], r["train_acc"], r["test_acc"]) for r in h["epochs"]], \
        h["final_test_acc"]


def _checkpoint_step(path):
    """The step count of the checkpoint at path (it is replaced atomically: always whole)."""
    with np.load(path) as data:
        return json.loads(data["meta"].tobytes())["extra"]["trainer"]["current_iter"]


def test_killed_and_resumed_command_equals_an_uninterrupted_run(tmp_path, mnist_dir):
    """SIGTERM: a checkpoint of the current step is written; SIGKILL: the last periodic one
    survives. Either way --resume ends with the identical loss sequence (float64)."""
    whole = tmp_path / "whole"
    proc = _start(mnist_dir, whole)
    warm = _wait_for_step(whole / "ck.npz", proc, 25)  # the first steps load the kernels
    duration = _wait_for_step(whole / "ck.npz", proc, 300) - warm
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    want = _history(whole)
    assert len(want[0]) == 300
    rng = np.random.default_rng()
    report = []
    for i, signum in enumerate([signal.SIGTERM, signal.SIGKILL, signal.SIGTERM,
                                signal.SIGKILL]):
        out = tmp_path / f"run{i}"
        proc = _start(mnist_dir, out)
        _wait_for_step(out / "ck.npz", proc, 25)
        time.sleep(rng.uniform(0.0, 0.8) * duration)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=300)
        step = _checkpoint_step(out / "ck.npz")
        report.append((signal.Signals(signum).name, proc.returncode, step))
        if signum == signal.SIGTERM and proc.returncode == 128 + signal.SIGTERM:
            assert f"SIGTERM: stopped after step {step}; checkpoint in" in err
        resumed = _start(mnist_dir, out, "--resume")
        _, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err
        assert _history(out) == want, report[-1]
    print("kill points (signal, exit code, checkpoint step):", report)
    assert sum(r[1] != 0 for r in report) >= 3, report  # the kills land while training


@pytest.mark.parametrize("argv, message", [
    (["train", "--resume"], "--checkpoint-every, --resume and --nan-guard rollback need "
                            "--checkpoint PATH"),
    (["train", "--checkpoint-every", "5"], "need --checkpoint PATH"),
    (["train", "--checkpoint-every", "0"], "argument --checkpoint-every: expected N (steps), "
                                           "'N steps' or 'N epochs' with N >= 1, got '0'"),
    (["train", "--checkpoint-every", "2 weeks"], "argument --checkpoint-every: expected N"),
    (["train", "--nan-guard", "maybe"], "argument --nan-guard: invalid choice: 'maybe'"),
])
def test_checkpoint_arguments_exit_2(argv, message, capsys):
    from fastscratch.cli import main
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_resuming_another_architecture_exits_1_naming_the_difference(tmp_path, monkeypatch,
                                                                      capsys, mnist_dir):
    from fastscratch.cli import main
    monkeypatch.setenv("FASTSCRATCH_DATA", str(mnist_dir))
    common = ["train", "--train-size", "200", "--test-size", "50", "--epochs", "1", "--quiet",
              "--threads", "1", "--checkpoint", str(tmp_path / "ck.npz"), "--out",
              str(tmp_path)]
    assert main(common + ["--hidden", "20"]) == 0
    assert main(common + ["--hidden", "30", "--resume"]) == 1
    err = capsys.readouterr().err
    assert "does not fit this network" in err and "hidden_size_list: checkpoint [20], network " \
                                                  "[30]" in err
