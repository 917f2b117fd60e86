"""Where trials run: in this process one after another, or on Dask workers (an embedded
LocalCluster on 127.0.0.1, or an existing cluster by its scheduler address).

Both executors take TrialTasks with ``submit`` and hand back ``(task, TrialResult)`` pairs from
``next_done`` in the order they finish; ``capacity`` is how many tasks may run at once.
"""
import collections
import uuid

from ..threads import get_num_threads, set_num_threads
from .trial import TrialResult, execute

THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LOCAL_CLUSTER_CONFIG = {
    # A worker holds only the trial it runs, so its death touches no other trial.
    "distributed.scheduler.worker-saturation": 1.0,
    # Dask's default MALLOC_TRIM_THRESHOLD_ turns off glibc's adaptive mmap threshold: every
    # batch-sized temporary is then mmapped afresh and trials take about twice the CPU time.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


class SerialExecutor:
    """Runs each task in this process as it is submitted; ``threads`` (None: leave as is)
    limits Numba and BLAS meanwhile and is undone by ``close``."""

    capacity = 1

    def __init__(self, train_fn, threads=None):
        self.train_fn = train_fn
        self.threads = threads
        self._restore = None if threads is None else get_num_threads()
        self._done = collections.deque()

    def submit(self, task):
        self._done.append((task, execute(task, self.train_fn)))

    def next_done(self):
        return self._done.popleft()

    def close(self):
        if self._restore is not None:
            set_num_threads(self._restore)


def _import_dask():
    """(dask, distributed), or an ImportError saying how to install them."""
    try:
        import dask
        import distributed
    except ImportError as exc:
        raise ImportError("n_workers > 1 or a scheduler address needs Dask: "
                          "pip install dask distributed") from exc
    return dask, distributed


class DaskExecutor:
    """Runs tasks on Dask workers. Without ``scheduler`` it starts a LocalCluster of
    ``n_workers`` single-threaded worker processes on 127.0.0.1 whose Numba/BLAS thread counts
    are ``threads`` (environment variables, set before the worker imports them); each task also
    calls set_num_threads(threads) on its worker (None: leave the workers' own settings).

    A worker that dies mid-task makes the scheduler run the task again on another worker, up to
    Dask's ``distributed.scheduler.allowed-failures`` times; after that the task's result is a
    'FAIL' carrying Dask's KilledWorker message, so a study never waits on a lost trial.
    """

    def __init__(self, train_fn, *, n_workers=1, scheduler=None, threads=1):
        dask, distributed = _import_dask()
        self.train_fn = train_fn
        self.threads = threads
        self._cluster = None
        if scheduler is None:
            env = {} if threads is None else {name: str(threads) for name in THREAD_ENV}
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self._cluster = distributed.LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, env=env)
            scheduler = self._cluster
        self.client = distributed.Client(scheduler)
        self._pending = distributed.as_completed()
        self._tasks = {}
        self._run = uuid.uuid4().hex[:8]

    @property
    def capacity(self):
        """The cluster's worker threads now (at least 1), so workers that join are used."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, task):
        future = self.client.submit(execute, task, self.train_fn, pure=False,
                                    key=f"fastscratch-hpo-{self._run}-trial-{task.number}")
        self._tasks[future.key] = task
        self._pending.add(future)

    def next_done(self):
        future = next(self._pending)
        task = self._tasks.pop(future.key)
        try:
            result = future.result()
        except Exception as exc:  # KilledWorker, a lost connection, ...: the trial failed
            result = TrialResult(task.number, state="FAIL", error=f"{type(exc).__name__}: {exc}")
        future.release()
        return task, result

    def close(self):
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(train_fn, *, n_workers=1, scheduler=None, threads_per_worker=1):
    """SerialExecutor when n_workers == 1 and no scheduler, else a DaskExecutor."""
    if n_workers == 1 and scheduler is None:
        return SerialExecutor(train_fn, threads_per_worker)
    return DaskExecutor(train_fn, n_workers=n_workers, scheduler=scheduler,
                        threads=threads_per_worker)
