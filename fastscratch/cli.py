"""The ``fastscratch`` command (also ``python -m fastscratch``).

Each subcommand is one entry of COMMANDS: a help line, a function that adds its options to an
argparse parser, and a function that runs it on the parsed arguments and returns the exit code.
Exit codes: 0 success, 1 failure while running (e.g. data not found), 2 bad arguments.
"""
import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .cli_common import UsageError

# Each command's modules are imported when it runs (train_command.py, benchtools, hpo, ...), so
# that `fastscratch run` of a script that needs no NumPy starts as fast as Python.


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable  # (argparse.ArgumentParser) -> None
    run: Callable            # (argparse.Namespace) -> int


# ------------------------------------------------------------------ the command table

def _train_arguments(parser):
    from .train_command import add_arguments
    add_arguments(parser)


def _train(args):
    from .train_command import run
    return run(args)


def _bench_arguments(parser):
    from .benchtools.cli import add_bench_commands
    add_bench_commands(parser.add_subparsers(dest="bench_command", required=True))


def _bench(args):
    from .benchtools.cli import run
    return run(args)


def _hpo_arguments(parser):
    from .hpo.cli import add_actions  # imported on use: Optuna and Dask load slowly
    add_actions(parser)


def _hpo(args):
    from .hpo.cli import run_hpo_command
    return run_hpo_command(args)


def _run_arguments(p):
    p.add_argument("--seed", type=int, default=None,
                   help="call np.random.seed(SEED) before the script starts")
    p.add_argument("--output", type=Path, default=None,
                   help="for a notebook: write the executed notebook (outputs, figures) here")
    p.add_argument("script", help="a script or notebook of the book, e.g. "
                                  "ch05/train_neuralnet.py or notebooks/ch05.ipynb; it runs from "
                                  "its own folder with common and dataset from fastscratch")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")


def _run(args):
    if not Path(args.script).is_file():
        raise UsageError(f"script: expected a Python file or a .ipynb notebook, "
                         f"{args.script!r} is not a file")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise UsageError(f"--seed: expected an integer in [0, 2**32), got {args.seed}")
    if Path(args.script).suffix == ".ipynb":
        if args.args:
            raise UsageError(f"a notebook takes no arguments, got {' '.join(args.args)!r}")
        try:
            from .notebooks import run_notebook
        except ImportError as exc:  # the notebook extra is not installed
            raise UsageError(str(exc)) from exc
        return run_notebook(args.script, output=args.output, seed=args.seed)
    if args.output is not None:
        raise UsageError("--output: only for a notebook (.ipynb)")
    from .book_scripts import run_script
    return run_script(args.script, args.args, seed=args.seed)


COMMANDS = {
    "train": Command("train a fully connected net or the book's conv nets on MNIST and write "
                     "its history and plot",
                     _train_arguments, _train),
    "bench": Command("benchmarks: report, ratio check, ceilings, history, A/B of two "
                     "revisions, bisect",
                     _bench_arguments, _bench),
    "hpo": Command("hyper-parameter search (Optuna, optionally on a Dask cluster)",
                   _hpo_arguments, _hpo),
    "run": Command("run a script or notebook of the book unchanged, its common and dataset "
                   "imports resolved to fastscratch", _run_arguments, _run),
}


def build_parser(only=None):
    """The argparse parser with one subparser per entry of COMMANDS; with ``only``, just that
    subcommand gets its options (the others' may import slow packages such as Optuna)."""
    parser = argparse.ArgumentParser(
        prog="fastscratch", description="Deep Learning from Scratch's networks on fused Numba "
                                        "kernels: train them from the command line.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        if only in (None, name):
            command.add_arguments(sub)
        sub.set_defaults(_parser=sub)
    return parser


def main(argv=None):
    """Run ``fastscratch COMMAND [options]``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    only = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        args = build_parser(only).parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage error or the help
        return exc.code
    try:
        return COMMANDS[args.command].run(args)
    except UsageError as exc:
        args._parser.print_usage(sys.stderr)
        print(f"{args._parser.prog}: error: {exc}", file=sys.stderr)
        return 2
