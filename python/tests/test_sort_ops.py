"""Sorting and searching in lazuli.core against NumPy: sort, argsort, partition,
argpartition, topk, searchsorted, median (values, dtypes, NaNs, axes, errors, signatures)."""

import re

import numpy as np
import pytest

import lazuli.core as mx

DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "bfloat16", "float32"]


def np_of(x):
    if x.dtype == mx.bfloat16:
        return np.array(x.astype(mx.float32))
    return np.array(x)


def values(dtype, shape=(4, 7), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool_":
        v = rng.integers(0, 2, shape).astype(np.bool_)
    elif dtype.startswith("uint"):
        v = rng.integers(0, 50, shape)
    elif dtype.startswith("int"):
        v = rng.integers(-50, 50, shape)
    else:
        v = rng.integers(-64, 64, shape) / 4  # exact in every float dtype
    x = mx.array(v).astype(getattr(mx, dtype))
    return x, np_of(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0, 1, None])
def test_sort_and_argsort_match_numpy(dtype, axis):
    x, ref = values(dtype)
    s = mx.sort(x, axis=axis)
    assert s.dtype == x.dtype
    np.testing.assert_array_equal(np_of(s), np.sort(ref, axis=axis))
    i = mx.argsort(x, axis=axis)
    assert i.dtype == mx.uint32
    np.testing.assert_array_equal(np.array(i), np.argsort(ref, axis=axis, kind="stable"))


def test_sort_default_axis_and_noncontiguous():
    ref = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(np.array(mx.sort(ref.T)), np.sort(ref.T))
    np.testing.assert_array_equal(np.array(mx.argsort(ref[:, ::2])), np.argsort(ref[:, ::2], kind="stable"))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_nans_sort_last(dtype):
    ref = np.array([2, np.nan, -1, np.inf, np.nan, 0, -np.inf], dtype=np.float32)
    x = mx.array(ref).astype(getattr(mx, dtype))
    np.testing.assert_array_equal(np_of(mx.sort(x)), np.sort(ref))
    np.testing.assert_array_equal(np.array(mx.argsort(x)), np.argsort(ref, kind="stable"))
    p = np_of(mx.partition(x, 4))
    assert p[4] == np.inf and np.isnan(p[5:]).all()


def test_complex_sorts_lexicographically():
    ref = np.array([1 + 2j, 1 - 1j, 5j, -1 + 0j], dtype=np.complex64)
    np.testing.assert_array_equal(np.array(mx.sort(mx.array(ref))), np.sort(ref))
    np.testing.assert_array_equal(np.array(mx.argsort(mx.array(ref))), np.argsort(ref, kind="stable"))


def check_partitioned(out, ref, kth, axis):
    out = np.moveaxis(out, axis, -1)
    srt = np.moveaxis(np.sort(ref, axis=axis), axis, -1)
    np.testing.assert_array_equal(out[..., kth], srt[..., kth])
    assert (out[..., :kth] <= out[..., kth:kth + 1]).all()
    assert (out[..., kth + 1:] >= out[..., kth:kth + 1]).all()
    np.testing.assert_array_equal(np.sort(out, axis=-1), srt)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64", "float16", "bfloat16", "float32"])
@pytest.mark.parametrize("kth,axis", [(0, -1), (3, -1), (-1, -1), (2, 0), (-2, 0), (5, None)])
def test_partition_property(dtype, kth, axis):
    x, ref = values(dtype, seed=3)
    flat = ref.reshape(-1) if axis is None else ref
    ax = 0 if axis is None else axis
    k = kth % flat.shape[ax]
    p = mx.partition(x, kth, axis=axis)
    assert p.dtype == x.dtype
    check_partitioned(np_of(p), flat, k, ax)
    i = mx.argpartition(x, kth=kth, axis=axis)
    assert i.dtype == mx.uint32
    check_partitioned(np.take_along_axis(flat, np.array(i).astype(np.int64), ax), flat, k, ax)
    # NumPy's own answer has the same property.
    check_partitioned(np.partition(flat, kth, axis=ax), flat, k, ax)


def test_topk_returns_the_k_largest_in_any_order():
    ref = np.random.default_rng(4).permutation(40).astype(np.float32).reshape(4, 10)
    t = np.array(mx.topk(ref, 3))
    assert t.shape == (4, 3)
    np.testing.assert_array_equal(np.sort(t, axis=-1), np.sort(ref, axis=-1)[:, -3:])
    t0 = np.array(mx.topk(ref, k=2, axis=0))
    np.testing.assert_array_equal(np.sort(t0, axis=0), np.sort(ref, axis=0)[-2:])
    tn = np.array(mx.topk(ref, 5, axis=None))
    np.testing.assert_array_equal(np.sort(tn), np.sort(ref.ravel())[-5:])
    assert mx.topk(ref, 0).shape == (4, 0)


def test_topk_matches_mlx_where_installed():
    mlx = pytest.importorskip("mlx.core")
    ref = np.random.default_rng(5).permutation(20).astype(np.float32)
    ours = np.sort(np.array(mx.topk(ref, 6)))
    theirs = np.sort(np.array(mlx.topk(mlx.array(ref), 6)))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_matches_numpy(side):
    a = np.array([1, 2, 2, 3, 5, 5, 8], dtype=np.float32)
    v = np.array([[0, 2, 2.5], [5, 9, -1]], dtype=np.float32)
    out = mx.searchsorted(a, v, side=side)
    assert out.dtype == mx.uint32 and out.shape == (2, 3)
    np.testing.assert_array_equal(np.array(out), np.searchsorted(a, v, side=side))
    assert mx.searchsorted(a, 2, side).item() == np.searchsorted(a, 2, side)
    ai = np.array([1, 3, 3, 7], dtype=np.int32)
    np.testing.assert_array_equal(np.array(mx.searchsorted(ai, np.array([3, 4, 0]), side=side)),
                                  np.searchsorted(ai, [3, 4, 0], side=side))
    an = np.array([1, 3, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(np.array(mx.searchsorted(an, np.array([np.nan, 3], np.float32), side=side)),
                                  np.searchsorted(an, [np.nan, 3], side=side))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), [0, 2]])
@pytest.mark.parametrize("keepdims", [False, True])
def test_median_matches_numpy(axis, keepdims):
    ref = np.random.default_rng(6).standard_normal((3, 4, 5)).astype(np.float32)
    out = mx.median(ref, axis=axis, keepdims=keepdims)
    ax = tuple(axis) if isinstance(axis, list) else axis
    want = np.median(ref, axis=ax, keepdims=keepdims)
    assert out.shape == want.shape
    np.testing.assert_allclose(np.array(out), want, rtol=1e-6)


def test_median_dtypes_and_nan():
    assert mx.median(mx.array([1, 2, 3, 4])).dtype == mx.float32
    assert mx.median(mx.array([1, 2, 3, 4])).item() == 2.5
    assert mx.median(mx.array([1, 2, 7], dtype=mx.float16)).dtype == mx.float16
    assert np.isnan(mx.median(mx.array([1.0, float("nan"), 2.0])).item())
    assert mx.median(mx.array(3.0)).item() == 3.0


def test_empty_and_scalar():
    assert mx.sort(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    assert mx.argsort(mx.zeros((2, 0))).shape == (2, 0)
    assert mx.sort(mx.array(3.0), axis=None).tolist() == [3.0]
    assert mx.argsort(mx.array(3.0), axis=None).tolist() == [0]
    with pytest.raises(ValueError):
        mx.sort(mx.array(3.0))


def test_errors():
    a = mx.zeros((2, 3))
    with pytest.raises(ValueError, match="sort"):
        mx.sort(a, axis=2)
    with pytest.raises(ValueError, match="partition"):
        mx.partition(a, 3)
    with pytest.raises(ValueError, match="argpartition"):
        mx.argpartition(a, -4)
    with pytest.raises(ValueError, match="topk"):
        mx.topk(a, 4)
    with pytest.raises(ValueError, match="searchsorted"):
        mx.searchsorted(a, 1.0)
    with pytest.raises(ValueError, match="searchsorted"):
        mx.searchsorted(mx.zeros((3,)), 1.0, side="middle")
    with pytest.raises(ValueError, match="median"):
        mx.median(a, axis=5)


def test_gradients_flow_through_sorting():
    x = mx.array([3.0, 1.0, 2.0])
    g = mx.grad(lambda y: (mx.sort(y) * mx.array([1.0, 10.0, 100.0])).sum())(x)
    np.testing.assert_array_equal(np.array(g), [100, 1, 10])
    g = mx.grad(lambda y: mx.topk(y, 2).sum())(x)
    np.testing.assert_array_equal(np.array(g), [1, 0, 1])
    g = mx.grad(lambda y: mx.median(y))(mx.array([4.0, 1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(np.array(g), [0, 0, 0.5, 0.5])


def _params(fn):
    """Parameter names (and the * marker) of a nanobind signature line. MLX makes `a`
    positional-only; Lazuli also accepts it by keyword."""
    sig = fn.__doc__.splitlines()[0]
    inner = re.sub(r"\[[^\]]*\]", "", sig[sig.index("(") + 1:sig.rindex(")")])
    names = [p.split(":")[0].split("=")[0].strip() for p in inner.split(", ")]
    return [n for n in names if n != "/"]


def test_signatures_match_mlx():
    mlx = pytest.importorskip("mlx.core")
    for name in ["sort", "argsort", "partition", "argpartition", "topk"]:
        assert _params(getattr(mx, name)) == _params(getattr(mlx, name)), name


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "int64", "float16", "bfloat16", "float32"])
def test_long_lines_match_numpy(dtype):
    # Lines long enough for the vectorised paths: ties, NaNs and signed zeros included.
    v = ((np.arange(3000) * 37) % 23 - 11).astype(np.float32)
    if dtype.startswith("float") or dtype == "bfloat16":
        v[::50] = np.nan
        v[7::61] = -0.0
    x = mx.array(v.reshape(3, 1000)).astype(getattr(mx, dtype))
    ref = np_of(x)
    np.testing.assert_array_equal(np.array(mx.argsort(x)), np.argsort(ref, axis=-1, kind="stable"))
    np.testing.assert_array_equal(np_of(mx.sort(x, axis=0)), np.sort(ref, axis=0))
    np.testing.assert_array_equal(np_of(mx.sort(x)), np.sort(ref, axis=-1))
