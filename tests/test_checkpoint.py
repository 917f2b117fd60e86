"""Checkpoints: resuming equals not stopping, loads are in place, writes are atomic, and a
checkpoint that does not fit (architecture, dtype, optimizer, format version) is refused with
every difference named and nothing changed."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastscratch import Adam, Momentum, MultiLayerNet, MultiLayerNetExtend, checkpoint
from fastscratch.checkpoint import load_checkpoint, save_checkpoint
from optimizer_cases import CASES, IDS

REPO = Path(__file__).resolve().parents[1]

DATA = np.random.default_rng(0)
X_TRAIN = DATA.random((200, 12))
T_TRAIN = DATA.integers(0, 4, 200)


def _net(seed=None, **kw):
    kw = {"use_batchnorm": True, "use_dropout": True, "dropout_ration": 0.2, **kw}
    return MultiLayerNetExtend(12, [10, 8], 4, weight_decay_lambda=0.01, seed=seed, **kw)


def _steps(net, opt, n):
    """n training steps on batches drawn from NumPy's global RNG (as the book's Trainer)."""
    losses = []
    for _ in range(n):
        mask = np.random.choice(len(X_TRAIN), 16)
        x, t = X_TRAIN[mask], T_TRAIN[mask]
        opt.update(net.params, net.gradient(x, t))
        losses.append(net.loss(x, t, train_flg=True) if hasattr(net, "use_batchnorm")
                      else net.loss(x, t))
    return losses


@pytest.mark.parametrize("own_rng", [True, False], ids=["seeded-net", "global-rng-net"])
@pytest.mark.parametrize("cls,kwargs", CASES, ids=IDS)
def test_resuming_from_a_checkpoint_equals_not_stopping(cls, kwargs, own_rng, tmp_path,
                                                        backend_name):
    """float64, batch norm + dropout + weight decay: the identical loss sequence."""
    path = tmp_path / "ck.npz"
    np.random.seed(1)
    net, opt = _net(seed=5 if own_rng else None), cls(**kwargs)
    _steps(net, opt, 4)
    save_checkpoint(path, net, opt, extra={"step": 4})
    want = _steps(net, opt, 6)

    np.random.seed(999)  # a different global state, weights, masks and hyper-parameters
    other, fresh = _net(seed=6 if own_rng else None), cls(lr=0.5)
    _steps(other, fresh, 1)  # and optimizer state that must be overwritten
    assert load_checkpoint(path, other, fresh) == {"step": 4}
    assert fresh.hyperparameters() == opt.hyperparameters()
    got = _steps(other, fresh, 6)
    assert got == want
    for key in net.params:
        np.testing.assert_array_equal(other.params[key], net.params[key], err_msg=key)


def test_loading_writes_in_place_so_every_alias_stays_valid(tmp_path):
    path = tmp_path / "ck.npz"
    net, opt = _net(seed=1), Adam()
    _steps(net, opt, 2)
    save_checkpoint(path, net, opt)
    other, other_opt = _net(seed=2), Adam()
    _steps(other, other_opt, 1)
    ids = {k: id(v) for k, v in other.params.items()}
    bn = other.layers["BatchNorm1"]
    stats, state = (id(bn.running_mean), id(bn.running_var)), id(other_opt.m["W1"])
    load_checkpoint(path, other, other_opt)
    assert {k: id(v) for k, v in other.params.items()} == ids
    assert other.layers["Affine1"].W is other.params["W1"]
    assert bn.gamma is other.params["gamma1"]
    assert (id(bn.running_mean), id(bn.running_var)) == stats
    assert id(other_opt.m["W1"]) == state
    np.testing.assert_array_equal(bn.running_var, net.layers["BatchNorm1"].running_var)
    assert other_opt.iter == opt.iter == 2


def test_a_fresh_optimizer_gets_the_state_and_a_stateless_one_is_reset(tmp_path):
    net = _net(seed=1)
    used = Momentum()
    _steps(net, used, 2)
    save_checkpoint(tmp_path / "used.npz", net, used)
    save_checkpoint(tmp_path / "new.npz", net, Momentum())  # never stepped: v is None
    fresh = Momentum()
    load_checkpoint(tmp_path / "used.npz", net, fresh)
    for key in used.v:
        np.testing.assert_array_equal(fresh.v[key], used.v[key])
    load_checkpoint(tmp_path / "new.npz", net, fresh)
    assert fresh.v is None
    _steps(net, fresh, 1)  # and it still steps
    assert set(fresh.v) == set(net.params)


def test_extra_round_trips_json_values_and_arrays(tmp_path):
    extra = {"epoch": 3, "history": [{"loss": 0.5, "acc": float("nan")}], "name": "run",
             "order": np.arange(10), "nested": {"w": np.ones((2, 2), np.float32)},
             "scalar": np.float64(0.25), "none": None}
    net = MultiLayerNet(3, [2], 2, seed=0)
    save_checkpoint(tmp_path / "ck.npz", net, extra=extra)
    got = load_checkpoint(tmp_path / "ck.npz", net)
    assert got["epoch"] == 3 and got["name"] == "run" and got["none"] is None
    assert np.isnan(got["history"][0]["acc"]) and got["scalar"] == 0.25
    np.testing.assert_array_equal(got["order"], np.arange(10))
    assert got["nested"]["w"].dtype == np.float32
    with pytest.raises(TypeError, match="extra must hold JSON values"):
        save_checkpoint(tmp_path / "bad.npz", net, extra={"f": object()})
    with pytest.raises(TypeError, match="optimizer must be a fastscratch optimizer"):
        save_checkpoint(tmp_path / "bad.npz", net, optimizer=object())
    assert not (tmp_path / "bad.npz").exists()


# ---------------------------------------------------------------- atomic writes

def _params_of(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files if k.startswith("param/")}


@pytest.mark.parametrize("where", ["replace", "write"])
def test_a_crash_while_saving_leaves_the_previous_checkpoint_whole(where, tmp_path,
                                                                   monkeypatch):
    path = tmp_path / "ck.npz"
    net, opt = _net(seed=1), Adam()
    save_checkpoint(path, net, opt, extra={"v": 1})
    before = _params_of(path)
    _steps(net, opt, 3)
    if where == "replace":
        def crash(*args):
            raise OSError("power cut")
        monkeypatch.setattr(os, "replace", crash)
    else:  # the writer dies half way through the file
        real = np.savez

        def crash(f, **arrays):
            real(f, **dict(list(arrays.items())[:3]))
            raise OSError("disk full")
        monkeypatch.setattr(checkpoint.np, "savez", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, net, opt, extra={"v": 2})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary file left behind
    for key, value in _params_of(path).items():
        np.testing.assert_array_equal(value, before[key])
    assert load_checkpoint(path, _net(seed=2), Adam()) == {"v": 1}


KILLED_WRITER = """
import sys, numpy as np
from fastscratch import MultiLayerNet
from fastscratch.checkpoint import save_checkpoint
net = MultiLayerNet(784, [1000], 10, seed=0)
step = 0
while True:
    step += 1
    net.params["b2"][:] = step
    save_checkpoint(sys.argv[1], net, extra={"step": step})
    if step == 1:
        print("saved", flush=True)
"""


def test_sigkill_while_saving_leaves_a_loadable_checkpoint(tmp_path):
    """A process saving a 6 MB checkpoint in a loop is killed at random moments: the file is
    always a whole checkpoint of some step."""
    path = tmp_path / "ck.npz"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for delay in np.random.default_rng().uniform(0.05, 0.4, 3):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "saved"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        net = MultiLayerNet(784, [1000], 10, seed=1)
        step = load_checkpoint(path, net)["step"]
        np.testing.assert_array_equal(net.params["b2"], step)
        np.testing.assert_array_equal(net.params["W1"],
                                      MultiLayerNet(784, [1000], 10, seed=0).params["W1"])


# ---------------------------------------------------------------- refusals

def _snapshot(net, opt):
    state = {k: v.copy() for k, v in net.params.items()}
    state.update({f"m/{k}": v.copy() for k, v in (opt.m or {}).items()})
    state["iter"] = opt.iter
    return state


MISFITS = [
    ("hidden sizes", lambda: _misfit(hidden=[10, 9]), r"hidden_size_list: checkpoint \[10, 8\], "
                                                   r"network \[10, 9\]"),
    ("activation", lambda: _misfit(activation="sigmoid"), r"activation: checkpoint 'relu', network "
                                                       r"'sigmoid'"),
    ("batch norm", lambda: _misfit(use_batchnorm=False), r"use_batchnorm: checkpoint True, network "
                                                      r"False"),
    ("dropout", lambda: _misfit(use_dropout=False), r"use_dropout: checkpoint True, network False"),
    ("dropout ratio", lambda: _misfit(dropout_ration=0.3), r"dropout_ration: checkpoint 0.2, "
                                                        r"network 0.3"),
    ("dtype", lambda: _misfit(dtype="float32"), r"dtype: checkpoint 'float64', network 'float32'"),
    ("class", lambda: MultiLayerNet(12, [10, 8], 4, weight_decay_lambda=0.01, seed=2),
     r"class: checkpoint 'MultiLayerNetExtend', network 'MultiLayerNet'"),
    ("generator", lambda: _misfit(seed=None), r"generators.network: checkpoint 'PCG64', network "
                                           r"'absent'"),
]


def _misfit(hidden=(10, 8), **kw):
    kw = {"use_batchnorm": True, "use_dropout": True, "dropout_ration": 0.2, "seed": 2, **kw}
    return MultiLayerNetExtend(12, list(hidden), 4, weight_decay_lambda=0.01, **kw)


@pytest.mark.parametrize("make,message", [m[1:] for m in MISFITS], ids=[m[0] for m in MISFITS])
def test_a_checkpoint_of_another_architecture_is_refused_naming_the_difference(
        make, message, tmp_path):
    path = tmp_path / "ck.npz"
    net, opt = _misfit(seed=1), Adam()
    _steps(net, opt, 1)
    save_checkpoint(path, net, opt)
    other, other_opt = make(), Adam()
    _steps(other, other_opt, 1)
    before = _snapshot(other, other_opt)
    state = np.random.get_state()
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, other, other_opt)
    after = _snapshot(other, other_opt)
    assert after.keys() == before.keys() and after["iter"] == before["iter"]
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    np.testing.assert_array_equal(np.random.get_state()[1], state[1])


def test_a_checkpoint_of_another_optimizer_is_refused(tmp_path):
    net = _net(seed=1)
    save_checkpoint(tmp_path / "adam.npz", net, Adam())
    save_checkpoint(tmp_path / "none.npz", net)
    with pytest.raises(ValueError, match=r"holds a Adam optimizer, got Momentum"):
        load_checkpoint(tmp_path / "adam.npz", net, Momentum())
    with pytest.raises(ValueError, match=r"holds no optimizer; load it with optimizer=None"):
        load_checkpoint(tmp_path / "none.npz", net, Adam())
    assert load_checkpoint(tmp_path / "adam.npz", net) is None  # the optimizer part is skipped


def _rewrite_meta(src, dst, change):
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(dst, **arrays)


@pytest.mark.parametrize("version,message", [
    (2, r"has checkpoint format version 2; this fastscratch \(.*\) reads version 1 only; "
        r"upgrade fastscratch to load it"),
    (0, r"has checkpoint format version 0; .* reads version 1 only; there is no migration"),
    ("1", r"has checkpoint format version '1'"),
    (None, r"has checkpoint format version None")])
def test_another_format_version_is_refused(version, message, tmp_path):
    net = MultiLayerNet(3, [2], 2, seed=0)
    save_checkpoint(tmp_path / "ck.npz", net)
    _rewrite_meta(tmp_path / "ck.npz", tmp_path / "v.npz", lambda m: m.update(version=version))
    with pytest.raises(ValueError, match=message):
        load_checkpoint(tmp_path / "v.npz", net)


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    net = MultiLayerNet(3, [2], 2, seed=0)
    np.savez(tmp_path / "plain.npz", W1=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"is not a fastscratch checkpoint: it has no 'meta'"):
        load_checkpoint(tmp_path / "plain.npz", net)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"is not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.npz", net)
    save_checkpoint(tmp_path / "ck.npz", net)
    _rewrite_meta(tmp_path / "ck.npz", tmp_path / "other.npz", lambda m: m.update(format="x"))
    with pytest.raises(ValueError, match=r"is not a fastscratch checkpoint \(format 'x'\)"):
        load_checkpoint(tmp_path / "other.npz", net)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.npz", net)
