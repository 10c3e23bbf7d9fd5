"""Quantization (quantize, dequantize, quantized_matmul, gather_qmm, to_fp8, from_fp8) against a
NumPy reference of the formulas written here, plus extra checks against MLX where installed."""
import numpy as np
import pytest

import lazuli.core as mx

AFFINE = [(gs, bits) for bits in (2, 3, 4, 5, 6, 8) for gs in (32, 64, 128)]
FP_MODES = [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)]
ALL = [("affine", gs, bits) for gs, bits in AFFINE] + FP_MODES
FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], np.float32)


# ---- the reference ---------------------------------------------------------------------

def pack(codes, bits):
    """Codes (..., K) as uint32 words: each row one little-endian bit stream, lowest bits first."""
    codes = codes.astype(np.uint64)
    stream = (codes[..., None] >> np.arange(bits, dtype=np.uint64)) & 1
    stream = stream.reshape(*codes.shape[:-1], -1, 32)
    return (stream << np.arange(32, dtype=np.uint64)).sum(-1).astype(np.uint32)


def unpack(words, bits):
    words = words.astype(np.uint64)
    stream = (words[..., None] >> np.arange(32, dtype=np.uint64)) & 1
    stream = stream.reshape(*words.shape[:-1], -1, bits)
    return (stream << np.arange(bits, dtype=np.uint64)).sum(-1)


def e4m3_encode(x):
    """Nearest e4m3 code, ties to even; |x| >= 464, inf and NaN saturate to +-448 (MLX)."""
    x = np.asarray(x, np.float32)
    sign = np.signbit(x).astype(np.uint8) << 7
    a = np.abs(x).astype(np.float64)
    sat = ~(a < 464)
    sub = a < 2.0**-6
    e = np.floor(np.log2(np.where(sub | sat, 1.0, a)))
    normal = (e + 7) * 8 + np.rint(a / 2.0**e * 8) - 8
    code = np.where(sat, 0x7E, np.where(sub, np.rint(a * 512), normal))
    return code.astype(np.uint8) | sign


def e4m3_decode(c):
    c = np.asarray(c).astype(np.int64)
    e, m = (c >> 3) & 15, c & 7
    mag = np.where(e == 0, m * 2.0**-9, (8 + m) * 2.0 ** (e - 10))
    return np.where(c & 0x80, -mag, mag)


def e8m0_decode(c):
    c = np.asarray(c).astype(np.float64)
    return np.where(c == 0, 2.0**-127, 2.0 ** (c - 127))


def fp4_encode(v):
    """MLX's rule: the first entry of the e2m1 table nearest to v."""
    return np.argmin(np.abs(v[..., None] - FP4), -1)


def ref_quantize(w, mode, gs, bits, global_scale=None):
    w = np.asarray(w, np.float32)
    g = w.reshape(-1, gs)
    if mode == "affine":
        n_bins = np.float32(2**bits - 1)
        hi, lo = g.max(1), g.min(1)
        low_edge = np.abs(lo) > np.abs(hi)
        scale = np.maximum((hi - lo) / n_bins, np.float32(1e-7))
        scale = np.where(low_edge, scale, -scale)
        edge = np.where(low_edge, lo, hi)
        q0 = np.rint(edge / scale)
        nz = q0 != 0
        scale = np.where(nz, edge / np.where(nz, q0, 1), scale).astype(np.float32)
        bias = np.where(nz, edge, 0).astype(np.float32)
        q = np.clip(np.rint((g - bias[:, None]) / scale[:, None]), 0, n_bins)
        shape = w.shape[:-1] + (-1,)
        return pack(q.reshape(w.shape), bits), scale.reshape(shape), bias.reshape(shape)
    amax = np.abs(g).max(1)
    if mode == "nvfp4":
        enc = np.float32(448 * 6) / np.float32(global_scale) if global_scale else np.float32(1)
        code = e4m3_encode(amax / np.float32(6) * enc)
        scale = (e4m3_decode(code).astype(np.float32) / enc).astype(np.float32)
    else:
        s = amax / np.float32(6 if bits == 4 else 448)
        f, e = np.frexp(s)
        e = np.where(s == 0, 0, np.where(f == 0.5, e - 1, e))  # rounded up to a power of two
        code = (e + 127).astype(np.uint8)
        scale = np.ldexp(np.float32(1), e).astype(np.float32)
    v = np.where(scale[:, None] != 0, g / np.where(scale == 0, 1, scale)[:, None], 0).astype(np.float32)
    q = fp4_encode(v) if bits == 4 else e4m3_encode(v)
    return pack(q.reshape(w.shape), bits), code.reshape(w.shape[:-1] + (-1,))


def ref_dequantize(wq, scales, biases, mode, gs, bits, global_scale=None):
    q = unpack(np.asarray(wq), bits)
    if mode == "affine":
        s = np.repeat(np.asarray(scales, np.float32), gs, -1)
        b = np.repeat(np.asarray(biases, np.float32), gs, -1)
        return q.astype(np.float32) * s + b
    vals = FP4[q] if bits == 4 else e4m3_decode(q)
    sc = e4m3_decode(scales) if mode == "nvfp4" else e8m0_decode(scales)
    if global_scale is not None:
        sc = sc * global_scale / (448 * 6)
    return vals * np.repeat(sc, gs, -1)


def q_args(q, mode, gs, bits):
    biases = q[2] if mode == "affine" else None
    return dict(biases=biases, group_size=gs, bits=bits, mode=mode)


def weights(shape, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


# ---- quantize / dequantize -------------------------------------------------------------

@pytest.mark.parametrize("mode,gs,bits", ALL)
def test_quantize_matches_reference_bit_for_bit(mode, gs, bits):
    w = weights((6, 256), 1, -3, 2)
    w[0, :gs] = 0  # an all-zero group
    got = mx.quantize(mx.array(w), gs, bits, mode)
    want = ref_quantize(w, mode, gs, bits)
    assert len(got) == len(want) == (3 if mode == "affine" else 2)
    assert got[0].dtype == mx.uint32 and got[0].shape == (6, 256 * bits // 32)
    np.testing.assert_array_equal(np.array(got[0]), want[0])
    for g, r in zip(got[1:], want[1:]):
        assert g.dtype == (mx.float32 if mode == "affine" else mx.uint8)
        np.testing.assert_array_equal(np.array(g), r)


@pytest.mark.parametrize("mode,gs,bits", ALL)
def test_dequantize_matches_reference_and_round_trips(mode, gs, bits):
    w = weights((4, 3, 128), 2, -2, 2)
    q = mx.quantize(mx.array(w), gs, bits, mode)
    got = mx.dequantize(q[0], q[1], dtype=mx.float32, **{k: v for k, v in q_args(q, mode, gs, bits).items()})
    want = ref_dequantize(q[0], q[1], q[2] if mode == "affine" else None, mode, gs, bits)
    assert got.shape == w.shape
    np.testing.assert_allclose(np.array(got), want, rtol=1e-6, atol=1e-6)
    err = np.abs(np.array(got) - w)
    if mode == "affine":
        step = np.repeat(np.abs(np.array(q[1])), gs, -1)
        assert np.all(err <= 1.5 * step + 1e-6)  # half a step, plus MLX's zero-on-a-code shift
        assert err.mean() < 0.4 * step.mean()  # uniform rounding alone: 0.25
    else:
        amax = np.repeat(np.abs(w.reshape(4, 3, -1, gs)).max(-1), gs, -1)
        assert np.all(err <= (0.07 if bits == 8 else 0.26) * amax + 1e-7)


def test_dequantize_dtypes_and_defaults():
    w = weights((2, 64), 3)
    q = mx.quantize(mx.array(w))  # affine, group 64, 4 bits
    assert [a.shape for a in q] == [(2, 8), (2, 1), (2, 1)]
    assert mx.dequantize(*q).dtype == mx.float32
    assert mx.dequantize(*q, dtype=mx.float16).dtype == mx.float16
    fq = mx.quantize(mx.array(w), mode="mxfp4")
    assert fq[1].dtype == mx.uint8 and fq[1].shape == (2, 2)
    assert mx.dequantize(fq[0], fq[1], mode="mxfp4").dtype == mx.bfloat16
    for t in (mx.float16, mx.bfloat16):
        qt = mx.quantize(mx.array(w).astype(t), 32, 8)
        assert qt[1].dtype == t
        back = mx.dequantize(*qt, group_size=32, bits=8)
        assert back.dtype == t
        np.testing.assert_allclose(np.array(back.astype(mx.float32)), w, atol=0.02)


def test_quantize_non_contiguous_and_batched_inputs():
    w = weights((128, 6), 4)
    wt = mx.array(w).T  # a transposed view
    got = mx.quantize(wt, 32, 5)
    want = ref_quantize(np.ascontiguousarray(w.T), "affine", 32, 5)
    for g, r in zip(got, want):
        np.testing.assert_array_equal(np.array(g), r)
    wb = weights((2, 3, 64), 5)
    got = mx.quantize(mx.array(wb)[:, ::2], 64, 6)
    want = ref_quantize(wb[:, ::2], "affine", 64, 6)
    for g, r in zip(got, want):
        np.testing.assert_array_equal(np.array(g), r)


def test_nvfp4_global_scale():
    w = weights((3, 64), 6, -30, 30)
    gscale = float(np.abs(w).max())
    q = mx.quantize(mx.array(w), mode="nvfp4", global_scale=mx.array(gscale))
    want = ref_quantize(w, "nvfp4", 16, 4, global_scale=gscale)
    np.testing.assert_array_equal(np.array(q[0]), want[0])
    np.testing.assert_array_equal(np.array(q[1]), want[1])
    back = mx.dequantize(q[0], q[1], mode="nvfp4", dtype=mx.float32, global_scale=mx.array(gscale))
    np.testing.assert_allclose(np.array(back), ref_dequantize(q[0], q[1], None, "nvfp4", 16, 4, gscale), rtol=1e-6)
    amax = np.repeat(np.abs(w.reshape(3, -1, 16)).max(-1), 16, -1)
    assert np.all(np.abs(np.array(back) - w) <= 0.2 * amax)


def test_empty_rows():
    q = mx.quantize(mx.zeros((0, 64)))
    assert [a.shape for a in q] == [(0, 8), (0, 1), (0, 1)]
    assert mx.dequantize(*q).shape == (0, 64)
    w = mx.quantize(mx.array(weights((8, 64), 7)))
    assert mx.quantized_matmul(mx.zeros((0, 64)), *w).shape == (0, 8)


# ---- quantized_matmul ------------------------------------------------------------------

def dense(q, mode, gs, bits):
    return ref_dequantize(q[0], q[1], q[2] if mode == "affine" else None, mode, gs, bits).astype(np.float64)


@pytest.mark.parametrize("mode,gs,bits", ALL)
@pytest.mark.parametrize("rows", [1, 5, 33])
def test_quantized_matmul_both_transposes(mode, gs, bits, rows):
    q = mx.quantize(mx.array(weights((40, 256), 8)), gs, bits, mode)
    wd = dense(q, mode, gs, bits)
    x = weights((rows, 256), 9)
    y = mx.quantized_matmul(mx.array(x), q[0], q[1], transpose=True, **q_args(q, mode, gs, bits))
    assert y.shape == (rows, 40) and y.dtype == mx.float32
    np.testing.assert_allclose(np.array(y), x @ wd.T, rtol=1e-4, atol=1e-4)
    x2 = weights((rows, 40), 10)
    y2 = mx.quantized_matmul(mx.array(x2), q[0], q[1], transpose=False, **q_args(q, mode, gs, bits))
    assert y2.shape == (rows, 256)
    np.testing.assert_allclose(np.array(y2), x2 @ wd, rtol=1e-4, atol=1e-4)


def test_quantized_matmul_batches_views_and_dtypes():
    q = mx.quantize(mx.array(weights((16, 128), 11)), 64, 4)
    wd = dense(q, "affine", 64, 4)
    xs = weights((2, 3, 128), 12)
    np.testing.assert_allclose(np.array(mx.quantized_matmul(mx.array(xs), *q)), xs @ wd.T, rtol=1e-4, atol=1e-4)
    v = weights((128,), 13)
    y = mx.quantized_matmul(mx.array(v), *q)
    assert y.shape == (16,)
    np.testing.assert_allclose(np.array(y), v @ wd.T, rtol=1e-4, atol=1e-4)
    # Non-contiguous x: a transposed view and a strided slice.
    xt = weights((128, 4), 14)
    np.testing.assert_allclose(np.array(mx.quantized_matmul(mx.array(xt).T, *q)), xt.T @ wd.T, rtol=1e-4, atol=1e-4)
    xb = weights((6, 128), 15)
    np.testing.assert_allclose(np.array(mx.quantized_matmul(mx.array(xb)[::2], *q)), xb[::2] @ wd.T, rtol=1e-4,
                               atol=1e-4)
    # Half x: the result has x's (promoted) dtype.
    qh = [q[0], q[1].astype(mx.float16), q[2].astype(mx.float16)]
    yh = mx.quantized_matmul(mx.array(xb).astype(mx.float16), *qh)
    assert yh.dtype == mx.float16
    np.testing.assert_allclose(np.array(yh.astype(mx.float32)), xb @ wd.T, rtol=1e-2, atol=2e-2)
    # Batched weights broadcast against batched x.
    w3 = weights((3, 8, 64), 16)
    q3 = mx.quantize(mx.array(w3), 32, 8)
    wd3 = dense(q3, "affine", 32, 8)
    x3 = weights((2, 1, 5, 64), 17)
    y3 = mx.quantized_matmul(mx.array(x3), q3[0], q3[1], q3[2], group_size=32, bits=8)
    assert y3.shape == (2, 3, 5, 8)
    np.testing.assert_allclose(np.array(y3), x3 @ np.swapaxes(wd3, -1, -2), rtol=1e-4, atol=1e-4)


# ---- gather_qmm ------------------------------------------------------------------------

@pytest.mark.parametrize("mode,gs,bits", [("affine", 32, 4), ("affine", 64, 3), ("mxfp4", 32, 4), ("nvfp4", 16, 4)])
def test_gather_qmm_index_broadcasting(mode, gs, bits):
    w = weights((4, 8, 64), 18)
    q = mx.quantize(mx.array(w), gs, bits, mode)
    wd = dense(q, mode, gs, bits)
    x = weights((3, 2, 64), 19)
    lhs = np.array([[0], [2]], np.uint32)  # (2, 1) against (3,): a (2, 3) grid
    rhs = np.array([3, 0, 1], np.int32)
    y = mx.gather_qmm(mx.array(x), q[0], q[1], lhs_indices=mx.array(lhs), rhs_indices=mx.array(rhs),
                      **q_args(q, mode, gs, bits))
    assert y.shape == (2, 3, 2, 8)
    want = np.stack([np.stack([x[l[0]] @ wd[r].T for r in rhs]) for l in lhs])
    np.testing.assert_allclose(np.array(y), want, rtol=1e-4, atol=1e-4)
    # Only rhs given: lhs defaults to x's own batch order.
    y2 = mx.gather_qmm(mx.array(x), q[0], q[1], rhs_indices=mx.array(rhs), **q_args(q, mode, gs, bits))
    np.testing.assert_allclose(np.array(y2), np.stack([x[i] @ wd[r].T for i, r in enumerate(rhs)]), rtol=1e-4,
                               atol=1e-4)
    # transpose=False with sorted indices (a hint).
    x3 = weights((1, 2, 8), 20)
    y3 = mx.gather_qmm(mx.array(x3), q[0], q[1], rhs_indices=mx.array([1, 1, 2]), transpose=False,
                       sorted_indices=True, **q_args(q, mode, gs, bits))
    np.testing.assert_allclose(np.array(y3), np.stack([x3[0] @ wd[r] for r in (1, 1, 2)]), rtol=1e-4, atol=1e-4)
    # Without indices it is quantized_matmul over the shared batch axes.
    x4 = weights((4, 2, 64), 21)
    y4 = mx.gather_qmm(mx.array(x4), q[0], q[1], **q_args(q, mode, gs, bits))
    np.testing.assert_allclose(np.array(y4), x4 @ np.swapaxes(wd, -1, -2), rtol=1e-4, atol=1e-4)


def test_gather_qmm_out_of_range_index_raises():
    q = mx.quantize(mx.array(weights((2, 8, 64), 21)))
    with pytest.raises(IndexError):
        mx.eval(mx.gather_qmm(mx.array(weights((1, 1, 64), 22)), *q, rhs_indices=mx.array([2])))


# ---- fp8 -------------------------------------------------------------------------------

def test_fp8_conversion_matches_reference():
    rng = np.random.default_rng(23)
    x = np.concatenate([
        rng.standard_normal(2000).astype(np.float32) * 10.0 ** rng.integers(-4, 3, 2000),
        np.array([0, -0.0, 448, 464, 463.9, 1e9, -1e9, np.inf, -np.inf, 2.0**-9, 2.0**-10, 3 * 2.0**-11, 17, 19],
                 np.float32),
    ])
    c = mx.to_fp8(mx.array(x))
    assert c.dtype == mx.uint8
    np.testing.assert_array_equal(np.array(c), e4m3_encode(x))
    codes = np.arange(256, dtype=np.uint8)
    d = mx.from_fp8(mx.array(codes), mx.float32)
    np.testing.assert_array_equal(np.array(d), e4m3_decode(codes).astype(np.float32))
    assert mx.from_fp8(mx.array(codes)).dtype == mx.bfloat16
    assert mx.to_fp8(mx.array(x).astype(mx.float16)).dtype == mx.uint8
    # A transposed view converts like its copy.
    m = x[:2000].reshape(40, 50)
    np.testing.assert_array_equal(np.array(mx.to_fp8(mx.array(m).T)), e4m3_encode(m.T))


# ---- errors ----------------------------------------------------------------------------

def test_errors_are_value_errors_naming_the_op():
    w = mx.array(weights((4, 64), 24))
    q = mx.quantize(w)
    fq = mx.quantize(w, mode="mxfp4")
    cases = [
        (lambda: mx.quantize(w, 48), r"\[quantize\].*group size 48"),
        (lambda: mx.quantize(w, 64, 7), r"\[quantize\].*bits 7"),
        (lambda: mx.quantize(w, mode="int4"), r"\[quantize\] Invalid quantization mode 'int4'"),
        (lambda: mx.quantize(w, 16, mode="mxfp4"), r"requires group size 32 but got 16"),
        (lambda: mx.quantize(w, 16, 8, mode="nvfp4"), r"requires bits to be 4 but got 8"),
        (lambda: mx.quantize(mx.array(weights((2, 96), 1))), r"divisible by the quantization group size 64"),
        (lambda: mx.quantize(mx.array([[1, 2]])), r"\[quantize\].*int32"),
        (lambda: mx.quantize(mx.array(weights((64,), 1))), r"at least 2 dimensions"),
        (lambda: mx.quantize(w, mode="mxfp4", global_scale=mx.array(1.0)), r"global_scale is only supported"),
        (lambda: mx.dequantize(q[0], q[1]), r"\[dequantize\] Biases must be provided"),
        (lambda: mx.dequantize(q[0], q[1], q[2], group_size=32), r"\[dequantize\] Shape of scales"),
        (lambda: mx.dequantize(q[0], q[1][:, :0], q[2]), r"\[dequantize\] Shape of scales"),
        (lambda: mx.dequantize(q[0].astype(mx.int32), q[1], q[2]), r"should be uint32"),
        (lambda: mx.dequantize(*q, dtype=mx.int32), r"\[dequantize\].*int32"),
        (lambda: mx.dequantize(*fq, fq[1], mode="mxfp4"), r"\[dequantize\] Biases must be None for 'mxfp4'"),
        (lambda: mx.dequantize(fq[0], fq[1].astype(mx.float32), mode="mxfp4"), r"scales must be uint8"),
        (lambda: mx.quantized_matmul(mx.zeros((2, 32)), *q), r"\[quantized_matmul\] Last dimension of x"),
        (lambda: mx.quantized_matmul(mx.zeros((2, 64)), q[0], q[1], q[2][:, :0]), r"\[quantized_matmul\]"),
        (lambda: mx.quantized_matmul(mx.zeros((2, 64), mx.int32), *mx.quantize(w, mode="mxfp4"), mode="mxfp4"),
         r"\[quantized_matmul\].*int32"),
        (lambda: mx.gather_qmm(mx.zeros((1, 2, 64)), *q, rhs_indices=mx.array([0.5])), r"\[gather_qmm\].*indices"),
        (lambda: mx.gather_qmm(mx.zeros((64,)), *q, rhs_indices=mx.array([0])), r"\[gather_qmm\].*2 dimensions"),
        (lambda: mx.to_fp8(mx.array([1, 2])), r"\[to_fp8\].*int32"),
        (lambda: mx.from_fp8(mx.array([1.0])), r"\[from_fp8\] Input must have type uint8"),
        (lambda: mx.from_fp8(mx.array([1], mx.uint8), mx.int32), r"\[from_fp8\].*int32"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            mx.eval(fn())


# ---- gradients and vmap ----------------------------------------------------------------

def finite_difference(f, x, h=1e-2):
    x = np.array(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_grad_with_respect_to_x_scales_and_biases():
    q = mx.quantize(mx.array(weights((6, 64), 25)), 32, 4)
    x = weights((2, 64), 26)
    u = weights((2, 6), 27)

    def loss(x_, s_, b_):
        return mx.sum(mx.quantized_matmul(x_, q[0], s_, b_, group_size=32) * mx.array(u))

    def at(which):
        def f(v):
            args = [mx.array(x), q[1], q[2]]
            args[which] = mx.array(v.astype(np.float32))
            return loss(*args).item()
        return f

    gx, gs, gb = mx.grad(loss, argnums=(0, 1, 2))(mx.array(x), q[1], q[2])
    np.testing.assert_allclose(np.array(gx), finite_difference(at(0), x), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(np.array(gs), finite_difference(at(1), np.array(q[1])), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(np.array(gb), finite_difference(at(2), np.array(q[2])), rtol=1e-2, atol=1e-2)
    # transpose=False, through vjp.
    x2 = weights((3, 6), 28)
    _, (g2,) = mx.vjp(lambda a: [mx.quantized_matmul(a, *q, transpose=False, group_size=32)], [mx.array(x2)],
                      [mx.ones((3, 64))])
    wd = dense(q, "affine", 32, 4)
    np.testing.assert_allclose(np.array(g2), np.ones((3, 64)) @ wd.T, rtol=1e-4, atol=1e-4)


def test_gradient_through_the_codes_is_an_error():
    q = mx.quantize(mx.array(weights((6, 64), 29)))
    with pytest.raises(ValueError, match=r"\[quantized_matmul\] Cannot compute the gradient with respect to the "
                                         r"quantized matrix"):
        mx.grad(lambda wf: mx.sum(mx.quantized_matmul(mx.ones((1, 64)), wf.astype(mx.uint32), q[1], q[2])))(
            q[0].astype(mx.float32))


def test_dequantize_grad_and_gather_qmm_grad():
    q = mx.quantize(mx.array(weights((3, 64), 30)), 32, 8)
    g = mx.grad(lambda b: mx.sum(mx.dequantize(q[0], q[1], b, group_size=32, bits=8) ** 2))(q[2])
    wd = dense(q, "affine", 32, 8)
    np.testing.assert_allclose(np.array(g), (2 * wd).reshape(3, 2, 32).sum(-1), rtol=1e-4, atol=1e-5)
    qe = mx.quantize(mx.array(weights((3, 5, 64), 31)), 64, 4)
    wde = dense(qe, "affine", 64, 4)
    x = weights((2, 1, 64), 32)
    lhs, rhs = np.array([0, 1, 1]), np.array([2, 2, 0])
    gx = mx.grad(lambda a: mx.sum(mx.gather_qmm(a, *qe, lhs_indices=mx.array(lhs), rhs_indices=mx.array(rhs))))(
        mx.array(x))
    want = np.zeros_like(x, np.float64)
    for l, r in zip(lhs, rhs):
        want[l] += wde[r].sum(0)
    np.testing.assert_allclose(np.array(gx), want, rtol=1e-4, atol=1e-4)


def test_vmap_over_x_and_over_weights():
    w = weights((3, 8, 64), 33)
    q = mx.quantize(mx.array(w), 32, 4)
    x = weights((3, 2, 64), 34)
    f = lambda a, b, c, d: mx.quantized_matmul(a, b, c, d, group_size=32)
    got = mx.vmap(f, in_axes=(0, 0, 0, 0))(mx.array(x), *q)
    want = np.stack([np.array(f(mx.array(x[i]), q[0][i], q[1][i], q[2][i])) for i in range(3)])
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-5)
    got_x = mx.vmap(f, in_axes=(0, None, None, None))(mx.array(x), q[0][0], q[1][0], q[2][0])
    np.testing.assert_allclose(np.array(got_x), np.array(f(mx.array(x), q[0][0], q[1][0], q[2][0])), rtol=1e-6)
    deq = mx.vmap(lambda s: mx.dequantize(q[0][0], s, q[2][0], group_size=32))(q[1])
    assert deq.shape == (3, 8, 64)
    qv = mx.vmap(lambda a: mx.quantize(a, 32, 4)[0])(mx.array(w))
    np.testing.assert_array_equal(np.array(qv), np.array(q[0]))


# ---- extra checks against MLX 0.29.3 ----------------------------------------------------

@pytest.mark.parametrize("gs,bits", AFFINE)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_affine_words_match_mlx(gs, bits, dtype):
    mlx = pytest.importorskip("mlx.core")
    w = weights((8, 256), 35, -3, 2)
    ours = mx.quantize(mx.array(w).astype(getattr(mx, dtype)), gs, bits)
    theirs = mlx.quantize(mlx.array(w).astype(getattr(mlx, dtype)), gs, bits)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.array(a.astype(mx.float32) if a.dtype != mx.uint32 else a),
                                      np.array(b.astype(mlx.float32) if b.dtype != mlx.uint32 else b))
    if dtype == "float32":  # s * q + b, rounded twice, as MLX computes it
        np.testing.assert_array_equal(np.array(mx.dequantize(*ours, group_size=gs, bits=bits)),
                                      np.array(mlx.dequantize(*theirs, group_size=gs, bits=bits)))
    x = weights((3, 256), 36)
    y = mx.quantized_matmul(mx.array(x), *mx.quantize(mx.array(w), gs, bits), group_size=gs, bits=bits)
    t = mlx.quantize(mlx.array(w), gs, bits)
    yr = mlx.quantized_matmul(mlx.array(x), *t, group_size=gs, bits=bits)
    np.testing.assert_allclose(np.array(y), np.array(yr), rtol=1e-4, atol=1e-4)


def test_mxfp4_matches_mlx_where_the_scale_rules_agree():
    # MLX 0.29.3 picks the e8m0 exponent by truncating log2(amax / 6) toward zero; we round it up
    # (no value saturates). For groups with amax <= 6 the two agree, and so must every word.
    mlx = pytest.importorskip("mlx.core")
    rng = np.random.default_rng(37)
    w = (rng.uniform(-1, 1, (16, 256)) * rng.uniform(1e-3, 6, (16, 1))).astype(np.float32)
    w[0, :32] = np.tile(np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, -0.25, -0.75, -2.5, -5, 0, -0.0, 6, -6, 4],
                                 np.float32), 2)  # exact ties between e2m1 values
    ours = mx.quantize(mx.array(w), 32, 4, "mxfp4")
    theirs = mlx.quantize(mlx.array(w), 32, 4, "mxfp4")
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    # Their words and scales (whatever the scale rule) dequantize and multiply alike here.
    big = weights((8, 64), 38, -50, 50)
    t = mlx.quantize(mlx.array(big), 32, 4, "mxfp4")
    wq, sc = mx.array(np.array(t[0])), mx.array(np.array(t[1]))
    np.testing.assert_array_equal(np.array(mx.dequantize(wq, sc, mode="mxfp4", dtype=mx.float32)),
                                  np.array(mlx.dequantize(*t, group_size=32, bits=4, mode="mxfp4").astype(mlx.float32)))
    x = weights((2, 64), 39)
    np.testing.assert_allclose(np.array(mx.quantized_matmul(mx.array(x), wq, sc, mode="mxfp4")),
                               np.array(mlx.quantized_matmul(mlx.array(x), *t, group_size=32, bits=4, mode="mxfp4")),
                               rtol=1e-4, atol=1e-3)


def test_gather_qmm_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    w = weights((4, 8, 64), 40)
    x = weights((3, 2, 64), 41)
    lhs, rhs = np.array([[0], [2]], np.uint32), np.array([3, 0, 1], np.uint32)
    ours = mx.gather_qmm(mx.array(x), *mx.quantize(mx.array(w), 32, 4), mx.array(lhs), mx.array(rhs), group_size=32)
    t = mlx.quantize(mlx.array(w), 32, 4)
    theirs = mlx.gather_qmm(mlx.array(x), *t, mlx.array(lhs), mlx.array(rhs), group_size=32)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-4, atol=1e-4)


def test_portable_kernels_agree_with_the_vector_ones(tmp_path):
    # LAZULI_QUANT_NO_SIMD=1 switches off the AVX kernels; the portable ones must agree.
    import os
    import subprocess
    import sys
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, numpy as np, lazuli.core as mx\n"
        "rng = np.random.default_rng(0)\n"
        "w = mx.array(rng.uniform(-1, 1, (24, 256)).astype(np.float32))\n"
        "out = {}\n"
        "for mode, gs, bits in [('affine', 64, 4), ('affine', 32, 8), ('affine', 128, 3), ('mxfp4', 32, 4),"
        " ('nvfp4', 16, 4), ('mxfp8', 32, 8)]:\n"
        "    q = mx.quantize(w, gs, bits, mode)\n"
        "    b = q[2] if mode == 'affine' else None\n"
        "    for rows in (1, 3, 20):\n"
        "        x = mx.array(rng.uniform(-1, 1, (rows, 256)).astype(np.float32))\n"
        "        out[f'{mode}{gs}{bits}q{rows}'] = np.array(mx.quantized_matmul(x, q[0], q[1], b, group_size=gs,"
        " bits=bits, mode=mode))\n"
        "    out[f'{mode}{gs}{bits}w'] = np.array(q[0])\n"
        "    out[f'{mode}{gs}{bits}d'] = np.array(mx.dequantize(q[0], q[1], b, group_size=gs, bits=bits, mode=mode,"
        " dtype=mx.float32))\n"
        "np.savez(sys.argv[1], **out)\n")
    results = []
    for flag in (None, "1"):
        env = dict(os.environ)
        env.pop("LAZULI_QUANT_NO_SIMD", None)
        if flag:
            env["LAZULI_QUANT_NO_SIMD"] = flag
        path = tmp_path / f"out{flag}.npz"
        subprocess.run([sys.executable, str(script), str(path)], env=env, check=True)
        results.append(np.load(path))
    vec, portable = results
    for key in vec.files:
        if key.endswith("w") or key.endswith("d"):
            np.testing.assert_array_equal(vec[key], portable[key], err_msg=key)
        else:
            np.testing.assert_allclose(vec[key], portable[key], rtol=1e-5, atol=1e-5, err_msg=key)
