"""Fixed costs, each in a fresh interpreter: ``import fastscratch`` and the first training step
beyond ``import numpy``, and the book's short scripts end to end, book against ``fastscratch run``.

    python bench/startup.py [--rounds 5] [--compare OTHER_CHECKOUT] [--book PATH] [--data DIR]

Rounds are interleaved (each round runs every case once, in turn), so load on the machine hits
every case alike; the table gives medians. ``--compare`` times a second checkout of fastscratch
(e.g. an export of main: ``git archive main | tar -x -C DIR``) in the same rounds. One untimed
run of each case first warms the Numba cache, writes the .pyc files and builds the MNIST caches
(the book's mnist.pkl, fastscratch's .npz) in the checkouts and the book's temporary copy.
Issue 17's targets: first step <= 0.4 s beyond ``import numpy`` on the 2-core machine; a book
script under 2 s at most 0.3 s slower under ``fastscratch run``.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT.parent / "shared" / "book" / "deep-learning-from-scratch"
DATA = ROOT.parent / "shared" / "data" / "mnist"
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# Book scripts that run in well under 2 s, offline, unedited (MNIST ones read the files the book
# would download, copied into its dataset/ folder).
SCRIPTS = ("ch03/neuralnet_mnist.py", "ch03/neuralnet_mnist_batch.py",
           "ch04/gradient_simplenet.py", "ch05/buy_apple_orange.py",
           "ch06/optimizer_compare_naive.py")

# The child's own clock: import numpy, import fastscratch + the net's module, first step
# (784-50-10, batch 100, SGD: net.gradient + opt.update), all as seconds.
FIRST_STEP = """
import time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import fastscratch
from fastscratch.multi_layer_net import MultiLayerNet
from fastscratch.optimizer import SGD
t2 = time.perf_counter()
rng = np.random.default_rng(0)
x, t = rng.random((100, 784)), rng.integers(0, 10, 100)
net, opt = MultiLayerNet(784, [50], 10), SGD()
opt.update(net.params, net.gradient(x, t))
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _env(checkout):
    """The children's environment: ``checkout`` first on the path, no plot windows, and bytecode
    written (the warm-up run leaves .pyc files, as an installed package has them)."""
    env = dict(os.environ, PYTHONPATH=str(checkout), MPLBACKEND="Agg")
    env.setdefault("FASTSCRATCH_DATA", str(DATA))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(cmd, cwd, env):
    """(seconds of a whole run of ``cmd``, its CPU seconds (user + system), its stdout); it must
    succeed. CPU time is less sensitive to other load on the machine than wall time."""
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} in {cwd} failed:\n{done.stderr[-2000:]}")
    return wall, cpu, done.stdout


def _book_copy(book, data, into):
    """A writable copy of the book with the MNIST files in its dataset/ folder."""
    copy = Path(into) / "book"
    shutil.copytree(book, copy)
    for name in MNIST_FILES:
        shutil.copy(Path(data) / name, copy / "dataset" / name)
    return copy


def cases(checkouts, book, scratch):
    """{name: zero-argument function giving one measurement: (wall s, CPU s) of a whole run, or
    the first-step child's (import numpy, import fastscratch, first step, CPU of the run) s}.
    ``-c`` runs start in ``scratch``, so no checkout shadows PYTHONPATH's."""
    out = {"import numpy": lambda: _wall([sys.executable, "-c", "import numpy"], scratch,
                                         _env(ROOT))[:2]}
    for label, checkout in checkouts.items():
        def first_step(checkout=checkout):
            _, cpu, text = _wall([sys.executable, "-c", FIRST_STEP], scratch, _env(checkout))
            return (*map(float, text.split()), cpu)
        out[f"first step [{label}]"] = first_step
    for script in SCRIPTS:
        folder, name = (book / script).parent, (book / script).name
        out[f"{script} [book]"] = lambda f=folder, n=name: _wall(
            [sys.executable, n], f, _env(ROOT))[:2]
        for label, checkout in checkouts.items():
            out[f"{script} [{label}]"] = lambda s=script, c=checkout: _wall(
                [sys.executable, "-m", "fastscratch", "run", s], book, _env(c))[:2]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="a second fastscratch checkout to time")
    parser.add_argument("--book", type=Path, default=BOOK)
    parser.add_argument("--data", type=Path, default=DATA, help="the four MNIST .gz files")
    parser.add_argument("--json", type=Path, help="also write the raw times here")
    args = parser.parse_args(argv)
    checkouts = {"this": ROOT, **({"compare": args.compare.resolve()} if args.compare else {})}
    with tempfile.TemporaryDirectory() as tmp:
        todo = cases(checkouts, _book_copy(args.book, args.data, tmp), tmp)
        for run in todo.values():  # warm the Numba caches, the book's mnist.pkl, our npz cache
            run()
        times = {name: [] for name in todo}
        for _ in range(args.rounds):
            for name, run in todo.items():
                times[name].append(run())
    print(f"medians of {args.rounds} interleaved rounds; OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    for name, values in times.items():
        if name.startswith("first step"):
            numpy_s, import_s, step_s, cpu = (statistics.median(v) for v in zip(*values))
            beyond = statistics.median(i + s for _, i, s, _ in values)
            print(f"{name:40s} import numpy {numpy_s:.3f} s, import fastscratch {import_s:.3f} s,"
                  f" first step {step_s:.3f} s: {beyond:.3f} s beyond import numpy (the run's "
                  f"cpu {cpu:.3f} s)")
        else:
            wall, cpu = (statistics.median(v) for v in zip(*values))
            print(f"{name:40s} wall {wall:.3f} s  cpu {cpu:.3f} s")
    if args.json:
        args.json.write_text(json.dumps(times, indent=1))


if __name__ == "__main__":
    main()
