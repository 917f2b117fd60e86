"""The benchmark history: a JSON-lines file (default ``bench/.history/history.jsonl``, one file
to commit or ignore), one record a line: the within-run ratios (results.ratios keys, e.g.
``kernel:adam:serial:100x100-float64``) of one commit measured on one machine. ``bench/run.sh
run`` appends one through the ``record`` command, ``ab`` one per side; ``history`` draws each
benchmark's ratio over commits, one chart per benchmark and machine, and lists the largest
changes between consecutive commits.
"""
import datetime
import fnmatch
import hashlib
import json
import math
import re
import statistics
from pathlib import Path

DEFAULT_STORE = Path("bench") / ".history" / "history.jsonl"
# what makes two machines comparable: hardware, threads and the numeric libraries
FINGERPRINT_FIELDS = ("cpu", "cores_available", "threads", "blas", "numba", "numpy")


def fingerprint(machine):
    """A 10-hex-digit hash of the FINGERPRINT_FIELDS of a machine_summary dict."""
    key = json.dumps({f: machine.get(f) for f in FINGERPRINT_FIELDS}, sort_keys=True)
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def make_record(source, commit, dirty, machine, stat, measured):
    """A history record: ``commit`` is gitrevs.commit_info's dict, ``measured`` {key: ratio}."""
    return {"version": 1, "source": source, "commit": commit, "dirty": bool(dirty),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": dict(machine, fingerprint=fingerprint(machine)), "stat": stat,
            "ratios": measured}


def append(store, records):
    """Append records (dicts from make_record) to the store, creating it and its directory."""
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    with open(store, "a", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, sort_keys=True) + "\n")


def load(store):
    """The records of a store, in file order; ValueError naming the file and line if bad."""
    records = []
    with open(store, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{store}:{number}: expected a JSON history record ({exc})")
            if not isinstance(record, dict) or not isinstance(record.get("ratios"), dict) \
                    or "sha" not in (record.get("commit") or {}):
                raise ValueError(f"{store}:{number}: expected a record with 'commit' and "
                                 f"'ratios', got {line[:80]!r}")
            records.append(record)
    return records


def series(records, match="*"):
    """{(machine fingerprint, key): [(commit dict, [ratios])]}: per machine and ratio key
    matching the glob ``match``, its ratios per commit, commits ordered by commit date."""
    out = {}
    for record in records:
        fp = record["machine"]["fingerprint"]
        for key, value in record["ratios"].items():
            if fnmatch.fnmatchcase(key, match):
                commits = out.setdefault((fp, key), {})
                sha = record["commit"]["sha"] + ("+" if record.get("dirty") else "")
                commits.setdefault(sha, (dict(record["commit"], sha=sha), []))[1].append(value)
    return {k: sorted(v.values(), key=lambda cv: cv[0]["date"]) for k, v in out.items()}


def largest_changes(all_series, top=10):
    """The ``top`` largest moves between consecutive commits (median ratio over median ratio)
    as (machine, key, commit before, commit after, ratio before, ratio after, change)."""
    moves = []
    for (fp, key), points in all_series.items():
        medians = [(commit, statistics.median(values)) for commit, values in points]
        for (c0, r0), (c1, r1) in zip(medians, medians[1:]):
            moves.append((fp, key, c0, c1, r0, r1, r1 / r0))
    moves.sort(key=lambda m: -abs(math.log(m[6])))
    return moves[:top]


def machines(records):
    """{fingerprint: machine dict} in first-seen order."""
    return {r["machine"]["fingerprint"]: r["machine"] for r in records}


def _file_name(key):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".png"


def draw(all_series, out):
    """One PNG per (machine, key): every record's ratio over the commits and a line through
    the per-commit medians; returns the paths (under ``out/<fingerprint>/``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for (fp, key), points in all_series.items():
        fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(points) + 2), 3))
        for x, (_, values) in enumerate(points):
            ax.plot([x] * len(values), values, "o", color="tab:blue", alpha=0.5)
        ax.plot(range(len(points)), [statistics.median(v) for _, v in points], "-",
                color="tab:blue")
        ax.set_xticks(range(len(points)), [c["sha"][:8] + c["sha"][40:] for c, _ in points],
                      rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("ratio")
        ax.set_title(f"{key}\nmachine {fp}", fontsize=8)
        ax.set_ylim(bottom=0)
        fig.tight_layout()
        path = Path(out) / fp / _file_name(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def format_changes(moves):
    """Text lines of largest_changes' rows."""
    lines = []
    for fp, key, c0, c1, r0, r1, change in moves:
        lines.append(f"{change:7.3f}x  {key}  {c0['sha'][:8]} -> {c1['sha'][:8]}"
                     f" ({r0:.3g} -> {r1:.3g})  machine {fp}  {c1.get('subject', '')[:50]}")
    return lines


def write_history(store, out, match="*", top=10):
    """Charts of every matching series under ``out``, plus ``out/history.md`` (machines,
    largest changes, chart list); returns (written paths, largest-change lines)."""
    records = load(store)
    all_series = series(records, match)
    if not all_series:
        raise ValueError(f"{store}: no ratio matches {match!r}")
    charts = draw(all_series, out)
    lines = format_changes(largest_changes(all_series, top))
    md = ["# Benchmark history", "", f"From `{store}`: {len(records)} records.", "",
          "## Machines", ""]
    md += [f"- `{fp}`: {m.get('cpu')}, {m.get('threads')} threads, Numba {m.get('numba')}, "
           f"NumPy {m.get('numpy')}" for fp, m in machines(records).items()]
    md += ["", "## Largest changes between consecutive commits", "", "```", *lines, "```", "",
           "## Charts", ""]
    md += [f"- [{p.parent.name}/{p.stem}]({p.relative_to(out)})" for p in charts]
    report = Path(out) / "history.md"
    report.write_text("\n".join(md) + "\n", encoding="utf-8")
    return [report] + charts, lines
