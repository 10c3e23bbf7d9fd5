"""Zero-copy DLPack exchange of CUDA memory with PyTorch and CuPy (needs a GPU; each library's
tests skip when it cannot be imported). Lazuli's buffers are CUDA managed memory and export as
kDLCUDA; CUDA tensors import as arrays over their device-only memory, which CPU kernels and
host reads see through staged host copies. Protocol details on any machine: test_dlpack.py."""
import gc
import importlib

import numpy as np
import pytest


def _optional(name):
    try:  # imported before lazuli (the known import-order quirk of the CUDA runtimes)
        return importlib.import_module(name)
    except Exception:
        return None


torch = _optional("torch")
cupy = _optional("cupy")

import lazuli.core as mx  # noqa: E402

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no GPU (mx.cuda.is_available() is False)")
needs_torch = pytest.mark.skipif(torch is None or not torch.cuda.is_available(),
                                 reason="torch with CUDA cannot be imported")
needs_cupy = pytest.mark.skipif(cupy is None, reason="cupy cannot be imported")

STREAMS = {"cpu stream": mx.cpu, "gpu stream": mx.gpu}
# Lazuli dtype, torch dtype name, NumPy dtype of the reference values.
TORCH_DTYPES = [
    (mx.float32, "float32", np.float32), (mx.float16, "float16", np.float16), (mx.bfloat16, "bfloat16", np.float32),
    (mx.float64, "float64", np.float64), (mx.int64, "int64", np.int64), (mx.int32, "int32", np.int32),
    (mx.int16, "int16", np.int16), (mx.int8, "int8", np.int8), (mx.uint8, "uint8", np.uint8),
    (mx.bool_, "bool", np.bool_), (mx.complex64, "complex64", np.complex64)]


def reference(np_dtype, shape=(3, 4)):
    """Small values every dtype holds exactly (bool: alternating)."""
    v = np.arange(int(np.prod(shape))).reshape(shape)
    return (v % 2 == 0) if np_dtype == np.bool_ else (v % 7 - 3).astype(np_dtype)


def host(a):
    """An array's values as NumPy (bfloat16 through float32), read by the host."""
    return np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a)


def torch_host(t):
    return (t.float() if t.dtype == torch.bfloat16 else t).cpu().numpy()


class Producer:
    def __init__(self, capsule, device):
        self.capsule, self.device = capsule, device

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return self.device


# ---- export ------------------------------------------------------------------------------

def test_export_device_is_cuda():
    assert mx.array([1.0]).__dlpack_device__() == (2, 0), "managed memory must export as kDLCUDA on device 0"


@needs_torch
@pytest.mark.parametrize("dtype, torch_name, np_dtype", TORCH_DTYPES, ids=[d[1] for d in TORCH_DTYPES])
def test_torch_from_lazuli_shares_memory(dtype, torch_name, np_dtype):
    ref = reference(np_dtype)
    a = mx.array(ref, dtype=dtype)
    mx.eval(a)
    t = torch.from_dlpack(a)
    assert t.device.type == "cuda" and t.dtype == getattr(torch, torch_name), (t.device, t.dtype)
    assert tuple(t.shape) == (3, 4) and t.stride() == (4, 1)
    np.testing.assert_array_equal(torch_host(t), ref, err_msg="values torch reads")
    # A write through torch shows in Lazuli: same memory.
    t[0, 0] = False if dtype == mx.bool_ else 5
    torch.cuda.synchronize()
    expected = ref.copy()
    expected[0, 0] = False if dtype == mx.bool_ else 5
    np.testing.assert_array_equal(host(a), expected, err_msg="host read after a torch write")
    np.testing.assert_array_equal(host(mx.add(a, mx.zeros_like(a), stream=mx.gpu)), expected,
                                  err_msg="gpu op after a torch write")


@needs_torch
def test_torch_sees_pending_gpu_work():
    a = mx.multiply(mx.arange(1 << 22, dtype=mx.float32), 2.0, stream=mx.gpu)  # lazy
    t = torch.from_dlpack(a)  # __dlpack__ evaluates and waits
    assert torch.equal(t, torch.arange(1 << 22, device="cuda", dtype=torch.float32) * 2)


@needs_torch
def test_torch_from_lazuli_strided_views():
    base = mx.arange(24, dtype=mx.float32).reshape(4, 6)
    mx.eval(base)
    tb = torch.from_dlpack(base)
    cases = {"transpose": (base.T, tb.T), "step slice": (base[1:, ::2], tb[1:, ::2]),
             "broadcast": (mx.broadcast_to(base[2], (3, 6)), tb[2].expand(3, 6))}
    for name, (view, ref) in cases.items():
        t = torch.from_dlpack(view)
        assert t.stride() == ref.stride(), (name, t.stride(), ref.stride())
        assert t.data_ptr() == ref.data_ptr(), f"{name}: export must not copy"
        assert torch.equal(t, ref), name
    flipped = torch.from_dlpack(base[::-1])  # negative strides: a row-major copy
    assert torch.equal(flipped, tb.flip(0)) and flipped.data_ptr() != tb.data_ptr()


@needs_torch
def test_torch_bfloat16_roundtrip():
    a = mx.array([1.5, -2.25, 3.0], dtype=mx.bfloat16)
    t = torch.from_dlpack(a)
    assert t.dtype == torch.bfloat16 and t.tolist() == [1.5, -2.25, 3.0]
    b = mx.from_dlpack(t)
    assert b.dtype == mx.bfloat16 and b.tolist() == [1.5, -2.25, 3.0]


def test_export_managed_memory_as_cpu():
    a = mx.arange(6, dtype=mx.int32).reshape(2, 3)
    x = np.from_dlpack(Producer(a.__dlpack__(dl_device=(1, 0)), (1, 0)))
    y = np.from_dlpack(Producer(a.__dlpack__(dl_device=(1, 0)), (1, 0)))
    np.testing.assert_array_equal(x, np.arange(6).reshape(2, 3))
    assert np.shares_memory(x, y), "managed memory exports to the CPU without a copy"
    with pytest.raises(BufferError, match=r"Cannot export to DLPack device \(2, 3\)"):
        a.__dlpack__(dl_device=(2, 3))


# ---- import ------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dtype, torch_name, np_dtype", TORCH_DTYPES, ids=[d[1] for d in TORCH_DTYPES])
def test_lazuli_from_torch_shares_memory(dtype, torch_name, np_dtype):
    ref = reference(np_dtype)
    t = torch.from_numpy(ref).to(device="cuda", dtype=getattr(torch, torch_name))
    a = mx.from_dlpack(t)
    assert a.dtype == dtype and a.shape == (3, 4)
    assert a.__dlpack_device__() == (2, 0)
    assert torch.from_dlpack(a).data_ptr() == t.data_ptr(), "import must not copy (re-export gives the same pointer)"
    np.testing.assert_array_equal(host(a), ref, err_msg="host read of device-only memory")
    t[0, 1] = True if dtype == mx.bool_ else 6
    torch.cuda.synchronize()
    expected = ref.copy()
    expected[0, 1] = True if dtype == mx.bool_ else 6
    np.testing.assert_array_equal(host(a), expected, err_msg="a torch write shows in the imported array")


@needs_torch
@pytest.mark.parametrize("name", ["offset + step", "transpose", "column", "broadcast", "narrow"])
def test_lazuli_from_torch_strided_and_offset(name):
    base = torch.arange(48, device="cuda", dtype=torch.float32).reshape(6, 8)
    t = {"offset + step": base[1:, 2::3], "transpose": base.T, "column": base[:, 5],
         "broadcast": base[3].expand(4, 8), "narrow": base.narrow(0, 2, 3)}[name]
    a = mx.from_dlpack(t)
    assert a.shape == tuple(t.shape)
    np.testing.assert_array_equal(np.array(a), t.cpu().numpy(), err_msg=f"{name}: values")
    for label, s in STREAMS.items():
        np.testing.assert_array_equal(np.array(mx.multiply(a, 2.0, stream=s)), t.cpu().numpy() * 2,
                                      err_msg=f"{name}: multiply on the {label}")
    base.add_(100)  # shared memory: the change shows in a fresh evaluation
    torch.cuda.synchronize()
    np.testing.assert_array_equal(np.array(mx.add(a, 0.0, stream=mx.gpu)), t.cpu().numpy(),
                                  err_msg=f"{name}: after a torch write")


@needs_torch
@pytest.mark.parametrize("label", list(STREAMS))
def test_ops_on_imported_device_only_memory(label):
    s = STREAMS[label]
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(64, 48, device="cuda", generator=gen)
    y = torch.randn(48, 32, device="cuda", generator=gen)
    a, b = mx.from_dlpack(x), mx.from_dlpack(y)
    xr, yr = x.cpu().numpy().astype(np.float64), y.cpu().numpy().astype(np.float64)
    checks = {
        "matmul": (mx.matmul(a, b, stream=s), xr @ yr),
        "sum axis 0": (mx.sum(a, axis=0, stream=s), xr.sum(0)),
        "exp of slice": (mx.exp(a[::2, 1:], stream=s), np.exp(xr[::2, 1:])),
        "transpose + add": (mx.add(a.T, 1.0, stream=s), xr.T + 1),
        "reshape": (mx.reshape(a, (48, 64), stream=s), xr.reshape(48, 64)),
        "astype int": (mx.astype(mx.multiply(a, 10.0, stream=s), mx.int32, stream=s),
                       np.trunc(xr.astype(np.float32) * 10).astype(np.int32)),
    }
    for what, (got, want) in checks.items():
        np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-4, err_msg=f"{what} on the {label}")
    v = mx.from_dlpack(torch.tensor([2.5], device="cuda"))
    assert v.item() == 2.5 and v.tolist() == [2.5] and "2.5" in repr(v)
    assert bytes(memoryview(v)) == np.float32([2.5]).tobytes()


@needs_torch
def test_import_waits_for_pending_torch_work():
    t = torch.ones(2048, 2048, device="cuda")
    for _ in range(20):  # each product doubles every entry (exactly: powers of two), pending on torch's stream
        t = t @ torch.full((2048, 2048), 2.0 / 2048, device="cuda")
    a = mx.from_dlpack(t)
    assert np.array(mx.sum(a, stream=mx.cpu)).item() == 2.0**42, "the import must wait for torch's pending work"


@needs_torch
def test_array_constructor_copies_cuda_tensors():
    t = torch.arange(6, device="cuda", dtype=torch.float64)
    a = mx.array(t)  # array() copies, as it does NumPy arrays; float64 becomes float32
    b = mx.array(t, dtype=mx.int64)
    t.add_(10)
    torch.cuda.synchronize()
    assert a.dtype == mx.float32 and a.tolist() == [0, 1, 2, 3, 4, 5]
    assert b.dtype == mx.int64 and b.tolist() == [0, 1, 2, 3, 4, 5]


@needs_torch
def test_import_keeps_tensor_alive_and_releases_it():
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    t = torch.full((1 << 20,), 3.0, device="cuda")
    a = mx.from_dlpack(t)
    del t
    gc.collect()
    assert torch.cuda.memory_allocated() >= before + (4 << 20), "the import holds the tensor"
    assert np.array(mx.sum(a, stream=mx.cpu)).item() == 3 * (1 << 20)  # GPU streams keep inputs a while
    del a
    gc.collect()
    assert torch.cuda.memory_allocated() == before, "the last array lets go of the tensor"


# ---- CuPy ----------------------------------------------------------------------------------

@needs_cupy
@pytest.mark.parametrize("dtype, np_dtype", [(mx.float32, np.float32), (mx.float16, np.float16),
                                             (mx.int64, np.int64), (mx.uint8, np.uint8), (mx.bool_, np.bool_)])
def test_cupy_exchange(dtype, np_dtype):
    ref = reference(np_dtype)
    a = mx.array(ref, dtype=dtype)
    c = cupy.from_dlpack(a)
    assert c.data.ptr == cupy.from_dlpack(a).data.ptr, "export must not copy"
    np.testing.assert_array_equal(cupy.asnumpy(c), ref)
    c[1, 1] = True if dtype == mx.bool_ else 4
    cupy.cuda.runtime.deviceSynchronize()
    expected = ref.copy()
    expected[1, 1] = True if dtype == mx.bool_ else 4
    np.testing.assert_array_equal(np.array(a), expected, err_msg="a cupy write shows in Lazuli")

    src = cupy.asarray(ref)
    b = mx.from_dlpack(src)
    assert b.dtype == dtype
    np.testing.assert_array_equal(np.array(b), ref)
    strided = mx.from_dlpack(src.T[1:, ::2])
    np.testing.assert_array_equal(np.array(strided), ref.T[1:, ::2])
    src[0, 0] = False if dtype == mx.bool_ else 9
    cupy.cuda.runtime.deviceSynchronize()
    assert np.array(b)[0, 0] == (False if dtype == mx.bool_ else 9), "import must share cupy's memory"
    for label, s in STREAMS.items():
        got = np.array(mx.astype(b, mx.float32, stream=s).sum(stream=s))
        assert got == pytest.approx(float(cupy.asnumpy(src).astype(np.float64).sum())), label
