"""Ratios measured within one run (Numba kernel / NumPy twin, step / GEMM floor) against
committed ceilings: robust to a shared machine's noise, which slows both sides alike. Steps
timed at several thread counts also give scaling ratios (n threads over n/2 threads).

A ceilings file is JSON ``{"note": "...", "stat": "median", "ceilings": {pattern: ceiling}}``;
a pattern is a shell glob over ratio keys ``kind:name:impl:case`` (``kernel:adam:serial:*``)
and every pattern a key matches must hold. ``stat`` (default 'median') is the statistic the
ratios are taken of: 'min' (each side's fastest round) resists bursts of load better.
"""
import fnmatch
import json
import math

from .results import NUMBA_IMPLS, STATS, format_time, load, ratios, scaling_ratios


def load_ceilings(path):
    """({pattern: ceiling}, stat) from a ceilings file; ValueError naming the file and entry
    if bad."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: expected a JSON ceilings file, got invalid JSON ({exc})")
    ceilings = data.get("ceilings") if isinstance(data, dict) else None
    if not isinstance(ceilings, dict):
        raise ValueError(f"{path}: expected an object with a 'ceilings' object "
                         f"{{pattern: max ratio}}, got {type(ceilings).__name__}")
    for pattern, value in ceilings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{path}: ceiling for {pattern!r} must be a positive number, "
                             f"got {value!r}")
    stat = data.get("stat", "median")
    if stat not in STATS:
        raise ValueError(f"{path}: 'stat' must be one of {STATS}, got {stat!r}")
    return ceilings, stat


def evaluate(measured, ceilings):
    """[(Ratio, ceiling or None)] for every ratio (the lowest matching ceiling applies), and
    the patterns that matched no ratio."""
    rows, used = [], set()
    for ratio in measured:
        hits = [p for p in ceilings if fnmatch.fnmatchcase(ratio.key, p)]
        used.update(hits)
        rows.append((ratio, min((ceilings[p] for p in hits), default=None)))
    return rows, [p for p in ceilings if p not in used]


def above_ceilings(values, ceilings_path, out):
    """Print each ``{key: ratio}`` of a run that is not pytest-benchmark's (the per-process
    scripts) with the lowest ceiling of ``ceilings_path`` matching it; returns the keys above
    their ceilings."""
    ceilings, _ = load_ceilings(ceilings_path)
    above = []
    for key, value in sorted(values.items()):
        limit = min((c for p, c in ceilings.items() if fnmatch.fnmatchcase(key, p)),
                    default=None)
        print(f"{key:58s} {value:6.3f}" + ("" if limit is None else f"  ceiling {limit:g}"),
              file=out)
        if limit is not None and value > limit:
            above.append(key)
    return above


def format_rows(rows):
    """A plain-text table: key, both sides' statistic, ratio, ceiling, status."""
    stat = rows[0][0].stat if rows else "median"
    header = ("ratio", stat, "over", "ratio", "ceiling", "status")
    lines = [header]
    for ratio, ceiling in rows:
        status = "-" if ceiling is None else ("ok" if ratio.value <= ceiling else "ABOVE")
        lines.append((ratio.key, format_time(getattr(ratio.result, stat)),
                      f"{ratio.base.impl} {format_time(getattr(ratio.base, stat))}",
                      f"{ratio.value:.3f}", "-" if ceiling is None else f"{ceiling:g}", status))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
                     for line in lines)


def check(json_path, ceilings_path, out):
    """Print the ratio table of ``json_path`` to ``out``; 1 if any ratio is above its ceiling,
    else 0."""
    ceilings, stat = load_ceilings(ceilings_path)
    results = load(json_path)
    rows, unmatched = evaluate(ratios(results, stat) + scaling_ratios(results, stat), ceilings)
    print(format_rows(rows), file=out)
    above = [r for r, c in rows if c is not None and r.value > c]
    checked = sum(c is not None for _, c in rows)
    if unmatched:
        print(f"note: {len(unmatched)} ceiling(s) matched no benchmark: "
              + ", ".join(unmatched), file=out)
    print(f"{checked} ratios checked, {len(above)} above ceiling", file=out)
    return 1 if above else 0


def suggest(json_paths, margin, parallel_min, stat="median"):
    """Ceilings that hold on the runs in ``json_paths`` with ``margin``: per Numba kernel twin
    and per step/epoch the largest ratio over all cases and runs times margin (rounded up to 2
    digits); the parallel twin only per case and from ``parallel_min`` elements, where the
    dispatcher uses it."""
    if not margin >= 1:
        raise ValueError(f"margin must be >= 1, got {margin!r}")
    measured = [ratio for path in json_paths for ratio in ratios(load(path), stat)]
    worst = {}
    for ratio in measured:
        r = ratio.result
        if r.impl not in NUMBA_IMPLS:
            continue
        if r.impl == "parallel":
            if r.extra.get("elements", 0) < parallel_min:
                continue
            pattern = ratio.key
        else:
            pattern = f"{r.kind}:{r.name}:{r.impl}:*"
        worst[pattern] = max(worst.get(pattern, 0.0), ratio.value)
    return {p: _round_up(v * margin) for p, v in worst.items()}


def _round_up(x):
    """x rounded up to two significant digits."""
    scale = 10.0 ** (math.floor(math.log10(x)) - 1)
    return round(math.ceil(x / scale - 1e-9) * scale, 10)
