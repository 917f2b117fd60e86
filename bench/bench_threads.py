"""The default thread count against one thread, each in its own process (issue 16: the default
must never be slower than one thread for any net the benchmarks cover).

For every step of bench_step.py (settings.STEP_CASES x the three optimizers x both dtypes) and
both conv nets' steps of bench_convnet.py (Adam, both dtypes), a worker process times the
fastscratch step at the default threads (nothing set: every usable core, FASTSCRATCH_NUM_THREADS
removed from its environment) and another at ``set_num_threads(1)``; the two run in turn in
each round (which one first alternates), rounds repeated. The ratio is the default's median over
the one thread's, keyed ``threads:<case>:numba:default/1t`` and checked against the ceilings
of bench/ratios.json.

Timed in one process with other implementations, a step at 2 threads ran after NumPy's OpenBLAS
or PyTorch's OpenMP workers of the previous one, which keep spinning on the cores for a while
(docs/threads.md); that is why each side has its own process here.

``python bench/bench_threads.py [--rounds 3] [--steps 200] [--out F] [-k SUBSTRING]``; exit
status 1 if a ratio is above its ceiling. Under pytest, one test runs a worker of each kind.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # settings, when run as a script
import settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONV_NETS = ("simpleconvnet", "deepconvnet")
DEFAULT = "default"


def cases():
    """Every case as a worker spec without its thread count: 'dense:ARCH:BATCH:OPT:DTYPE' and
    'conv:NET:DTYPE'."""
    from fastscratch.benchtools.steps import STEP_OPTIMIZERS
    dense = [f"dense:{arch}:{batch}:{opt}:{d}" for arch, batch in settings.STEP_CASES
             for opt in STEP_OPTIMIZERS for d in settings.DTYPES]
    return dense + [f"conv:{net}:{d}" for net in CONV_NETS for d in settings.DTYPES]


def _step(case):
    """The step callable of a case spec."""
    kind, *rest = case.split(":")
    if kind == "dense":
        from fastscratch.benchtools.steps import fastscratch_step
        arch, batch, opt, dtype = rest
        return fastscratch_step(arch, opt, dtype, backend="numba", batch=int(batch))
    import bench_convnet
    net, dtype = rest
    return bench_convnet._step(net, "numba", dtype, 1)


def _worker(spec):
    """Time spec 'CASE:THREADS:STEPS' (THREADS 'default' or a count) in this process; print
    {'wall': median seconds per step, 'cpu': process CPU seconds per step, 'threads': n}."""
    import fastscratch
    case, threads, steps = spec.rsplit(":", 2)
    if threads != DEFAULT:
        fastscratch.set_num_threads(int(threads))
    step = _step(case)
    for _ in range(3):
        step()  # compile (cached), warm the caches
    wall = []
    cpu = time.process_time()
    for _ in range(int(steps)):
        start = time.perf_counter()
        step()
        wall.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu) / int(steps)
    print(json.dumps({"wall": float(np.median(wall)), "cpu": cpu,
                      "threads": fastscratch.get_num_threads()}))


def run_worker(spec):
    """The JSON line of ``_worker(spec)`` run in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "FASTSCRATCH_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, __file__, "--worker", spec], env=env, cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(case_specs, rounds, steps, log=print):
    """{case: {'default': [medians], '1': [medians], 'threads': default count}}, the two sides
    of a case in turn in each round (the first alternating)."""
    out = {}
    for r in range(rounds):
        for case in case_specs:
            sides = (DEFAULT, "1") if r % 2 == 0 else ("1", DEFAULT)
            got = out.setdefault(case, {DEFAULT: [], "1": []})
            for side in sides:
                result = run_worker(f"{case}:{side}:{steps}")
                got[side].append(result["wall"])
                if side == DEFAULT:
                    got["threads"] = result["threads"]
            log(f"round {r + 1}/{rounds} {case}: default ({got['threads']} threads) "
                f"{got[DEFAULT][-1] * 1e3:.3f} ms, 1 thread {got['1'][-1] * 1e3:.3f} ms")
    return out


def ratios(measured):
    """{'threads:<case>:numba:default/1t': median at the default over median at 1 thread}."""
    return {f"threads:{case}:numba:default/1t": float(np.median(got[DEFAULT]))
            / float(np.median(got["1"])) for case, got in measured.items()}


def test_workers_run():
    """A dense case at both sides (the given count is used, the default is every usable core),
    a conv case once, and the ratio made of them."""
    from fastscratch.threads import usable_cores
    case = cases()[0]
    results = {side: run_worker(f"{case}:{side}:2") for side in (DEFAULT, "1")}
    assert results["1"]["threads"] == 1 and results[DEFAULT]["threads"] == usable_cores()
    assert run_worker(f"conv:simpleconvnet:float32:{DEFAULT}:1")["wall"] > 0
    measured = {case: {side: [r["wall"]] for side, r in results.items()}}
    assert ratios(measured) == {
        f"threads:{case}:numba:default/1t": results[DEFAULT]["wall"] / results["1"]["wall"]}


def main(argv=None):
    """Measure every case (or those containing -k), print the ratios against their ceilings
    (bench/ratios.json, 'threads:*'); exit status 1 if any is above."""
    import argparse

    from fastscratch.benchtools.check import above_ceilings
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--steps", type=int, default=200, help="timed steps per process")
    p.add_argument("-k", default="", help="only the cases containing this text")
    p.add_argument("--out", help="write the times and ratios here (JSON)")
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    measured = measure([c for c in cases() if args.k in c], args.rounds, args.steps)
    got = ratios(measured)
    above = above_ceilings(got, REPO / "bench" / "ratios.json", sys.stdout)
    if args.out:
        Path(args.out).write_text(json.dumps({"cases": measured, "ratios": got}, indent=1))
    print(f"{len(above)} above ceiling" + (": " + ", ".join(above) if above else ""))
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main())
