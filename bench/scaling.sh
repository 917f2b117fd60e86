#!/bin/sh
# The thread sweep on whatever machine this is: bench/scaling.sh OUT_DIR [options]
# Steps of every net, optimizer and dtype at 1, 2, 4, ... threads (FASTSCRATCH_BENCH_THREADS
# overrides: 1,2,4,8,16) for numba, the NumPy backend, the GEMM floor and PyTorch; writes
# OUT_DIR/scaling.json, scaling.md and one chart per net. PYTHON picks the interpreter.
set -e
[ $# -ge 1 ] || { sed -n '2,5p' "$0" >&2; exit 2; }
out=$1
shift
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" -m fastscratch bench scaling --out "$out" "$@"
