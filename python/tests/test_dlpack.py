"""DLPack export (__dlpack__, __dlpack_device__) and import (from_dlpack) on any machine:
NumPy as the consumer and producer, the protocol's keyword arguments, and every error path.
CUDA exchange with PyTorch and CuPy: test_dlpack_cuda.py."""
import numpy as np
import pytest

import lazuli.core as mx

HAS_GPU = mx.cuda.is_available()
CPU = (1, 0)


class Producer:
    """Hands a DLPack capsule and device to a consumer, as a third-party tensor would."""

    def __init__(self, capsule=None, device=CPU):
        self.capsule, self.device, self.calls = capsule, device, []

    def __dlpack__(self, **kwargs):
        self.calls.append(kwargs)
        return self.capsule

    def __dlpack_device__(self):
        return self.device


def to_numpy(a, **kwargs):
    """NumPy's view of `a`'s export as CPU memory (managed memory is host memory too)."""
    return np.from_dlpack(Producer(a.__dlpack__(dl_device=CPU, **kwargs)))


def test_export_device():
    a = mx.arange(6, dtype=mx.float32).reshape(2, 3)
    expected = (2, 0) if HAS_GPU else CPU  # CUDA managed memory with a GPU
    assert a.__dlpack_device__() == expected
    assert (a + 1).__dlpack_device__() == expected  # evaluates a lazy array first
    if not HAS_GPU:
        np.testing.assert_array_equal(np.from_dlpack(a), np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("dtype, np_dtype", [
    (mx.bool_, np.bool_), (mx.uint8, np.uint8), (mx.uint16, np.uint16), (mx.uint32, np.uint32),
    (mx.uint64, np.uint64), (mx.int8, np.int8), (mx.int16, np.int16), (mx.int32, np.int32),
    (mx.int64, np.int64), (mx.float16, np.float16), (mx.float32, np.float32), (mx.float64, np.float64),
    (mx.complex64, np.complex64)])
def test_export_dtypes(dtype, np_dtype):
    ref = (np.arange(12).reshape(3, 4) % 5 - 1).astype(np_dtype)
    x = to_numpy(mx.array(ref, dtype=dtype))
    assert x.dtype == np_dtype and x.shape == (3, 4)
    np.testing.assert_array_equal(x, ref)


def test_export_bfloat16_capsule():
    # NumPy has no bfloat16; the capsule (DLPack code kDLBfloat) is checked through
    # PyTorch in test_dlpack_cuda.py. Here: the export itself succeeds.
    assert "dltensor" in repr(mx.array([1.5, -2.0], dtype=mx.bfloat16).__dlpack__())


def test_export_is_zero_copy_and_copy_true_is_not():
    a = mx.arange(12, dtype=mx.int32).reshape(3, 4)
    first, second = to_numpy(a), to_numpy(a)
    assert np.shares_memory(first, second)  # both views of a's own buffer
    copied = to_numpy(a, copy=True)
    assert not np.shares_memory(first, copied)
    np.testing.assert_array_equal(copied, first)


def test_export_keeps_array_alive():
    x = to_numpy(mx.arange(5) * 3)  # the lazy array is gone; the capsule holds its value
    np.testing.assert_array_equal(x, np.arange(5) * 3)


def test_export_strided_views():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    a = mx.array(base)
    full = to_numpy(a)
    views = {
        "transpose": (a.T, base.T),
        "step slice": (a[1:, ::2], base[1:, ::2]),
        "broadcast": (mx.broadcast_to(a[0], (3, 6)), np.broadcast_to(base[0], (3, 6))),
    }
    for name, (view, ref) in views.items():
        x = to_numpy(view, copy=False)  # strides exported: no copy needed
        np.testing.assert_array_equal(x, ref, err_msg=name)
        assert np.shares_memory(x, full), name
    # Negative strides export a row-major copy, which copy=False forbids.
    np.testing.assert_array_equal(to_numpy(a[::-1, ::-2]), base[::-1, ::-2])
    with pytest.raises(BufferError, match="copy=False"):
        a[::-1].__dlpack__(copy=False)


def test_export_empty_and_scalar():
    assert to_numpy(mx.zeros((0, 3))).shape == (0, 3)
    s = to_numpy(mx.array(2.5))
    assert s.shape == () and s == 2.5


def test_export_protocol_keywords():
    a = mx.array([1.0, 2.0])
    expected = a.__dlpack_device__()
    for kwargs in [{}, {"stream": None}, {"stream": -1}, {"stream": 1}, {"max_version": (1, 0)},
                   {"max_version": None}, {"copy": None}, {"copy": True}, {"copy": False},
                   {"dl_device": None}, {"dl_device": expected}, {"dl_device": CPU}]:
        assert "dltensor" in repr(a.__dlpack__(**kwargs)), kwargs
    assert "dltensor" in repr(a.__dlpack__(None))  # stream may also come positionally


def test_export_errors():
    a = mx.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"\[__dlpack__\] stream must be None or an int, got str"):
        a.__dlpack__(stream="default")
    with pytest.raises(TypeError, match=r"\[__dlpack__\] max_version must be None or a \(major, minor\)"):
        a.__dlpack__(max_version=1)
    with pytest.raises(TypeError, match=r"\[__dlpack__\] copy must be None, True or False, got int"):
        a.__dlpack__(copy=1)
    with pytest.raises(TypeError, match=r"\[__dlpack__\] dl_device must be None or a \(device_type, device_id\)"):
        a.__dlpack__(dl_device="cpu")
    with pytest.raises(BufferError, match=r"Cannot export to DLPack device \(7, 0\)"):
        a.__dlpack__(dl_device=(7, 0))
    with pytest.raises(BufferError, match=r"Cannot export to DLPack device \(1, 3\)"):
        a.__dlpack__(dl_device=(1, 3))
    if not HAS_GPU:
        with pytest.raises(BufferError, match=r"Cannot export to DLPack device \(2, 0\): the array lives on \(1, 0\)"):
            a.__dlpack__(dl_device=(2, 0))


@pytest.mark.parametrize("np_dtype", [np.bool_, np.int8, np.int64, np.uint16, np.float16, np.float32, np.complex64])
def test_import_cpu_copies(np_dtype):
    src = (np.arange(6).reshape(2, 3) % 3).astype(np_dtype)
    a = mx.from_dlpack(src)
    src[0, 0] = 2  # the import is a copy: later changes do not show
    ref = (np.arange(6).reshape(2, 3) % 3).astype(np_dtype)
    assert a.shape == (2, 3)
    np.testing.assert_array_equal(np.array(a), ref)


def test_import_from_lazuli_roundtrip():
    a = mx.arange(6, dtype=mx.int16).reshape(2, 3)
    b = mx.from_dlpack(a)
    assert b.dtype == mx.int16 and b.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_import_errors():
    with pytest.raises(TypeError, match=r"\[from_dlpack\] Expected an object with __dlpack__.*got int"):
        mx.from_dlpack(3)
    with pytest.raises(ValueError, match=r"\[from_dlpack\] Unsupported DLPack device \(8, 0\)"):
        mx.from_dlpack(Producer(device=(8, 0)))
    if not HAS_GPU:
        cuda = Producer(device=(2, 0))
        with pytest.raises(ValueError, match="needs a CUDA build of Lazuli on a machine with a GPU"):
            mx.from_dlpack(cuda)
        with pytest.raises(ValueError, match="needs a CUDA build of Lazuli on a machine with a GPU"):
            mx.array(cuda)  # array() routes CUDA producers through the DLPack import
        assert cuda.calls == []  # refused before asking for the capsule
    else:
        with pytest.raises(ValueError, match=r"lives on CUDA device 5, but Lazuli runs on CUDA device"):
            mx.from_dlpack(Producer(device=(2, 5)))
        with pytest.raises(TypeError, match="did not return a DLPack capsule"):
            mx.from_dlpack(Producer(capsule=3, device=(2, mx.array(0).__dlpack_device__()[1])))
