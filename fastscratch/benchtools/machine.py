"""What a benchmark ran on: CPU, cores, threads, BLAS, Numba and its threading layer, NumPy."""
import os
import platform
import sys

import numba
import numpy as np
from threadpoolctl import threadpool_info

from .steps import run_triad_once


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (platform.processor() where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_summary():
    """A JSON-ready dict describing this machine and the threads in use; runs a tiny parallel
    kernel first so that Numba's threading layer is known."""
    run_triad_once()
    blas = [{k: lib.get(k) for k in ("internal_api", "version", "threading_layer",
                                     "architecture", "num_threads")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": len(affinity) if affinity is not None else os.cpu_count(),
        "threads": numba.get_num_threads(),
        "blas": blas,
        "numba": numba.__version__,
        "numba_threading_layer": numba.threading_layer(),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].__version__
    return info


def format_machine(info):
    """Markdown bullet lines for a machine_summary dict."""
    blas = "; ".join(f"{b['internal_api']} {b['version']} ({b['threading_layer']}, "
                     f"{b['architecture']}, {b['num_threads']} threads)"
                     for b in info.get("blas", [])) or "none found"
    lines = [f"- CPU: {info.get('cpu', 'unknown')}",
             f"- cores: {info.get('cores')} ({info.get('cores_available')} available); "
             f"threads used: {info.get('threads')}",
             f"- BLAS: {blas}",
             f"- Numba {info.get('numba')} (threading layer {info.get('numba_threading_layer')}),"
             f" NumPy {info.get('numpy')}, Python {info.get('python')}"]
    if "torch" in info:
        lines.append(f"- PyTorch {info['torch']}")
    return lines
