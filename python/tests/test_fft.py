"""mx.fft in lazuli.core against numpy.fft (and scipy.fft): values over lengths, dtypes,
sizes, axes, layouts and batches; the real transforms; frequencies and shifts; gradients
against finite differences; every error path; signatures."""

import math

import numpy as np
import pytest

import lazuli.core as mx
from numeric import numerical_grad

LENGTHS = [1, 2, 3, 5, 7, 8, 12, 16, 17, 97, 128, 1000, 1024, 4096, 10007]


def rel_err(got, want):
    got = np.asarray(got)
    scale = max(np.max(np.abs(want)), 1e-30) if np.size(want) else 1.0
    return float(np.max(np.abs(got - want)) / scale) if np.size(want) else 0.0


def tol(n):
    return 3e-6 * (1 + math.log2(max(n, 1)))


def signal(shape, seed=0, complex_=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
        return x.astype(np.complex64)
    return x.astype(np.float32)


@pytest.mark.parametrize("n", LENGTHS)
def test_fft_ifft_lengths(n):
    x = signal((n,), n)
    for name in ["fft", "ifft"]:
        got = getattr(mx.fft, name)(mx.array(x))
        assert got.dtype == mx.complex64
        want = getattr(np.fft, name)(x.astype(np.complex128))
        assert rel_err(got, want) < tol(n), (name, n)


@pytest.mark.parametrize("n", LENGTHS)
def test_rfft_irfft_lengths(n):
    x = signal((n,), n + 1, complex_=False)
    got = mx.fft.rfft(mx.array(x))
    assert got.dtype == mx.complex64 and got.shape == (n // 2 + 1,)
    assert rel_err(got, np.fft.rfft(x.astype(np.float64))) < tol(n)
    spec = np.fft.rfft(x.astype(np.float64)).astype(np.complex64)
    back = mx.fft.irfft(mx.array(spec), n)
    assert back.dtype == mx.float32 and back.shape == (n,)
    assert rel_err(back, np.fft.irfft(spec.astype(np.complex128), n)) < tol(n)


def test_scipy_agrees_on_awkward_lengths():
    scipy_fft = pytest.importorskip("scipy.fft")
    for n in [11 * 13, 2 * 3 * 5 * 7, 59 * 61, 4099, 3 ** 7]:
        x = signal((3, n), n)
        assert rel_err(mx.fft.fft(mx.array(x)), scipy_fft.fft(x.astype(np.complex128))) < tol(n), n
        r = x.real.copy()
        assert rel_err(mx.fft.rfft(mx.array(r)), scipy_fft.rfft(r.astype(np.float64))) < tol(n), n


@pytest.mark.parametrize("dtype", ["bool_", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "complex64"])
def test_input_dtypes(dtype):
    rng = np.random.default_rng(3)
    v = rng.integers(0, 2 if dtype == "bool_" else 9, (3, 8))
    x = mx.array(v).astype(getattr(mx, dtype))
    ref = v.astype(np.float64)
    out = mx.fft.fft(x)
    assert out.dtype == mx.complex64
    assert rel_err(out, np.fft.fft(ref)) < 1e-5
    out = mx.fft.rfft(x)
    assert out.dtype == mx.complex64
    assert rel_err(out, np.fft.rfft(ref)) < 1e-5
    out = mx.fft.irfft(x)
    assert out.dtype == mx.float32
    assert rel_err(out, np.fft.irfft(ref)) < 1e-5


def test_float64_input_gives_complex64():
    x = np.linspace(0, 1, 10)
    out = mx.fft.fft(mx.array(x, dtype=mx.float64))
    assert out.dtype == mx.complex64
    assert rel_err(out, np.fft.fft(x)) < 1e-6


@pytest.mark.parametrize("n", [1, 3, 4, 6, 9, 16])
@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft"])
def test_n_truncates_or_pads(name, n):
    x = signal((4, 6), 2, complex_=name == "fft" or name == "ifft" or name == "irfft")
    got = getattr(mx.fft, name)(mx.array(x), n=n, axis=0 if n % 2 else -1)
    want = getattr(np.fft, name)(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64), n=n,
                                 axis=0 if n % 2 else -1)
    assert got.shape == want.shape
    assert rel_err(got, want) < 1e-5


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_axis_of_3d(axis):
    x = signal((5, 6, 7), 4)
    assert rel_err(mx.fft.fft(mx.array(x), axis=axis), np.fft.fft(x, axis=axis)) < 1e-5
    assert rel_err(mx.fft.ifft(mx.array(x), axis=axis), np.fft.ifft(x, axis=axis)) < 1e-5
    r = x.real.copy()
    assert rel_err(mx.fft.rfft(mx.array(r), axis=axis), np.fft.rfft(r, axis=axis)) < 1e-5
    assert rel_err(mx.fft.irfft(mx.array(x), axis=axis), np.fft.irfft(x, axis=axis)) < 1e-5


@pytest.mark.parametrize("s,axes", [(None, None), (None, [0, 2]), ([4, 9], None), ([3, 8, 5], [2, 0, 1]),
                                    (None, [1]), ([6], [-1]), (None, [-1, 0])])
def test_nd_transforms(s, axes):
    x = signal((6, 5, 8), 5)
    r = x.real.copy()
    for name, inp in [("fftn", x), ("ifftn", x), ("rfftn", r), ("irfftn", x)]:
        got = getattr(mx.fft, name)(mx.array(inp), s=s, axes=axes)
        want = getattr(np.fft, name)(inp.astype(np.complex128 if name != "rfftn" else np.float64), s=s, axes=axes)
        assert got.shape == want.shape, name
        assert rel_err(got, want) < 2e-5, name


@pytest.mark.parametrize("s,axes", [(None, [-2, -1]), ([4, 6], [-2, -1]), (None, [0, 2]), ([5, 3], [1, 0])])
def test_2d_transforms(s, axes):
    x = signal((6, 5, 8), 6)
    r = x.real.copy()
    for name, inp in [("fft2", x), ("ifft2", x), ("rfft2", r), ("irfft2", x)]:
        kw = {} if axes == [-2, -1] else {"axes": axes}
        got = getattr(mx.fft, name)(mx.array(inp), s=s, **kw)
        want = getattr(np.fft, name)(inp.astype(np.complex128 if name != "rfft2" else np.float64), s=s, axes=axes)
        assert got.shape == want.shape, name
        assert rel_err(got, want) < 2e-5, name


def test_large_2d_and_3d():
    x = signal((64, 48, 30), 7)
    assert rel_err(mx.fft.fftn(mx.array(x)), np.fft.fftn(x)) < 1e-5
    r = signal((256, 200), 8, complex_=False)
    assert rel_err(mx.fft.rfft2(mx.array(r)), np.fft.rfft2(r)) < 1e-5
    assert rel_err(mx.fft.irfft2(mx.fft.rfft2(mx.array(r)), s=r.shape), r) < 1e-5


@pytest.mark.parametrize("shape,axis", [((97, 20), 0), ((10007, 3), 0), ((3, 97), 1), ((1 << 20,), 0),
                                        ((1 << 16, 2), 0), ((2, 3, 1009), -1), ((1009, 17), 0)])
def test_long_prime_and_strided_lines(shape, axis):
    x = signal(shape, 19)
    n = shape[axis]
    assert rel_err(mx.fft.fft(mx.array(x), axis=axis), np.fft.fft(x, axis=axis)) < tol(n)
    assert rel_err(mx.fft.ifft(mx.array(x), axis=axis), np.fft.ifft(x, axis=axis)) < tol(n)
    r = x.real.copy()
    assert rel_err(mx.fft.rfft(mx.array(r), axis=axis), np.fft.rfft(r, axis=axis)) < tol(n)
    assert rel_err(mx.fft.irfft(mx.array(x), axis=axis), np.fft.irfft(x, axis=axis)) < tol(n)


def test_non_contiguous_inputs():
    x = signal((12, 10), 9)
    a = mx.array(x)
    assert rel_err(mx.fft.fft(a.T), np.fft.fft(x.T)) < 1e-5
    assert rel_err(mx.fft.fft(a.T, axis=0), np.fft.fft(x.T, axis=0)) < 1e-5
    assert rel_err(mx.fft.fft(a[::2, 1::3]), np.fft.fft(x[::2, 1::3])) < 1e-5
    assert rel_err(mx.fft.fft2(a[::-1]), np.fft.fft2(x[::-1])) < 1e-5
    r = x.real.copy()
    b = mx.array(r)
    assert rel_err(mx.fft.rfft(b.T), np.fft.rfft(r.T)) < 1e-5
    assert rel_err(mx.fft.irfft(a[:, ::2]), np.fft.irfft(x[:, ::2])) < 1e-5
    # Broadcast (stride 0) input.
    c = mx.broadcast_to(mx.array(x[0]), (5, 10))
    assert rel_err(mx.fft.fft(c, axis=0), np.fft.fft(np.broadcast_to(x[0], (5, 10)), axis=0)) < 1e-5


def test_batched_inputs():
    x = signal((3, 4, 33), 10)
    assert rel_err(mx.fft.fft(mx.array(x)), np.fft.fft(x)) < 1e-5
    x = signal((100, 1024), 11)
    assert rel_err(mx.fft.fft(mx.array(x)), np.fft.fft(x)) < 2e-5
    assert rel_err(mx.fft.fft(mx.array(x), axis=0), np.fft.fft(x, axis=0)) < 2e-5


def test_empty_batches_and_zero_sizes():
    out = mx.fft.fft(mx.zeros((0, 8)))
    assert out.shape == (0, 8) and out.dtype == mx.complex64
    assert mx.fft.rfft(mx.zeros((3, 0, 8))).shape == (3, 0, 5)
    assert mx.fft.irfft(mx.zeros((0, 5))).shape == (0, 8)
    # A zero-length axis padded up by n transforms zeros.
    out = mx.fft.fft(mx.zeros((0,)), n=4)
    assert np.array(out).tolist() == [0, 0, 0, 0]


def test_irfft_ignores_imaginary_parts_at_the_ends():
    spec = np.array([1 + 5j, 2 + 1j, 3 - 4j], dtype=np.complex64)
    assert rel_err(mx.fft.irfft(mx.array(spec)), np.fft.irfft(spec)) < 1e-6
    assert rel_err(mx.fft.irfft(mx.array(spec), 5), np.fft.irfft(spec, 5)) < 1e-6


def test_rfft_of_complex_input_keeps_the_real_part():
    x = signal((9,), 12)
    assert rel_err(mx.fft.rfft(mx.array(x)), np.fft.rfft(x.real)) < 1e-5


@pytest.mark.parametrize("n", [1, 2, 5, 8, 11])
@pytest.mark.parametrize("d", [1.0, 0.25, 3.0])
def test_frequencies(n, d):
    f = mx.fft.fftfreq(n, d)
    assert f.dtype == mx.float32
    np.testing.assert_allclose(np.array(f), np.fft.fftfreq(n, d), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(mx.fft.rfftfreq(n, d=d)), np.fft.rfftfreq(n, d), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("axes", [None, [0], [1], [-1, 0], [2]])
def test_shifts(axes):
    x = np.arange(5 * 6 * 7).reshape(5, 6, 7)
    a = mx.array(x)
    np.testing.assert_array_equal(np.array(mx.fft.fftshift(a, axes)), np.fft.fftshift(x, axes))
    np.testing.assert_array_equal(np.array(mx.fft.ifftshift(a, axes=axes)), np.fft.ifftshift(x, axes))
    np.testing.assert_array_equal(np.array(mx.fft.ifftshift(mx.fft.fftshift(a, axes), axes)), x)


def test_roundtrips():
    x = signal((7, 30), 13)
    a = mx.array(x)
    assert rel_err(mx.fft.ifft(mx.fft.fft(a)), x) < 1e-5
    assert rel_err(mx.fft.ifftn(mx.fft.fftn(a)), x) < 1e-5
    r = x.real.copy()
    assert rel_err(mx.fft.irfftn(mx.fft.rfftn(mx.array(r)), s=r.shape), r) < 1e-5


def test_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    x = signal((4, 18), 14)
    r = x.real.copy()
    for name, inp in [("fft", x), ("ifft", x), ("rfft", r), ("irfft", x), ("fft2", x), ("rfftn", r), ("irfftn", x)]:
        got = np.array(getattr(mx.fft, name)(mx.array(inp)))
        want = np.array(getattr(mlx.fft, name)(mlx.array(inp)))
        assert got.dtype == want.dtype, name
        assert rel_err(got, want) < 1e-5, name


# ---- gradients ------------------------------------------------------------------------------


def _mix(y, w):
    # A real scalar of a complex result with complex weights (a complex cotangent).
    return mx.sum(mx.real(y * w))


@pytest.mark.parametrize("name,shape,kw", [
    ("fft", (3, 8), {}), ("ifft", (3, 6), {"n": 4}), ("fft", (5,), {"n": 7}),
    ("rfft", (2, 8), {}), ("rfft", (2, 7), {}), ("rfft", (9,), {"n": 6}),
    ("irfft", (3, 5), {}), ("irfft", (3, 5), {"n": 9}), ("irfft", (4,), {"n": 10}),
    ("fft2", (4, 6), {}), ("rfft2", (4, 6), {}), ("irfft2", (4, 5), {}), ("rfftn", (3, 4, 5), {}),
])
def test_gradients_match_finite_differences(name, shape, kw):
    rng = np.random.default_rng(15)
    complex_in = name.startswith("i")
    x0 = rng.standard_normal(shape)
    f = getattr(mx.fft, name)

    def build(x):
        z = x.astype(mx.complex64) * (1 + 0.5j) + 0.3j * x * x if complex_in else x
        return f(z, **kw)

    out_shape = build(mx.array(x0, dtype=mx.float32)).shape
    w = (rng.standard_normal(out_shape) + 1j * rng.standard_normal(out_shape)).astype(np.complex64)
    loss = lambda x: _mix(build(x), mx.array(w))
    g = mx.grad(loss)(mx.array(x0, dtype=mx.float32))
    num = numerical_grad(lambda v: float(loss(mx.array(v, dtype=mx.float64)).item()), x0)
    np.testing.assert_allclose(np.array(g), num, rtol=2e-3, atol=2e-3 * np.max(np.abs(num)))


def test_jvp_and_vmap():
    x = signal((4, 8), 16)
    t = signal((4, 8), 17)
    out, tan = mx.jvp(lambda v: mx.fft.fft(v), [mx.array(x)], [mx.array(t)])
    assert rel_err(tan[0], np.fft.fft(t)) < 1e-5
    r = x.real.copy()
    vm = mx.vmap(lambda v: mx.fft.rfft(v), in_axes=1)(mx.array(r))
    assert rel_err(vm, np.fft.rfft(r.T)) < 1e-5
    vm = mx.vmap(lambda v: mx.fft.irfft(v, 6), in_axes=0, out_axes=1)(mx.array(x))
    assert rel_err(vm, np.fft.irfft(x, 6).T) < 1e-5


# ---- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call,op,pattern", [
    (lambda a: mx.fft.fft(a, n=0), "fft", r"\(0\)"),
    (lambda a: mx.fft.ifft(a, n=-2), "ifft", r"-2"),
    (lambda a: mx.fft.rfft(a, axis=2), "rfft", r"axis 2"),
    (lambda a: mx.fft.irfft(a, axis=-3), "irfft", r"-3"),
    (lambda a: mx.fft.fftn(a, axes=[0, 0]), "fftn", r"repeated axes \(0, 0\)"),
    (lambda a: mx.fft.fft2(a, axes=[1, -1]), "fft2", r"repeated"),
    (lambda a: mx.fft.fftn(a, s=[4, 4], axes=[0]), "fftn", r"same length"),
    (lambda a: mx.fft.rfftn(a, s=[2, 2, 2]), "rfftn", r"3 axes"),
    (lambda a: mx.fft.ifftn(a, axes=[0, 1, 2]), "ifftn", r"3 axes"),
    (lambda a: mx.fft.irfft2(a, s=[4, 0]), "irfft2", r"\(0\)"),
    (lambda a: mx.fft.fftshift(a, axes=[5]), "fftshift", r"axis 5"),
    (lambda a: mx.fft.ifftshift(a, axes=[-3]), "ifftshift", r"-3"),
])
def test_errors(call, op, pattern):
    a = mx.zeros((4, 6))
    with pytest.raises(ValueError, match=rf"\[{op}\].*{pattern}"):
        call(a)


def test_errors_on_0d_and_empty_axes():
    with pytest.raises(ValueError, match=r"\[fft\].*0-dimensional"):
        mx.fft.fft(mx.array(1.0))
    with pytest.raises(ValueError, match=r"\[rfftn\].*0-dimensional"):
        mx.fft.rfftn(mx.array(1.0))
    with pytest.raises(ValueError, match=r"\[fft\].*\(0\)"):
        mx.fft.fft(mx.zeros((3, 0)))
    with pytest.raises(ValueError, match=r"\[irfft\].*\(0\)"):
        mx.fft.irfft(mx.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"\[fftfreq\]"):
        mx.fft.fftfreq(0)
    with pytest.raises(ValueError, match=r"\[rfftfreq\]"):
        mx.fft.rfftfreq(-1)


def test_signatures():
    x = mx.array(signal((4, 8), 18))
    mx.fft.fft(x, 8, 0, stream=mx.cpu)
    mx.fft.fft2(x, None, [0, 1], stream=mx.cpu)
    mx.fft.fftn(x, s=(4, 8), axes=(0, 1))
    mx.fft.fftfreq(8, 0.5, stream=mx.cpu)
    mx.fft.fftshift(x, [0], stream=mx.cpu)
    with pytest.raises(TypeError):
        mx.fft.fft(x, 8, 0, mx.cpu)  # stream is keyword-only
    names = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
             "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
    for name in names:
        assert callable(getattr(mx.fft, name)), name


def test_second_derivatives():
    # f(x) = sum w * |rfft(x)|^2 is quadratic: its gradient is linear, so the gradient of
    # <grad f(x), v> is the Hessian times v, constant, and equals the difference quotient.
    rng = np.random.default_rng(20)
    w = mx.array(rng.uniform(0.5, 1.5, 5).astype(np.float32))
    v = mx.array(rng.standard_normal(8).astype(np.float32))

    def f(x):
        y = mx.fft.rfft(x)
        return mx.sum(w * (mx.real(y) ** 2 + mx.imag(y) ** 2))

    hv = mx.grad(lambda x: mx.sum(mx.grad(f)(x) * v))(mx.zeros(8))
    x0 = mx.array(rng.standard_normal(8).astype(np.float32))
    want = (mx.grad(f)(x0 + v) - mx.grad(f)(x0)).astype(mx.float32)
    np.testing.assert_allclose(np.array(hv), np.array(want), rtol=1e-3, atol=1e-3)
