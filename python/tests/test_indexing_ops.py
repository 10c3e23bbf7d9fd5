"""Indexing beyond take: NumPy fancy indexing and boolean masks, mx.slice / mx.slice_update
(dynamic starts), unstack, depends, and (beyond MLX) nonzero and unique, against NumPy."""
import numpy as np
import pytest

import lazuli.core as mx
from numeric import numerical_grad

DTYPES = [np.float32, np.float16, np.int32, np.int64, np.uint8, np.bool_, np.float64]


def npy(a):
    return np.array(a)


def sample(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 6, size=shape)
    if dtype == np.bool_:
        return x > 0
    if dtype == np.uint8:
        return np.abs(x).astype(dtype)
    return x.astype(dtype)


# ---- fancy indexing (reads) --------------------------------------------------------------

FANCY = [
    lambda: (np.array([2, 0, -1]),),
    lambda: (np.array([[0, 1], [2, 2]]), slice(None)),
    lambda: (slice(1, None), np.array([3, 0, 3])),
    lambda: (np.array([0, 2])[:, None], np.array([1, 3])),          # broadcast index arrays
    lambda: (np.array([1, 0]), slice(None), np.array([0, 2])),      # separated: index dims first
    lambda: (Ellipsis, np.array([1, 1, 0])),
    lambda: (np.array(1), np.array([0, 2])),                        # 0-d index array
    lambda: (np.zeros((0,), dtype=np.int64),),                      # empty
    lambda: (None, np.array([2]), slice(None, None, -1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make_index", FANCY)
def test_fancy_reads_match_numpy(dtype, make_index):
    x = sample((3, 4, 3), dtype)
    index = make_index()
    mx_index = tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)
    np.testing.assert_array_equal(npy(mx.array(x)[mx_index]), x[index])
    np.testing.assert_array_equal(npy(mx.array(x)[index]), x[index])  # NumPy index arrays too


def test_fancy_reads_of_non_contiguous_views():
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    a = mx.array(x).transpose(2, 0, 1)[::2]
    idx = np.array([[0, 2], [1, 1]])
    np.testing.assert_array_equal(npy(a[idx, :, idx]), x.transpose(2, 0, 1)[::2][idx, :, idx])


def test_out_of_range_index_arrays_raise_index_error():
    a = mx.arange(5)
    with pytest.raises(IndexError, match="out of bounds"):
        a[mx.array([1, 5])].tolist()
    with pytest.raises(IndexError):
        a[mx.array([-6])].tolist()
    with pytest.raises(TypeError):
        a[mx.array([0.5])]


# ---- large gathers and scatters (the kernels' parallel and prefetching paths) ------------

@pytest.mark.parametrize("idx_dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64])
def test_large_take_over_index_dtypes(idx_dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 120)).astype(np.float32)
    lo = -120 if np.issubdtype(idx_dtype, np.signedinteger) else 0
    idx = rng.integers(lo, 120, size=200_000).astype(idx_dtype)
    a, i = mx.array(x), mx.array(idx)
    np.testing.assert_array_equal(npy(mx.take(a.reshape(-1), i)), np.take(x.reshape(-1), idx))
    np.testing.assert_array_equal(npy(mx.take(a, i, axis=1)), np.take(x, idx, axis=1))  # 3 outer blocks
    np.testing.assert_array_equal(npy(a.reshape(-1)[i]), x.reshape(-1)[idx])


def test_large_gathers_raise_for_one_bad_index_anywhere():
    n = 300_000
    x = mx.arange(n, dtype=mx.float32)
    for bad in (n, -n - 1):
        for at in (0, n // 2, n - 1):
            idx = np.arange(n, dtype=np.int64)
            idx[at] = bad
            with pytest.raises(IndexError, match=rf"\[take\] Index {bad} is out of bounds for axis 0 with size {n}"):
                mx.take(x, mx.array(idx), axis=0).tolist()
            with pytest.raises(IndexError, match=f"Index {bad} is out of bounds"):
                x[mx.array(idx)].tolist()
            with pytest.raises(IndexError, match="out of bounds for axis 0"):
                x.at[mx.array(idx)].add(1.0).tolist()


@pytest.mark.parametrize("cols", [1, 3, 128])
def test_large_scatters_with_repeated_indices_match_numpy(cols):
    # 128 columns split the destination rows over the cores; repeats must still combine in order.
    rng = np.random.default_rng(11)
    rows, n = 500, 4000
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    idx = rng.integers(-rows, rows, size=n)
    upd = rng.standard_normal((n, cols)).astype(np.float32)
    a, i, u = mx.array(x), mx.array(idx), mx.array(upd)
    want = x.copy()
    np.add.at(want, idx, upd)
    np.testing.assert_allclose(npy(a.at[i].add(u)), want, rtol=1e-5, atol=1e-5)
    want = x.copy()
    np.maximum.at(want, idx, upd)
    np.testing.assert_array_equal(npy(a.at[i].maximum(u)), want)
    # Assignment with repeats: the last update of each row wins, as in NumPy.
    want = x.copy()
    want[idx] = upd
    got = mx.array(x)
    got[i] = u
    np.testing.assert_array_equal(npy(got), want)


@pytest.mark.parametrize("shape", [(300_000,), (600, 500), (40, 70, 111)])
def test_large_nonzero_and_mask_reads_match_numpy(shape):
    # Big enough for several chunks, whose borders fall inside rows.
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    mask = x > 0.3
    for g, w in zip(mx.nonzero(mx.array(mask)), np.nonzero(mask)):
        np.testing.assert_array_equal(npy(g), w)
    np.testing.assert_array_equal(npy(mx.array(x)[mx.array(mask)]), x[mask])
    assert all(g.size == 0 for g in mx.nonzero(mx.zeros(shape, dtype=mx.bool_)))
    for g, w in zip(mx.nonzero(mx.ones(shape, dtype=mx.bool_)), np.nonzero(np.ones(shape, bool))):
        np.testing.assert_array_equal(npy(g), w)


# ---- boolean masks -----------------------------------------------------------------------

MASKS = [  # (mask from a (3, 4, 3) sample, where the mask goes in the index)
    (lambda y: y > 0, lambda m: m),
    (lambda y: (y > 0)[0], lambda m: (slice(None), m)),                # over axes 1 and 2
    (lambda y: (y > 0)[:, :, 0], lambda m: m),                         # over the leading two axes
    (lambda y: (y > 0)[0, 0], lambda m: (Ellipsis, m)),                # over the last axis
    (lambda y: (y > 0)[:, 0, 0], lambda m: (m, np.array([1]), slice(None))),  # with an index array
    (lambda y: np.zeros((3,), dtype=bool), lambda m: m),               # nothing selected
]


def to_mx_index(index):
    if isinstance(index, tuple):
        return tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)
    return mx.array(index)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make_mask,place", MASKS)
def test_bool_mask_reads_match_numpy(dtype, make_mask, place):
    x = sample((3, 4, 3), dtype, seed=1)
    index = place(make_mask(sample((3, 4, 3), np.int32, seed=2)))
    np.testing.assert_array_equal(npy(mx.array(x)[to_mx_index(index)]), x[index])
    np.testing.assert_array_equal(npy(mx.array(x)[index]), x[index])  # NumPy masks too


def test_bool_mask_read_forms():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = mx.array(x)
    np.testing.assert_array_equal(npy(a[a > 4]), x[x > 4])
    np.testing.assert_array_equal(npy(a[[True, False, True]]), x[[True, False, True]])
    np.testing.assert_array_equal(npy(a[np.array([True, False, True])]), x[np.array([True, False, True])])
    np.testing.assert_array_equal(npy(a.T[a.T > 5]), x.T[x.T > 5])           # non-contiguous
    np.testing.assert_array_equal(npy(mx.zeros((0, 2))[mx.zeros((0, 2)) > 0]), np.zeros((0,)))
    with pytest.raises(IndexError, match="does not match"):
        a[mx.array([True, False])]
    with pytest.raises(IndexError):
        a[mx.array(True)]


def test_bool_mask_assignment():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = mx.array(x)
    a[a > 6] = 0                                           # scalar: a select
    x[x > 6] = 0
    np.testing.assert_array_equal(npy(a), x)
    m = np.array([[True, False, True, False]] * 3)
    a[mx.array(m)] = mx.array([1.0, 2, 3, 4, 5, 6])       # one value per true position: masked_scatter
    x[m] = [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(npy(a), x)
    rows = np.array([True, False, True])
    a[mx.array(rows)] = mx.array([[7.0, 7, 7, 7], [8, 8, 8, 8]])  # mask over leading axes, rows of values
    x[rows] = [[7, 7, 7, 7], [8, 8, 8, 8]]
    np.testing.assert_array_equal(npy(a), x)
    a[mx.array(rows)] = mx.array([9.0, 9, 9, 9])           # one row broadcast to every selected row
    x[rows] = [9, 9, 9, 9]
    np.testing.assert_array_equal(npy(a), x)
    with pytest.raises(ValueError):
        a[mx.array(rows)] = mx.zeros((2, 3))


def test_masked_assignment_is_differentiable():
    m = mx.array([True, False, True, True])

    def f(x, v):
        y = x * 1
        y[m] = v
        return (y * mx.array([1.0, 2.0, 3.0, 4.0])).sum()

    gx, gv = mx.grad(f, argnums=(0, 1))(mx.ones(4), mx.array([5.0, 6.0, 7.0]))
    assert gx.tolist() == [0.0, 2.0, 0.0, 0.0]
    assert gv.tolist() == [1.0, 3.0, 4.0]


# ---- dynamic slices ------------------------------------------------------------------------

def test_slice_with_array_starts():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    a = mx.array(x)
    np.testing.assert_array_equal(npy(mx.slice(a, mx.array([1, 2]), [0, 1], [2, 3])), x[1:3, 2:5])
    np.testing.assert_array_equal(npy(mx.slice(a, mx.array(1), (1,), (4, 2))), x[:, 1:3])
    np.testing.assert_array_equal(npy(mx.slice(a, start_indices=mx.array([3]), axes=[0], slice_size=[2, 5])), x[2:4])
    np.testing.assert_array_equal(npy(mx.slice(a, mx.array([-7]), [1], [1, 2])), x[:1, :2])   # clamped
    np.testing.assert_array_equal(npy(mx.slice(a.T, mx.array([1]), [0], [2, 4])), x.T[1:3])
    with pytest.raises(ValueError, match=r"\[slice\]"):
        mx.slice(a, mx.array([1, 2]), [0], [1, 1])
    with pytest.raises(ValueError, match="integers"):
        mx.slice(a, mx.array([1.0]), [0], [1, 1])
    with pytest.raises(ValueError):
        mx.slice(a, mx.array([1]), [0], [5, 1])
    with pytest.raises(ValueError):
        mx.slice(a, mx.array([1]), [0], [1])


def test_slice_update_with_array_starts():
    x = np.zeros((3, 4), dtype=np.int32)
    a = mx.array(x)
    out = mx.slice_update(a, mx.ones((2, 2), dtype=mx.int32), mx.array([1, 2]), [0, 1])
    x2 = x.copy()
    x2[1:3, 2:4] = 1
    np.testing.assert_array_equal(npy(out), x2)
    out = mx.slice_update(a, mx.array([5, 6]), mx.array([9]), [1])   # clamped to the last fitting start
    x3 = x.copy()
    x3[0, 2:4] = [5, 6]
    np.testing.assert_array_equal(npy(out), x3)
    with pytest.raises(ValueError, match=r"\[slice_update\]"):
        mx.slice_update(a, mx.zeros((4, 1)), mx.array([0]), [0])


def test_dynamic_slice_gradients_match_finite_differences():
    x = mx.array(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32))
    start = mx.array([1, 2])
    w = mx.array(np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32))

    def f(x):
        return (mx.slice(x, start, [0, 1], [2, 3]) * w).sum()

    g = npy(mx.grad(f)(x))
    expected = np.zeros((4, 5), dtype=np.float32)
    expected[1:3, 2:5] = npy(w)
    np.testing.assert_allclose(g, expected, rtol=1e-6)

    def h(x, u):
        return (mx.slice_update(x, u, start, [0, 1]) ** 2).sum()

    u = mx.ones((2, 3))
    gx, gu = mx.grad(h, argnums=(0, 1))(x, u)
    eps = 1e-3
    xn = npy(x).astype(np.float64)
    num = np.zeros_like(xn)
    for i in range(4):
        for j in range(5):
            d = np.zeros_like(xn)
            d[i, j] = eps
            num[i, j] = (h(mx.array(xn + d), u).item() - h(mx.array(xn - d), u).item()) / (2 * eps)
    np.testing.assert_allclose(npy(gx), num, atol=2e-2)
    np.testing.assert_allclose(npy(gu), 2 * np.ones((2, 3)), rtol=1e-6)


def test_vmap_of_dynamic_slice_over_starts():
    x = mx.arange(10, dtype=mx.float32)
    starts = mx.array([[0], [3], [8]])
    out = mx.vmap(lambda s: mx.slice(x, s, [0], [3]))(starts)
    np.testing.assert_array_equal(npy(out), [[0, 1, 2], [3, 4, 5], [7, 8, 9]])


# ---- unstack, depends --------------------------------------------------------------------

def test_unstack():
    x = np.arange(24).reshape(2, 3, 4)
    parts = mx.unstack(mx.array(x), axis=1)
    assert len(parts) == 3
    for k, p in enumerate(parts):
        np.testing.assert_array_equal(npy(p), x[:, k])
    assert [p.shape for p in mx.unstack(mx.array(x))] == [(3, 4), (3, 4)]
    assert mx.unstack(mx.zeros((0, 2))) == []
    with pytest.raises(ValueError):
        mx.unstack(mx.array(1.0))
    with pytest.raises(ValueError):
        mx.unstack(mx.zeros((2, 2)), axis=2)


def test_depends():
    x = mx.array([1.0, 2.0])
    y = x * 3
    out = mx.depends(x + 1, y)
    assert isinstance(out, mx.array) and out.tolist() == [2.0, 3.0]
    outs = mx.depends([x, x * 2], [y])
    assert isinstance(outs, list) and outs[1].tolist() == [2.0, 4.0]
    g = mx.grad(lambda v: mx.depends(v * v, y).sum())(mx.array([3.0]))
    assert g.tolist() == [6.0]


# ---- nonzero, unique (beyond MLX; sync points) -------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES + [np.complex64])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2), (0, 3)])
def test_nonzero_matches_numpy(dtype, shape):
    x = sample(shape, dtype if dtype != np.complex64 else np.float32, seed=3).astype(dtype)
    got = mx.nonzero(mx.array(x))
    want = np.nonzero(x)
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == mx.int64
        np.testing.assert_array_equal(npy(g), w)


def test_nonzero_non_contiguous_and_0d():
    x = np.arange(12).reshape(3, 4) % 3
    for g, w in zip(mx.nonzero(mx.array(x).T[::2]), np.nonzero(x.T[::2])):
        np.testing.assert_array_equal(npy(g), w)
    with pytest.raises(ValueError, match=r"\[nonzero\]"):
        mx.nonzero(mx.array(1))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.uint8, np.bool_, np.float64])
@pytest.mark.parametrize("flags", [(False, False, False), (True, True, True), (True, False, False),
                                   (False, True, False), (False, False, True)])
def test_unique_matches_numpy(dtype, flags):
    x = sample((5, 6), dtype, seed=4)
    got = mx.unique(mx.array(x), *flags)
    want = np.unique(x, *flags)
    if not any(flags):
        got, want = (got,), (want,)
    assert len(got) == len(want)
    if flags[1]:  # the inverse is shaped like x, as NumPy 2 gives it (NumPy 1 flattens it)
        k = 1 + flags[0]
        want = want[:k] + (want[k].reshape(x.shape),) + want[k + 1:]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(npy(g), w)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unique_along_an_axis(axis):
    x = np.array([[1, 0, 1, 2], [1, 0, 1, 2], [0, 3, 0, 1]], dtype=np.int32)
    x = np.concatenate([x, x[::-1]], axis=0)
    got = mx.unique(mx.array(x), return_index=True, return_inverse=True, return_counts=True, axis=axis)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(npy(g), np.asarray(w).reshape(npy(g).shape))
    xt = np.ascontiguousarray(x.T)
    np.testing.assert_array_equal(npy(mx.unique(mx.array(x).T, axis=axis)), np.unique(xt, axis=axis))


def test_unique_nan_empty_and_errors():
    x = np.array([np.nan, 1.0, np.nan, 2.0, 1.0], dtype=np.float32)
    vals, counts = mx.unique(mx.array(x), return_counts=True)
    np.testing.assert_array_equal(npy(vals), np.unique(x))
    np.testing.assert_array_equal(npy(counts), np.unique(x, return_counts=True)[1])
    assert mx.unique(mx.zeros((0,))).shape == (0,)
    np.testing.assert_array_equal(npy(mx.unique(mx.array(3))), [3])
    with pytest.raises(ValueError, match=r"\[unique\]"):
        mx.unique(mx.array([1 + 1j]))
    with pytest.raises(ValueError):
        mx.unique(mx.zeros((2, 2)), axis=2)


# ---- MLX as an extra oracle --------------------------------------------------------------

def test_against_mlx():
    mlx = pytest.importorskip("mlx.core")
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    for start, axes, size in [([1, 2], [0, 1], [2, 3]), ([2], [1], [4, 2]), ([0], [0], [4, 6])]:
        got = mx.slice(mx.array(x), mx.array(start), axes, size)
        want = mlx.slice(mlx.array(x), mlx.array(start), axes, size)
        np.testing.assert_array_equal(npy(got), np.array(want))
    up = np.ones((2, 2), dtype=np.float32)
    got = mx.slice_update(mx.array(x), mx.array(up), mx.array([1, 1]), [0, 1])
    want = mlx.slice_update(mlx.array(x), mlx.array(up), mlx.array([1, 1]), [0, 1])
    np.testing.assert_array_equal(npy(got), np.array(want))
    idx = np.array([[3, 0], [1, 1]])
    np.testing.assert_array_equal(npy(mx.array(x)[mx.array(idx), 1:]), np.array(mlx.array(x)[mlx.array(idx), 1:]))


# ---- transforms through indexing -----------------------------------------------------------


def test_fancy_and_mask_read_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = mx.array(rng.standard_normal((3, 3)).astype(np.float32))
    idx = mx.array([2, 0, 2])

    def f(a):
        return (mx.sin(a[idx]) * w).sum()

    np.testing.assert_allclose(npy(mx.grad(f)(mx.array(x))), numerical_grad(lambda v: f(mx.array(v)).item(), x),
                               atol=2e-2)
    mask = mx.array(x > 0)

    def g(a):
        return (a[mask] ** 2).sum()

    np.testing.assert_allclose(npy(mx.grad(g)(mx.array(x))), np.where(x > 0, 2 * x, 0), rtol=1e-5)


def test_vmap_of_fancy_reads_with_batched_indices():
    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    idx = np.array([[0, 4], [3, 3], [1, 2]])
    out = mx.vmap(lambda i: mx.array(x)[i])(mx.array(idx))
    np.testing.assert_array_equal(npy(out), x[idx])
    xs = np.stack([x, x + 100, x + 200])
    out = mx.vmap(lambda a, i: a[i, 1:])(mx.array(xs), mx.array(idx))
    np.testing.assert_array_equal(npy(out), np.stack([xs[b][idx[b], 1:] for b in range(3)]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_assignment_over_dtypes(dtype):
    x = sample((3, 4), dtype, seed=6)
    m = sample((3, 4), np.int32, seed=7) > 0
    v = sample((int(m.sum()),), dtype, seed=8)
    a = mx.array(x)
    a[mx.array(m)] = mx.array(v)
    y = x.copy()
    y[m] = v
    np.testing.assert_array_equal(npy(a), y)
    b = mx.array(x)
    b[m.T.T] = v                                           # a NumPy mask
    np.testing.assert_array_equal(npy(b), y)


def test_at_with_a_bool_mask():
    a = mx.array([1.0, 2.0, 3.0, 4.0])
    assert a.at[a > 2].add(10).tolist() == [1.0, 2.0, 13.0, 14.0]
    assert a.at[mx.array([True, False, True, False])].multiply(2).tolist() == [2.0, 2.0, 6.0, 4.0]


def test_slice_update_in_a_loop_like_a_kv_cache():
    cache = mx.zeros((6, 2))
    expected = np.zeros((6, 2), dtype=np.float32)
    for step in range(6):
        row = mx.full((1, 2), float(step + 1))
        cache = mx.slice_update(cache + 0, row, mx.array([step]), [0])  # cache + 0: a buffer it may reuse
        expected[step] = step + 1
        mx.eval(cache)
    np.testing.assert_array_equal(npy(cache), expected)
    kept = mx.ones((3,))
    mx.eval(kept)
    updated = mx.slice_update(kept, mx.array([5.0]), mx.array([1]), [0])
    assert updated.tolist() == [1.0, 5.0, 1.0] and kept.tolist() == [1.0, 1.0, 1.0]  # kept is still read
