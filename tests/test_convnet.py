"""SimpleConvNet and DeepConvNet: the book's numbers (against the transcription in
book_convnet.py), gradient checks, backends and dtypes, the book's params files, input checks,
and ``fastscratch train --model convnet|deepconvnet``."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import book_convnet as book
from book_reference import Adam as BookAdam
from fastscratch import Adam, safe_pickle, use_backend
from fastscratch.checkpoint import load_checkpoint, save_checkpoint
from fastscratch.cli import main
from fastscratch.convnet import DeepConvNet, SimpleConvNet

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(input_dim=(2, 10, 10), conv_param={"filter_num": 3, "filter_size": 3, "pad": 1,
                                                "stride": 1}, hidden_size=7, output_size=4)


def _images(n, shape=(1, 28, 28), seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n,) + shape), rng.integers(0, 10, n)


def _pair(cls, book_cls, seed=3, **kwargs):
    """(fastscratch net, book net) drawn from the same global-RNG state."""
    np.random.seed(seed)
    net = cls(**kwargs)
    np.random.seed(seed)
    return net, book_cls(**kwargs)


def _assert_dicts_close(got, want, rtol=1e-12, atol=0.0):
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=atol, err_msg=key)


# ------------------------------------------------------------------ the book's numbers

def test_simple_convnet_params_are_the_books(backend_name):
    net, ref = _pair(SimpleConvNet, book.SimpleConvNet)
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [p.shape for p in net.params.values()] == [
        (30, 1, 5, 5), (30,), (4320, 100), (100,), (100, 10), (10,)]
    _assert_dicts_close(net.params, ref.params, rtol=0)
    assert list(net.layers) == list(ref.layers)


def test_simple_convnet_loss_gradient_and_adam_steps_match_the_book(backend_name):
    net, ref = _pair(SimpleConvNet, book.SimpleConvNet)
    x, t = _images(12)
    np.testing.assert_allclose(net.loss(x, t), ref.loss(x, t), rtol=1e-13)
    _assert_dicts_close(net.gradient(x, t), ref.gradient(x, t), atol=1e-15)
    opt, book_opt = Adam(lr=0.001), BookAdam(lr=0.001)
    for step in range(3):
        xb, tb = _images(12, seed=step + 1)
        opt.update(net.params, net.gradient(xb, tb))
        book_opt.update(ref.params, ref.gradient(xb, tb))
    _assert_dicts_close(net.params, ref.params, atol=1e-15)
    np.testing.assert_allclose(net.predict(x), ref.predict(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(net.loss(x, t), ref.loss(x, t), rtol=1e-12)


def test_deep_convnet_matches_the_book(backend_name):
    net, ref = _pair(DeepConvNet, book.DeepConvNet)
    assert list(net.params) == [f"{p}{i}" for i in range(1, 9) for p in "Wb"]
    _assert_dicts_close(net.params, ref.params, rtol=0)
    assert [type(layer).__name__ for layer in net.layers] == \
        [type(layer).__name__ for layer in ref.layers]
    x, t = _images(6)
    np.testing.assert_allclose(net.predict(x), ref.predict(x), rtol=1e-11, atol=1e-14)
    np.random.seed(7)  # the same dropout masks from the global RNG
    grads = net.gradient(x, t)
    np.random.seed(7)
    _assert_dicts_close(grads, ref.gradient(x, t), rtol=1e-10, atol=1e-14)


def test_accuracy_is_the_books_when_batches_divide_and_counts_every_image():
    net, ref = _pair(SimpleConvNet, book.SimpleConvNet)
    x, t = _images(30)
    assert net.accuracy(x, t, batch_size=10) == ref.accuracy(x, t, batch_size=10)
    one_hot = np.eye(10)[t]
    assert net.accuracy(x, one_hot) == net.accuracy(x, t, batch_size=7)
    predicted = np.argmax(net.predict(x), axis=1)
    assert net.accuracy(x, t, batch_size=100) == np.mean(predicted == t)


# ------------------------------------------------------------------ gradients, backends, dtypes

def test_simple_convnet_gradient_check(backend_name):
    # Small weights keep every class probability near 1/4: the loss takes log(y + 1e-7) while
    # backprop differentiates log(y), which differ by about 1e-7 / y relative (as in the book).
    np.random.seed(0)
    net = SimpleConvNet(weight_init_std=0.1, **SMALL)
    x, t = _images(3, SMALL["input_dim"])
    t = t % SMALL["output_size"]
    numerical = net.numerical_gradient(x, t)
    assert list(numerical) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    _assert_dicts_close(net.gradient(x, t), numerical, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_backends_agree(cls):
    x, t = _images(5)
    results = {}
    for name in ("numba", "numpy"):
        with use_backend(name):
            net = cls(seed=1)
            results[name] = (net.predict(x), net.gradient(x, t))
    np.testing.assert_allclose(results["numba"][0], results["numpy"][0], rtol=1e-12,
                               atol=1e-14)
    _assert_dicts_close(results["numba"][1], results["numpy"][1], rtol=1e-10, atol=1e-14)


def _gradient_at_the_kinks_of(net64, net32, x, t):
    """net64's gradients on the side of each kink (max-pool choice, ReLU on or off) that net32
    took in its last training forward.

    Near a kink float32 rounding decides the side: the two largest values of a pool window can
    differ by less than the rounding of their 576-term sums. A BLAS that adds in another order
    (OpenBLAS's Haswell sgemm under OPENBLAS_CORETYPE=Haswell against its AVX-512 one) then picks
    the other entry, and the gradient moves by that window's whole share. Both are exact
    gradients of their own side, so the float64 reference is taken on float32's side."""
    from fastscratch.layers import Convolution, Pooling, Relu
    net64._loss(*net64._inputs(x, t), True)
    def layers(net):  # SimpleConvNet keeps an OrderedDict, DeepConvNet a list (as the book)
        return list(net.layers.values()) if hasattr(net.layers, "values") else net.layers
    def on_side(y64, y32):  # y64, ReLU on where y32 is
        return np.where(y32 > 0, np.maximum(y64, np.finfo(y64.dtype).tiny), 0.0)
    for l64, l32 in zip(layers(net64), layers(net32)):
        if isinstance(l64, Convolution) and l64._codes is not None:
            # a pool fused into the conv kernel: backward reads the codes and pooled values
            l64._codes[...] = l32._codes
            l64._pooled = on_side(l64._pooled, l32._pooled)
        elif isinstance(l64, Pooling):
            l64.arg_max[...] = l32.arg_max
        elif isinstance(l64, Relu):
            l64.out = on_side(l64.out, l32.out)
    net64._backward()
    return net64._grads()


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_float32(backend_name, cls):
    x, t = _images(4)
    net64, net32 = cls(seed=2), cls(seed=2, dtype="float32")
    assert all(p.dtype == np.float32 for p in net32.params.values())
    y32 = net32.predict(x)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, net64.predict(x), rtol=1e-4, atol=1e-5)
    g32 = net32.gradient(x, t)
    assert all(g.dtype == np.float32 for g in g32.values())
    g64 = _gradient_at_the_kinks_of(net64, net32, x, t)
    # float32 rounding (2^-24 relative) grows over a few hundred-term sums per layer:
    # 1e-4 of each gradient's largest entry is well above it and far below any real error
    for key in g64:
        scale = np.abs(g64[key]).max()
        np.testing.assert_allclose(g32[key], g64[key], atol=1e-4 * scale, err_msg=key)


def test_seed_and_rng_draw_reproducibly():
    a, b = DeepConvNet(seed=5), DeepConvNet(rng=np.random.default_rng(5))
    _assert_dicts_close(a.params, b.params, rtol=0)
    assert a.layers[-1].rng is a.rng  # dropout masks from the net's generator


# ------------------------------------------------------------------ params files

def test_save_and_load_params_round_trip(tmp_path):
    net, other = SimpleConvNet(seed=1), SimpleConvNet(seed=2)
    path = tmp_path / "params.pkl"
    net.save_params(str(path))
    before = {k: id(v) for k, v in other.params.items()}
    other.load_params(str(path))
    _assert_dicts_close(other.params, net.params, rtol=0)
    assert {k: id(v) for k, v in other.params.items()} == before  # loaded in place
    assert other.layers["Conv1"].W is other.params["W1"]
    x, t = _images(3)
    np.testing.assert_array_equal(other.predict(x), net.predict(x))


def test_save_params_default_file_name_is_the_books(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    DeepConvNet(seed=0).save_params()
    assert (tmp_path / "params.pkl").exists()


@pytest.mark.parametrize("protocol", [2, 3, pickle.HIGHEST_PROTOCOL])
def test_load_params_reads_a_book_pickle_into_a_float32_net(tmp_path, protocol):
    np.random.seed(4)
    ref = book.DeepConvNet()
    path = tmp_path / "deep_convnet_params.pkl"
    with open(path, "wb") as f:  # as the book's save_params writes it
        pickle.dump({key: val for key, val in ref.params.items()}, f, protocol=protocol)
    net = DeepConvNet(dtype="float32", seed=0)
    net.load_params(path)
    for key, val in ref.params.items():
        assert net.params[key].dtype == np.float32
        np.testing.assert_array_equal(net.params[key], val.astype(np.float32))
    x, t = _images(20)
    assert net.accuracy(x, t, 10) == ref.accuracy(x, t, 10)


def test_load_params_refuses_code_and_runs_none_of_it(tmp_path):
    marker = tmp_path / "ran"

    class Shell:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    net = SimpleConvNet(seed=0)
    params = dict(net.params, b3=Shell())
    path = tmp_path / "params.pkl"
    path.write_bytes(pickle.dumps(params))
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(safe_pickle.UnsafePickleError, match="system: this file may hold only "
                                                            "dicts, lists and NumPy arrays"):
        net.load_params(path)
    assert not marker.exists()
    _assert_dicts_close(net.params, before, rtol=0)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.pop("b2"), r"missing \['b2'\], unexpected \[\]"),
    (lambda p: p.update(W9=np.zeros(1)), r"missing \[\], unexpected \['W9'\]"),
    (lambda p: p.update(W2=np.zeros((3, 3))), r"params\['W2'\] must be a float array of shape "
                                              r"\(4320, 100\), got float64 array of shape"),
    (lambda p: p.update(b1=np.zeros(30, dtype=int)), r"params\['b1'\] must be a float array"),
    (lambda p: p["W3"].__setitem__((0, 0), np.nan), r"params\['W3'\] must be finite"),
])
def test_load_params_checks_keys_shapes_and_values_before_changing_anything(tmp_path, edit,
                                                                            message):
    net = SimpleConvNet(seed=0)
    params = {k: v.copy() + 1 for k, v in net.params.items()}
    edit(params)
    path = tmp_path / "params.pkl"
    path.write_bytes(pickle.dumps(params))
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match=message):
        net.load_params(path)
    _assert_dicts_close(net.params, before, rtol=0)


def test_load_params_refuses_a_pickle_that_is_not_a_dict(tmp_path):
    path = tmp_path / "params.pkl"
    path.write_bytes(pickle.dumps([np.zeros(3)]))
    with pytest.raises(ValueError, match="expected a pickled dict of parameter arrays, got list"):
        SimpleConvNet(seed=0).load_params(path)


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_checkpoint_round_trip(tmp_path, cls):
    net, opt = cls(seed=1), Adam()
    x, t = _images(4)
    opt.update(net.params, net.gradient(x, t))
    path = tmp_path / "ck.npz"
    save_checkpoint(path, net, opt)
    other, other_opt = cls(seed=2), Adam()
    load_checkpoint(path, other, other_opt)
    _assert_dicts_close(other.params, net.params, rtol=0)
    opt.update(net.params, net.gradient(x, t))  # the same masks from the restored generator
    other_opt.update(other.params, other.gradient(x, t))
    _assert_dicts_close(other.params, net.params, rtol=0)


# ------------------------------------------------------------------ argument checks

def test_flat_images_get_a_clear_error():
    net = SimpleConvNet(seed=0)
    with pytest.raises(ValueError, match=r"x must be images of shape \(N, 1, 28, 28\), got shape "
                                         r"\(2, 784\); for MNIST use load_mnist\(flatten=False\)"):
        net.predict(np.zeros((2, 784)))
    with pytest.raises(ValueError, match="x must be images"):
        net.accuracy(np.zeros((2, 784)), np.zeros(2, dtype=int))


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_dim=(28, 28)), r"input_dim must be \(channels, height, width\)"),
    (dict(conv_param={"filter_num": 30, "filter_size": 5}), "conv_param must be a dict with "
                                                            "the keys filter_num, filter_size"),
    (dict(conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 2}),
     "does not fit filter_size 5 at stride 2 a whole number of times"),
    (dict(conv_param={"filter_num": 0, "filter_size": 5, "pad": 0, "stride": 1}),
     r"conv_param\['filter_num'\] must be a positive int"),
    (dict(weight_init_std="he"), "weight_init_std must be a finite number > 0"),
    (dict(dtype="float16"), "dtype must be float32 or float64"),
])
def test_constructor_arguments_are_checked(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        SimpleConvNet(**kwargs)


# ------------------------------------------------------------------ the train command

@pytest.mark.parametrize("argv, message", [
    (["--model", "convnet", "--dropout", "0.3"], "--dropout applies to --model mlp, not convnet"),
    (["--model", "deepconvnet", "--batchnorm"], "--batchnorm applies to --model mlp"),
    (["--model", "convnet", "--hidden", "100,50"], "give --hidden one width, got 2"),
    (["--model", "convnet", "--weight-init", "he"], "takes a standard deviation"),
    (["--model", "deepconvnet", "--weight-init", "0.1"], "deepconvnet uses He initialisation"),
])
def test_train_options_the_conv_nets_lack_exit_2(argv, message, capsys):
    assert main(["train", *argv]) == 2
    assert message in capsys.readouterr().err


def test_train_convnet_end_to_end(tmp_path, mnist_dir):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), FASTSCRATCH_DATA=str(mnist_dir))
    result = subprocess.run(
        [sys.executable, "-m", "fastscratch", "train", "--model", "convnet", "--train-size",
         "1000", "--test-size", "300", "--epochs", "1", "--eval-samples", "200", "--seed", "0",
         "--out", str(out), "--save-params"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["options"]["model"] == "convnet" and history["options"]["epochs"] == 1
    assert len(history["train_loss"]) == 10
    assert history["final_test_acc"] > 0.3  # 10 Adam steps: 0.50 with seed 0 (chance: 0.1)
    with np.load(out / "params.npz") as params:
        assert params["W1"].shape == (30, 1, 5, 5) and params["W1"].dtype == np.float32
