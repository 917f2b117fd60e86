"""Optimizers: the book's numbers (arrays and scalars), kernels equal the NumPy reference over
100 steps, state per key and through state_dict, aliasing."""
import inspect

import numpy as np
import pytest

import book_reference as book
import fastscratch
from fastscratch import SGD, AdaGrad, Adam, Momentum, MultiLayerNet, Nesterov, RMSprop
from fastscratch.optimizer import OPTIMIZERS as REGISTRY, Hyper

from optimizer_cases import CASES, IDS

BOOK_CASES = [(cls, kwargs) for cls, kwargs in CASES if hasattr(book, cls.__name__)]


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
@pytest.mark.parametrize("cls,kwargs", CASES, ids=IDS)
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


@pytest.mark.parametrize("cls,kwargs", BOOK_CASES, ids=[c.__name__ for c, _ in BOOK_CASES])
def test_every_optimizer_equals_the_books(cls, kwargs, backend_name):
    """100 steps on arrays against book_reference's transcription of common/optimizer.py
    (Nesterov in its current, params-first form); the kernels' loop does the book's operations
    in the book's order, so float64 agrees to rounding."""
    rng = np.random.default_rng(1)
    ours = _params(rng, np.float64)
    theirs = {k: v.copy() for k, v in ours.items()}
    a, b = cls(**kwargs), getattr(book, cls.__name__)(**kwargs)
    for _ in range(100):
        grads = {k: rng.standard_normal(v.shape) for k, v in ours.items()}
        a.update(ours, grads)
        b.update(theirs, grads)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14, err_msg=key)
    for name in cls.state_names:
        for key in ours:
            np.testing.assert_allclose(getattr(a, name)[key], getattr(b, name)[key],
                                       rtol=1e-12, atol=1e-14)
    if cls is Adam:
        assert a.iter == b.iter == 100


def test_nesterov_moves_params_with_the_old_velocity():
    """One step by hand: p += m*m*v; p -= (1 + m)*lr*g with the old v, then v = m*v - lr*g."""
    opt = Nesterov(lr=0.1, momentum=0.5)
    p = {"w": np.array([1.0, 2.0])}
    opt.update(p, {"w": np.array([1.0, 0.0])})      # v was 0: p = 1 - 1.5 * 0.1, v = -0.1
    np.testing.assert_allclose(p["w"], [0.85, 2.0], rtol=1e-15)
    np.testing.assert_allclose(opt.v["w"], [-0.1, 0.0], rtol=1e-15)
    opt.update(p, {"w": np.array([0.0, 0.0])})      # p += 0.25 * (-0.1); v = -0.05
    np.testing.assert_allclose(p["w"], [0.825, 2.0], rtol=1e-15)
    np.testing.assert_allclose(opt.v["w"], [-0.05, 0.0], rtol=1e-15)


NAIVE = [(SGD, {"lr": 0.95}), (Momentum, {"lr": 0.1}), (AdaGrad, {"lr": 1.5}),
         (Adam, {"lr": 0.3}), (Nesterov, {"lr": 0.1}), (RMSprop, {"lr": 0.3})]


@pytest.mark.parametrize("cls,kwargs", NAIVE, ids=[c.__name__ for c, _ in NAIVE])
def test_python_float_params_give_the_books_numbers(cls, kwargs, backend_name):
    """ch06/optimizer_compare_naive.py (its four optimizers, plus Nesterov and RMSprop): params
    and grads are Python floats; the 30 points visited equal the book's exactly, both being the
    same float64 operations in the same order."""
    ours = book.naive_history(cls(**kwargs))
    theirs = book.naive_history(getattr(book, cls.__name__)(**kwargs))
    assert ours == theirs
    assert ours[-1] != ours[0]


def test_scalar_entries_are_replaced_and_zero_d_arrays_updated_in_place(backend_name):
    zero_d = np.array(3.0)
    params = {"n": 2, "f": np.float32(1.5), "a": zero_d}
    Momentum(lr=0.5, momentum=0.5).update(params, {"n": 1, "f": 1.0, "a": np.array(2.0)})
    assert params["n"] == 1.5 and type(params["n"]) is np.float64
    assert params["f"] == 1.0 and type(params["f"]) is np.float64
    assert params["a"] is zero_d and zero_d == 2.0


@pytest.mark.parametrize("bad_grad,error", [("1.0", TypeError), (np.ones(2), TypeError),
                                            (True, TypeError)])
def test_a_scalar_param_needs_a_number_grad(bad_grad, error):
    params = {"w": np.ones(3), "x": 1.0}
    with pytest.raises(error, match=r"grads\['x'\] must be a real number like params\['x'\]"):
        SGD().update(params, {"w": np.ones(3), "x": bad_grad})
    assert params["x"] == 1.0 and (params["w"] == 1).all()


def test_one_registry_for_trainer_cli_and_hpo():
    from fastscratch import trainer
    from fastscratch.hpo import space
    assert trainer.OPTIMIZERS is REGISTRY and space.OPTIMIZERS is REGISTRY
    assert REGISTRY == {cls.__name__.lower(): cls for cls, _ in CASES}


@pytest.mark.parametrize("cls", list(REGISTRY.values()), ids=list(REGISTRY))
def test_constructor_is_the_books_and_checks_each_hyperparameter(cls):
    """The constructor has the book's parameters and defaults (for the book's optimizers); each
    is a checked attribute that hyperparameters() reports."""
    sig = inspect.signature(cls)
    if hasattr(book, cls.__name__):
        assert sig == inspect.signature(getattr(book, cls.__name__))
    assert cls().hyperparameters() == {n: p.default for n, p in sig.parameters.items()}
    for name in sig.parameters:
        assert isinstance(getattr(cls, name), Hyper), name
        with pytest.raises(ValueError, match=rf"{name} must be a (finite )?number"):
            cls(**{name: -1.0})
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'x'"):
        cls(x=1)


@pytest.mark.parametrize("cls,kwargs", CASES, ids=IDS)
def test_load_state_dict_continues_the_same_steps(cls, kwargs, backend_name):
    rng = np.random.default_rng(4)
    params = _params(rng, np.float64)
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(6)]
    opt = cls(**kwargs)
    for g in grads[:3]:
        opt.update(params, g)
    state = opt.state_dict()
    saved = {k: v.copy() for k, v in params.items()}
    copy = {name: {k: v.copy() for k, v in table.items()} for name, table in
            state["state"].items()}
    for g in grads[3:]:
        opt.update(params, g)
    fresh = cls(lr=0.5)
    fresh.load_state_dict({**state, "state": copy})
    assert fresh.hyperparameters() == opt.hyperparameters()
    for g in grads[3:]:
        fresh.update(saved, g)
    for k in params:
        np.testing.assert_array_equal(saved[k], params[k], err_msg=k)


def test_a_state_dict_that_does_not_fit_is_refused_and_changes_nothing():
    opt = Adam(lr=0.01)
    opt.update({"w": np.ones(3)}, {"w": np.ones(3)})
    m = opt.m["w"].copy()
    good = Adam(lr=0.2).state_dict()
    bad = [({**good, "hyperparameters": {"lr": 0.1, "beta1": 1.5, "beta2": 0.9}},
            r"beta1 must be a number in \[0, 1\)"),
           ({**good, "hyperparameters": {"lr": 0.1}}, r"hyper-parameters are \('lr', 'beta1', "),
           ({**good, "state": {"v": None}}, r"state tables are \('m', 'v'\)"),
           ({**good, "iter": -1}, r"needs 'iter' as an int >= 0"),
           ({**good, "state": {"m": {"w": [1.0]}, "v": None}}, r"state m\['w'\] must be a float"),
           ([1], r"must be a dict")]
    for state, message in bad:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(state)
    with pytest.raises(ValueError, match=r"state m\['w'\] is float64 \(3,\), but params\['w'\] "
                                         r"is float64 \(4,\)"):
        opt.check_state_dict(opt.state_dict(), {"w": np.ones(4)})
    assert opt.lr == 0.01 and opt.iter == 1
    np.testing.assert_array_equal(opt.m["w"], m)


@pytest.mark.parametrize("cls,kwargs", CASES, ids=IDS)
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
    for cls, kwargs in CASES:
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
