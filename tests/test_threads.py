"""The thread design: usable cores (affinity, cgroup quota), the cap, the pinned kernel BLAS,
and the sweep's summary of scaling."""
import os

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import fastscratch
from fastscratch import threads
from fastscratch.benchtools import scaling


@pytest.fixture
def restore_threads():
    before = fastscratch.get_num_threads()
    yield
    fastscratch.set_num_threads(before)


@pytest.mark.parametrize("files,expected", [
    ({"cpu.max": "200000 100000\n"}, 2.0),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cgroup_quota_v1_and_v2(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert threads._cgroup_quota(tmp_path) == expected


def test_usable_cores_is_within_the_affinity():
    assert 1 <= threads.usable_cores() <= len(os.sched_getaffinity(0))


def test_more_threads_than_cores_warns_and_caps(restore_threads):
    usable = threads.usable_cores()
    with pytest.warns(RuntimeWarning, match=f"may use {usable} cores"):
        used = fastscratch.set_num_threads(usable + 3)
    assert used == fastscratch.get_num_threads() == min(usable, used)


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                       (True, TypeError), ("2", TypeError)])
def test_set_num_threads_refuses_non_positive_ints(bad, error, restore_threads):
    with pytest.raises(error, match="positive int"):
        fastscratch.set_num_threads(bad)


def test_the_kernels_blas_stays_at_one_thread(restore_threads):
    """The BLAS called inside the kernels runs one tile per thread: pinned to 1 whatever the
    count; the other BLAS (NumPy's) follows the count."""
    fastscratch.set_num_threads(threads.usable_cores())
    kernel_paths = {lib.filepath for lib in threads.blas_pools()[0]}
    assert kernel_paths
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if lib.filepath in kernel_paths:
            assert lib.num_threads == 1
        else:
            assert lib.num_threads == fastscratch.get_num_threads()


def test_default_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("FASTSCRATCH_NUM_THREADS", "3")
    assert threads.default_num_threads() == 3
    monkeypatch.setenv("FASTSCRATCH_NUM_THREADS", "three")
    with pytest.raises(ValueError, match="FASTSCRATCH_NUM_THREADS"):
        threads.default_num_threads()
    monkeypatch.delenv("FASTSCRATCH_NUM_THREADS")
    assert threads.default_num_threads() == threads.usable_cores()


def test_bench_thread_counts_from_the_environment(monkeypatch):
    monkeypatch.setenv("FASTSCRATCH_BENCH_THREADS", "4,1,2")
    assert scaling.default_threads() == [1, 2, 4]
    monkeypatch.setenv("FASTSCRATCH_BENCH_THREADS", "1,x")
    with pytest.raises(ValueError, match="FASTSCRATCH_BENCH_THREADS"):
        scaling.default_threads()


def _row(threads_, impl, ms):
    return dict(arch="784-100-10", batch=100, optimizer="sgd", dtype="float64",
                threads=threads_, impl=impl, median_ms=ms, q1_ms=ms, q3_ms=ms, rounds=5)


def test_scaling_summary_gives_ratios_and_flags_a_slower_doubling(tmp_path):
    rows = [_row(1, "numba", 4.0), _row(1, "gemm_floor", 2.0), _row(2, "numba", 4.4),
            _row(2, "gemm_floor", 1.0), _row(4, "numba", 2.0), _row(4, "gemm_floor", 1.0)]
    text = scaling.summary(rows)
    assert "| 784-100-10 | 100 | sgd | float64 | 1 | 4.00 | - | 2.00 | - | 2.00 | - |" in text
    assert "2 threads 4.40 ms > 1 threads 4.00 ms" in text   # 10% slower than half the threads
    assert "4 threads" not in text.split("more than 5%:")[1]  # 2.0 < 4.4: fine
    paths = scaling.charts(rows, tmp_path)
    assert [p.name for p in paths] == ["scaling_784-100-10_b100.png"] and paths[0].stat().st_size


def test_one_sweep_case_times_every_implementation(restore_threads):
    times = scaling.time_case("784-20-10", 8, "sgd", "float64", 1,
                              impls=("numba", "numpy", "gemm_floor"), budget=0, min_rounds=2,
                              block=3)
    assert set(times) == {"numba", "numpy", "gemm_floor"}
    assert all(len(t) == 4 and np.all(np.array(t) > 0) for t in times.values())  # 2 x (3 - 1)
