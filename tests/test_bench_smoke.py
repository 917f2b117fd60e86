"""The benchmarks in bench/ run (each once, smallest sizes), and the ratio check and report
commands of fastscratch.benchtools work on synthetic pytest-benchmark JSON."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fastscratch.benchtools.check import suggest
from fastscratch.benchtools.cli import main
from fastscratch.benchtools.steps import layer_sizes

REPO = Path(__file__).resolve().parents[1]


def _env(**extra):
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **extra)


def test_every_benchmark_runs_once():
    """Every collected benchmark passes (PyTorch's may be skipped when torch is absent), and
    every benchmark module has benchmarks (bench_epoch.py is left out of the quick set)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/", "--benchmark-disable", "-v", "-p",
         "no:cacheprovider"],
        cwd=REPO, env=_env(FASTSCRATCH_BENCH_QUICK="1"), capture_output=True, text=True,
        timeout=1200)  # a fresh clone compiles every kernel first: 5-10 minutes on 2 cores
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    collected = int(re.search(r"collected (\d+) items", proc.stdout).group(1))
    outcomes = re.findall(r"^(bench/\S+)::(\S+) (PASSED|SKIPPED.*?)\s*(?:\[|$)", proc.stdout,
                          re.M)
    assert len(outcomes) == collected, proc.stdout[-4000:]
    not_run = [(name, how) for _, name, how in outcomes
               if how != "PASSED" and not (how.startswith("SKIPPED") and "torch" in name)]
    assert not not_run, not_run
    modules = {Path(p).name for p in (REPO / "bench").glob("bench_*.py")} - {"bench_epoch.py"}
    assert {Path(path).name for path, _, how in outcomes if how == "PASSED"} == modules


def _bench(kind, name, case, impl, median, baseline="numpy", reference="numpy", fastest=None,
           **extra):
    return {"name": f"test_{kind}[{name}-{case}-{impl}]", "group": f"{kind} {name} {case}",
            "extra_info": dict(kind=kind, name=name, case=case, impl=impl,
                               reference=reference, baseline=baseline, **extra),
            "stats": {"median": median, "min": fastest or median * 0.9}}


BENCHES = [
    _bench("kernel", "adam", "10x10-float64", "numpy", 4e-3, elements=100, bytes=5600),
    _bench("kernel", "adam", "10x10-float64", "serial", 1e-3, elements=100, bytes=5600),
    _bench("kernel", "adam", "10x10-float64", "parallel", 2e-3, elements=100, bytes=5600),
    _bench("kernel", "adam", "1000x1000-float64", "numpy", 4e-2, elements=10**6, bytes=56e6),
    _bench("kernel", "adam", "1000x1000-float64", "serial", 2e-2, elements=10**6, bytes=56e6),
    _bench("kernel", "adam", "1000x1000-float64", "parallel", 1e-2, elements=10**6,
           bytes=56e6),
    _bench("step", "784-100-10/sgd", "float64", "numpy", 9e-3, baseline="gemm_floor"),
    _bench("step", "784-100-10/sgd", "float64", "numba", 3e-3, baseline="gemm_floor",
           fastest=1.5e-3),
    _bench("step", "784-100-10/sgd", "float64", "gemm_floor", 1e-3, baseline="gemm_floor"),
    _bench("triad", "triad", "1000-float64", "numba", 1e-6, reference="numba", elements=1000,
           bytes=24000),
    {"name": "test_untagged", "group": None, "extra_info": {}, "stats": {"median": 1.0}},
]


@pytest.fixture
def bench_json(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"machine_info": {"fastscratch": {"cpu": "Test CPU 9000"}},
                                "benchmarks": BENCHES}))
    return path


def _ceilings(tmp_path, ceilings, stat="median"):
    path = tmp_path / "ratios.json"
    path.write_text(json.dumps({"note": "synthetic", "stat": stat, "ceilings": ceilings}))
    return path


@pytest.mark.parametrize("ceilings, code", [
    ({"kernel:adam:serial:*": 0.5, "step:*:numba:*": 3.5}, 0),   # ratios 0.25/0.5 and 3.0
    ({"kernel:adam:serial:*": 0.4}, 1),                          # 0.5 at 1000x1000
    ({"kernel:*": 0.9, "kernel:adam:parallel:10x10*": 0.3}, 1),  # lowest match: 0.5 > 0.3
    ({"step:784-100-10/sgd:numba:float64": 2.5}, 1),             # 3 ms over a 1 ms floor
])
def test_check_exit_code_follows_ceilings(bench_json, tmp_path, capsys, ceilings, code):
    assert main(["check", str(bench_json), "--ceilings", str(_ceilings(tmp_path, ceilings))]) \
        == code
    out = capsys.readouterr().out
    assert ("ABOVE" in out) == (code == 1)
    assert "kernel:adam:parallel:1000x1000-float64" in out and "0.250" in out


@pytest.mark.parametrize("stat, code", [("median", 1), ("min", 0)])
def test_check_takes_the_ratio_of_the_files_stat(bench_json, tmp_path, capsys, stat, code):
    # numba step: median 3 ms, fastest round 1.5 ms; GEMM floor: 1 ms and 0.9 ms
    ceilings = _ceilings(tmp_path, {"step:*:numba:*": 2.5}, stat)
    assert main(["check", str(bench_json), "--ceilings", str(ceilings)]) == code
    assert ("1.667" in capsys.readouterr().out) == (stat == "min")


def test_check_command_line_exit_code(bench_json, tmp_path):
    ceilings = _ceilings(tmp_path, {"step:*:numba:*": 2.0})
    proc = subprocess.run([sys.executable, "-m", "fastscratch.benchtools", "check",
                           str(bench_json), "--ceilings", str(ceilings)],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "1 above ceiling" in proc.stdout


def test_check_notes_ceilings_that_match_nothing(bench_json, tmp_path, capsys):
    assert main(["check", str(bench_json), "--ceilings",
                 str(_ceilings(tmp_path, {"kernel:nosuch:*": 1.0}))]) == 0
    assert "matched no benchmark: kernel:nosuch:*" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ('{"ceilings": {"kernel:*": -1}}', "ceiling for 'kernel:*' must be a positive number"),
    ('{"limits": {}}', "expected an object with a 'ceilings' object"),
    ('{"stat": "mean", "ceilings": {}}', "'stat' must be one of ('median', 'min')"),
    ("not json", "invalid JSON"),
])
def test_check_rejects_bad_ceilings(bench_json, tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["check", str(bench_json), "--ceilings", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.json" in err


def test_check_rejects_a_file_that_is_not_benchmark_json(tmp_path, capsys):
    path = tmp_path / "other.json"
    path.write_text('{"results": []}')
    assert main(["check", str(path), "--ceilings", str(_ceilings(tmp_path, {}))]) == 2
    assert "has no 'benchmarks' list" in capsys.readouterr().err


def test_suggested_ceilings_hold_with_margin(bench_json, tmp_path, capsys):
    ceilings = suggest([bench_json], margin=2.0, parallel_min=1000)
    assert ceilings == {"kernel:adam:serial:*": 1.0,   # worst serial ratio 0.5, times 2
                        "kernel:adam:parallel:1000x1000-float64": 0.5,
                        "step:784-100-10/sgd:numba:*": 6.0}
    assert main(["check", str(bench_json), "--ceilings", str(_ceilings(tmp_path, ceilings))]) \
        == 0
    with pytest.raises(ValueError, match="margin must be >= 1"):
        suggest([bench_json], margin=0.5, parallel_min=1000)


def test_suggest_command_takes_the_worst_of_several_runs(bench_json, tmp_path, capsys):
    slower = tmp_path / "slower.json"
    benches = [dict(b, stats={"median": b["stats"]["median"] * 2, "min": 1.0})
               if b["extra_info"].get("impl") == "numba" else b for b in BENCHES]
    slower.write_text(json.dumps({"benchmarks": benches}))
    assert main(["suggest", str(bench_json), str(slower), "--margin", "1", "--note", "n"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["note"] == "n" and out["stat"] == "median"
    assert out["ceilings"]["step:784-100-10/sgd:numba:*"] == 6.0   # 6 ms over 1 ms


def test_report_writes_markdown_and_charts(bench_json, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(bench_json), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "Test CPU 9000" in md
    assert "| adam | 10x10-float64 | 4 ms | 1 ms (4.00x) | 2 ms (2.00x) |" in md
    assert "| 784-100-10/sgd | float64 | 9 ms | 3 ms (3.00x) | 1 ms (9.00x) | 9.00 | 3.00 |" \
        in md
    assert "| adam | 1000x1000-float64 | 1000000 | 20 ms | 10 ms | 2.00 |" in md
    assert "**26.67 GB/s**" in md  # 24000 bytes in the best round, 0.9 µs
    for kind in ("kernel", "step"):
        png = out / f"speedup_{kind}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "speedup_triad.png").exists()


def test_layer_sizes():
    assert layer_sizes("784-100x4-10") == [784, 100, 100, 100, 100, 10]
    with pytest.raises(ValueError, match="arch must look like"):
        layer_sizes("784-x-10")
