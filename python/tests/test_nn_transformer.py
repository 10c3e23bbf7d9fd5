"""lazuli.nn's positional encodings, MultiHeadAttention and transformers against mlx.nn
with the same weights and inputs, float64 NumPy references, finite-difference gradients
and the error paths."""
import math

import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.core import _nn
from lazuli.utils import tree_flatten, tree_map
from numeric import numerical_grad

mlx = pytest.importorskip("mlx.core")
mnn = pytest.importorskip("mlx.nn")

rng = np.random.default_rng(1)


def sample(shape):
    return rng.standard_normal(shape).astype(np.float32)


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.array(got.astype(mx.float32)), np.asarray(want, np.float64), rtol=tol, atol=tol)


def to_mlx(tree):
    return tree_map(lambda a: mlx.array(np.array(a)), tree)


def mlx_twin(ours, theirs):
    """theirs with ours' parameters (same names and structure)."""
    theirs.update(to_mlx(ours.parameters()))
    assert sorted(k for k, _ in tree_flatten(ours.parameters())) == \
        sorted(k for k, _ in tree_flatten(to_mlx(ours.parameters())))
    return theirs


def mlx_arg(a):
    return mlx.array(np.array(a)) if isinstance(a, mx.array) else a


# ---- positional encodings ----

@pytest.mark.parametrize("dims,traditional,base,scale", [(8, False, 10000, 1.0), (8, True, 10000, 1.0),
                                                         (4, False, 100, 0.5), (6, True, 1000, 2.0)])
def test_rope_layer_matches_mlx(dims, traditional, base, scale):
    x = sample((2, 3, 5, 8))
    ours, theirs = nn.RoPE(dims, traditional, base, scale), mnn.RoPE(dims, traditional, base, scale)
    assert ours.parameters() == {}
    for offset in (0, 4):
        close(ours(mx.array(x), offset=offset), np.array(theirs(mlx.array(x), offset=offset)))
    close(ours(mx.array(x), mx.array([1, 7])), np.array(theirs(mlx.array(x), mlx.array([1, 7]))))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("kw", [{}, {"cos_first": True}, {"full_turns": True, "scale": 1.0},
                                {"min_freq": 0.01, "max_freq": 10.0, "scale": 0.3}])
def test_sinusoidal_positional_encoding(kw):
    dims = 16
    x = np.arange(7, dtype=np.float32)[None].repeat(2, 0) + rng.uniform(0, 1, (2, 7)).astype(np.float32)
    ours = nn.SinusoidalPositionalEncoding(dims, **kw)
    assert ours.parameters() == {}
    got = ours(mx.array(x))
    assert got.shape == (2, 7, dims)
    close(got, np.array(mnn.SinusoidalPositionalEncoding(dims, **kw)(mlx.array(x))), 1e-5)
    # float64 reference
    lo, hi = math.log(kw.get("min_freq", 1e-4)), math.log(kw.get("max_freq", 1.0))
    sig = np.exp((1 - np.arange(dims // 2) / (dims // 2 - 1)) * (hi - lo) + lo)
    if kw.get("full_turns"):
        sig = sig * 2 * np.pi
    y = x[..., None].astype(np.float64) * sig
    parts = [np.cos(y), np.sin(y)] if kw.get("cos_first") else [np.sin(y), np.cos(y)]
    close(got, np.concatenate(parts, -1) * kw.get("scale", math.sqrt(2 / dims)), 1e-4)
    # integer positions
    close(ours(mx.arange(5)), np.array(mnn.SinusoidalPositionalEncoding(dims, **kw)(mlx.arange(5))), 1e-5)


def test_alibi_matches_mlx():
    slope = nn.ALiBi.create_alibi_slope(4)
    assert slope.shape == (4, 1, 1)
    close(slope, 2.0 ** (-8 * np.arange(1, 5) / 4)[:, None, None], 1e-7)
    close(slope, np.array(mnn.ALiBi.create_alibi_slope(4)))
    for args in [(5, 5, 4, 0), (7, 9, 2, 3)]:
        m = nn.ALiBi.create_alibi_matrix(*args)
        assert m.shape == (1, args[2], args[0] - args[3], args[1])
        close(m, np.array(mnn.ALiBi.create_alibi_matrix(*args)))
    m16 = nn.ALiBi.create_alibi_matrix(4, 6, 2, 0, dtype=mx.float16)
    assert m16.dtype == mx.float16
    close(m16, np.array(mnn.ALiBi.create_alibi_matrix(4, 6, 2, 0, dtype=mlx.float16).astype(mlx.float32)), 1e-3)
    scores, mask = sample((2, 4, 3, 6)), sample((3, 6))
    ours, theirs = nn.ALiBi(), mnn.ALiBi()
    for offset in (0, 3):
        close(ours(mx.array(scores), offset), np.array(theirs(mlx.array(scores), offset)))
    close(ours(mx.array(scores), 1, mx.array(mask)), np.array(theirs(mlx.array(scores), 1, mlx.array(mask))))
    # float64 reference: -|i - j| * slope(h)
    i, j = np.arange(2, 5)[:, None], np.arange(6)[None]
    want = scores - np.abs(i - j)[None, None] * 2.0 ** (-8 * np.arange(1, 5) / 4)[None, :, None, None]
    close(ours(mx.array(scores), 2), want)


def test_positional_errors():
    with pytest.raises(ValueError, match="sinusoidal_positional_encoding.*dims must be at least 4, got 2"):
        nn.SinusoidalPositionalEncoding(2)
    with pytest.raises(ValueError, match="sinusoidal_positional_encoding.*must be positive"):
        nn.SinusoidalPositionalEncoding(8, min_freq=0.0)
    with pytest.raises(ValueError, match=r"alibi.*\(batch, heads, queries, keys\).*\(3, 4\)"):
        nn.ALiBi()(mx.ones((3, 4)))
    with pytest.raises(ValueError, match="alibi.*num_heads must be positive, got 0"):
        nn.ALiBi.create_alibi_slope(0)
    with pytest.raises(ValueError, match="rope.*dims must be even"):
        nn.RoPE(5)(mx.ones((1, 2, 8)))


# ---- MultiHeadAttention ----

def test_additive_causal_mask():
    for dt, mdt in [(mx.float32, mlx.float32), (mx.float16, mlx.float16), (mx.bfloat16, mlx.bfloat16)]:
        m = nn.MultiHeadAttention.create_additive_causal_mask(5, dt)
        assert m.dtype == dt and m.shape == (5, 5)
        np.testing.assert_array_equal(np.array(m.astype(mx.float32)),
                                      np.array(mnn.MultiHeadAttention.create_additive_causal_mask(5, mdt)
                                               .astype(mlx.float32)))
    with pytest.raises(ValueError, match="create_additive_causal_mask.*floating.*int32"):
        nn.MultiHeadAttention.create_additive_causal_mask(3, mx.int32)


def np_mha(q, k, v, num_heads, params, mask=None):
    def proj(x, p):
        y = x.astype(np.float64) @ np.array(p["weight"], np.float64).T
        return y + np.array(p["bias"], np.float64) if "bias" in p else y

    def heads(x):
        b, n, f = x.shape
        return x.reshape(b, n, num_heads, f // num_heads).transpose(0, 2, 1, 3)

    q, k, v = (heads(proj(a, params[name])) for a, name in ((q, "query_proj"), (k, "key_proj"), (v, "value_proj")))
    s = q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    o = (p / p.sum(-1, keepdims=True)) @ v
    b, h, n, d = o.shape
    return proj(o.transpose(0, 2, 1, 3).reshape(b, n, h * d), params["out_proj"])


MHA_CASES = [
    dict(dims=16, num_heads=4),
    dict(dims=16, num_heads=2, bias=True),
    dict(dims=12, num_heads=3, query_input_dims=5, key_input_dims=7, value_input_dims=6, value_dims=9,
         value_output_dims=4, bias=True),
    dict(dims=8, num_heads=1, key_input_dims=6),  # values default to key_input_dims
]


@pytest.mark.parametrize("kw", MHA_CASES)
@pytest.mark.parametrize("mask", [None, "additive_causal", "causal", "bool"])
def test_multi_head_attention_matches_mlx(kw, mask):
    ours = nn.MultiHeadAttention(**kw)
    theirs = mlx_twin(ours, mnn.MultiHeadAttention(**kw))
    qd = kw.get("query_input_dims") or kw["dims"]
    kd = kw.get("key_input_dims") or kw["dims"]
    vd = kw.get("value_input_dims") or kd
    q, k, v = sample((2, 5, qd)), sample((2, 5, kd)), sample((2, 5, vd))
    lz_mask = {None: None, "causal": "causal",
               "additive_causal": nn.MultiHeadAttention.create_additive_causal_mask(5),
               "bool": mx.array(rng.uniform(size=(2, 1, 5, 5)) > 0.3)}[mask]
    got = ours(mx.array(q), mx.array(k), mx.array(v), lz_mask)
    want = theirs(mlx.array(q), mlx.array(k), mlx.array(v), mlx_arg(lz_mask))
    assert got.shape == want.shape
    close(got, np.array(want), 1e-5)
    if mask in (None, "additive_causal"):
        np_mask = None if lz_mask is None else np.array(lz_mask)
        close(got, np_mha(q, k, v, kw["num_heads"], ours.parameters(), np_mask), 1e-4)


def test_multi_head_attention_cross_lengths():
    ours = nn.MultiHeadAttention(8, 2, bias=True)
    theirs = mlx_twin(ours, mnn.MultiHeadAttention(8, 2, bias=True))
    q, kv = sample((3, 2, 8)), sample((3, 7, 8))
    mask = sample((2, 7))
    close(ours(mx.array(q), mx.array(kv), mx.array(kv), mx.array(mask)),
          np.array(theirs(mlx.array(q), mlx.array(kv), mlx.array(kv), mlx.array(mask))))


def test_multi_head_attention_gradient():
    ours = nn.MultiHeadAttention(6, 2, bias=True)
    params = tree_map(lambda a: a.astype(mx.float64), ours.parameters())
    names = ["query_proj", "key_proj", "value_proj", "out_proj"]
    weights = [params[n]["weight"] for n in names] + [params[n]["bias"] for n in names]
    x = sample((1, 3, 6)).astype(np.float64)
    cot = mx.array(sample((1, 3, 6)), dtype=mx.float64)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(3, mx.float64)

    def f(a):
        return mx.sum(_nn.multi_head_attention(a, a, a, 2, *weights, mask) * cot)

    g = mx.grad(f)(mx.array(x, dtype=mx.float64))
    fd = numerical_grad(lambda a: f(mx.array(a, dtype=mx.float64)).item(), x, 1e-6)
    np.testing.assert_allclose(np.array(g), fd, rtol=1e-6, atol=1e-7)
    # and with respect to a weight
    wq = np.array(weights[0])

    def fw(w):
        ws = [mx.array(w, dtype=mx.float64)] + weights[1:]
        return mx.sum(_nn.multi_head_attention(mx.array(x, dtype=mx.float64), mx.array(x, dtype=mx.float64),
                                               mx.array(x, dtype=mx.float64), 2, *ws, mask) * cot)

    np.testing.assert_allclose(np.array(mx.grad(fw)(mx.array(wq, dtype=mx.float64))),
                               numerical_grad(lambda w: fw(w).item(), wq, 1e-6), rtol=1e-6, atol=1e-7)


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match=r"dims \(10\) must be divisible by num_heads \(4\)"):
        nn.MultiHeadAttention(10, 4)
    mha = nn.MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"multi_head_attention.*\(batch, sequence, features\).*\(5, 8\)"):
        mha(mx.ones((5, 8)), mx.ones((5, 8)), mx.ones((5, 8)))
    with pytest.raises(ValueError, match="does not broadcast"):
        mha(mx.ones((1, 5, 8)), mx.ones((1, 5, 8)), mx.ones((1, 5, 8)), mx.ones((4, 5)))
    with pytest.raises(ValueError, match="invalid mask mode 'upper'"):
        mha(mx.ones((1, 5, 8)), mx.ones((1, 5, 8)), mx.ones((1, 5, 8)), "upper")
    w = mx.ones((6, 6))
    with pytest.raises(ValueError, match=r"value \(6\) dims must be divisible by num_heads \(4\)"):
        _nn.multi_head_attention(mx.ones((1, 2, 6)), mx.ones((1, 2, 6)), mx.ones((1, 2, 6)), 4, w, w, w, w,
                                 None, None, None, None)
    with pytest.raises(ValueError, match="num_heads must be positive"):
        _nn.multi_head_attention(mx.ones((1, 2, 6)), mx.ones((1, 2, 6)), mx.ones((1, 2, 6)), 0, w, w, w, w,
                                 None, None, None, None)


# ---- transformers ----

def run_both(ours, theirs, *inputs):
    got = ours(*inputs)
    want = theirs(*[mlx_arg(a) for a in inputs])
    assert got.shape == want.shape
    return got, np.array(want)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_and_decoder_layers_match_mlx(norm_first, activation):
    act_ours, act_theirs = getattr(nn, activation), getattr(mnn, activation)
    enc = nn.TransformerEncoderLayer(8, 2, mlp_dims=12, activation=act_ours, norm_first=norm_first)
    enc_mlx = mlx_twin(enc, mnn.TransformerEncoderLayer(8, 2, mlp_dims=12, activation=act_theirs,
                                                        norm_first=norm_first))
    x, mem = mx.array(sample((2, 5, 8))), mx.array(sample((2, 4, 8)))
    mask = nn.MultiHeadAttention.create_additive_causal_mask(5)
    got, want = run_both(enc, enc_mlx, x, mask)
    close(got, want, 1e-4)
    dec = nn.TransformerDecoderLayer(8, 2, activation=act_ours, norm_first=norm_first)
    dec_mlx = mlx_twin(dec, mnn.TransformerDecoderLayer(8, 2, activation=act_theirs, norm_first=norm_first))
    got, want = run_both(dec, dec_mlx, x, mem, mask, None)
    close(got, want, 1e-4)


def np_layer_norm(x, p):
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    return y * np.array(p["weight"], np.float64) + np.array(p["bias"], np.float64)


def test_encoder_layer_float64_reference():
    layer = nn.TransformerEncoderLayer(6, 3, mlp_dims=10)
    p = layer.parameters()
    x = sample((2, 4, 6)).astype(np.float64)

    def lin(v, q):
        return v @ np.array(q["weight"], np.float64).T + np.array(q["bias"], np.float64)

    y = np_layer_norm(x, p["ln1"])
    x1 = x + np_mha(y, y, y, 3, p["attention"])
    want = x1 + lin(np.maximum(lin(np_layer_norm(x1, p["ln2"]), p["linear1"]), 0), p["linear2"])
    close(layer(mx.array(x.astype(np.float32)), None), want, 1e-4)


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_matches_mlx(norm_first):
    kw = dict(dims=8, num_heads=2, num_encoder_layers=2, num_decoder_layers=3, mlp_dims=16, norm_first=norm_first)
    ours = nn.Transformer(**kw)
    theirs = mlx_twin(ours, mnn.Transformer(**kw))
    assert len(ours.encoder.layers) == 2 and len(ours.decoder.layers) == 3
    src, tgt = mx.array(sample((2, 6, 8))), mx.array(sample((2, 4, 8)))
    tgt_mask = nn.MultiHeadAttention.create_additive_causal_mask(4)
    got, want = run_both(ours, theirs, src, tgt, None, tgt_mask, None)
    close(got, want, 1e-4)
    enc_got, enc_want = run_both(ours.encoder, theirs.encoder, src, None)
    close(enc_got, enc_want, 1e-4)


def test_transformer_custom_parts_and_defaults():
    enc = nn.TransformerEncoder(1, 8, 2)
    model = nn.Transformer(dims=8, num_heads=2, num_decoder_layers=1, custom_encoder=enc)
    assert model.encoder is enc
    default = nn.Transformer(dims=8, num_heads=2)
    assert len(default.encoder.layers) == 6 and len(default.decoder.layers) == 6
    assert default.encoder.layers[0].linear1.weight.shape == (32, 8)  # mlp_dims = 4 * dims
    theirs = mnn.Transformer(dims=8, num_heads=2)
    assert sorted(k for k, _ in tree_flatten(default.parameters())) == \
        sorted(k for k, _ in tree_flatten(theirs.parameters()))


def test_checkpoint_gives_same_values_and_gradients():
    plain = nn.TransformerEncoder(2, 8, 2, mlp_dims=8)
    ckpt = nn.TransformerEncoder(2, 8, 2, mlp_dims=8, checkpoint=True)
    ckpt.update(plain.parameters())
    x = mx.array(sample((2, 3, 8)))
    close(ckpt(x, None), np.array(plain(x, None)), 1e-6)

    def loss(model):
        return nn.value_and_grad(model, lambda a: mx.sum(model(a, None) ** 2))(x)

    (v1, g1), (v2, g2) = loss(plain), loss(ckpt)
    close(v2, np.array(v1), 1e-5)
    for (k1, a), (k2, b) in zip(tree_flatten(g1), tree_flatten(g2)):
        assert k1 == k2
        close(b, np.array(a), 1e-5)


def test_transformer_gradient_against_finite_differences():
    model = nn.TransformerDecoderLayer(4, 2, mlp_dims=6, activation=nn.gelu)
    x, mem = sample((1, 3, 4)), mx.array(sample((1, 2, 4)))
    cot = mx.array(sample((1, 3, 4)))

    def f(a):
        return mx.sum(model(a, mem, None, None) * cot)

    g = mx.grad(f)(mx.array(x))
    fd = numerical_grad(lambda a: f(mx.array(a.astype(np.float32))).item(), x.astype(np.float64), 1e-2)
    np.testing.assert_allclose(np.array(g), fd, rtol=2e-2, atol=2e-3)


def test_dropout_in_transformer_layers():
    layer = nn.TransformerEncoderLayer(8, 2, dropout=0.5)
    x = mx.array(sample((2, 3, 8)))
    layer.eval()
    clean = nn.TransformerEncoderLayer(8, 2)
    clean.update(layer.parameters())
    close(layer(x, None), np.array(clean(x, None)), 1e-6)  # dropout is off in eval mode
    layer.train()
    y = layer(x, None)
    assert y.shape == (2, 3, 8) and not np.allclose(np.array(y), np.array(clean(x, None)))
