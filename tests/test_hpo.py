"""fastscratch.hpo: validation split, search space, serial and Dask studies (identical results,
dying workers, failing trials), resuming from SQLite, pruning, reports, retraining, CLI.
The external-cluster tests are in test_hpo_cluster.py."""
import argparse
import functools
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

import fastscratch  # noqa: E402
import fastscratch.hpo.trial  # noqa: E402
from fastscratch.dataset.mnist import load_mnist  # noqa: E402
from fastscratch.hpo import (DataSpec, SearchSpace, StudyConfig, TrialsFailedError,  # noqa: E402
                             add_hpo_command, best_trials, failed_trials, failure_summary,
                             load_split, load_study, main, retrain_best, run_hpo_command,
                             run_study, split_indices, train_trial, write_report)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data(mnist_dir):
    """The MNIST folder as the text the hpo functions and command take."""
    return str(mnist_dir)


SMALL = StudyConfig(seed=7, epochs=2, train_size=300)


def _summary(study):
    """Per trial: number, state, params, value and both accuracy curves."""
    return [(t.number, t.state, t.params, t.value, t.user_attrs.get("val_acc"),
             t.user_attrs.get("train_acc")) for t in study.trials]


@pytest.fixture(scope="module")
def serial(tmp_path_factory, data):
    """A 4-trial random search on 300 MNIST rows, run in-process."""
    return run_study(tmp_path_factory.mktemp("serial"), 4, SMALL, data_dir=data)


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster reached by address; a task dies at most twice before it fails."""
    distributed = pytest.importorskip("distributed")
    dask = pytest.importorskip("dask")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address=None)
    yield local.scheduler_address
    local.close()


# -- data and configuration --------------------------------------------------------------------

def test_validation_split_is_disjoint_from_training_part_and_test_set(data):
    split = load_split(DataSpec(seed=3, train_size=1000, val_fraction=0.2, data_dir=data))
    (x, t), (x_test, _) = load_mnist(data_dir=data, progress=False)
    assert len(split.val_idx) == 200 and len(split.train_idx) == 800
    assert not set(split.val_idx.tolist()) & set(split.train_idx.tolist())
    np.testing.assert_array_equal(split.x_val, x[split.val_idx])
    np.testing.assert_array_equal(split.t_train, t[split.train_idx])
    test_rows = {row.tobytes() for row in x_test}
    assert not any(row.tobytes() in test_rows for row in split.x_val)
    again, other = split_indices(60000, DataSpec(seed=3, train_size=1000)), \
        split_indices(60000, DataSpec(seed=4, train_size=1000))
    np.testing.assert_array_equal(again[1], split.val_idx)
    assert set(other[1].tolist()) != set(split.val_idx.tolist())


@pytest.mark.parametrize("kwargs, word", [
    (dict(train_size=70000), "train_size"),
    (dict(train_size=10, val_fraction=0.01), "val_fraction")])
def test_split_indices_rejects_impossible_splits(kwargs, word):
    with pytest.raises(ValueError, match=word):
        split_indices(60000, DataSpec(**kwargs))


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(lr=(1e-2, 1e-6)), ValueError, "lr"),
    (dict(weight_decay=(0, 1e-4)), ValueError, "weight_decay"),
    (dict(optimizer=("sgd", "lbfgs")), ValueError, r"optimizer\[1\] must be one of 'sgd'"),
    (dict(optimizer=("sgd", "sgd")), ValueError, "optimizer must be a non-empty sequence of "
                                                 "distinct values"),
    (dict(hidden_units=(0,)), ValueError, r"hidden_units\[0\] must be a positive int"),
    (dict(hidden_layers=2), TypeError, "hidden_layers must be a sequence"),
    (dict(batchnorm=("yes",)), TypeError, r"batchnorm\[0\] must be True or False"),
    (dict(dropout=(0.2, 1.5)), ValueError, "dropout")])
def test_search_space_rejects_bad_ranges(kwargs, error, word):
    with pytest.raises(error, match=word):
        SearchSpace(**kwargs)


def test_config_round_trips_through_json_and_checks_input():
    config = StudyConfig(space=SearchSpace(optimizer=("sgd", "adam"), dropout=(0.1, 0.5)),
                         sampler="tpe", epochs=3)
    assert StudyConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.pruner == "median" and StudyConfig().pruner == "none"
    for kwargs, word in [(dict(sampler="grid"), "sampler"), (dict(pruner="hyperband"), "pruner"),
                         (dict(epochs=0), "epochs"), (dict(train_size=1), "train_size")]:
        with pytest.raises(ValueError, match=word):
            StudyConfig(**kwargs)


@pytest.mark.parametrize("kwargs, word", [
    (dict(n_workers=0), "n_workers"), (dict(n_workers=2, scheduler="tcp://x:1"), "scheduler"),
    (dict(threads_per_worker=0), "threads_per_worker"), (dict(timeout=-1), "timeout")])
def test_run_study_rejects_bad_execution_settings(tmp_path, kwargs, word):
    with pytest.raises(ValueError, match=word):
        run_study(tmp_path, 1, SMALL, **kwargs)


def test_timeout_stops_starting_trials(tmp_path, data):
    study = run_study(tmp_path, 3, SMALL, data_dir=data, timeout=1e-9)
    assert study.trials == []


# -- studies -----------------------------------------------------------------------------------

def test_serial_study_samples_book_ranges_and_measures_accuracy(serial):
    assert [t.state for t in serial.trials] == [TrialState.COMPLETE] * 4
    assert len({t.params["lr"] for t in serial.trials}) == 4
    for t in serial.trials:
        assert 1e-6 <= t.params["lr"] <= 1e-2 and 1e-8 <= t.params["weight_decay"] <= 1e-4
        assert len(t.user_attrs["val_acc"]) == 2 and t.value == t.user_attrs["val_acc"][-1]
        assert all(0 <= a <= 1 for a in t.user_attrs["train_acc"] + t.user_attrs["val_acc"])
        assert t.intermediate_values == dict(enumerate(t.user_attrs["val_acc"]))


def test_two_worker_local_cluster_matches_serial_run(serial, tmp_path, data):
    pytest.importorskip("distributed")
    parallel = run_study(tmp_path, 4, SMALL, n_workers=2, data_dir=data)
    assert _summary(parallel) == _summary(serial)


def _threads_train(task, split, report, *, expected):
    """train_trial, failing the trial unless Numba runs ``expected`` threads."""
    if fastscratch.get_num_threads() != expected:
        raise AssertionError(f"{fastscratch.get_num_threads()} threads, expected {expected}")
    train_trial(task, split, report)


def test_each_worker_trains_with_its_share_of_the_cores(cluster, tmp_path, data):
    expected = max(1, fastscratch.threads.usable_cores() // 2)  # 2 single-threaded workers
    study = run_study(tmp_path, 2, StudyConfig(epochs=1, train_size=200), scheduler=cluster,
                      data_dir=data, train_fn=functools.partial(_threads_train,
                                                                expected=expected))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2, \
        [t.user_attrs.get("error") for t in study.trials]


def _dying_train(task, split, report, *, marker, always):
    """train_trial, except that trial 1 kills its worker process: once (then it is rerun and
    succeeds) or every time."""
    if task.number == 1 and (always or not os.path.exists(marker)):
        Path(marker).touch()
        os._exit(3)
    train_trial(task, split, report)


def test_worker_killed_mid_trial_is_rerun_and_study_completes(serial, cluster, tmp_path, data):
    marker = tmp_path / "died"
    study = run_study(tmp_path, 4, SMALL, scheduler=cluster, data_dir=data,
                      train_fn=functools.partial(_dying_train, marker=str(marker), always=False))
    assert marker.exists()
    assert _summary(study) == _summary(serial)


def test_trial_whose_worker_always_dies_fails_and_others_complete(serial, cluster, tmp_path, data):
    study = run_study(tmp_path, 4, SMALL, scheduler=cluster, data_dir=data,
                      train_fn=functools.partial(_dying_train, marker=str(tmp_path / "m"),
                                                 always=True))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                               TrialState.COMPLETE, TrialState.COMPLETE]
    assert "KilledWorker" in study.trials[1].user_attrs["error"]
    kept = [s for s in _summary(serial) if s[0] != 1]
    assert [s for s in _summary(study) if s[0] != 1] == kept


def _crashing_train(task, split, report):
    if task.number == 1:
        raise RuntimeError("diverged on purpose")
    train_trial(task, split, report)


def test_crashing_trial_is_recorded_as_failed(tmp_path, data):
    study = run_study(tmp_path, 3, SMALL, data_dir=data, train_fn=_crashing_train)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[1].user_attrs["error"] == "RuntimeError: diverged on purpose"
    assert study.trials[1].user_attrs["error_type"] == "RuntimeError"
    assert study.trials[1].user_attrs["host"].endswith(f":{os.getpid()}")
    assert [row["trial"] for row in best_trials(study)] == sorted(
        [0, 2], key=lambda n: -study.trials[n].value)


def test_failure_summary_counts_and_names_the_first_error_of_each_kind(tmp_path, data):
    def train(task, split, report):
        if task.number in (1, 3):
            raise ValueError(f"bad value in trial {task.number}")
        raise KeyError("w")

    with pytest.raises(TrialsFailedError) as info:
        run_study(tmp_path, 4, SMALL, data_dir=data, train_fn=train)
    rows = failed_trials(info.value.study)
    assert [(r["trial"], r["error_type"]) for r in rows] == [
        (0, "KeyError"), (1, "ValueError"), (2, "KeyError"), (3, "ValueError")]
    assert str(info.value) == failure_summary(rows, 4)
    host = rows[0]["host"]
    assert str(info.value).splitlines() == [
        "4 of 4 trials failed; first error of each kind:",
        f"  KeyError: 'w' (first in trial 0 on {host}; 2 of this kind)",
        f"  ValueError: bad value in trial 1 (first in trial 1 on {host}; 2 of this kind)"]
    assert [r["trial"] for r in failed_trials(info.value.study, numbers=[2, 3, 9])] == [2, 3]


def test_cli_exits_nonzero_when_all_trials_fail_and_report_lists_them(tmp_path, capsys,
                                                                      monkeypatch, data):
    def failing_fit(params, x, t, **kwargs):
        raise FloatingPointError(f"loss is nan at lr={params['lr']:.3g}")

    monkeypatch.setattr(fastscratch.hpo.trial, "fit", failing_fit)
    out = str(tmp_path / "out")
    args = ["--out", out, "--data-dir", data, "--n-trials", "3", "--epochs", "1",
            "--train-size", "200"]
    assert main(["run", *args]) == 1
    err = capsys.readouterr().err
    assert "error: 3 of 3 trials failed; first error of each kind:" in err
    assert "FloatingPointError: loss is nan at lr=" in err and "3 of this kind" in err
    assert main(["report", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "3 fail" in printed and "| trial | error_type | host | error |" in printed
    assert printed.count("| FloatingPointError |") == 3
    lines = Path(out, "failed_trials.csv").read_text().splitlines()
    assert lines[0] == "trial,error_type,host,error" and len(lines) == 4
    assert all(",FloatingPointError," in line for line in lines[1:])


def test_resuming_from_sqlite_keeps_earlier_trials_and_adds_new_ones(serial, tmp_path, data):
    run_study(tmp_path, 2, SMALL, data_dir=data)
    stale = load_study(tmp_path).ask()  # as if a run had been killed mid-trial
    resumed = run_study(tmp_path, 2, data_dir=data)
    assert len(resumed.trials) == 5
    assert _summary(resumed)[:2] == _summary(serial)[:2]
    assert resumed.trials[stale.number].state == TrialState.FAIL
    new = [t.params["lr"] for t in resumed.trials[3:]]
    assert all(t.state == TrialState.COMPLETE for t in resumed.trials[3:])
    assert not set(new) & {t.params["lr"] for t in serial.trials}
    with pytest.raises(ValueError, match="epochs"):
        run_study(tmp_path, 1, StudyConfig(seed=7, epochs=3, train_size=300), data_dir=data)


def test_tpe_serial_runs_repeat_exactly(tmp_path, data):
    config = StudyConfig(sampler="tpe", pruner="none", seed=1, epochs=1, train_size=200)
    first = run_study(tmp_path / "a", 3, config, data_dir=data)
    assert _summary(run_study(tmp_path / "b", 3, config, data_dir=data)) == _summary(first)


def test_median_pruner_stops_trials_below_the_median(tmp_path, data):
    config = StudyConfig(pruner="median", seed=2, epochs=3, train_size=200)
    study = run_study(tmp_path, 10, config, data_dir=data)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert pruned, "no trial was pruned"
    for trial in pruned:  # its best so far fell below the median of the completed trials
        step = max(trial.intermediate_values)
        earlier = [t.intermediate_values[step] for t in study.trials
                   if t.state == TrialState.COMPLETE and t.number < trial.number]
        assert len(earlier) >= 5 and max(trial.intermediate_values.values()) < np.median(earlier)


# -- reports, retraining, command line ---------------------------------------------------------

def test_report_writes_sorted_table_and_figures(serial, tmp_path):
    rows, paths, skipped = write_report(serial, tmp_path, top=3)
    assert [r["val_acc"] for r in rows] == sorted((t.value for t in serial.trials),
                                                  reverse=True)[:3]
    assert len(Path(paths["csv"]).read_text().strip().splitlines()) == 4
    assert Path(paths["markdown"]).read_text().count("\n") == 5
    for name in ("best_curves", "optimization_history", "param_importances",
                 "contour_lr_weight_decay"):
        assert os.path.getsize(paths[name]) > 1000, skipped


def test_retrain_best_trains_on_training_set_and_tests_once(serial, data):
    result = retrain_best(serial, epochs=1, train_size=1000, data_dir=data)
    assert result["trial"] == serial.best_trial.number
    assert result["config"]["lr"] == serial.best_trial.params["lr"]
    assert len(result["train_acc"]) == 1 and 0 <= result["test_acc"] <= 1
    with pytest.raises(ValueError, match="trial"):
        retrain_best(serial, trial=99)


def test_cli_run_resume_retrain_and_errors(tmp_path, capsys, data):
    out = str(tmp_path / "out")
    common = ["--out", out, "--data-dir", data]
    assert main(["run", *common, "--n-trials", "2", "--epochs", "1", "--train-size", "200",
                 "--optimizer", "sgd", "adam"]) == 0
    assert "| rank | trial | val_acc" in capsys.readouterr().out
    assert main(["resume", *common, "--n-trials", "1"]) == 0
    assert len(load_study(out).trials) == 3
    assert {"optimizer", "lr"} <= set(load_study(out).trials[0].params)
    assert main(["retrain", *common, "--epochs", "1", "--train-size", "300"]) == 0
    assert 0 <= json.loads(Path(out, "retrain.json").read_text())["test_acc"] <= 1
    assert main(["run", "--out", str(tmp_path / "bad"), "--lr", "1", "0.1"]) == 2
    assert "lr must be" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path / "none")]) == 2
    assert main(["resume", "--out", str(tmp_path / "none"), "--n-trials", "1"]) == 2
    assert "no study.db" in capsys.readouterr().err


def test_add_hpo_command_wires_into_a_parent_parser():
    parser = argparse.ArgumentParser(prog="fastscratch")
    add_hpo_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["hpo", "run", "--n-trials", "3", "--sampler", "tpe"])
    assert args.func is run_hpo_command and args.n_trials == 3 and args.sampler == "tpe"


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "fastscratch.hpo", "run", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--n-workers" in proc.stdout and "--scheduler" in proc.stdout


def test_both_executors_have_the_executor_interface():
    """SerialExecutor (an instance) and DaskExecutor (its class: making one starts a cluster)
    have every member of hpo.executor.Executor; a class lacking one is not an Executor."""
    from fastscratch.hpo.execution import SerialExecutor
    from fastscratch.hpo.executor import Executor
    assert isinstance(SerialExecutor(train_trial, split=None), Executor)
    assert not isinstance(argparse.Namespace(threads=None, capacity=1, submit=print,
                                             close=print), Executor)  # no next_done
    pytest.importorskip("distributed")
    from fastscratch.hpo.cluster import DaskExecutor
    assert all(callable(getattr(DaskExecutor, name)) for name in ("submit", "next_done", "close"))
    assert isinstance(DaskExecutor.capacity, property)
    assert "threads" in inspect.signature(DaskExecutor).parameters
