"""Hyperparameter search for the book's networks (chapter 6's random search of the learning rate
and weight decay on a validation split), on Optuna's samplers, pruners and storages, run
serially or on Dask workers.

    from fastscratch.hpo import StudyConfig, run_study, write_report, retrain_best
    study = run_study("out", n_trials=100, config=StudyConfig(epochs=50, train_size=500))
    write_report(study, "out")
    print(retrain_best(study)["test_acc"])
"""
from .cli import add_hpo_command, main, run_hpo_command
from .data import DataSpec, Split, load_split, split_indices
from .executor import ClusterError, Executor
from .report import (best_trials, failed_trials, failure_summary, format_table, plot_best_curves,
                     plot_optuna, write_report)
from .retrain import retrain_best
from .space import OPTIMIZERS, SearchSpace
from .study import (StudyConfig, TrialsFailedError, default_storage, load_study, run_study,
                    study_config)
from .trial import TrialResult, TrialTask, execute, fit, train_trial, trial_seed

__all__ = ["SearchSpace", "OPTIMIZERS", "StudyConfig", "run_study", "load_study", "study_config",
           "default_storage", "DataSpec", "Split", "load_split", "split_indices", "TrialTask",
           "TrialResult", "train_trial", "fit", "execute", "trial_seed", "Executor",
           "best_trials", "failed_trials", "failure_summary", "TrialsFailedError", "ClusterError",
           "format_table", "plot_best_curves", "plot_optuna", "write_report", "retrain_best",
           "add_hpo_command", "run_hpo_command", "main"]
