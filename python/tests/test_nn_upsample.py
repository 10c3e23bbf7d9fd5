"""lazuli.nn Upsample and upsample_nearest / _linear / _cubic: values against mlx.nn with the
same inputs and against a float64 NumPy reference, dtypes, gradients against finite
differences, and the error paths."""
import itertools

import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.nn.layers.upsample import upsample_cubic, upsample_linear, upsample_nearest
from numeric import numerical_grad

FUNCS = {"nearest": upsample_nearest, "linear": upsample_linear, "cubic": upsample_cubic}


def sample(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- float64 reference
# Each spatial axis resampled as a matrix (m, n) of interpolation weights; the modes are
# separable, so the N-d result is these matrices applied axis after axis.


def positions(n, scale, align_corners):
    m = int(scale * n)
    j = np.arange(m, dtype=np.float64)
    if align_corners:
        return j * ((n - 1) / (m - 1)) if m > 1 else np.zeros(m)
    return j / scale - ((m - 1) / scale - n + 1) / 2


def weights_matrix(n, scale, mode, align_corners):
    m = int(scale * n)
    W = np.zeros((m, n))
    if mode == "nearest":
        ratio = n / m
        idx = np.round((np.arange(m) + 0.5) * ratio - 0.5) if m > n else np.floor(np.arange(m) * ratio)
        W[np.arange(m), idx.astype(int)] = 1
        return W
    for j, p in enumerate(positions(n, scale, align_corners)):
        if mode == "linear":
            p = min(max(p, 0), n - 1)
            lo = int(np.floor(p))
            W[j, lo] += 1 - (p - lo)
            W[j, int(np.ceil(p))] += p - lo
        else:
            a = -0.75
            lo = int(np.floor(p))
            for g in range(lo - 1, lo + 3):
                d = abs(p - g)
                k = ((a + 2) * d - (a + 3)) * d * d + 1 if d <= 1 else (((d - 5) * d + 8) * d - 4) * a
                W[j, min(max(g, 0), n - 1)] += k
    return W


def upsample_ref(x, scales, mode, align_corners=False):
    y = x.astype(np.float64)
    for axis, s in enumerate(scales, start=1):
        W = weights_matrix(x.shape[axis], s, mode, align_corners)
        y = np.moveaxis(np.tensordot(W, np.moveaxis(y, axis, 0), axes=1), 0, axis)
    return y


# ---------------------------------------------------------------- values

CASES = [
    # (input shape, scale factors)
    ((2, 5, 3), (2.0,)),
    ((1, 5, 2), (2.5,)),
    ((1, 7, 1), (0.6,)),
    ((2, 3, 4, 2), (2.0, 3.0)),
    ((1, 3, 4, 2), (1.5, 0.75)),
    ((1, 2, 3, 2, 2), (2.0, 1.5, 3.0)),
]


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,scales", CASES)
def test_values_against_float64_reference(mode, align_corners, shape, scales):
    if mode == "nearest" and align_corners:
        return
    x = sample(shape, 1)
    layer = nn.Upsample(scales, mode=mode, align_corners=align_corners)
    got = np.array(layer(mx.array(x)))
    want = upsample_ref(x, scales, mode, align_corners)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,scales", CASES + [((1, 6, 1), (1.0 / 3,)), ((1, 4, 1), (0.5,))])
def test_values_match_mlx(mode, align_corners, shape, scales):
    mlx = pytest.importorskip("mlx.core")
    mlx_nn = pytest.importorskip("mlx.nn")
    x = sample(shape, 2)
    want = mlx_nn.Upsample(scales, mode=mode, align_corners=align_corners)(mlx.array(x))
    got = nn.Upsample(scales, mode=mode, align_corners=align_corners)(mx.array(x))
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-5)


def test_mlx_docstring_examples_and_dtypes():
    x = mx.arange(1, 5).reshape((1, 2, 2, 1))
    near = nn.Upsample(scale_factor=2, mode="nearest")(x)
    assert near.dtype == mx.int32
    np.testing.assert_array_equal(np.array(near).squeeze(), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    lin = np.array(nn.Upsample(scale_factor=2, mode="linear", align_corners=True)(x)).squeeze()
    np.testing.assert_allclose(lin[0], [1, 4 / 3, 5 / 3, 2], atol=1e-6)
    # Interpolation weights are float32: half-precision and integer inputs give float32, as MLX.
    for dtype in (mx.float16, mx.bfloat16, mx.int32):
        assert upsample_linear(x.astype(dtype), (2.0, 2.0)).dtype == mx.float32
        assert upsample_nearest(x.astype(dtype), (1.5, 2.0)).dtype == dtype
    # A single factor applies to every spatial axis; lists become tuples of floats.
    assert nn.Upsample(2)(mx.zeros((1, 2, 3, 4, 5))).shape == (1, 4, 6, 8, 5)
    assert nn.Upsample([2, 3]).scale_factor == (2.0, 3.0)
    assert repr(nn.Upsample(2.0)) == "Upsample(scale_factor=2.0, mode='nearest', align_corners=False)"
    # Empty batch or channels, and a factor that shrinks an axis to nothing.
    assert upsample_cubic(mx.zeros((0, 2, 3)), (2.0,)).shape == (0, 4, 3)
    assert upsample_linear(mx.zeros((1, 2, 0)), (2.0,)).shape == (1, 4, 0)
    assert upsample_nearest(mx.zeros((1, 2, 3)), (0.25,)).shape == (1, 0, 3)


def test_align_corners_with_one_output_sample_takes_the_first():
    # MLX divides by zero here (its step is (n - 1) / (m - 1)); like PyTorch we sample index 0.
    x = sample((1, 3, 2), 5)
    for f in (upsample_linear, upsample_cubic):
        np.testing.assert_array_equal(np.array(f(mx.array(x), (0.5,), True)), x[:, :1])


def test_module_functions_are_where_mlx_has_them():
    mlx_nn = pytest.importorskip("mlx.nn")
    import mlx.nn.layers.upsample as theirs

    for mode in FUNCS:
        name = "upsample_" + mode
        assert hasattr(theirs, name)
        assert hasattr(nn, name) == hasattr(mlx_nn, name)
    assert hasattr(nn, "Upsample")


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("scales,align_corners", [((2.0, 1.5), False), ((1.5, 2.0), True), ((0.75, 3.0), False)])
def test_gradients_against_finite_differences(mode, scales, align_corners):
    x = sample((1, 4, 3, 2), 3)
    proj = sample(upsample_ref(x, scales, mode, align_corners).shape, 4).astype(np.float64)
    g = mx.grad(lambda a: (FUNCS[mode](a, scales, *([] if mode == "nearest" else [align_corners])) * mx.array(proj.astype(np.float32))).sum())(mx.array(x))
    want = numerical_grad(lambda a: float(np.sum(upsample_ref(a, scales, mode, align_corners) * proj)), x)
    np.testing.assert_allclose(np.array(g), want, atol=1e-4)


# ---------------------------------------------------------------- errors


def test_errors():
    with pytest.raises(ValueError, match=r"\[Upsample\] Got unsupported upsampling algorithm"):
        nn.Upsample(2, mode="bilinear")
    with pytest.raises(ValueError, match=r"\[Upsample\] The input should have at least 1 spatial"):
        nn.Upsample(2)(mx.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[Upsample\] One scale per spatial dimension"):
        nn.Upsample((2, 2))(mx.zeros((1, 2, 3)))
    for name, f in FUNCS.items():
        with pytest.raises(ValueError, match=rf"\[upsample_{name}\] input must have shape"):
            f(mx.zeros((2, 3)), (2.0,))
        with pytest.raises(ValueError, match=rf"\[upsample_{name}\] one scale factor per spatial axis"):
            f(mx.zeros((1, 2, 3, 4)), (2.0,))
        for bad in (0.0, -2.0, float("inf"), float("nan")):
            with pytest.raises(ValueError, match=rf"\[upsample_{name}\] scale factors must be positive"):
                f(mx.zeros((1, 2, 3)), (bad,))
    with pytest.raises(ValueError, match=r"\[Upsample\] scale factors must be positive"):
        nn.Upsample(-1.0)
