"""The commands: ``report`` (Markdown + PNG), ``check`` (ratios against ceilings, exit 1 when
one is above), ``suggest`` (ceilings that hold on a run, as JSON), ``record`` (a run's ratios
into the history), ``history`` (charts of the ratios over commits), ``ab`` (two revisions
measured side by side, by wall clock or by instruction counts under callgrind; exit 1 when
something got slower) and ``bisect`` (the commit that made it slower).
"""
import argparse
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from .._jit import PARALLEL_MIN
from .ratio_history import DEFAULT_STORE
from .results import STATS
from .scaling import add_arguments as scaling_arguments


def _report(args):
    from .speedup_report import write_report

    for path in write_report(args.json, args.out):
        print(path)
    return 0


def _check(args):
    from .check import check

    return check(args.json, args.ceilings, sys.stdout)


def _suggest(args):
    from .check import suggest

    ceilings = suggest(args.json, args.margin, args.parallel_min, args.stat)
    print(json.dumps({"note": args.note, "stat": args.stat, "ceilings": ceilings}, indent=2))
    return 0


def _record(args):
    from .gitrevs import commit_info, is_dirty, repo_root, resolve
    from .ratio_history import append, make_record
    from .results import load, machine_info, ratios, scaling_ratios

    repo = repo_root(args.repo)
    results = load(args.json)
    measured = {r.key: r.value
                for r in ratios(results, args.stat) + scaling_ratios(results, args.stat)}
    commit = commit_info(repo, resolve(repo, "HEAD"))
    machine = machine_info(args.json).get("fastscratch") or _fallback_machine()
    append(args.history, [make_record("run", commit, is_dirty(repo), machine, args.stat,
                                      measured)])
    print(f"recorded {len(measured)} ratios of {commit['sha'][:12]} in {args.history}")
    return 0


def _fallback_machine():
    """CPU and cores, for runs whose benchmarks did not record a machine."""
    from .machine import cpu_model

    return {"cpu": cpu_model(), "cores_available": len(os.sched_getaffinity(0))}


def _history(args):
    from .ratio_history import write_history

    paths, changes = write_history(args.history, Path(args.out), args.match, args.top)
    print("largest changes between consecutive commits:")
    print("\n".join(changes) or "(a single commit so far)")
    print(f"wrote {paths[0]} and {len(paths) - 1} charts")
    return 0


def _ab_options(args):
    from .ab import Options, validate

    return validate(Options(mode=args.mode, k=args.k, rounds=args.rounds, pairs=args.pairs,
                            slot_time=args.slot_time, stat=args.stat,
                            confidence=args.confidence, threshold=args.threshold,
                            threads=args.threads, pin=not args.no_pin, src=args.src,
                            extend=args.extend, jobs=args.jobs))


def _record_sides(args, repo, run):
    """Each side's within-run ratios into the history (unless --no-history)."""
    from .ab import side_ratios
    from .gitrevs import commit_info
    from .ratio_history import append, make_record

    if args.no_history or run.mode == "count":  # the history holds time ratios
        return
    machine = run.machine.get("fastscratch") or _fallback_machine()
    records = [make_record("ab", commit_info(repo, sha), False, machine, "median", measured)
               for side, sha in zip("AB", run.commits)
               if (measured := side_ratios(run, side))]
    if records:
        append(args.history or repo / DEFAULT_STORE, records)


def _progress(done, rounds, seconds):
    what = f"round {done}/{rounds}" if done <= rounds else f"extra round {done - rounds}"
    print(f"{what} done ({seconds:.0f} s)", file=sys.stderr, flush=True)


def _ab(args):
    from .ab import HEADER, copy_definitions, format_row, row_line, run_ab, summary
    from .gitrevs import Worktrees, repo_root, resolve

    options = _ab_options(args)
    repo = repo_root(args.repo)
    sha_a, sha_b = resolve(repo, args.rev_a), resolve(repo, args.rev_b)
    print(f"A = {args.rev_a} ({sha_a[:12]}), B = {args.rev_b} ({sha_b[:12]})", flush=True)
    with tempfile.TemporaryDirectory() as tmp, Worktrees(repo) as trees:
        definitions = copy_definitions(args.bench_dir or repo / "bench", Path(tmp))
        run = run_ab(trees, sha_a, sha_b, definitions, options, on_round=_progress)
    print(row_line(HEADER))
    for c in run.comparisons:
        print(row_line(format_row(c, run.mode)))
    print("\n".join(summary(run, options)))
    _record_sides(args, repo, run)
    _write_outputs(args, repo, run, options, (args.rev_a, args.rev_b))
    return 1 if run.slower else 0


def _write_outputs(args, repo, run, options, names):
    """--json (every slot) and --markdown (appended: GitHub's $GITHUB_STEP_SUMMARY)."""
    from .ab import markdown, to_json

    if args.json:
        Path(args.json).write_text(json.dumps(to_json(run, repo, options), indent=1))
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write(markdown(run, options, names))


def _bisect(args):
    from .ab import copy_definitions
    from .bisection import bisect
    from .gitrevs import Worktrees, commit_info, repo_root, resolve

    if not args.k:
        raise ValueError("bisect needs -k EXPR: the benchmarks whose slowdown to find")
    options = _ab_options(args)
    repo = repo_root(args.repo)
    good, bad = resolve(repo, args.good), resolve(repo, args.bad)
    with tempfile.TemporaryDirectory() as tmp, Worktrees(repo) as trees:
        definitions = copy_definitions(args.bench_dir or repo / "bench", Path(tmp))
        first, run = bisect(repo, good, bad, trees, definitions, options,
                            report=lambda line: print(line, flush=True), on_round=_progress)
    _record_sides(args, repo, run)
    _write_outputs(args, repo, run, options, tuple(c[:12] for c in run.commits))
    if first is None:
        print(f"no benchmark matching -k {args.k!r} got slower from {args.good} to {args.bad}")
        return 1
    info = commit_info(repo, first)
    print(f"first slower commit: {first} {info['subject']}")
    for c in run.slower:
        e = c.estimate
        print(f"  {c.item.split('::')[-1]}: {e.ratio:.3f} [{e.low:.3f}, {e.high:.3f}] "
              f"over its parent")
    if not run.slower:
        print("  but it is not slower than its parent alone: the change is spread over "
              "several commits (or was noise)")
        return 1
    return 0


def _add_timing_arguments(p):
    from .ab import Options

    d = Options()
    p.add_argument("--mode", choices=("time", "count"), default=d.mode,
                   help="time: wall clock in rounds of fresh processes (default); count: "
                        "instructions of each benchmark's body under valgrind's callgrind, "
                        "one count per side")
    p.add_argument("-k", default=d.k, metavar="EXPR",
                   help="pytest -k expression selecting the benchmarks (default: all)")
    p.add_argument("--rounds", type=int, default=d.rounds,
                   help="rounds, each with fresh worker processes: the pairs of the interval "
                        f"(default {d.rounds}; raised where too few for --confidence); 1: "
                        "quick, one pair of processes whose slot pairs are the pairs")
    p.add_argument("--pairs", type=int, default=d.pairs,
                   help=f"pairs of timing slots per benchmark and round (default {d.pairs})")
    p.add_argument("--extend", type=int, default=d.extend,
                   help="at most this many rounds more, after --rounds, for the benchmarks "
                        "whose interval still holds 1 + threshold, until it no longer does "
                        f"(default {d.extend}; 0: none)")
    p.add_argument("--slot-time", type=float, default=d.slot_time,
                   help=f"seconds one side times a benchmark per slot (default {d.slot_time})")
    p.add_argument("--stat", choices=STATS, default=d.stat,
                   help=f"statistic of a slot's rounds (default {d.stat})")
    p.add_argument("--confidence", type=float, default=d.confidence,
                   help="confidence of all benchmarks' intervals together (Bonferroni; "
                        f"default {d.confidence})")
    p.add_argument("--threshold", type=float, default=d.threshold,
                   help="slower: the interval (count mode: the ratio) lies above "
                        "1 + threshold; faster: below 1 / (1 + threshold) (default 0.05 for "
                        "time, 0.01 for count)")
    p.add_argument("--threads", type=int, default=d.threads,
                   help="threads of the benchmarks (FASTSCRATCH_BENCH_THREADS, OMP_, "
                        f"OPENBLAS_, MKL_, NUMBA_NUM_THREADS; default {d.threads}; 0: the "
                        "environment's); count mode: always 1")
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin both sides of a round to the same --threads CPUs")
    p.add_argument("--jobs", type=int, default=d.jobs,
                   help="rounds at once, each pinned to --threads CPUs of its own (default "
                        "0: as many as the CPUs hold; 1: one at a time; pinned wall clock only)")
    p.add_argument("--src", default=d.src,
                   help="directory inside each revision put on PYTHONPATH (default: its "
                        "root; 'src' for a src layout)")
    p.add_argument("--repo", default=".", help="the git repository (default: current directory)")
    p.add_argument("--bench-dir", help="benchmark definitions for both sides "
                                       "(default: <repo>/bench of the working tree)")
    p.add_argument("--history", type=Path,
                   help=f"history store (default <repo>/{DEFAULT_STORE})")
    p.add_argument("--no-history", action="store_true", help="do not record the ratios")
    p.add_argument("--json", help="write the (last) comparison, every slot time, to this file")
    p.add_argument("--markdown", metavar="FILE",
                   help="append a Markdown summary for a pull request to FILE (in GitHub "
                        "Actions: $GITHUB_STEP_SUMMARY)")


def add_bench_commands(subparsers):
    """Add the report, check and suggest commands to an argparse ``subparsers`` object; each
    sets ``func``, which takes the parsed arguments and returns the exit code."""
    p = subparsers.add_parser("report", help="Markdown table and PNG charts of a benchmark JSON")
    p.add_argument("json", help="pytest-benchmark JSON (--benchmark-json) of bench/")
    p.add_argument("--out", required=True, help="directory for report.md and the PNGs")
    p.set_defaults(func=_report)
    p = subparsers.add_parser("check", help="within-run ratios against committed ceilings")
    p.add_argument("json", help="pytest-benchmark JSON (--benchmark-json) of bench/")
    p.add_argument("--ceilings", default="bench/ratios.json", help="ceilings file (JSON)")
    p.set_defaults(func=_check)
    p = subparsers.add_parser("suggest", help="print ceilings that hold on runs with a margin")
    p.add_argument("json", nargs="+", help="pytest-benchmark JSON files (--benchmark-json)")
    p.add_argument("--margin", type=float, default=1.5, help="factor over the worst ratio")
    p.add_argument("--stat", choices=STATS, default="median",
                   help="statistic the ratios are taken of (stored in the file)")
    p.add_argument("--parallel-min", type=int, default=PARALLEL_MIN,
                   help="smallest case (elements) whose parallel-twin ratio gets a ceiling")
    p.add_argument("--note", default="", help="what was measured (stored in the file)")
    p.set_defaults(func=_suggest)
    p = subparsers.add_parser("record", help="append a run's within-run ratios to the history")
    p.add_argument("json", help="pytest-benchmark JSON (--benchmark-json) of bench/")
    p.add_argument("--history", type=Path, default=DEFAULT_STORE,
                   help=f"history store (default {DEFAULT_STORE})")
    p.add_argument("--stat", choices=STATS, default="median", help="statistic of the ratios")
    p.add_argument("--repo", default=".", help="git repository whose HEAD was measured")
    p.set_defaults(func=_record)
    p = subparsers.add_parser("history", help="charts of each ratio over commits per machine, "
                                              "and the largest changes")
    p.add_argument("--history", type=Path, default=DEFAULT_STORE,
                   help=f"history store (default {DEFAULT_STORE})")
    p.add_argument("--out", default="bench/out/history", help="directory for history.md and "
                                                              "the charts")
    p.add_argument("--match", default="*", help="glob over ratio keys (default all)")
    p.add_argument("--top", type=int, default=10, help="how many largest changes to list")
    p.set_defaults(func=_history)
    p = subparsers.add_parser("scaling", help="step time against threads on this machine "
                                              "(JSON, table, one chart per net)")
    scaling_arguments(p)
    p.set_defaults(func=_scaling)
    for name, revisions, func, text in (
            ("ab", ("REV_A", "REV_B"), _ab,
             "time two revisions side by side: ratio B/A per benchmark; exit 1 when one got "
             "slower"),
            ("bisect", ("GOOD", "BAD"), _bisect,
             "the first commit after GOOD where a benchmark selected by -k got slower")):
        p = subparsers.add_parser(name, help=text)
        for revision in revisions:
            p.add_argument(revision.lower(), metavar=revision)
        _add_timing_arguments(p)
        p.set_defaults(func=func)


def _scaling(args):
    from .scaling import run as sweep

    return sweep(args)


def run(args):
    """Run the command parsed by add_bench_commands' parsers; returns the exit code: 0, 1 when
    a ratio is above its ceiling or a benchmark got slower, 2 when an input is missing or not
    what it should be or a benchmark process failed."""
    from .ab import WorkerError

    def interrupted(signum, frame):  # clean up worktrees and workers on a plain `kill`
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        return args.func(args)
    except (OSError, ValueError, WorkerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; worktrees and worker processes removed", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    """Parse ``argv`` and run the command; returns the exit code (see ``run``)."""
    parser = argparse.ArgumentParser(prog="python -m fastscratch.benchtools",
                                     description=__doc__)
    add_bench_commands(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))
