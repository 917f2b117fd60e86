"""The book's conv nets: one SimpleConvNet training step (ch07 configuration, Adam, batch 100)
on both backends beside the book's NumPy code and PyTorch eager (skipped without torch), and
DeepConvNet inference (accuracy over the MNIST test images, or random images when MNIST is not
on disk) on both backends beside the book's, with the book's trained parameters
(ch08/deep_convnet_params.pkl of ../shared/book) or, without them, seeded random ones. Kind
"convnet"; speed-ups and ratios are over the book's implementation.

Run as a script, it times both nets' steps and the inference with each implementation in its
own process (see ``main``)."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # settings, when run as a script
import settings  # noqa: E402

from fastscratch.benchtools import convnet_cases as cases  # noqa: E402
from fastscratch.benchtools.results import tag  # noqa: E402
from fastscratch.dataset.mnist import DatasetError, load_mnist  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the transcription of the book's code
import book_convnet  # noqa: E402
import book_reference  # noqa: E402

INFERENCE_IMAGES = 200 if settings.QUICK else 10_000
BOOK_PARAMS = REPO.parent / "shared" / "book" / "deep-learning-from-scratch" / "ch08" / \
    "deep_convnet_params.pkl"


def _step_cases():
    """(dtype, impl) with PyTorch last, so that its thread pool cannot slow the others."""
    for impls in (("numba", "numpy", "book"), ("torch",)):
        for dtype in settings.DTYPES:
            for impl in impls:
                yield pytest.param(dtype, impl, id=f"{dtype}-{impl}")


@pytest.mark.parametrize("dtype,impl", list(_step_cases()))
def test_convnet_step(benchmark, dtype, impl):
    if impl == "torch":
        pytest.importorskip("torch")
        step = cases.torch_convnet_step(dtype, settings.THREADS)
    elif impl == "book":
        step = cases.book_convnet_step(book_convnet.SimpleConvNet, book_reference.Adam, dtype)
    else:
        step = cases.convnet_step(dtype, backend=impl)
    tag(benchmark, "convnet", "simpleconvnet-step/adam", dtype, impl, reference="book",
        batch=100)
    step()  # compile and warm up outside the timing
    benchmark(step)


@pytest.fixture(scope="module")
def test_images():
    """(x, t): the first INFERENCE_IMAGES MNIST test images, or random ones without MNIST."""
    shared = REPO.parent / "shared" / "data" / "mnist"
    data_dir = None if os.environ.get("FASTSCRATCH_DATA") or not shared.is_dir() else shared
    try:
        _, (x, t) = load_mnist(flatten=False, data_dir=data_dir, download=False,
                               progress=False)
        x, t = x[:INFERENCE_IMAGES].astype("float64"), t[:INFERENCE_IMAGES]
    except (DatasetError, OSError):
        x, t = cases.mnist_images(INFERENCE_IMAGES, "float64")
    if BOOK_PARAMS.is_file():
        from fastscratch.convnet import DeepConvNet
        net = DeepConvNet()
        net.load_params(BOOK_PARAMS)
        return x, t, net.params
    return x, t, cases.deepconvnet_params()


_BOOK_ACCURACY = {}  # the book's accuracy on the images (the same for both dtypes)


def _book_accuracy(run):
    if "value" not in _BOOK_ACCURACY:
        _BOOK_ACCURACY["value"] = run()
    return _BOOK_ACCURACY["value"]


@pytest.mark.parametrize("dtype,impl", [pytest.param(d, i, id=f"{d}-{i}")
                                        for d in settings.DTYPES
                                        for i in ("book", "numba", "numpy")])
def test_deepconvnet_inference(benchmark, test_images, dtype, impl):
    x, t, params = test_images
    book = cases.book_deepconvnet_accuracy(book_convnet.DeepConvNet, params, x, t)
    if impl == "book":
        run = book
    else:
        run = cases.deepconvnet_accuracy(params, x, t, dtype, impl)
        accuracy = run()  # compiles; the same accuracy as the book's code
        # float32 may flip an argmax whose two top scores are within rounding of each other
        assert abs(accuracy - _book_accuracy(book)) <= (0 if dtype == "float64" else 2 / len(x))
    tag(benchmark, "convnet", f"deepconvnet-inference/{len(x)}", dtype, impl,
        reference="book", images=len(x))
    # one round of the slow implementations: the book's takes minutes for 10 000 images
    accuracy = benchmark.pedantic(run, rounds=3 if impl == "numba" else 1)
    if impl == "book":
        _BOOK_ACCURACY.setdefault("value", accuracy)


# --- Per-process runs: `python bench/bench_convnet.py [--threads 1,2] [--rounds 3] [--out F]` ---
# Each implementation runs in its own process (another one's thread pool still spinning on the
# cores slows a neighbour 2-4x), the processes of one round interleaved, rounds repeated. The
# compute floor is each step's floating-point work over the peak of a 2048^2 np.dot measured
# in the same run (its own process per dtype and thread count).

# (C, FN, OH*OW, K) of each convolution: SimpleConvNet's 30 5x5 filters; DeepConvNet's six 3x3
CONVS = {"simpleconvnet": [(1, 30, 24 * 24, 25)],
         "deepconvnet": [(1, 16, 784, 9), (16, 16, 784, 144), (16, 32, 196, 144),
                         (32, 32, 256, 288), (32, 64, 64, 288), (64, 64, 64, 576)]}
AFFINES = {"simpleconvnet": [(4320, 100), (100, 10)], "deepconvnet": [(1024, 50), (50, 10)]}
STEP_IMPLS = [("numba", "float64"), ("numba", "float32"), ("book", "float64"),
              ("torch", "float64"), ("torch", "float32")]
INFER_IMPLS = [("numba", "float64"), ("numba", "float32"), ("book", "float64")]


def step_flops(net, batch=100):
    """Floating-point operations of one training step: forward, dW and dx of every layer but
    the first (2 per multiply-add; the elementwise work is left out)."""
    products = [fn * k * p for _, fn, p, k in CONVS[net]] + [a * b for a, b in AFFINES[net]]
    return 2 * batch * (3 * sum(products) - products[0])


def _torch_deepconvnet(torch):
    """The book's ch08 net in PyTorch (dropout 0.5 after the hidden and the output affine)."""
    nn, layers, c = torch.nn, [], 1
    for i, (fn, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
        layers += [nn.Conv2d(c, fn, 3, padding=pad), nn.ReLU()]
        layers += [nn.MaxPool2d(2, 2)] if i % 2 else []
        c = fn
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(50, 10), nn.Dropout(0.5))


def _step(net, impl, dtype, threads):
    """A callable: one training step (gradient + Adam, batch 100 of random images)."""
    x, t = cases.mnist_images(100, dtype)
    if impl == "torch":
        import torch
        torch.set_num_threads(threads)
        if net == "simpleconvnet":
            return cases.torch_convnet_step(dtype, threads)
        from fastscratch.benchtools.steps import torch_training_step
        torch.manual_seed(0)
        model = _torch_deepconvnet(torch).to(getattr(torch, dtype))
        opt = torch.optim.Adam(model.parameters(), lr=cases.LR, eps=1e-7, fused=True)
        return torch_training_step(model, opt, x, t)
    if impl == "book":
        np.random.seed(0)
        model = book_convnet.SimpleConvNet(**cases.CH07) if net == "simpleconvnet" \
            else book_convnet.DeepConvNet()
        opt = book_reference.Adam(lr=cases.LR)
    else:
        from fastscratch import Adam, DeepConvNet, SimpleConvNet
        model = SimpleConvNet(**cases.CH07, dtype=dtype, seed=0) if net == "simpleconvnet" \
            else DeepConvNet(dtype=dtype, seed=0)
        opt = Adam(lr=cases.LR)
    return lambda: opt.update(model.params, model.gradient(x, t))


def _inference(impl, dtype):
    """A callable: DeepConvNet accuracy over the 10 000 MNIST test images, the book's params."""
    from fastscratch.convnet import DeepConvNet
    _, (x, t) = load_mnist(flatten=False, download=False, progress=False)
    net = DeepConvNet(dtype=dtype)
    net.load_params(BOOK_PARAMS)
    if impl == "book":
        return cases.book_deepconvnet_accuracy(book_convnet.DeepConvNet, net.params,
                                               x.astype("float64"), t)
    return cases.deepconvnet_accuracy(net.params, x, t, dtype, impl)


def _worker(spec):
    """Run one measurement in this process and print its JSON: spec is
    'peak:DTYPE:THREADS', 'step:NET:IMPL:DTYPE:THREADS:STEPS' or 'infer:IMPL:DTYPE:THREADS'."""
    import json
    import time

    import fastscratch
    kind, *rest = spec.split(":")
    threads = int(rest[-2] if kind == "step" else rest[-1])
    fastscratch.set_num_threads(threads)  # Numba's pool and NumPy's BLAS
    result = {}
    if kind == "peak":
        a = np.random.default_rng(0).random((2048, 2048)).astype(rest[0])
        run, count = (lambda: np.dot(a, a)), 5
    elif kind == "step":
        run, count = _step(rest[0], rest[1], rest[2], threads), int(rest[-1])
    else:
        run, count = _inference(rest[0], rest[1]), 1
        result["accuracy"] = run()  # compiles and warms up: the book's takes minutes
    for _ in range(0 if kind == "infer" else 2):
        run()  # compile, warm the caches and the thread pool
    wall, cpu = [], []
    for _ in range(count):
        w, c = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    result.update(wall=float(np.median(wall)), cpu=float(np.median(cpu)))
    print(json.dumps(result))


def _run_worker(spec):
    import json
    import subprocess
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, __file__, "--worker", spec], env=env, cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode:
        if "No module named 'torch'" in proc.stderr:
            return None
        raise RuntimeError(f"{spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_all(threads, rounds, steps, inference, log=print):
    """{key: median seconds over rounds} of every case, plus peaks, floors and accuracies."""
    specs = [f"peak:{d}:{n}" for n in threads for d in settings.DTYPES]
    specs += [f"step:{net}:{impl}:{d}:{n}:{steps}" for n in threads for net in CONVS
              for impl, d in STEP_IMPLS]
    times = {s: [] for s in specs}
    cpu = {s: [] for s in specs}
    skipped = set()
    for r in range(rounds):
        for spec in specs:
            if spec in skipped:
                continue
            got = _run_worker(spec)
            if got is None:
                skipped.add(spec)
                continue
            times[spec].append(got["wall"])
            cpu[spec].append(got["cpu"])
            log(f"round {r + 1}/{rounds} {spec}: {got['wall'] * 1e3:.1f} ms")
    out = {"threads": threads, "rounds": rounds, "steps": steps, "cases": {}}
    for spec in specs:
        if times[spec]:
            out["cases"][spec] = {"wall": float(np.median(times[spec])),
                                  "cpu": float(np.median(cpu[spec]))}
    for n in threads:
        for d in settings.DTYPES:
            peak = out["cases"][f"peak:{d}:{n}"]
            peak["gflops"] = 2 * 2048 ** 3 / peak["wall"] / 1e9
            for net in CONVS:
                out["cases"][f"floor:{net}:{d}:{n}"] = {
                    "wall": step_flops(net) / (peak["gflops"] * 1e9), "flops": step_flops(net)}
    if inference:
        for impl, d in INFER_IMPLS:
            spec = f"infer:{impl}:{d}:{max(threads)}"
            out["cases"][spec] = got = _run_worker(spec)
            log(f"{spec}: {got['wall']:.2f} s, accuracy {got['accuracy']}")
    return out


def ratios(out):
    """{ratio key: value}: each fastscratch step over PyTorch's of its dtype and over its
    floor, DeepConvNet inference over the book's (wall-clock medians)."""
    cases_, result = out["cases"], {}
    for n in out["threads"]:
        for net in CONVS:
            for d in settings.DTYPES:
                ours = cases_.get(f"step:{net}:numba:{d}:{n}:{out['steps']}")
                torch_ = cases_.get(f"step:{net}:torch:{d}:{n}:{out['steps']}")
                floor = cases_[f"floor:{net}:{d}:{n}"]
                if ours and torch_:
                    result[f"process:{net}-step:numba-{d}/torch:t{n}"] = \
                        ours["wall"] / torch_["wall"]
                if ours:
                    result[f"process:{net}-step:numba-{d}/floor:t{n}"] = \
                        ours["wall"] / floor["wall"]
    book = cases_.get(f"infer:book:float64:{max(out['threads'])}")
    for d in settings.DTYPES:
        ours = cases_.get(f"infer:numba:{d}:{max(out['threads'])}")
        if ours and book:
            result[f"process:deepconvnet-inference:numba-{d}/book"] = ours["wall"] / book["wall"]
    return result


def test_step_flops_are_the_issues():
    """The floors' operation counts: 433 and 5 241 MFLOP per step (issue 16)."""
    assert round(step_flops("simpleconvnet") / 1e6) == 433
    assert round(step_flops("deepconvnet") / 1e6) == 5241


def test_per_process_workers_run():
    """A peak and a step measured in their own processes; ratios over the floor from them."""
    out = {"threads": [1], "steps": 1, "cases": {}}
    for d in settings.DTYPES:
        peak = _run_worker(f"peak:{d}:1")
        step = _run_worker(f"step:simpleconvnet:numba:{d}:1:1")
        assert peak["wall"] > 0 and step["wall"] > 0
        out["cases"][f"step:simpleconvnet:numba:{d}:1:1"] = step
        out["cases"][f"floor:simpleconvnet:{d}:1"] = {"wall": peak["wall"] / 2}
        out["cases"][f"floor:deepconvnet:{d}:1"] = {"wall": 1.0}
    got = ratios(out)
    assert got["process:simpleconvnet-step:numba-float32/floor:t1"] == pytest.approx(
        out["cases"]["step:simpleconvnet:numba:float32:1:1"]["wall"]
        / out["cases"]["floor:simpleconvnet:float32:1"]["wall"])


def main(argv=None):
    """Run every case in its own process, print the table and ratios, check the ceilings
    (bench/ratios.json, keys 'process:*'); exit status 1 if any ratio is above its ceiling."""
    import argparse
    import json

    from fastscratch.benchtools.check import above_ceilings
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per process")
    p.add_argument("--no-inference", action="store_true", help="leave out the inference")
    p.add_argument("--out", help="write the results here (JSON)")
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    threads = [int(n) for n in args.threads.split(",")]
    out = run_all(threads, args.rounds, args.steps, not args.no_inference)
    out["ratios"] = ratios(out)
    above = above_ceilings(out["ratios"], REPO / "bench" / "ratios.json", sys.stdout)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"{len(above)} above ceiling" + (": " + ", ".join(above) if above else ""))
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main())
