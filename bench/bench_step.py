"""One training step (net.gradient + opt.update on a batch of random MNIST-shaped data) on both
backends, beside the same run's references: the step's matrix products alone (GEMM floor) and
PyTorch CPU eager on the same architecture and optimizer (fused Adam; skipped without torch),
at every thread count of settings.THREAD_COUNTS."""
import pytest
import settings

import fastscratch
from fastscratch.benchtools.results import tag
from fastscratch.benchtools.steps import (STEP_OPTIMIZERS, fastscratch_step, gemm_floor_step,
                                          torch_step)


def _cases():
    """Every (threads, arch, batch, optimizer, dtype, impl); PyTorch last, so that its thread
    pool (which may spin after its work) cannot slow the others down."""
    for impls in (("numba", "numpy", "gemm_floor"), ("torch",)):
        for threads in settings.THREAD_COUNTS:
            for arch, batch in settings.STEP_CASES:
                for optimizer in STEP_OPTIMIZERS:
                    for dtype in settings.DTYPES:
                        for impl in impls:
                            yield pytest.param(
                                threads, arch, batch, optimizer, dtype, impl,
                                id=f"{arch}-b{batch}-{optimizer}-{dtype}-{threads}t-{impl}")


@pytest.fixture
def threads_for(request):
    """Set the thread count for one benchmark; the session's count is restored after it."""
    def use(threads):
        fastscratch.set_num_threads(threads)
    yield use
    fastscratch.set_num_threads(settings.THREADS)


@pytest.mark.parametrize("threads,arch,batch,optimizer,dtype,impl", list(_cases()))
def test_step(benchmark, threads_for, threads, arch, batch, optimizer, dtype, impl):
    threads_for(threads)
    if impl == "torch":
        pytest.importorskip("torch")
        step = torch_step(arch, optimizer, dtype, threads, batch=batch, fused=True)
    elif impl == "gemm_floor":
        step = gemm_floor_step(arch, dtype, batch=batch)
    else:
        step = fastscratch_step(arch, optimizer, dtype, backend=impl, batch=batch)
    tag(benchmark, "step", f"{arch}-b{batch}/{optimizer}", f"{dtype}-{threads}t", impl,
        baseline="gemm_floor", batch=batch, threads=threads)
    step()  # compile and warm up outside the timing
    benchmark(step)
