"""Which vector width each kernel's machine code uses on this host.

    python bench/simd_width.py [--out FILE.md]

Compiles every kernel of bench/bench_kernels.py afresh (a new, empty Numba cache: cached code
cannot be inspected) for float64 and float32 on its smallest benchmark case, and counts the
instructions of its serial twin that name a 512-bit (zmm), 256-bit (ymm) or 128-bit (xmm)
register. Scalar float arithmetic also uses xmm registers, so "widest" is the widest class
that appears. Products inside the kernels run in OpenBLAS, whose own kernels are chosen by its
core type (threadpoolctl's 'architecture'; OPENBLAS_CORETYPE=Haswell forces its AVX2 kernels).
"""
import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="simd-width-")  # before numba loads

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kernels  # noqa: E402
import settings  # noqa: E402

REGISTER = re.compile(r"\b([xyz])mm\d+\b")


def smallest_case(name):
    """The first size of the benchmark cases of kernel ``name``."""
    for names, sizes in [(bench_kernels.MATRIX, settings.SHAPES),
                         (bench_kernels.CLASSES, settings.CLASS_SHAPES),
                         (bench_kernels.CONV, settings.CONV_CASES),
                         (bench_kernels.POOL, settings.POOL_CASES)]:
        if name in [n for _, n in names]:
            return next(iter(sizes))
    return next(iter(settings.PARAM_SETS))


def register_counts(asm):
    """{'zmm': n, 'ymm': n, 'xmm': n}: instructions of ``asm`` naming each register class."""
    counts = {"zmm": 0, "ymm": 0, "xmm": 0}
    for line in asm.splitlines():
        kinds = {m + "mm" for m in REGISTER.findall(line)}
        for kind in ("zmm", "ymm", "xmm"):
            if kind in kinds:
                counts[kind] += 1
                break  # an instruction counts once, for its widest register
    return counts


def kernel_widths():
    """[(kernel, dtype, counts)] for the serial twin of every benchmarked kernel."""
    rows = []
    for name, impls in bench_kernels.IMPLS.items():
        fn = impls.get("serial", impls.get("numba"))
        for dtype in settings.DTYPES:
            calls, _ = bench_kernels.BUILDERS[name](smallest_case(name), np.dtype(dtype),
                                                    np.random.default_rng(0))
            before = set(fn.signatures)
            fn(*calls[0])
            sig = (set(fn.signatures) - before or set(fn.signatures)).pop()
            rows.append((name, dtype, register_counts(fn.inspect_asm(sig))))
    return rows


def blas_architecture():
    """OpenBLAS's core type as threadpoolctl reports it (None if it cannot tell)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    archs = {i.get("architecture") for i in threadpool_info() if i.get("internal_api") ==
             "openblas"}
    return ", ".join(sorted(a for a in archs if a)) or None


def report():
    import llvmlite.binding as ll
    features = ll.get_host_cpu_features()
    avx512 = features.get("avx512f", False)
    lines = [f"LLVM host CPU: {ll.get_host_cpu_name()}; AVX-512F: {'yes' if avx512 else 'no'}; "
             f"NUMBA_CPU_NAME={os.environ.get('NUMBA_CPU_NAME', '(unset)')}; OpenBLAS core: "
             f"{blas_architecture()} (OPENBLAS_CORETYPE="
             f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')})", "",
             "| kernel | dtype | zmm | ymm | xmm | widest |", "|---|---|---|---|---|---|"]
    for name, dtype, c in kernel_widths():
        widest = next((k for k in ("zmm", "ymm", "xmm") if c[k]), "-")
        lines.append(f"| {name} | {dtype} | {c['zmm']} | {c['ymm']} | {c['xmm']} | {widest} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="also write the table here")
    args = p.parse_args(argv)
    text = report()
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
