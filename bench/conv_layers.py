"""GFLOP/s of each layer of the conv nets' training step, against the machine's measured peak.

    python bench/conv_layers.py [--net deepconvnet|simpleconvnet] [--dtype float32|float64]
                                [--threads 1] [--steps 20] [--out FILE.md]

One process, one implementation (fastscratch's kernels), batch 100 of random MNIST-shaped
images, Adam. Each step of the net's walk (``fusion.Step``: a layer with the layers fused into
it) is timed forward and backward over --steps training steps after 3 warm-up steps; the peak
is a 2048x2048 np.dot of the same dtype at the same thread count, measured in the same process
before the net runs. FLOPs count 2 per multiply-add of the products: forward, dW and (except
for the first layer) dx; the elementwise work is left out, so a pooling step shows 0.
"""
import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import fastscratch  # noqa: E402
from fastscratch import Adam, DeepConvNet, SimpleConvNet  # noqa: E402
from fastscratch.benchtools import convnet_cases as cases  # noqa: E402
from fastscratch.fusion import Step  # noqa: E402
from fastscratch.layers import Affine, Convolution  # noqa: E402


def peak_gflops(dtype, rounds=5):
    """GFLOP/s of the best of ``rounds`` 2048^2 np.dot calls."""
    a = np.random.default_rng(0).random((2048, 2048)).astype(dtype)
    np.dot(a, a)
    best = min(_seconds(lambda: np.dot(a, a)) for _ in range(rounds))
    return 2 * 2048 ** 3 / best / 1e9


def _seconds(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def layer_flops(layer, x_shape, first):
    """(forward, backward) FLOPs of a Convolution or Affine on input x_shape; 0 otherwise."""
    if isinstance(layer, Convolution):
        fn, c, fh, fw = layer.W.shape
        n, _, h, w = x_shape
        oh = (h + 2 * layer.pad - fh) // layer.stride + 1
        ow = (w + 2 * layer.pad - fw) // layer.stride + 1
        macs = n * oh * ow * fn * c * fh * fw
    elif isinstance(layer, Affine):
        macs = x_shape[0] * layer.W.size
    else:
        return 0, 0
    return 2 * macs, 2 * macs * (1 if first else 2)


def profile(net, dtype, steps):
    """[(name, input shape, forward s, backward s)] per step of the walk, and the whole step's
    median seconds."""
    x, t = cases.mnist_images(100, dtype)
    model = SimpleConvNet(**cases.CH07, dtype=dtype, seed=0) if net == "simpleconvnet" \
        else DeepConvNet(dtype=dtype, seed=0)
    opt = Adam(lr=cases.LR)
    times = collections.defaultdict(lambda: [0.0, 0.0])
    shapes, order = {}, []
    forward, backward = Step.forward, Step.backward

    def timed_forward(step, x_in, train_flg):
        start = time.perf_counter()
        out = forward(step, x_in, train_flg)
        times[id(step)][0] += time.perf_counter() - start
        if id(step) not in shapes:
            shapes[id(step)] = x_in.shape
            order.append(step)
        return out

    def timed_backward(step, dout, need_dx):
        start = time.perf_counter()
        out = backward(step, dout, need_dx)
        times[id(step)][1] += time.perf_counter() - start
        return out

    Step.forward, Step.backward = timed_forward, timed_backward
    try:
        for _ in range(3):
            opt.update(model.params, model.gradient(x, t))
        times.clear()
        whole = []
        for _ in range(steps):
            whole.append(_seconds(lambda: opt.update(model.params, model.gradient(x, t))))
    finally:
        Step.forward, Step.backward = forward, backward
    rows = [(step, shapes[id(step)], times[id(step)][0] / steps, times[id(step)][1] / steps)
            for step in order]
    return rows, float(np.median(whole))


def report(net, dtype, threads, steps):
    fastscratch.set_num_threads(threads)
    peak = peak_gflops(dtype)
    rows, whole = profile(net, dtype, steps)
    lines = [f"{net} {dtype}, {threads} thread(s), batch 100, Adam: step {whole * 1e3:.2f} ms "
             f"(median of {steps}); peak {peak:.1f} GFLOP/s (2048^2 np.dot, same process)", "",
             "| step | input | forward ms | GFLOP/s | of peak | backward ms | GFLOP/s | of peak |",
             "|---|---|---|---|---|---|---|---|"]
    total_flops = 0
    for i, (step, shape, f_s, b_s) in enumerate(rows):
        f_fl, b_fl = layer_flops(step.layer, shape, i == 0)
        total_flops += f_fl + b_fl
        name = "+".join(type(layer).__name__ for layer in (step.layer,) + step.fused)
        cells = []
        for seconds, flops in ((f_s, f_fl), (b_s, b_fl)):
            rate = flops / seconds / 1e9 if flops else 0.0
            cells += [f"{seconds * 1e3:.2f}", f"{rate:.1f}" if flops else "-",
                      f"{rate / peak:.0%}" if flops else "-"]
        lines.append(f"| {i} {name} | {'x'.join(map(str, shape))} | " + " | ".join(cells) + " |")
    floor = total_flops / (peak * 1e9)
    lines += ["", f"step FLOPs {total_flops / 1e6:.0f} M: compute floor {floor * 1e3:.2f} ms; "
              f"the step is {whole / floor:.2f}x the floor"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", choices=("deepconvnet", "simpleconvnet"), default="deepconvnet")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", type=Path, help="also write the table here")
    args = p.parse_args(argv)
    text = report(args.net, args.dtype, args.threads, args.steps)
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
