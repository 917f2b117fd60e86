"""What a study asks of the place its trials run: the Executor interface (execution.py's
SerialExecutor and cluster.py's DaskExecutor have it), and ClusterError. Nothing here loads
Dask."""
from typing import Optional, Protocol, Tuple, runtime_checkable

from .trial import TrialResult, TrialTask


class ClusterError(RuntimeError):
    """The Dask cluster cannot run trials: no worker connected, or a worker cannot import this
    process's fastscratch (or imports another version)."""


@runtime_checkable
class Executor(Protocol):
    """Runs TrialTasks on the study's Split, which it was given once when it was made."""

    threads: Optional[int]  # Numba/BLAS threads of each trial; None: the executor chooses

    @property
    def capacity(self) -> int:
        """How many tasks may run at once now (at least 1)."""

    def submit(self, task: TrialTask) -> None:
        """Start ``task`` (a serial executor runs it now)."""

    def next_done(self) -> Tuple[TrialTask, TrialResult]:
        """The next finished task and its result, in the order they finish (waits for one)."""

    def close(self) -> None:
        """Undo what the executor changed and release what it holds."""
