"""Benchmark session set-up: one thread count for everything, and the machine recorded in the
JSON (pytest-benchmark's ``machine_info['fastscratch']``, read by the report command)."""
import os

import settings

# The benchmarks time the kernels (and the twins through use_backend), not the default
# backend's warm-up on the twins: a counted body (bench ab --mode count) runs once, right
# after one set-up step, and would otherwise meet the warm-up.
os.environ["FASTSCRATCH_WARM_UP"] = "0"

import fastscratch  # noqa: E402
from fastscratch.benchtools.machine import machine_summary  # noqa: E402

collect_ignore = ["bench_epoch.py"] if settings.QUICK else []


def pytest_report_header(config):
    return f"fastscratch bench: threads={settings.THREADS} quick={settings.QUICK}"


def pytest_sessionstart(session):
    fastscratch.set_num_threads(settings.THREADS)


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastscratch"] = machine_summary()
