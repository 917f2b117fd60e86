"""Convolution and Pooling: equal to the book's layers (tests/book_reference.py), the fused
activation, the book's attributes and module names, and bad input refused before any kernel."""
import numpy as np
import pytest

import book_reference as book
import fastscratch.layers as layers
from fastscratch.layers import Convolution, Pooling, Relu


def _close(got, want):
    """float64 to 1e-12 of the array's scale: the kernels sum the same products in another
    order (per image, blocks of images) than the book's single matrix product."""
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


# (x shape, W shape, stride, pad): SimpleConvNet's first layer, stride and pad on odd sizes,
# a DeepConvNet-like 16 -> 16 layer on one image
CONV_CASES = [((3, 1, 28, 28), (30, 1, 5, 5), 1, 0), ((3, 3, 9, 8), (4, 3, 3, 3), 2, 1),
              ((1, 16, 7, 7), (16, 16, 3, 3), 1, 1)]
# (x shape, pool_h, pool_w, stride, pad); the last is a padded case whose output size the book's
# pad-less formula happens to get right
POOL_CASES = [((2, 30, 24, 24), 2, 2, 2, 0), ((3, 2, 9, 7), 3, 3, 2, 0),
              ((2, 3, 5, 6), 3, 2, 1, 0), ((2, 2, 6, 6), 2, 2, 4, 1)]


@pytest.mark.parametrize("xs,ws,stride,pad", CONV_CASES)
def test_convolution_equals_the_books(xs, ws, stride, pad, backend_name, rng):
    x, W, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    ours, theirs = Convolution(W, b, stride, pad), book.Convolution(W.copy(), b.copy(), stride,
                                                                    pad)
    out = ours.forward(x)
    want = theirs.forward(x)
    assert out.shape == want.shape and out.dtype == want.dtype
    _close(out, want)
    _close(ours.col, theirs.col)
    np.testing.assert_array_equal(ours.col_W, theirs.col_W)
    assert ours.x is x
    dout = rng.standard_normal(out.shape)
    _close(ours.backward(dout), theirs.backward(dout.copy()))
    _close(ours.dW, theirs.dW)
    _close(ours.db, theirs.db)


@pytest.mark.parametrize("xs,ws,stride,pad", CONV_CASES)
def test_convolution_fused_with_relu_equals_the_books_two_layers(xs, ws, stride, pad,
                                                                  backend_name, rng):
    x, W, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    ours, relu = Convolution(W, b, stride, pad), Relu()
    theirs, book_relu = book.Convolution(W, b, stride, pad), book.Relu()
    want = book_relu.forward(theirs.forward(x))
    out = ours.forward_unchecked(x, True, relu)  # as the network's walk calls it
    _close(out, want)
    np.testing.assert_array_equal(relu.mask, book_relu.mask)
    dout = rng.standard_normal(want.shape)
    dx = ours.backward_unchecked(dout, relu)
    _close(dx, theirs.backward(book_relu.backward(dout.copy())))
    _close(ours.dW, theirs.dW)
    _close(ours.db, theirs.db)
    assert ours.backward_unchecked(dout, relu, need_dx=False) is None
    _close(ours.dW, theirs.dW)


# (x shape, W shape, stride, pad, pool (pool_h, pool_w, stride, pad)): SimpleConvNet's layers
# (the pool runs in the conv kernel), an odd 7x7 output whose last row and column are in no
# window (DeepConvNet's conv6), a 16-channel layer on shifted views, and pools that run apart
# from the kernel (3x3; 2x2 at stride 1; 2x2 with padding) inside the same step.
FUSED_CASES = [((3, 1, 28, 28), (30, 1, 5, 5), 1, 0, (2, 2, 2, 0)),
               ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1, (2, 2, 2, 0)),
               ((2, 16, 9, 8), (16, 16, 3, 3), 1, 1, (2, 2, 2, 0)),
               ((2, 3, 9, 9), (4, 3, 3, 3), 1, 1, (3, 3, 2, 0)),
               ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, (2, 2, 1, 0)),
               ((2, 3, 6, 6), (4, 3, 3, 3), 1, 1, (2, 2, 4, 1))]


@pytest.mark.parametrize("act_name", ["Relu", "Sigmoid"])
@pytest.mark.parametrize("xs,ws,stride,pad,pool_args", FUSED_CASES)
def test_convolution_fused_with_activation_and_pooling_equals_the_books_three_layers(
        xs, ws, stride, pad, pool_args, act_name, backend_name, rng):
    """Convolution.forward_unchecked(x, True, act, pool) (as the walk calls it) equals the
    book's Convolution, activation and Pooling; every layer's attributes are the book's. With
    random data some windows are all 0 after the Relu (their arg_max is 0, as np.argmax's)."""
    x, W, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    ours, act, pool = Convolution(W, b, stride, pad), getattr(layers, act_name)(), \
        Pooling(*pool_args)
    theirs, book_act = book.Convolution(W, b, stride, pad), getattr(book, act_name)()
    book_pool = book.Pooling(*pool_args)
    want = book_pool.forward(book_act.forward(theirs.forward(x)))
    out = ours.forward_unchecked(x, True, act, pool)
    assert out.shape == want.shape
    _close(out, want)
    _close(act.out, book_act.out if act_name == "Sigmoid" else theirs.forward(x) * ~book_act.mask)
    if act_name == "Relu":
        np.testing.assert_array_equal(act.mask, book_act.mask)
    _close(pool.x, book_pool.x)
    np.testing.assert_array_equal(pool.arg_max, book_pool.arg_max)
    _close(ours.col, theirs.col)
    dout = rng.standard_normal(want.shape)
    dx = ours.backward_unchecked(dout, act, pool)
    _close(dx, theirs.backward(book_act.backward(book_pool.backward(dout.copy()))))
    _close(ours.dW, theirs.dW)
    _close(ours.db, theirs.db)
    assert ours.backward_unchecked(dout, act, pool, need_dx=False) is None
    _close(ours.dW, theirs.dW)
    inference = Convolution(W, b, stride, pad), getattr(layers, act_name)(), Pooling(*pool_args)
    np.testing.assert_array_equal(inference[0].forward_unchecked(x, False, *inference[1:]), out)
    assert inference[2].arg_max is None
    _close(inference[2].x, pool.x)


@pytest.mark.parametrize("xs,ph,pw,stride,pad", POOL_CASES)
def test_pooling_equals_the_books(xs, ph, pw, stride, pad, backend_name, rng):
    x = rng.standard_normal(xs)
    x[0, 0, 0, :2] = x[0, 0, 0, 0]  # a tie: the first maximum wins, as np.argmax picks it
    ours, theirs = Pooling(ph, pw, stride, pad), book.Pooling(ph, pw, stride, pad)
    out = ours.forward(x)
    np.testing.assert_array_equal(out, theirs.forward(x))
    np.testing.assert_array_equal(ours.arg_max, theirs.arg_max)
    dout = rng.standard_normal(out.shape)
    _close(ours.backward(dout), theirs.backward(dout))


def test_the_books_dtype_mix_float32_images_float64_filters(backend_name, rng):
    """As in the book: float32 images through float64 parameters give float64 results."""
    x = rng.random((2, 1, 10, 10)).astype(np.float32)
    W, b = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    out = Convolution(W, b).forward(x)
    assert out.dtype == np.float64
    _close(out, book.Convolution(W, b).forward(x))


def test_float32_layers_stay_float32(backend_name, rng):
    x = rng.random((2, 2, 8, 8)).astype(np.float32)
    conv = Convolution(rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
                       np.zeros(3, np.float32), pad=1)
    pool = Pooling(2, 2, 2)
    out = pool.forward(conv.forward(x))
    assert out.dtype == np.float32
    dx = conv.backward(pool.backward(np.ones(out.shape, np.float32)))
    assert dx.dtype == conv.dW.dtype == conv.db.dtype == np.float32


def test_layers_module_exports_what_the_books_does():
    """`from common.layers import *` gives np, common.functions' names, im2col and col2im (the
    book's module imports them) and the layer classes."""
    names = {}
    exec("from fastscratch.layers import *", names)
    expected = ["np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
                "relu_grad", "softmax", "sum_squared_error", "cross_entropy_error",
                "softmax_loss", "im2col", "col2im", "Relu", "Sigmoid", "Affine",
                "SoftmaxWithLoss", "Dropout", "BatchNormalization", "Convolution", "Pooling"]
    assert [n for n in expected if n not in names] == []
    assert names["Convolution"] is layers.Convolution and names["np"] is np


@pytest.mark.parametrize("args,error,words", [
    ((np.ones((3, 3)), np.ones(3)), TypeError, "4-D"),
    ((np.ones((2, 1, 3, 3), int), np.ones(2)), TypeError, "4-D float32 or float64"),
    ((np.ones((2, 1, 3, 3)), np.ones(3)), ValueError, "b must have length 2"),
    ((np.ones((2, 1, 3, 3)), np.ones(2, np.float32)), TypeError, "dtype float64"),
    ((np.ones((2, 1, 3, 3)), np.ones(2), 0), ValueError, "stride must be a positive int"),
    ((np.ones((2, 1, 3, 3)), np.ones(2), 1, -1), ValueError, "pad must be an int >= 0"),
    ((np.ones((2, 1, 3, 3)), np.ones(2), 1, 1.5), TypeError, "pad must be an int >= 0"),
])
def test_convolution_constructor_refuses_bad_arguments(args, error, words):
    with pytest.raises(error, match=words):
        Convolution(*args)


@pytest.mark.parametrize("args,error,words", [
    ((0, 2), ValueError, "pool_h must be a positive int"),
    ((2, 2.0), TypeError, "pool_w must be a positive int"),
    ((2, 2, True), TypeError, "stride must be a positive int"),
    ((2, 2, 1, -2), ValueError, "pad must be an int >= 0"),
])
def test_pooling_constructor_refuses_bad_arguments(args, error, words):
    with pytest.raises(error, match=words):
        Pooling(*args)


@pytest.mark.parametrize("x,error,words", [
    (np.ones((2, 3, 8)), ValueError, r"images of shape \(N, C, H, W\)"),
    (np.ones((2, 2, 8, 8)), ValueError, "must have 3 channels"),
    (np.ones((2, 3, 2, 8)), ValueError, "at least 5x3"),
    (np.ones((2, 3, 8, 8), int), TypeError, "float32 or float64"),
    (np.full((2, 3, 8, 8), np.inf), ValueError, r"x\[0, 0, 0, 0\] is inf"),
])
def test_convolution_forward_refuses_bad_input(x, error, words, rng):
    conv = Convolution(rng.standard_normal((4, 3, 5, 3)), np.zeros(4), pad=1)
    with pytest.raises(error, match=words):
        conv.forward(x)
    assert conv.x is None


def test_backward_needs_a_forward_and_the_output_shape(rng):
    conv, pool = Convolution(rng.standard_normal((4, 3, 3, 3)), np.zeros(4)), Pooling(2, 2, 2)
    for layer in (conv, pool):
        with pytest.raises(ValueError, match="needs a training-mode forward pass first"):
            layer.backward(np.ones((1, 4, 2, 2)))
    x = rng.standard_normal((2, 3, 6, 6))
    out = pool.forward(conv.forward(x))
    with pytest.raises(ValueError, match=r"shape \(2, 4, 2, 2\), got \(2, 4, 3, 3\)"):
        pool.backward(np.ones((2, 4, 3, 3)))
    dx = pool.backward(np.ones(out.shape))
    conv.backward(dx)
    dW = conv.dW.copy()
    bad = np.ones((2, 4, 4, 4))
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"dout\[1, 2, 3, 0\] is nan"):
        conv.backward(bad)
    np.testing.assert_array_equal(conv.dW, dW)


def test_inference_mode_keeps_nothing_for_backward(backend_name, rng):
    """forward_unchecked(x, False) (the networks' predict) gives the training-mode output but keeps no
    patches or argmax; backward then asks for a training-mode forward."""
    conv, pool = Convolution(rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)), \
        Pooling(2, 2, 2)
    x = rng.standard_normal((3, 2, 8, 8))
    want = pool.forward(conv.forward(x))
    got = pool.forward_unchecked(conv.forward_unchecked(x, False), False)
    np.testing.assert_array_equal(got, want)
    for layer in (conv, pool):
        with pytest.raises(ValueError, match="needs a training-mode forward pass first"):
            layer.backward(np.ones((3, 4, 3, 3)))


def test_pooling_refuses_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="at least 3x3"):
        Pooling(3, 3).forward(np.ones((1, 1, 2, 5)))


def test_the_network_walk_fuses_convolution_relu_and_pooling(backend_name, rng):
    """A SimpleConvNet-like stack through fusion.plan's steps equals the same layers called
    one by one through their public forward/backward, the fused layers' attributes too."""
    from collections import OrderedDict

    from fastscratch.fusion import plan
    from fastscratch.layers import Affine

    def stack():
        r = np.random.default_rng(5)
        return OrderedDict(conv=Convolution(r.standard_normal((4, 1, 3, 3)), r.standard_normal(4)),
                           relu1=Relu(), pool=Pooling(2, 2, 2),
                           affine=Affine(r.standard_normal((4 * 3 * 3, 5)), r.standard_normal(5)))

    x, dout = rng.standard_normal((3, 1, 8, 8)), rng.standard_normal((3, 5))
    walked, called = stack(), stack()
    steps = plan(walked)
    assert [(type(s.layer).__name__, [type(f).__name__ for f in s.fused]) for s in steps] == \
        [("Convolution", ["Relu", "Pooling"]), ("Affine", [])]
    out = x
    for step in steps:
        out = step.forward(out, True)
    g = dout
    for k in range(len(steps) - 1, -1, -1):
        g = steps[k].backward(g, need_dx=k > 0)
    h = x
    for layer in called.values():
        h = layer.forward(h)
    g = dout
    for layer in reversed(called.values()):
        g = layer.backward(g)
    _close(out, h)
    np.testing.assert_array_equal(walked["relu1"].mask, called["relu1"].mask)
    np.testing.assert_array_equal(walked["pool"].x, called["pool"].x)
    np.testing.assert_array_equal(walked["pool"].arg_max, called["pool"].arg_max)
    for key in ("conv", "affine"):
        _close(walked[key].dW, called[key].dW)
        _close(walked[key].db, called[key].db)
