"""The labels every benchmark in ``bench/`` carries, and the reading of pytest-benchmark JSON.

A benchmark is tagged with a kind ('kernel', 'step', 'epoch', 'triad'), a name (kernel or
network/optimizer), a case (size and dtype) and an implementation; its group is
``"<kind> <name> <case>"``, so pytest-benchmark's table shows a group's implementations side by
side. ``reference`` is the implementation speed-ups are measured against (the NumPy twin) and
``baseline`` the one ratios are taken over (the NumPy twin for kernels, the GEMM floor for steps).
"""
import json
from dataclasses import dataclass, field

NUMBA_IMPLS = ("serial", "parallel", "numba")


def tag(benchmark, kind, name, case, impl, reference="numpy", baseline=None, **extra):
    """Set the group and extra_info of a pytest-benchmark fixture to this module's schema."""
    benchmark.group = f"{kind} {name} {case}"
    benchmark.extra_info.update(kind=kind, name=name, case=case, impl=impl, reference=reference,
                                baseline=baseline or reference, **extra)


@dataclass(frozen=True)
class Result:
    """One benchmark's labels and timings (seconds)."""

    kind: str
    name: str
    case: str
    impl: str
    reference: str
    baseline: str
    median: float
    min: float
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def group(self):
        return f"{self.kind} {self.name} {self.case}"


STATS = ("median", "min")


@dataclass(frozen=True)
class Ratio:
    """stat(result) / stat(base) for a stat in STATS, keyed ``kind:name:impl:case``."""

    key: str
    value: float
    result: Result
    base: Result
    stat: str = "median"


def _fail(path, what):
    raise ValueError(f"{path}: expected a pytest-benchmark JSON file (--benchmark-json), {what}")


def load(path):
    """The tagged benchmarks of a pytest-benchmark JSON file, in file order; untagged ones are
    ignored. Raises ValueError naming the file when it is not such a file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        _fail(path, f"but it is not JSON ({exc})")
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        _fail(path, "but it has no 'benchmarks' list")
    results = []
    for bench in data["benchmarks"]:
        info = bench.get("extra_info") or {}
        stats = bench.get("stats") or {}
        if "kind" not in info:
            continue
        if "median" not in stats or "min" not in stats:
            _fail(path, f"but benchmark {bench.get('name')!r} has no median/min stats")
        labels = {k: info[k] for k in ("kind", "name", "case", "impl", "reference", "baseline")}
        extra = {k: v for k, v in info.items() if k not in labels}
        results.append(Result(**labels, median=stats["median"], min=stats["min"], extra=extra))
    return results


def machine_info(path):
    """The ``machine_info`` dict recorded in a pytest-benchmark JSON file."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh).get("machine_info", {})


def by_group(results):
    """{group: {impl: Result}} in first-seen order."""
    groups = {}
    for r in results:
        groups.setdefault(r.group, {})[r.impl] = r
    return groups


def ratios(results, stat="median"):
    """Every result's ``stat`` ('median' or 'min') over its group baseline's (groups without
    a baseline are left out), as a list of Ratio."""
    if stat not in STATS:
        raise ValueError(f"stat must be one of {STATS}, got {stat!r}")
    out = []
    for impls in by_group(results).values():
        for r in impls.values():
            base = impls.get(r.baseline)
            if base is None or r.impl == r.baseline:
                continue
            out.append(Ratio(f"{r.kind}:{r.name}:{r.impl}:{r.case}",
                             getattr(r, stat) / getattr(base, stat), r, base, stat))
    return out


def scaling_ratios(results, stat="median"):
    """For every step benchmark timed at n and n/2 threads (extra 'threads'), ``stat`` at n
    over ``stat`` at n/2, keyed ``scaling:<name>:<impl>:<case>`` (the case at n threads): more
    threads should never be slower, so each ceiling is 1 plus the noise allowed."""
    if stat not in STATS:
        raise ValueError(f"stat must be one of {STATS}, got {stat!r}")
    by_threads = {}
    for r in results:
        threads = r.extra.get("threads")
        if r.kind == "step" and threads:
            by_threads[(r.name, r.impl, r.case.rsplit("-", 1)[0], threads)] = r
    out = []
    for (name, impl, dtype, threads), r in by_threads.items():
        half = by_threads.get((name, impl, dtype, threads // 2))
        if threads > 1 and threads % 2 == 0 and half is not None:
            out.append(Ratio(f"scaling:{name}:{impl}:{r.case}",
                             getattr(r, stat) / getattr(half, stat), r, half, stat))
    return out


def format_time(seconds):
    """'12.3 µs', '4.56 ms' or '1.23 s'."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds / 1e-9:.4g} ns"
