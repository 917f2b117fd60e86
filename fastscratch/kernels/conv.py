"""Convolution, per image, in one of two ways chosen by the shapes (``by_shifts``):

- stride 1 and several channels: FH*FW BLAS products with inner size C, one per filter tap
  (i, j), each on a shifted view of the zero-bordered image kept as flat rows of width
  Wp = W + 2 pad: output position (oh, ow) of tap (i, j) reads flat index (oh + i) Wp + ow + j,
  so the view is xp[:, i Wp + j:][:, :OH Wp] and the product covers OH x Wp positions, of which
  the last Wp - OW of each row are dropped. No patch matrix is made. Backward runs the same
  taps: dx's view += W[:, :, i, j]^T @ dout_wide, dout_wide being dout on the same OH x Wp grid
  with zeros in the dropped columns, and, where the rows are wide enough for the dropped
  columns to cost little, dW[:, :, i, j] += dout_wide @ view^T; else dW += dout @ patches from
  a channels-last copy of the image, whose patch rows are runs of FW*C contiguous values
  (the patch matrix's rows of OW values are copied several times slower).
- otherwise: im2col (from a zero-bordered copy of the image, so that every patch row is a plain
  copy) into a (C*FH*FW, OH*OW) scratch patch matrix and one product with the filters; dx is
  W^T @ dout scattered back by col2im. The patches are not kept: backward makes them again from
  x (cheaper than writing and reading them through memory), for a group of images side by side
  (``patch_group``), so that dW is one product over all the group's positions.

Where the kernels' BLAS runs narrower vectors than the host (``direct``, kernels.conv.
direct_pays), 3x3 stride-1 layers run without BLAS: Numba's own multiply-add loops on the same
flat rows (``sums`` helpers), direct3x3 forward and for dx, weight_grad3x3 for dW.

Bias + activation are fused around the products while the image is in cache, and so is a 2x2
stride-2 max pool where one follows (``pooled``, ``codes``): forward pools each image's
activations (keeping the window index of each maximum), backward scatters the pooled gradient
through those indices and the activation straight into the product's operand.

The kernels run in parallel over fixed blocks of images; each product is a single-threaded BLAS
call (``gemm``) on the thread that owns the image. The weight and bias gradients are summed per
block of images and the blocks added in order, so no result depends on the thread count.
"""
import numpy as np
from numba import prange

from .. import work
from .._jit import PRODUCT_PARALLEL_MIN, inline, kernel, sums
from ..constants import NONE
from ._common import activate, activate_grad, add_blocks, block_rows, image_blocks
from .gemm import gemm, gemm_add
from .pool import max2x2_rows, scatter2x2_rows

__all__ = ["conv_forward", "conv_backward"]

# OpenBLAS cores (openblas_get_corename's names) whose kernels use 512-bit vectors.
WIDE_BLAS_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def direct_pays():
    """Whether 3x3 layers should run Numba's loops (the kernels' ``direct`` argument): where
    Numba compiles for a host with AVX-512 but the kernels' BLAS runs narrower kernels, an
    OpenBLAS core such as Haswell (which OPENBLAS_CORETYPE=Haswell forces). Measured, the
    DeepConvNet step at one thread with the Haswell core: 0.79-0.89x the products' time on an
    Intel host for which LLVM emits 256-bit vectors; with OpenBLAS's AVX-512 core (SkylakeX)
    1.15-1.31x (README, "How the conv kernels run")."""
    import llvmlite.binding as llvm
    import numba
    from .. import threads
    if numba.config.CPU_NAME not in (None, "host") or \
            not llvm.get_host_cpu_features().get("avx512f"):
        return False
    libs = threads.blas_pools()[0]
    return bool(libs) and all(lib.internal_api == "openblas" and lib.architecture and
                              lib.architecture.lower() not in WIDE_BLAS_CORES for lib in libs)


out_size = inline(work.out_size)


@inline
def epilogue(z, zs, b, act, zero, one, y, oh_, ow_):
    """y[f, oh OW + ow] = act(z[f, oh zs + ow] + b[f]): one image's products z (FN, ...) with
    rows of zs positions into its activations y (FN, OH*OW), another array."""
    for f in range(z.shape[0]):
        bias = b[f]
        for oh in range(oh_):
            for ow in range(ow_):
                y[f, oh * ow_ + ow] = activate(z[f, oh * zs + ow] + bias, act, zero, one)


@inline
def epilogue_in_place(z, b, act, zero, one):
    """z[f, p] = act(z[f, p] + b[f]): one image's products (FN, OH*OW) into its activations."""
    for f in range(z.shape[0]):
        bias = b[f]
        for p in range(z.shape[1]):
            z[f, p] = activate(z[f, p] + bias, act, zero, one)


@inline
def prologue(dout, y, act, zero, one, g, gs):
    """g[f, oh gs + ow] = dout[f, oh, ow] act'(given its output y[f, oh, ow]): one image's
    gradient (FN, OH, OW) through act into the products' operand g (FN, ...), rows of gs."""
    fn_, oh_, ow_ = dout.shape
    if gs == ow_:  # one run over each filter's positions
        d, v = dout.reshape(fn_, oh_ * ow_), y.reshape(fn_, oh_ * ow_)
        for f in range(fn_):
            for p in range(oh_ * ow_):
                g[f, p] = activate_grad(d[f, p], v[f, p], act, zero, one)
        return
    for f in range(fn_):
        for oh in range(oh_):
            for ow in range(ow_):
                g[f, oh * gs + ow] = activate_grad(dout[f, oh, ow], y[f, oh, ow], act, zero,
                                                   one)


@inline
def pad_into(img, pad, xp):
    """xp[c, pad + y, pad + x] = img[c, y, x]: img (C, H, W) into the interior of xp
    (C, H + 2 pad, W + 2 pad), whose border the caller keeps zero."""
    c_, h, w = img.shape
    for c in range(c_):
        for y in range(h):
            for x in range(w):
                xp[c, y + pad, x + pad] = img[c, y, x]


@inline
def crop_from(xp, pad, img):
    """img[c, y, x] = xp[c, pad + y, pad + x]: the adjoint of pad_into (the border is dropped)."""
    c_, h, w = img.shape
    for c in range(c_):
        for y in range(h):
            for x in range(w):
                img[c, y, x] = xp[c, y + pad, x + pad]


@inline
def patches(xp, fh_, fw_, stride, oh_, ow_, col, to_col):
    """to_col: im2col of one padded image, col[(c, fh, fw), (oh, ow)] = xp[c, oh*stride + fh,
    ow*stride + fw]. Else its adjoint col2im: each col entry is added to its pixel of xp.
    xp (C, H + 2 pad, W + 2 pad), col (C*FH*FW, OH*OW). Every index is in range, so the row
    loops are plain (vectorized) copies for stride 1."""
    for c in range(xp.shape[0]):
        for fh in range(fh_):
            for fw in range(fw_):
                k = (c * fh_ + fh) * fw_ + fw
                for oh in range(oh_):
                    iy, row = oh * stride + fh, oh * ow_
                    if to_col and stride == 1:
                        for ow in range(ow_):
                            col[k, row + ow] = xp[c, iy, ow + fw]
                    elif to_col:
                        for ow in range(ow_):
                            col[k, row + ow] = xp[c, iy, ow * stride + fw]
                    elif stride == 1:
                        for ow in range(ow_):
                            xp[c, iy, ow + fw] += col[k, row + ow]
                    else:
                        for ow in range(ow_):
                            xp[c, iy, ow * stride + fw] += col[k, row + ow]


# Where the products run per filter tap on shifted views (by_shifts), as measured per layer at
# DeepConvNet's shapes (batch 100, float64 and float32, CPU time, one thread): with fewer than
# SHIFT_MIN_CHANNELS input channels (the inner size of each tap's product) FH*FW thin products
# cost more than the patch matrix. dx runs on the views wherever the forward does: at 8 x 8
# outputs (DeepConvNet's conv5, conv6; float32) the views' 25% more work still costs less than
# W^T @ dout and col2im (conv6: 4.4 against 6.0 ms, conv5: 2.5 against 3.0). dW runs on them
# only where the FW - 1 dropped columns per output row are at most 1 / SHIFT_MIN_OW_PER_TAP of
# its OW columns: at 8 x 8 the patch matrix is faster (conv6: 6.2 against 7.0 ms).
SHIFT_MIN_CHANNELS = 16
SHIFT_MIN_OW_PER_TAP = 5


# Backward on patches, the weight gradient of several images is one product whose inner size
# is the group's positions: up to PATCH_GROUP_COLUMNS of them (an image's OH*OW at least), the
# group never crossing its block of images. At 8 x 8 outputs (groups of 4 images) BLAS runs that
# product alone at 77-80% of its peak against 71-75% image by image; in the whole backward of
# conv5 and conv6 (float32 and float64) the gain is within the noise of the measurements (5%),
# and larger groups are no faster.
PATCH_GROUP_COLUMNS = 256


@inline
def patch_group(p_, n_, nb):
    """Images per weight-gradient product on patches: positions p_ per image, n_ images in nb
    blocks."""
    return max(1, min(PATCH_GROUP_COLUMNS // p_, (n_ + nb - 1) // nb))


@inline
def by_shifts(stride, c_, fw_, ow_, backward):
    """Whether a layer runs as per-tap products on shifted views (else on im2col patches)."""
    if stride != 1 or c_ < SHIFT_MIN_CHANNELS:
        return False
    return not backward or ow_ >= SHIFT_MIN_OW_PER_TAP * (fw_ - 1)


@inline
def flat_pad(img, pad, xf, into):
    """into: xf[c, (pad + y) Wp + pad + x] = img[c, y, x], Wp = W + 2 pad, img (C, H, W) into
    the interior of the zero-bordered image stored as flat rows, xf (C, (H + 2 pad) Wp + FW - 1)
    (the FW - 1 extra zeros end the last tap's view; the caller keeps the border zero). Else
    the reverse: img from xf's interior."""
    c_, h, w = img.shape
    wp = w + 2 * pad
    for c in range(c_):
        for y in range(h):
            row = (y + pad) * wp + pad
            for x in range(w):
                if into:
                    xf[c, row + x] = img[c, y, x]
                else:
                    img[c, y, x] = xf[c, row + x]


@inline
def tap_filters(W, taps):
    """taps[i FW + j, f, c] = W[f, c, i, j]: W (FN, C, FH, FW) as one (FN, C) matrix per tap."""
    fn_, c_, fh_, fw_ = W.shape
    for f in range(fn_):
        for c in range(c_):
            for i in range(fh_):
                for j in range(fw_):
                    taps[i * fw_ + j, f, c] = W[f, c, i, j]


@inline
def tap_view(xf, i, j, wp, oh_):
    """Tap (i, j)'s view of the flat image rows xf: (C, OH Wp), rows strided by xf's."""
    off = i * wp + j
    return xf[:, off:off + oh_ * wp]


# Output rows from which a float32 3x3 layer runs direct3x3: at 8 x 8 outputs (80 positions a
# row of filters) the per-tap products were faster even on the Haswell core (70 against 63
# GFLOP/s), from 14 x 14 on direct3x3 (91-109 against 51-67). Float64 gains at every size.
DIRECT_MIN_OH_F32 = 12


@inline
def direct_3x3(direct, stride, fh_, fw_, oh_, itemsize):
    """Whether a layer runs direct3x3 (Numba's own loops) instead of BLAS products: asked for
    (``direct``: the machine's choice, kernels.conv.direct_pays), 3x3 at stride 1, and outputs
    large enough in float32."""
    return direct and stride == 1 and fh_ == 3 and fw_ == 3 and \
        (itemsize == 8 or oh_ >= DIRECT_MIN_OH_F32)


# Output rows from which a 3x3 stride-1 layer's weight gradient runs weight_grad3x3 where
# ``direct`` asks for Numba's loops. Measured per layer (conv_backward, batch 100, one thread,
# OpenBLAS's Haswell core, ms without / with dx): at 28 x 28 and 14 x 14 float32 it is 2.1x and
# 1.5x the per-tap products (16 channels: 11.5 / 21.3 against 5.5 / 15.9), at 8 x 8 0.69x the
# channels-last patches (64 channels: 10.3 / 18.7 against 6.9 / 15.6; float64 0.88x).
DIRECT_DW_MIN_OH = 12


@inline
def direct_dw3x3(direct, stride, fh_, fw_, oh_):
    """Whether a layer's weight gradient runs weight_grad3x3 instead of BLAS products: asked
    for (``direct``), 3x3 at stride 1, outputs large enough."""
    return direct and stride == 1 and fh_ == 3 and fw_ == 3 and oh_ >= DIRECT_DW_MIN_OH


@inline
def taps9(w):
    """One filter channel's 9 taps w (9,) as a tuple (values, kept in registers)."""
    return (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])


@inline
def rows3(xf, c, at, wp):
    """Channel c of the flat rows xf (C, ...) of width wp from flat index ``at``, and one and
    two rows further: what a 3x3 window at position p reads, at p, p + wp and p + 2 wp.
    Contiguous slices of a contiguous xf, so that the loops over p vectorize."""
    return xf[c, at:], xf[c, at + wp:], xf[c, at + 2 * wp:]


@inline
def window9(r0, r1, r2, p):
    """The 3x3 window at flat position p of three consecutive image rows r0, r1, r2."""
    return (r0[p], r0[p + 1], r0[p + 2], r1[p], r1[p + 1], r1[p + 2], r2[p], r2[p + 1],
            r2[p + 2])


@inline
def dot9(a, v):
    """sum_t a[t] v[t] over 9 taps, as a fixed tree of sums."""
    return (((a[0] * v[0] + a[1] * v[1]) + (a[2] * v[2] + a[3] * v[3]))
            + ((a[4] * v[4] + a[5] * v[5]) + (a[6] * v[6] + a[7] * v[7]))) + a[8] * v[8]


@inline
def direct_pass4(wk, f, xf, x_at, wp, z, z_at, p_):
    """z[f:f + 4] += the 3x3 convolution of xf by filters f to f + 3 (see direct3x3)."""
    z0 = z[f, z_at:z_at + p_]
    z1 = z[f + 1, z_at:z_at + p_]
    z2 = z[f + 2, z_at:z_at + p_]
    z3 = z[f + 3, z_at:z_at + p_]
    for c in range(xf.shape[0]):
        a = taps9(wk[f, c])
        b = taps9(wk[f + 1, c])
        d = taps9(wk[f + 2, c])
        e = taps9(wk[f + 3, c])
        r0, r1, r2 = rows3(xf, c, x_at, wp)
        for p in range(p_):
            v = window9(r0, r1, r2, p)
            z0[p] += dot9(a, v)
            z1[p] += dot9(b, v)
            z2[p] += dot9(d, v)
            z3[p] += dot9(e, v)


@inline
def direct_pass2(wk, f, xf, x_at, wp, z, z_at, p_):
    """z[f:f + 2] += the 3x3 convolution of xf by filters f and f + 1 (see direct3x3)."""
    z0 = z[f, z_at:z_at + p_]
    z1 = z[f + 1, z_at:z_at + p_]
    for c in range(xf.shape[0]):
        a = taps9(wk[f, c])
        b = taps9(wk[f + 1, c])
        r0, r1, r2 = rows3(xf, c, x_at, wp)
        for p in range(p_):
            v = window9(r0, r1, r2, p)
            z0[p] += dot9(a, v)
            z1[p] += dot9(b, v)


@inline
def direct_pass1(wk, f, xf, x_at, wp, z, z_at, p_):
    """z[f] += the 3x3 convolution of xf by filter f (see direct3x3)."""
    z0 = z[f, z_at:z_at + p_]
    for c in range(xf.shape[0]):
        a = taps9(wk[f, c])
        r0, r1, r2 = rows3(xf, c, x_at, wp)
        for p in range(p_):
            z0[p] += dot9(a, window9(r0, r1, r2, p))


@sums
def direct3x3(wk, xf, x_at, wp, z, z_at, p_):
    """z[f, z_at + p] = sum_c sum_{i, j < 3} wk[f, c, 3 i + j] xf[c, x_at + p + i wp + j] for
    p < p_: a 3x3 stride-1 convolution on the flat rows of width wp of zero-bordered images;
    wk (FN, C, 9), xf (C, >= x_at + p_ + 2 wp + 2), z (FN, >= z_at + p_), both contiguous
    (the offsets stand for views, whose rows Numba could not prove contiguous). No BLAS: each
    position's 9 inputs are loaded once for a few filters, whose taps stay in registers, and
    the loop over positions is vectorized with FMA instructions (``sums``); z is summed over
    the channels in order. Filters per pass, as measured at DeepConvNet's shapes (one thread,
    AVX-512): 4 in float32, 2 in float64 (whose 4 x 9 taps would not fit the 32 vector
    registers beside the inputs)."""
    z[:, z_at:z_at + p_] = 0
    fn_ = wk.shape[0]
    f = 0
    if z.itemsize == 4:
        while f + 4 <= fn_:
            direct_pass4(wk, f, xf, x_at, wp, z, z_at, p_)
            f += 4
    while f + 2 <= fn_:
        direct_pass2(wk, f, xf, x_at, wp, z, z_at, p_)
        f += 2
    while f < fn_:
        direct_pass1(wk, f, xf, x_at, wp, z, z_at, p_)
        f += 1


@inline
def add_scaled9(s, u, v):
    """s + u v over 9 taps: s and v tuples, u a number."""
    return (s[0] + u * v[0], s[1] + u * v[1], s[2] + u * v[2], s[3] + u * v[3], s[4] + u * v[4],
            s[5] + u * v[5], s[6] + u * v[6], s[7] + u * v[7], s[8] + u * v[8])


@sums
def weight_grad3x3(g, g_at, p_, xf, wp, dw):
    """dw[f, c, 3 i + j] += sum_{p < p_} g[f, g_at + p] xf[c, p + i wp + j]: the weight
    gradient of a 3x3 stride-1 convolution from one image's gradient g (FN, >= g_at + p_) on
    the grid of flat rows of width wp (zero in the dropped columns) and its zero-bordered flat
    rows xf (C, >= p_ + 2 wp + 2); dw (FN, C, 9); g and xf contiguous. Two filters a pass:
    each position's 9 inputs are loaded once for 18 sums, which LLVM keeps in vector registers
    (``sums`` lets it reorder them), summed over the positions."""
    fn_ = g.shape[0]
    zero = g.dtype.type(0.0)
    zeros = (zero, zero, zero, zero, zero, zero, zero, zero, zero)
    for f in range(0, fn_, 2):
        f1 = min(f + 1, fn_ - 1)  # an odd last filter: its pass sums it twice, kept once
        ga = g[f, g_at:g_at + p_]
        gb = g[f1, g_at:g_at + p_]
        for c in range(xf.shape[0]):
            r0, r1, r2 = rows3(xf, c, 0, wp)
            sa = zeros
            sb = zeros
            for p in range(p_):
                v = window9(r0, r1, r2, p)
                sa = add_scaled9(sa, ga[p], v)
                sb = add_scaled9(sb, gb[p], v)
            for t in range(9):
                dw[f, c, t] += sa[t]
            if f1 != f:
                for t in range(9):
                    dw[f1, c, t] += sb[t]


@inline
def flipped_taps(W, wd):
    """wd[c, f, t] = W[f, c, 2 - t // 3, 2 - t % 3]: the 3x3 filters W (FN, C, 3, 3) turned for
    dx, a convolution of the gradient by the flipped filters (C, FN, 9)."""
    for f in range(W.shape[0]):
        for c in range(W.shape[1]):
            for t in range(9):
                wd[c, f, t] = W[f, c, 2 - t // 3, 2 - t % 3]


# Partial sums kept by lane_sum: independent additions that the compiler can vectorize (a single
# running sum is one dependent addition after another).
LANES = 16


@inline
def lane_sum(v, lanes):
    """The sum of the 1-D v: LANES partial sums over consecutive groups of LANES entries (in
    ``lanes``, scratch), then added in order, then the tail; the order depends on len(v) only."""
    lanes[:] = 0
    q = len(v) // LANES * LANES
    for i in range(0, q, LANES):
        for j in range(LANES):
            lanes[j] += v[i + j]
    s = lanes[0]
    for j in range(1, LANES):
        s += lanes[j]
    for i in range(q, len(v)):
        s += v[i]
    return s


@kernel(work=work.conv_forward, parallel_min=PRODUCT_PARALLEL_MIN)
def conv_forward(x, W, b, stride, pad, act, out, pooled=None, codes=None, direct=False):
    """out = act(conv(x, W) + b); x (N, C, H, W), W (FN, C, FH, FW), b (FN,),
    out (N, FN, OH, OW). With pooled and codes (N, FN, OH // 2, OW // 2), codes uint8: also the
    2x2 stride-2 max pool of out and the window index (0..3) of each first maximum. Each
    image's products go through a scratch while it is used. ``direct``: 3x3 layers may run
    Numba's own loops (direct_3x3) instead of BLAS."""
    n_, fn_, oh_, ow_ = out.shape
    c_, h, w = x.shape[1], x.shape[2], x.shape[3]
    fh_, fw_ = W.shape[2], W.shape[3]
    k_, p_ = c_ * fh_ * fw_, oh_ * ow_
    hp, wp = h + 2 * pad, w + 2 * pad
    d3 = direct_3x3(direct, stride, fh_, fw_, oh_, out.itemsize)
    shifts = not d3 and by_shifts(stride, c_, fw_, ow_, False)
    flat = shifts or d3  # on flat zero-bordered rows, the products on an OH x Wp grid
    w_mat = W.reshape(fn_, k_)
    wk = W.reshape(fn_, c_, fh_ * fw_)
    taps = np.empty((fh_ * fw_ if shifts else 0, fn_, c_), out.dtype)
    if shifts:
        tap_filters(W, taps)
    zero, one = out.dtype.type(0.0), out.dtype.type(1.0)
    nb = image_blocks(n_)
    for blk in prange(nb):
        col = np.empty((0 if flat else k_, p_), out.dtype)
        xp = np.zeros((0 if flat else c_, hp, wp), out.dtype)
        xf = np.zeros((c_ if flat else 0, hp * wp + fw_ - 1), out.dtype)
        zw = np.empty((fn_ if flat else 0, oh_ * wp), out.dtype)
        for n in block_rows(blk, nb, n_):
            if flat:
                flat_pad(x[n], pad, xf, True)
            if d3:
                direct3x3(wk, xf, 0, wp, zw, 0, oh_ * wp)
            elif shifts:
                for t in range(fh_ * fw_):
                    view = tap_view(xf, t // fw_, t % fw_, wp, oh_)
                    if t == 0:
                        gemm(taps[t], False, view, False, zw)
                    else:
                        gemm_add(taps[t], False, view, False, zw)
            if flat:
                epilogue(zw, wp, b, act, zero, one, out[n].reshape(fn_, p_), oh_, ow_)
            else:
                pad_into(x[n], pad, xp)
                patches(xp, fh_, fw_, stride, oh_, ow_, col, True)
                z = out[n].reshape(fn_, p_)
                gemm(w_mat, False, col, False, z)
                epilogue_in_place(z, b, act, zero, one)
            y = out[n].reshape(fn_, p_)
            if codes is not None:
                max2x2_rows(y, ow_, pooled[n], codes[n])


@inline
def widen(g, oh_, ow_, wp, gw):
    """gw[f, oh Wp + ow] = g[f, oh OW + ow]: one image's gradient (FN, OH*OW) onto the
    OH x Wp grid of the shifted views (the caller keeps the dropped columns zero)."""
    for f in range(g.shape[0]):
        for oh in range(oh_):
            for ow in range(ow_):
                gw[f, oh * wp + ow] = g[f, oh * ow_ + ow]


@inline
def pad_channels_last(img, pad, xh):
    """xh[pad + y, pad + x, c] = img[c, y, x]: img (C, H, W) into the interior of the
    channels-last xh (H + 2 pad, W + 2 pad, C), whose border the caller keeps zero."""
    c_, h, w = img.shape
    for y in range(h):
        for x in range(w):
            for c in range(c_):
                xh[y + pad, x + pad, c] = img[c, y, x]


@inline
def patches_channels_last(xh, fh_, fw_, oh_, ow_, col_t):
    """col_t[oh OW + ow, (i FW + j) C + c] = xh[oh + i, ow + j, c]: the stride-1 patches of
    one zero-bordered channels-last image xh (Hp, Wp, C) as rows of col_t (OH*OW, FH*FW*C);
    each filter row i of a patch is one run of FW*C contiguous values of xh."""
    c_ = xh.shape[2]
    run = fw_ * c_
    rows = xh.reshape(xh.shape[0], xh.shape[1] * c_)
    for oh in range(oh_):
        for ow in range(ow_):
            p = oh * ow_ + ow
            for i in range(fh_):
                for q in range(run):
                    col_t[p, i * run + q] = rows[oh + i, ow * c_ + q]


@kernel(work=work.conv_backward, parallel_min=PRODUCT_PARALLEL_MIN)
def conv_backward(dout, y, act, x, W, stride, pad, dW, db, dx, codes=None, direct=False):
    """Through act (y its output; with NONE y is not read) and the convolution of x: dW, db
    and, unless dx is None, dx; dout, y (N, FN, OH, OW), x, dx (N, C, H, W), W, dW
    (FN, C, FH, FW), db (FN,). With codes (conv_forward's): dout and y are the gradient and
    the values of its pooled output (N, FN, OH // 2, OW // 2), routed to the maxima first.
    dW runs by weight_grad3x3 where direct_dw3x3 says so, else on shifted views when
    by_shifts(backward) says so, else on the patches (channels-last where the forward runs on
    views) of a group of images (patch_group) at a time; dx by direct3x3 where direct_3x3 says
    so (a convolution of the gradient, bordered by zeros, with the flipped filters), else on
    shifted views wherever dW or the forward runs on them, else by col2im. Views and patches
    are made again from x, in scratch; each image's (or group's) dW is added into its block's
    partial sum."""
    n_, c_, h, w = x.shape
    fn_, fh_, fw_ = W.shape[0], W.shape[2], W.shape[3]
    oh_, ow_ = out_size(h, fh_, stride, pad), out_size(w, fw_, stride, pad)
    k_, p_ = c_ * fh_ * fw_, oh_ * ow_
    hp, wp = h + 2 * pad, w + 2 * pad
    dw3 = direct_dw3x3(direct, stride, fh_, fw_, oh_)
    shifts = dw3 or by_shifts(stride, c_, fw_, ow_, True)  # dW on the flat rows' grid
    # dW on channels-last patches where the forward runs on views but dW does not
    last = not shifts and by_shifts(stride, c_, fw_, ow_, False)
    d3 = dx is not None and direct_3x3(direct, stride, fh_, fw_, oh_, dW.itemsize)
    # dx on views wherever dW or the forward is on them (so it reads dW's gradient grid)
    dx_shifts = dx is not None and not d3 and \
        (shifts or by_shifts(stride, c_, fw_, ow_, False))
    w_mat = W.reshape(fn_, k_)
    taps = np.empty((fh_ * fw_ if dx_shifts else 0, fn_, c_), dW.dtype)
    if dx_shifts:
        tap_filters(W, taps)
    flipped = np.empty((c_ if d3 else 0, fn_, 9), dW.dtype)
    if d3:
        flipped_taps(W, flipped)
    # direct3x3's dx reads the gradient's grid with 2 Wp + 2 zeros before it (g_at) and rows
    # of zeros after it, up to its last interior row of dx plus the filter's 2 rows
    g_at = 2 * wp + 2 if d3 else 0
    g_len = g_at + max(oh_, h + pad) * wp if d3 else oh_ * wp
    zero, one = dW.dtype.type(0.0), dW.dtype.type(1.0)
    nb = image_blocks(n_)
    group = 1 if shifts else patch_group(p_, n_, nb)
    cols = group * p_  # columns of a group's patch matrix
    part_w = np.zeros((nb, fn_ * k_), dW.dtype)
    part_b = np.zeros((nb, fn_), dW.dtype)
    scatter = dx is not None and not dx_shifts and not d3
    on_grid = shifts or dx_shifts or d3
    for blk in prange(nb):
        # shifted views and direct3x3: the gradient on the OH x Wp grid, zero in the dropped
        # columns (and around it for direct3x3)
        g_pad = np.zeros((fn_ if on_grid else 0, g_len), dW.dtype)
        gw = g_pad[:, g_at:g_at + oh_ * wp]
        xf = np.zeros((c_ if shifts else 0, hp * wp + fw_ - 1), dW.dtype)
        dxf = np.empty((c_ if dx_shifts or d3 else 0, hp * wp + fw_ - 1), dW.dtype)
        # patches: a group's gradients and patches side by side, image i's in columns (col_t:
        # rows) i P to (i + 1) P; the gradients zero outside a fused pool's windows
        g_mat = np.zeros((0 if shifts else fn_, cols), dW.dtype)
        col = np.empty((0 if shifts or last else k_, cols), dW.dtype)
        xp = np.zeros((0 if shifts or last else c_, hp, wp), dW.dtype)
        col_t = np.empty((cols if last else 0, k_), dW.dtype)
        xh = np.zeros((hp if last else 0, wp, c_), dW.dtype)
        dcol = np.empty((k_ if scatter else 0, cols), dW.dtype)
        dxp = np.empty((c_ if scatter else 0, hp, wp), dW.dtype)
        lanes = np.empty(LANES, dW.dtype)
        rows = block_rows(blk, nb, n_)
        for g0 in range(rows.start, rows.stop, group):
            g1 = min(g0 + group, rows.stop)
            for n in range(g0, g1):
                i = (n - g0) * p_
                if shifts:
                    g_n, gs = gw, wp
                else:
                    g_n, gs = g_mat[:, i:i + p_], ow_
                if codes is not None:
                    scatter2x2_rows(dout[n], y[n], codes[n], act, zero, one, g_n, gs)
                else:
                    prologue(dout[n], dout[n] if act == NONE else y[n], act, zero, one, g_n, gs)
                if not shifts:
                    if last:
                        pad_channels_last(x[n], pad, xh)
                        patches_channels_last(xh, fh_, fw_, oh_, ow_, col_t[i:i + p_])
                    else:
                        pad_into(x[n], pad, xp)
                        patches(xp, fh_, fw_, stride, oh_, ow_, col[:, i:i + p_], True)
                    if dx_shifts or d3:
                        widen(g_n, oh_, ow_, wp, gw)
                for f in range(fn_):
                    part_b[blk, f] += lane_sum(g_n[f], lanes)
                if dw3:
                    flat_pad(x[n], pad, xf, True)
                    weight_grad3x3(g_pad, g_at, oh_ * wp, xf, wp, part_w[blk].reshape(fn_, c_, 9))
                elif shifts:
                    flat_pad(x[n], pad, xf, True)
                    dw_taps = part_w[blk].reshape(fh_ * fw_, fn_, c_)
                    for t in range(fh_ * fw_):
                        gemm_add(gw, False, tap_view(xf, t // fw_, t % fw_, wp, oh_), True,
                                 dw_taps[t])
                if dx_shifts:
                    dxf[:] = 0
                    for t in range(fh_ * fw_):
                        gemm_add(taps[t], True, gw, False, tap_view(dxf, t // fw_, t % fw_, wp,
                                                                    oh_))
                    flat_pad(dx[n], pad, dxf, False)
                if d3:  # dx's interior rows pad to pad + H - 1 on the flat grid
                    direct3x3(flipped, g_pad, pad * wp, wp, dxf, pad * wp, h * wp)
                    flat_pad(dx[n], pad, dxf, False)
            if not shifts:
                m = (g1 - g0) * p_
                if last:
                    gemm_add(g_mat[:, :m], False, col_t[:m], False, part_w[blk].reshape(fn_, k_))
                else:
                    gemm_add(g_mat[:, :m], False, col[:, :m], True,
                             part_w[blk].reshape(fn_, k_))
                if scatter:
                    gemm(w_mat, True, g_mat[:, :m], False, dcol[:, :m])
                    for n in range(g0, g1):
                        i = (n - g0) * p_
                        dxp[:] = 0
                        patches(dxp, fh_, fw_, stride, oh_, ow_, dcol[:, i:i + p_], False)
                        crop_from(dxp, pad, dx[n])
    add_blocks(part_b, db, one)
    if dw3 or (not shifts and not last):  # dW's own layout
        add_blocks(part_w, dW.reshape(fn_ * k_), one)
        return
    dw_taps = np.empty(fn_ * k_, dW.dtype)
    add_blocks(part_w, dw_taps, one)
    # shifted views: taps (FH*FW, FN, C); channels-last patches: (FN, FH*FW, C)
    tap_w = dw_taps.reshape(fh_ * fw_, fn_, c_)
    last_w = dw_taps.reshape(fn_, fh_ * fw_, c_)
    for f in range(fn_):
        for c in range(c_):
            for t in range(fh_ * fw_):
                dW[f, c, t // fw_, t % fw_] = last_w[f, t, c] if last else tap_w[t, f, c]
