"""What runs as one kernel in a net's walk: the one place that looks at consecutive layers and
decides which fuse (Affine, BatchNormalization or Convolution with the activation after it,
Convolution also with the Pooling after that).

``plan(layers)`` turns a net's ``layers`` into ``Step``s. A layer whose class declares
``fuses`` (``layers.Layer``) takes the layers after it that match those kinds, in order, into
its fast path. A layer whose fast path is not its own (see ``has_fast_path``: a user's layer
with only forward/backward, a subclass overriding them, a layer of the book's own code) is
walked through its public forward/backward and fuses nothing.
"""


def _definer(cls, name):
    """The position in cls's MRO of the class that defines ``name`` (None: no class does)."""
    return next((i for i, c in enumerate(cls.__mro__) if name in vars(c)), None)


def has_fast_path(layer):
    """Whether the walk may call ``layer``'s unchecked pair instead of its forward/backward:
    its class defines forward_unchecked/backward_unchecked no higher in its hierarchy than
    forward/backward (a subclass that overrides forward or backward alone is walked through
    them)."""
    cls = type(layer)
    for public, unchecked in (("forward", "forward_unchecked"),
                              ("backward", "backward_unchecked")):
        fast, face = _definer(cls, unchecked), _definer(cls, public)
        if fast is None or (face is not None and face < fast):
            return False
    return True


class Step:
    """One step of the walk: ``layer`` with the layers ``fused`` into its kernel, called
    through its fast path, or (``fast`` False) through its public pair; such a layer gets
    ``train_flg`` where the book passes it (``takes_flag``: keys naming Dropout or
    BatchNorm)."""

    __slots__ = ("layer", "fused", "fast", "takes_flag")

    def __init__(self, layer, fused, fast, takes_flag):
        self.layer, self.fused, self.fast, self.takes_flag = layer, fused, fast, takes_flag

    def forward(self, x, train_flg):
        """The layer's output for a checked x (the last fused layer's output)."""
        if self.fast:
            return self.layer.forward_unchecked(x, train_flg, *self.fused)
        return self.layer.forward(x, train_flg) if self.takes_flag else self.layer.forward(x)

    def backward(self, dout, need_dx):
        """dx of the step's input (None allowed when not need_dx); sets the layers' grads."""
        if self.fast:
            return self.layer.backward_unchecked(dout, *self.fused, need_dx=need_dx)
        return self.layer.backward(dout)


def named(layers):
    """(key, layer) pairs of a net's ``layers``: a dict's items, or a list's layers keyed by
    class name and position (the book's DeepConvNet keeps a list)."""
    if hasattr(layers, "items"):
        return list(layers.items())
    return [(f"{type(layer).__name__}{i}", layer) for i, layer in enumerate(layers)]


def plan(layers):
    """[Step] for a net's ``layers`` (an ordered dict, or a list)."""
    items = named(layers)
    steps, i = [], 0
    while i < len(items):
        key, layer = items[i]
        fast = has_fast_path(layer)
        fused = []
        for kind in getattr(layer, "fuses", ()) if fast else ():
            j = i + 1 + len(fused)
            if j == len(items) or not isinstance(items[j][1], kind) \
                    or not has_fast_path(items[j][1]):
                break
            fused.append(items[j][1])
        steps.append(Step(layer, tuple(fused), fast, "Dropout" in key or "BatchNorm" in key))
        i += 1 + len(fused)
    return steps
