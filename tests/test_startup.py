"""What importing fastscratch does (nothing outside it) and what the first kernel call sets up.

Each check runs in a fresh interpreter, since this process has long imported everything."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastscratch
from fastscratch import settings

ROOT = Path(__file__).resolve().parents[1]


def _child_env(**changes):
    """This environment with this checkout first on the path, and ``changes``."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, **changes)


def _run(code):
    """The JSON that ``code`` prints, run in a fresh interpreter on this checkout."""
    env = _child_env()
    for key in settings.WAIT_POLICY:
        env.pop(key, None)
    env.pop("OMP_WAIT_POLICY", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


BLAS_COUNTS = """
    def blas_counts():
        from threadpoolctl import threadpool_info
        return {i["filepath"]: i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas"}
"""


def test_import_changes_no_environment_variable_and_no_blas_thread_count():
    out = _run(BLAS_COUNTS + """
    import json, os, sys
    import numpy, scipy.linalg  # both BLAS libraries loaded, at their own counts
    blas = blas_counts()  # threadpoolctl, imported here, sets KMP_DUPLICATE_LIB_OK
    env = dict(os.environ)
    import fastscratch
    from fastscratch import MultiLayerNet, SimpleConvNet, Adam, use_backend
    numba = "numba" in sys.modules
    from fastscratch import *  # every public name, so every module behind them
    print(json.dumps(dict(env=dict(os.environ) == env, blas=blas_counts() == blas,
                          libs=len(blas), numba=numba)))
    """)
    assert out == dict(env=True, blas=True, libs=out["libs"], numba=False)
    assert out["libs"] >= 1


def test_the_first_kernel_call_pins_only_the_kernels_blas():
    """The first step sets Numba's pool and pins SciPy's BLAS (the kernels' own) to one thread;
    NumPy's BLAS and os.environ are as before (the wait policy was set only while Numba loaded
    its threading layer)."""
    out = _run(BLAS_COUNTS + """
    import json, os
    import numpy as np
    blas = blas_counts()  # threadpoolctl, imported here, sets KMP_DUPLICATE_LIB_OK
    env = dict(os.environ)
    from fastscratch import MultiLayerNet, threads
    net = MultiLayerNet(784, [50], 10)
    net.gradient(np.ones((4, 784)), np.arange(4))
    kernel_blas = {lib.filepath for lib in threads.blas_pools()[0]}
    after = blas_counts()
    print(json.dumps(dict(
        env=dict(os.environ) == env,
        kernel_blas=sorted(after[p] for p in kernel_blas),
        others_kept=all(after[p] == blas[p] for p in blas if p not in kernel_blas),
        threads=threads.get_num_threads() == min(threads.default_num_threads(),
                                                 threads.usable_cores()))))
    """)
    assert out["env"] and out["others_kept"] and out["threads"]
    assert out["kernel_blas"] and set(out["kernel_blas"]) == {1}


def test_the_first_steps_change_no_environment_variable():
    """Neither the first kernel call (threadpoolctl's import, the wait policy while Numba loads
    its threading layer) nor an explicit thread count leaves anything in os.environ."""
    out = _run("""
    import json, os
    import numpy as np
    env = dict(os.environ)
    import fastscratch
    net = fastscratch.MultiLayerNet(784, [50], 10)
    net.gradient(np.ones((4, 784)), np.arange(4))
    first = dict(os.environ) == env
    fastscratch.set_num_threads(1)
    print(json.dumps([first, dict(os.environ) == env]))
    """)
    assert out == [True, True]


@pytest.mark.parametrize("user", [None, "300"])
def test_gnu_openmp_loads_with_the_wait_policy(user):
    """libgomp prints the settings it loaded with (OMP_DISPLAY_ENV): fastscratch's spin count,
    or the user's, although neither is left in os.environ."""
    env = _child_env(OMP_DISPLAY_ENV="VERBOSE")
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None) if user is None else env.update(GOMP_SPINCOUNT=user)
    code = textwrap.dedent("""
    import os, numba, numpy as np
    import fastscratch
    fastscratch.MultiLayerNet(784, [50], 10).gradient(np.ones((4, 784)), np.arange(4))
    print(numba.threading_layer(), os.environ.get("GOMP_SPINCOUNT"))
    """)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    layer, left = done.stdout.split()
    if layer != "omp" or "GOMP_SPINCOUNT" not in done.stderr:
        pytest.skip(f"Numba's threading layer is {layer!r}, not GNU OpenMP")
    assert left == str(user)
    assert f"GOMP_SPINCOUNT = '{user or settings.WAIT_POLICY['GOMP_SPINCOUNT']}'" in done.stderr


@pytest.mark.parametrize("modules", [
    "fastscratch.functions, fastscratch.gradient, fastscratch.util",
    "fastscratch.dataset.mnist, fastscratch.book_scripts",
])
def test_book_helpers_load_neither_numba_nor_scipy(modules):
    out = _run(f"""
    import json, sys
    import numpy as np
    import {modules}
    import fastscratch.functions as F, fastscratch.gradient as G, fastscratch.util as U
    x = np.arange(6.0).reshape(2, 3)
    F.softmax(x); F.sigmoid(x); F.cross_entropy_error(F.softmax(x), np.array([0, 2]))
    G.numerical_gradient(lambda w: float(np.sum(w ** 2)), x.copy())
    U.im2col(np.ones((1, 1, 4, 4)), 2, 2); U.smooth_curve(np.arange(20.0))
    print(json.dumps(sorted(m for m in ("numba", "scipy", "threadpoolctl", "matplotlib")
                            if m in sys.modules)))
    """)
    assert out == []


def test_a_book_script_on_functions_gradient_util_runs_without_numba(tmp_path):
    """``fastscratch run`` of a script importing only the book's helper modules (as
    ch04/gradient_simplenet.py does) loads neither Numba nor SciPy."""
    (tmp_path / "ch00").mkdir()
    (tmp_path / "ch00" / "helpers.py").write_text(textwrap.dedent("""
        import sys, os
        sys.path.append(os.pardir)
        import numpy as np
        from common.functions import softmax, cross_entropy_error
        from common.gradient import numerical_gradient
        from common.util import smooth_curve
        w = np.ones((2, 3))
        f = lambda w: cross_entropy_error(softmax(np.dot(np.ones(2), w)), np.array([0, 0, 1]))
        numerical_gradient(f, w); smooth_curve(np.arange(20.0))
        print(sorted(m for m in ("numba", "scipy") if m in sys.modules))
        """))
    env = _child_env()
    done = subprocess.run([sys.executable, "-m", "fastscratch", "run", "ch00/helpers.py"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_book_script_without_numpy_runs_without_numpy(tmp_path):
    """``fastscratch run`` of a script that needs no NumPy (ch05/buy_apple.py) imports none:
    the train command's modules are imported where they are used."""
    (tmp_path / "plain.py").write_text("import sys\nprint(sorted(m for m in ('numpy', 'numba', "
                                       "'tqdm') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-m", "fastscratch", "run", "plain.py"],
                          env=_child_env(), cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_scipy_works_after_the_kernels_loaded_its_blas():
    """The kernels load scipy.linalg.cython_blas without scipy.linalg; SciPy imported later
    uses the same module and works."""
    out = _run("""
    import json, sys
    import numpy as np
    import fastscratch
    fastscratch.MultiLayerNet(784, [50], 10).gradient(np.ones((4, 784)), np.arange(4))
    before = "scipy.linalg" in sys.modules
    import scipy.linalg
    from scipy.linalg import cython_blas
    print(json.dumps([before, cython_blas is sys.modules["scipy.linalg.cython_blas"],
                      bool(np.allclose(scipy.linalg.inv(2 * np.eye(3)), np.eye(3) / 2))]))
    """)
    assert out == [False, True, True]


def test_lazy_names_and_submodules_resolve():
    assert fastscratch.MultiLayerNet is __import__("fastscratch.multi_layer_net",
                                                   fromlist=["x"]).MultiLayerNet
    assert fastscratch.backend.current_backend() in fastscratch.backend.BACKENDS
    assert set(fastscratch.__all__) <= set(dir(fastscratch))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        fastscratch.no_such_name


def test_openmp_variables_are_set_only_inside_the_block(monkeypatch):
    for key in (*settings.WAIT_POLICY, "OMP_WAIT_POLICY", "KMP_DUPLICATE_LIB_OK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KMP_BLOCKTIME", "7")  # the user's value is kept
    before = dict(os.environ)
    with settings.openmp_load():
        assert os.environ["GOMP_SPINCOUNT"] == settings.WAIT_POLICY["GOMP_SPINCOUNT"]
        assert os.environ["KMP_BLOCKTIME"] == "7"
        assert os.environ["KMP_DUPLICATE_LIB_OK"] == "True"
    assert dict(os.environ) == before
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # an explicit policy: no wait variables
    with settings.openmp_load():
        assert "GOMP_SPINCOUNT" not in os.environ
    assert dict(os.environ) == dict(before, OMP_WAIT_POLICY="PASSIVE")


@pytest.mark.parametrize("name,read", [
    (settings.PARALLEL_MIN, settings.parallel_min),
    (settings.NUM_THREADS, lambda: settings.num_threads(5)),
])
def test_integer_settings_are_checked(monkeypatch, name, read):
    monkeypatch.delenv(name, raising=False)
    assert read() == (5 if name == settings.NUM_THREADS else settings.DEFAULT_PARALLEL_MIN)
    monkeypatch.setenv(name, "4096")
    assert read() == 4096
    for bad in ("0", "-3", "1e6", "many"):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=f"{name} must be a positive int, got '{bad}'"):
            read()


def test_path_settings_are_read_at_each_call(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.DATA, str(tmp_path))
    monkeypatch.setenv(settings.CACHE, "")
    assert settings.data_dir() == str(tmp_path) and settings.cache_dir() is None
    monkeypatch.delenv(settings.DATA)
    assert settings.data_dir() is None
    monkeypatch.setenv(settings.MNIST_MIRROR, "http://a/, http://b/")
    assert settings.mirrors(settings.MNIST_MIRROR) == ["http://a/", "http://b/"]


def test_optimizers_on_scalar_params_load_no_numba():
    """ch06/optimizer_compare_naive.py's use: every optimizer updating Python numbers runs the
    NumPy twins and never imports the kernels (Numba)."""
    out = _run("""
    import json, sys
    from fastscratch.optimizer import OPTIMIZERS
    for cls in OPTIMIZERS.values():
        params, grads = {"x": -7.0, "y": 2.0}, {"x": 0.1, "y": -0.4}
        for _ in range(3):
            cls().update(params, grads)
    print(json.dumps(sorted(m for m in ("numba", "scipy") if m in sys.modules)))
    """)
    assert out == []
