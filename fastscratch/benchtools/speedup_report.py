"""Markdown tables and PNG bar charts of speed-ups from a pytest-benchmark JSON of ``bench/``."""
import math
from pathlib import Path

from ..plotting import new_figure
from .machine import format_machine, machine_summary
from .results import by_group, format_time, load, machine_info

KINDS = ("kernel", "step", "epoch", "convnet", "triad")
IMPL_ORDER = ("numpy", "serial", "parallel", "numba", "torch", "gemm_floor", "book")


def _impls(groups):
    """The implementations present in ``groups``, in IMPL_ORDER then first-seen order."""
    seen = [i for impls in groups.values() for i in impls]
    known = [i for i in IMPL_ORDER if i in seen]
    return known + [i for i in dict.fromkeys(seen) if i not in known]


def _speedup(impls, r):
    """reference median / r's median, or None without a reference in the group."""
    ref = impls.get(r.reference)
    return None if ref is None or ref is r else ref.median / r.median


def kind_table(groups):
    """Markdown table for one kind's groups: per implementation the median and the speed-up
    over the reference, and where the baseline differs (steps) each median over the baseline."""
    columns = _impls(groups)
    first = next(iter(next(iter(groups.values())).values()))
    over = [] if first.baseline == first.reference else [i for i in columns
                                                         if i != first.baseline]
    head = ["name", "case"] + columns + [f"{i} / {first.baseline}" for i in over]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for impls in groups.values():
        r0 = next(iter(impls.values()))
        cells = [r0.name, r0.case]
        for impl in columns:
            r = impls.get(impl)
            s = None if r is None else _speedup(impls, r)
            cells.append("" if r is None else format_time(r.median)
                         + ("" if s is None else f" ({s:.2f}x)"))
        base = impls.get(r0.baseline)
        for impl in over:
            r = impls.get(impl)
            cells.append("" if r is None or base is None else f"{r.median / base.median:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def bandwidth_table(results):
    """Markdown lines: the triad's bandwidth (best round) and, for the largest case of each
    kernel that records the bytes it moves, its effective bandwidth as a share of the triad's."""
    triads = [r for r in results if r.kind == "triad" and "bytes" in r.extra]
    if not triads:
        return []
    bw = max(r.extra["bytes"] / r.min for r in triads)
    lines = [f"Triad (a = b + s*c, {triads[0].extra.get('elements')} float64, best of "
             f"{triads[0].extra.get('rounds', 'several')}): **{bw / 1e9:.2f} GB/s**", "",
             "| kernel | case | impl | median | bytes moved | GB/s | time / triad-bound time |",
             "|---|---|---|---|---|---|---|"]
    largest = {}
    for r in results:
        if r.kind == "kernel" and "bytes" in r.extra:
            largest[r.name] = max(largest.get(r.name, 0), r.extra.get("elements", 0))
    for r in results:
        if r.kind == "kernel" and "bytes" in r.extra \
                and r.extra.get("elements", 0) == largest[r.name]:
            got = r.extra["bytes"] / r.median
            lines.append(f"| {r.name} | {r.case} | {r.impl} | {format_time(r.median)} | "
                         f"{r.extra['bytes'] / 1e6:.0f} MB | {got / 1e9:.2f} | {bw / got:.2f} |")
    return lines


def twins_table(results):
    """Markdown lines: per kernel case with both twins, the serial over the parallel median
    (above 1: the parallel twin wins), sorted by elements, for choosing PARALLEL_MIN."""
    rows = []
    for impls in by_group(r for r in results if r.kind == "kernel").values():
        serial, parallel = impls.get("serial"), impls.get("parallel")
        if serial is not None and parallel is not None:
            rows.append((serial.extra.get("elements", 0), serial.name, serial.case,
                         serial.median, parallel.median))
    if not rows:
        return []
    lines = ["| kernel | case | elements | serial | parallel | serial / parallel |",
             "|---|---|---|---|---|---|"]
    for elements, name, case, s, p in sorted(rows):
        lines.append(f"| {name} | {case} | {elements} | {format_time(s)} | {format_time(p)} | "
                     f"{s / p:.2f} |")
    return lines


def speedup_chart(groups, title, path):
    """One subplot per name: bars of each implementation's speed-up over the reference per case
    (log scale); returns False (and writes nothing) when no group has a reference."""
    by_name = {}
    for impls in groups.values():
        for r in impls.values():
            s = _speedup(impls, r)
            if s is not None:
                by_name.setdefault(r.name, {}).setdefault(r.impl, {})[r.case] = s
    if not by_name:
        return False
    ncols = min(4, len(by_name))
    nrows = math.ceil(len(by_name) / ncols)
    fig, axes = new_figure(nrows, ncols, size=(4.5 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (name, per_impl) in zip(axes.flat, by_name.items()):
        cases = list(dict.fromkeys(c for v in per_impl.values() for c in v))
        width = 0.8 / len(per_impl)
        for k, (impl, values) in enumerate(per_impl.items()):
            xs = [i + k * width for i, c in enumerate(cases) if c in values]
            ax.bar(xs, [values[c] for c in cases if c in values], width, label=impl)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(cases))])
        ax.set_xticklabels(cases, rotation=30, ha="right", fontsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(by_name):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def write_report(json_path, out_dir):
    """Write report.md and speedup_<kind>.png into out_dir; returns the paths written."""
    results = load(json_path)
    if not results:
        raise ValueError(f"{json_path}: no benchmarks labelled by bench/ (extra_info 'kind')")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info(json_path).get("fastscratch")
    lines = ["# fastscratch benchmarks", "", f"From `{json_path}`.", "", "## Machine", ""]
    if info is None:
        info = machine_summary()
        lines.append("(not recorded in the JSON; this is the machine the report ran on)")
    lines += format_machine(info) + [""]
    written = []
    for kind in KINDS:
        groups = by_group(r for r in results if r.kind == kind)
        if not groups:
            continue
        lines += [f"## {kind}", "", "Median per implementation (speed-up over the NumPy "
                  "reference).", ""] + kind_table(groups) + [""]
        png = out_dir / f"speedup_{kind}.png"
        if speedup_chart(groups, f"{kind}: speed-up over the NumPy reference", png):
            lines += [f"![{kind} speed-ups]({png.name})", ""]
            written.append(png)
    twins = twins_table(results)
    if twins:
        lines += ["## Parallel twin against serial twin", ""] + twins + [""]
    bandwidth = bandwidth_table(results)
    if bandwidth:
        lines += ["## Memory bandwidth", ""] + bandwidth + [""]
    md = out_dir / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return [md] + written
