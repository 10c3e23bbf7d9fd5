"""Writes the seed corpora under fuzz/corpus/<format>/: small valid files from the
reference writers (NumPy, safetensors, gguf) covering each dtype, layout and block type.
Run by the venv python: .venv/bin/python fuzz/make_corpus.py"""

import pathlib

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Q
from safetensors.numpy import save_file

root = pathlib.Path(__file__).parent / "corpus"
rng = np.random.default_rng(0)
dtypes = [np.bool_, np.uint8, np.int16, np.uint32, np.int64, np.float16, np.float32, np.float64,
          np.complex64]


def out(fmt, name):
    d = root / fmt
    d.mkdir(parents=True, exist_ok=True)
    return d / name


for dt in dtypes:
    v = (rng.standard_normal((2, 3)) * 10).astype(dt)
    np.save(out("npy", f"{np.dtype(dt).name}.npy"), v)
np.save(out("npy", "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(out("npy", "bigendian.npy"), np.arange(4, dtype=">i4"))
np.save(out("npy", "scalar.npy"), np.float32(1.5))
np.save(out("npy", "empty.npy"), np.zeros((0, 3), np.int8))
(out("npy", "bfloat16.npy")).write_bytes(
    b"\x93NUMPY\x01\x00v\x00" + b"{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }".ljust(117) + b"\n"
    + b"\x80\x3f\x00\x40")

np.savez(out("npz", "stored.npz"), a=np.arange(5), b=np.ones((2, 2), np.float16))
np.savez_compressed(out("npz", "deflated.npz"), a=np.arange(40), b=np.zeros(3, np.bool_))
np.savez(out("npz", "empty.npz"))
try:  # Lazuli's own archives (ZIP64 records throughout), when its build is on PYTHONPATH
    import lazuli.core as mx
    mx.savez_compressed(str(out("npz", "lazuli_deflated.npz")), a=mx.arange(9), b=mx.ones((2, 2)))
    mx.savez(str(out("npz", "lazuli_stored.npz")), a=mx.arange(3))
except ImportError:
    pass

save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([True, False])},
          str(out("safetensors", "basic.safetensors")), metadata={"format": "pt"})
save_file({str(i): np.arange(3).astype(dt) for i, dt in enumerate(dtypes[:-1])},
          str(out("safetensors", "dtypes.safetensors")))
save_file({"s": np.float32(2.0).reshape(()), "e": np.zeros((0,), np.int32)},
          str(out("safetensors", "scalar_empty.safetensors")))


def write_gguf(name, tensors, kv=()):
    w = gguf.GGUFWriter(str(out("gguf", name)), "llama")
    for method, key, value in kv:
        getattr(w, method)(key, value)
    for tname, data, raw in tensors:
        w.add_tensor(tname, data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


x = rng.standard_normal((2, 32)).astype(np.float32)
write_gguf("plain.gguf", [("f32", x, None), ("f16", x.astype(np.float16), None),
                          ("i8", np.arange(4, dtype=np.int8), Q.I8)],
           [("add_uint32", "u", 7), ("add_float32", "f", 0.5), ("add_bool", "b", True),
            ("add_string", "s", "text"), ("add_array", "a", [1, 2, 3]), ("add_array", "l", ["x", "y"])])
write_gguf("quant.gguf", [(f"{t.name}.weight", gguf.quants.quantize(x, t), t) for t in (Q.Q4_0, Q.Q4_1, Q.Q8_0)])
for t in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
    size = gguf.GGML_QUANT_SIZES[t][1]
    raw = rng.integers(0, 256, (1, size), dtype=np.uint8)
    write_gguf(f"{t.name}.gguf", [("k.weight", raw, t)])
print("wrote", sum(1 for _ in root.rglob("*.*")), "seed files under", root)
