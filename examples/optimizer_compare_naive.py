"""Book section 6.1.7: the paths of SGD, Momentum, AdaGrad and Adam on f(x, y) = x^2/20 + y^2
from (-7, 2), 30 updates each, over the contour lines of f (optimizer_compare_naive.png).

--quick changes nothing here (the experiment takes milliseconds); the optimizers run on the
chosen --backend.
"""
from collections import OrderedDict

import numpy as np

import _common
from fastscratch import SGD, AdaGrad, Adam, Momentum
from fastscratch.plotting import new_figure

INIT_POS = (-7.0, 2.0)
STEPS = 30


def f(x, y):
    return x ** 2 / 20.0 + y ** 2


def df(x, y):
    return x / 10.0, 2.0 * y


def path(optimizer):
    """The (STEPS, 2) positions visited by ``optimizer`` from INIT_POS (before each update)."""
    params = {"x": np.array([INIT_POS[0]]), "y": np.array([INIT_POS[1]])}
    visited = []
    for _ in range(STEPS):
        visited.append((params["x"][0], params["y"][0]))
        gx, gy = df(params["x"], params["y"])
        optimizer.update(params, {"x": gx, "y": gy})
    return np.array(visited)


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0])
    optimizers = OrderedDict(SGD=SGD(lr=0.95), Momentum=Momentum(lr=0.1),
                             AdaGrad=AdaGrad(lr=1.5), Adam=Adam(lr=0.3))
    X, Y = np.meshgrid(np.arange(-10, 10, 0.01), np.arange(-5, 5, 0.01))
    Z = f(X, Y)
    Z[Z > 7] = 0  # the book's trick for a simpler contour plot
    fig, axes = new_figure(2, 2, size=(9, 7))
    for ax, (key, optimizer) in zip(axes.reshape(-1), optimizers.items()):
        visited = path(optimizer)
        x, y = visited[-1]
        print(f"{key:>8}: after {STEPS} updates at ({x:+.4f}, {y:+.4f}), f = {f(x, y):.6f}, "
              f"largest |y| step {np.abs(np.diff(visited[:, 1])).max():.3f}")
        ax.plot(visited[:, 0], visited[:, 1], "o-", color="red", ms=3)
        ax.contour(X, Y, Z)
        ax.plot(0, 0, "+")
        ax.set(xlim=(-10, 10), ylim=(-10, 10), xlabel="x", ylabel="y", title=key)
    _common.save(fig, args, "optimizer_compare_naive.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
