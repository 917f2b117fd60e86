"""`bench ab`, `bench bisect`, `bench record` and `bench history` on throwaway git repositories
built here: a tiny package whose 'kernel' sleeps (2 ms, 20 ms in the slowed commit), so that
the planted slowdown (10x) stays large next to the wake-up delays of a loaded machine and no
test depends on absolute times."""
import json
import os
import subprocess

import pytest

from fastscratch.benchtools import ab
from fastscratch.benchtools.ab import Options, round_cpus, run_ab
from fastscratch.benchtools.cli import main

TOY = """import time


def kernel():
    time.sleep({kernel})


def other():
    time.sleep(0.001)
"""
BENCH = '''import os

import toy


def test_kernel(benchmark):
    benchmark.extra_info.update(kind="kernel", name="toy", case="c", impl="fast",
                                cpus=sorted(os.sched_getaffinity(0)),
                                threads=os.environ.get("OMP_NUM_THREADS"))
    benchmark(toy.kernel)


def test_other(benchmark):
    benchmark.extra_info.update(kind="kernel", name="toy", case="c", impl="numpy")
    benchmark.pedantic(toy.other, setup=lambda: None, rounds=3)
'''
# quick settings (few rounds, 80% intervals); the 10x slowdown clears a 50% threshold by far
FAST = ["--rounds", "4", "--pairs", "1", "--extend", "0", "--confidence", "0.8",
        "--slot-time", "0.03", "--stat", "min", "--threshold", "0.5"]
# bisect's tests: quick mode (one pair of processes per ab), which keeps these tests short
QUICK = ["--rounds", "1", "--pairs", "5"] + FAST[4:]


def git(repo, *args, env=None):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def commit(repo, message, kernel=None, note=""):
    """Write toy.py (kernel sleep, a trailing comment) and commit; the new commit's hash."""
    if kernel is not None:
        commit.kernel = kernel
    (repo / "toy.py").write_text(TOY.format(kernel=commit.kernel) + note)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def bench_repo(repo, bench):
    """A new git repository at ``repo`` with ``bench`` as bench/bench_toy.py (and its
    pytest.ini); nothing committed yet."""
    git(repo, "init", "-q")
    (repo / "bench").mkdir()
    (repo / "bench" / "bench_toy.py").write_text(bench)
    (repo / "bench" / "pytest.ini").write_text("[pytest]\npython_files = bench_*.py\n")
    return repo


@pytest.fixture(scope="module")
def toy_repo(tmp_path_factory):
    """Commits: fast, a comment, the kernel slowed 10x, a comment."""
    repo = bench_repo(tmp_path_factory.mktemp("toy"), BENCH)
    shas = [commit(repo, "fast", kernel=0.002), commit(repo, "comment", note="# one\n"),
            commit(repo, "slow kernel", kernel=0.02), commit(repo, "comment", note="# two\n")]
    return repo, shas


def _state(repo):
    return git(repo, "status", "--porcelain"), git(repo, "worktree", "list"), \
        git(repo, "rev-parse", "HEAD")


def _rows(out):
    """{benchmark: verdict} from ab's table."""
    rows = {}
    for line in out.splitlines():
        if line.startswith("test_"):
            rows[line.split()[0]] = line.split("]")[-1].strip()
    return rows


def test_ab_flags_the_slowed_kernel_and_nothing_else(toy_repo, tmp_path, capsys):
    repo, shas = toy_repo
    before = _state(repo)
    store, md = tmp_path / "history.jsonl", tmp_path / "summary.md"
    md.write_text("earlier step\n")
    code = main(["ab", shas[0], shas[2], "--repo", str(repo), "--history", str(store),
                 "--json", str(tmp_path / "ab.json"), "--markdown", str(md)] + FAST)
    out = capsys.readouterr().out
    assert code == 1, out
    assert _rows(out) == {"test_kernel": "slower", "test_other": "no change"}, out
    assert "1 slower, 0 faster, 1 no change" in out
    assert "this run could have seen a slowdown of" in out
    assert " s of CPU) in 5 round(s)" in out and "start and collect" in out
    text = md.read_text()  # appended, as to $GITHUB_STEP_SUMMARY
    assert text.startswith("earlier step\n### Benchmarks: ") and "(wall-clock times)" in text
    assert "| `test_kernel` |" in text and "**slower**" in text
    assert _state(repo) == before  # no change to the user's tree, no worktree left behind
    result = json.loads((tmp_path / "ab.json").read_text())
    kernel = next(b for b in result["benchmarks"] if b["item"].endswith("test_kernel"))
    # 4 rounds asked for, 5 needed for 80% over both benchmarks together; one slot a round
    assert kernel["low"] > 1.5 and len(kernel["a"]) == len(kernel["b"]) == 5
    assert [len(s) for s in kernel["a_slots"]] == [1] * 5
    assert [result["a"]["sha"], result["b"]["sha"]] == [shas[0], shas[2]]
    assert result["jobs"] == ab.round_jobs(Options()) and result["cpu_seconds"] > 0
    # one thread, and the first round's workers pinned to this process's first CPU
    assert kernel["extra_info"]["threads"] == "1"
    assert kernel["extra_info"]["cpus"] == sorted(os.sched_getaffinity(0))[:1]
    # the history got each side's within-run ratio (kernel over 'numpy' = other): 2x, then 20x
    records = [json.loads(line) for line in store.read_text().splitlines()]
    assert [r["commit"]["sha"] for r in records] == [shas[0], shas[2]]
    assert {r["source"] for r in records} == {"ab"}
    ratio = [r["ratios"]["kernel:toy:fast:c"] for r in records]
    assert ratio[1] / ratio[0] > 2


def test_ab_reports_no_change_for_one_commit_against_itself(toy_repo, capsys):
    # (a comment-only change against its parent: bisect's 'nothing got slower' test below)
    repo, shas = toy_repo
    code = main(["ab", shas[1], shas[1], "--repo", str(repo), "--no-history", "-k", "kernel"]
                + FAST)
    out = capsys.readouterr().out
    assert code == 0, out
    assert _rows(out) == {"test_kernel": "no change"}, out


def test_quick_ab_takes_the_slot_pairs_of_one_pair_of_processes(toy_repo, tmp_path, capsys):
    repo, shas = toy_repo
    code = main(["ab", shas[0], shas[2], "--repo", str(repo), "--no-history", "--rounds", "1",
                 "--pairs", "5", "--json", str(tmp_path / "ab.json")] + FAST[4:])
    out = capsys.readouterr().out
    assert code == 1, out
    assert _rows(out) == {"test_kernel": "slower", "test_other": "no change"}, out
    kernel = json.loads((tmp_path / "ab.json").read_text())["benchmarks"][0]
    assert len(kernel["a_slots"]) == 1 and kernel["a"] == kernel["a_slots"][0]
    assert len(kernel["a"]) == 5 and kernel["low"] > 1.5


def test_bisect_finds_the_commit_that_slowed_the_kernel(toy_repo, capsys):
    repo, shas = toy_repo
    code = main(["bisect", shas[0], shas[3], "-k", "kernel", "--repo", str(repo),
                 "--no-history"] + QUICK)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"first slower commit: {shas[2]} slow kernel" in out
    assert "test_kernel: " in out.split("first slower commit")[1]


def test_bisect_says_when_nothing_got_slower(toy_repo, capsys):
    repo, shas = toy_repo
    code = main(["bisect", shas[0], shas[1], "-k", "kernel", "--repo", str(repo),
                 "--no-history"] + QUICK)
    assert code == 1
    assert "no benchmark matching -k 'kernel' got slower" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["ab", "nosuch", "HEAD"], "revision 'nosuch': expected a commit"),
    (["ab", "HEAD", "HEAD", "--rounds", "3"], "--rounds must be 1 or at least 6 for a 95%"),
    (["ab", "HEAD", "HEAD", "--rounds", "1", "--pairs", "5"],
     "--pairs must be at least 6 with --rounds 1, got 5"),
    (["ab", "HEAD", "HEAD", "--rounds", "1", "--pairs", "6"],
     "--pairs must be at least 7 with --rounds 1 for 2 benchmarks at 95% together"),
    (["ab", "HEAD", "HEAD", "--pairs", "0"], "--pairs must be at least 1"),
    (["ab", "HEAD", "HEAD", "--slot-time", "0"], "--slot-time must be positive"),
    (["ab", "HEAD", "HEAD", "-k", "nosuch"], "no benchmark collected on both sides matches"),
    (["bisect", "HEAD~1", "HEAD"], "bisect needs -k EXPR"),
    (["bisect", "HEAD", "HEAD~2", "-k", "kernel"], "must be an ancestor of BAD"),
])
def test_bad_input_is_named(toy_repo, capsys, args, message):
    repo, _ = toy_repo
    before = _state(repo)
    assert main(args + ["--repo", str(repo), "--no-history"]) == 2
    assert message in capsys.readouterr().err
    assert _state(repo) == before


def test_round_cpus_rotate_over_the_available_ones():
    assert [round_cpus(n, 1, {4, 6}) for n in range(3)] == [{4}, {6}, {4}]
    assert [round_cpus(n, 2, {0, 1, 2}) for n in range(3)] == [{0, 1}, {2, 0}, {1, 2}]
    assert round_cpus(0, 4, {0, 1}) == {0, 1} and round_cpus(3, 0, {0, 1}) is None


def test_undecided_benchmarks_get_more_rounds_until_decided(monkeypatch, tmp_path):
    """A benchmark whose interval holds 1 + threshold is measured in further rounds, alone,
    until it no longer does or --extend rounds are spent; decided ones keep their rounds."""
    ratios = {"steady": lambda n: 1.0,  # interval [1, 1]: decided at once
              "wide": lambda n: (0.8, 1.4)[n % 2],  # straddles 1.05 however many rounds
              "late": lambda n: (1.0, 1.3)[n % 2] if n < 6 else 1.2}  # decided later
    asked = []

    def fake_round(number, paths, cache, definitions, options, common, skipped, check, phases):
        items = common or list(ratios)
        asked.append(items)
        return items, {}, {i: ({}, [1.0], [ratios[i](number)]) for i in items}, 0.0

    class Trees:
        numba_cache = tmp_path

        def get(self, sha, copy=0):
            return tmp_path

    monkeypatch.setattr(ab, "_round", fake_round)
    options = Options(rounds=6, pairs=1, extend=5, confidence=0.8, jobs=1)
    run = run_ab(Trees(), "a" * 40, "b" * 40, tmp_path, options)
    rounds = {c.item: len(c.a) for c in run.comparisons}
    assert run.rounds == 6 and len(asked) == 11
    assert rounds == {"steady": 6, "wide": 11, "late": rounds["late"]} and 6 < rounds["late"] < 11
    assert all(items == list(ratios) for items in asked[:6])
    assert all(items == ["wide", "late"] for items in asked[6:rounds["late"]])
    assert all(items == ["wide"] for items in asked[rounds["late"]:])
    assert run.extended == {"wide": 11, "late": rounds["late"]}
    late = next(c for c in run.comparisons if c.item == "late")
    assert late.estimate.low > 1.05 and late.verdict == "slower"


def test_rounds_run_at_once_on_cpus_of_their_own_after_the_first(monkeypatch, tmp_path):
    """With --jobs 2 the first round runs alone, then two at a time (concurrently, on disjoint
    CPUs), the extension too; the phases add up over the rounds."""
    numbers, lock = [], __import__("threading").Lock()

    def fake_round(number, paths, cache, definitions, options, common, skipped, check, phases):
        with lock:
            numbers.append(number)
        phases["measured"] += 1.0
        items = common or ["wide"]
        return items, {}, {"wide": ({}, [1.0], [(0.8, 1.4)[number % 2]])}, 0.0

    class Trees:
        numba_cache = tmp_path

        def get(self, sha, copy=0):
            return tmp_path

    monkeypatch.setattr(ab, "_round", fake_round)
    rounds = []
    run = run_ab(Trees(), "a" * 40, "b" * 40, tmp_path,
                 Options(rounds=5, pairs=1, extend=3, confidence=0.8, jobs=2),
                 on_round=lambda done, total, seconds: rounds.append(done))
    assert rounds == [1, 3, 5, 7, 8] and sorted(numbers) == list(range(8))
    assert run.jobs == 2 and run.phases["measured"] == 8.0 and len(run.startup) == 8
    assert run.extended == {"wide": 8}
    assert [round_cpus(n, 1, {0, 1}) for n in (1, 2)] == [{1}, {0}]  # disjoint


def test_round_jobs_fit_the_cpus():
    cpus = {0, 1, 2, 3}
    assert ab.round_jobs(Options(), cpus) == 4 and ab.round_jobs(Options(threads=2), cpus) == 2
    assert ab.round_jobs(Options(jobs=3, threads=2), cpus) == 2
    assert ab.round_jobs(Options(jobs=1), cpus) == 1 and ab.round_jobs(Options(threads=8), cpus) == 1
    assert ab.round_jobs(Options(pin=False), cpus) == 1
    assert ab.round_jobs(Options(mode="count"), cpus) == 1
    with pytest.raises(ValueError, match="--jobs must be a count of rounds >= 0, got -1"):
        ab.validate(Options(jobs=-1))


def _bench_json(path, fast_median, machine="CPU one"):
    """A pytest-benchmark JSON with one ratio: kernel 'fast' over its 'numpy' twin."""
    benches = [{"name": f"test_{impl}", "extra_info": dict(kind="kernel", name="toy", case="c",
                                                            impl=impl, reference="numpy",
                                                            baseline="numpy"),
                "stats": {"median": median, "min": median}}
               for impl, median in (("numpy", 1.0), ("fast", fast_median))]
    path.write_text(json.dumps({"machine_info": {"fastscratch": {"cpu": machine}},
                                "benchmarks": benches}))
    return path


def test_record_and_history_chart_each_ratio_per_machine(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    store = tmp_path / "store" / "history.jsonl"
    shas = []
    for n, (fast, other) in enumerate([(0.5, 0.8), (0.51, 0.8), (0.75, 0.4), (0.74, 0.41)]):
        (repo / "f.txt").write_text(str(n))
        git(repo, "add", "-A")
        date = f"2026-01-0{n + 1}T00:00:00+00:00"  # commit dates order the history
        git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm",
            f"change {n}", env=dict(os.environ, GIT_COMMITTER_DATE=date, GIT_AUTHOR_DATE=date))
        shas.append(git(repo, "rev-parse", "HEAD"))
        for machine, median in (("CPU one", fast), ("CPU two", other)):
            path = _bench_json(tmp_path / f"{n}-{machine}.json", median, machine)
            assert main(["record", str(path), "--repo", str(repo), "--history",
                         str(store)]) == 0
    records = [json.loads(line) for line in store.read_text().splitlines()]
    assert len(records) == 8 and {r["source"] for r in records} == {"run"}
    assert records[4]["commit"] == {"sha": shas[2], "date": "2026-01-03T00:00:00+00:00",
                                    "subject": "change 2"}
    assert records[4]["ratios"] == {"kernel:toy:fast:c": 0.75} and not records[4]["dirty"]
    capsys.readouterr()
    out = tmp_path / "charts"
    assert main(["history", "--history", str(store), "--out", str(out), "--top", "2"]) == 0
    printed = capsys.readouterr().out
    changes = printed.split("largest changes between consecutive commits:\n")[1].splitlines()
    # the two largest moves are both at the third commit: 0.8 -> 0.4 (machine two), 0.51 -> 0.75
    assert changes[0].startswith("  0.500x  kernel:toy:fast:c") and shas[2][:8] in changes[0]
    assert changes[1].startswith("  1.471x  kernel:toy:fast:c") and shas[2][:8] in changes[1]
    pngs = sorted(out.glob("*/*.png"))
    assert len(pngs) == 2 and len({p.parent.name for p in pngs}) == 2  # one per machine
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "Largest changes" in (out / "history.md").read_text()


def test_history_names_a_bad_line(tmp_path, capsys):
    store = tmp_path / "history.jsonl"
    store.write_text('{"commit": {"sha": "abc"}, "ratios": {}}\nnot json\n')
    assert main(["history", "--history", str(store), "--out", str(tmp_path / "o")]) == 2
    assert f"{store}:2: expected a JSON history record" in capsys.readouterr().err
