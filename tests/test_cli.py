"""Tests of the ``fastscratch`` command: ``train`` end to end in a subprocess on an MNIST subset,
and argument errors (exit code 2 with a message) in process."""
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastscratch import cli, train_command, validation
from fastscratch.cli import COMMANDS, main
from fastscratch.optimizer import OPTIMIZERS, Hyper, Optimizer
REPO = Path(__file__).resolve().parents[1]


def run_module(mnist_dir, *args):
    """``python -m fastscratch ARGS`` from the repository, with mnist_dir as FASTSCRATCH_DATA."""
    env = dict(os.environ, PYTHONPATH=str(REPO), FASTSCRATCH_DATA=str(mnist_dir))
    return subprocess.run([sys.executable, "-m", "fastscratch", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_train_end_to_end(tmp_path, mnist_dir):
    out = tmp_path / "run"
    result = run_module(mnist_dir, "train", "--train-size", "2000", "--test-size", "500", "--epochs", "2",
                        "--hidden", "50", "--lr", "0.003", "--seed", "0", "--threads", "1",
                        "--out", str(out), "--save-params")
    assert result.returncode == 0, result.stderr
    assert "epoch 1/2" in result.stdout and "epoch 2/2" in result.stdout
    assert "final test accuracy" in result.stdout and str(out) in result.stdout
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == 2 and len(history["train_loss"]) == 40
    assert history["final_test_acc"] >= 0.8
    assert history["options"]["hidden"] == [50] and history["options"]["seed"] == 0
    assert history["settings"]["train_size"] == 2000 and history["settings"]["test_size"] == 500
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,iterations,seconds") and len(rows) == 3
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "params.npz") as params:
        assert sorted(params.files) == ["W1", "W2", "b1", "b2"]
        assert params["W1"].shape == (784, 50) and params["W1"].dtype == np.float32


@pytest.mark.parametrize("argv, message", [
    (["train", "--optimizer", "adamw"], "argument --optimizer: invalid choice: 'adamw'"),
    (["train", "--hidden", "100,x"], "argument --hidden: expected comma-separated positive"),
    (["train", "--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    (["train", "--dropout", "1.5"], r"argument --dropout: expected a number in \[0, 1\)"),
    (["train", "--lr", "0"], r"argument --lr: expected a number in \(0, inf\)"),
    (["train", "--weight-init", "glorot"],
     "argument --weight-init: expected relu, he, sigmoid, xavier or a positive number, "
     "got 'glorot'"),
    (["train", "--momentum", "0.5"], "--momentum applies to --optimizer momentum or nesterov, "
                                     "not adam"),
    (["train", "--optimizer", "sgd", "--beta1", "0.5"], "--beta1 applies to --optimizer adam, "
                                                        "not sgd"),
    (["train", "--optimizer", "sgd", "--decay-rate", "0.5"], "--decay-rate applies to "
                                                             "--optimizer rmsprop, not sgd"),
    (["train", "--optimizer", "rmsprop", "--decay-rate", "1"],
     r"argument --decay-rate: decay_rate must be a number in \[0, 1\), got 1.0"),
    (["train", "--beta2", "x"], "argument --beta2: expected a number, got 'x'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: fastscratch" in err
    assert re.search(message, err), err


def test_subset_larger_than_data_exits_2(capsys, mnist_dir):
    assert main(["train", "--train-size", "70000", "--data-dir", str(mnist_dir)]) == 2
    assert "--train-size 70000 is more than the 60000 images of mnist" in capsys.readouterr().err


def _outputs(tmp_path, case):
    """(extra options, option blamed, what the message says) for an output that cannot be
    written; made so without relying on permissions (tests may run as root)."""
    (tmp_path / "file").write_text("")
    (tmp_path / "out" / "params.npz").mkdir(parents=True)
    return {
        "out in a file": (["--out", str(tmp_path / "file" / "run")], "--out",
                          "cannot be made a directory"),
        "out is a file": (["--out", str(tmp_path / "file")], "--out",
                          "cannot be made a directory"),
        "checkpoint in a file": (["--checkpoint", str(tmp_path / "file" / "ck.npz")],
                                 "--checkpoint", "cannot be made a directory"),
        "checkpoint is a directory": (["--checkpoint", str(tmp_path)], "--checkpoint",
                                      "it is a directory"),
        "checkpoint in /proc": (["--checkpoint", "/proc/x.npz"], "--checkpoint",
                                "cannot write /proc/x.npz"),
        "params is a directory": (["--out", str(tmp_path / "out"), "--save-params"],
                                  "--save-params", "params.npz: it is a directory"),
    }[case]


@pytest.mark.parametrize("case", ["out in a file", "out is a file", "checkpoint in a file",
                                  "checkpoint is a directory", "checkpoint in /proc",
                                  "params is a directory"])
def test_unwritable_outputs_exit_2_before_anything_runs(case, tmp_path, capsys):
    if case.endswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("no /proc file system here")
    extra, option, says = _outputs(tmp_path, case)
    empty = tmp_path / "no-data"
    empty.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    # with no data in --data-dir, a check made after loading would exit 1 instead
    assert main(["train", "--data-dir", str(empty), "--out", str(tmp_path / "run"), *extra]) == 2
    err = capsys.readouterr().err
    assert "usage: fastscratch train" in err and f"error: {option} " in err and says in err, err
    # no probes, and no --out folder left behind when another output was refused
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_command_table_and_help(capsys):
    assert "train" in COMMANDS
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--hidden", "--activation", "--optimizer", "--lr", "--momentum", "--beta1",
                   "--beta2", "--decay-rate", "--batch-size", "--epochs", "--weight-init",
                   "--batchnorm", "--dropout", "--weight-decay", "--dtype", "--threads", "--seed",
                   "--data-dir", "--dataset", "--out", "--save-params", "--backend",
                   "--train-size", "--test-size", "--quiet"):
        assert option in out


def _train_args(*argv):
    return cli.build_parser("train").parse_args(["train", *argv])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_hyperparameter_has_an_option(name):
    """Each constructor parameter of each optimizer is a --option that reaches the optimizer;
    without --lr the optimizer starts from its train_lr (or its default)."""
    cls = OPTIMIZERS[name]
    params = inspect.signature(cls).parameters
    assert train_command._optimizer_param(_train_args("--optimizer", name)) == {
        "lr": cls.train_lr or params["lr"].default}
    argv = ["--optimizer", name]
    for i, param in enumerate(params):
        argv += [f"--{param.replace('_', '-')}", str(0.25 + i / 10)]
    kwargs = train_command._optimizer_param(_train_args(*argv))
    assert kwargs == {param: 0.25 + i / 10 for i, param in enumerate(params)}
    assert cls(**kwargs).hyperparameters() == kwargs


class _Toy(Optimizer):
    """A made-up optimizer with an integer hyper-parameter, registered for one test."""

    lr = Hyper(validation.nonnegative)
    warmup_steps = Hyper(validation.positive_int)

    def __init__(self, lr=0.5, warmup_steps=3):
        super().__init__()
        self.lr = lr
        self.warmup_steps = warmup_steps


def test_an_optimizer_added_to_the_registry_gets_its_options(monkeypatch, capsys):
    monkeypatch.setitem(OPTIMIZERS, "toy", _Toy)
    param = train_command._optimizer_param
    assert param(_train_args("--optimizer", "toy")) == {"lr": 0.5}
    assert param(_train_args("--optimizer", "toy", "--warmup-steps", "7")) == {
        "lr": 0.5, "warmup_steps": 7}
    assert main(["train", "--optimizer", "toy", "--warmup-steps", "0"]) == 2
    assert "argument --warmup-steps: warmup_steps must be a positive int, got int 0" in \
        capsys.readouterr().err
    assert main(["train", "--warmup-steps", "2"]) == 2
    assert "--warmup-steps applies to --optimizer toy, not adam" in capsys.readouterr().err


def _readme_defaults():
    """{model: (epochs, schedule, start lr or None)} from README's `<!-- train-defaults -->`
    line."""
    readme = (REPO / "README.md").read_text()
    line = readme.split("<!-- train-defaults -->", 1)[1].strip().splitlines()[0]
    stated = re.findall(r"`--model (\w+)`: (\d+) epochs, (\w+) lr(?: from ([0-9]+\.[0-9]+))?",
                        line)
    return {m: (int(e), s, float(lr) if lr else None) for m, e, s, lr in stated}


def test_train_defaults_are_the_readmes():
    """Epochs, schedule and Adam's start lr per --model as the README states them, and the
    rest (Adam, batches of 100, float32) shared."""
    stated = _readme_defaults()
    assert set(stated) == set(train_command.MODELS)
    for model, (epochs, schedule, lr) in stated.items():
        args = _train_args("--model", model)
        assert (args.optimizer, args.batch_size, args.dtype) == ("adam", 100, "float32")
        train_command._fill_model_defaults(args)
        assert (args.epochs, args.lr_schedule) == (epochs, schedule)
        assert args.lr == (lr if lr is not None else train_command._start_lr("adam"))
        made = train_command._lr_schedule(args, 600)
        if schedule == "constant":
            assert made == []
        else:
            (made,) = made
            assert (made.kind, made.lr, made.total_steps) == (schedule, args.lr, epochs * 600)


def test_model_defaults_give_way_to_options():
    args = _train_args("--model", "convnet", "--epochs", "2", "--lr", "0.01",
                       "--lr-schedule", "step", "--lr-decay", "0.5")
    train_command._fill_model_defaults(args)
    (made,) = train_command._lr_schedule(args, 10)
    assert (args.epochs, made.kind, made.lr, made.decay) == (2, "step", 0.01, 0.5)
    args = _train_args("--model", "convnet", "--optimizer", "sgd")
    train_command._fill_model_defaults(args)
    assert args.lr == train_command._start_lr("sgd")


def test_lr_decay_needs_the_step_schedule(capsys):
    assert main(["train", "--model", "convnet", "--lr-decay", "0.5"]) == 2
    assert "--lr-decay applies to --lr-schedule step, not cosine" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["convnet", "deepconvnet"])
def test_a_tiny_run_with_the_conv_defaults(model, tmp_path, mnist_dir):
    """`train --model M` with its defaults on 200 training images: every default epoch runs
    and the options recorded are the README's."""
    out = tmp_path / "run"
    result = run_module(mnist_dir, "train", "--model", model, "--train-size", "200",
                        "--test-size", "100", "--seed", "0", "--threads", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    epochs, schedule, lr = _readme_defaults()[model]
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == epochs and len(history["train_loss"]) == 2 * epochs
    assert all(np.isfinite(history["train_loss"]))
    assert 0 <= history["final_test_acc"] <= 1
    options = history["options"]
    assert (options["lr_schedule"], options["lr"], options["eval_samples"]) == \
        (schedule, lr, 1000)
