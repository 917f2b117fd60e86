"""Seeded training steps give bit-identical params at 1, 2, 4, 8 and 16 threads (capped at the
usable cores): python bench/determinism.py; exit 1 if any count differs from 1 thread."""
import sys
import warnings

import numpy as np

import fastscratch
from fastscratch import Adam, MultiLayerNetExtend


def params_after_steps(threads, hidden, batch, dtype, steps=5):
    """The params of a seeded BN + Adam net after ``steps`` steps at ``threads`` threads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # counts above the cores are capped
        fastscratch.set_num_threads(threads)
    net = MultiLayerNetExtend(784, hidden, 10, use_batchnorm=True, dtype=dtype, seed=0)
    opt = Adam()
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x, t = rng.random((batch, 784)).astype(dtype), rng.integers(0, 10, batch)
        opt.update(net.params, net.gradient(x, t))
    return net.params


def main():
    differ = 0
    for hidden, batch in (([100] * 4, 100), ([1024, 1024], 1000)):
        for dtype in ("float64", "float32"):
            base = params_after_steps(1, hidden, batch, dtype)
            for threads in (2, 4, 8, 16):
                params = params_after_steps(threads, hidden, batch, dtype)
                same = all(np.array_equal(base[k], params[k]) for k in base)
                print(f"{len(hidden)} hidden, batch {batch}, {dtype}, {threads} threads: "
                      f"{'identical to' if same else 'DIFFERS from'} 1 thread")
                differ += not same
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
