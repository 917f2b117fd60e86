"""Run a study: sample trial configurations in this process, train them where the executor says,
and record every outcome in an Optuna storage (SQLite in the output directory by default).

Only this process opens the storage and reads the data set. Workers get the validation split
once per study from the executor, then a TrialTask per trial, and return a TrialResult, so the
storage needs no shared file system or database server, SQLite has a single writer, workers
need no data files, and a worker that dies cannot leave a trial half-written. Parameters are
drawn here in trial order, so with the random sampler where a trial runs cannot change what it
trains.
"""
import dataclasses
import os
import time
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import TrialState

from .. import validation
from .data import DataSpec, load_split
from .execution import make_executor
from .report import failed_trials, failure_summary
from .space import SearchSpace
from .trial import TrialTask, train_trial, trial_seed

CONFIG_ATTR = "fastscratch_hpo"
DEFAULT_STUDY = "fastscratch-hpo"
SAMPLERS = ("random", "tpe")
PRUNERS = {"none": optuna.pruners.NopPruner, "median": optuna.pruners.MedianPruner,
           "halving": optuna.pruners.SuccessiveHalvingPruner}


class TrialsFailedError(RuntimeError):
    """Every trial a run_study call started failed; ``study`` holds them with their errors."""

    def __init__(self, message, study):
        super().__init__(message)
        self.study = study


@dataclass(frozen=True)
class StudyConfig:
    """What defines a study; it is kept in the storage so that resuming trains the same way.

    ``sampler``: 'random' (the book's random search) or 'tpe'. ``pruner``: 'none', 'median' or
    'halving' on the per-epoch validation accuracy; None picks 'none' for random, 'median' for
    TPE. ``seed`` seeds the sampler, the validation split and each trial's training. Each trial
    trains ``epochs`` epochs of mini-batches of ``batch_size`` on ``train_size`` rows of MNIST's
    training set (None: all) minus the ``val_fraction`` held out for validation.
    """

    space: SearchSpace = SearchSpace()
    sampler: str = "random"
    pruner: str = None
    seed: int = 0
    epochs: int = 50
    batch_size: int = 100
    train_size: int = 500
    val_fraction: float = 0.2

    def __post_init__(self):
        if not isinstance(self.space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(self.space).__name__}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.pruner is None:
            object.__setattr__(self, "pruner", "none" if self.sampler == "random" else "median")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {tuple(PRUNERS)} or None, got "
                             f"{self.pruner!r}")
        for name, low in (("seed", 0), ("epochs", 1), ("batch_size", 1)):
            validation.positive_int(name, getattr(self, name), least=low)
        self.data()  # validates train_size and val_fraction

    def data(self, data_dir=None):
        """The DataSpec of this study's validation split."""
        return DataSpec(self.seed, self.train_size, self.val_fraction, data_dir)

    def to_dict(self):
        """A JSON-friendly dict that ``from_dict`` turns back into an equal config."""
        return {**dataclasses.asdict(self), "space": self.space.to_dict()}

    @classmethod
    def from_dict(cls, data):
        return cls(**{**data, "space": SearchSpace.from_dict(data["space"])})


def _db_path(out_dir):
    return os.path.abspath(os.path.join(out_dir, "study.db"))


def default_storage(out_dir):
    """The SQLite URL of the study file in ``out_dir``."""
    return f"sqlite:///{_db_path(out_dir)}"


def study_config(study):
    """The StudyConfig a study was created with."""
    if CONFIG_ATTR not in study.user_attrs:
        raise ValueError(f"study {study.study_name!r} was not made by fastscratch.hpo "
                         f"(no {CONFIG_ATTR!r} user attribute)")
    return StudyConfig.from_dict(study.user_attrs[CONFIG_ATTR])


def load_study(out_dir=None, *, study_name=DEFAULT_STUDY, storage=None):
    """The study ``run_study`` wrote to ``out_dir`` (or to ``storage``), for inspection."""
    if storage is None:
        if out_dir is None:
            raise ValueError("load_study needs out_dir or storage, got neither")
        if not os.path.isfile(_db_path(out_dir)):
            raise FileNotFoundError(f"out_dir {out_dir!r} holds no study.db; run a study there "
                                    "first or give storage")
        storage = default_storage(out_dir)
    return optuna.load_study(study_name=study_name, storage=storage)


def _settle(storage, study_name, config, existing):
    """(config, trials so far): the stored study's, checked against ``config``, or ``config``
    (default StudyConfig()) for a new study. Reads ``storage`` only if ``existing``, so a new
    SQLite file is not made here."""
    stored, n_before = None, 0
    if existing and study_name in optuna.get_all_study_names(storage):
        previous = optuna.load_study(study_name=study_name, storage=storage)
        stored, n_before = study_config(previous), len(previous.trials)
    if stored is not None and config is not None and stored != config:
        new, old = config.to_dict(), stored.to_dict()
        diff = ", ".join(f"{k}: stored {old[k]!r}, given {new[k]!r}" for k in old
                         if old[k] != new[k])
        raise ValueError(f"study {study_name!r} in {storage} has another configuration ({diff});"
                         " pass config=None to continue it, or use another study_name/out_dir")
    return stored or config or StudyConfig(), n_before


def _open(storage, study_name, config, n_before, parallel):
    """The study (created if new) with ``config`` recorded and its sampler seeded."""
    # A fresh study samples with ``seed``; each resumption gets its own seed from it.
    seed = config.seed if n_before == 0 else int(
        np.random.SeedSequence([config.seed, n_before, 1]).generate_state(1)[0])
    sampler = (optuna.samplers.RandomSampler(seed=seed) if config.sampler == "random"
               else optuna.samplers.TPESampler(seed=seed, constant_liar=parallel))
    study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                pruner=PRUNERS[config.pruner](), direction="maximize",
                                load_if_exists=True)
    study.set_user_attr(CONFIG_ATTR, config.to_dict())
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)  # left by a run that was killed
    return study


def _check_execution(n_trials, n_workers, scheduler, threads_per_worker, timeout):
    validation.positive_int("n_trials", n_trials)
    validation.positive_int("n_workers", n_workers)
    if scheduler is not None and (n_workers != 1 or not isinstance(scheduler, str)):
        raise ValueError("scheduler must be an address string like 'tcp://host:8786' and "
                         f"comes with n_workers=1 (its cluster has its own workers), got "
                         f"scheduler={scheduler!r}, n_workers={n_workers!r}")
    validation.positive_int("threads_per_worker", threads_per_worker, none_ok=True)
    validation.positive("timeout", timeout, none_ok=True)


def _record(study, trial, result):
    """Write a TrialResult into the storage and finish its trial."""
    trial.set_user_attr("train_acc", result.train_acc)
    trial.set_user_attr("val_acc", result.val_acc)
    trial.set_user_attr("seconds", result.seconds)
    trial.set_user_attr("host", result.host)
    for epoch, value in enumerate(result.val_acc):
        trial.report(value, epoch)
        trial.should_prune()  # the pruner keeps its per-epoch records (e.g. rungs) here
    if result.state == "FAIL":
        trial.set_user_attr("error_type", result.error_type)
        trial.set_user_attr("error", result.error)
        study.tell(trial, state=TrialState.FAIL)
    elif result.state == "PRUNED":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, result.val_acc[-1])


def _drive(study, config, executor, n_trials, deadline):
    """Keep the executor full until ``n_trials`` trials have started (or the deadline passed)
    and all have finished; returns the numbers of the trials started."""
    running, started = {}, []
    pruning = config.pruner != "none"
    try:
        while True:
            while (len(started) < n_trials and len(running) < executor.capacity
                   and (deadline is None or time.monotonic() < deadline)):
                trial = study.ask()
                params = config.space.suggest(trial)
                trial.set_user_attr("config", params)
                history = tuple(study.get_trials(deepcopy=False, states=(
                    TrialState.COMPLETE, TrialState.PRUNED))) if pruning else ()
                running[trial.number] = trial
                started.append(trial.number)
                executor.submit(TrialTask(
                    trial.number, params, seed=trial_seed(config.seed, trial.number),
                    epochs=config.epochs, batch_size=config.batch_size,
                    threads=executor.threads, pruner=study.pruner if pruning else None,
                    history=history))
            if not running:
                return started
            task, result = executor.next_done()
            _record(study, running.pop(task.number), result)
    finally:
        for trial in running.values():
            trial.set_user_attr("error_type", "Interrupted")
            trial.set_user_attr("error", "Interrupted: the study stopped before this trial ended")
            study.tell(trial, state=TrialState.FAIL)


def run_study(out_dir, n_trials, config=None, *, study_name=DEFAULT_STUDY, storage=None,
              n_workers=1, scheduler=None, threads_per_worker=None, timeout=None,
              data_dir=None, train_fn=train_trial):
    """Run ``n_trials`` more trials of the study ``study_name`` and return it (optuna.Study).

    The study lives in ``storage`` (an Optuna storage URL; default SQLite ``out_dir/study.db``).
    If it exists it is continued with its stored StudyConfig (``config`` must be None or equal);
    otherwise it is created with ``config`` (default StudyConfig()). Trials run in this process
    when n_workers == 1, on an embedded Dask LocalCluster of ``n_workers`` processes on
    127.0.0.1, or on the cluster whose scheduler is at ``scheduler``. This process loads the
    validation split (from ``data_dir``, FASTSCRATCH_DATA or the cache) and sends it to the
    workers once. Each trial limits Numba and BLAS to ``threads_per_worker`` threads (None:
    serially, leave them be; on Dask, each worker's share of its host's usable cores). No trial
    starts after ``timeout`` seconds. Nothing is written (``out_dir``, the study) before the split
    is loaded and the executor is ready, so a run that cannot start leaves no ``study.db``.
    ``train_fn(task, split, report)`` trains one trial (default ``train_trial``); it must be
    importable on the workers.

    Raises TrialsFailedError if every trial it started failed (its message counts them and
    gives the first error of each kind), and ClusterError if the Dask cluster has no worker or
    a worker cannot import this fastscratch.
    """
    _check_execution(n_trials, n_workers, scheduler, threads_per_worker, timeout)
    if config is not None and not isinstance(config, StudyConfig):
        raise TypeError(f"config must be a StudyConfig or None, got {type(config).__name__}")
    url = storage or default_storage(out_dir)
    config, n_before = _settle(url, study_name, config,
                               existing=storage is not None or os.path.isfile(_db_path(out_dir)))
    deadline = None if timeout is None else time.monotonic() + timeout
    # the data and the workers first: a run that cannot start leaves no study.db behind
    split = load_split(config.data(data_dir))
    executor = make_executor(train_fn, split, n_workers=n_workers, scheduler=scheduler,
                             threads_per_worker=threads_per_worker)
    try:
        os.makedirs(out_dir, exist_ok=True)
        study = _open(url, study_name, config, n_before, n_workers > 1 or scheduler is not None)
        started = _drive(study, config, executor, n_trials, deadline)
    finally:
        executor.close()
    failed = failed_trials(study, started)
    if started and len(failed) == len(started):
        raise TrialsFailedError(failure_summary(failed, len(started)), study)
    return study
