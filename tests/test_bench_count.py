"""`bench ab --mode count` on a throwaway git repository: a tiny package whose 'kernel' runs a
pure-Python loop, 3% longer in the planted commit, counted under callgrind. The package sits in
``src/`` (``--src``): ``ab`` works on any git repository with pytest-benchmark suites. The
count is skipped where valgrind is not installed."""
import json
import shutil

import pytest
from test_bench_ab import bench_repo, git

from fastscratch.benchtools.cli import main

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed (apt-get install valgrind)")

TOY = """def kernel():
    total = 0
    for i in range({n}):
        total += i * i
    return total


def other():
    return sum(range(5000))
"""
BENCH = '''import pytest
import toy


def test_kernel(benchmark):
    benchmark(toy.kernel)


def test_other(benchmark):
    benchmark.pedantic(toy.other, setup=lambda: None, rounds=3)


def test_skipped(benchmark):
    pytest.skip("not on this machine")


def test_last(benchmark):
    assert benchmark(toy.other) == sum(range(5000))  # the body's result reaches the test
'''


@pytest.fixture(scope="module")
def toy_repo(tmp_path_factory):
    """Commits: a 20 000-step loop, then a 20 600-step one (3% more work)."""
    repo = bench_repo(tmp_path_factory.mktemp("count"), BENCH)
    (repo / "src").mkdir()
    shas = []
    for n in (20_000, 20_600):
        (repo / "src" / "toy.py").write_text(TOY.format(n=n))
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", f"{n}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    return repo, shas


@needs_valgrind
def test_count_mode_finds_three_percent_more_work_and_nothing_else(toy_repo, tmp_path, capsys):
    repo, shas = toy_repo
    md = tmp_path / "summary.md"
    code = main(["ab", shas[0], shas[1], "--mode", "count", "--repo", str(repo), "--src", "src",
                 "--threshold", "0.01", "--json", str(tmp_path / "ab.json"), "--markdown",
                 str(md)])
    out = capsys.readouterr().out
    assert code == 1, out
    result = json.loads((tmp_path / "ab.json").read_text())
    got = {b["item"].split("::")[-1]: b for b in result["benchmarks"]}
    assert {name: b["verdict"] for name, b in got.items()} == {
        "test_kernel": "slower", "test_other": "no change", "test_last": "no change"}, out
    # counted after all items ran (one start of the instrumentation): a skip is still named
    assert [item.split("::")[-1] for item in result["skipped"]] == ["test_skipped"]
    assert "not on this machine" in next(iter(result["skipped"].values()))
    # the loop is 3% longer; the call around it and the toggles add a little fixed work
    assert 1.02 < got["test_kernel"]["ratio"] < 1.031
    assert abs(got["test_other"]["ratio"] - 1) < 0.002  # the same code on both sides
    assert len(got["test_kernel"]["a"]) == len(got["test_kernel"]["b"]) == 1
    assert got["test_kernel"]["a"][0] > 20_000 * 10  # several instructions per Python step
    text = md.read_text()
    assert "(instruction counts)" in text and "**1 slower**" in text
    assert text.index("`test_kernel`") < text.index("`test_other`")  # slower rows first
    assert "one instruction count per side, threshold 1.0%: 1 slower, 0 faster" in out


def test_count_mode_needs_valgrind(toy_repo, monkeypatch, capsys):
    repo, shas = toy_repo
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["ab", shas[0], shas[1], "--mode", "count", "--repo", str(repo)]) == 2
    assert "--mode count needs valgrind on PATH" in capsys.readouterr().err
