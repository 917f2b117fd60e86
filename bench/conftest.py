"""Benchmark session set-up: one thread count for everything, and the machine recorded in the
JSON (pytest-benchmark's ``machine_info['fastscratch']``, read by the report command)."""
import settings

import fastscratch
from fastscratch.benchtools.machine import machine_summary

collect_ignore = ["bench_epoch.py"] if settings.QUICK else []


def pytest_report_header(config):
    return f"fastscratch bench: threads={settings.THREADS} quick={settings.QUICK}"


def pytest_sessionstart(session):
    fastscratch.set_num_threads(settings.THREADS)


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastscratch"] = machine_summary()
