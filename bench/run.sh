#!/bin/sh
# The benchmark workflow, run from anywhere (see bench/README.md):
#   bench/run.sh run      full run -> bench/out/bench.json, its ratios appended to the history
#                         (bench/.history/history.jsonl), report, ratio check (exit 1 if a
#                         ratio is above its ceiling in bench/ratios.json)
#   bench/run.sh save     full run saved as a baseline in bench/.benchmarks
#   bench/run.sh compare  full run compared with the latest baseline; fails when a median got
#                         more than 25% slower
# Extra arguments go to pytest (e.g. -k adam). PYTHON picks the interpreter (default python),
# FASTSCRATCH_BENCH_THREADS the threads (default 2), BENCH_OUT the output directory.
set -e
usage=$(sed -n '2,10p' "$0")
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${BENCH_OUT:-bench/out}
STORAGE=bench/.benchmarks
command=$1
[ $# -gt 0 ] && shift
case "$command" in
run)
    mkdir -p "$OUT"
    "$PYTHON" -m pytest bench/ --benchmark-json="$OUT/bench.json" "$@"
    "$PYTHON" -m fastscratch.benchtools record "$OUT/bench.json"
    "$PYTHON" -m fastscratch.benchtools report "$OUT/bench.json" --out "$OUT"
    "$PYTHON" -m fastscratch.benchtools check "$OUT/bench.json" --ceilings bench/ratios.json
    ;;
save)
    "$PYTHON" -m pytest bench/ --benchmark-storage="$STORAGE" --benchmark-autosave "$@"
    ;;
compare)
    "$PYTHON" -m pytest bench/ --benchmark-storage="$STORAGE" --benchmark-compare \
        --benchmark-compare-fail=median:25% "$@"
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac
