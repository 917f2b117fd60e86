"""The default backend's warm-up (backend.py): the NumPy twins run until the calls' work passes
FASTSCRATCH_WARM_UP, then Numba's kernels, and a small script never imports Numba."""
import json
import os
import subprocess
import sys

import pytest

from fastscratch import settings

# A book-like script (ch07/apply_filter.py's calls): 16 one-filter convolutions of a 64x64
# image with an int bias, then a small dense net's gradient and an SGD update. It prints
# whether Numba was imported, whether the warm-up is still on, and its results' bytes' hashes
# next to the NumPy twins' (computed after it, on the 'numpy' backend).
SCRIPT = r"""
import hashlib, json, sys
import numpy as np
import fastscratch
from fastscratch import backend
from fastscratch.layers import Convolution
from fastscratch.multi_layer_net import MultiLayerNet
from fastscratch.optimizer import SGD

def run():
    rng = np.random.default_rng(3)
    img = rng.random((1, 1, 64, 64)).astype(np.float32)
    W = rng.standard_normal((16, 1, 5, 5))
    outs = [Convolution(W[i].reshape(1, 1, 5, 5), 0).forward(img) for i in range(16)]
    np.random.seed(0)
    net = MultiLayerNet(input_size=20, hidden_size_list=[8], output_size=3)
    x, t = rng.random((6, 20)), rng.integers(0, 3, 6)
    grads = net.gradient(x, t)
    SGD(lr=0.1).update(net.params, grads)
    arrays = outs + [grads[k] for k in sorted(grads)] + [net.params[k] for k in sorted(net.params)]
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()

result = run()
report = {"numba": "numba" in sys.modules, "warming_up": backend.warming_up(), "result": result}
with fastscratch.use_backend("numpy"):
    report["twins"] = run()
with fastscratch.use_backend("numba"):
    report["kernels"] = run()
print(json.dumps(report))
"""


def _run(warm_up, threads=None):
    env = dict(os.environ)
    env.pop(settings.WARM_UP, None)
    if warm_up is not None:
        env[settings.WARM_UP] = warm_up
    if threads is not None:
        env[settings.NUM_THREADS] = str(threads)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_a_small_script_runs_on_the_twins_and_never_imports_numba():
    report = _run(None)
    assert report["numba"] is False
    assert report["warming_up"] is True
    assert report["result"] == report["twins"]


def test_past_the_budget_every_call_runs_the_kernels():
    # 1000 multiply-adds: the first convolution (60*60*25 = 90000) already passes it
    report = _run("1000")
    assert report["numba"] is True
    assert report["warming_up"] is False
    assert report["result"] == report["kernels"]
    assert report["kernels"] != report["twins"]  # else this test could not tell them apart


def test_a_run_that_crosses_the_budget_repeats_for_any_thread_count():
    # two convolutions (90000 multiply-adds each) on the twins, the rest on the kernels
    one, two = _run("200000", threads=1), _run("200000", threads=2)
    assert one["numba"] and not one["warming_up"]
    assert one["result"] == two["result"]


def test_zero_turns_the_warm_up_off():
    report = _run("0")
    assert report["numba"] is True and report["warming_up"] is False
    assert report["result"] == report["kernels"]


def test_the_budget_is_checked(monkeypatch):
    monkeypatch.delenv(settings.WARM_UP, raising=False)
    assert settings.warm_up() == settings.DEFAULT_WARM_UP
    monkeypatch.setenv(settings.WARM_UP, "0")
    assert settings.warm_up() == 0
    for bad in ("-1", "1e8", "lots"):
        monkeypatch.setenv(settings.WARM_UP, bad)
        with pytest.raises(ValueError, match=f"FASTSCRATCH_WARM_UP must be an int >= 0, got '{bad}'"):
            settings.warm_up()
