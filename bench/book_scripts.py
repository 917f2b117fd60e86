"""Every script of the book's ch01-ch08, run both ways, timed end to end.

    python bench/book_scripts.py [SCRIPT ...] [--short [SCRIPT ...]] [--skip SCRIPT ...]
                                 [--seed 0] [--repeat 1] [--out DIR]

For each script (default: all of ch01-ch08 but the modules other scripts import), in a fresh
copy of the book with the MNIST files in its dataset/, two processes from the script's folder:
the book's own (``python SCRIPT.py``, NumPy's global RNG seeded first, MPLBACKEND=Agg) and
fastscratch's (``python -m fastscratch run --seed N SCRIPT.py``). The wall time of each whole
process is measured (best of --repeat), and the printed numbers compared (1e-6 relative); the
load column is the 1-minute load average when the script's row started.
--short [SCRIPT ...] applies fastscratch.benchtools.book_copy.SHORT's edits (fewer
iterations) to both sides of the named scripts (of all, without names); --one-epoch runs
ch07/train_convnet.py and ch08/train_deepnet.py on all the data for one of their 20 epochs
(ONE_EPOCH), where they are not shortened. Writes DIR/book_scripts.md (the table) and DIR/book_scripts.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastscratch.benchtools.book_copy import (ATOL, ONE_EPOCH, SHORT,  # noqa: E402
                                              book_scripts, copy_book, same_numbers, shorten)

BOOK = REPO.parent / "shared" / "book" / "deep-learning-from-scratch"
MNIST = Path(os.environ.get("FASTSCRATCH_DATA", REPO.parent / "shared" / "data" / "mnist"))
# python SCRIPT.py, with np.random.seed(SEED) first (sys.argv and sys.path[0] as python sets them)
BOOK_RUN = ("import os, runpy, sys; import numpy as np; np.random.seed(int(sys.argv.pop(1))); "
            "sys.argv = sys.argv[1:]; sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]));"
            " runpy.run_path(sys.argv[0], run_name='__main__')")


def timed(cmd, cwd, timeout):
    """(wall seconds, exit code, stdout, stderr) of one process."""
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return time.perf_counter() - start, "timeout", exc.stdout or "", exc.stderr or ""
    return time.perf_counter() - start, done.returncode, done.stdout, done.stderr


def run_both(root, script, seed, repeat, timeout):
    """The record of one script: each side's best time, exit code, last error line; same?"""
    folder = root / Path(script).parent
    name = Path(script).name
    sides = {"book": [sys.executable, "-c", BOOK_RUN, str(seed), name],
             "fastscratch": [sys.executable, "-m", "fastscratch", "run", "--seed", str(seed),
                             name]}
    record = {"script": script, "load": os.getloadavg()[0]}
    outs = {}
    for _ in range(repeat):  # interleaved, so that a change of load hits both sides
        for side, cmd in sides.items():
            seconds, code, out, err = timed(cmd, folder, timeout)
            best = record.get(side, {}).get("seconds", float("inf"))
            record[side] = {"seconds": min(seconds, best), "exit": code,
                            "error": err.strip().splitlines()[-1] if code != 0 and err.strip()
                            else ""}
            outs[side] = out
    ok = record["book"]["exit"] == 0 and record["fastscratch"]["exit"] == 0
    record["atol"] = ATOL.get(script, 0.0)
    record["identical"] = ok and same_numbers(outs["fastscratch"], outs["book"],
                                              atol=record["atol"])
    record["output"] = outs
    return record


def table(records):
    lines = ["| script | book (s) | fastscratch (s) | speed-up | numbers identical | load |",
             "|---|---|---|---|---|---|"]
    for r in records:
        b, f = r["book"], r["fastscratch"]
        speed = f"{b['seconds'] / f['seconds']:.2f}x" if b["exit"] == f["exit"] == 0 else "-"
        same = (f"yes (atol {r['atol']:g})" if r["atol"] else "yes") if r["identical"] else \
            "no" if b["exit"] == f["exit"] == 0 else \
            f"error: {f['error'] or b['error'] or f['exit']}"
        label = f" ({r['short']})" if r["short"] else ""
        lines.append(f"| {r['script']}{label} | {b['seconds']:.2f} | "
                     f"{f['seconds']:.2f} | {speed} | {same} | {r['load']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scripts", nargs="*", help="chNN/name.py (default: every script)")
    p.add_argument("--book", type=Path, default=BOOK)
    p.add_argument("--mnist", type=Path, default=MNIST, help="folder of the four MNIST .gz")
    p.add_argument("--short", nargs="*", default=None, metavar="SCRIPT",
                   help="shorten these training scripts (no names: every one in SHORT)")
    p.add_argument("--one-epoch", action="store_true",
                   help="ch07/train_convnet.py and ch08/train_deepnet.py: all the data, 1 epoch")
    p.add_argument("--skip", nargs="*", default=[], help="scripts to leave out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=1, help="best of this many runs per side")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per process")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = p.parse_args(argv)
    scripts = [s for s in args.scripts or book_scripts(args.book) if s not in args.skip]
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_book(args.book, args.mnist, Path(tmp) / "book")
        # the book's first load_mnist converts the .gz files to dataset/mnist.pkl (and prints)
        timed([sys.executable, "-c", "from dataset.mnist import load_mnist; load_mnist()"],
              root, args.timeout)
        for script in scripts:
            short = args.short is not None and script in SHORT and (
                not args.short or script in args.short)
            one_epoch = args.one_epoch and script in ONE_EPOCH and not short
            if short:
                shorten(root, script, SHORT[script])
            elif one_epoch:
                shorten(root, script, ONE_EPOCH[script])
            record = run_both(root, script, args.seed, args.repeat, args.timeout)
            record["short"] = "short" if short else "1 epoch of 20" if one_epoch else ""
            records.append(record)
            print(table([record]).splitlines()[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "book_scripts.md").write_text(table(records))
    (args.out / "book_scripts.json").write_text(json.dumps(records, indent=1))
    return 0 if all(r["identical"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
