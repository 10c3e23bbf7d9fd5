"""The array class: construction, properties, conversion, operators, indexing, interop."""
import copy
import itertools
import pickle
import random

import numpy as np
import pytest

import lazuli.core as mx


def npy(a):
    return np.array(a)


# ---- construction and dtype inference --------------------------------------------------------

@pytest.mark.parametrize(
    "value, dtype",
    [
        (True, mx.bool_),
        (3, mx.int32),
        (2**40, mx.int64),
        (1.5, mx.float32),
        (1 + 2j, mx.complex64),
        ([1, 2, 3], mx.int32),
        ([1, 2.5], mx.float32),
        ([True, False], mx.bool_),
        ([[1, 2], [3, 4]], mx.int32),
        ((1, 2), mx.int32),
        ([], mx.float32),
    ],
)
def test_inference(value, dtype):
    a = mx.array(value)
    assert a.dtype == dtype
    assert a.tolist() == np.array(value).tolist() or a.dtype == mx.complex64


@pytest.mark.parametrize(
    "np_dtype, mx_dtype",
    [
        (np.bool_, mx.bool_), (np.uint8, mx.uint8), (np.uint16, mx.uint16), (np.uint32, mx.uint32),
        (np.uint64, mx.uint64), (np.int8, mx.int8), (np.int16, mx.int16), (np.int32, mx.int32),
        (np.int64, mx.int64), (np.float16, mx.float16), (np.float32, mx.float32),
        (np.float64, mx.float32), (np.complex64, mx.complex64),
    ],
)
def test_from_numpy(np_dtype, mx_dtype):
    x = (np.arange(12).reshape(3, 4) % 5).astype(np_dtype)
    a = mx.array(x)
    assert a.dtype == mx_dtype
    assert a.shape == (3, 4)
    np.testing.assert_array_equal(npy(a), x.astype(npy(a).dtype))
    # Non-contiguous NumPy inputs keep their logical order.
    np.testing.assert_array_equal(npy(mx.array(x.T)), x.T.astype(npy(a).dtype))
    np.testing.assert_array_equal(npy(mx.array(x[:, ::-2])), x[:, ::-2].astype(npy(a).dtype))


def test_explicit_dtype_and_copy_semantics():
    x = np.arange(4, dtype=np.float64)
    a = mx.array(x, dtype=mx.float64)
    assert a.dtype == mx.float64
    x[0] = 100  # the array copied the data
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert mx.array(a).tolist() == a.tolist()
    assert mx.array([1, 2], mx.float16).dtype == mx.float16


def test_ragged_and_bad_types():
    with pytest.raises(ValueError):
        mx.array([[1, 2], [3]])
    with pytest.raises(TypeError):
        mx.array([1, "a"])
    with pytest.raises(TypeError):
        mx.array(object())


def test_properties_and_conversions():
    a = mx.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert a.shape == (2, 3) and a.ndim == 2 and a.size == 6
    assert a.itemsize == 4 and a.nbytes == 24
    assert a.T.shape == (3, 2)
    assert len(a) == 2
    assert [r.tolist() for r in a] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    s = mx.array(2.5)
    assert s.item() == 2.5 and float(s) == 2.5 and int(s) == 2 and bool(s)
    assert complex(s) == 2.5 + 0j
    assert isinstance(mx.array(3).item(), int)
    assert isinstance(mx.array(True).item(), bool)
    assert f"{mx.array(0.123456):.2f}" == "0.12"
    with pytest.raises(ValueError):
        a.item()
    with pytest.raises(TypeError):
        len(s)


def test_repr():
    assert repr(mx.array([[1, 2], [3, 4]])) == "array([[1, 2],\n       [3, 4]], dtype=int32)"
    assert repr(mx.array(1.5)) == "array(1.5, dtype=float32)"
    assert repr(mx.array([True, False])) == "array([True, False], dtype=bool)"
    assert str(mx.float32) == "lazuli.core.float32"


# ---- operators -------------------------------------------------------------------------------

BINARY = ["__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__mod__", "__pow__",
          "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]


@pytest.mark.parametrize("op", BINARY)
def test_binary_operators_match_numpy(op):
    x = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], dtype=np.float32)
    y = np.array([2.0, 3.0, -1.5], dtype=np.float32)
    a, b = mx.array(x), mx.array(y)
    got = getattr(a, op)(b)
    want = getattr(x, op)(y)
    np.testing.assert_allclose(npy(got), want, rtol=1e-6)
    # Reflected forms with Python scalars.
    rop = "__r" + op[2:]
    if hasattr(a, rop) and op not in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
        np.testing.assert_allclose(npy(getattr(a, rop)(2.0)), getattr(x, rop)(np.float32(2.0)), rtol=1e-6)


def test_weak_scalars():
    h = mx.array([1, 2, 3], dtype=mx.float16)
    assert (h * 2.5).dtype == mx.float16
    assert (2.5 * h).dtype == mx.float16
    assert (h + 1).dtype == mx.float16
    i = mx.array([1, 2, 3])
    assert (i + 1).dtype == mx.int32
    assert (i + 1.5).dtype == mx.float32
    assert (mx.array([1, 2], dtype=mx.uint8) + 1).dtype == mx.uint8
    assert (mx.array([True]) + 1).dtype == mx.int32


def test_inplace_rebinds_and_bitwise():
    a = mx.array([1, 2, 3])
    b = a
    a += 1
    assert a is b and a.tolist() == [2, 3, 4]
    a *= 2
    assert b.tolist() == [4, 6, 8]
    assert (mx.array([6]) & 3).tolist() == [2]
    assert (mx.array([6]) | 1).tolist() == [7]
    assert (mx.array([6]) ^ 2).tolist() == [4]
    assert (mx.array([1]) << 3).tolist() == [8]
    assert (~mx.array([0], dtype=mx.uint8)).tolist() == [255]
    assert (~mx.array([True, False])).tolist() == [False, True]
    assert (-mx.array([1.5])).tolist() == [-1.5]
    assert abs(mx.array([-2])).tolist() == [2]
    m = mx.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(npy(m @ m), npy(m) @ npy(m))


# ---- indexing --------------------------------------------------------------------------------

def random_basic_index(rng, shape):
    """A random NumPy basic index for `shape`: ints, slices, Ellipsis and None."""
    parts = []
    dims = list(shape)
    used_ellipsis = False
    i = 0
    while i < len(dims):
        r = rng.random()
        if r < 0.25:
            parts.append(rng.randint(-dims[i], dims[i] - 1) if dims[i] else slice(None))
            i += 1
        elif r < 0.75:
            lo = rng.choice([None, rng.randint(-dims[i] - 2, dims[i] + 2)])
            hi = rng.choice([None, rng.randint(-dims[i] - 2, dims[i] + 2)])
            step = rng.choice([None, 1, 2, 3, -1, -2])
            parts.append(slice(lo, hi, step))
            i += 1
        elif r < 0.85:
            parts.append(None)
        elif not used_ellipsis:
            parts.append(Ellipsis)
            used_ellipsis = True
            i = len(dims)  # the ellipsis covers the rest
        else:
            break
    if len(parts) == 1 and rng.random() < 0.5:
        return parts[0]
    return tuple(parts)


def test_randomised_basic_indexing_matches_numpy():
    rng = random.Random(0)
    shapes = [(5,), (4, 6), (3, 4, 5), (2, 3, 1, 4), (0, 3)]
    checked = 0
    for shape in shapes:
        x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
        a = mx.array(x)
        for _ in range(80):
            idx = random_basic_index(rng, shape)
            want = x[idx]
            got = a[idx]
            assert got.shape == want.shape, idx
            np.testing.assert_array_equal(npy(got), want, err_msg=repr(idx))
            # The same index for assignment.
            y = x.copy()
            b = mx.array(x)
            value = np.arange(want.size, dtype=np.int32).reshape(want.shape) + 1000
            y[idx] = value
            b[idx] = mx.array(value)
            np.testing.assert_array_equal(npy(b), y, err_msg=repr(idx))
            checked += 1
    assert checked == 400


def test_indexing_errors_and_scalars():
    a = mx.arange(6).reshape(2, 3)
    with pytest.raises(IndexError):
        a[2]
    with pytest.raises(IndexError):
        a[0, 0, 0]
    with pytest.raises(IndexError):
        a[..., ...]
    with pytest.raises(TypeError):
        a["x"]
    assert a[1, -1].item() == 5
    assert a[None].shape == (1, 2, 3)
    s = mx.array(7)
    assert s[...].item() == 7 and s[None].shape == (1,)


def test_setitem_broadcast_mask_and_at():
    a = mx.zeros((3, 4))
    a[:, 1] = mx.array([1.0, 2.0, 3.0])
    a[0] = 5
    x = np.zeros((3, 4), dtype=np.float32)
    x[:, 1] = [1, 2, 3]
    x[0] = 5
    np.testing.assert_array_equal(npy(a), x)
    m = a > 2
    a[m] = -1
    x[x > 2] = -1
    np.testing.assert_array_equal(npy(a), x)
    b = mx.array([1.0, 2.0, 3.0])
    assert b.at[1:].add(1).tolist() == [1.0, 3.0, 4.0]
    assert b.at[0].multiply(5).tolist() == [5.0, 2.0, 3.0]
    assert b.at[::2].maximum(2.5).tolist() == [2.5, 2.0, 3.0]
    assert b.tolist() == [1.0, 2.0, 3.0]  # .at is out of place


# ---- interop ---------------------------------------------------------------------------------

def test_numpy_and_memoryview_zero_copy():
    a = mx.arange(6, dtype=mx.float32).reshape(2, 3)
    view = memoryview(a)
    assert view.format == "f" and view.shape == (2, 3)
    x = np.array(a, copy=False)
    y = np.asarray(a)
    assert x.dtype == np.float32 and y.shape == (2, 3)
    np.testing.assert_array_equal(x, np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(np.array(a.T), np.arange(6).reshape(2, 3).T)
    assert np.array(mx.array([1, 2]), dtype=np.float64).dtype == np.float64


def test_pickle_copy_and_bfloat16():
    for a in [mx.array([[1, 2], [3, 4]]), mx.array([1.5, -2.25], dtype=mx.bfloat16), mx.array(True)]:
        b = pickle.loads(pickle.dumps(a))
        assert b.dtype == a.dtype and b.shape == a.shape
        assert b.tolist() == a.tolist()
        c, d = copy.copy(a), copy.deepcopy(a)
        assert c.tolist() == a.tolist() and d.tolist() == a.tolist()
    with pytest.raises(TypeError):
        memoryview(mx.array([1.0], dtype=mx.bfloat16))


def test_methods_match_numpy():
    x = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], dtype=np.float32)
    a = mx.array(x)
    np.testing.assert_allclose(npy(a.sum(axis=1)), x.sum(axis=1))
    np.testing.assert_allclose(npy(a.mean()), x.mean())
    np.testing.assert_allclose(npy(a.var(axis=0, ddof=1)), x.var(axis=0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(npy(a.std()), x.std(), rtol=1e-6)
    assert a.argmax().item() == x.argmax()
    assert a.argmin(axis=1).tolist() == x.argmin(axis=1).tolist()
    assert a.reshape(3, 2).shape == (3, 2) and a.reshape((6,)).shape == (6,)
    assert a.transpose().shape == (3, 2) and a.transpose(1, 0).shape == (3, 2)
    assert a.flatten().shape == (6,)
    assert [p.shape for p in a.split(3, axis=1)] == [(2, 1)] * 3
    assert a.astype(mx.int32).dtype == mx.int32
    np.testing.assert_allclose(npy(a.abs().sqrt()), np.sqrt(np.abs(x)), rtol=1e-6)
    assert a.max(keepdims=True).shape == (1, 1)
    assert mx.array([1.26, 2.5]).round(1).tolist() == pytest.approx([1.3, 2.5])


def random_advanced_index(rng, shape):
    """A random NumPy index mixing integer arrays/lists, ints and slices (no None)."""
    parts = []
    for d in shape:
        r = rng.random()
        if r < 0.4 and d:
            n = rng.randint(1, 4)
            parts.append(np.array([rng.randint(-d, d - 1) for _ in range(n)]) if rng.random() < 0.5
                         else [rng.randint(-d, d - 1) for _ in range(n)])
        elif r < 0.55 and d:
            parts.append(rng.randint(-d, d - 1))
        elif r < 0.62:
            parts.append(None)
            parts.append(slice(None))
        else:
            parts.append(slice(rng.choice([None, 0, 1]), rng.choice([None, -1, d]), rng.choice([None, 1, 2, -1])))
    # Array indices must broadcast together: make them the same length.
    lengths = {len(p) for p in parts if isinstance(p, (list, np.ndarray))}
    if len(lengths) > 1:
        n = min(lengths)
        parts = [p[:n] if isinstance(p, (list, np.ndarray)) else p for p in parts]
    if not any(isinstance(p, (list, np.ndarray)) for p in parts):
        first = next(i for i, p in enumerate(parts) if p is not None)
        parts[first] = [0] if shape[0] else parts[first]
    return tuple(parts)


def test_randomised_advanced_indexing_matches_numpy():
    rng = random.Random(1)
    checked = 0
    for shape in [(6,), (4, 5), (3, 4, 5), (2, 3, 4, 2)]:
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        a = mx.array(x)
        for _ in range(60):
            idx = random_advanced_index(rng, shape)
            want = x[idx]
            got = a[tuple(mx.array(p) if isinstance(p, np.ndarray) else p for p in idx)]
            assert got.shape == want.shape, idx
            np.testing.assert_array_equal(npy(got), want, err_msg=repr(idx))
            y = x.copy()
            b = mx.array(x)
            value = np.arange(want.size, dtype=np.float32).reshape(want.shape) + 1000
            y[idx] = value
            b[idx] = value
            # With repeated indices NumPy keeps the last write, as scatter does.
            np.testing.assert_array_equal(npy(b), y, err_msg=repr(idx))
            checked += 1
    assert checked == 240


def test_at_accumulates_repeated_indices():
    a = mx.arange(5)
    assert a.at[mx.array([0, 0, 1])].add(1).tolist() == [2, 2, 2, 3, 4]
    b = mx.ones((2, 3))
    assert b.at[[1, 1], [0, 2]].add(mx.array([5.0, 7.0])).tolist() == [[1, 1, 1], [6, 1, 8]]
    assert mx.array([2.0, 3.0]).at[[0, 0]].multiply(3.0).tolist() == [18.0, 3.0]
    assert mx.array([2.0, 3.0]).at[[1, 1]].subtract(1.0).tolist() == [2.0, 1.0]
    assert mx.array([2.0, 3.0]).at[[0]].maximum(5.0).tolist() == [5.0, 3.0]
    assert mx.array([2.0, 3.0]).at[[1]].minimum(-1.0).tolist() == [2.0, -1.0]
    with pytest.raises(IndexError):
        mx.arange(3)[mx.array([3])].tolist()
    # Boolean-mask reads follow NumPy (MLX raises; Lazuli evaluates the mask: a sync point).
    assert mx.arange(3)[mx.array([True, False, True])].tolist() == [0, 2]


def test_take_and_along_axis_match_numpy():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = mx.array(x)
    np.testing.assert_array_equal(npy(mx.take(a, mx.array([2, 0]), axis=1)), np.take(x, [2, 0], axis=1))
    np.testing.assert_array_equal(npy(mx.take(a, mx.array([5, -1]))), np.take(x, [5, -1]))
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    np.testing.assert_array_equal(npy(mx.take_along_axis(a, mx.array(idx), axis=1)), np.take_along_axis(x, idx, 1))
    y = x.copy()
    np.put_along_axis(y, idx, -1.0, axis=1)
    np.testing.assert_array_equal(npy(mx.put_along_axis(a, mx.array(idx), mx.array(-1.0), axis=1)), y)


def test_dlpack_and_array_like():
    # More in test_dlpack.py; with a GPU, arrays export as CUDA memory (test_dlpack_cuda.py).
    a = mx.arange(6, dtype=mx.float32).reshape(2, 3)
    if not mx.cuda.is_available():
        assert a.__dlpack_device__() == (1, 0)
        x = np.from_dlpack(a)
        np.testing.assert_array_equal(x, np.arange(6, dtype=np.float32).reshape(2, 3))
    b = mx.from_dlpack(np.arange(4, dtype=np.int16))
    assert b.dtype == mx.int16 and b.tolist() == [0, 1, 2, 3]

    class Wrapped:
        def __mlx_array__(self):
            return mx.array([1, 2])

    assert (mx.array(Wrapped()) + 1).tolist() == [2, 3]
    assert mx.metal.is_available() is False
    assert mx.metal.get_active_memory() == mx.get_active_memory()


def test_iterator_and_array_like_classes():
    it = iter(mx.array([[1, 2], [3, 4]]))
    assert isinstance(it, mx.ArrayIterator)
    assert next(it).tolist() == [1, 2] and next(it).tolist() == [3, 4]
    with pytest.raises(StopIteration):
        next(it)
    assert isinstance(mx.ArrayLike, type)


def test_print_options_and_stream_helpers():
    a = mx.arange(2000)
    with mx.printoptions(threshold=10, edgeitems=2):
        assert repr(a) == "array([0, 1, ..., 1998, 1999], dtype=int32)"
    assert "..." in repr(a) and "2, 997" not in repr(a)
    assert mx.get_printoptions()["threshold"] == 1000
    assert isinstance(mx.PrintOptions().precision, int)
    s = mx.new_thread_local_stream(mx.cpu)
    assert (mx.add(mx.array(1), mx.array(2), stream=s)).item() == 3
    mx.clear_streams()
    assert mx.default_stream(mx.cpu) == mx.default_stream(mx.cpu)
