"""Book section 6.2.2-6.2.3: histograms of the activations of 5 layers of 100 units fed
1000 x 100 standard-normal inputs, with weights of std 1, 0.01, Xavier sqrt(1/n) and
He sqrt(2/n), for sigmoid, tanh and ReLU (one PNG per activation: rows = initial scales,
columns = layers).

Plain NumPy matrix products, so --backend changes nothing; --quick: 100 input rows.
"""
from collections import OrderedDict

import numpy as np

import _common
from fastscratch.functions import relu, sigmoid
from fastscratch.plotting import new_figure

NODES, LAYERS = 100, 5
SCALES = OrderedDict([("std 1", 1.0), ("std 0.01", 0.01), ("Xavier", np.sqrt(1.0 / NODES)),
                      ("He", np.sqrt(2.0 / NODES))])
# activation -> (function, histogram range, what counts as saturated or dead); ReLU's zeros
# (about half of its outputs) are left out of its histograms so that the rest shows.
ACTIVATIONS = OrderedDict([
    ("sigmoid", (sigmoid, (0, 1), lambda z: (z < 0.01) | (z > 0.99))),
    ("tanh", (np.tanh, (-1, 1), lambda z: np.abs(z) > 0.99)),
    ("relu", (relu, (1e-300, 1), lambda z: z == 0)),
])


def activations(x, scale, function):
    """The outputs of the LAYERS layers (each (rows, NODES)) with N(0, scale^2) weights."""
    outputs = []
    for _ in range(LAYERS):
        w = np.random.randn(NODES, NODES) * scale
        x = function(x @ w)
        outputs.append(x)
    return outputs


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0])
    x = np.random.randn(100 if args.quick else 1000, NODES)
    for name, (function, value_range, saturated) in ACTIVATIONS.items():
        fig, axes = new_figure(len(SCALES), LAYERS, size=(13, 9))
        print(f"=== {name}: per layer, std of the activations | fraction saturated or zero")
        for row, (label, scale) in enumerate(SCALES.items()):
            outputs = activations(x, scale, function)
            print(f"{label:>9}: " + "  ".join(f"{z.std():.4f}|{saturated(z).mean():.2f}"
                                              for z in outputs))
            for col, z in enumerate(outputs):
                ax = axes[row, col]
                counts, edges = np.histogram(z, 30, range=value_range)
                ax.stairs(counts, edges, fill=True)
                ax.set_title(f"{label}, {name}, layer {col + 1}", fontsize=9)
                if col:
                    ax.set_yticks([])
        _common.save(fig, args, f"activation_histogram_{name}.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
