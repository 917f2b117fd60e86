"""One training step (net.gradient + opt.update, batch 100 of random MNIST-shaped data) on both
backends, beside the same run's references: the step's matrix products alone (GEMM floor) and
PyTorch CPU eager on the same architecture and optimizer (skipped without torch)."""
import pytest
import settings

from fastscratch.benchtools.results import tag
from fastscratch.benchtools.steps import (OPTIMIZERS, fastscratch_step, gemm_floor_step,
                                          torch_step)


def _cases():
    """Every (arch, optimizer, dtype, impl); PyTorch last, so that its thread pool (which may
    spin after its work) cannot slow the others down."""
    for impls in (("numba", "numpy", "gemm_floor"), ("torch",)):
        for arch in settings.STEP_ARCHS:
            for optimizer in OPTIMIZERS:
                for dtype in settings.DTYPES:
                    for impl in impls:
                        yield pytest.param(arch, optimizer, dtype, impl,
                                           id=f"{arch}-{optimizer}-{dtype}-{impl}")


@pytest.mark.parametrize("arch,optimizer,dtype,impl", list(_cases()))
def test_step(benchmark, arch, optimizer, dtype, impl):
    if impl == "torch":
        pytest.importorskip("torch")
        step = torch_step(arch, optimizer, dtype, settings.THREADS)
    elif impl == "gemm_floor":
        step = gemm_floor_step(arch, dtype)
    else:
        step = fastscratch_step(arch, optimizer, dtype, backend=impl)
    tag(benchmark, "step", f"{arch}/{optimizer}", dtype, impl, baseline="gemm_floor", batch=100)
    step()  # compile and warm up outside the timing
    benchmark(step)
