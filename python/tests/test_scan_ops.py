"""Scans and miscellaneous ops of lazuli.core against NumPy (and MLX's dtype rules)."""
import numpy as np
import pytest

import lazuli.core as mx

RNG = np.random.default_rng(0)

SCANS = {
    "cumsum": lambda x, axis: np.cumsum(x, axis=axis),
    "cumprod": lambda x, axis: np.cumprod(x, axis=axis),
    "cummax": lambda x, axis: np.maximum.accumulate(x, axis=axis),
    "cummin": lambda x, axis: np.minimum.accumulate(x, axis=axis),
    "logcumsumexp": lambda x, axis: np.logaddexp.accumulate(x, axis=axis),
}
IDENTITY = {"cumsum": 0.0, "cumprod": 1.0, "cummax": -np.inf, "cummin": np.inf, "logcumsumexp": -np.inf}


def np_scan(name, x, axis, reverse, inclusive):
    if axis is None:
        x, axis = x.reshape(-1), 0
    if reverse:
        x = np.flip(x, axis)
    y = SCANS[name](x, axis)
    if not inclusive:
        pad = np.full_like(np.take(y, [0], axis=axis), IDENTITY[name])
        y = np.concatenate([pad, np.take(y, np.arange(y.shape[axis] - 1), axis=axis)], axis=axis)
    if reverse:
        y = np.flip(y, axis)
    return y


@pytest.mark.parametrize("name", list(SCANS))
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((7,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1),
                                        ((2, 3, 4), -1), ((2, 3, 4), None)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("inclusive", [True, False])
def test_scans_match_numpy(name, shape, axis, reverse, inclusive):
    x = RNG.uniform(0.5, 1.5, size=shape).astype(np.float32)
    got = getattr(mx, name)(mx.array(x), axis=axis, reverse=reverse, inclusive=inclusive)
    want = np_scan(name, x.astype(np.float64), axis, reverse, inclusive)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)
    # The array method, and a transposed (non-contiguous) input.
    method = getattr(mx.array(x), name)(axis, reverse=reverse, inclusive=inclusive)
    np.testing.assert_allclose(np.array(method), want, rtol=1e-5, atol=1e-6)
    if len(shape) > 1 and axis is not None:
        xt = mx.transpose(mx.array(np.ascontiguousarray(x.T)))
        got_t = getattr(mx, name)(xt, axis=axis, reverse=reverse, inclusive=inclusive)
        np.testing.assert_allclose(np.array(got_t), want, rtol=1e-5, atol=1e-6)


def test_scan_dtypes_follow_mlx():
    b = mx.array([True, False, True])
    assert mx.cumsum(b).dtype == mx.int32
    assert mx.cumsum(b).tolist() == [1, 1, 2]
    assert mx.cumprod(b).dtype == mx.bool_
    for dt in [mx.int8, mx.uint8, mx.int16, mx.uint16, mx.int32, mx.uint32, mx.int64, mx.float16, mx.bfloat16,
               mx.float32]:
        x = mx.array([1, 2, 3]).astype(dt)
        for name in ["cumsum", "cumprod", "cummax", "cummin"]:
            assert getattr(mx, name)(x).dtype == dt, (name, dt)
        assert mx.cumsum(x).tolist() == [1, 3, 6]
    assert mx.logcumsumexp(mx.array([1, 2])).dtype == mx.float32
    assert mx.cumsum(mx.ones(4096, dtype=mx.float16))[-1].item() == 4096.0  # accumulates in float32
    assert mx.cumulative_sum is mx.cumsum and mx.cumulative_prod is mx.cumprod


def test_scan_nan_empty_and_scalars():
    x = np.array([1.0, np.nan, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(np.array(mx.cummax(mx.array(x))), np.maximum.accumulate(x))
    np.testing.assert_array_equal(np.array(mx.cummin(mx.array(x))), np.minimum.accumulate(x))
    assert mx.cumsum(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    assert mx.cumsum(mx.array(5)).tolist() == [5]
    with pytest.raises(ValueError, match=r"\[cumsum\]"):
        mx.cumsum(mx.array(5), axis=0)
    with pytest.raises(ValueError, match=r"\[cummax\]"):
        mx.cummax(mx.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"\[logcumsumexp\]"):
        mx.logcumsumexp(mx.zeros(3, dtype=mx.complex64))


def test_scan_gradients():
    x = mx.array([2.0, 0.0, 3.0, 0.0, 5.0])
    g = mx.grad(lambda y: mx.sum(mx.cumprod(y)))(x)
    assert g.tolist() == [1.0, 8.0, 0.0, 0.0, 0.0]
    g = mx.grad(lambda y: mx.sum(mx.cummax(y)))(mx.array([1.0, 3.0, 2.0, 5.0]))
    assert g.tolist() == [1.0, 2.0, 0.0, 1.0]
    g = mx.grad(lambda y: mx.sum(mx.cumsum(y, reverse=True)))(mx.array([1.0, 1.0, 1.0]))
    assert g.tolist() == [1.0, 2.0, 3.0]  # x_j appears in outputs 0..j


# ---------------------------------------------------------------------------- misc ops

def _close(got, want, **kw):
    want = np.asarray(want)
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(np.array(got), want, **kw)


@pytest.mark.parametrize("n,axis", [(1, -1), (2, -1), (1, 0), (0, 1), (5, 1)])
def test_diff(n, axis):
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    _close(mx.diff(mx.array(x), n=n, axis=axis), np.diff(x, n=n, axis=axis), rtol=1e-5, atol=1e-6)
    b = np.array([True, True, False])
    assert mx.diff(mx.array(b)).tolist() == np.diff(b).tolist()
    with pytest.raises(ValueError, match=r"\[diff\]"):
        mx.diff(mx.array(x), n=-1)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
def test_softmax(axis):
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    ax = axis if axis is not None else (0, 1)
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    _close(mx.softmax(mx.array(x), axis=axis), e / e.sum(axis=ax, keepdims=True), rtol=1e-5, atol=1e-7)
    h = mx.softmax(mx.array(x).astype(mx.float16), axis=axis, precise=True)
    assert h.dtype == mx.float16
    assert mx.softmax(mx.array([1, 2])).dtype == mx.float32
    _close(mx.softmax(mx.array([1000.0, 1000.0])), [0.5, 0.5])


def test_softmax_gradient_against_finite_differences():
    x = RNG.normal(size=(5,))
    w = RNG.normal(size=(5,))
    f = lambda y: mx.sum(mx.softmax(y) * mx.array(w))
    g = np.array(mx.grad(f)(mx.array(x)))
    s = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(g, s * (w - (s * w).sum()), rtol=1e-4, atol=1e-6)


def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32)
    _close(mx.nan_to_num(mx.array(x)), np.nan_to_num(x))
    _close(mx.nan_to_num(mx.array(x), nan=7, posinf=1, neginf=-1), [7, 1, -1, 1.5])
    h = mx.nan_to_num(mx.array(x).astype(mx.float16))
    assert h.dtype == mx.float16 and h.tolist() == [0.0, 65504.0, -65504.0, 1.5]
    assert mx.nan_to_num(mx.array([1, 2])).tolist() == [1, 2]


@pytest.mark.parametrize("shift,axis", [(2, None), (-7, None), ((1, 2), None), (1, 0), (-1, 1), ((1, -2), (0, 1)),
                                        (3, (0, 1)), ((1, 1), 1)])
def test_roll(shift, axis):
    x = np.arange(12).reshape(3, 4)
    if isinstance(shift, tuple) and axis is None:
        want = np.roll(x, sum(shift))  # a flattened roll adds its shifts
    elif isinstance(shift, tuple) and isinstance(axis, int):
        want = np.roll(x, sum(shift), axis=axis)
    else:
        want = np.roll(x, shift, axis=axis)
    _close(mx.roll(mx.array(x), shift, axis), want)
    with pytest.raises(ValueError, match=r"\[roll\]"):
        mx.roll(mx.array(x), 1, 2)


def test_roll_gradient_against_finite_differences():
    x = RNG.normal(size=(3, 4))
    w = RNG.normal(size=(3, 4))
    f = lambda y: mx.sum(mx.square(mx.roll(y, (1, -3), (0, 1))) * mx.array(w))
    g = np.array(mx.grad(f)(mx.array(x)))
    np.testing.assert_allclose(g, 2 * x * np.roll(w, (-1, 3), (0, 1)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("offset,axis1,axis2", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (0, 1, 2), (1, -1, 0), (9, 0, 2)])
def test_diagonal_and_trace(offset, axis1, axis2):
    x = np.arange(24).reshape(2, 3, 4)
    _close(mx.diagonal(mx.array(x), offset, axis1, axis2), np.diagonal(x, offset, axis1, axis2))
    _close(mx.array(x).diagonal(offset, axis1, axis2), np.diagonal(x, offset, axis1, axis2))
    _close(mx.trace(mx.array(x), offset, axis1, axis2), np.trace(x, offset, axis1, axis2))
    assert mx.trace(mx.array(x), dtype=mx.float32).dtype == mx.float32
    with pytest.raises(ValueError, match=r"\[diagonal\]"):
        mx.diagonal(mx.array(x), 0, 1, 1)


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(k):
    v = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    _close(mx.diag(mx.array(v), k), np.diag(v, k))
    m = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    _close(mx.diag(mx.array(m), k=k), np.diag(m, k))
    _close(mx.array(m).diag(k), np.diag(m, k))
    with pytest.raises(ValueError, match=r"\[diag\]"):
        mx.diag(mx.zeros((2, 2, 2)))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    xs = [np.arange(3), np.arange(2) + 10, np.arange(4) + 20]
    for n in (1, 2, 3):
        got = mx.meshgrid(*[mx.array(x) for x in xs[:n]], sparse=sparse, indexing=indexing)
        want = np.meshgrid(*xs[:n], sparse=sparse, indexing=indexing)
        assert isinstance(got, list) and len(got) == n
        for g, w in zip(got, want):
            _close(g, w)
    with pytest.raises(ValueError, match=r"\[meshgrid\]"):
        mx.meshgrid(mx.array([1]), indexing="yx")


@pytest.mark.parametrize("sa,sb", [((2,), (3,)), ((2, 2), (2, 3)), ((3,), (2, 2)), ((), (2,)), ((2, 1, 2), (3, 2))])
def test_kron(sa, sb):
    a = RNG.normal(size=sa).astype(np.float32)
    b = RNG.normal(size=sb).astype(np.float32)
    _close(mx.kron(mx.array(a), mx.array(b)), np.kron(a, b), rtol=1e-6, atol=1e-6)


def test_vecdot():
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    b = RNG.normal(size=(4,)).astype(np.float32)
    _close(mx.vecdot(mx.array(a), mx.array(b)), (a * b).sum(-1), rtol=1e-5, atol=1e-6)
    _close(mx.vecdot(mx.array(a), mx.array(a), axis=0), (a * a).sum(0), rtol=1e-5, atol=1e-6)
    c = np.array([1 + 2j, 3 - 1j], dtype=np.complex64)
    _close(mx.vecdot(mx.array(c), mx.array(c)), np.vdot(c, c), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[vecdot\]"):
        mx.vecdot(mx.array(a), mx.array(b), axis=2)
