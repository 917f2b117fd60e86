"""Concurrency: networks trained in parallel Python threads equal networks trained one after the
other (also on Numba's 'workqueue' threading layer, which aborts on concurrent parallel launches
unless fastscratch serialises them), and several processes compiling into one empty Numba
cache at once all succeed with equal results."""
import os
import subprocess
import sys
import threading
from pathlib import Path

import numba
import numpy as np
import pytest

from fastscratch import Adam, MultiLayerNetExtend
from fastscratch._jit import PARALLEL_MIN

REPO = Path(__file__).resolve().parents[1]

WIDTH, BATCH = 512, 520  # BATCH * WIDTH >= PARALLEL_MIN: the parallel twins run
parallel_twins = pytest.mark.skipif(
    BATCH * WIDTH < PARALLEL_MIN, reason="FASTSCRATCH_PARALLEL_MIN keeps these sizes serial")


def _train(seed, steps=4):
    """A batch-norm + dropout net with its own generator, trained on its own batches; returns
    (loss sequence, params)."""
    rng = np.random.default_rng(seed)
    net = MultiLayerNetExtend(64, [WIDTH, WIDTH], 10, use_batchnorm=True, use_dropout=True,
                              dropout_ration=0.1, seed=seed)
    opt = Adam(lr=0.01)
    losses = []
    for _ in range(steps):
        x, t = rng.random((BATCH, 64)), rng.integers(0, 10, BATCH)
        opt.update(net.params, net.gradient(x, t))
        losses.append(net.loss(x, t, train_flg=True))
    return losses, net.params


def _in_threads(seeds):
    results, errors = {}, []
    barrier = threading.Barrier(len(seeds))

    def work(seed):
        try:
            barrier.wait()
            results[seed] = _train(seed)
        except Exception as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in seeds]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return results


def test_two_threads_train_as_one_after_the_other():
    seeds = (1, 2)
    together = _in_threads(seeds)
    for seed in seeds:
        losses, params = _train(seed)
        assert together[seed][0] == losses
        for key in params:
            np.testing.assert_array_equal(together[seed][1][key], params[key], err_msg=key)


THREADED_RUN = """
import sys
sys.path.insert(0, {tests!r})
import numba, test_concurrency as tc
together = tc._in_threads((1, 2))
print(numba.threading_layer(), [together[s][0] == tc._train(s)[0] for s in (1, 2)])
"""


def test_workqueue_layer_is_serialised_instead_of_aborting():
    """Numba's workqueue layer aborts the process on concurrent parallel launches; fastscratch
    holds a lock around them when it finds that layer in use."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "PYTHONPATH": str(REPO)}
    env.pop("FASTSCRATCH_PARALLEL_MIN", None)  # the default threshold: parallel twins run
    out = subprocess.run([sys.executable, "-c", THREADED_RUN.format(tests=str(REPO / "tests"))],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["workqueue", "[True,", "True]"]


@parallel_twins
def test_the_default_layer_runs_launches_concurrently():
    """Here the lock is held only until the first launch shows a thread-safe layer."""
    from fastscratch import _jit
    _train(3, steps=1)
    layer = numba.threading_layer()
    assert _jit._serialize == (layer == "workqueue")


COLD_STEP = """
import numpy as np
from fastscratch import MultiLayerNet, SGD
net = MultiLayerNet(20, [16], 5, seed=0)
opt = SGD(lr=0.1)
r = np.random.default_rng(1)
x, t = r.random((32, 20)), r.integers(0, 5, 32)
for _ in range(3):
    opt.update(net.params, net.gradient(x, t))
print(repr(net.loss(x, t)))
"""


@pytest.mark.parametrize("processes", [4])
def test_processes_compiling_into_one_empty_cache_at_once_all_succeed(processes, tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(REPO),
           "NUMBA_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", COLD_STEP], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(processes)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    losses = {out.strip() for out, _ in outs}
    assert len(losses) == 1 and np.isfinite(float(losses.pop()))
    assert any(name.endswith(".nbi") for _, _, files in os.walk(tmp_path) for name in files)
    # a process started afterwards loads the cache and gets the same result
    again = subprocess.run([sys.executable, "-c", COLD_STEP], env=env, text=True,
                           capture_output=True, timeout=300)
    assert again.returncode == 0 and again.stdout == outs[0][0]
