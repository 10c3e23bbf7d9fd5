"""Convolution (conv1d/2d/3d, conv_general, conv_transpose1d/2d/3d, convolve) against a
float64 NumPy reference written here as loops over kernel taps, np.convolve, finite
differences for the gradients, and MLX where it is installed."""
import itertools

import numpy as np
import pytest

import lazuli.core as mx
from numeric import numerical_grad


# ---- float64 references ------------------------------------------------------------------

def ref_conv(x, w, stride=1, padding=0, kernel_dilation=1, input_dilation=1, groups=1, flip=False):
    """conv_general: channels-last, padding an int, a list, or (lo list, hi list)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    d = x.ndim - 2
    per = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * d
    if isinstance(padding, tuple) and len(padding) == 2 and isinstance(padding[0], (list, tuple)):
        lo, hi = list(padding[0]), list(padding[1])
    else:
        lo = hi = per(padding)
    stride, kd, idil = per(stride), per(kernel_dilation), per(input_dilation)
    n, c_in = x.shape[0], x.shape[-1]
    # input dilation: zeros between elements
    dil_shape = [(s - 1) * i + 1 if s else 0 for s, i in zip(x.shape[1:-1], idil)]
    xd = np.zeros((n, *dil_shape, c_in))
    xd[(slice(None),) + tuple(slice(None, None, i) for i in idil)] = x
    # padding; negative values crop
    for i in range(d):
        ax = 1 + i
        if lo[i] < 0:
            xd = np.take(xd, range(-lo[i], xd.shape[ax]), axis=ax)
        if hi[i] < 0:
            xd = np.take(xd, range(0, xd.shape[ax] + hi[i]), axis=ax)
        widths = [(0, 0)] * xd.ndim
        widths[ax] = (max(lo[i], 0), max(hi[i], 0))
        xd = np.pad(xd, widths)
    if flip:
        w = w[(slice(None),) + (slice(None, None, -1),) * d]
    c_out, kernel, c_in_g = w.shape[0], w.shape[1:-1], w.shape[-1]
    c_out_g = c_out // groups
    out_sp = [(p - ((k - 1) * dk + 1)) // s + 1 for p, k, dk, s in zip(xd.shape[1:-1], kernel, kd, stride)]
    out = np.zeros((n, *out_sp, c_out))
    for taps in itertools.product(*[range(k) for k in kernel]):
        sl = tuple(slice(t * dk, t * dk + (o - 1) * s + 1, s) for t, dk, o, s in zip(taps, kd, out_sp, stride))
        patch = xd[(slice(None),) + sl]
        for g in range(groups):
            wk = w[(slice(g * c_out_g, (g + 1) * c_out_g),) + taps]  # (c_out_g, c_in_g)
            out[..., g * c_out_g:(g + 1) * c_out_g] += patch[..., g * c_in_g:(g + 1) * c_in_g] @ wk.T
    return out


def ref_conv_transpose(x, w, stride, padding, dilation, output_padding, groups=1):
    """The scatter definition: input element i adds x[i] * w[:, k, :] at output i*s + k*d - p."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    d = x.ndim - 2
    per = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * d
    s, p, dl, op = per(stride), per(padding), per(dilation), per(output_padding)
    n, c_in = x.shape[0], x.shape[-1]
    c_out, kernel, c_in_g = w.shape[0], w.shape[1:-1], w.shape[-1]
    c_out_g = c_out // groups
    full = [(i - 1) * si + (k - 1) * di + 1 + oi for i, si, k, di, oi in zip(x.shape[1:-1], s, kernel, dl, op)]
    out = np.zeros((n, *full, c_out))
    for pos in itertools.product(*[range(i) for i in x.shape[1:-1]]):
        for taps in itertools.product(*[range(k) for k in kernel]):
            o = tuple(pi * si + t * di for pi, si, t, di in zip(pos, s, taps, dl))
            for g in range(groups):
                xv = x[(slice(None),) + pos + (slice(g * c_in_g, (g + 1) * c_in_g),)]  # (n, c_in_g)
                wk = w[(slice(g * c_out_g, (g + 1) * c_out_g),) + taps]  # (c_out_g, c_in_g)
                out[(slice(None),) + o + (slice(g * c_out_g, (g + 1) * c_out_g),)] += xv @ wk.T
    crop = tuple(slice(pi, f - pi) for pi, f in zip(p, full))
    return out[(slice(None),) + crop]


rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def check(got, want, tol=1e-4):
    got = np.array(got.astype(mx.float32) if got.dtype in (mx.float16, mx.bfloat16) else got)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


# ---- forward ----------------------------------------------------------------------------

@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (3, 1, 2, 2), (1, 0, 1, 4), (2, 3, 1, 4)])
def test_conv1d(stride, padding, dilation, groups):
    x, w = randn(3, 17, 8), randn(12, 3, 8 // groups)
    check(mx.conv1d(mx.array(x), mx.array(w), stride, padding, dilation, groups),
          ref_conv(x, w, stride, padding, dilation, 1, groups))


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (1, 1), (1, 1), 1), ((2, 1), (0, 2), (1, 2), 1), ((1, 3), 1, 2, 2), (2, (2, 0), 1, 8),
    (1, 0, 1, 1)])
def test_conv2d(stride, padding, dilation, groups):
    x, w = randn(2, 9, 11, 8), randn(16, 3, 2, 8 // groups)
    check(mx.conv2d(mx.array(x), mx.array(w), stride=stride, padding=padding, dilation=dilation, groups=groups),
          ref_conv(x, w, stride, list(padding) if isinstance(padding, tuple) else padding, dilation, 1, groups))


def test_conv2d_large_channels_and_1x1():
    # Enough rows and channels for several tiles and register panels; a 1x1 kernel reads
    # the input directly.
    x, w = randn(4, 20, 20, 40), randn(70, 3, 3, 40)
    check(mx.conv2d(mx.array(x), mx.array(w), padding=1), ref_conv(x, w, 1, 1), 2e-4)
    w1 = randn(33, 1, 1, 40)
    check(mx.conv2d(mx.array(x), mx.array(w1)), ref_conv(x, w1), 2e-4)
    wg = randn(20, 1, 1, 10)
    check(mx.conv2d(mx.array(x), mx.array(wg), groups=4), ref_conv(x, wg, groups=4), 2e-4)
    check(mx.conv2d(mx.array(x), mx.array(w1), stride=2), ref_conv(x, w1, 2), 2e-4)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_wide_layers_and_long_kernels(dtype):
    # Enough channels that the weight goes in several passes of output channels and
    # slices of kernel positions (each accumulating into the output).
    x, w = randn(2, 9, 1024), randn(160, 3, 1024)
    got = mx.conv1d(mx.array(x).astype(dtype), mx.array(w).astype(dtype), padding=1)
    check(got, ref_conv(x, w, 1, 1), 1e-4 if dtype == mx.float32 else 1e-10)
    # A long kernel (the weight gradient's shape): many slices of kernel positions.
    x2, w2 = randn(3, 300, 40), randn(20, 260, 40)
    check(mx.conv1d(mx.array(x2), mx.array(w2), padding=2), ref_conv(x2, w2, 1, 2), 2e-4)


def test_depthwise():
    # One input and one output channel per group: the channel-vectorised path.
    x, w = randn(2, 9, 11, 24), randn(24, 3, 2, 1)
    check(mx.conv2d(mx.array(x), mx.array(w), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=24),
          ref_conv(x, w, [2, 1], [1, 2], [1, 2], 1, 24))
    kw = dict(padding=([2], [0]), input_dilation=2, flip=True, groups=5)
    x1, w1 = randn(3, 7, 5), randn(5, 4, 1)
    check(mx.conv_general(mx.array(x1), mx.array(w1), **kw), ref_conv(x1, w1, **kw))
    check(mx.conv1d(mx.array(x1).astype(mx.float64), mx.array(w1).astype(mx.float64), groups=5),
          ref_conv(x1, w1, groups=5), 1e-12)


def test_conv3d():
    x, w = randn(2, 5, 6, 7, 4), randn(6, 2, 3, 2, 2)
    check(mx.conv3d(mx.array(x), mx.array(w), stride=(1, 2, 1), padding=(1, 0, 2), dilation=(2, 1, 1), groups=2),
          ref_conv(x, w, [1, 2, 1], [1, 0, 2], [2, 1, 1], 1, 2))
    w1 = randn(3, 1, 1, 1, 4)
    check(mx.conv3d(mx.array(x), mx.array(w1)), ref_conv(x, w1))


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=([1], [3])),
    dict(padding=([0], [-2]), kernel_dilation=2),
    dict(input_dilation=3, padding=2),
    dict(input_dilation=2, stride=3, flip=True, groups=2),
    dict(padding=([-3], [1]), flip=True),
])
def test_conv_general_1d(kw):
    x, w = randn(2, 13, 6), randn(4, 4, 6 // kw.get("groups", 1))
    check(mx.conv_general(mx.array(x), mx.array(w), **kw), ref_conv(x, w, **kw))


def test_conv_general_2d_asymmetric_padding_dilations_flip():
    x, w = randn(3, 7, 6, 4), randn(6, 3, 2, 2)
    for kw in [dict(stride=[2, 1], padding=([0, 2], [3, 1]), kernel_dilation=[1, 2], input_dilation=[2, 1],
                    groups=2, flip=True),
               dict(padding=[1, 2], input_dilation=2, groups=2),
               dict(padding=([-1, 0], [2, -1]), groups=2, flip=True)]:
        check(mx.conv_general(mx.array(x), mx.array(w), **kw), ref_conv(x, w, **kw))


@pytest.mark.parametrize("stride,padding,dilation,output_padding,groups", [
    (1, 0, 1, 0, 1), (2, 1, 1, 1, 1), (3, 2, 2, 0, 1), (2, 0, 1, 0, 2), (1, 3, 1, 0, 1)])
def test_conv_transpose1d(stride, padding, dilation, output_padding, groups):
    x, w = randn(2, 7, 4), randn(6, 3, 4 // groups)
    check(mx.conv_transpose1d(mx.array(x), mx.array(w), stride, padding, dilation, output_padding, groups),
          ref_conv_transpose(x, w, stride, padding, dilation, output_padding, groups))


def test_conv_transpose2d_and_3d():
    x, w = randn(2, 5, 4, 6), randn(4, 3, 2, 3)
    check(mx.conv_transpose2d(mx.array(x), mx.array(w), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                              output_padding=(1, 0), groups=2),
          ref_conv_transpose(x, w, [2, 1], [1, 0], [1, 2], [1, 0], 2))
    x3, w3 = randn(1, 3, 4, 2, 2), randn(3, 2, 2, 2, 2)
    check(mx.conv_transpose3d(mx.array(x3), mx.array(w3), stride=2, padding=1, output_padding=1),
          ref_conv_transpose(x3, w3, 2, 1, 1, 1))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(10, 3), (3, 10), (7, 7), (5, 4), (1, 1), (6, 1)])
def test_convolve(mode, n, m):
    a, v = randn(n), randn(m)
    got = mx.convolve(mx.array(a), mx.array(v), mode)
    check(got, np.convolve(a.astype(np.float64), v.astype(np.float64), mode))
    assert mx.convolve(mx.array(a), mx.array(v)).shape == (n + m - 1,)


def test_batches_empty_and_channels():
    w = randn(5, 3, 3, 2)
    out = mx.conv2d(mx.zeros((0, 6, 6, 2)), mx.array(w))
    assert out.shape == (0, 4, 4, 5)
    x = randn(1, 6, 6, 2)
    check(mx.conv2d(mx.array(x), mx.array(w)), ref_conv(x, w))
    # zero output channels and zero input channels
    assert mx.conv1d(mx.ones((2, 5, 3)), mx.ones((0, 2, 3))).shape == (2, 4, 0)
    z = mx.conv1d(mx.ones((2, 5, 0)), mx.ones((4, 2, 0)))
    assert z.shape == (2, 4, 4) and np.all(np.array(z) == 0)


@pytest.mark.parametrize("dtype,tol", [(mx.float16, 3e-3), (mx.bfloat16, 2e-2), (mx.float64, 1e-12)])
def test_dtypes(dtype, tol):
    x, w = randn(2, 8, 8, 6), randn(4, 3, 3, 6)
    got = mx.conv2d(mx.array(x).astype(dtype), mx.array(w).astype(dtype), padding=1)
    assert got.dtype == dtype
    # the reference sees the same rounded inputs
    xr = np.array(mx.array(x).astype(dtype).astype(mx.float64)) if dtype != mx.float64 else x
    wr = np.array(mx.array(w).astype(dtype).astype(mx.float64)) if dtype != mx.float64 else w
    check(got, ref_conv(xr, wr, 1, 1), tol)
    # mixed dtypes promote
    assert mx.conv1d(mx.ones((1, 4, 2), dtype=mx.float16), mx.ones((1, 2, 2))).dtype == mx.float32


def test_non_contiguous_inputs():
    xt = randn(6, 9, 2, 4)  # viewed as (2, 9, 6, 4) by a transpose
    wt = randn(3, 3, 4, 5)  # viewed as (5, 3, 3, 4)
    x = mx.transpose(mx.array(xt), (2, 1, 0, 3))
    w = mx.transpose(mx.array(wt), (3, 0, 1, 2))
    check(mx.conv2d(x, w, padding=1), ref_conv(xt.transpose(2, 1, 0, 3), wt.transpose(3, 0, 1, 2), 1, 1))
    xs = mx.array(randn(2, 20, 3))[:, ::2, :]
    ws = mx.array(randn(4, 6, 3))[:, ::2, :]
    check(mx.conv1d(xs, ws), ref_conv(np.array(xs), np.array(ws)))


# ---- gradients --------------------------------------------------------------------------

def a64(a):
    return mx.array(np.asarray(a, np.float64), dtype=mx.float64)


@pytest.mark.parametrize("op,xs,ws,kw", [
    (mx.conv1d, (2, 7, 4), (4, 3, 2), dict(stride=2, padding=1, dilation=1, groups=2)),
    (mx.conv2d, (2, 5, 6, 2), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    (mx.conv_transpose1d, (1, 4, 2), (3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    (mx.conv_transpose2d, (1, 3, 3, 4), (2, 2, 2, 2), dict(stride=2, groups=2)),
    (mx.conv2d, (2, 4, 5, 3), (3, 2, 2, 1), dict(stride=(1, 2), padding=1, groups=3)),
])
def test_gradients_match_finite_differences(op, xs, ws, kw):
    x, w = randn(*xs).astype(np.float64), randn(*ws).astype(np.float64)
    ct = randn(*np.array(op(a64(x), a64(w), **kw)).shape).astype(np.float64)

    def loss(a, b):
        return mx.sum(op(a, b, **kw) * a64(ct))

    gx, gw = mx.grad(loss, argnums=(0, 1))(a64(x), a64(w))
    f64 = lambda a, b: float(np.array(loss(a64(a), a64(b))))
    np.testing.assert_allclose(np.array(gx), numerical_grad(lambda a: f64(a, w), x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.array(gw), numerical_grad(lambda b: f64(x, b), w), rtol=1e-6, atol=1e-6)


def test_conv_general_gradient_with_input_dilation_and_flip():
    x, w = randn(2, 5, 4).astype(np.float64), randn(4, 3, 2).astype(np.float64)
    kw = dict(stride=2, padding=([2], [-1]), kernel_dilation=2, input_dilation=2, groups=2, flip=True)
    ct = randn(*np.array(mx.conv_general(a64(x), a64(w), **kw)).shape).astype(np.float64)
    loss = lambda a, b: mx.sum(mx.conv_general(a, b, **kw) * a64(ct))
    gx, gw = mx.grad(loss, argnums=(0, 1))(a64(x), a64(w))
    f64 = lambda a, b: float(np.array(loss(a64(a), a64(b))))
    np.testing.assert_allclose(np.array(gx), numerical_grad(lambda a: f64(a, w), x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.array(gw), numerical_grad(lambda b: f64(x, b), w), rtol=1e-6, atol=1e-6)


def test_second_order_and_jvp_and_vmap():
    x, w = a64(randn(2, 6, 3)), a64(randn(4, 3, 3))
    # d/dw of sum(grad_x(...)): goes through a convolution of a convolution's gradient
    gx = lambda b: mx.sum(mx.square(mx.grad(lambda a: mx.sum(mx.square(mx.conv1d(a, b, padding=1))))(x)))
    g = mx.grad(gx)(w)
    wn = np.array(w)
    num = numerical_grad(lambda b: float(np.array(gx(a64(b)))), wn, 1e-4)
    np.testing.assert_allclose(np.array(g), num, rtol=1e-5, atol=1e-5)
    # jvp is linear in both arguments
    tx, tw = mx.ones_like(x), mx.ones_like(w)
    _, (t,) = mx.jvp(lambda a, b: mx.conv1d(a, b), [x, w], [tx, tw])
    want = ref_conv(np.ones((2, 6, 3)), np.array(w)) + ref_conv(np.array(x), np.ones((4, 3, 3)))
    np.testing.assert_allclose(np.array(t), want, rtol=1e-10)
    # vmap over the input, the weight, or both matches a loop
    xs = mx.array(randn(3, 2, 6, 3))
    ws = mx.array(randn(3, 4, 3, 3))
    both = mx.vmap(lambda a, b: mx.conv1d(a, b, stride=2), in_axes=(0, 0))(xs, ws)
    only_w = mx.vmap(lambda b: mx.conv1d(xs[0], b), in_axes=0)(ws)
    only_x = mx.vmap(lambda a: mx.conv1d(a, ws[0]), in_axes=0)(xs)
    for i in range(3):
        check(both[i], ref_conv(np.array(xs[i]), np.array(ws[i]), 2))
        check(only_w[i], ref_conv(np.array(xs[0]), np.array(ws[i])))
        check(only_x[i], ref_conv(np.array(xs[i]), np.array(ws[0])))


# ---- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("call,words", [
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 3))), ["[conv1d]", "4"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 2)), groups=3), ["[conv1d]", "groups (3)"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((5, 2, 2)), groups=2), ["[conv1d]", "output channels (5)"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), groups=0), ["[conv1d]", "groups"]),
    (lambda: mx.conv1d(mx.ones((5, 4)), mx.ones((6, 2, 4))), ["[conv1d]", "(5, 4)"]),
    (lambda: mx.conv2d(mx.ones((2, 5, 4)), mx.ones((6, 2, 4))), ["[conv2d]", "rank 4"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 2, 4))), ["[conv1d]", "weight"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), stride=0), ["[conv1d]", "Strides", "(0,)"]),
    (lambda: mx.conv2d(mx.ones((2, 5, 5, 4)), mx.ones((6, 2, 2, 4)), dilation=(1, -1)), ["[conv2d]", "(1, -1)"]),
    (lambda: mx.conv_general(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), input_dilation=0), ["[conv_general]", "Input dilations", "(0,)"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 6, 4))), ["[conv1d]", "larger than the padded input"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4)), mx.ones((6, 3, 4)), dilation=3), ["[conv1d]", "dilation 3"]),
    (lambda: mx.conv_general(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), padding=-3), ["[conv_general]", "(-3,)"]),
    (lambda: mx.conv_general(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), padding=([-6], [7])), ["Negative padding"]),
    (lambda: mx.conv_general(mx.ones((2, 5, 5, 4)), mx.ones((6, 2, 2, 4)), stride=[1, 1, 1]), ["2 stride", "(1, 1, 1)"]),
    (lambda: mx.conv1d(mx.ones((2, 5, 4), dtype=mx.int32), mx.ones((6, 2, 4))), ["[conv1d]", "int32"]),
    (lambda: mx.conv2d(mx.ones((2, 5, 5, 4)), mx.ones((6, 2, 2, 4)), stride=(1, 2, 3)), ["[conv2d]", "stride"]),
    (lambda: mx.conv_transpose1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), padding=-1), ["[conv_transpose1d]"]),
    (lambda: mx.conv_transpose1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 4)), output_padding=-1), ["Output padding"]),
    (lambda: mx.conv_transpose2d(mx.ones((2, 5, 5, 4)), mx.ones((6, 2, 2, 4)), stride=0), ["[conv_transpose2d]"]),
    (lambda: mx.conv_transpose1d(mx.ones((2, 5, 4)), mx.ones((6, 2, 3))), ["[conv_transpose1d]", "(6, 2, 3)"]),
    (lambda: mx.conv_transpose1d(mx.ones((2, 2, 4)), mx.ones((6, 2, 4)), padding=5), ["[conv_transpose1d]"]),
    (lambda: mx.conv3d(mx.ones((2, 5, 4)), mx.ones((6, 2, 4))), ["[conv3d]", "rank 5"]),
    (lambda: mx.convolve(mx.ones((2, 2)), mx.ones(2)), ["[convolve]", "1-D"]),
    (lambda: mx.convolve(mx.ones(3), mx.ones(2), mode="middle"), ["[convolve]", "middle"]),
    (lambda: mx.convolve(mx.ones(3), mx.ones(0)), ["[convolve]", "empty"]),
])
def test_errors(call, words):
    with pytest.raises(ValueError) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


# ---- MLX as an extra oracle ------------------------------------------------------------

def test_against_mlx():
    mlx = pytest.importorskip("mlx.core")
    x, w = randn(2, 7, 6, 4), randn(6, 3, 2, 2)
    for name, kw in [("conv2d", dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
                     ("conv_transpose2d", dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2)),
                     ("conv_general", dict(stride=[1, 2], padding=([1, 0], [0, 2]), kernel_dilation=[2, 1],
                                           input_dilation=[1, 2], groups=2, flip=True))]:
        got = getattr(mx, name)(mx.array(x), mx.array(w), **kw)
        want = getattr(mlx, name)(mlx.array(x), mlx.array(w), **kw)
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-4, atol=1e-4)
    a, v = randn(9), randn(4)
    for mode in ["full", "same", "valid"]:
        np.testing.assert_allclose(np.array(mx.convolve(mx.array(v), mx.array(a), mode)),
                                   np.array(mlx.convolve(mlx.array(v), mlx.array(a), mode)), rtol=1e-5, atol=1e-5)
