"""Fingerprints of seeded training runs through every user of the training loop: the book's
Trainer (its prints and losses), ``fastscratch train`` (history.json, with checkpoints, the NaN
guard and a resume), an hpo trial's ``fit`` and the epoch benchmark. Compare two revisions:

    python bench/seeded_runs.py --write before.json      # on the old revision
    python bench/seeded_runs.py --compare before.json    # on the new one: exit 1 on a change

Needs the MNIST files (FASTSCRATCH_DATA); runs on 1 thread in float64 so that every number is
reproducible bit for bit.
"""
import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import fastscratch
from fastscratch.dataset.mnist import load_mnist


def _digest(*values):
    """sha256 over the reprs of floats, lists and dicts and the bytes of arrays."""
    h = hashlib.sha256()
    for value in values:
        if isinstance(value, dict):
            for key in value:
                h.update(key.encode())
                h.update(_digest(value[key]).encode())
        elif isinstance(value, np.ndarray):
            h.update(np.ascontiguousarray(value).tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()[:16]


def trainer_runs(data):
    """The book's Trainer on its defaults (global-RNG draws, book prints), two batch sizes."""
    from fastscratch.multi_layer_net_extend import MultiLayerNetExtend
    from fastscratch.trainer import Trainer
    (x, t), (xt, tt) = data
    found = {}
    for n, batch in ((1000, 100), (950, 200)):
        np.random.seed(0)
        net = MultiLayerNetExtend(784, [50, 30], 10, use_batchnorm=True, use_dropout=True,
                                  dropout_ration=0.1)
        trainer = Trainer(net, x[:n], t[:n], xt[:300], tt[:300], epochs=3,
                          mini_batch_size=batch, optimizer="Adam",
                          optimizer_param={"lr": 0.001}, evaluate_sample_num_per_epoch=200)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            trainer.train()
        found[f"trainer n{n} b{batch}"] = _digest(out.getvalue(), trainer.train_loss_list,
                                                  trainer.train_acc_list,
                                                  trainer.test_acc_list, net.params)
    return found


def _history(out):
    h = json.loads((out / "history.json").read_text())
    return _digest(h["train_loss"], [(r["loss"], r["train_acc"], r["test_acc"])
                                     for r in h["epochs"]], h["final_test_acc"])


def cli_runs(tmp):
    """``fastscratch train`` runs: mlp with checkpoints, NaN guard and a resume; convnet."""
    from fastscratch.cli import main
    common = ["train", "--dtype", "float64", "--seed", "0", "--threads", "1", "--quiet"]
    mlp = common + ["--train-size", "1000", "--test-size", "200", "--hidden", "50",
                    "--batchnorm", "--dropout", "0.1", "--checkpoint", str(tmp / "ck.npz"),
                    "--checkpoint-every", "7", "--nan-guard", "rollback"]
    found = {}
    for name, argv in (
            ("train mlp 2 epochs", mlp + ["--epochs", "2", "--out", str(tmp / "a")]),
            ("train mlp resumed to 3 epochs", mlp + ["--epochs", "3", "--resume", "--out",
                                                     str(tmp / "a")]),
            ("train mlp sgd", common + ["--train-size", "700", "--test-size", "100",
                                        "--epochs", "2", "--optimizer", "sgd", "--batch-size",
                                        "64", "--out", str(tmp / "b")]),
            ("train convnet", common + ["--model", "convnet", "--train-size", "300",
                                        "--test-size", "100", "--epochs", "1",
                                        "--eval-samples", "100", "--out", str(tmp / "c")])):
        if main(argv) != 0:
            raise SystemExit(f"fastscratch {' '.join(argv)} failed")
        found[name] = _history(Path(argv[-1]))
    return found


def hpo_runs(data):
    """An hpo trial's fit: batches from its own generator, stopped by on_epoch."""
    from fastscratch.hpo.trial import fit
    (x, t), _ = data
    params = {"hidden_units": 40, "hidden_layers": 2, "weight_decay": 1e-4, "dropout": 0.1,
              "batchnorm": True, "optimizer": "adam", "lr": 0.002}
    seen = []

    def on_epoch(network, epoch):
        seen.append(network.accuracy(x[:500], t[:500], batch_size=100))
        return epoch == 1  # stop after the second of three epochs

    net = fit(params, x[:900], t[:900], seed=5, epochs=3, batch_size=64, on_epoch=on_epoch)
    return {"hpo fit": _digest(seen, net.params)}


def bench_runs(data):
    """The epoch benchmark's callable, run twice."""
    from fastscratch.benchtools import steps
    (x, t), _ = data
    made = []
    make = steps.net_and_optimizer

    def capture(*args, **kwargs):
        made.append(make(*args, **kwargs))
        return made[-1]

    steps.net_and_optimizer = capture
    try:
        epoch = steps.fastscratch_epoch(x[:1050], t[:1050], "784-50x2-10", "adam", "float64",
                                        "numba")
    finally:
        steps.net_and_optimizer = make
    epoch()
    epoch()
    return {"bench epoch": _digest(made[0][0].params)}


def fingerprints():
    fastscratch.set_num_threads(1)
    data = load_mnist(normalize=True)
    with tempfile.TemporaryDirectory() as tmp:
        return {**trainer_runs(data), **cli_runs(Path(tmp)), **hpo_runs(data),
                **bench_runs(data)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write the fingerprints here (JSON)")
    group.add_argument("--compare", type=Path, help="compare with the fingerprints here")
    args = p.parse_args(argv)
    now = fingerprints()
    if args.write:
        args.write.write_text(json.dumps(now, indent=1) + "\n")
        print(json.dumps(now, indent=1))
        return 0
    before = json.loads(args.compare.read_text())
    differ = 0
    for name in sorted(set(before) | set(now)):
        same = before.get(name) == now.get(name)
        differ += not same
        print(f"{'same   ' if same else 'DIFFERS'} {name}: {before.get(name)} -> {now.get(name)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
