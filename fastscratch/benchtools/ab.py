"""``fastscratch bench ab REV_A REV_B``: both revisions timed side by side in one run.

Each revision is checked out into a temporary worktree. The run is a sequence of rounds; a
round starts one fresh worker process per side (ab_worker.py, that worktree on PYTHONPATH, its
own Numba cache: gitrevs), both running pytest on one copy of the benchmark definitions (the
user's ``bench/``), selecting the same benchmarks and stopping at each until told to time it.
Per benchmark the coordinator asks for one discarded warm-up slot per side, then ``pairs``
pairs of slots, alternating sides and the order (A B, B A, ...). A round gives each benchmark
one pair (the median of its slots on each side): fresh processes every round, because a
process's own placement (which core, memory layout) shifts a microsecond kernel's time by up
to +-25% here for its whole life, an effect slots within one process cannot average out.
paired.py turns the rounds' pairs into the ratio B/A and its interval.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .gitrevs import commit_info
from .paired import min_pairs, ratio_interval, verdict
from .results import STATS, Result, format_time, ratios, scaling_ratios

WORKER = Path(__file__).with_name("ab_worker.py")
IGNORED = shutil.ignore_patterns("__pycache__", ".benchmarks", ".history", "out", "*.pyc")


class WorkerError(RuntimeError):
    """A worker stopped or misbehaved; the message quotes the end of its pytest log."""


@dataclass(frozen=True)
class Options:
    """How ``ab`` times: pytest ``-k`` expression, rounds (each a fresh pair of worker
    processes: one pair of the interval), pairs of slots per benchmark and round, seconds per
    slot, the statistic of a slot's rounds ('min' resists bursts of load; or 'median'), the
    family-wise confidence of the intervals (all of them together: each benchmark's interval
    gets 1 - (1 - confidence) / benchmarks, Bonferroni) and the verdict's threshold (0.05: an
    interval wholly above 1.05 is 'slower')."""

    k: str = ""
    rounds: int = 12
    pairs: int = 1
    slot_time: float = 0.05
    stat: str = "min"
    confidence: float = 0.95
    threshold: float = 0.05


def validate(options):
    """``options`` if every field is usable, else ValueError naming the option."""
    if options.stat not in STATS:
        raise ValueError(f"--stat must be one of {STATS}, got {options.stat!r}")
    if not 0 < options.confidence < 1:
        raise ValueError(f"--confidence must be in (0, 1), got {options.confidence!r}")
    need = min_pairs(options.confidence)
    if options.rounds != 1 and options.rounds < need:
        raise ValueError(f"--rounds must be 1 or at least {need} for a "
                         f"{options.confidence:.0%} interval, got {options.rounds}")
    if options.pairs < (need if options.rounds == 1 else 1):
        raise ValueError(f"--pairs must be at least {need if options.rounds == 1 else 1}"
                         + (" with --rounds 1" if options.rounds == 1 else "")
                         + f", got {options.pairs}")
    if not options.slot_time > 0:
        raise ValueError(f"--slot-time must be positive seconds, got {options.slot_time!r}")
    if not options.threshold >= 0:
        raise ValueError(f"--threshold must be >= 0, got {options.threshold!r}")
    return options


@dataclass
class Comparison:
    """One benchmark on both sides: per round the median of its slot times (seconds per call;
    the pairs B/A is taken of), the slot times per round, the ratio and the verdict."""

    item: str
    extra_info: dict
    a: list
    b: list
    a_slots: list
    b_slots: list
    estimate: object = None
    verdict: str = ""


@dataclass
class ABRun:
    """What ``ab`` found: the two commits, per-benchmark comparisons, the rounds and the
    confidence of each benchmark's interval, the benchmarks timed on one side only or on
    neither ({item: reason}), the machine and the wall time."""

    commits: tuple
    comparisons: list
    rounds: int = 0
    confidence: float = 0.0
    skipped: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def slower(self):
        return [c for c in self.comparisons if c.verdict == "slower"]


class Worker:
    """One side's process and the JSON-lines conversation with it."""

    def __init__(self, label, worktree, numba_cache, bench_dir, tmp, options):
        self.label, self.log = label, tmp / f"worker-{label}.log"
        env = dict(os.environ, PYTHONPATH=str(worktree), NUMBA_CACHE_DIR=str(numba_cache))
        args = [str(bench_dir), "-q", "-p", "no:benchmark", "-p", "no:cacheprovider",
                "--continue-on-collection-errors", "--rootdir", str(bench_dir)]
        if (bench_dir / "pytest.ini").is_file():
            args += ["-c", str(bench_dir / "pytest.ini")]
        if options.k:
            args += ["-k", options.k]
        config = dict(log=str(self.log), pytest_args=args, slot_time=options.slot_time,
                      stat=options.stat, worktree=str(worktree), bench_dir=str(bench_dir))
        self.proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(config)],
                                     cwd=worktree, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def send(self, **message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self, *expected):
        line = self.proc.stdout.readline()
        message = json.loads(line) if line else {"event": "end", "exitcode": self.proc.wait()}
        if message["event"] not in expected:
            raise WorkerError(f"side {self.label}: expected {'/'.join(expected)}, got "
                              f"{message}; end of its pytest log:\n{self.log_tail()}")
        return message

    def log_tail(self, lines=25):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self):
        """Close its stdin (it exits at once, between slots) and reap it."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def _agree_on_items(a, b, k, skipped, common=None):
    """Both sides' collected items; the common ones (A's order, or ``common`` from the first
    round) are sent to both; (common items, A's machine info)."""
    got = {w.label: w.receive("collected") for w in (a, b)}
    for w in (a, b):
        if got[w.label]["leaks"]:
            raise WorkerError(f"side {w.label} imported modules from outside its worktree: "
                              + ", ".join(got[w.label]["leaks"][:5]))
    if common is None:
        in_b = set(got["B"]["items"])
        common = [item for item in got["A"]["items"] if item in in_b]
        for label, other in (("A", "B"), ("B", "A")):
            theirs = set(got[other]["items"])
            for item in got[label]["items"]:
                if item not in theirs:
                    skipped[item] = f"not collected on side {other}"
    for w in (a, b):
        missing = set(common) - set(got[w.label]["items"])
        if missing:
            raise WorkerError(f"side {w.label} no longer collects {sorted(missing)[:3]}")
    if not common:
        raise WorkerError("no benchmark collected on both sides"
                          + (f" matches -k {k!r}" if k else "")
                          + f"; end of side A's pytest log:\n{a.log_tail()}")
    for w in (a, b):
        w.send(items=common)
    return common, got["A"]["machine"]


def _slot(worker):
    worker.send(cmd="slot")
    return worker.receive("slot")["seconds"]


def _time_item(a, b, item, pairs, first_a, skipped):
    """(extra_info, A's slot times, B's) of ``item`` in this round, None when a side did not
    reach its benchmark; pairs alternate the order, starting with A when ``first_a``."""
    ready = {w.label: w.receive("ready", "none") for w in (a, b)}
    for w in (a, b):
        if ready[w.label]["item"] != item:
            raise WorkerError(f"side {w.label} is at {ready[w.label]['item']}, expected {item}")
    if any(m["event"] == "none" for m in ready.values()):
        skipped[item] = "; ".join(f"side {label}: {m['outcome']}"
                                  for label, m in ready.items() if m["event"] == "none")
        for w in (a, b):
            if ready[w.label]["event"] == "ready":
                w.send(cmd="next")
        return None
    _slot(a), _slot(b)  # warm-up, discarded
    times = {"A": [], "B": []}
    for i in range(pairs):
        for w in ((a, b) if (i % 2 == 0) == first_a else (b, a)):
            times[w.label].append(_slot(w))
    for w in (a, b):
        w.send(cmd="next")
    return ready["B"]["extra_info"] or {}, times["A"], times["B"]


def _round(number, paths, numba_cache, definitions, options, common, skipped, check):
    """One round: fresh worker processes for both sides, each selected benchmark timed in
    ``options.pairs`` pairs of slots once ``check(items)`` has passed; (items, machine,
    {item: (extra_info, A slots, B slots)})."""
    tmp = Path(definitions).parent
    a = Worker("A", paths[0], numba_cache, Path(definitions), tmp, options)
    b = Worker("B", paths[1], numba_cache, Path(definitions), tmp, options)
    try:
        common, machine = _agree_on_items(a, b, options.k, skipped, common)
        check(common)
        timed = {}
        for n, item in enumerate(common):
            got = _time_item(a, b, item, options.pairs, (number + n) % 2 == 0, skipped)
            if got is not None:
                timed[item] = got
        for w in (a, b):
            w.receive("end")
    finally:
        a.close()
        b.close()
    return common, machine, timed


def copy_definitions(bench_dir, tmp):
    """A private copy of the benchmark definitions (the same for both sides)."""
    bench_dir = Path(bench_dir)
    if not bench_dir.is_dir():
        raise ValueError(f"bench dir {bench_dir}: expected a directory of benchmark "
                         f"definitions, found none")
    return Path(shutil.copytree(bench_dir, tmp / "definitions", ignore=IGNORED))


def run_ab(worktrees, sha_a, sha_b, definitions, options, on_round=None):
    """Time the benchmarks of ``definitions`` on commits ``sha_a`` and ``sha_b`` (worktrees
    from a gitrevs.Worktrees) in rounds, calling ``on_round(done, rounds, seconds)`` after
    each; an ABRun whose comparisons take each round's median slot time per side as one pair.
    With ``options.rounds == 1`` (quick: one pair of processes) the slot pairs are the pairs:
    faster, but the intervals then leave out the processes' own offsets."""
    start = time.perf_counter()
    paths = (worktrees.get(sha_a), worktrees.get(sha_b, copy=1 if sha_b == sha_a else 0))
    skipped, rounds, common, machine = {}, options.rounds, None, None
    quick = options.rounds == 1

    def check(items):
        need = min_pairs(1 - (1 - options.confidence) / len(items))
        if quick and options.pairs < need:
            raise ValueError(f"--pairs must be at least {need} with --rounds 1 for "
                             f"{len(items)} benchmarks at {options.confidence:.0%} together")

    timed = {}
    number = 0
    while number < rounds:
        common, got_machine, got = _round(number, paths, worktrees.numba_cache, definitions,
                                          options, common, skipped, check)
        machine = machine if machine is not None else got_machine
        confidence = 1 - (1 - options.confidence) / len(common)
        if not quick:
            rounds = max(options.rounds, min_pairs(confidence))
        for item, (info, a, b) in got.items():
            timed.setdefault(item, (info, [], []))
            timed[item][1].append(a)
            timed[item][2].append(b)
        number += 1
        if on_round:
            on_round(number, rounds, time.perf_counter() - start)
    comparisons = []
    for item in common:
        if item not in timed or len(timed[item][1]) < rounds:
            continue  # not reached in some round: in skipped
        info, a_slots, b_slots = timed[item]
        if quick:
            a, b = a_slots[0], b_slots[0]
        else:
            a = [statistics.median(s) for s in a_slots]
            b = [statistics.median(s) for s in b_slots]
        c = Comparison(item, info, a, b, a_slots, b_slots)
        c.estimate = ratio_interval(c.a, c.b, confidence)
        c.verdict = verdict(c.estimate, options.threshold)
        comparisons.append(c)
    return ABRun((sha_a, sha_b), comparisons, rounds, confidence, skipped, machine,
                 time.perf_counter() - start)


def side_ratios(run, side, stat="median"):
    """The within-run and scaling ratios (the ``check`` keys) of one side ('A' or 'B'), each
    benchmark's time being the ``stat`` of its slot times; only benchmarks tagged by
    results.tag count."""
    out = []
    for c in run.comparisons:
        info = dict(c.extra_info)
        if "kind" not in info:
            continue
        times = c.a if side == "A" else c.b
        labels = {key: info.pop(key) for key in
                  ("kind", "name", "case", "impl", "reference", "baseline") if key in info}
        labels.setdefault("reference", "numpy")
        labels.setdefault("baseline", labels["reference"])
        out.append(Result(**labels, median=statistics.median(times), min=min(times),
                          extra=info))
    return {r.key: r.value for r in ratios(out, stat) + scaling_ratios(out, stat)}


HEADER = ("benchmark", "A", "B", "B/A", "interval", "verdict")


def format_row(c):
    """The table cells of a Comparison."""
    e = c.estimate
    return (c.item.split("::")[-1], format_time(statistics.median(c.a)),
            format_time(statistics.median(c.b)), f"{e.ratio:.3f}",
            f"[{e.low:.3f}, {e.high:.3f}]", c.verdict)


def row_line(cells, widths=(58, 10, 10, 6, 16, 9)):
    return "  ".join(str(cell).ljust(w) for cell, w in zip(cells, widths)).rstrip()


def summary(run, options):
    """The lines after the table: counts, skipped benchmarks, wall time."""
    counts = {v: sum(c.verdict == v for c in run.comparisons)
              for v in ("slower", "faster", "no change")}
    lines = [f"{len(run.comparisons)} benchmarks, {run.rounds} rounds of {options.pairs} "
             f"pair(s) each, intervals at "
             f"{options.confidence:.0%} together ({run.confidence:.4g} each), threshold "
             f"{options.threshold:.0%}: " + ", ".join(f"{n} {v}" for v, n in counts.items())]
    for item, why in run.skipped.items():
        lines.append(f"not compared: {item} ({why})")
    lines.append(f"{run.seconds:.0f} s")
    return lines


def to_json(run, repo, options):
    """A JSON-ready dict of an ABRun."""
    return {"a": commit_info(repo, run.commits[0]), "b": commit_info(repo, run.commits[1]),
            "options": options.__dict__, "rounds": run.rounds, "confidence": run.confidence,
            "machine": run.machine, "seconds": run.seconds,
            "skipped": run.skipped,
            "benchmarks": [{"item": c.item, "extra_info": c.extra_info, "a": c.a, "b": c.b,
                            "a_slots": c.a_slots, "b_slots": c.b_slots,
                            "ratio": c.estimate.ratio, "low": c.estimate.low,
                            "high": c.estimate.high, "verdict": c.verdict}
                           for c in run.comparisons]}
