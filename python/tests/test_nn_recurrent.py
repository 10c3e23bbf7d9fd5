"""lazuli.nn recurrent layers (RNN, GRU, LSTM): parameters and initialisation as mlx.nn, values
against mlx.nn with the same weights and against float64 NumPy recurrences, gradients
against finite differences of those recurrences, and the error paths."""
import math

import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.utils import tree_flatten
from numeric import numerical_grad

H, D, L, N = 5, 3, 4, 2
NAMES = {"RNN": ["Whh", "Wxh", "bias"], "GRU": ["Wh", "Wx", "b", "bhn"], "LSTM": ["Wh", "Wx", "bias"]}
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def sample(shape, seed=0, scale=0.5):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


# ---------------------------------------------------------------- float64 references
# x (..., L, D); weights as in the layers; a missing state means no recurrent term at the first
# step (as MLX: for GRU not even bhn).


def rnn_ref(x, p, h=None, act=np.tanh):
    xw = x @ p["Wxh"].T + p.get("bias", 0)
    out = []
    for t in range(x.shape[-2]):
        h = act(xw[..., t, :] + (0 if h is None else h @ p["Whh"].T))
        out.append(h)
    return np.stack(out, -2)


def gru_ref(x, p, h=None):
    xw = x @ p["Wx"].T + p.get("b", 0)
    out = []
    for t in range(x.shape[-2]):
        a = xw[..., t, :]
        hp = 0 if h is None else h @ p["Wh"].T
        hr = lambda i: 0 if h is None else hp[..., i * H:(i + 1) * H]  # noqa: E731
        r = sigmoid(a[..., :H] + hr(0))
        z = sigmoid(a[..., H:2 * H] + hr(1))
        n = np.tanh(a[..., 2 * H:] + (0 if h is None else r * (hr(2) + p.get("bhn", 0))))
        h = (1 - z) * n + (0 if h is None else z * h)
        out.append(h)
    return np.stack(out, -2)


def lstm_ref(x, p, h=None, c=None):
    xw = x @ p["Wx"].T + p.get("bias", 0)
    hs, cs = [], []
    for t in range(x.shape[-2]):
        a = xw[..., t, :] + (0 if h is None else h @ p["Wh"].T)
        i, f, g, o = (a[..., k * H:(k + 1) * H] for k in range(4))
        c = sigmoid(i) * np.tanh(g) + (0 if c is None else sigmoid(f) * c)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, -2), np.stack(cs, -2)


REFS = {"RNN": rnn_ref, "GRU": gru_ref, "LSTM": lstm_ref}


def make(name, bias=True, seed=0):
    """A layer with known weights and the same weights as float64 NumPy arrays."""
    layer = getattr(nn, name)(D, H, bias=bias)
    params = {k: sample(np.array(v).shape, seed + i) for i, (k, v) in enumerate(sorted(tree_flatten(layer.parameters())))}
    layer.update({k: mx.array(v) for k, v in params.items()})
    return layer, {k: v.astype(np.float64) for k, v in params.items()}


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_parameter_names_shapes_and_init(name):
    mx.random.seed(0)
    layer = getattr(nn, name)(D, H)
    params = dict(tree_flatten(layer.parameters()))
    assert sorted(params) == NAMES[name]
    g = GATES[name]
    shapes = {"Wxh": (H, D), "Whh": (H, H), "Wx": (g * H, D), "Wh": (g * H, H), "bias": (g * H,), "b": (g * H,),
              "bhn": (H,)}
    scale = 1 / math.sqrt(H)
    for k, v in params.items():
        assert tuple(v.shape) == shapes[k]
        a = np.array(v)
        assert np.all(np.abs(a) <= scale) and np.abs(a).max() > scale / 2
    no_bias = dict(tree_flatten(getattr(nn, name)(D, H, bias=False).parameters()))
    assert sorted(no_bias) == [k for k in NAMES[name] if not k.startswith("b")]
    assert f"input_dims={D}, hidden_size={H}" in repr(layer) and "bias=False" in repr(getattr(nn, name)(D, H, False))


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_parameter_names_match_mlx(name):
    mlx_nn = pytest.importorskip("mlx.nn")
    from mlx.utils import tree_flatten as mlx_flatten

    for bias in (True, False):
        theirs = {k: v.shape for k, v in mlx_flatten(getattr(mlx_nn, name)(D, H, bias=bias).parameters())}
        ours = {k: tuple(v.shape) for k, v in tree_flatten(getattr(nn, name)(D, H, bias=bias).parameters())}
        assert ours == theirs


# ---------------------------------------------------------------- values


def run(name, layer, x, h=None, c=None):
    if name == "LSTM":
        return tuple(np.array(a) for a in layer(x, h, c))
    return np.array(layer(x, h))


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xshape,hshape", [((N, L, D), None), ((N, L, D), (N, H)), ((L, D), None), ((L, D), (H,)),
                                           ((N, L, D), (H,)), ((3, N, L, D), (N, H))])
def test_values_against_float64_reference(name, bias, xshape, hshape):
    layer, p = make(name, bias)
    x = sample(xshape, 10)
    h = None if hshape is None else sample(hshape, 11)
    c = None if hshape is None else sample(hshape, 12)
    args = [x.astype(np.float64)] + ([] if h is None else [h.astype(np.float64)])
    if name == "LSTM":
        want = lstm_ref(x.astype(np.float64), p, None if h is None else h.astype(np.float64),
                        None if c is None else c.astype(np.float64))
        got = run(name, layer, mx.array(x), None if h is None else mx.array(h), None if c is None else mx.array(c))
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=2e-5)
    else:
        want = REFS[name](args[0], p, *args[1:])
        got = run(name, layer, mx.array(x), None if h is None else mx.array(h))
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=2e-5)


def test_lstm_cell_without_hidden_and_rnn_custom_nonlinearity():
    layer, p = make("LSTM")
    x, c = sample((N, L, D), 1), sample((N, H), 2)
    hs, cs = layer(mx.array(x), cell=mx.array(c))
    want_h, want_c = lstm_ref(x.astype(np.float64), p, None, c.astype(np.float64))
    np.testing.assert_allclose(np.array(hs), want_h, atol=2e-5)
    np.testing.assert_allclose(np.array(cs), want_c, atol=2e-5)
    rnn, p = make("RNN")
    rnn.nonlinearity = nn.relu
    np.testing.assert_allclose(np.array(rnn(mx.array(x))), rnn_ref(x.astype(np.float64), p, act=lambda v: np.maximum(v, 0)),
                               atol=2e-5)
    rnn = nn.RNN(D, H, nonlinearity=lambda v: v * 0.5)
    assert np.array(rnn(mx.array(x))).shape == (N, L, H)


def test_empty_sequence_and_float16():
    layer, _ = make("GRU")
    assert layer(mx.zeros((N, 0, D))).shape == (N, 0, H)
    lstm, p = make("LSTM")
    x = sample((N, L, D), 3)
    hs, cs = lstm(mx.array(x).astype(mx.float16))
    assert hs.dtype == mx.float32  # float32 weights promote the half-precision input
    lstm.set_dtype(mx.float16)
    hs, cs = lstm(mx.array(x).astype(mx.float16))
    assert hs.dtype == mx.float16
    np.testing.assert_allclose(np.array(hs.astype(mx.float32)), lstm_ref(x.astype(np.float64), p)[0], atol=5e-3)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_values_match_mlx(name, with_state, batched):
    mlx = pytest.importorskip("mlx.core")
    mlx_nn = pytest.importorskip("mlx.nn")
    layer, p = make(name)
    theirs = getattr(mlx_nn, name)(D, H)
    theirs.update({k: mlx.array(v.astype(np.float32)) for k, v in p.items()})
    x = sample((N, L, D) if batched else (L, D), 4)
    state = [sample((N, H) if batched else (H,), 5 + i) for i in range(2 if name == "LSTM" else 1)] if with_state else []
    got = layer(mx.array(x), *map(mx.array, state))
    want = theirs(mlx.array(x), *map(mlx.array, state))
    for g, w in zip(got, want) if name == "LSTM" else [(got, want)]:
        np.testing.assert_allclose(np.array(g), np.array(w), atol=1e-5)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_gradients_against_finite_differences(name):
    layer, p = make(name)
    x, h, c = sample((N, L, D), 6), sample((N, H), 7), sample((N, H), 8)
    proj = sample((N, L, H), 9).astype(np.float64)  # a random linear functional of the outputs
    state = {"x": x, "h": h, "c": c} if name == "LSTM" else {"x": x, "h": h}

    def loss_ref(values):
        pp = {k: values.get(k, v) for k, v in p.items()}
        args = [values.get(k, state[k].astype(np.float64)) for k in state]
        out = REFS[name](args[0], pp, *args[1:])
        hs = out[0] + out[1] if name == "LSTM" else out
        return float(np.sum(hs * proj))

    def loss(params, *args):
        layer.update(params)
        out = layer(*args)
        hs = out[0] + out[1] if name == "LSTM" else out
        return (hs * mx.array(proj.astype(np.float32))).sum()

    params = layer.parameters()
    args = [mx.array(v) for v in state.values()]
    grads = mx.grad(loss, argnums=tuple(range(len(args) + 1)))(params, *args)
    for k, v in p.items():
        want = numerical_grad(lambda a: loss_ref({k: a}), v)
        np.testing.assert_allclose(np.array(grads[0][k]), want, atol=2e-3, err_msg=k)
    for i, (k, v) in enumerate(state.items()):
        want = numerical_grad(lambda a: loss_ref({k: a}), v.astype(np.float64))
        np.testing.assert_allclose(np.array(grads[i + 1]), want, atol=2e-3, err_msg=k)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "name,call,op",
    [
        ("RNN", lambda m: m(mx.zeros((D,))), "rnn"),
        ("RNN", lambda m: m(mx.zeros((N, L, D + 1))), "rnn"),
        ("RNN", lambda m: m(mx.zeros((N, L, D)), mx.zeros((N, H + 1))), "rnn"),
        ("RNN", lambda m: m(mx.zeros((N, L, D)), mx.zeros((N + 1, H))), "rnn"),
        ("GRU", lambda m: m(mx.zeros((L, 2 * D))), "gru"),
        ("GRU", lambda m: m(mx.zeros((L, D)), mx.zeros(())), "gru"),
        ("LSTM", lambda m: m(mx.zeros((N, L, D)), None, mx.zeros((N, 2 * H))), "lstm"),
        ("LSTM", lambda m: m(mx.zeros((N, L, D)), mx.zeros((3, H))), "lstm"),
    ],
)
def test_bad_inputs_raise_value_error(name, call, op):
    layer = getattr(nn, name)(D, H)
    with pytest.raises(ValueError, match=rf"\[{op}\]"):
        call(layer)


def test_bad_weights_and_nonlinearity_raise_value_error():
    from lazuli.core import _nn

    x = mx.zeros((N, L, D))
    with pytest.raises(ValueError, match=r"\[RNN\] nonlinearity must be callable"):
        nn.RNN(D, H, nonlinearity=3)
    with pytest.raises(ValueError, match=r"\[rnn\] nonlinearity must be callable"):
        _nn.rnn(x, mx.zeros((H, D)), mx.zeros((H, H)), nonlinearity=3)
    with pytest.raises(ValueError, match=r"\[rnn\] hidden weight"):
        _nn.rnn(x, mx.zeros((H, D)), mx.zeros((H, H + 1)))
    with pytest.raises(ValueError, match=r"\[gru\] input weight"):
        _nn.gru(x, mx.zeros((3 * H + 1, D)), mx.zeros((3 * H, H)))
    with pytest.raises(ValueError, match=r"\[gru\] bhn must have shape \(5,\)"):
        _nn.gru(x, mx.zeros((3 * H, D)), mx.zeros((3 * H, H)), None, mx.zeros((H + 1,)))
    with pytest.raises(ValueError, match=r"\[lstm\] bias must have shape \(20,\)"):
        _nn.lstm(x, mx.zeros((4 * H, D)), mx.zeros((4 * H, H)), mx.zeros((H,)))
