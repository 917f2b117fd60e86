"""``fastscratch bench ab REV_A REV_B``: both revisions measured side by side in one run.

Each revision is checked out into a temporary worktree. Both sides run pytest on one copy of
the benchmark definitions (the user's ``bench/``) in worker processes (ab_worker.py, that
worktree on PYTHONPATH, its own Numba cache: gitrevs), selecting the same benchmarks and
stopping at each until told to measure it.

Wall-clock mode (``mode='time'``): a sequence of rounds; a round starts one fresh worker per
side, both pinned to the same CPUs (rotated from round to round) with the same thread count.
Per benchmark the coordinator asks for one discarded warm-up slot per side, then ``pairs``
pairs of slots, alternating sides and the order (A B, B A, ...). A round gives each benchmark
one pair (the median of its slots on each side): fresh processes every round, because a
process's own placement (memory layout) shifts a microsecond kernel's time by up to +-25% here
for its whole life, an effect slots within one process cannot average out. paired.py turns
the rounds' pairs into the ratio B/A and its interval. After the first round a worker
collects only the files that hold the compared benchmarks.

Instruction-count mode (``mode='count'``): one worker per side under callgrind, each
benchmark's body counted alone (ab_worker.Callgrind); one count per side, B/A judged at the
threshold. The code is compiled for a fixed x86-64 target valgrind can decode (COUNT_ENV).
"""
import concurrent.futures
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .gitrevs import commit_info
from .paired import RatioEstimate, min_pairs, ratio_interval, verdict
from .results import STATS, Result, format_time, ratios, scaling_ratios

WORKER = Path(__file__).with_name("ab_worker.py")
IGNORED = shutil.ignore_patterns("__pycache__", ".benchmarks", ".history", "out", "*.pyc")
MODES = ("time", "count")
# Instruction-count workers: code for Haswell's instruction set (valgrind 3.19 decodes no
# AVX-512), the same on every host, in a Numba cache of its own; OpenBLAS's Haswell kernels;
# one thread, whose OpenMP runtime sleeps rather than spins when idle; the same string hashes
# on both sides.
HASWELL_FEATURES = ("+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fsgsbase,+fxsr,"
                    "+lzcnt,+mmx,+movbe,+pclmul,+popcnt,+rdrnd,+sahf,+sse,+sse2,+sse3,+sse4.1,"
                    "+sse4.2,+ssse3,+xsave,+xsaveopt")
COUNT_ENV = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL_FEATURES,
             "OPENBLAS_CORETYPE": "Haswell", "OMP_WAIT_POLICY": "PASSIVE",
             "PYTHONHASHSEED": "0"}
THREAD_VARIABLES = ("FASTSCRATCH_BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class WorkerError(RuntimeError):
    """A worker stopped or misbehaved; the message quotes the end of its pytest log."""


@dataclass(frozen=True)
class Options:
    """How ``ab`` measures: the mode ('time': wall clock; 'count': instructions under
    callgrind, one count per side), pytest ``-k`` expression, rounds (each a fresh pair of
    worker processes: one pair of the interval), pairs of slots per benchmark and round,
    seconds per slot, the statistic of a slot's rounds ('min' resists bursts of load; or
    'median'), the family-wise confidence of the intervals (all of them together: each
    benchmark's interval gets 1 - (1 - confidence) / benchmarks, Bonferroni), the verdict's
    threshold (None: 0.05 for time, an interval wholly above 1.05 is 'slower'; 0.01 for
    counts), the thread count of the benchmarks (THREAD_VARIABLES; 0: the environment's),
    whether both sides of a round are pinned to the same CPUs, the directory inside each
    worktree that goes on PYTHONPATH ('.'; 'src' for a src layout), and how many rounds
    may be added for the benchmarks whose interval still holds 1 + threshold (undecided
    between 'slower' and not) after ``rounds``, and how many rounds run at once, each pinned
    to CPUs of its own (0: as many as the CPUs hold; see round_jobs)."""

    mode: str = "time"
    k: str = ""
    rounds: int = 12
    pairs: int = 3
    slot_time: float = 0.05
    stat: str = "min"
    confidence: float = 0.95
    threshold: float = None
    threads: int = 1
    pin: bool = True
    src: str = "."
    extend: int = 12
    jobs: int = 0

    @property
    def limit(self):
        """The threshold in use."""
        if self.threshold is not None:
            return self.threshold
        return 0.01 if self.mode == "count" else 0.05


def validate(options):
    """``options`` if every field is usable, else ValueError naming the option."""
    if options.mode not in MODES:
        raise ValueError(f"--mode must be one of {MODES}, got {options.mode!r}")
    if options.mode == "count" and shutil.which("valgrind") is None:
        raise ValueError("--mode count needs valgrind on PATH (apt-get install valgrind), "
                         "found none")
    if not (isinstance(options.threads, int) and options.threads >= 0):
        raise ValueError(f"--threads must be a count >= 0, got {options.threads!r}")
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
    if not (isinstance(options.jobs, int) and options.jobs >= 0):
        raise ValueError(f"--jobs must be a count of rounds >= 0, got {options.jobs!r}")
    if not (isinstance(options.extend, int) and options.extend >= 0):
        raise ValueError(f"--extend must be a count of rounds >= 0, got {options.extend!r}")
    if not options.limit >= 0:
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
    neither ({item: reason}), the machine, the wall time, per round the seconds until both
    workers had collected (start-up, imports, collection), the mode, the seconds of the
    count mode's native warm pass, the run's seconds by phase (PHASES, summed over rounds
    that ran at once), the rounds added for undecided benchmarks ({item: its rounds in all}),
    the rounds run at once and the CPU seconds of the run and its processes."""

    commits: tuple
    comparisons: list
    rounds: int = 0
    confidence: float = 0.0
    skipped: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    seconds: float = 0.0
    startup: list = field(default_factory=list)
    mode: str = "time"
    warm: float = 0.0
    phases: dict = field(default_factory=dict)
    extended: dict = field(default_factory=dict)
    jobs: int = 1
    cpu: float = 0.0

    @property
    def slower(self):
        return [c for c in self.comparisons if c.verdict == "slower"]


class Worker:
    """One side's process and the JSON-lines conversation with it."""

    def __init__(self, label, worktree, numba_cache, bench_dir, tmp, options, files=(),
                 warm=False, machine=True, stem=None):
        """A worker of ``worktree`` on the definitions in ``bench_dir`` (only ``files`` of
        it when given); ``warm``: natively, calling each benchmark once, writing what it
        collected to ``self.report`` and exiting; ``machine``: it reports the machine (the
        benchmarks' machine-info hook); ``stem``: its files' name in ``tmp`` (the label)."""
        stem = stem or label
        self.label, self.log = label, tmp / f"worker-{stem}.log"
        source = (Path(worktree) / options.src).resolve()
        env = dict(os.environ, PYTHONPATH=str(source), NUMBA_CACHE_DIR=str(numba_cache))
        threads = 1 if options.mode == "count" else options.threads
        if threads:
            env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
        paths = [str(bench_dir / f) for f in files] or [str(bench_dir)]
        args = paths + ["-q", "-p", "no:benchmark", "-p", "no:cacheprovider",
                        "--continue-on-collection-errors", "--rootdir", str(bench_dir)]
        if (bench_dir / "pytest.ini").is_file():
            args += ["-c", str(bench_dir / "pytest.ini")]
        if options.k:
            args += ["-k", options.k]
        config = dict(log=str(self.log), pytest_args=args, slot_time=options.slot_time,
                      stat=options.stat, worktree=str(source), bench_dir=str(bench_dir),
                      machine=machine)
        command = [sys.executable, str(WORKER)]
        if options.mode == "count":
            env.update(COUNT_ENV, NUMBA_CACHE_DIR=f"{numba_cache}-haswell")
        self.report = tmp / f"collected-{stem}.json"
        if warm:
            config.update(warm=True, report=str(self.report))
        elif options.mode == "count":
            config["callgrind_out"] = str(tmp / f"callgrind-{stem}")
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                       "--collect-atstart=no", f"--callgrind-out-file={config['callgrind_out']}",
                       f"--log-file={tmp / f'valgrind-{stem}.log'}", *command]
        self.proc = subprocess.Popen(
            [*command, json.dumps(config)], cwd=worktree, env=env, stdin=subprocess.PIPE,
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
        """Kill it and reap it: the coordinator has what it needs (pytest's teardown and the
        interpreter's exit, seconds a round, would measure nothing)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:  # a write to the dead process's pipe still buffered
                pass


def _common_items(got, skipped):
    """The items both sides collected (A's order) from ``got`` ({'A': its 'collected'
    message, 'B': ...}); those of one side only go to ``skipped``."""
    for label, message in got.items():
        if message["leaks"]:
            raise WorkerError(f"side {label} imported modules from outside its worktree: "
                              + ", ".join(message["leaks"][:5]))
    in_b = set(got["B"]["items"])
    for label, other in (("A", "B"), ("B", "A")):
        theirs = set(got[other]["items"])
        for item in got[label]["items"]:
            if item not in theirs:
                skipped[item] = f"not collected on side {other}"
    return [item for item in got["A"]["items"] if item in in_b]


def _agree_on_items(a, b, k, skipped, common=None, cpus=None):
    """Both sides' collected items; the common ones (A's order, or ``common`` from the first
    round) are sent to both, with the CPUs to pin to; (common items, A's machine info)."""
    got = {w.label: w.receive("collected") for w in (a, b)}
    if common is None:
        common = _common_items(got, skipped)
    for w in (a, b):
        missing = set(common) - set(got[w.label]["items"])
        if missing:
            raise WorkerError(f"side {w.label} no longer collects {sorted(missing)[:3]}")
    if not common:
        raise WorkerError("no benchmark collected on both sides"
                          + (f" matches -k {k!r}" if k else "")
                          + f"; end of side A's pytest log:\n{a.log_tail()}")
    for w in (a, b):
        w.send(items=common, cpus=sorted(cpus) if cpus else None)
    return common, got["A"]["machine"]


# The run's seconds by phase: making the worktrees, the count mode's native warm pass, the
# workers' start-up until both had collected, waiting for both sides' set-up of each benchmark
# (pytest's, the inputs, the warm-up call: Numba's cache load in a fresh process), measuring,
# and stopping the workers (killed once the last benchmark is measured).
PHASES = ("worktrees", "warm pass", "start and collect", "set-up", "measured", "finish")


def _slot(worker):
    worker.send(cmd="slot")
    return worker.receive("slot")["value"]


def _time_item(a, b, item, pairs, first_a, skipped, phases, warm_up=True, together=False):
    """(extra_info, A's slot values, B's) of ``item`` in this round, None when a side did not
    reach its benchmark; pairs alternate the order, starting with A when ``first_a``, after a
    discarded slot per side when ``warm_up``; ``together``: both sides measure at once (counts,
    which load does not change). The seconds waiting for the sides' set-up and measuring are
    added to ``phases``."""
    start = time.perf_counter()
    ready = {w.label: w.receive("ready", "none") for w in (a, b)}
    measuring = time.perf_counter()
    phases["set-up"] += measuring - start
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
    if warm_up:
        _slot(a), _slot(b)
    times = {"A": [], "B": []}
    for i in range(pairs):
        if together:
            for w in (a, b):
                w.send(cmd="slot")
            for w in (a, b):
                times[w.label].append(w.receive("slot")["value"])
            continue
        for w in ((a, b) if (i % 2 == 0) == first_a else (b, a)):
            times[w.label].append(_slot(w))
    for w in (a, b):
        w.send(cmd="next")
    phases["measured"] += time.perf_counter() - measuring
    return ready["B"]["extra_info"] or {}, times["A"], times["B"]


def round_cpus(number, threads, available=None):
    """The CPUs both sides of round ``number`` are pinned to: ``threads`` consecutive ones of
    the ``available`` (this process's), starting further along each round, so that every
    CPU's own speed falls on both sides alike; None (no pinning) for threads 0."""
    available = sorted(available if available is not None else os.sched_getaffinity(0))
    if not threads:
        return None
    start = number * threads
    return {available[(start + i) % len(available)] for i in range(min(threads,
                                                                         len(available)))}


def round_jobs(options, available=None):
    """How many rounds run at once, each on CPUs of its own (round_cpus of consecutive round
    numbers are disjoint): ``options.jobs``, at most (0: exactly) as many as the ``available``
    CPUs (this process's) hold at ``options.threads`` each; 1 in the count mode (its workers
    count both sides at once already), unpinned or with the environment's threads."""
    if options.mode == "count" or not options.pin or not options.threads:
        return 1
    available = available if available is not None else os.sched_getaffinity(0)
    fit = max(1, len(available) // options.threads)
    return min(options.jobs, fit) if options.jobs else fit


def _rounds(numbers, paths, numba_cache, definitions, options, common, skipped, check, phases):
    """The rounds ``numbers`` at once, each in a thread of its own: their _round results in
    order; each round's phase seconds are added to ``phases``."""
    own = [dict.fromkeys(PHASES, 0.0) for _ in numbers]
    with concurrent.futures.ThreadPoolExecutor(len(numbers)) as pool:
        futures = [pool.submit(_round, number, paths, numba_cache, definitions, options,
                               common, skipped, check, seconds)
                   for number, seconds in zip(numbers, own)]
        results = [future.result() for future in futures]
    for seconds in own:
        for name, value in seconds.items():
            phases[name] += value
    return results


def _warm(paths, numba_cache, definitions, options):
    """Both sides' benchmarks called once natively in the count mode's environment, so that
    their JIT compilation fills the Numba cache outside valgrind (several times slower);
    {'A': what side A collected (a 'collected' message), 'B': ...}."""
    tmp = Path(definitions).parent
    workers = [Worker(f"{label}-warm", path, numba_cache, Path(definitions), tmp, options,
                      warm=True, machine=label == "A") for label, path in zip("AB", paths)]
    try:
        for w in workers:
            w.proc.stdin.close()
            if w.proc.wait() not in (0, 1, 5):  # ok, some failed (reported later), none
                raise WorkerError(f"side {w.label} failed; end of its pytest log:\n"
                                  f"{w.log_tail()}")
            if not w.report.is_file():
                raise WorkerError(f"side {w.label} collected nothing; end of its pytest "
                                  f"log:\n{w.log_tail()}")
        return {label: json.loads(w.report.read_text()) for label, w in zip("AB", workers)}
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()


def _round(number, paths, numba_cache, definitions, options, common, skipped, check, phases):
    """One round: fresh worker processes for both sides, each selected benchmark measured in
    ``options.pairs`` pairs of slots once ``check(items)`` has passed; (items, machine,
    {item: (extra_info, A slots, B slots)}, seconds until both had collected); the seconds
    of each phase are added to ``phases``."""
    tmp, start = Path(definitions).parent, time.perf_counter()
    files = sorted({item.split("::")[0] for item in common}) if common else ()
    count = options.mode == "count"
    cpus = round_cpus(number, options.threads) if options.pin and not count else None
    a = Worker("A", paths[0], numba_cache, Path(definitions), tmp, options, files,
               machine=number == 0 and not count, stem=f"A-{number}")
    b = Worker("B", paths[1], numba_cache, Path(definitions), tmp, options, files,
               machine=False, stem=f"B-{number}")
    try:
        common, machine = _agree_on_items(a, b, options.k, skipped, common, cpus)
        startup = time.perf_counter() - start
        phases["start and collect"] += startup
        check(common)
        timed = {}
        for n, item in enumerate(common):
            got = _time_item(a, b, item, options.pairs, (number + n) % 2 == 0, skipped,
                             phases, warm_up=not count, together=count)
            if got is not None:
                timed[item] = got
    finally:
        finishing = time.perf_counter()
        a.close()
        b.close()
    phases["finish"] += time.perf_counter() - finishing
    return common, machine, timed, startup


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
    start, cpu = time.perf_counter(), _cpu_seconds()
    phases = dict.fromkeys(PHASES, 0.0)
    paths = (worktrees.get(sha_a), worktrees.get(sha_b, copy=1 if sha_b == sha_a else 0))
    phases["worktrees"] = time.perf_counter() - start
    count = options.mode == "count"
    warm, skipped, common, machine = 0.0, {}, None, None
    if count:  # deterministic: one count per side, no interval
        options = dataclasses.replace(options, rounds=1, pairs=1)
        got = _warm(paths, worktrees.numba_cache, definitions, options)
        warm = phases["warm pass"] = time.perf_counter() - start - phases["worktrees"]
        common, machine = _common_items(got, skipped), got["A"]["machine"]
        if not common:
            raise WorkerError("no benchmark collected on both sides"
                              + (f" matches -k {options.k!r}" if options.k else ""))
    rounds, startup = options.rounds, []
    quick = options.rounds == 1

    def check(items):
        need = min_pairs(1 - (1 - options.confidence) / len(items))
        if quick and not count and options.pairs < need:
            raise ValueError(f"--pairs must be at least {need} with --rounds 1 for "
                             f"{len(items)} benchmarks at {options.confidence:.0%} together")

    timed, jobs = {}, round_jobs(options)
    number = 0
    while number < rounds:  # the first round alone: it compiles, and finds the common items
        batch = list(range(number, min(rounds, number + jobs) if number else 1))
        for common, got_machine, got, seconds in _rounds(
                batch, paths, worktrees.numba_cache, definitions, options, common, skipped,
                check, phases):
            startup.append(seconds)
            machine = machine if machine is not None else got_machine
            for item, (info, a, b) in got.items():
                timed.setdefault(item, (info, [], []))
                timed[item][1].append(a)
                timed[item][2].append(b)
        confidence = 1.0 if count else 1 - (1 - options.confidence) / len(common)
        if not quick:
            rounds = max(options.rounds, min_pairs(confidence))
        number += len(batch)
        if on_round:
            on_round(number, rounds, time.perf_counter() - start)
    comparisons = {item: _compare(item, timed[item], quick, count, confidence, options.limit)
                   for item in common if item in timed and len(timed[item][1]) == rounds}
    extended = {}  # not reached in some round: in skipped
    while not (quick or count) and number < rounds + options.extend:
        undecided = [item for item, c in comparisons.items()
                     if c.estimate.low <= 1 + options.limit < c.estimate.high]
        if not undecided:
            break
        batch = list(range(number, min(rounds + options.extend, number + jobs)))
        for _, _, got, seconds in _rounds(batch, paths, worktrees.numba_cache, definitions,
                                          options, undecided, skipped, check, phases):
            startup.append(seconds)
            for item in undecided:
                if item in got:  # else not reached this time: left as it was
                    for side, values in zip(timed[item][1:], got[item][1:]):
                        side.append(values)
        number += len(batch)
        for item in undecided:
            comparisons[item] = _compare(item, timed[item], quick, count, confidence,
                                         options.limit)
            extended[item] = len(timed[item][1])
        if on_round:
            on_round(number, rounds, time.perf_counter() - start)
    return ABRun((sha_a, sha_b), list(comparisons.values()), rounds, confidence, skipped,
                 machine, time.perf_counter() - start, startup, options.mode, warm, phases,
                 extended, jobs, _cpu_seconds() - cpu)


def _cpu_seconds():
    """User and system seconds of this process and its reaped children so far."""
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                  resource.RUSAGE_CHILDREN)]
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def _compare(item, timed, quick, count, confidence, threshold):
    """The Comparison of ``item`` from ``timed`` (extra_info, A's slots per round, B's)."""
    info, a_slots, b_slots = timed
    if quick:
        a, b = a_slots[0], b_slots[0]
    else:
        a = [statistics.median(s) for s in a_slots]
        b = [statistics.median(s) for s in b_slots]
    c = Comparison(item, info, a, b, a_slots, b_slots)
    if count:
        r = b[0] / a[0]
        c.estimate = RatioEstimate(r, r, r, 1.0, 1)
    else:
        c.estimate = ratio_interval(c.a, c.b, confidence)
    c.verdict = verdict(c.estimate, threshold)
    return c


def detectable(c, threshold):
    """The smallest slowdown (a factor) that ``c``'s spread would have called 'slower': its
    interval moved up by that factor clears 1 + threshold (the threshold itself for counts)."""
    e = c.estimate
    return (1 + threshold) * e.ratio / e.low


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


def format_value(value, mode):
    """A time ('4.56 ms') or, in the count mode, instructions per call ('1.234e+06 Ir')."""
    return format_time(value) if mode == "time" else f"{value:.4g} Ir"


def format_row(c, mode="time"):
    """The table cells of a Comparison."""
    e = c.estimate
    if mode == "time":
        ratio, interval = f"{e.ratio:.3f}", f"[{e.low:.3f}, {e.high:.3f}]"
    else:
        ratio, interval = f"{e.ratio:.4f}", "(one count)"
    return (c.item.split("::")[-1], format_value(statistics.median(c.a), mode),
            format_value(statistics.median(c.b), mode), ratio, interval, c.verdict)


def row_line(cells, widths=(58, 10, 10, 6, 16, 9)):
    return "  ".join(str(cell).ljust(w) for cell, w in zip(cells, widths)).rstrip()


def _counts(run):
    return {v: sum(c.verdict == v for c in run.comparisons)
            for v in ("slower", "faster", "no change")}


def sensitivity(run, options):
    """What this run could have seen: the median and the largest (with its benchmark) of
    the comparisons' detectable slowdowns, as percentages; None without comparisons."""
    if not run.comparisons:
        return None
    found = sorted((detectable(c, options.limit), c.item.split("::")[-1])
                   for c in run.comparisons)
    median = statistics.median(f for f, _ in found)
    return (median - 1) * 100, (found[-1][0] - 1) * 100, found[-1][1]


def summary(run, options):
    """The lines after the table: verdict counts, what the run could have detected, skipped
    benchmarks, wall time and how much of it went to start-up and collection."""
    counts = _counts(run)
    if run.mode == "count":
        head = (f"{len(run.comparisons)} benchmarks, one instruction count per side, "
                f"threshold {options.limit:.1%}: ")
    else:
        head = (f"{len(run.comparisons)} benchmarks, {run.rounds} rounds of {options.pairs} "
                f"pair(s) each, intervals at {options.confidence:.0%} together "
                f"({run.confidence:.4g} each), threshold {options.limit:.0%}: ")
    lines = [head + ", ".join(f"{n} {v}" for v, n in counts.items())]
    seen = sensitivity(run, options)
    if seen and run.mode == "time":
        lines.append(f"this run could have seen a slowdown of {seen[0]:.1f}% or more "
                     f"(median over benchmarks; {seen[1]:.1f}% for the noisiest, {seen[2]})")
    if run.extended:
        lines.append(f"{len(run.extended)} benchmark(s) undecided after {run.rounds} rounds "
                     f"got more, up to {max(run.extended.values())} in all: "
                     + ", ".join(item.split("::")[-1] for item in run.extended))
    for item, why in run.skipped.items():
        lines.append(f"not compared: {item} ({why})")
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in run.phases.items()
                       if seconds or name != "warm pass")
    at_once = f", {run.jobs} at a time" if run.jobs > 1 else ""
    lines.append(f"{run.seconds:.0f} s ({run.cpu:.0f} s of CPU) in {len(run.startup)} "
                 f"round(s){at_once}: {phases}")
    return lines


def markdown(run, options, names=("A", "B")):
    """A Markdown summary for a pull request: the verdict, each benchmark's row (slower ones
    first) and the summary lines; ``names`` are the revisions as the user gave them."""
    counts = _counts(run)
    what = "instruction counts" if run.mode == "count" else "wall-clock times"
    state = (f"**{counts['slower']} slower**" if counts["slower"] else "no slowdown") + \
        f" ({counts['faster']} faster, {counts['no change']} no change)"
    lines = [f"### Benchmarks: {names[1]} against {names[0]} ({what})", "",
             f"{state}; A = `{names[0]}` ({run.commits[0][:12]}), "
             f"B = `{names[1]}` ({run.commits[1][:12]})", "",
             "| " + " | ".join(HEADER) + " |", "|---|---:|---:|---:|---|---|"]
    order = {"slower": 0, "faster": 1, "no change": 2}
    for c in sorted(run.comparisons, key=lambda c: order[c.verdict]):
        cells = list(format_row(c, run.mode))
        cells[0] = f"`{cells[0]}`"
        cells[-1] = f"**{cells[-1]}**" if c.verdict == "slower" else cells[-1]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"- {line}" for line in summary(run, options)]
    return "\n".join(lines) + "\n"


def to_json(run, repo, options):
    """A JSON-ready dict of an ABRun."""
    return {"a": commit_info(repo, run.commits[0]), "b": commit_info(repo, run.commits[1]),
            "options": dict(options.__dict__, threshold=options.limit), "mode": run.mode,
            "rounds": run.rounds, "confidence": run.confidence,
            "machine": run.machine, "seconds": run.seconds, "startup": run.startup,
            "warm": run.warm, "phases": run.phases, "extended": run.extended,
            "jobs": run.jobs, "cpu_seconds": run.cpu,
            "skipped": run.skipped,
            "benchmarks": [{"item": c.item, "extra_info": c.extra_info, "a": c.a, "b": c.b,
                            "a_slots": c.a_slots, "b_slots": c.b_slots,
                            "ratio": c.estimate.ratio, "low": c.estimate.low,
                            "high": c.estimate.high, "verdict": c.verdict}
                           for c in run.comparisons]}
