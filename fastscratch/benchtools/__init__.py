"""Benchmark tooling: the step builders the benchmarks in ``bench/`` time, and the commands that
turn a pytest-benchmark JSON into a report or check its ratios against committed ceilings.

Run ``python -m fastscratch.benchtools {report,check,suggest} --help``.
"""
