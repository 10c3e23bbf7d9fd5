"""mx.qqmm / mx.gather_qqmm (both operands quantized) and nn.QQLinear: values against float64
products of dequantize(quantize(.)) (the pinned MLX has no nvfp4 / mxfp8 to compare with),
straight-through gradients (against the rule and finite differences of its linear
surrogate), gather against a loop, train/eval switching, from_linear, nn.quantize with
quantize_input, save/load, and the error paths."""
import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.utils import tree_flatten
from numeric import numerical_grad

MODES = [("nvfp4", 16, 4), ("mxfp8", 32, 8)]
TOL = {mx.float32: 1e-5, mx.float16: 2e-3, mx.bfloat16: 1e-2}


def sample(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def rounded(a, mode, global_scale=None):
    """dequantize(quantize(a)) as float64 numpy: the values qqmm multiplies."""
    kw = {} if global_scale is None else dict(global_scale=global_scale)
    q = mx.quantize(a, mode=mode, **kw)
    return np.array(mx.dequantize(*q, mode=mode, dtype=mx.float32, **kw)).astype(np.float64)


def assert_close(got, want, tol):
    got = np.array(got.astype(mx.float32)).astype(np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---------------------------------------------------------------- qqmm


@pytest.mark.parametrize("mode,group_size,bits", MODES)
@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16])
def test_qqmm_matches_reference(mode, group_size, bits, dtype):
    x = mx.array(sample((5, 64), 1, 2.0)).astype(dtype)
    w = mx.array(sample((7, 64), 2)).astype(dtype)
    want = rounded(x, mode) @ rounded(w, mode).T
    out = mx.qqmm(x, w, mode=mode)
    assert out.dtype == dtype
    assert_close(out, want, TOL[dtype])
    wq, scales = mx.quantize(w, mode=mode)
    packed = mx.qqmm(x, wq, scales, group_size, bits, mode)
    assert packed.dtype == dtype
    assert_close(packed, want, TOL[dtype])


def test_qqmm_default_mode_and_global_scales():
    x, w = mx.array(sample((4, 32), 3, 40.0)), mx.array(sample((6, 32), 4, 0.01))
    gx, gw = mx.max(mx.abs(x)), mx.max(mx.abs(w))
    want = rounded(x, "nvfp4", gx) @ rounded(w, "nvfp4", gw).T
    assert_close(mx.qqmm(x, w, global_scale_x=gx, global_scale_w=gw), want, 1e-5)
    wq, scales = mx.quantize(w, mode="nvfp4", global_scale=gw)
    assert_close(mx.qqmm(x, wq, scales, global_scale_x=gx, global_scale_w=gw), want, 1e-5)
    # Default mode nvfp4, without global scales.
    assert_close(mx.qqmm(x, w), rounded(x, "nvfp4") @ rounded(w, "nvfp4").T, 1e-5)


def test_qqmm_batch_shapes_vectors_and_empty():
    x, w, wb = mx.array(sample((2, 3, 64), 5)), mx.array(sample((4, 64), 6)), mx.array(sample((2, 4, 64), 7))
    assert_close(mx.qqmm(x, w, mode="mxfp8"), rounded(x, "mxfp8") @ rounded(w, "mxfp8").T, 1e-5)
    assert_close(mx.qqmm(x, wb, mode="mxfp8"), rounded(x, "mxfp8") @ rounded(wb, "mxfp8").swapaxes(-1, -2), 1e-5)
    v = mx.array(sample((64,), 8))
    out = mx.qqmm(v, w, mode="mxfp8")
    assert out.shape == (4,)
    assert_close(out, rounded(v[None], "mxfp8")[0] @ rounded(w, "mxfp8").T, 1e-5)
    assert mx.qqmm(mx.zeros((0, 64)), w).shape == (0, 4)


@pytest.mark.parametrize("mode,group_size,bits", MODES)
def test_qqmm_straight_through_gradients(mode, group_size, bits):
    x, w, c = mx.array(sample((3, 64), 9)), mx.array(sample((5, 64), 10)), mx.array(sample((3, 5), 11))
    _, (dx, dw) = mx.vjp(lambda a, b: mx.qqmm(a, b, mode=mode), [x, w], [c])
    cn = np.array(c).astype(np.float64)
    assert_close(dx, cn @ rounded(w, mode), 1e-5)
    assert_close(dw, cn.T @ rounded(x, mode), 1e-5)
    # Finite differences of the surrogate whose derivative the straight-through rule is.
    wqn = rounded(w, mode)
    fd = numerical_grad(lambda a: float(np.sum(cn * (a @ wqn.T))), np.array(x))
    np.testing.assert_allclose(np.array(dx), fd, atol=1e-4)
    # Through a packed weight only x gets a gradient.
    wp, scales = mx.quantize(w, mode=mode)
    gx = mx.grad(lambda a: mx.sum(mx.qqmm(a, wp, scales, mode=mode)))(x)
    assert_close(gx, np.broadcast_to(rounded(w, mode).sum(0), (3, 64)), 1e-5)


def test_qqmm_under_vmap_and_compile():
    x, w = mx.array(sample((4, 2, 32), 12)), mx.array(sample((3, 32), 13))
    batched = mx.vmap(lambda a: mx.qqmm(a, w), in_axes=1)(x)
    assert_close(batched, np.array(mx.qqmm(x, w).swapaxes(0, 1)).astype(np.float64), 1e-6)
    compiled = mx.compile(lambda a, b: mx.qqmm(a, b, mode="mxfp8"))
    assert_close(compiled(x, w), np.array(mx.qqmm(x, w, mode="mxfp8")).astype(np.float64), 1e-6)


@pytest.mark.parametrize("mode,group_size,bits", MODES)
def test_gather_qqmm_matches_loop(mode, group_size, bits):
    x, w = mx.array(sample((3, 2, 64), 14)), mx.array(sample((4, 5, 64), 15))
    lhs, rhs = mx.array([0, 2, 1, 2]), mx.array([3, 0, 0, 1], dtype=mx.uint32)
    out = mx.gather_qqmm(x, w, lhs_indices=lhs, rhs_indices=rhs, mode=mode)
    assert out.shape == (4, 2, 5)
    for i, (l, r) in enumerate(zip(lhs.tolist(), rhs.tolist())):
        assert_close(out[i], np.array(mx.qqmm(x[l], w[r], mode=mode)).astype(np.float64), 1e-6)
    wq, scales = mx.quantize(w, mode=mode)
    packed = mx.gather_qqmm(x[0], wq, scales, rhs_indices=rhs, mode=mode, sorted_indices=False)
    for i, r in enumerate(rhs.tolist()):
        assert_close(packed[i], np.array(mx.qqmm(x[0], w[r], mode=mode)).astype(np.float64), 1e-6)
    w3 = w[:3]
    assert_close(mx.gather_qqmm(x, w3, mode=mode), np.array(mx.qqmm(x, w3, mode=mode)).astype(np.float64), 0)


def test_qqmm_errors():
    x, w = mx.array(sample((2, 32), 16)), mx.array(sample((3, 32), 17))
    wq, scales = mx.quantize(w, mode="nvfp4")
    cases = [
        (lambda: mx.qqmm(x, w, mode="affine"), "Only 'nvfp4' and 'mxfp8' quantization modes are supported"),
        (lambda: mx.qqmm(x, w, mode="mxfp4"), "'mxfp4'"),
        (lambda: mx.qqmm(x, w, mode="bogus"), "'bogus'"),
        (lambda: mx.qqmm(x, w, group_size=32), "requires group size 16"),
        (lambda: mx.qqmm(x, w, bits=8), "requires bits to be 4"),
        (lambda: mx.qqmm(x, w, global_scale_x=mx.array(1.0)), "either both"),
        (lambda: mx.qqmm(x, w, mode="mxfp8", global_scale_x=mx.array(1.0), global_scale_w=mx.array(1.0)),
         "only supported for 'nvfp4'"),
        (lambda: mx.qqmm(x.astype(mx.float64), w), "Non-quantized x must be float32, float16 or bfloat16"),
        (lambda: mx.qqmm(x, w.astype(mx.int32)), "Non-quantized w"),
        (lambda: mx.qqmm(x, mx.zeros((3, 16))), "Last dimension of x"),
        (lambda: mx.qqmm(mx.zeros((2, 8)), mx.zeros((3, 8))), "divisible by the group size 16"),
        (lambda: mx.qqmm(x, wq), "scales must be given"),
        (lambda: mx.qqmm(x, w, scales), "scales must be None"),
        (lambda: mx.qqmm(x, wq, scales[:2]), "Shape of scales"),
    ]
    for f, message in cases:
        with pytest.raises(ValueError, match=r"\[qqmm\]") as e:
            f()
        assert message in str(e.value)
    x3, w3 = mx.zeros((2, 2, 32)), mx.zeros((2, 3, 32))
    with pytest.raises(ValueError, match=r"\[gather_qqmm\] lhs_indices must be integers"):
        mx.gather_qqmm(x3, w3, lhs_indices=mx.array([0.5]))
    with pytest.raises(ValueError, match=r"\[gather_qqmm\] x must have at least 2"):
        mx.gather_qqmm(mx.zeros((32,)), w3, rhs_indices=mx.array([0]))


# ---------------------------------------------------------------- QQLinear


def test_qqlinear_train_eval_switching():
    mx.random.seed(3)
    layer = nn.QQLinear(64, 8)
    assert (layer.group_size, layer.bits, layer.mode) == (16, 4, "nvfp4")
    assert layer.training and not layer.quantized
    assert [k for k, _ in tree_flatten(layer.trainable_parameters())] == ["weight"]
    w = layer.weight
    assert w.shape == (8, 64) and w.dtype == mx.float32
    assert float(mx.max(mx.abs(w))) <= 0.125
    x = mx.array(sample((3, 64), 4))
    train_out = layer(x)
    assert_close(train_out, rounded(x, "nvfp4") @ rounded(w, "nvfp4").T, 1e-5)

    layer.eval()
    assert layer.quantized and not layer.training
    assert layer.weight.dtype == mx.uint32 and layer.weight.shape == (8, 8) and layer.scales.shape == (8, 4)
    assert np.array_equal(np.array(layer(x)), np.array(train_out))
    assert "input_dims=64, output_dims=8, bias=False, group_size=16, bits=4, mode=nvfp4" in repr(layer)
    layer.eval()
    assert sorted(layer.keys()) == ["scales", "weight"]

    layer.train()
    assert not layer.quantized and sorted(layer.keys()) == ["weight"]
    assert layer.weight.dtype == mx.bfloat16  # dequantize's floating-mode dtype, as in MLX
    assert np.array_equal(np.array(layer(x)), np.array(train_out))
    layer.dequantize()  # a no-op when not packed
    layer.quantize()
    assert layer.quantized and layer.training  # explicit packing, whatever the mode

    fp8 = nn.QQLinear(64, 8, mode="mxfp8")
    assert (fp8.group_size, fp8.bits) == (32, 8)
    fp8.eval()
    assert fp8.weight.shape == (8, 16)


def test_qqlinear_in_a_model_switches_with_the_model():
    mx.random.seed(4)
    model = nn.Sequential(nn.QQLinear(32, 32), nn.ReLU(), nn.QQLinear(32, 4, mode="mxfp8"))
    x = mx.array(sample((2, 32), 5))
    before = model(x)
    model.eval()
    assert model.layers[0].quantized and model.layers[2].quantized
    assert np.array_equal(np.array(model(x)), np.array(before))
    model.train()
    assert not model.layers[0].quantized


def test_qqlinear_gradients_train_the_weight():
    mx.random.seed(5)
    layer = nn.QQLinear.from_linear(nn.Linear(32, 4), mode="mxfp8")
    x = mx.array(sample((2, 32), 6))
    loss, grads = nn.value_and_grad(layer, lambda m, a: mx.sum(m(a)))(layer, x)
    assert sorted(grads.keys()) == ["bias", "weight"]
    assert_close(grads["weight"], np.broadcast_to(rounded(x, "mxfp8").sum(0), (4, 32)), 1e-5)
    assert_close(grads["bias"], np.full((4,), 2.0), 0)


def test_qqlinear_from_linear_and_save_load(tmp_path):
    mx.random.seed(6)
    linear = nn.Linear(32, 4)
    layer = nn.QQLinear.from_linear(linear, mode="mxfp8")
    x = mx.array(sample((2, 32), 7))
    want = rounded(x, "mxfp8") @ rounded(linear.weight, "mxfp8").T + np.array(linear.bias)
    assert_close(layer(x), want, 1e-5)
    assert layer.training

    linear.eval()
    packed = nn.QQLinear.from_linear(linear, mode="mxfp8")
    assert packed.quantized and not packed.training
    path = str(tmp_path / "qq.safetensors")
    packed.save_weights(path)
    loaded = nn.QQLinear(32, 4, mode="mxfp8")
    loaded.eval()
    loaded.load_weights(path, strict=False)
    assert_close(loaded(x), want - np.array(linear.bias), 1e-5)
    # A float checkpoint loads into a layer in training mode.
    fresh = nn.QQLinear(32, 4, mode="mxfp8")
    fresh.load_weights([("weight", linear.weight)])
    assert_close(fresh(x), want - np.array(linear.bias), 1e-5)


def test_quantize_with_quantize_input():
    mx.random.seed(7)
    model = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    x = mx.array(sample((2, 32), 8))
    nn.quantize(model, 16, 4, mode="nvfp4", quantize_input=True)
    assert [type(m).__name__ for m in model.layers] == ["QQLinear", "ReLU", "QQLinear"]
    assert model(x).shape == (2, 4)
    q = nn.Linear(32, 4).to_quantized(32, 8, mode="mxfp8", quantize_input=True)
    assert isinstance(q, nn.QQLinear) and q.mode == "mxfp8"
    with pytest.raises(ValueError, match=r"quantize_input is only supported for Linear"):
        nn.quantize(nn.Sequential(nn.Embedding(8, 32)), 16, 4, mode="nvfp4", quantize_input=True)
    # Without quantize_input nn.quantize still gives QuantizedLinear.
    plain = nn.Sequential(nn.Linear(32, 4))
    nn.quantize(plain, 32, 8, mode="mxfp8")
    assert type(plain.layers[0]).__name__ == "QuantizedLinear"


def test_qqlinear_errors():
    with pytest.raises(ValueError, match=r"\[QQLinear\] Only 'nvfp4' and 'mxfp8'"):
        nn.QQLinear(32, 4, mode="affine")
    with pytest.raises(ValueError, match=r"\[QQLinear\] 'nvfp4' quantization requires group size 16"):
        nn.QQLinear(32, 4, group_size=32)
    with pytest.raises(ValueError, match=r"\[QQLinear\]"):
        nn.QQLinear.from_linear(nn.Linear(32, 4), mode="mxfp4")
    with pytest.raises(ValueError, match=r"\[qqmm\]"):
        nn.QQLinear(32, 4)(mx.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"\[quantize\]"):
        nn.QQLinear(24, 4).eval()


def test_qqmm_exports_and_imports(tmp_path):
    x, w = mx.array(sample((3, 32), 18)), mx.array(sample((4, 32), 19))
    path = str(tmp_path / "qqmm.mlxfn")
    mx.export_function(path, lambda a, b: mx.qqmm(a, b, mode="mxfp8"), x, w)
    (out,) = mx.import_function(path)(x, w)
    assert np.array_equal(np.array(out), np.array(mx.qqmm(x, w, mode="mxfp8")))
