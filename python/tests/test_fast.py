"""lazuli.core.fast against float64 NumPy references and mlx.core.fast (same inputs), over
dtypes and shapes, with finite-difference gradients and every error path."""
import numpy as np
import pytest

import lazuli.core as mx
from numeric import numerical_grad

mlx = pytest.importorskip("mlx.core")

rng = np.random.default_rng(0)
F32_MIN = np.finfo(np.float32).min


def sample(shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def np_of(x):
    return np.array(x.astype(mx.float32) if x.dtype in (mx.float16, mx.bfloat16) else x)


def mlx_np(x):
    return np.array(x.astype(mlx.float32))


LOW = {"float16": (mx.float16, mlx.float16, 5e-3), "bfloat16": (mx.bfloat16, mlx.bfloat16, 4e-2)}


def both(a, dtype_name="float32"):
    """The same values as a lazuli array and an mlx array of the named dtype."""
    return mx.array(a).astype(getattr(mx, dtype_name)), mlx.array(a).astype(getattr(mlx, dtype_name))


# ---- float64 references ----

def np_rms_norm(x, w, eps):
    x = x.astype(np.float64)
    y = x / np.sqrt((x**2).mean(-1, keepdims=True) + eps)
    return y if w is None else y * w


def np_layer_norm(x, w, b, eps):
    x = x.astype(np.float64)
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    if w is not None:
        y = y * w
    return y if b is None else y + b


def np_rope(x, dims, traditional, base, scale, offset, freqs=None):
    x = x.astype(np.float64)
    half = dims // 2
    inv = 1 / np.asarray(freqs, np.float64) if freqs is not None else base ** (-2 * np.arange(half) / dims)
    off = np.asarray(offset)
    if off.ndim == 1:  # one offset per batch entry
        off = off.reshape((-1,) + (1,) * (x.ndim - 2))
    theta = ((np.arange(x.shape[-2]) + off) * scale)[..., None] * inv
    c, s = np.cos(theta), np.sin(theta)
    first, second = (np.s_[..., 0:dims:2], np.s_[..., 1:dims:2]) if traditional else \
        (np.s_[..., :half], np.s_[..., half:dims])
    out = x.copy()
    out[first] = x[first] * c - x[second] * s
    out[second] = x[first] * s + x[second] * c
    return out


def np_sdpa(q, k, v, scale, mask=None, sinks=None):
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    rep = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = q @ k.swapaxes(-1, -2) * scale
    q_len, k_len = s.shape[-2:]
    if isinstance(mask, str):
        first = max(k_len - q_len, 0)
        mask = np.arange(first, first + q_len)[:, None] >= np.arange(k_len)[None]
    if mask is not None and mask.dtype == bool:
        s = np.where(mask, s, F32_MIN)
    elif mask is not None:
        s = s + mask
    if sinks is not None:
        sink = np.broadcast_to(np.asarray(sinks, np.float64)[None, :, None, None], s.shape[:-1] + (1,))
        s = np.concatenate([sink, s], -1)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if sinks is not None:
        p = p[..., 1:]
    return p @ v


# ---- rms_norm and layer_norm ----

@pytest.mark.parametrize("shape", [(2, 3, 8), (5,), (0, 4)])
@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm_float32(shape, weighted):
    x = sample(shape)
    w = sample(shape[-1:]) if weighted else None
    got = mx.fast.rms_norm(mx.array(x), None if w is None else mx.array(w), 1e-5)
    assert got.dtype == mx.float32 and got.shape == shape
    np.testing.assert_allclose(np.array(got), np_rms_norm(x, w, 1e-5), rtol=1e-5, atol=1e-5)
    ref = mlx.fast.rms_norm(mlx.array(x), None if w is None else mlx.array(w), 1e-5)
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 8), (7,), (0, 4)])
@pytest.mark.parametrize("affine", [(False, False), (True, False), (False, True), (True, True)])
def test_layer_norm_float32(shape, affine):
    x = sample(shape)
    w = sample(shape[-1:]) if affine[0] else None
    b = sample(shape[-1:]) if affine[1] else None
    lz = [None if a is None else mx.array(a) for a in (w, b)]
    got = mx.fast.layer_norm(mx.array(x), *lz, 1e-4)
    np.testing.assert_allclose(np.array(got), np_layer_norm(x, w, b, 1e-4), rtol=1e-5, atol=1e-5)
    ref = mlx.fast.layer_norm(mlx.array(x), *[None if a is None else mlx.array(a) for a in (w, b)], 1e-4)
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_norms_low_precision_match_mlx(name):
    _, _, tol = LOW[name]
    x, w, b = sample((4, 64)) * 3 + 1, sample((64,)), sample((64,))
    (lx, mxx), (lw, mw), (lb, mb) = both(x, name), both(w, name), both(b, name)
    got = mx.fast.rms_norm(lx, lw, 1e-5)
    assert got.dtype == lx.dtype
    np.testing.assert_allclose(np_of(got), mlx_np(mlx.fast.rms_norm(mxx, mw, 1e-5)), rtol=tol, atol=tol)
    got = mx.fast.layer_norm(lx, lw, lb, 1e-5)
    assert got.dtype == lx.dtype
    np.testing.assert_allclose(np_of(got), mlx_np(mlx.fast.layer_norm(mxx, mw, mb, 1e-5)), rtol=tol, atol=tol)
    # Mixed: a float32 weight makes the result float32 (the normalised x is rounded first).
    got = mx.fast.rms_norm(lx, mx.array(w), 1e-5)
    assert got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), np.array(mlx.fast.rms_norm(mxx, mlx.array(w), 1e-5)),
                               rtol=1e-6, atol=1e-6)


def test_norms_keep_float64():
    x = sample((3, 5)).astype(np.float64)
    got = mx.fast.layer_norm(mx.array(x, dtype=mx.float64), None, None, 1e-5)
    assert got.dtype == mx.float64
    np.testing.assert_allclose(np.array(got), np_layer_norm(x, None, None, 1e-5), rtol=1e-12, atol=1e-12)
    got = mx.fast.rms_norm(mx.array(x, dtype=mx.float64), None, 1e-5)
    np.testing.assert_allclose(np.array(got), np_rms_norm(x, None, 1e-5), rtol=1e-12, atol=1e-12)


def test_norm_gradients():
    x, w, b = sample((3, 6)).astype(np.float64), sample((6,)).astype(np.float64), sample((6,)).astype(np.float64)
    cot = sample((3, 6)).astype(np.float64)
    f64 = lambda a: mx.array(a, dtype=mx.float64)  # noqa: E731

    def rms(x_, w_):
        return mx.sum(mx.fast.rms_norm(x_, w_, 1e-5) * f64(cot))

    def ln(x_, w_, b_):
        return mx.sum(mx.fast.layer_norm(x_, w_, b_, 1e-5) * f64(cot))

    gx, gw = mx.grad(rms, argnums=(0, 1))(f64(x), f64(w))
    np.testing.assert_allclose(np.array(gx), numerical_grad(lambda a: rms(f64(a), f64(w)).item(), x, 1e-6),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(gw), numerical_grad(lambda a: rms(f64(x), f64(a)).item(), w, 1e-6),
                               rtol=1e-6, atol=1e-7)
    grads = mx.grad(ln, argnums=(0, 1, 2))(f64(x), f64(w), f64(b))
    args = [x, w, b]
    for i, g in enumerate(grads):
        def f(a, i=i):
            return ln(*[f64(a if j == i else args[j]) for j in range(3)]).item()
        np.testing.assert_allclose(np.array(g), numerical_grad(f, args[i], 1e-6), rtol=1e-6, atol=1e-7)


def test_norm_errors():
    x = mx.ones((2, 4))
    cases = [
        (lambda: mx.fast.rms_norm(mx.array(1.0), None, 1e-5), "rms_norm.*at least 1 dimension"),
        (lambda: mx.fast.rms_norm(x, mx.ones((1, 4)), 1e-5), r"rms_norm.*weight must have 1 dimension.*\(1, 4\)"),
        (lambda: mx.fast.rms_norm(x, mx.ones((5,)), 1e-5), r"rms_norm.*last axis of x \(4\).*5 elements"),
        (lambda: mx.fast.rms_norm(x.astype(mx.int32), None, 1e-5), "rms_norm.*unsupported type int32"),
        (lambda: mx.fast.layer_norm(mx.array(1.0), None, None, 1e-5), "layer_norm.*at least 1 dimension"),
        (lambda: mx.fast.layer_norm(x, mx.ones((4, 1)), None, 1e-5), "layer_norm.*weight must have 1 dimension"),
        (lambda: mx.fast.layer_norm(x, None, mx.ones((3,)), 1e-5), r"layer_norm.*bias.*\(4\).*3 elements"),
        (lambda: mx.fast.layer_norm(x.astype(mx.int32), None, None, 1e-5), "layer_norm.*unsupported type"),
    ]
    for f, msg in cases:
        with pytest.raises(ValueError, match=msg):
            f()


# ---- rope ----

ROPE_CASES = [
    # shape, dims, traditional, base, scale, offset, freqs
    ((2, 3, 5, 8), 8, False, 10000.0, 1.0, 0, None),
    ((2, 3, 5, 8), 8, True, 10000.0, 1.0, 3, None),
    ((2, 3, 5, 8), 4, False, 500.0, 0.5, 7, None),
    ((2, 3, 5, 8), 6, True, 10000.0, 2.0, 1, None),
    ((4, 6, 16), 16, False, 10000.0, 1.0, 2, None),  # 3-d: (batch, sequence, features)
    ((2, 2, 3, 4, 6), 4, True, 100.0, 1.0, 0, None),  # 5-d
    ((2, 3, 5, 8), 8, False, None, 1.0, 2, "freqs"),
    ((2, 3, 5, 8), 4, True, None, 0.25, 0, "freqs"),
    ((3, 2, 4, 8), 8, False, 10000.0, 1.0, [0, 5, 9], None),  # one offset per batch entry
    ((3, 4, 8), 6, True, 10000.0, 1.0, [2, 0, 4], None),
    ((3, 2, 4, 8), 8, False, 10000.0, 1.0, [4], None),
    ((2, 3, 5, 8), 8, False, 10000.0, 1.0, -3, None),
    ((2, 1, 0, 8), 8, False, 10000.0, 1.0, 0, None),  # empty sequence
    ((2, 1, 3, 8), 0, False, 10000.0, 1.0, 0, None),  # nothing rotated
]


@pytest.mark.parametrize("shape,dims,traditional,base,scale,offset,freqs", ROPE_CASES)
def test_rope_float32(shape, dims, traditional, base, scale, offset, freqs):
    x = sample(shape)
    f = np.exp(rng.uniform(0, 4, dims // 2)).astype(np.float32) if freqs else None
    kw = dict(traditional=traditional, base=base, scale=scale)
    lz_off = mx.array(offset) if isinstance(offset, list) else offset
    ml_off = mlx.array(offset) if isinstance(offset, list) else offset
    got = mx.fast.rope(mx.array(x), dims, offset=lz_off, freqs=None if f is None else mx.array(f), **kw)
    assert got.shape == shape and got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), np_rope(x, dims, traditional, base, scale, offset, f),
                               rtol=2e-5, atol=2e-5)
    if dims > 0:  # MLX's own dims = 0 path is not a rotation to compare with
        ref = mlx.fast.rope(mlx.array(x), dims, offset=ml_off, freqs=None if f is None else mlx.array(f), **kw)
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=2e-5, atol=2e-5)


def test_rope_array_scalar_offset_equals_int():
    x = mx.array(sample((1, 2, 4, 8)))
    a = mx.fast.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=mx.array(3))
    b = mx.fast.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=3)
    np.testing.assert_array_equal(np.array(a), np.array(b))


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize("traditional", [False, True])
def test_rope_low_precision_match_mlx(name, traditional):
    _, _, tol = LOW[name]
    x = sample((2, 4, 16, 32))
    lx, mxx = both(x, name)
    got = mx.fast.rope(lx, 24, traditional=traditional, base=1e4, scale=1.0, offset=5)
    ref = mlx.fast.rope(mxx, 24, traditional=traditional, base=1e4, scale=1.0, offset=5)
    assert got.dtype == lx.dtype
    np.testing.assert_allclose(np_of(got), mlx_np(ref), rtol=tol, atol=2 * tol)


def test_rope_gradient():
    x = sample((2, 1, 3, 6)).astype(np.float64)
    cot = mx.array(sample((2, 1, 3, 6)), dtype=mx.float64)
    for traditional in (False, True):
        def f(a, traditional=traditional):
            y = mx.fast.rope(a, 4, traditional=traditional, base=10.0, scale=1.0, offset=mx.array([1, 2]))
            return mx.sum(y * cot)
        g = mx.grad(f)(mx.array(x, dtype=mx.float64))
        fd = numerical_grad(lambda a: f(mx.array(a, dtype=mx.float64)).item(), x, 1e-6)
        np.testing.assert_allclose(np.array(g), fd, rtol=1e-6, atol=1e-7)


def test_rope_errors():
    x = mx.ones((2, 3, 4))
    kw = dict(traditional=False, scale=1.0, offset=0)
    cases = [
        (lambda: mx.fast.rope(mx.ones((3, 4)), 4, base=1e4, **kw), r"rope.*at least 3 dimensions.*\(3, 4\)"),
        (lambda: mx.fast.rope(x.astype(mx.int32), 4, base=1e4, **kw), "rope.*floating type.*int32"),
        (lambda: mx.fast.rope(x, 3, base=1e4, **kw), r"rope.*dims must be even.*\(4\), got 3"),
        (lambda: mx.fast.rope(x, 6, base=1e4, **kw), "rope.*dims must be even.*got 6"),
        (lambda: mx.fast.rope(x, 4, base=None, **kw), "rope.*Neither base nor freqs"),
        (lambda: mx.fast.rope(x, 4, base=1e4, freqs=mx.ones((2,)), **kw), "rope.*Only one of base or freqs"),
        (lambda: mx.fast.rope(x, 4, base=None, freqs=mx.ones((3,)), **kw), r"rope.*freqs.*size 2.*\(3,\)"),
        (lambda: mx.fast.rope(x, 4, base=None, freqs=mx.ones((1, 2)), **kw), "rope.*freqs must be one dim"),
        (lambda: mx.fast.rope(x, 4, traditional=False, base=1e4, scale=1.0, offset=mx.array([1, 2, 3])),
         r"rope.*offset.*1 or 2 \(batch\).*\(3,\)"),
        (lambda: mx.fast.rope(x, 4, traditional=False, base=1e4, scale=1.0, offset=mx.array([[1]])),
         r"rope.*offset.*\(1, 1\)"),
        (lambda: mx.fast.rope(x, 4, traditional=False, base=1e4, scale=1.0, offset=mx.array(1.5)),
         "rope.*offset must be an integer.*float32"),
    ]
    for f, msg in cases:
        with pytest.raises(ValueError, match=msg):
            f()


# ---- scaled_dot_product_attention ----

def attention_inputs(batch, n_q, n_kv, q_len, k_len, d, d_v=None):
    return sample((batch, n_q, q_len, d)), sample((batch, n_kv, k_len, d)), sample((batch, n_kv, k_len, d_v or d))


SDPA_CASES = [
    # batch, n_q, n_kv, q_len, k_len, d, d_v, mask kind, sinks
    (2, 4, 4, 5, 5, 8, 8, None, False),
    (2, 4, 2, 3, 7, 8, 6, None, False),  # grouped-query heads, d_v != d
    (1, 6, 1, 4, 4, 16, 16, "causal", False),  # multi-query
    (2, 4, 2, 3, 7, 8, 8, "causal", False),  # q_len < k_len: aligned bottom-right
    (2, 2, 2, 6, 3, 8, 8, "causal", False),  # q_len > k_len
    (2, 4, 2, 5, 5, 8, 8, "bool", False),
    (2, 4, 2, 5, 6, 8, 8, "bool_heads", False),  # per-head mask with grouped heads
    (2, 4, 4, 5, 6, 8, 8, "additive", False),
    (2, 4, 2, 5, 6, 8, 8, "additive_row", False),  # 1-d mask over keys
    (2, 4, 2, 5, 6, 8, 8, "additive_heads3", False),  # (heads, q, k)
    (2, 4, 4, 5, 5, 8, 8, None, True),
    (2, 4, 2, 5, 5, 8, 8, "causal", True),
    (2, 4, 2, 4, 6, 8, 8, "bool", True),
    (1, 2, 2, 1, 9, 8, 8, "causal", False),  # one query (decoding)
]


def make_mask(kind, batch, n_q, q_len, k_len):
    if kind is None or kind == "causal":
        return kind
    if kind == "bool":
        m = rng.uniform(size=(batch, 1, q_len, k_len)) > 0.3
        m[0, 0, 1] = False  # a row that sees nothing: uniform weights, as MLX
        return m
    if kind == "bool_heads":
        return rng.uniform(size=(n_q, q_len, k_len)) > 0.5
    if kind == "additive":
        return sample((batch, n_q, q_len, k_len))
    if kind == "additive_row":
        return sample((k_len,))
    return sample((n_q, q_len, k_len))


@pytest.mark.parametrize("batch,n_q,n_kv,q_len,k_len,d,d_v,kind,with_sinks", SDPA_CASES)
def test_sdpa_float32(batch, n_q, n_kv, q_len, k_len, d, d_v, kind, with_sinks):
    q, k, v = attention_inputs(batch, n_q, n_kv, q_len, k_len, d, d_v)
    mask = make_mask(kind, batch, n_q, q_len, k_len)
    sinks = sample((n_q,)) if with_sinks else None
    scale = 1 / np.sqrt(d)
    lz_arg = lambda a: a if a is None or isinstance(a, str) else mx.array(a)  # noqa: E731
    ml_arg = lambda a: a if a is None or isinstance(a, str) else mlx.array(a)  # noqa: E731
    got = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(k), mx.array(v), scale=scale,
                                               mask=lz_arg(mask), sinks=lz_arg(sinks))
    assert got.shape == (batch, n_q, q_len, d_v) and got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), np_sdpa(q, k, v, scale, mask, sinks), rtol=1e-5, atol=1e-5)
    ref = mlx.fast.scaled_dot_product_attention(mlx.array(q), mlx.array(k), mlx.array(v), scale=scale,
                                                mask=ml_arg(mask), sinks=ml_arg(sinks))
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize("mask", [None, "causal", "additive"])
def test_sdpa_low_precision_match_mlx(name, mask):
    _, _, tol = LOW[name]
    q, k, v = attention_inputs(2, 4, 2, 6, 8, 16)
    (lq, mq), (lk, mk), (lv, mv) = both(q, name), both(k, name), both(v, name)
    lm, mm = both(sample((6, 8)), name) if mask == "additive" else (mask, mask)
    got = mx.fast.scaled_dot_product_attention(lq, lk, lv, scale=0.25, mask=lm)
    ref = mlx.fast.scaled_dot_product_attention(mq, mk, mv, scale=0.25, mask=mm)
    assert got.dtype == lq.dtype
    np.testing.assert_allclose(np_of(got), mlx_np(ref), rtol=tol, atol=tol)


def test_sdpa_mixed_dtypes_promote():
    q, k, v = attention_inputs(1, 2, 2, 3, 3, 4)
    got = mx.fast.scaled_dot_product_attention(mx.array(q).astype(mx.float16), mx.array(k), mx.array(v), scale=1.0,
                                               mask=mx.array(np.ones((3, 3), np.int32)))
    assert got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), np_sdpa(q.astype(np.float16), k, v, 1.0, np.ones((3, 3))),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mask", [None, "causal", "additive"])
def test_sdpa_gradients(mask):
    q, k, v = (a.astype(np.float64) for a in attention_inputs(1, 4, 2, 3, 4, 3))
    sinks = sample((4,)).astype(np.float64)
    m = sample((3, 4)).astype(np.float64) if mask == "additive" else mask
    cot = sample((1, 4, 3, 3)).astype(np.float64)
    f64 = lambda a: mx.array(a, dtype=mx.float64)  # noqa: E731
    lm = f64(m) if mask == "additive" else mask

    def f(q_, k_, v_, s_):
        o = mx.fast.scaled_dot_product_attention(q_, k_, v_, scale=0.7, mask=lm, sinks=s_)
        return mx.sum(o * f64(cot))

    args = [q, k, v, sinks]
    grads = mx.grad(f, argnums=(0, 1, 2, 3))(*map(f64, args))
    for i, g in enumerate(grads):
        def fi(a, i=i):
            return f(*[f64(a if j == i else args[j]) for j in range(4)]).item()
        np.testing.assert_allclose(np.array(g), numerical_grad(fi, args[i], 1e-6), rtol=1e-6, atol=1e-7)


def test_sdpa_errors():
    q, k, v = mx.ones((2, 4, 3, 8)), mx.ones((2, 2, 5, 8)), mx.ones((2, 2, 5, 6))
    sdpa = mx.fast.scaled_dot_product_attention
    cases = [
        (lambda: sdpa(q[0], k[0], v[0], scale=1.0), r"scaled_dot_product_attention.*rank 4.*\(4, 3, 8\)"),
        (lambda: sdpa(q, mx.ones((1, 2, 5, 8)), mx.ones((1, 2, 5, 6)), scale=1.0), "mismatching batch"),
        (lambda: sdpa(q, mx.ones((2, 2, 5, 7)), v, scale=1.0), r"same last dimension.*\(2, 2, 5, 7\)"),
        (lambda: sdpa(q, k, mx.ones((2, 1, 5, 6)), scale=1.0), r"keys and values.*\(2, 1, 5, 6\)"),
        (lambda: sdpa(q, k, mx.ones((2, 2, 4, 6)), scale=1.0), r"keys and values.*\(2, 2, 4, 6\)"),
        (lambda: sdpa(q, mx.ones((2, 3, 5, 8)), mx.ones((2, 3, 5, 6)), scale=1.0),
         r"query heads \(4\) must be a multiple of the key/value heads \(3\)"),
        (lambda: sdpa(q, k, v, scale=1.0, mask="foo"), "invalid mask option 'foo'"),
        (lambda: sdpa(q, k, v, scale=1.0, mask=mx.ones((3, 4))), r"mask of shape \(3, 4\) does not broadcast"),
        (lambda: sdpa(q, k, v, scale=1.0, mask=mx.ones((2, 4, 3, 5, 1))), "mask must have rank at most 4"),
        (lambda: sdpa(q.astype(mx.float16), k.astype(mx.float16), v.astype(mx.float16), scale=1.0,
                      mask=mx.ones((3, 5))), r"additive mask's type \(float32\) must promote.*float16"),
        (lambda: sdpa(q, k, v, scale=1.0, sinks=mx.ones((2,))), r"sinks must have shape \(4,\).*got \(2,\)"),
        (lambda: sdpa(q, k, v, scale=1.0, sinks=mx.ones((1, 4))), "sinks must have shape"),
        (lambda: sdpa(q.astype(mx.float16), k.astype(mx.float16), v.astype(mx.float16), scale=1.0,
                      sinks=mx.ones((4,))), r"sinks' type \(float32\) must promote"),
        (lambda: sdpa(*(a.astype(mx.int32) for a in (q, k, v)), scale=1.0), "unsupported type int32"),
    ]
    for f, msg in cases:
        with pytest.raises(ValueError, match=msg):
            f()


def test_signatures_follow_mlx():
    x = mx.ones((1, 2, 3, 4))
    # rope's and attention's options are keyword-only, as in MLX; norms take weight=None.
    with pytest.raises(TypeError):
        mx.fast.rope(x, 4, False, 1e4, 1.0, 0)
    with pytest.raises(TypeError):
        mx.fast.scaled_dot_product_attention(x, x, x, 1.0)
    np.testing.assert_array_equal(np.array(mx.fast.rms_norm(x, weight=None, eps=1e-5)),
                                  np.array(mx.fast.rms_norm(x, None, 1e-5)))
    # Masks and sinks may be NumPy arrays.
    q = sample((1, 2, 3, 4))
    mask = rng.uniform(size=(3, 3)) > 0.5
    got = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(q), mx.array(q), scale=0.5, mask=mask,
                                               sinks=np.zeros(2, np.float32))
    np.testing.assert_allclose(np.array(got), np_sdpa(q, q, q, 0.5, mask, np.zeros(2)), rtol=1e-5, atol=1e-5)
    forced = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(q), mx.array(q), scale=0.5, mask=mask,
                                                  sinks=np.zeros(2, np.float32), force_fused=True)
    np.testing.assert_array_equal(np.array(forced), np.array(got))
