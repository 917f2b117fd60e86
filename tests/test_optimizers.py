"""Optimizers: kernels equal the NumPy reference over 100 steps, state per key, aliasing."""
import numpy as np
import pytest

import fastscratch
from fastscratch import SGD, AdaGrad, Adam, Momentum, MultiLayerNet, Nesterov, RMSprop

from book_reference import Adam as BookAdam

OPTIMIZERS = [(SGD, {"lr": 0.1}), (Momentum, {"lr": 0.05, "momentum": 0.8}),
              (Nesterov, {"lr": 0.05}), (AdaGrad, {"lr": 0.1}),
              (RMSprop, {"lr": 0.01, "decay_rate": 0.9}), (Adam, {"lr": 0.01})]


def _params(rng, dtype):
    return {"W1": rng.standard_normal((50, 30)).astype(dtype),
            "b1": rng.standard_normal(30).astype(dtype),
            "W2": rng.standard_normal((400, 700)).astype(dtype)}  # above the parallel threshold


def _run(cls, kwargs, backend, dtype, steps=100):
    rng = np.random.default_rng(0)
    params = _params(rng, dtype)
    opt = cls(**kwargs)
    with fastscratch.use_backend(backend):
        for _ in range(steps):
            grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
            opt.update(params, grads)
    return params, opt


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-4)])
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=[c.__name__ for c, _ in OPTIMIZERS])
def test_kernel_updates_equal_reference_over_100_steps(cls, kwargs, dtype, rtol):
    """float32: a few ulp per step over 100 steps stays well within 1e-4 relative."""
    got, opt_k = _run(cls, kwargs, "numba", dtype)
    want, opt_r = _run(cls, kwargs, "numpy", dtype)
    for key in want:
        assert got[key].dtype == dtype
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=rtol, err_msg=key)
    for name in cls.state_names:
        for key, state in getattr(opt_r, name).items():
            np.testing.assert_allclose(getattr(opt_k, name)[key], state, rtol=rtol, atol=rtol)


def test_adam_equals_the_books_adam():
    rng = np.random.default_rng(1)
    ours, book = _params(rng, np.float64), None
    book = {k: v.copy() for k, v in ours.items()}
    a, b = Adam(lr=0.01), BookAdam(lr=0.01)
    for _ in range(100):
        grads = {k: rng.standard_normal(v.shape) for k, v in ours.items()}
        a.update(ours, grads)
        b.update(book, grads)
    assert a.iter == b.iter == 100
    for key in ours:
        np.testing.assert_allclose(ours[key], book[key], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=[c.__name__ for c, _ in OPTIMIZERS])
def test_state_is_kept_per_key(cls, kwargs, backend_name):
    """Updating keys together equals updating each key with its own optimizer."""
    rng = np.random.default_rng(2)
    params = _params(rng, np.float64)
    alone = {k: v.copy() for k, v in params.items()}
    together, separate = cls(**kwargs), {k: cls(**kwargs) for k in params}
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        together.update(params, grads)
        for k in params:
            separate[k].update({k: alone[k]}, {k: grads[k]})
    for k in params:
        np.testing.assert_allclose(params[k], alone[k], rtol=1e-13)
    for name in cls.state_names:
        assert set(getattr(together, name)) == set(params)


def test_updates_are_in_place_and_layers_see_them(backend_name):
    net = MultiLayerNet(20, [10], 3, seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    ids = {k: id(v) for k, v in net.params.items()}
    x, t = np.random.default_rng(0).standard_normal((8, 20)), np.arange(8) % 3
    Adam(lr=0.1).update(net.params, net.gradient(x, t))
    assert {k: id(v) for k, v in net.params.items()} == ids
    assert net.layers["Affine1"].W is net.params["W1"]
    assert net.layers["Affine2"].b is net.params["b2"]
    assert not np.allclose(net.params["W1"], before["W1"])


def test_non_contiguous_parameters_are_updated_in_place():
    base = np.ones((6, 8))
    params = {"W": base[:, ::2]}  # a strided view: updated through the NumPy twin
    grads = {"W": np.full((6, 4), 2.0)}
    for cls, kwargs in OPTIMIZERS:
        cls(**kwargs).update(params, grads)
    assert (base[:, 1::2] == 1).all()
    assert (base[:, ::2] != 1).all()


def test_a_rejected_update_changes_nothing():
    rng = np.random.default_rng(3)
    params = _params(rng, np.float64)
    before = {k: v.copy() for k, v in params.items()}
    grads = {k: np.ones_like(v) for k, v in params.items()}
    grads["W2"] = np.ones((3, 3))  # wrong shape, and the last key
    opt = Adam()
    with pytest.raises(ValueError, match=r"grads\['W2'\] has shape \(3, 3\)"):
        opt.update(params, grads)
    assert opt.iter == 0 and opt.m is None
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_replaced_state_arrays_are_used(backend_name):
    """State set from outside (e.g. a loaded checkpoint) is what the next update reads."""
    p = {"w": np.zeros(4)}
    opt = Momentum(lr=1.0, momentum=0.5)
    opt.update(p, {"w": np.ones(4)})          # v = -1, w = -1
    opt.v["w"] = np.full(4, 10.0)             # replace the state array
    opt.update(p, {"w": np.zeros(4)})         # v = 5, w = 4
    np.testing.assert_array_equal(p["w"], 4.0)
    np.testing.assert_array_equal(opt.v["w"], 5.0)
