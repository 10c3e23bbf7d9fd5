"""lazuli.nn QuantizedLinear, QuantizedEmbedding and nn.quantize: parameters and frozen state
as mlx.nn, values against mlx.nn with the same weights and against float64 products with the
dequantized weights, nn.quantize on a small model (closeness to the float model, predicate
variants, save/load), gradients, and the error paths."""
import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.utils import tree_flatten
from numeric import numerical_grad

# (mode, group_size, bits) for every format of mx.quantize.
FORMATS = [("affine", 64, 4), ("affine", 32, 8), ("affine", 128, 3), ("mxfp4", 32, 4), ("mxfp8", 32, 8),
           ("nvfp4", 16, 4)]


def sample(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def dense_weight(layer):
    """The float64 matrix a quantized layer's weight stands for."""
    w = mx.dequantize(layer.weight, layer.scales, layer.get("biases"), group_size=layer.group_size, bits=layer.bits,
                      mode=layer.mode)
    return np.array(w.astype(mx.float32)).astype(np.float64)


def structure(params):
    return {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in params}


# ---------------------------------------------------------------- layers


@pytest.mark.parametrize("mode,group_size,bits", FORMATS)
def test_quantized_linear_values(mode, group_size, bits):
    mx.random.seed(3)
    linear = nn.Linear(256, 24)
    q = linear.to_quantized(group_size=group_size, bits=bits, mode=mode)
    assert isinstance(q, nn.QuantizedLinear) and (q.group_size, q.bits, q.mode) == (group_size, bits, mode)
    x = sample((3, 5, 256), 1)
    got = np.array(q(mx.array(x)))
    want = x.astype(np.float64) @ dense_weight(q).T + np.array(linear.bias)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # Close to the float layer; the closer, the more bits.
    err = np.abs(got - np.array(linear(mx.array(x)))).max() / np.abs(want).max()
    assert err < {3: 0.4, 4: 0.2, 8: 0.05}[bits]


@pytest.mark.parametrize("mode,group_size,bits", FORMATS)
def test_quantized_embedding_values(mode, group_size, bits):
    emb = nn.Embedding(20, 128)
    q = emb.to_quantized(group_size, bits, mode)
    assert isinstance(q, nn.QuantizedEmbedding) and (q.num_embeddings, q.dims) == (20, 128)
    idx = np.array([[3, 0, 19], [3, 7, 7]])
    dense = dense_weight(q)
    np.testing.assert_allclose(np.array(q(mx.array(idx)).astype(mx.float32)), dense[idx], atol=1e-6)
    x = sample((4, 128), 2)
    np.testing.assert_allclose(np.array(q.as_linear(mx.array(x))), x.astype(np.float64) @ dense.T, rtol=1e-4,
                               atol=1e-4)


# The formats of the installed MLX (0.29 has neither mxfp8 nor nvfp4).
MLX_FORMATS = [f for f in FORMATS if f[0] in ("affine", "mxfp4")]


@pytest.mark.parametrize("mode,group_size,bits", MLX_FORMATS)
def test_layers_match_mlx(mode, group_size, bits):
    mlx = pytest.importorskip("mlx.core")
    mlx_nn = pytest.importorskip("mlx.nn")
    from mlx.utils import tree_flatten as mlx_flatten

    w, b = sample((32, 128), 3, 0.1), sample((32,), 4)
    ours, theirs = nn.Linear(128, 32), mlx_nn.Linear(128, 32)
    ours.update({"weight": mx.array(w), "bias": mx.array(b)})
    theirs.update({"weight": mlx.array(w), "bias": mlx.array(b)})
    ours, theirs = ours.to_quantized(group_size, bits, mode), theirs.to_quantized(group_size, bits, mode)
    assert structure(tree_flatten(ours.parameters())) == structure(mlx_flatten(theirs.parameters()))
    assert sorted(k for k, _ in tree_flatten(ours.trainable_parameters())) == ["bias"]
    assert sorted(k for k, _ in mlx_flatten(theirs.trainable_parameters())) == ["bias"]
    for k, v in tree_flatten(ours.parameters()):
        np.testing.assert_array_equal(np.array(v.astype(mx.float32)), np.array(theirs[k].astype(mlx.float32)), err_msg=k)
    if 32 % bits == 0:  # MLX's repr gets input_dims wrong for 3, 5 and 6 bits (120 here)
        assert repr(ours) == repr(theirs)
    assert f"input_dims=128, output_dims=32, bias=True, group_size={group_size}, bits={bits}" in repr(ours)
    x = sample((2, 128), 5)
    np.testing.assert_allclose(np.array(ours(mx.array(x))), np.array(theirs(mlx.array(x))), rtol=1e-5, atol=1e-5)

    emb_ours, emb_theirs = nn.Embedding(16, 128), mlx_nn.Embedding(16, 128)
    table = sample((16, 128), 6)
    emb_ours.update({"weight": mx.array(table)})
    emb_theirs.update({"weight": mlx.array(table)})
    emb_ours, emb_theirs = emb_ours.to_quantized(group_size, bits, mode), emb_theirs.to_quantized(group_size, bits, mode)
    assert structure(tree_flatten(emb_ours.parameters())) == structure(mlx_flatten(emb_theirs.parameters()))
    assert repr(emb_ours) == repr(emb_theirs)
    idx = np.array([1, 15, 1, 0])
    got, want = emb_ours(mx.array(idx)), emb_theirs(mlx.array(idx))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_allclose(np.array(got.astype(mx.float32)), np.array(want.astype(mlx.float32)), atol=1e-6)
    np.testing.assert_allclose(np.array(emb_ours.as_linear(mx.array(x))), np.array(emb_theirs.as_linear(mlx.array(x))),
                               rtol=1e-5, atol=1e-4)


def test_constructors_freeze_everything_and_match_mlx():
    mlx_nn = pytest.importorskip("mlx.nn")
    from mlx.utils import tree_flatten as mlx_flatten

    for args in [(64, 32), (64, 32, False), (64, 32, True, 32, 8), (64, 32, True, 32, 4, "mxfp4")]:
        ours, theirs = nn.QuantizedLinear(*args), mlx_nn.QuantizedLinear(*args)
        assert structure(tree_flatten(ours.parameters())) == structure(mlx_flatten(theirs.parameters()))
        assert ours.trainable_parameters() == {} and theirs.trainable_parameters() == {}
        assert repr(ours) == repr(theirs)
        if "bias" in ours:
            assert np.all(np.array(ours.bias) == 0)
    ours, theirs = nn.QuantizedEmbedding(10, 64, 32, 8), mlx_nn.QuantizedEmbedding(10, 64, 32, 8)
    assert structure(tree_flatten(ours.parameters())) == structure(mlx_flatten(theirs.parameters()))
    assert ours.trainable_parameters() == {}
    assert repr(ours) == repr(theirs)


def test_only_the_bias_trains_and_input_gradient():
    q = nn.Linear(64, 8).to_quantized()
    x = sample((3, 64), 7)
    proj = sample((3, 8), 8)
    loss = lambda model, a: (model(a) * mx.array(proj)).sum()  # noqa: E731
    value, grads = nn.value_and_grad(q, loss)(q, mx.array(x))
    assert [k for k, _ in tree_flatten(grads)] == ["bias"]
    np.testing.assert_allclose(np.array(grads["bias"]), proj.sum(0), rtol=1e-5)
    dense = dense_weight(q)
    gx = mx.grad(lambda a: loss(q, a))(mx.array(x))
    want = numerical_grad(lambda a: float(np.sum((a @ dense.T) * proj)), x)
    np.testing.assert_allclose(np.array(gx), want, atol=1e-3)


# ---------------------------------------------------------------- nn.quantize


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(32, 64)
        self.layers = [nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64)]
        self.norm = nn.LayerNorm(64)

    def __call__(self, idx):
        h = self.embed(idx)
        for layer in self.layers:
            h = layer(h)
        return self.embed.as_linear(self.norm(h))


def make_net(seed=0):
    mx.random.seed(seed)
    return Net()


def test_quantize_model_outputs_close_to_float():
    net = make_net()
    idx = mx.array(np.arange(32).reshape(4, 8))
    want = np.array(net(idx))
    nn.quantize(net, bits=8, group_size=32)
    assert isinstance(net.embed, nn.QuantizedEmbedding)
    assert [type(m).__name__ for m in net.layers] == ["QuantizedLinear", "ReLU", "QuantizedLinear"]
    assert isinstance(net.norm, nn.LayerNorm) and net.layers[0].bits == 8 and net.layers[0].group_size == 32
    got = np.array(net(idx))
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    # The default 4-bit affine, further from the float model but still close.
    net4 = make_net()
    nn.quantize(net4)
    assert net4.layers[2].bits == 4 and net4.layers[2].mode == "affine"
    assert np.abs(np.array(net4(idx)) - want).max() < 0.3 * np.abs(want).max()


def test_quantize_predicates():
    net = make_net()
    nn.quantize(net, class_predicate=lambda path, m: isinstance(m, nn.Linear))
    assert isinstance(net.embed, nn.Embedding) and isinstance(net.layers[0], nn.QuantizedLinear)
    net = make_net()
    seen = []

    def by_path(path, m):
        seen.append(path)
        if path == "layers.0":
            return {"group_size": 32, "bits": 8}
        if path == "embed":
            return {"group_size": 32, "bits": 4, "mode": "mxfp4"}
        return False

    nn.quantize(net, class_predicate=by_path)
    assert sorted(seen) == ["embed", "layers.0", "layers.1", "layers.2", "norm"]
    assert (net.layers[0].group_size, net.layers[0].bits) == (32, 8)
    assert net.embed.mode == "mxfp4" and "biases" not in net.embed
    assert isinstance(net.layers[2], nn.Linear) and not isinstance(net.layers[2], nn.QuantizedLinear)
    net(mx.array([[1, 2, 3]]))  # still runs
    # The same model quantized by MLX has the same parameter tree.
    mlx_nn = pytest.importorskip("mlx.nn")
    from mlx.utils import tree_flatten as mlx_flatten

    class TheirNet(mlx_nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = mlx_nn.Embedding(32, 64)
            self.layers = [mlx_nn.Linear(64, 128), mlx_nn.ReLU(), mlx_nn.Linear(128, 64)]
            self.norm = mlx_nn.LayerNorm(64)

    theirs = TheirNet()
    mlx_nn.quantize(theirs, class_predicate=by_path)
    assert structure(tree_flatten(net.parameters())) == structure(mlx_flatten(theirs.parameters()))
    assert sorted(k for k, _ in tree_flatten(net.trainable_parameters())) == sorted(
        k for k, _ in mlx_flatten(theirs.trainable_parameters()))


def test_quantize_errors():
    with pytest.raises(ValueError, match=r"Unable to quantize module 'layers.1' of type ReLU"):
        nn.quantize(make_net(), class_predicate=lambda p, m: True)
    with pytest.raises(ValueError, match=r"class_predicate must return a bool or a dict"):
        nn.quantize(make_net(), class_predicate=lambda p, m: 3 if isinstance(m, nn.Linear) else False)
    with pytest.raises(ValueError, match=r"\[quantize\]"):
        nn.quantize(make_net(), group_size=48)
    with pytest.raises(ValueError, match=r"\[quantize\]"):
        nn.quantize(make_net(), mode="mxfp4")  # needs group size 32
    with pytest.raises(ValueError, match=r"\[quantize\]"):
        nn.QuantizedLinear(64, 32, bits=7)
    with pytest.raises(ValueError, match=r"\[quantize\]"):
        nn.Linear(60, 8).to_quantized()  # 60 columns are not a multiple of the group size
    with pytest.raises(ValueError, match=r"\[quantized_matmul\]"):
        nn.QuantizedLinear(64, 32)(mx.zeros((2, 32)))
    with pytest.raises(ValueError, match=r"\[quantized_embedding\] indices must be integers"):
        nn.QuantizedEmbedding(10, 64)(mx.array([0.5]))
    with pytest.raises(ValueError, match=r"\[quantized_linear\] bias must have shape \(32,\)"):
        from lazuli.core import _nn

        q = nn.QuantizedLinear(64, 32)
        _nn.quantized_linear(mx.zeros((1, 64)), q.weight, q.scales, q.biases, mx.zeros((31,)), 64, 4)


@pytest.mark.parametrize("ext", ["safetensors", "npz"])
def test_save_load_quantized_model(tmp_path, ext):
    net = make_net(1)
    nn.quantize(net, group_size=32, bits=4)
    path = str(tmp_path / f"q.{ext}")
    net.save_weights(path)
    other = make_net(2)
    nn.quantize(other, group_size=32, bits=4)
    idx = mx.array([[0, 5, 31]])
    assert not np.allclose(np.array(other(idx)), np.array(net(idx)))
    other.load_weights(path)
    for (k, a), (k2, b) in zip(tree_flatten(net.parameters()), tree_flatten(other.parameters())):
        assert k == k2 and a.dtype == b.dtype
        np.testing.assert_array_equal(np.array(a), np.array(b))
    np.testing.assert_array_equal(np.array(other(idx)), np.array(net(idx)))
