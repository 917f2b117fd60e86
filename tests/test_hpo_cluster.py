"""fastscratch.hpo on a real external Dask cluster: `dask scheduler` and `dask worker` started as
subprocesses on 127.0.0.1 with an environment that has no FASTSCRATCH_DATA and an empty HOME, as
a cluster user has them; and the share of a host's cores each worker's trials get."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna")
distributed = pytest.importorskip("distributed")

import fastscratch  # noqa: E402
from fastscratch.hpo import load_study, main, run_study  # noqa: E402
from fastscratch.hpo.cluster import share_of_cores  # noqa: E402
from test_hpo import SMALL, _summary  # noqa: E402  (tests/ is on sys.path under pytest)

CODE = str(Path(fastscratch.__file__).resolve().parents[1])  # the fastscratch under test
START_TIMEOUT = 120  # seconds for the scheduler and workers to come up on a busy machine
CLI_SMALL = ["--seed", "7", "--epochs", "2", "--train-size", "300"]  # test_hpo.SMALL


def _clean_env(home, pythonpath):
    """A worker's environment: PATH and PYTHONPATH only, HOME and caches in an empty folder."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config"),
            "PYTHONPATH": pythonpath, "PYTHONNOUSERSITE": "1", "LC_ALL": "C.UTF-8"}


@contextlib.contextmanager
def external_cluster(tmp_path, worker_pythonpaths):
    """Start `dask scheduler` and one `dask worker` (with its nanny, 1 thread) per entry of
    ``worker_pythonpaths`` (its PYTHONPATH) as subprocesses on 127.0.0.1 with clean
    environments; yield the scheduler address once all workers joined; stop them all."""
    home = tmp_path / "home"
    home.mkdir()
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    procs = []
    logs = contextlib.ExitStack()

    def start(args, pythonpath, log):
        procs.append(subprocess.Popen(
            dask + args, env=_clean_env(home, pythonpath), cwd=home, start_new_session=True,
            stdout=logs.enter_context(open(tmp_path / log, "w")), stderr=subprocess.STDOUT))

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(scheduler_file)], CODE, "scheduler.log")
        deadline = time.monotonic() + START_TIMEOUT
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            assert procs[0].poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for i, pythonpath in enumerate(worker_pythonpaths):
            start(["worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                   "127.0.0.1", "--name", f"w{i}"], pythonpath, f"worker{i}.log")
        with distributed.Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(len(worker_pythonpaths), timeout=START_TIMEOUT)
        yield address
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        logs.close()


def test_external_cluster_without_data_on_workers_matches_serial_run(tmp_path, mnist_dir):
    serial = run_study(tmp_path / "serial", 4, SMALL, data_dir=str(mnist_dir))
    out = tmp_path / "cluster"
    with external_cluster(tmp_path, [CODE, CODE]) as address:
        assert main(["run", "--out", str(out), "--data-dir", str(mnist_dir), "--n-trials", "4",
                     *CLI_SMALL, "--scheduler", address]) == 0
    study = load_study(out)
    assert _summary(study) == _summary(serial)
    hosts = {t.user_attrs["host"] for t in study.trials}
    assert not any(h.endswith(f":{os.getpid()}") for h in hosts), hosts  # ran on the workers


def test_worker_that_cannot_import_fastscratch_stops_the_study_before_any_trial(tmp_path,
                                                                                capsys,
                                                                                mnist_dir):
    broken = tmp_path / "broken" / "fastscratch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("this fastscratch is broken")\n')
    old = tmp_path / "old" / "fastscratch"  # version 0.0.0, the rest from the code under test
    old.mkdir(parents=True)
    (old / "__init__.py").write_text(
        f'__version__ = "0.0.0"\n__path__.append({str(Path(fastscratch.__file__).parent)!r})\n')
    out = tmp_path / "out"
    with external_cluster(tmp_path, [str(broken.parent), str(old.parent)]) as address:
        assert main(["run", "--out", str(out), "--data-dir", str(mnist_dir), "--n-trials", "2",
                     *CLI_SMALL, "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert f"2 of 2 Dask workers cannot run this study, which needs fastscratch " \
           f"{fastscratch.__version__}" in err
    assert "cannot import fastscratch.hpo: ImportError('this fastscratch is broken')" in err
    assert f"has fastscratch 0.0.0 (from {old})" in err
    assert err.count("worker tcp://127.0.0.1:") == 2
    assert not (out / "study.db").exists()  # the workers are checked before the study is made


@pytest.mark.parametrize("address, cores, expected", [
    ("tcp://10.0.0.1:4001", 8, 4),   # 2 single-threaded workers on 10.0.0.1
    ("tcp://10.0.0.2:4001", 16, 4),  # 1 worker of 4 threads on 10.0.0.2
    ("tcp://10.0.0.3:4001", 2, 1),   # 3 workers on 2 cores: at least 1
    ("tcp://10.0.0.4:4001", 8, 8)])  # a worker not (yet) listed counts as none
def test_share_of_cores_divides_a_hosts_cores_among_its_worker_threads(address, cores,
                                                                         expected):
    nthreads = {"tcp://10.0.0.1:4001": 1, "tcp://10.0.0.1:4002": 1, "tcp://10.0.0.2:4001": 4,
                "tcp://10.0.0.3:4001": 1, "tcp://10.0.0.3:4002": 1, "tcp://10.0.0.3:4003": 1}
    assert share_of_cores(address, nthreads, cores) == expected
