"""The float32 net tests and the BLAS-calling kernels against their twins, once more in a fresh
process under the other OpenBLAS core-type setting than this run's.

Some machines set ``OPENBLAS_CORETYPE=Haswell`` (and ``OPENBLAS_L2_SIZE``), which makes OpenBLAS
use its AVX2 kernels: other summation orders, so other float32 roundings. Results must be right
either way, so whichever setting this run has, the subprocess has the other.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SELECTION = ["tests/test_convnet.py::test_float32", "tests/test_kernels.py::"
             "test_conv_kernels_match_reference", "tests/test_kernels.py::"
             "test_direct_conv_kernels_match_reference", "tests/test_kernels.py::"
             "test_matrix_kernels_match_reference", "tests/test_kernels.py::"
             "test_affine_backward_without_dx_matches_reference", "tests/test_conv.py"]


def _cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def test_results_hold_under_the_other_openblas_core_type():
    env = dict(os.environ)
    if "OPENBLAS_CORETYPE" in env:
        del env["OPENBLAS_CORETYPE"]
        env.pop("OPENBLAS_L2_SIZE", None)
        setting = "unset"
    else:
        if not {"avx2", "fma"} <= _cpu_flags():
            pytest.skip("this CPU cannot run OpenBLAS's Haswell kernels (no AVX2/FMA)")
        env["OPENBLAS_CORETYPE"] = "Haswell"
        env["OPENBLAS_L2_SIZE"] = "512"
        setting = "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "no:randomly", *SELECTION], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"with {setting}:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert " passed" in run.stdout.splitlines()[-1]
