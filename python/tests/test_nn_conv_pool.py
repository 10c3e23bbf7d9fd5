"""lazuli.nn convolution and pooling layers: parameter shapes and initialisation, pooling
against a NumPy loop reference, every layer against mlx.nn with the same weights (where MLX
is installed), gradients through a tiny CNN, and the error paths."""
import itertools
import math

import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.utils import tree_flatten, tree_map


def sample(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- parameters

CONV_CASES = [
    # (class, args, kwargs, expected weight shape)
    (nn.Conv1d, (4, 6, 3), {}, (6, 3, 4)),
    (nn.Conv1d, (4, 6, 3), {"groups": 2}, (6, 3, 2)),
    (nn.Conv2d, (3, 5, 3), {}, (5, 3, 3, 3)),
    (nn.Conv2d, (4, 8, (2, 3)), {"groups": 4}, (8, 2, 3, 1)),
    (nn.Conv3d, (2, 3, (1, 2, 3)), {}, (3, 1, 2, 3, 2)),
    (nn.ConvTranspose1d, (4, 6, 3), {}, (6, 3, 4)),
    (nn.ConvTranspose2d, (3, 5, (2, 4)), {}, (5, 2, 4, 3)),
    (nn.ConvTranspose3d, (2, 3, 2), {}, (3, 2, 2, 2, 2)),
]


@pytest.mark.parametrize("cls,args,kwargs,wshape", CONV_CASES)
def test_conv_parameter_shapes_and_init(cls, args, kwargs, wshape):
    mx.random.seed(0)
    layer = cls(*args, **kwargs)
    params = dict(tree_flatten(layer.parameters()))
    assert sorted(params) == ["bias", "weight"]
    assert tuple(params["weight"].shape) == wshape
    assert tuple(params["bias"].shape) == (wshape[0],)
    assert np.all(np.array(params["bias"]) == 0)
    in_channels, kernel = args[0], wshape[1:-1]
    scale = math.sqrt(1.0 / (in_channels * math.prod(kernel)))
    w = np.array(params["weight"])
    assert np.all(np.abs(w) <= scale) and np.abs(w).max() > scale / 2
    no_bias = cls(*args, **kwargs, bias=False)
    assert sorted(dict(tree_flatten(no_bias.parameters()))) == ["weight"]
    assert "bias=False" in repr(no_bias)


def test_pool_layers_have_no_parameters_and_default_stride():
    for cls in (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d):
        layer = cls(2)
        assert tree_flatten(layer.parameters()) == []
        assert "stride=(2" in repr(layer)
    assert "kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)" in repr(nn.MaxPool2d((2, 3), (1, 2), (1, 0)))


# ---------------------------------------------------------------- pooling vs NumPy

def np_pool(x, kernel, stride, padding, kind):
    """Loop reference: x (N, *spatial, C) padded with -inf (max) or 0 (avg) then pooled."""
    nd = len(kernel)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x.astype(np.float64), [(0, 0)] + [(p, p) for p in padding] + [(0, 0)], constant_values=fill)
    out_sp = [(xp.shape[1 + i] - kernel[i]) // stride[i] + 1 for i in range(nd)]
    out = np.empty((x.shape[0], *out_sp, x.shape[-1]))
    for idx in itertools.product(*(range(o) for o in out_sp)):
        window = xp[(slice(None),) + tuple(slice(i * s, i * s + k) for i, s, k in zip(idx, stride, kernel))]
        axes = tuple(range(1, nd + 1))
        out[(slice(None),) + idx] = window.max(axis=axes) if kind == "max" else window.mean(axis=axes)
    return out


POOL_CASES = [
    # (ndim, input spatial, kernel_size, stride, padding)
    (1, (9,), 2, None, 0),
    (1, (10,), 3, 2, 1),
    (1, (7,), (4,), (1,), (2,)),
    (2, (6, 7), 2, None, 0),
    (2, (8, 8), 3, 2, 1),
    (2, (5, 9), (2, 3), (1, 2), (1, 0)),
    (3, (4, 5, 6), 2, None, 0),
    (3, (5, 5, 4), (3, 2, 2), (2, 1, 2), (1, 0, 1)),
]
POOL_CLASSES = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("max", 3): nn.MaxPool3d,
                ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d, ("avg", 3): nn.AvgPool3d}


def _per_axis(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("nd,spatial,kernel,stride,padding", POOL_CASES)
def test_pooling_matches_numpy_loop(kind, nd, spatial, kernel, stride, padding):
    x = sample((2, *spatial, 3), seed=nd)
    layer = POOL_CLASSES[(kind, nd)](kernel, stride, padding)
    got = np.array(layer(mx.array(x)))
    k = _per_axis(kernel, nd)
    want = np_pool(x, k, _per_axis(stride, nd) if stride is not None else k, _per_axis(padding, nd), kind)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_pooling_on_a_transposed_non_contiguous_input():
    x = sample((2, 3, 8, 6))  # (N, C, H, W) transposed to channels-last: not row-major
    xt = mx.transpose(mx.array(x), (0, 2, 3, 1))
    want = np_pool(np.transpose(x, (0, 2, 3, 1)), (2, 3), (2, 1), (1, 1), "max")
    np.testing.assert_allclose(np.array(nn.MaxPool2d((2, 3), (2, 1), 1)(xt)), want, rtol=1e-6)


def test_avg_pool_counts_zero_padding_and_max_pool_ignores_it():
    x = mx.full((1, 2, 1), -3.0)
    assert np.array(nn.MaxPool1d(2, 2, padding=1)(x)).ravel().tolist() == [-3.0, -3.0]
    assert np.array(nn.AvgPool1d(2, 2, padding=1)(x)).ravel().tolist() == [-1.5, -1.5]


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float32])
def test_pooling_keeps_dtype_and_handles_an_empty_batch(dtype):
    x = sample((2, 6, 5, 3))
    xd = mx.array(x).astype(dtype)
    rounded = np.array(xd.astype(mx.float32))  # the inputs as the low-precision dtype holds them
    for kind, cls in (("max", nn.MaxPool2d), ("avg", nn.AvgPool2d)):
        got = cls(3, 2, 1)(xd)
        assert got.dtype == dtype
        tol = 1e-6 if dtype == mx.float32 else 1e-2
        np.testing.assert_allclose(np.array(got.astype(mx.float32)), np_pool(rounded, (3, 3), (2, 2), (1, 1), kind),
                                   rtol=tol, atol=tol)
    assert tuple(nn.MaxPool2d(2, padding=1)(mx.zeros((0, 6, 6, 2), dtype=dtype)).shape) == (0, 4, 4, 2)
    assert tuple(nn.Conv2d(2, 3, 3)(mx.zeros((0, 6, 6, 2))).shape) == (0, 4, 4, 3)


def test_pooling_gradients():
    x = sample((1, 4, 4, 1))
    g = np.array(mx.grad(lambda a: mx.sum(nn.MaxPool2d(2)(a)))(mx.array(x)))
    want = np.zeros_like(x)
    for i, j in itertools.product(range(2), range(2)):
        block = x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0]
        r, c = np.unravel_index(np.argmax(block), block.shape)
        want[0, 2 * i + r, 2 * j + c, 0] = 1
    np.testing.assert_array_equal(g, want)
    g = np.array(mx.grad(lambda a: mx.sum(nn.AvgPool1d(3, 1)(a)))(mx.ones((1, 5, 1))))
    np.testing.assert_allclose(g.ravel(), np.array([1, 2, 3, 2, 1]) / 3, rtol=1e-6)


# ---------------------------------------------------------------- conv vs a direct formula

def test_conv1d_matches_a_numpy_loop_with_groups_and_bias():
    mx.random.seed(3)
    layer = nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
    layer.bias = mx.array(sample((6,), seed=9))
    x = sample((2, 9, 4), seed=4)
    w, b = np.array(layer.weight).astype(np.float64), np.array(layer.bias).astype(np.float64)
    xp = np.pad(x.astype(np.float64), [(0, 0), (1, 1), (0, 0)])
    L = (xp.shape[1] - 3) // 2 + 1
    want = np.zeros((2, L, 6))
    for o in range(6):
        g = o // 3
        for t in range(L):
            want[:, t, o] = np.einsum("nkc,kc->n", xp[:, 2 * t:2 * t + 3, 2 * g:2 * g + 2], w[o]) + b[o]
    np.testing.assert_allclose(np.array(layer(mx.array(x))), want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- against mlx.nn

MLX_CASES = [
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, (2, 11, 4)),
    ("Conv2d", (3, 4, (2, 3)), {"stride": (1, 2), "padding": 1}, (2, 7, 8, 3)),
    ("Conv2d", (4, 4, 3), {"groups": 2, "dilation": 2}, (1, 9, 9, 4)),
    ("Conv3d", (2, 3, 2), {"stride": 2, "padding": (1, 0, 1)}, (1, 5, 6, 4, 2)),
    ("ConvTranspose1d", (3, 5, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 6, 3)),
    ("ConvTranspose2d", (3, 2, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": 1}, (1, 4, 5, 3)),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, (1, 3, 2, 3, 2)),
]


@pytest.mark.parametrize("name,args,kwargs,xshape", MLX_CASES)
def test_conv_layers_match_mlx(name, args, kwargs, xshape):
    mlx = pytest.importorskip("mlx.core")
    mlx_nn = pytest.importorskip("mlx.nn")
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(mlx_nn, name)(*args, **kwargs)
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
    w, b = sample(tuple(ours.weight.shape), seed=1), sample((args[1],), seed=2)
    ours.update({"weight": mx.array(w), "bias": mx.array(b)})
    theirs.update({"weight": mlx.array(w), "bias": mlx.array(b)})
    x = sample(xshape, seed=3)
    want = np.array(theirs(mlx.array(x)))
    got = np.array(ours(mx.array(x)))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["Max", "Avg"])
@pytest.mark.parametrize("nd,spatial,kernel,stride,padding", POOL_CASES)
def test_pool_layers_match_mlx(kind, nd, spatial, kernel, stride, padding):
    mlx = pytest.importorskip("mlx.core")
    mlx_nn = pytest.importorskip("mlx.nn")
    name = f"{kind}Pool{nd}d"
    x = sample((2, *spatial, 3), seed=5)
    want = np.array(getattr(mlx_nn, name)(kernel, stride, padding)(mlx.array(x)))
    got = np.array(getattr(nn, name)(kernel, stride, padding)(mx.array(x)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- training

def test_tiny_cnn_loss_decreases_with_sgd():
    mx.random.seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 32)
    patterns = rng.standard_normal((3, 8, 8, 1))  # one image per class, seen through noise
    x = mx.array((patterns[labels] + 0.5 * rng.standard_normal((32, 8, 8, 1))).astype(np.float32))
    y = mx.array(labels.astype(np.int32))

    class TinyCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)
            self.avg = nn.AvgPool2d(4)
            self.head = nn.Linear(4 * 2 * 2, 3)

        def __call__(self, a):
            h = self.avg(nn.relu(self.up(self.pool(nn.relu(self.conv(a))))))
            return self.head(mx.reshape(h, (h.shape[0], -1)))

    model = TinyCNN()

    def loss_fn(a, t):
        return nn.losses.cross_entropy(model(a), t, reduction="mean")

    step = nn.value_and_grad(model, loss_fn)
    losses = []
    for _ in range(30):
        loss, grads = step(x, y)
        flat = dict(tree_flatten(grads))
        assert set(flat) == {"conv.weight", "conv.bias", "up.weight", "up.bias", "head.weight", "head.bias"}
        assert all(np.isfinite(np.array(g)).all() for g in flat.values())
        assert float(mx.sum(mx.abs(flat["conv.weight"])).item()) > 0
        model.update(tree_map(lambda p, g: p - 1.0 * g, model.trainable_parameters(), grads))
        mx.eval(model.parameters())
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0] * 0.5 and losses[1] < losses[0], losses


# ---------------------------------------------------------------- errors

def test_conv_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv1d(5, 4, 3, groups=2)
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3)(mx.zeros((1, 5, 5, 2)))  # wrong channel count
    with pytest.raises(ValueError):
        nn.Conv1d(3, 4, 5)(mx.zeros((1, 3, 3)))  # kernel longer than the input


def test_pool_errors():
    with pytest.raises(ValueError, match=r"\[MaxPool2d\] 'kernel_size'"):
        nn.MaxPool2d((2, 2, 2))
    with pytest.raises(ValueError, match=r"\[AvgPool1d\] 'stride'"):
        nn.AvgPool1d(2, stride=1.5)
    with pytest.raises(ValueError, match=r"\[MaxPool3d\] 'padding'"):
        nn.MaxPool3d(2, padding=(1, 1))
    with pytest.raises(ValueError, match="positive"):
        nn.MaxPool1d(0)
    with pytest.raises(ValueError, match="non-negative"):
        nn.AvgPool2d(2, padding=-1)
    with pytest.raises(ValueError, match="dimensions"):
        nn.MaxPool2d(2)(mx.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match="larger"):
        nn.AvgPool1d(5)(mx.zeros((1, 3, 2)))
