"""The thread sweep: one training step's time against the thread count, per implementation.

For each case (net, batch, optimizer, dtype) and thread count, the fastscratch step (numba),
the same step on the NumPy reference backend, the step's matrix products alone (the GEMM floor,
NumPy's BLAS) and PyTorch eager (fused Adam for the Adam cases; skipped without torch) run in
interleaved rounds, so a noisy machine slows all alike. Writes scaling.json, scaling.md and one
chart per net to the folder given; ``python -m fastscratch.benchtools.scaling --out DIR``.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .. import set_num_threads, settings
from ..threads import usable_cores
from .steps import STEP_OPTIMIZERS, fastscratch_step, gemm_floor_step, torch_step

NETS = (("784-100x4-10", 100), ("784-1024-1024-10", 100), ("784-1024-1024-10", 1000))
IMPLS = ("numba", "numpy", "gemm_floor", "torch")
# Ceilings the sweep reports on (issue #9): numba at most this over the floor and over PyTorch
# at the same threads, and 2x the threads never slower than x by more than SCALING_SLACK.
SCALING_SLACK = 1.05


def default_threads():
    """FASTSCRATCH_BENCH_THREADS (comma list) or 1, 2, 4, ... up to the usable cores."""
    counts = settings.bench_threads()
    if counts:
        return counts
    n, counts = usable_cores(), [1]
    while counts[-1] * 2 <= n:
        counts.append(counts[-1] * 2)
    return counts if counts[-1] == n else counts + [n]


def _steps(arch, batch, optimizer, dtype, threads, impls):
    steps = {}
    for impl in impls:
        if impl == "torch":
            try:
                steps[impl] = torch_step(arch, optimizer, dtype, threads, batch=batch, fused=True)
            except ImportError:
                continue
        elif impl == "gemm_floor":
            steps[impl] = gemm_floor_step(arch, dtype, batch=batch)
        else:
            steps[impl] = fastscratch_step(arch, optimizer, dtype, backend=impl, batch=batch)
    return steps


def time_case(arch, batch, optimizer, dtype, threads, impls=IMPLS, budget=1.5, min_rounds=5,
              block=3):
    """{impl: [seconds per step]} at ``threads``: rounds interleaved over impls until
    ``budget`` seconds have passed (at least ``min_rounds``); in each round an impl runs
    ``block`` steps in a row and the first is not kept. The step after another impl's finds
    that impl's data in the caches and its thread pool still spinning on the cores (measured:
    2x slower on 2 cores), which says more about the neighbour than about the step."""
    set_num_threads(threads)
    steps = _steps(arch, batch, optimizer, dtype, threads, impls)
    for step in steps.values():  # compile, allocate, warm the caches
        step()
        step()
    times = {impl: [] for impl in steps}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or time.perf_counter() - start < budget:
        for impl, step in steps.items():
            for k in range(block):
                t0 = time.perf_counter()
                step()
                if k:
                    times[impl].append(time.perf_counter() - t0)
        rounds += 1
    return times


def sweep(threads_list, nets=NETS, optimizers=STEP_OPTIMIZERS, dtypes=("float64", "float32"),
          impls=IMPLS, budget=1.5, log=sys.stdout):
    """Rows {arch, batch, optimizer, dtype, threads, impl, median_ms, q1_ms, q3_ms, rounds}."""
    rows = []
    for arch, batch in nets:
        for optimizer in optimizers:
            for dtype in dtypes:
                for threads in threads_list:
                    times = time_case(arch, batch, optimizer, dtype, threads, impls, budget)
                    for impl, t in times.items():
                        q1, med, q3 = np.percentile(np.array(t) * 1e3, [25, 50, 75])
                        rows.append(dict(arch=arch, batch=batch, optimizer=optimizer,
                                         dtype=dtype, threads=threads, impl=impl,
                                         median_ms=med, q1_ms=q1, q3_ms=q3, rounds=len(t)))
                    line = " ".join(f"{r['impl']} {r['median_ms']:.2f}" for r in rows[-len(times):])
                    print(f"{arch} b{batch} {optimizer} {dtype} {threads}t: {line}", file=log,
                          flush=True)
    return rows


def _table(rows):
    """{(arch, batch, optimizer, dtype): {threads: {impl: median_ms}}}."""
    table = {}
    for r in rows:
        key = (r["arch"], r["batch"], r["optimizer"], r["dtype"])
        table.setdefault(key, {}).setdefault(r["threads"], {})[r["impl"]] = r["median_ms"]
    return table


def summary(rows):
    """Markdown: per case and thread count the medians and numba's ratios to the floor and to
    PyTorch, then every case where 2x the threads was slower than x by more than 5%."""
    lines = ["| net | batch | optimizer | dtype | threads | numba ms | numpy ms | floor ms | "
             "torch ms | numba/floor | numba/torch |", "|" + "---|" * 11]
    slower = []
    for (arch, batch, optimizer, dtype), by_threads in _table(rows).items():
        for threads, m in sorted(by_threads.items()):
            cell = lambda impl: f"{m[impl]:.2f}" if impl in m else "-"
            ratio = lambda impl: f"{m['numba'] / m[impl]:.2f}" if impl in m else "-"
            lines.append(f"| {arch} | {batch} | {optimizer} | {dtype} | {threads} | "
                         f"{cell('numba')} | {cell('numpy')} | {cell('gemm_floor')} | "
                         f"{cell('torch')} | {ratio('gemm_floor')} | {ratio('torch')} |")
            half = by_threads.get(threads // 2)
            if threads > 1 and half and m["numba"] > SCALING_SLACK * half["numba"]:
                slower.append(f"- {arch} b{batch} {optimizer} {dtype}: {threads} threads "
                              f"{m['numba']:.2f} ms > {threads // 2} threads "
                              f"{half['numba']:.2f} ms")
    lines += ["", "2x threads slower than x threads by more than 5%:"]
    lines += slower or ["- none"]
    return "\n".join(lines) + "\n"


def charts(rows, out):
    """One PNG per net and batch: step time against threads, one line per implementation and
    optimizer/dtype; returns the paths."""
    from matplotlib.figure import Figure

    paths = []
    table = _table(rows)
    for arch, batch in dict.fromkeys((k[0], k[1]) for k in table):
        keys = [k for k in table if k[:2] == (arch, batch)]
        fig = Figure(figsize=(4 * len(keys), 3.6))
        for i, key in enumerate(keys):
            ax = fig.add_subplot(1, len(keys), i + 1)
            by_threads = table[key]
            threads = sorted(by_threads)
            for impl in IMPLS:
                ys = [by_threads[t].get(impl, np.nan) for t in threads]
                if not np.all(np.isnan(ys)):
                    ax.plot(threads, ys, marker="o", label=impl)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(threads, [str(t) for t in threads])
            ax.set_title(f"{key[2]} {key[3]}", fontsize=9)
            ax.set_xlabel("threads")
            if i == 0:
                ax.set_ylabel("ms per step")
                ax.legend(fontsize=7)
        fig.suptitle(f"{arch}, batch {batch}")
        fig.tight_layout()
        path = Path(out) / f"scaling_{arch}_b{batch}.png"
        fig.savefig(path, dpi=90)
        paths.append(path)
    return paths


def machine():
    """What the numbers were measured on."""
    from threadpoolctl import threadpool_info
    import numba

    return dict(platform=platform.platform(), processor=platform.processor(),
                cpu_count=os.cpu_count(), usable_cores=usable_cores(),
                python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, threading_layer=numba.threading_layer(),
                blas=[(d["internal_api"], d["version"], Path(d["filepath"]).name)
                      for d in threadpool_info() if d["user_api"] == "blas"])


def add_arguments(parser):
    """The sweep's options on an argparse parser."""
    parser.add_argument("--out", required=True, help="folder for scaling.json, .md and charts")
    parser.add_argument("--threads", default=None,
                        help="comma list (default FASTSCRATCH_BENCH_THREADS or 1,2,4,... cores)")
    parser.add_argument("--budget", type=float, default=1.5, help="seconds per case and count")
    parser.add_argument("--optimizers", default=",".join(STEP_OPTIMIZERS))
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--nets", default=",".join(f"{a}:{b}" for a, b in NETS),
                        help="comma list of ARCH:BATCH")


def run(args):
    """Run the sweep of parsed ``args``; write the JSON, the summary and the charts; 0."""
    threads = [int(t) for t in args.threads.split(",")] if args.threads else default_threads()
    nets = [(n.split(":")[0], int(n.split(":")[1])) for n in args.nets.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = sweep(threads, nets, args.optimizers.split(","), args.dtypes.split(","),
                 budget=args.budget)
    info = dict(machine=machine(), date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), rows=rows)
    (out / "scaling.json").write_text(json.dumps(info, indent=1, default=str))
    (out / "scaling.md").write_text(summary(rows))
    for path in charts(rows, out):
        print(path)
    print(summary(rows))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastscratch.benchtools.scaling",
                                     description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
