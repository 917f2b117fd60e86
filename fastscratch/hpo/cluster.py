"""Trials on Dask workers: an embedded LocalCluster on 127.0.0.1, or an existing cluster by its
scheduler address.

On connecting, the driver checks that every worker imports the driver's fastscratch, then hands
the study's Split to the cluster once, as a worker plugin: the scheduler keeps one copy and
gives it to every worker that is or later joins the cluster (one restarted by its nanny too),
where it stays in memory for all the study's trials. Per trial only the TrialTask goes out and
the TrialResult comes back, so workers need no data files. Each trial's Numba/BLAS threads are
its worker's share of its host's usable cores (among the worker threads on that host when the
trial starts) unless the study fixes a count.
"""
import contextlib
import dataclasses
import os
import socket
import uuid

import dask
import distributed
from distributed.comm import get_address_host

import fastscratch

from ..threads import usable_cores
from .executor import ClusterError
from .trial import TrialResult, execute

THREAD_ENV = ("FASTSCRATCH_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
              "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LOCAL_CLUSTER_CONFIG = {
    # A worker holds only the trial it runs, so its death touches no other trial.
    "distributed.scheduler.worker-saturation": 1.0,
    # Dask's default MALLOC_TRIM_THRESHOLD_ turns off glibc's adaptive mmap threshold: every
    # batch-sized temporary is then mmapped afresh and trials take about twice the CPU time.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}
WAIT_FOR_WORKERS = 60.0  # seconds a cluster gets to show its first worker


def describe_worker():
    """What the driver checks of a worker (run there through Client.run): a dict of
    fastscratch's version and directory and the host name. Unpickling this function imports
    fastscratch.hpo, so a worker that cannot import it answers with that error instead."""
    return {"version": fastscratch.__version__, "path": os.path.dirname(fastscratch.__file__),
            "host": socket.gethostname()}


def check_workers(client):
    """{worker address: describe_worker()} of every connected worker; raises ClusterError naming
    each worker that cannot import fastscratch.hpo or has another fastscratch version."""
    found = client.run(describe_worker, on_error="return")
    bad = []
    for address, answer in sorted(found.items()):
        if isinstance(answer, BaseException):
            # Dask returns an error raised while unpickling as Exception(repr(the error)).
            text = (str(answer) if type(answer) is Exception
                    else f"{type(answer).__name__}: {answer}")
            bad.append(f"worker {address} cannot import fastscratch.hpo: {text}")
        elif answer["version"] != fastscratch.__version__:
            bad.append(f"worker {address} (host {answer['host']}) has fastscratch "
                       f"{answer['version']} (from {answer['path']})")
    if bad:
        raise ClusterError(
            f"{len(bad)} of {len(found)} Dask workers cannot run this study, which needs "
            f"fastscratch {fastscratch.__version__} (this process's, from "
            f"{os.path.dirname(fastscratch.__file__)}): " + "; ".join(bad) + ". Install the "
            f"same version with its hpo extras on every worker, e.g. pip install "
            f"'fastscratch[hpo]=={fastscratch.__version__}'")
    return found


def share_of_cores(address, nthreads, cores):
    """Numba/BLAS threads per trial for the worker at ``address``: ``cores`` divided among the
    trials its host runs at once, i.e. the worker threads that ``nthreads`` ({worker address:
    threads}, as Client.nthreads() gives it) lists at the same host address; at least 1."""
    host = get_address_host(address)
    slots = sum(n for other, n in nthreads.items() if get_address_host(other) == host)
    return max(1, cores // max(1, slots))


class StudyData(distributed.WorkerPlugin):
    """The study's Split, kept in each worker's memory (``Worker.plugins``) for all trials."""

    def __init__(self, split):
        self.split = split


def run_on_worker(task, train_fn, plugin_name):
    """On a Dask worker: ``execute`` the task on the Split of the StudyData plugin
    ``plugin_name``, with the worker's share_of_cores (counted as the trial starts) when the
    task fixes no thread count. Returns the TrialResult."""
    worker = distributed.get_worker()
    data = worker.plugins.get(plugin_name)
    if data is None:
        raise RuntimeError(f"worker {worker.address} holds no data of this study (no worker "
                           f"plugin {plugin_name!r}; was it started with another fastscratch?)")
    if task.threads is None:
        nthreads = distributed.get_client().nthreads()
        task = dataclasses.replace(task, threads=share_of_cores(worker.address, nthreads,
                                                                usable_cores()))
    return execute(task, data.split, train_fn)


class DaskExecutor:
    """An Executor that runs tasks on Dask workers, on the Split it sends them once. Without
    ``scheduler`` it starts a LocalCluster of ``n_workers`` single-threaded worker processes on
    127.0.0.1 whose Numba/BLAS thread counts are ``threads`` (None: the usable cores divided
    among the workers; environment variables, set before the worker imports them). Each task calls
    set_num_threads on its worker: ``threads``, or if None its share_of_cores.

    A worker that dies mid-task makes the scheduler run the task again on another worker, up to
    Dask's ``distributed.scheduler.allowed-failures`` times; after that the task's result is a
    'FAIL' carrying Dask's KilledWorker message, so a study never waits on a lost trial.
    """

    def __init__(self, train_fn, split, *, n_workers=1, scheduler=None, threads=None):
        self.train_fn = train_fn
        self.threads = threads
        self._cluster = self._plugin = self.client = None
        if scheduler is None:
            per_worker = threads or max(1, usable_cores() // n_workers)
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self._cluster = distributed.LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                    env={name: str(per_worker) for name in THREAD_ENV})
            scheduler = self._cluster
        try:
            self.client = distributed.Client(scheduler)
        except OSError as exc:
            self.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        self._pending = distributed.as_completed()
        self._tasks = {}
        self._run = uuid.uuid4().hex[:8]
        try:
            self._connect(split)
        except BaseException:
            self.close()
            raise

    def _connect(self, split):
        """Wait for a worker, check the workers' fastscratch, send them the data."""
        try:
            self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
        except (TimeoutError, distributed.TimeoutError):
            raise ClusterError(f"no Dask worker joined the scheduler at "
                               f"{self.client.scheduler.address} within {WAIT_FOR_WORKERS:g} s;"
                               " start some with: dask worker ADDRESS") from None
        check_workers(self.client)
        name = f"fastscratch-hpo-data-{self._run}"
        self.client.register_plugin(StudyData(split), name=name)
        self._plugin = name

    @property
    def capacity(self):
        """The cluster's worker threads now (at least 1), so workers that join are used."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, task):
        future = self.client.submit(run_on_worker, task, self.train_fn, self._plugin,
                                    pure=False,
                                    key=f"fastscratch-hpo-{self._run}-trial-{task.number}")
        self._tasks[future.key] = task
        self._pending.add(future)

    def next_done(self):
        future = next(self._pending)
        task = self._tasks.pop(future.key)
        try:
            result = future.result()
        except Exception as exc:  # KilledWorker, a lost connection, ...: the trial failed
            worker = getattr(exc, "last_worker", None)  # KilledWorker names it
            result = TrialResult(task.number, state="FAIL", error_type=type(exc).__name__,
                                 error=f"{type(exc).__name__}: {exc}",
                                 host=getattr(worker, "address", ""))
        future.release()
        return task, result

    def close(self):
        """Drop the data from the workers and disconnect (closing an embedded cluster)."""
        if self._plugin is not None:
            with contextlib.suppress(OSError):  # the scheduler may be gone already
                self.client.unregister_worker_plugin(self._plugin)
            self._plugin = None
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
