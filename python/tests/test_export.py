"""export_function / import_function / exporter / export_to_dot, against running the
original function."""
import os

import numpy as np
import pytest

import lazuli.core as mx

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "export_from_python.lzfn")


def rand(*shape, seed=0, dtype=np.float32):
    return mx.array(np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype))


def assert_same(got, want, tol=1e-5):
    if isinstance(want, mx.array):
        want = (want,)
    assert isinstance(got, tuple)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=tol, atol=tol)


class Mlp:
    def __init__(self):
        self.w1, self.b1 = rand(6, 8, seed=1), rand(8, seed=2)
        self.w2, self.b2 = rand(8, 3, seed=3), rand(3, seed=4)

    def __call__(self, x):
        h = mx.maximum(x @ self.w1 + self.b1, 0)
        return mx.softmax(h @ self.w2 + self.b2, axis=-1)


def test_mlp_with_captured_weights(tmp_path):
    path = str(tmp_path / "mlp.lzfn")
    mlp = Mlp()
    mx.export_function(path, mlp, rand(4, 6, seed=5))
    f = mx.import_function(path)
    x = rand(4, 6, seed=6)
    assert_same(f(x), mlp(x))
    # The weights live in the file: changing the originals changes nothing.
    mlp.w1 = mx.zeros((6, 8))
    np.testing.assert_allclose(np.array(f(x)[0]), np.array(Mlp()(x)), rtol=1e-5, atol=1e-6)
    assert os.listdir(tmp_path) == ["mlp.lzfn"]  # no temporary file left behind


def test_wrong_inputs_raise(tmp_path):
    path = str(tmp_path / "f.lzfn")
    mx.export_function(path, lambda a, b: a * b, rand(2, 3), rand(2, 3))
    f = mx.import_function(path)
    with pytest.raises(ValueError, match="No exported trace matches"):
        f(rand(2, 3))
    with pytest.raises(ValueError, match="No exported trace matches"):
        f(rand(3, 3), rand(3, 3))
    with pytest.raises(ValueError, match="No exported trace matches"):
        f(rand(2, 3, dtype=np.float64).astype(mx.float16), rand(2, 3))
    with pytest.raises(ValueError, match="Inputs can either be"):
        f(rand(2, 3), 2.0)


def test_multiple_outputs_kwargs_and_input_forms(tmp_path):
    path = str(tmp_path / "kw.lzfn")

    def fun(x, *, bias, scale):
        return [x + bias, x * scale, mx.sum(x, axis=0)]

    x, b, s = rand(3, 2, seed=1), rand(2, seed=2), rand(3, 2, seed=3)
    mx.export_function(path, fun, x, bias=b, scale=s)
    f = mx.import_function(path)
    assert_same(f(x, bias=s[0], scale=b * 2 + 0 * s), fun(x, bias=s[0], scale=b * 2 + 0 * s))
    assert_same(f((x,), {"bias": b, "scale": s}), fun(x, bias=b, scale=s))
    with pytest.raises(ValueError):
        f(x, b, s)
    with pytest.raises(ValueError):
        f(x, bias=b, shift=s)

    # One tuple and one dict of arrays, as MLX takes them.
    mx.export_function(path, lambda a, b, c=None: (a + b, c), (x, x), {"c": s})
    g = mx.import_function(path)
    assert_same(g(x, s, c=b * 0 + s), (x + s, s))


def test_bad_exports_raise(tmp_path):
    path = str(tmp_path / "bad.lzfn")
    with pytest.raises(ValueError, match="Outputs can be"):
        mx.export_function(path, lambda a: [a, (a,)], rand(2))
    with pytest.raises(ValueError, match="Outputs can be"):
        mx.export_function(path, lambda a: 3, rand(2))
    with pytest.raises(ValueError, match="Inputs can either be"):
        mx.export_function(path, lambda a, b: a, rand(2), 2.0)
    with pytest.raises(ValueError, match="Inputs can either be"):
        mx.export_function(path, lambda a: a, {"a": [rand(2)]})
    assert not os.path.exists(path)


def test_many_families(tmp_path):
    path = str(tmp_path / "families.lzfn")
    w = rand(16, 32, seed=11)
    wq, scales, biases = mx.quantize(w, group_size=32, bits=4)
    idx = mx.array([3, 0, 2])

    def fun(x):
        y = mx.quantized_matmul(x, wq, scales, biases, transpose=True, group_size=32, bits=4)
        s = mx.sort(y, axis=-1)
        c = mx.cumsum(s, axis=1)
        t = mx.take_along_axis(y, mx.argsort(y, axis=1), axis=1)
        spec = mx.abs(mx.fft.rfft(x, axis=-1))
        m = x.T @ x + 32 * mx.eye(32)
        l = mx.linalg.cholesky(m)
        z = mx.linalg.solve(m, x.T)
        g = x[idx, 1:5] * mx.exp(x[:, ::3].max())
        q = mx.linalg.qr(m[:5, :4])[1]
        return c, t, mx.logsumexp(spec, axis=1), l, z, g, q, mx.argmax(y, axis=0), x.var(axis=1)

    x = rand(4, 32, seed=12)
    mx.export_function(path, fun, x)
    f = mx.import_function(path)
    x2 = rand(4, 32, seed=13)
    assert_same(f(x2), fun(x2), tol=1e-4)


def test_shapeless_new_batch_size(tmp_path):
    path = str(tmp_path / "shapeless.lzfn")
    mlp = Mlp()
    mx.export_function(path, mlp, rand(4, 6), shapeless=True)
    f = mx.import_function(path)
    assert f.shapeless
    for batch in (1, 9, 0):
        x = rand(batch, 6, seed=batch)
        assert_same(f(x), mlp(x))
    with pytest.raises(ValueError, match="No exported trace matches"):
        f(rand(2, 2, 6))  # another rank
    with pytest.raises(ValueError, match="Matmul"):
        f(rand(2, 5))  # a feature size the weights cannot take


def test_shapeless_reshape_follows_and_slice_refuses(tmp_path):
    path = str(tmp_path / "reshape.lzfn")

    def fun(x):
        return x.reshape(x.shape[0], -1).sum(axis=1), mx.expand_dims(x, 1) * 2

    mx.export_function(path, fun, rand(2, 3, 4), shapeless=True)
    f = mx.import_function(path)
    x = rand(5, 3, 4, seed=3)
    assert_same(f(x), fun(x))

    mx.export_function(path, lambda a: a[1:3] * 2, rand(4, 6), shapeless=True)
    g = mx.import_function(path)
    assert_same(g(rand(4, 6, seed=2)), (rand(4, 6, seed=2)[1:3] * 2,))
    with pytest.raises(ValueError, match="Slice"):
        g(rand(8, 6))


def test_exporter_several_traces(tmp_path):
    path = str(tmp_path / "exporter.lzfn")

    def fun(x, y):
        return x @ y

    with mx.exporter(path, fun) as ex:
        ex(rand(2, 3), rand(3, 4))
        ex(rand(5, 3), rand(3, 1))
    f = mx.import_function(path)
    for a, b in [(rand(2, 3, seed=1), rand(3, 4, seed=2)), (rand(5, 3, seed=3), rand(3, 1, seed=4))]:
        assert_same(f(a, b), fun(a, b))
    with pytest.raises(ValueError):
        f(rand(3, 3), rand(3, 4))
    ex = mx.exporter(path, fun, shapeless=True)
    ex(rand(2, 3), rand(3, 4))
    ex.close()
    assert mx.import_function(path).shapeless


def test_malformed_files_raise(tmp_path):
    good, bad = str(tmp_path / "good.lzfn"), str(tmp_path / "bad.lzfn")
    mx.export_function(good, Mlp(), rand(4, 6))
    data = open(good, "rb").read()
    for n in list(range(0, 40)) + list(range(40, len(data), 37)):
        open(bad, "wb").write(data[:n])
        with pytest.raises(ValueError):
            mx.import_function(bad)
    open(bad, "wb").write(b"hello world, not a function")
    with pytest.raises(ValueError, match="bad magic"):
        mx.import_function(bad)
    open(bad, "wb").write(data[:8] + b"\x07\x00\x00\x00" + data[12:])
    with pytest.raises(ValueError, match="version"):
        mx.import_function(bad)
    open(bad, "wb").write(data[:13] + b"\xff\xff\xff\x7f" + data[17:])
    with pytest.raises(ValueError, match="larger than the file"):
        mx.import_function(bad)
    with pytest.raises(RuntimeError):
        mx.import_function(str(tmp_path / "missing.lzfn"))


def test_export_to_dot(tmp_path):
    x = rand(3)
    y = mx.exp(x) + 1
    path = str(tmp_path / "g.dot")
    mx.export_to_dot(path, y)
    text = open(path).read()
    assert text.startswith("digraph {") and "Exp" in text and "Add" in text


def write_cross_language_file(path):
    """The file tests/export_test.cpp (Export.RunsAFileWrittenFromPython) runs from C++."""
    w = mx.arange(12, dtype=mx.float32).reshape(3, 4) / 10

    def fun(x, *, y):
        return mx.tanh(x @ w + y), mx.cumsum(x, axis=1)

    mx.export_function(path, fun, mx.zeros((2, 3)), y=mx.zeros((4,)))


def test_cross_language_file_is_current(tmp_path):
    path = str(tmp_path / "cross.lzfn")
    write_cross_language_file(path)
    assert open(path, "rb").read() == open(DATA, "rb").read()
    f = mx.import_function(DATA)
    x, y = rand(2, 3, seed=1), rand(4, seed=2)
    w = mx.arange(12, dtype=mx.float32).reshape(3, 4) / 10
    assert_same(f(x, y=y), (mx.tanh(x @ w + y), mx.cumsum(x, axis=1)))
