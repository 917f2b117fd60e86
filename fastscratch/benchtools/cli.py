"""The commands: ``report`` (Markdown + PNG), ``check`` (ratios against ceilings, exit 1 when
one is above) and ``suggest`` (ceilings that hold on a run, as JSON)."""
import argparse
import json
import sys

from .._jit import PARALLEL_MIN
from .results import STATS


def _report(args):
    from .report import write_report

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


def run(args):
    """Run the command parsed by add_bench_commands' parsers; returns the exit code: 0, 1 when
    a ratio is above its ceiling, 2 when an input file is missing or not what it should be."""
    try:
        return args.func(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main(argv=None):
    """Parse ``argv`` and run the command; returns the exit code (see ``run``)."""
    parser = argparse.ArgumentParser(prog="python -m fastscratch.benchtools",
                                     description=__doc__)
    add_bench_commands(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))
