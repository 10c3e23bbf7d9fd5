"""lazuli.nn: activations, losses, layers and Module trees against NumPy formulas (float64
references), with mlx.nn's numbers as an extra check where MLX is installed."""
import math

import numpy as np
import pytest
from scipy.special import erf as np_erf

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.utils import tree_flatten
from numeric import numerical_grad


def np_of(x):
    return np.array(x.astype(mx.float32) if x.dtype in (mx.float16, mx.bfloat16) else x)


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np_of(got), want, rtol=tol, atol=tol)


def sample(shape=(3, 5), seed=0, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.logaddexp(x, 0)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_elu(x, a=1.0):
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))


ACTIVATIONS = {
    "sigmoid": np_sigmoid,
    "relu": lambda x: np.maximum(x, 0),
    "relu2": lambda x: np.maximum(x, 0) ** 2,
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "log_softmax": lambda x: np.log(np_softmax(x)),
    "elu": np_elu,
    "softmax": np_softmax,
    "softplus": np_softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "softshrink": lambda x: np.where(np.abs(x) > 0.5, x - np.sign(x) * 0.5, 0),
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "silu": lambda x: x * np_sigmoid(x),
    "log_sigmoid": lambda x: -np_softplus(-x),
    "gelu": lambda x: x * (1 + np_erf(x / np.sqrt(2))) / 2,
    "gelu_approx": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "gelu_fast_approx": lambda x: x * np_sigmoid(1.702 * x),
    "glu": lambda x: x[..., : x.shape[-1] // 2] * np_sigmoid(x[..., x.shape[-1] // 2 :]),
    "step": lambda x: (x > 0).astype(np.int32),
    "selu": lambda x: 1.0507 * np_elu(x, 1.67326),
    "mish": lambda x: x * np.tanh(np_softplus(x)),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "softmin": lambda x: np_softmax(-x),
    "tanh": np.tanh,
}


def test_all_27_activations_are_there():
    assert len(ACTIVATIONS) + 1 == 27  # + prelu, tested on its own
    for name in list(ACTIVATIONS) + ["prelu"]:
        assert callable(getattr(nn, name))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(3, 6), (2, 3, 4), (4,)])
def test_activation_matches_numpy(name, shape):
    x = sample(shape)
    got = getattr(nn, name)(mx.array(x))
    want = ACTIVATIONS[name](x.astype(np.float64))
    assert got.shape == want.shape
    close(got, want, 2e-5)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_noncontiguous_empty_and_float16(name):
    x = sample((6, 4))
    close(getattr(nn, name)(mx.array(x).T), ACTIVATIONS[name](x.T.astype(np.float64)), 2e-5)
    empty = getattr(nn, name)(mx.zeros((0, 4)))
    assert empty.shape == ((0, 2) if name == "glu" else (0, 4))
    half = getattr(nn, name)(mx.array(x).astype(mx.float16))
    if name != "step":
        assert half.dtype == mx.float16
    close(half, ACTIVATIONS[name](x.astype(np.float16).astype(np.float64)), 3e-2)


def test_activations_scalar_and_parameters():
    close(nn.relu(mx.array(-2.0)), 0.0)
    close(nn.leaky_relu(mx.array([-2.0, 3.0]), negative_slope=0.2), [-0.4, 3.0])
    close(nn.elu(mx.array([-1.0]), alpha=0.5), [0.5 * math.expm1(-1)])
    close(nn.celu(mx.array([-1.0]), alpha=2.0), [2 * math.expm1(-0.5)])
    close(nn.softshrink(mx.array([-1.0, 0.2, 2.0]), lambd=1.0), [0, 0, 1.0])
    close(nn.hard_shrink(mx.array([-1.0, 0.2, 2.0]), lambd=1.0), [0, 0, 2.0])
    close(nn.hard_tanh(mx.array([-3.0, 0.5, 3.0]), min_val=-2.0, max_val=2.0), [-2, 0.5, 2])
    close(nn.step(mx.array([-1.0, 0.5, 2.0]), threshold=1.0), [0, 0, 1])
    x = sample((3, 4))
    close(nn.softmax(mx.array(x), axis=0), np_softmax(x.astype(np.float64), 0))
    close(nn.log_softmax(mx.array(x), axis=0), np.log(np_softmax(x.astype(np.float64), 0)))
    x4 = sample((4, 3))
    close(nn.glu(mx.array(x4), axis=0), x4[:2] * np_sigmoid(x4[2:]))
    alpha = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    close(nn.prelu(mx.array(x), mx.array(alpha)), np.maximum(x, 0) + alpha * np.minimum(x, 0))
    with pytest.raises(ValueError, match="glu"):
        nn.glu(mx.zeros((2, 3)))


ACTIVATION_CLASSES = {
    "Sigmoid": "sigmoid", "Mish": "mish", "ReLU": "relu", "ReLU2": "relu2", "ReLU6": "relu6",
    "Softplus": "softplus", "Softsign": "softsign", "SiLU": "silu", "LogSigmoid": "log_sigmoid",
    "Tanh": "tanh", "Hardswish": "hardswish", "SELU": "selu", "HardTanh": "hard_tanh",
    "HardShrink": "hard_shrink", "Softmax": "softmax", "Softmin": "softmin", "LogSoftmax": "log_softmax",
    "GLU": "glu", "LeakyReLU": "leaky_relu", "ELU": "elu", "CELU": "celu", "Softshrink": "softshrink",
    "GELU": "gelu", "Step": "step",
}


@pytest.mark.parametrize("cls", sorted(ACTIVATION_CLASSES))
def test_activation_classes(cls):
    x = sample((2, 6))
    layer = getattr(nn, cls)()
    assert isinstance(layer, nn.Module) and layer.parameters() == {}
    close(layer(mx.array(x)), ACTIVATIONS[ACTIVATION_CLASSES[cls]](x.astype(np.float64)), 2e-5)


def test_parameterised_activation_classes():
    x = sample((2, 6))
    close(nn.LeakyReLU(0.3)(mx.array(x)), np.where(x > 0, x, 0.3 * x))
    close(nn.ELU(0.5)(mx.array(x)), np_elu(x.astype(np.float64), 0.5))
    close(nn.GELU("tanh")(mx.array(x)), ACTIVATIONS["gelu_approx"](x.astype(np.float64)))
    close(nn.GELU("fast")(mx.array(x)), ACTIVATIONS["gelu_fast_approx"](x.astype(np.float64)))
    close(nn.Step(0.5)(mx.array(x)), (x > 0.5).astype(np.int32))
    with pytest.raises(ValueError):
        nn.GELU("cubic")
    p = nn.PReLU(num_parameters=6, init=0.1)
    assert p.weight.shape == (6,)
    close(p(mx.array(x)), np.where(x > 0, x, 0.1 * x))
    assert [k for k, _ in tree_flatten(p.parameters())] == ["weight"]


def test_activations_match_mlx_where_installed():
    mnn = pytest.importorskip("mlx.nn")
    import mlx.core as mlx_core

    x = sample((3, 6))
    for name in ACTIVATIONS:
        np.testing.assert_allclose(np_of(getattr(nn, name)(mx.array(x))),
                                   np.array(getattr(mnn, name)(mlx_core.array(x))), rtol=1e-5, atol=1e-5,
                                   err_msg=name)


# ---- losses ----

def np_reduce(loss, reduction):
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


def np_lse(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy(reduction):
    logits = sample((4, 5)).astype(np.float64)
    targets = np.array([0, 3, 4, 1])
    ce = np_lse(logits) - logits[np.arange(4), targets]
    got = nn.losses.cross_entropy(mx.array(logits), mx.array(targets), reduction=reduction)
    close(got, np_reduce(ce, reduction))
    probs = np.eye(5)[targets]
    close(nn.losses.cross_entropy(mx.array(logits), mx.array(probs), reduction=reduction), np_reduce(ce, reduction))
    w = np.array([1.0, 0.5, 2.0, 0.0])
    close(nn.losses.cross_entropy(mx.array(logits), mx.array(targets), weights=mx.array(w), reduction=reduction),
          np_reduce(ce * w, reduction))
    ls = 0.3
    smoothed = (1 - ls) * ce + ls * (np_lse(logits) - logits.mean(-1))
    close(nn.losses.cross_entropy(mx.array(logits), mx.array(targets), label_smoothing=ls, reduction=reduction),
          np_reduce(smoothed, reduction))
    close(nn.losses.cross_entropy(mx.array(logits.T), mx.array(targets), axis=0, reduction=reduction),
          np_reduce(ce, reduction))


def test_cross_entropy_errors():
    logits = mx.zeros((4, 5))
    with pytest.raises(ValueError, match="cross_entropy"):
        nn.losses.cross_entropy(logits, mx.array([1, 2, 3]))
    with pytest.raises(ValueError, match="cross_entropy"):
        nn.losses.cross_entropy(logits, mx.array([1, 2, 3, 0]), label_smoothing=1.0)
    with pytest.raises(ValueError, match="cross_entropy"):
        nn.losses.cross_entropy(logits, mx.array([1, 2, 3, 0]), weights=mx.ones((3,)))
    with pytest.raises(ValueError, match="reduction"):
        nn.losses.cross_entropy(logits, mx.array([1, 2, 3, 0]), reduction="avg")


def test_binary_cross_entropy():
    x = sample((3, 4)).astype(np.float64)
    y = (np.random.default_rng(1).random((3, 4)) > 0.5).astype(np.float64)
    with_logits = np.logaddexp(0, x) - x * y
    close(nn.losses.binary_cross_entropy(mx.array(x), mx.array(y)), with_logits.mean())
    close(nn.losses.binary_cross_entropy(mx.array(x), mx.array(y), reduction="none"), with_logits)
    w = np.random.default_rng(2).random((3, 4))
    close(nn.losses.binary_cross_entropy(mx.array(x), mx.array(y), weights=mx.array(w), reduction="sum"),
          (with_logits * w).sum(), 1e-4)
    p = np_sigmoid(x)
    probs = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    close(nn.losses.binary_cross_entropy(mx.array(p), mx.array(y), with_logits=False, reduction="none"), probs, 1e-4)
    # log clipped at -100: certain wrong predictions cost 100, not inf.
    close(nn.losses.binary_cross_entropy(mx.array([0.0, 1.0]), mx.array([1.0, 0.0]), with_logits=False), 100.0)
    with pytest.raises(ValueError, match="binary_cross_entropy"):
        nn.losses.binary_cross_entropy(mx.zeros((2,)), mx.zeros((3,)))


def pair():
    return sample((4, 3), 1).astype(np.float64), sample((4, 3), 2).astype(np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    p, t = pair()
    P, T = mx.array(p), mx.array(t)
    d = p - t
    close(nn.losses.l1_loss(P, T, reduction=reduction), np_reduce(np.abs(d), reduction))
    close(nn.losses.mse_loss(P, T, reduction=reduction), np_reduce(d**2, reduction), 1e-4)
    ad = np.abs(d)
    for beta in (1.0, 0.5):
        sl1 = np.where(ad < beta, 0.5 * ad**2 / beta, ad - 0.5 * beta)
        close(nn.losses.smooth_l1_loss(P, T, beta=beta, reduction=reduction), np_reduce(sl1, reduction), 1e-4)
    for delta in (1.0, 2.0):
        hub = np.where(ad <= delta, 0.5 * ad**2, delta * (ad - 0.5 * delta))
        close(nn.losses.huber_loss(P, T, delta=delta, reduction=reduction), np_reduce(hub, reduction), 1e-4)
    close(nn.losses.log_cosh_loss(P, T, reduction=reduction), np_reduce(np.log(np.cosh(d)), reduction), 1e-4)
    close(nn.losses.hinge_loss(P, mx.array(np.sign(t)), reduction=reduction),
          np_reduce(np.maximum(1 - p * np.sign(t), 0), reduction), 1e-4)
    v = np.abs(t) + 0.1
    g = 0.5 * (np.log(v) + d**2 / v)
    close(nn.losses.gaussian_nll_loss(P, T, mx.array(v), reduction=reduction), np_reduce(g, reduction), 1e-4)
    close(nn.losses.gaussian_nll_loss(P, T, mx.array(v), full=True, reduction=reduction),
          np_reduce(g + 0.5 * np.log(2 * np.pi), reduction), 1e-4)
    y = np.sign(sample((4, 3), 3))
    close(nn.losses.margin_ranking_loss(P, T, mx.array(y), margin=0.2, reduction=reduction),
          np_reduce(np.maximum(0, -y * d + 0.2), reduction), 1e-4)


def test_loss_defaults_and_shape_errors():
    p, t = pair()
    P, T = mx.array(p), mx.array(t)
    # MLX's default reductions: mean for l1/mse/smooth_l1/bce/gaussian_nll, none for the rest.
    assert nn.losses.l1_loss(P, T).ndim == 0 and nn.losses.mse_loss(P, T).ndim == 0
    assert nn.losses.smooth_l1_loss(P, T).ndim == 0
    assert nn.losses.huber_loss(P, T).shape == (4, 3) and nn.losses.hinge_loss(P, T).shape == (4, 3)
    assert nn.losses.log_cosh_loss(P, T).shape == (4, 3)
    for fn in (nn.losses.l1_loss, nn.losses.mse_loss, nn.losses.smooth_l1_loss):
        with pytest.raises(ValueError, match=fn.__name__):
            fn(P, mx.zeros((4, 2)))
    with pytest.raises(ValueError, match="gaussian_nll_loss"):
        nn.losses.gaussian_nll_loss(P, T, mx.ones((3,)))
    with pytest.raises(ValueError, match="margin_ranking_loss"):
        nn.losses.margin_ranking_loss(P, T, mx.ones((4,)))
    with pytest.raises(ValueError, match="reduction"):
        nn.losses.mse_loss(P, T, reduction="max")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_distribution_and_distance_losses(reduction):
    logits = sample((4, 5)).astype(np.float64)
    logp = np.log(np_softmax(logits))
    logq = np.log(np_softmax(sample((4, 5), 7).astype(np.float64)))
    targets = np.array([1, 0, 4, 2])
    close(nn.losses.nll_loss(mx.array(logp), mx.array(targets), reduction=reduction),
          np_reduce(-logp[np.arange(4), targets], reduction))
    close(nn.losses.kl_div_loss(mx.array(logp), mx.array(logq), reduction=reduction),
          np_reduce((np.exp(logq) * (logq - logp)).sum(-1), reduction), 1e-4)
    a, p, n = (sample((4, 6), s).astype(np.float64) for s in (4, 5, 6))
    eps = 1e-6
    trip = np.maximum(np.sqrt(((a - p) ** 2).sum(-1) + eps) - np.sqrt(((a - n) ** 2).sum(-1) + eps) + 1.0, 0)
    close(nn.losses.triplet_loss(mx.array(a), mx.array(p), mx.array(n), reduction=reduction),
          np_reduce(trip, reduction), 1e-4)
    cos = (a * p).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(p, axis=1), 1e-8)
    close(nn.losses.cosine_similarity_loss(mx.array(a), mx.array(p), reduction=reduction), np_reduce(cos, reduction))
    cos0 = (a * p).sum(0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(p, axis=0))
    close(nn.losses.cosine_similarity_loss(mx.array(a), mx.array(p), axis=0, reduction=reduction),
          np_reduce(cos0, reduction))


def test_losses_match_mlx_where_installed():
    mnn = pytest.importorskip("mlx.nn")
    import mlx.core as m

    p, t = pair()
    y = np.sign(t)
    v = np.abs(t) + 0.1
    logits = sample((4, 5))
    tgt = np.array([1, 0, 4, 2])
    logp, logq = np.log(np_softmax(logits)), np.log(np_softmax(sample((4, 5), 7)))
    cases = [
        ("cross_entropy", (logits, tgt), dict(label_smoothing=0.1)),
        ("binary_cross_entropy", (p, (t > 0).astype(np.float32)), {}),
        ("l1_loss", (p, t), {}), ("mse_loss", (p, t), {}),
        ("nll_loss", (logp, tgt), {}), ("gaussian_nll_loss", (p, t, v), dict(full=True)),
        ("kl_div_loss", (logp, logq), {}), ("smooth_l1_loss", (p, t), dict(beta=0.5)),
        ("triplet_loss", (p, t, sample((4, 3), 9)), {}), ("hinge_loss", (p, y), {}),
        ("huber_loss", (p, t), dict(delta=0.7)), ("log_cosh_loss", (p, t), {}),
        ("cosine_similarity_loss", (p, t), {}), ("margin_ranking_loss", (p[:, 0], t[:, 0], y[:, 0]), dict(margin=0.1)),
    ]
    assert len(cases) == 14
    for name, args, kw in cases:
        ours = getattr(nn.losses, name)(*[mx.array(a.astype(np.float32) if a.dtype == np.float64 else a) for a in args], **kw)
        theirs = getattr(mnn.losses, name)(*[m.array(a.astype(np.float32) if a.dtype == np.float64 else a) for a in args], **kw)
        np.testing.assert_allclose(np_of(ours), np.array(theirs), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name,extra", [
    ("cross_entropy", dict(label_smoothing=0.1)),
    ("binary_cross_entropy", {}),
    ("smooth_l1_loss", {}),
    ("huber_loss", dict(reduction="mean")),
    ("log_cosh_loss", dict(reduction="sum")),
    ("cosine_similarity_loss", dict(reduction="mean")),
])
def test_loss_gradients_by_finite_differences(name, extra):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    if name == "cross_entropy":
        t = mx.array([0, 3, 1])
        extra = dict(extra, reduction="mean")
    elif name == "binary_cross_entropy":
        t = mx.array((rng.random((3, 4)) > 0.5).astype(np.float32))
    else:
        t = mx.array(rng.standard_normal((3, 4)).astype(np.float32))
    fn = getattr(nn.losses, name)
    g = mx.grad(lambda a: fn(a, t, **extra))(mx.array(x))
    fd = numerical_grad(lambda a: float(fn(mx.array(a.astype(np.float32)), t, **extra).item()),
                                x.astype(np.float64), 1e-2)
    np.testing.assert_allclose(np.array(g), fd, rtol=2e-2, atol=2e-3)


# ---- layers ----

def test_linear_and_identity():
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    bound = 1 / math.sqrt(4)
    assert np.all(np.abs(np.array(layer.weight)) <= bound)
    x = sample((5, 4))
    w, b = np.array(layer.weight), np.array(layer.bias)
    close(layer(mx.array(x)), x @ w.T + b)
    close(layer(mx.array(x[None])), (x @ w.T + b)[None])
    nobias = nn.Linear(4, 3, bias=False)
    assert "bias" not in nobias
    close(nobias(mx.array(x)), x @ np.array(nobias.weight).T)
    assert repr(layer) == "Linear(input_dims=4, output_dims=3, bias=True)"
    assert nn.Identity(1, foo=2)(mx.array(x)) is not None
    close(nn.Identity()(mx.array(x)), x)


def test_bilinear():
    layer = nn.Bilinear(3, 2, 4)
    assert layer.weight.shape == (4, 2, 3)
    x1, x2 = sample((2, 5, 3), 1), sample((2, 5, 2), 2)
    w, b = np.array(layer.weight), np.array(layer.bias)
    close(layer(mx.array(x1), mx.array(x2)), np.einsum("nbi,oji,nbj->nbo", x1, w, x2) + b, 1e-4)


def test_embedding():
    emb = nn.Embedding(10, 4)
    assert emb.weight.shape == (10, 4)
    idx = np.array([[1, 9], [0, 1]])
    w = np.array(emb.weight)
    close(emb(mx.array(idx)), w[idx])
    x = sample((2, 4))
    close(emb.as_linear(mx.array(x)), x @ w.T)
    with pytest.raises(ValueError, match="embedding"):
        emb(mx.array([0.5]))


def np_standardize(x, axes, eps=1e-5):
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def test_layer_norm_and_rms_norm():
    x = sample((2, 3, 8)).astype(np.float64)
    ln = nn.LayerNorm(8)
    ln.weight = mx.array(np.linspace(0.5, 2, 8).astype(np.float32))
    ln.bias = mx.array(np.linspace(-1, 1, 8).astype(np.float32))
    close(ln(mx.array(x)), np_standardize(x, -1) * np.linspace(0.5, 2, 8) + np.linspace(-1, 1, 8), 1e-4)
    plain = nn.LayerNorm(8, affine=False)
    assert plain.parameters() == {}
    close(plain(mx.array(x)), np_standardize(x, -1), 1e-4)
    assert set(nn.LayerNorm(8, bias=False).parameters()) == {"weight"}
    rms = nn.RMSNorm(8, eps=1e-6)
    rms.weight = mx.array(np.linspace(0.5, 2, 8).astype(np.float32))
    close(rms(mx.array(x)), x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * np.linspace(0.5, 2, 8), 1e-4)


def test_group_norm_and_instance_norm():
    x = sample((2, 3, 5, 6)).astype(np.float64)
    gn = nn.GroupNorm(3, 6)
    # MLX's grouping: channel c in group c % 3.
    g = x.reshape(2, -1, 3)
    want = np_standardize(g, (1,)).reshape(x.shape)
    close(gn(mx.array(x)), want, 1e-4)
    pt = nn.GroupNorm(3, 6, pytorch_compatible=True, affine=False)
    g = x.reshape(2, 15, 3, 2)
    close(pt(mx.array(x)), np_standardize(g, (1, 3)).reshape(x.shape), 1e-4)
    inorm = nn.InstanceNorm(6, affine=True)
    assert set(inorm.parameters()) == {"weight", "bias"}
    close(inorm(mx.array(x)), np_standardize(x, (1, 2)), 1e-4)
    assert nn.InstanceNorm(6).parameters() == {}
    with pytest.raises(ValueError, match="group_norm"):
        nn.GroupNorm(4, 6)(mx.array(x))


def test_batch_norm_training_and_eval():
    x = sample((16, 4), 3).astype(np.float64) + 1.0
    bn = nn.BatchNorm(4, momentum=0.1)
    assert set(bn.parameters()) == {"weight", "bias", "running_mean", "running_var"}
    assert set(bn.trainable_parameters()) == {"weight", "bias"}
    close(bn(mx.array(x)), np_standardize(x, (0,)), 1e-4)
    close(bn.running_mean, 0.1 * x.mean(0), 1e-5)
    close(bn.running_var, 0.9 + 0.1 * x.var(0), 1e-5)
    bn.eval()
    rm, rv = 0.1 * x.mean(0), 0.9 + 0.1 * x.var(0)
    close(bn(mx.array(x)), (x - rm) / np.sqrt(rv + 1e-5), 1e-4)
    bn.unfreeze()
    assert set(bn.trainable_parameters()) == {"weight", "bias"}
    img = sample((2, 3, 3, 4)).astype(np.float64)
    close(nn.BatchNorm(4, affine=False, track_running_stats=False)(mx.array(img)), np_standardize(img, (0, 1, 2)), 1e-4)
    with pytest.raises(ValueError):
        bn(mx.zeros((4,)))


def test_dropout():
    mx.random.seed(0)
    x = mx.ones((100, 100))
    d = nn.Dropout(0.3)
    y = np.array(d(x))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    d.eval()
    close(d(x), np.ones((100, 100)))
    d2 = nn.Dropout2d(0.5)
    out = np.array(d2(mx.ones((4, 5, 5, 8))))
    assert np.all(out == out[:, :1, :1, :])  # whole channels
    d3 = nn.Dropout3d(0.5)
    out = np.array(d3(mx.ones((2, 3, 3, 3, 8))))
    assert np.all(out == out[:, :1, :1, :1, :])
    with pytest.raises(ValueError):
        nn.Dropout(1.0)
    with pytest.raises(ValueError):
        d2(mx.ones((4, 8)))
    close(nn.Dropout(0.0)(x), np.ones((100, 100)))


def test_layers_match_mlx_where_installed():
    mnn = pytest.importorskip("mlx.nn")
    import mlx.core as m

    x = sample((2, 3, 4, 6))
    pairs = [
        (nn.LayerNorm(6), mnn.LayerNorm(6)), (nn.RMSNorm(6), mnn.RMSNorm(6)),
        (nn.GroupNorm(2, 6), mnn.GroupNorm(2, 6)), (nn.GroupNorm(2, 6, pytorch_compatible=True),
                                                    mnn.GroupNorm(2, 6, pytorch_compatible=True)),
        (nn.InstanceNorm(6), mnn.InstanceNorm(6)), (nn.BatchNorm(6), mnn.BatchNorm(6)),
        (nn.Linear(6, 3), mnn.Linear(6, 3)),
    ]
    for ours, theirs in pairs:
        theirs.update({k: m.array(np.array(v)) for k, v in ours.parameters().items()})
        np.testing.assert_allclose(np.array(ours(mx.array(x))), np.array(theirs(m.array(x))), rtol=1e-4, atol=1e-4,
                                   err_msg=type(ours).__name__)


# ---- Module trees ----

class MLP(nn.Module):
    def __init__(self, dims=(3, 8, 2)):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])]
        self.act = nn.ReLU()
        self.scale = mx.array(1.0)
        self._private = mx.array(5.0)
        self.name = "mlp"

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x) * self.scale


def flat_keys(tree):
    return sorted(k for k, _ in tree_flatten(tree))


def test_module_parameters_and_attributes():
    model = MLP()
    assert flat_keys(model.parameters()) == ["layers.0.bias", "layers.0.weight", "layers.1.bias",
                                             "layers.1.weight", "scale"]
    assert model.name == "mlp" and "name" not in model
    assert "_private" in model and "_private" not in model.parameters()
    model.name = mx.array(2.0)  # an array attribute becomes a parameter
    assert "name" in model.parameters()
    del model.name
    assert "name" not in model
    with pytest.raises(AttributeError):
        model.missing
    assert model.state is model and model.training


def test_module_children_and_named_modules():
    model = MLP()
    assert set(model.children()) == {"layers", "act"}
    assert isinstance(model.children()["layers"][0], nn.Linear)
    names = sorted(name for name, _ in model.named_modules())
    assert names == ["", "act", "layers.0", "layers.1"]
    assert len(model.modules()) == 4
    leaves = tree_flatten(model.leaf_modules(), is_leaf=nn.Module.is_module)
    assert sorted(k for k, _ in leaves) == ["act", "layers.0", "layers.1"]
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    assert sorted(n for n, _ in seq.named_modules()) == ["", "layers.0", "layers.1", "layers.1.layers.0",
                                                          "layers.1.layers.1"]


def test_module_update_and_apply():
    model = MLP()
    new = {"layers": [{"weight": mx.zeros((8, 3))}, {}], "scale": mx.array(2.0)}
    model.update(new)
    close(model.layers[0].weight, np.zeros((8, 3)))
    close(model.scale, 2.0)
    with pytest.raises(ValueError):
        model.update({"nope": mx.zeros((1,))})
    with pytest.raises(ValueError):
        model.update({"scale": 3.0})
    model.update({"nope": mx.zeros((1,))}, strict=False)
    model.apply(lambda p: p * 0 + 1)
    assert all(np.all(np.array(v) == 1) for _, v in tree_flatten(model.parameters()))
    model.set_dtype(mx.float16)
    assert all(v.dtype == mx.float16 for _, v in tree_flatten(model.parameters()))
    model.update_modules({"act": nn.Tanh(), "layers": [nn.Linear(3, 8), {}]})
    assert isinstance(model.act, nn.Tanh) and model.layers[0].weight.dtype == mx.float32
    with pytest.raises(ValueError):
        model.update_modules({"ghost": nn.ReLU()})
    only_scale = model.filter_and_map(lambda m, k, v: k == "scale", lambda v: v.shape)
    assert only_scale == {"scale": ()}


def test_module_freeze_unfreeze_train_eval():
    model = MLP()
    model.freeze()
    assert tree_flatten(model.trainable_parameters()) == []
    model.unfreeze()
    assert flat_keys(model.trainable_parameters()) == flat_keys(model.parameters())
    model.layers[0].freeze(keys="bias")
    assert "layers.0.bias" not in flat_keys(model.trainable_parameters())
    model.freeze(recurse=False, keys=["scale"])
    assert "scale" not in flat_keys(model.trainable_parameters())
    assert "layers.0.weight" in flat_keys(model.trainable_parameters())
    model.unfreeze(keys=["bias"])
    assert "layers.0.bias" in flat_keys(model.trainable_parameters())
    with pytest.raises(KeyError):
        model.freeze(keys="nothing", strict=True)
    model.eval()
    assert not model.training and not model.layers[1].training
    model.train()
    assert model.act.training


def test_value_and_grad_of_a_model():
    model = MLP()
    model.layers[0].freeze()
    x, y = mx.array(sample((6, 3))), mx.array(sample((6, 2)))

    def loss_fn(x, y):
        return nn.losses.mse_loss(model(x), y)

    value, grads = nn.value_and_grad(model, loss_fn)(x, y)
    assert flat_keys(grads) == ["layers.1.bias", "layers.1.weight", "scale"]
    # Check one gradient by finite differences on the scale.
    s0 = float(model.scale.item())
    h = 1e-2
    model.scale = mx.array(s0 + h)
    up = float(loss_fn(x, y).item())
    model.scale = mx.array(s0 - h)
    down = float(loss_fn(x, y).item())
    model.scale = mx.array(s0)
    assert abs(float(grads["scale"].item()) - (up - down) / (2 * h)) < 1e-2 * max(1, abs((up - down) / (2 * h)))
    assert abs(float(value.item()) - float(loss_fn(x, y).item())) < 1e-6


def test_tiny_mlp_trains_with_sgd():
    mx.random.seed(1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    labels = ((x[:, 0] * x[:, 1]) > 0).astype(np.int32)  # XOR of the signs: not linearly separable
    X, Y = mx.array(x), mx.array(labels)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 2))

    def loss_fn(x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    step = nn.value_and_grad(model, loss_fn)
    from lazuli.utils import tree_map

    first = None
    for _ in range(1000):
        loss, grads = step(X, Y)
        model.update(tree_map(lambda p, g: p - 0.5 * g, model.trainable_parameters(), grads))
        mx.eval(model.parameters())
        first = first if first is not None else float(loss.item())
    final = float(loss_fn(X, Y).item())
    accuracy = float(mx.mean(mx.argmax(model(X), axis=1) == Y).item())
    assert final < 0.15 and final < first / 4, (first, final)
    assert accuracy > 0.95


# ---- initialisers ----

def test_initializers():
    a = mx.zeros((200, 100))
    close(nn.init.constant(0.5)(mx.zeros((2, 3))), np.full((2, 3), 0.5))
    n = np.array(nn.init.normal(mean=1.0, std=2.0)(a))
    assert n.shape == (200, 100) and abs(n.mean() - 1) < 0.05 and abs(n.std() - 2) < 0.05
    u = np.array(nn.init.uniform(low=-2, high=-1)(a))
    assert u.min() >= -2 and u.max() < -1 and abs(u.mean() + 1.5) < 0.02
    close(nn.init.identity()(mx.zeros((3, 3))), np.eye(3))
    assert nn.init.identity(mx.float16)(mx.zeros((2, 2))).dtype == mx.float16
    g = np.array(nn.init.glorot_normal()(a))
    assert abs(g.std() - math.sqrt(2 / 300)) < 0.003
    gu = np.array(nn.init.glorot_uniform()(a, gain=2.0))
    assert np.abs(gu).max() <= 2 * math.sqrt(6 / 300)
    h = np.array(nn.init.he_normal()(a, mode="fan_out"))
    assert abs(h.std() - 1 / math.sqrt(200)) < 0.003
    hu = np.array(nn.init.he_uniform()(mx.zeros((8, 3, 3, 4))))
    assert np.abs(hu).max() <= math.sqrt(3 / 36)  # fan_in = 4 * 3 * 3
    s = np.array(nn.init.sparse(0.25)(mx.zeros((10, 8))))
    assert np.all((s == 0).sum(1) == 2)
    q = np.array(nn.init.orthogonal(gain=1.5)(mx.zeros((4, 6))))
    np.testing.assert_allclose(q @ q.T, 2.25 * np.eye(4), atol=1e-5)
    assert nn.init.orthogonal(dtype=mx.float16)(mx.zeros((3, 3))).dtype == mx.float16
    for bad in (lambda: nn.init.identity()(mx.zeros((2, 3))), lambda: nn.init.glorot_normal()(mx.zeros((3,))),
                lambda: nn.init.he_normal()(a, mode="fan"), lambda: nn.init.sparse(0.5)(mx.zeros((2, 2, 2))),
                lambda: nn.init.orthogonal()(mx.zeros((3,)))):
        with pytest.raises(ValueError):
            bad()


def test_checkpoint_gives_the_same_values_and_gradients():
    mx.random.seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    x = mx.array(sample((5, 4)))
    plain = nn.value_and_grad(model, lambda x: mx.sum(model(x) ** 2))
    ckpt_forward = nn.checkpoint(model)
    ckpt = nn.value_and_grad(model, lambda x: mx.sum(ckpt_forward(x) ** 2))
    (v1, g1), (v2, g2) = plain(x), ckpt(x)
    close(v2, np.array(v1))
    for (k1, a), (k2, b) in zip(tree_flatten(g1), tree_flatten(g2)):
        assert k1 == k2
        close(b, np.array(a))
    close(ckpt_forward(x), np.array(model(x)))


def test_training_steps_match_mlx_where_installed():
    # The same program, run with lazuli and with MLX from the same weights, gives the same losses.
    mlx_core = pytest.importorskip("mlx.core")
    mlx_nn = pytest.importorskip("mlx.nn")
    import mlx.utils as mlx_utils
    from lazuli.utils import tree_map, tree_unflatten

    def run(mx_, nn_, tree_map_, weights):
        model = nn_.Sequential(nn_.Linear(6, 16), nn_.LayerNorm(16), nn_.GELU(), nn_.Linear(16, 3))
        model.update(tree_unflatten([(k, mx_.array(v)) for k, v in weights]))
        x = mx_.array(sample((32, 6), 11))
        y = mx_.array(np.arange(32) % 3)
        step = nn_.value_and_grad(model, lambda x, y: nn_.losses.cross_entropy(model(x), y, reduction="mean"))
        losses = []
        for _ in range(5):
            loss, grads = step(x, y)
            model.update(tree_map_(lambda p, g: p - 0.3 * g, model.trainable_parameters(), grads))
            losses.append(float(loss.item()))
        return losses

    init = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 3))
    weights = [(k, np.array(v)) for k, v in tree_flatten(init.parameters())]
    ours = run(mx, nn, tree_map, weights)
    theirs = run(mlx_core, mlx_nn, mlx_utils.tree_map, weights)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert ours[-1] < ours[0]


def _two_layer_model(seed):
    mx.random.seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_save_and_load_weights_round_trip(tmp_path, ext):
    src, dst = _two_layer_model(0), _two_layer_model(1)
    path = str(tmp_path / f"weights.{ext}")
    src.save_weights(path)
    assert dst.load_weights(path) is dst
    want, got = dict(tree_flatten(src.parameters())), dict(tree_flatten(dst.parameters()))
    assert sorted(want) == sorted(got) == ["layers.0.bias", "layers.0.weight", "layers.2.weight"]
    for k in want:
        np.testing.assert_array_equal(np.array(got[k]), np.array(want[k]))


def test_load_weights_strict_errors_and_partial_loads(tmp_path):
    model = _two_layer_model(0)
    full = tree_flatten(model.parameters())
    with pytest.raises(ValueError, match="Missing 1 parameters"):
        model.load_weights(full[1:])
    with pytest.raises(ValueError, match="parameters not in model: \n.*layers.5.weight"):
        model.load_weights(full + [("layers.5.weight", mx.zeros((2,)))])
    bad = [(k, mx.zeros((7,)) if k == "layers.2.weight" else v) for k, v in full]
    with pytest.raises(ValueError, match=r"Expected shape \(2, 3\) but received shape \(7,\) for parameter layers.2.weight"):
        model.load_weights(bad)
    with pytest.raises(ValueError, match="Unsupported file extension"):
        model.save_weights(str(tmp_path / "weights.bin"))
    # Not strict: only the given names change.
    before = np.array(model.layers[0].weight)
    model.load_weights([("layers.2.weight", mx.ones((2, 3)))], strict=False)
    np.testing.assert_array_equal(np.array(model.layers[2].weight), np.ones((2, 3)))
    np.testing.assert_array_equal(np.array(model.layers[0].weight), before)


def test_weights_saved_by_lazuli_load_into_mlx_where_installed(tmp_path):
    mlx_nn = pytest.importorskip("mlx.nn")
    model = _two_layer_model(0)
    path = str(tmp_path / "w.safetensors")
    model.save_weights(path)
    other = mlx_nn.Sequential(mlx_nn.Linear(4, 3), mlx_nn.ReLU(), mlx_nn.Linear(3, 2, bias=False))
    other.load_weights(path)
    np.testing.assert_array_equal(np.array(other.layers[0].weight), np.array(model.layers[0].weight))
