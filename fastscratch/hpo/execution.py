"""Where trials run: in this process one after another, or on Dask workers (an embedded
LocalCluster on 127.0.0.1, or an existing cluster by its scheduler address; see cluster.py).

Both are executor.Executor: they get the study's Split once, take TrialTasks with ``submit``
and hand back ``(task, TrialResult)`` pairs from ``next_done`` in the order they finish;
``capacity`` is how many tasks may run at once.
"""
import collections

from ..threads import get_num_threads, set_num_threads
from .trial import execute


class SerialExecutor:
    """An Executor that runs each task in this process as it is submitted, on ``split``;
    ``threads`` (None: leave as is) limits Numba and BLAS meanwhile and is undone by
    ``close``."""

    capacity = 1

    def __init__(self, train_fn, split, threads=None):
        self.train_fn = train_fn
        self.split = split
        self.threads = threads
        self._restore = None if threads is None else get_num_threads()
        self._done = collections.deque()

    def submit(self, task):
        self._done.append((task, execute(task, self.split, self.train_fn)))

    def next_done(self):
        return self._done.popleft()

    def close(self):
        if self._restore is not None:
            set_num_threads(self._restore)


def make_executor(train_fn, split, *, n_workers=1, scheduler=None, threads_per_worker=None):
    """An Executor running ``train_fn`` on ``split``: a SerialExecutor when n_workers == 1 and
    no scheduler, else a DaskExecutor."""
    if n_workers == 1 and scheduler is None:
        return SerialExecutor(train_fn, split, threads_per_worker)
    try:
        from .cluster import DaskExecutor  # Dask loads slowly and is needed only here
    except ImportError as exc:
        raise ImportError("n_workers > 1 or a scheduler address needs Dask: "
                          "pip install dask distributed") from exc
    return DaskExecutor(train_fn, split, n_workers=n_workers, scheduler=scheduler,
                        threads=threads_per_worker)
