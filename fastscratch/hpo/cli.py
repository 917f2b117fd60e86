"""``fastscratch hpo`` / ``python -m fastscratch.hpo``: run, resume, report and retrain."""
import argparse
import json
import os
import sys

from optuna.trial import TrialState

from .executor import ClusterError
from .report import failed_trials, failure_summary, format_table, write_report
from .retrain import retrain_best
from .space import OPTIMIZERS, SearchSpace
from .study import (DEFAULT_STUDY, PRUNERS, SAMPLERS, StudyConfig, TrialsFailedError,
                    load_study, run_study)

DESCRIPTION = ("Search the learning rate and weight decay (and optionally more) on a validation "
               "split of MNIST's training set, as at the end of the book's chapter 6; serially, "
               "on local Dask worker processes, or on a Dask cluster.")
BATCHNORM = {"off": (False,), "on": (True,), "search": (False, True)}


def _train_size(text):
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or 'all', got {text!r}") from None


def _add_common(parser):
    parser.add_argument("--out", default="runs/hpo", help="output directory")
    parser.add_argument("--study-name", default=DEFAULT_STUDY, help="Optuna study name")
    parser.add_argument("--storage", help="Optuna storage URL (None: sqlite:///OUT/study.db)")


def _add_execution(parser):
    parser.add_argument("--n-workers", type=int, default=1,
                        help="worker processes of an embedded Dask LocalCluster (1: serial)")
    parser.add_argument("--scheduler", help="run on an existing Dask cluster, e.g. "
                        "tcp://host:8786")
    parser.add_argument("--threads-per-worker", type=int,
                        help="Numba/BLAS threads of each trial (None: serially fastscratch's "
                        "default; on Dask each worker's share of its host's usable cores)")
    parser.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    parser.add_argument("--data-dir", help="MNIST directory (None: FASTSCRATCH_DATA/cache)")
    parser.add_argument("--top", type=int, default=10, help="rows of the best-trials table")
    parser.add_argument("--retrain", action="store_true",
                        help="then retrain the best trial on the whole training set and test it")


def _add_config(parser):
    space = SearchSpace()
    parser.add_argument("--epochs", type=int, default=50, help="epochs per trial")
    parser.add_argument("--batch-size", type=int, default=100, help="mini-batch size")
    parser.add_argument("--train-size", type=_train_size, default=500,
                        help="rows of MNIST's training set to use, or 'all'")
    parser.add_argument("--val-fraction", type=float, default=0.2,
                        help="part of those rows held out for validation")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the sampler, the split and every trial")
    parser.add_argument("--sampler", choices=SAMPLERS, default="random", help="Optuna sampler")
    parser.add_argument("--pruner", choices=tuple(PRUNERS),
                        help="early stopping on validation accuracy (None: none for random, "
                        "median for tpe)")
    parser.add_argument("--lr", type=float, nargs=2, default=space.lr, metavar=("LOW", "HIGH"),
                        help="learning-rate range (log-uniform)")
    parser.add_argument("--weight-decay", type=float, nargs=2, default=space.weight_decay,
                        metavar=("LOW", "HIGH"), help="weight-decay range (log-uniform)")
    parser.add_argument("--optimizer", nargs="+", default=space.optimizer,
                        help=f"one to fix, several to search: {', '.join(OPTIMIZERS)}")
    parser.add_argument("--hidden-layers", type=int, nargs="+", default=space.hidden_layers,
                        help="number of hidden layers (several: searched)")
    parser.add_argument("--hidden-units", type=int, nargs="+", default=space.hidden_units,
                        help="units per hidden layer (several: searched)")
    parser.add_argument("--batchnorm", choices=tuple(BATCHNORM), default="off",
                        help="batch normalization")
    parser.add_argument("--dropout", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="search the dropout ratio in [LOW, HIGH) (None: no dropout)")


def add_actions(parser):
    """Add the actions run, resume, report and retrain (with their options) to ``parser``."""
    actions = parser.add_subparsers(dest="hpo_action", required=True, metavar="ACTION")
    fmt = {"formatter_class": argparse.ArgumentDefaultsHelpFormatter}
    run = actions.add_parser("run", help="start a study (or continue one made the same way)",
                             **fmt)
    run.add_argument("--n-trials", type=int, default=100, help="trials to run")
    resume = actions.add_parser("resume", help="run more trials of a stored study", **fmt)
    resume.add_argument("--n-trials", type=int, required=True, help="trials to add")
    report = actions.add_parser("report", help="write the tables and figures of a study",
                                **fmt)
    report.add_argument("--top", type=int, default=10, help="rows of the best-trials table")
    retrain = actions.add_parser("retrain", help="retrain the best trial on the whole "
                                 "training set and evaluate it on the test set", **fmt)
    retrain.add_argument("--trial", type=int, help="a completed trial's number (default: best)")
    retrain.add_argument("--epochs", type=int, help="epochs (None: the study's)")
    retrain.add_argument("--train-size", type=_train_size, default=None,
                         help="rows of the training set (None: all)")
    retrain.add_argument("--data-dir", help="MNIST directory (None: FASTSCRATCH_DATA/cache)")
    for sub in (run, resume, report, retrain):
        _add_common(sub)
    for sub in (run, resume):
        _add_execution(sub)
    _add_config(run)


def add_hpo_command(subparsers):
    """Add ``hpo`` (with actions run, resume, report, retrain) to an argparse subparsers
    object; its ``func`` default is run_hpo_command."""
    parser = subparsers.add_parser("hpo", help="hyperparameter search (Optuna + Dask)",
                                   description=DESCRIPTION)
    add_actions(parser)
    parser.set_defaults(func=run_hpo_command)
    return parser


def _config(args):
    space = SearchSpace(lr=args.lr, weight_decay=args.weight_decay, optimizer=args.optimizer,
                        hidden_layers=args.hidden_layers, hidden_units=args.hidden_units,
                        batchnorm=BATCHNORM[args.batchnorm], dropout=args.dropout)
    return StudyConfig(space=space, sampler=args.sampler, pruner=args.pruner, seed=args.seed,
                       epochs=args.epochs, batch_size=args.batch_size,
                       train_size=args.train_size, val_fraction=args.val_fraction)


def _report(study, args):
    rows, paths, skipped = write_report(study, args.out, top=args.top)
    counts = {s.name: len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
    print(f"study {study.study_name!r}: " + ", ".join(f"{n} {s.lower()}"
                                                     for s, n in counts.items() if n))
    print(format_table(rows))
    failed = failed_trials(study)
    if failed:
        print(failure_summary(failed, len(study.trials)))
        print(format_table(failed[:args.top]))
        if len(failed) > args.top:
            print(f"... {len(failed) - args.top} more in {paths['failed']}")
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    for name, why in skipped.items():
        print(f"skipped plot {name}: {why}")


def _retrain(study, args, **kwargs):
    result = retrain_best(study, **kwargs)
    path = os.path.join(args.out, "retrain.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"retrained trial {result['trial']} on {result['train_size']} rows for "
          f"{result['epochs']} epochs: test accuracy {result['test_acc']:.4f} (wrote {path})")


def run_hpo_command(args):
    """Carry out the parsed ``hpo`` action; returns the exit status: 2 on bad input, 1 when the
    cluster cannot run the study or every trial of this run failed."""
    try:
        if args.hpo_action != "run":  # resume, report and retrain need a stored study
            study = load_study(args.out, study_name=args.study_name, storage=args.storage)
        if args.hpo_action in ("run", "resume"):
            study = run_study(
                args.out, args.n_trials, _config(args) if args.hpo_action == "run" else None,
                study_name=args.study_name, storage=args.storage, n_workers=args.n_workers,
                scheduler=args.scheduler, threads_per_worker=args.threads_per_worker,
                timeout=args.timeout, data_dir=args.data_dir)
        if args.hpo_action == "retrain":
            _retrain(study, args, trial=args.trial, epochs=args.epochs,
                     train_size=args.train_size, data_dir=args.data_dir)
            return 0
        _report(study, args)
        if getattr(args, "retrain", False):
            _retrain(study, args, data_dir=args.data_dir)
    except (ClusterError, TrialsFailedError) as exc:
        print(f"fastscratch hpo: error: {exc}", file=sys.stderr)
        return 1
    except (TypeError, ValueError, KeyError, FileNotFoundError, ImportError) as exc:
        print(f"fastscratch hpo: error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    """``python -m fastscratch.hpo ACTION ...``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m fastscratch.hpo", description=DESCRIPTION)
    add_actions(parser)
    return run_hpo_command(parser.parse_args(argv))
