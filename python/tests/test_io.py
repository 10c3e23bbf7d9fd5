"""File formats in lazuli.core: save/load (.npy), savez/savez_compressed (.npz), safetensors
(single and sharded), GGUF. Round trips for every dtype; files written by NumPy, the
reference `safetensors` package and the reference `gguf` package read back exactly (and
ours read by them); metadata; every malformed-file error; no half-written file on failure."""

import json
import os
import struct
import zipfile

import numpy as np
import pytest

import lazuli.core as mx

DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "bfloat16", "complex64"]


def values(dtype, shape=(3, 5), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool_":
        v = rng.integers(0, 2, shape).astype(np.bool_)
    elif dtype.startswith("uint"):
        v = rng.integers(0, 200, shape).astype(dtype)
    elif dtype.startswith("int"):
        v = rng.integers(-100, 100, shape).astype(dtype)
    elif dtype == "complex64":
        v = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    else:
        v = rng.standard_normal(shape).astype(np.float32)
    return mx.array(v).astype(getattr(mx, dtype))


def bits(x):
    """The exact stored values, as NumPy sees them (bfloat16 as its uint16 bits)."""
    if x.dtype == mx.bfloat16:
        return np.array(mx.view(x, mx.uint16))
    return np.array(x)


def assert_same(a, b):
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(bits(a), bits(b))


def no_temp_files(d):
    return [f for f in os.listdir(d) if ".tmp." in f] == []


# ---- .npy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (2, 0, 3), (2, 3, 4)])
def test_npy_round_trip(tmp_path, dtype, shape):
    x = values(dtype, shape)
    f = str(tmp_path / "a.npy")
    mx.save(f, x)
    assert_same(mx.load(f), x)
    if dtype != "bfloat16":
        np.testing.assert_array_equal(np.load(f), np.array(x))  # NumPy reads ours


def test_npy_non_contiguous_inputs(tmp_path):
    base = values("float32", (6, 8))
    for x in [base.T, base[::2, 1::3], mx.broadcast_to(mx.arange(4), (3, 4)), base[:, 2]]:
        mx.save(tmp_path / "v.npy", x)
        np.testing.assert_array_equal(np.load(tmp_path / "v.npy"), np.array(x))
        assert_same(mx.load(tmp_path / "v.npy"), x)


def test_npy_bfloat16_as_mlx_writes_it(tmp_path):
    x = mx.array([1.5, 2.25, -3.0], dtype=mx.bfloat16)
    mx.save(tmp_path / "b.npy", x)
    raw = (tmp_path / "b.npy").read_bytes()
    assert b"'descr': '<V2'" in raw and raw.endswith(bytes(np.array(mx.view(x, mx.uint16))))
    mlx = pytest.importorskip("mlx.core")
    y = mlx.load(str(tmp_path / "b.npy"))
    assert y.dtype == mlx.bfloat16 and y.tolist() == [1.5, 2.25, -3.0]
    mlx.save(str(tmp_path / "m.npy"), mlx.array([0.5, -7.0], dtype=mlx.bfloat16))
    assert mx.load(tmp_path / "m.npy").tolist() == [0.5, -7.0]


def test_save_adds_extension_and_accepts_paths(tmp_path):
    mx.save(str(tmp_path / "plain"), mx.arange(3))
    assert (tmp_path / "plain.npy").exists()
    mx.save(tmp_path / "p.npy", [1, 2, 3])  # pathlib and a list
    assert mx.load(tmp_path / "p.npy").tolist() == [1, 2, 3]


NUMPY_DTYPES = [np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32,
                np.int64, np.float16, np.float32, np.float64, np.complex64]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_written_npy(tmp_path, dtype):
    rng = np.random.default_rng(1)
    v = (rng.standard_normal((4, 6)) * 50).astype(dtype)
    for name, arr in [("c", v), ("f", np.asfortranarray(v)), ("t", v.T), ("be", v.astype(v.dtype.newbyteorder(">")))]:
        f = tmp_path / f"{name}.npy"
        np.save(f, arr)
        y = mx.load(f)
        assert y.shape == arr.shape
        np.testing.assert_array_equal(np.array(y), arr)


def test_npy_fortran_3d_and_version_2(tmp_path):
    v = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.save(tmp_path / "f.npy", np.asfortranarray(v))
    np.testing.assert_array_equal(np.array(mx.load(tmp_path / "f.npy")), v)
    with open(tmp_path / "v2.npy", "wb") as fh:
        np.lib.format.write_array(fh, v, version=(2, 0))
    np.testing.assert_array_equal(np.array(mx.load(tmp_path / "v2.npy")), v)


# ---- .npz ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip_every_dtype(tmp_path, compressed):
    arrays = {d: values(d, (2, 3), seed=i) for i, d in enumerate(DTYPES)}
    arrays["empty"] = mx.zeros((0, 4))
    arrays["scalar"] = mx.array(3.5)
    save = mx.savez_compressed if compressed else mx.savez
    save(str(tmp_path / "a"), **arrays)
    loaded = mx.load(tmp_path / "a.npz")
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert_same(loaded[k], v)
    with zipfile.ZipFile(tmp_path / "a.npz") as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED}
        assert z.testzip() is None
    ours = np.load(tmp_path / "a.npz")  # NumPy reads ours (bfloat16 aside)
    for k, v in arrays.items():
        if k != "bfloat16":
            np.testing.assert_array_equal(ours[k], np.array(v))


def test_npz_read_by_mlx(tmp_path):
    mlx = pytest.importorskip("mlx.core")
    arrays = {"a": values("int32", (4,)), "b": values("float32", (2, 3)), "c": values("bfloat16", (3,))}
    for compressed in [False, True]:
        (mx.savez_compressed if compressed else mx.savez)(tmp_path / "m.npz", **arrays)
        theirs = mlx.load(str(tmp_path / "m.npz"))
        for k, v in arrays.items():
            np.testing.assert_array_equal(np.array(theirs[k].astype(mlx.float32)), np.array(v.astype(mx.float32)))


def test_savez_positional_names(tmp_path):
    mx.savez(tmp_path / "p.npz", mx.arange(3), mx.ones(2), w=mx.zeros(1))
    assert sorted(mx.load(tmp_path / "p.npz")) == ["arr_0", "arr_1", "w"]
    with pytest.raises(ValueError):
        mx.savez(tmp_path / "q.npz", mx.arange(3), arr_0=mx.zeros(1))


@pytest.mark.parametrize("compressed", [False, True])
def test_numpy_written_npz(tmp_path, compressed):
    rng = np.random.default_rng(2)
    data = {f"a{i}": (rng.standard_normal((5, 3)) * 9).astype(d) for i, d in enumerate(NUMPY_DTYPES)}
    data["big"] = rng.standard_normal(100_000).astype(np.float32)
    (np.savez_compressed if compressed else np.savez)(tmp_path / "n.npz", *[data["a0"]], **data)
    loaded = mx.load(tmp_path / "n.npz")
    assert set(loaded) == set(data) | {"arr_0"}
    for k, v in data.items():
        np.testing.assert_array_equal(np.array(loaded[k]), v)
        assert loaded[k].shape == v.shape


# ---- safetensors ------------------------------------------------------------------------------


def test_safetensors_round_trip_every_dtype_with_metadata(tmp_path):
    arrays = {d: values(d, (3, 4), seed=i) for i, d in enumerate(DTYPES)}
    arrays["scalar"] = mx.array(2.0)
    arrays["empty"] = mx.zeros((0,))
    arrays["transposed"] = values("float32", (4, 6)).T
    meta = {"format": "mlx", "note": 'quotes " and \\ and \n and é'}
    mx.save_safetensors(str(tmp_path / "a"), arrays, metadata=meta)
    loaded, m = mx.load(tmp_path / "a.safetensors", return_metadata=True)
    assert m == meta
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert_same(loaded[k], v)
    assert mx.load(str(tmp_path / "a.safetensors"), format="safetensors").keys() == loaded.keys()


def test_safetensors_reference_package_reads_ours_and_we_read_its(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    arrays = {d: values(d, (2, 5), seed=i) for i, d in enumerate(DTYPES) if d not in ("bfloat16", "complex64")}
    mx.save_safetensors(tmp_path / "ours.safetensors", arrays, {"k": "v"})
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in arrays.items():
        np.testing.assert_array_equal(theirs[k], np.array(v))
        assert theirs[k].dtype == np.array(v).dtype
    rng = np.random.default_rng(3)
    ref = {f"t{i}": (rng.standard_normal((3, 2, 2)) * 20).astype(d) for i, d in enumerate(NUMPY_DTYPES)
           if d is not np.complex64}
    ref["odd"] = np.array([True, False, True])  # leaves later tensors unaligned
    ref["z_after_odd"] = np.arange(5, dtype=np.float64)
    st.save_file(ref, str(tmp_path / "ref.safetensors"), metadata={"a": "b"})
    loaded, meta = mx.load(tmp_path / "ref.safetensors", return_metadata=True)
    assert meta == {"a": "b"}
    for k, v in ref.items():
        np.testing.assert_array_equal(np.array(loaded[k]), v)


def test_safetensors_bfloat16_matches_mlx(tmp_path):
    mlx = pytest.importorskip("mlx.core")
    x = values("bfloat16", (4, 4))
    mx.save_safetensors(tmp_path / "b.safetensors", {"x": x})
    y = mlx.load(str(tmp_path / "b.safetensors"))["x"]
    np.testing.assert_array_equal(np.array(y.astype(mlx.float32)), np.array(x.astype(mx.float32)))
    mlx.save_safetensors(str(tmp_path / "m.safetensors"), {"y": y})
    assert_same(mx.load(tmp_path / "m.safetensors")["y"], x)


def test_safetensors_load_is_lazy(tmp_path):
    # Loading maps the file: no allocator memory is used for the tensors.
    big = np.ones((4096, 4096), np.float32)  # 64 MB
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"big": big, "small": np.arange(4, dtype=np.float32)}, str(tmp_path / "big.safetensors"))
    before = mx.get_active_memory()
    loaded = mx.load(tmp_path / "big.safetensors")
    assert mx.get_active_memory() - before < (1 << 20)
    assert loaded["small"].tolist() == [0, 1, 2, 3]
    assert mx.sum(loaded["big"]).item() == 4096 * 4096
    del loaded  # the mapping goes with the last array
    loaded = mx.load(tmp_path / "big.safetensors")
    s = loaded["small"]
    del loaded
    assert s.tolist() == [0, 1, 2, 3]


def write_shards(d, tensors, split):
    st = pytest.importorskip("safetensors.numpy")
    weight_map = {}
    for i, names in enumerate(split):
        shard = f"model-{i + 1:05d}-of-{len(split):05d}.safetensors"
        st.save_file({n: tensors[n] for n in names}, str(d / shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in names})
    index = {"metadata": {"total_size": sum(v.nbytes for v in tensors.values())}, "weight_map": weight_map}
    (d / "model.safetensors.index.json").write_text(json.dumps(index))


def test_sharded_checkpoint(tmp_path):
    rng = np.random.default_rng(4)
    tensors = {f"layers.{i}.weight": rng.standard_normal((3, 4)).astype(np.float32) for i in range(5)}
    tensors["embed"] = np.arange(6, dtype=np.int64)
    write_shards(tmp_path, tensors, [["embed", "layers.0.weight"], ["layers.1.weight", "layers.2.weight"],
                                     ["layers.3.weight", "layers.4.weight"]])
    for loaded in [mx.load_sharded_safetensors(tmp_path), mx.load(tmp_path / "model.safetensors.index.json"),
                   mx.load_sharded_safetensors(str(tmp_path / "model.safetensors.index.json"))]:
        assert set(loaded) == set(tensors)
        for k, v in tensors.items():
            np.testing.assert_array_equal(np.array(loaded[k]), v)
    _, meta = mx.load_sharded_safetensors(tmp_path, return_metadata=True)
    assert meta["format"] == "pt" and meta["total_size"] == str(sum(v.nbytes for v in tensors.values()))


def test_sharded_checkpoint_errors(tmp_path):
    tensors = {"a": np.zeros(2, np.float32), "b": np.ones(2, np.float32)}
    write_shards(tmp_path, tensors, [["a"], ["b"]])
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    cases = {
        "missing.json": ({"weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}},
                         "'c' is not in its shard"),
        "escape.json": ({"weight_map": {"a": "../x.safetensors"}}, "not a file beside the index"),
        "absolute.json": ({"weight_map": {"a": "/etc/passwd"}}, "not a file beside the index"),
        "nomap.json": ({"metadata": {}}, "no \"weight_map\""),
        "noshard.json": ({"weight_map": {"a": "nope.safetensors"}}, "cannot open"),
    }
    for name, (content, msg) in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
            mx.load_sharded_safetensors(tmp_path / name)
    (tmp_path / "bad.json").write_text('{"weight_map": {"a": ')
    with pytest.raises(ValueError, match="load_sharded_safetensors"):
        mx.load_sharded_safetensors(tmp_path / "bad.json")
    assert index["weight_map"]["b"].startswith("model-00002")


# ---- GGUF ---------------------------------------------------------------------------------------

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType


def gguf_write(path, tensors, kv=()):
    """tensors: (name, numpy array, raw_dtype or None); kv: (method name, key, value)."""
    w = gguf.GGUFWriter(str(path), "llama")
    for method, key, value in kv:
        getattr(w, method)(key, value)
    for name, data, raw in tensors:
        w.add_tensor(name, data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_plain_types_from_reference_writer(tmp_path):
    rng = np.random.default_rng(5)
    f32 = rng.standard_normal((3, 8)).astype(np.float32)
    f16 = rng.standard_normal((2, 3, 4)).astype(np.float16)
    bf16 = np.array(mx.view(values("bfloat16", (4, 6)), mx.uint16))
    ints = {np.int8: Q.I8, np.int16: Q.I16, np.int32: Q.I32, np.int64: Q.I64, np.float64: Q.F64}
    tensors = [("f32", f32, None), ("f16", f16, None), ("bf16", bf16, Q.BF16)]
    tensors += [(f"i{np.dtype(d).name}", (rng.standard_normal(10) * 50).astype(d), q) for d, q in ints.items()]
    gguf_write(tmp_path / "p.gguf", tensors)
    loaded = mx.load(tmp_path / "p.gguf")
    np.testing.assert_array_equal(np.array(loaded["f32"]), f32)
    np.testing.assert_array_equal(np.array(loaded["f16"]), f16)
    assert loaded["bf16"].dtype == mx.bfloat16 and loaded["bf16"].shape == (4, 6)
    np.testing.assert_array_equal(np.array(mx.view(loaded["bf16"], mx.uint16)), bf16)
    for name, data, _ in tensors[3:]:
        np.testing.assert_array_equal(np.array(loaded[name]), data)


def dequantize_affine(words, scales, biases, bits):
    words = np.array(words)
    per = 32 // bits
    q = ((words[..., None] >> (np.arange(per, dtype=np.uint32) * bits)) & ((1 << bits) - 1))
    q = q.reshape(*words.shape[:-1], -1, 32).astype(np.float32)
    s = np.array(scales).astype(np.float32)[..., None]
    b = np.array(biases).astype(np.float32)[..., None]
    return (q * s + b).reshape(*words.shape[:-1], -1)


@pytest.mark.parametrize("qtype,bits", [(Q.Q4_0, 4), (Q.Q4_1, 4), (Q.Q8_0, 8)])
def test_gguf_quantized_kept_in_affine_layout(tmp_path, qtype, bits):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 64)).astype(np.float32)
    q = gguf.quants.quantize(x, qtype)
    gguf_write(tmp_path / "q.gguf", [("blk.0.ffn.weight", q, qtype), ("plain", q, qtype)])
    loaded = mx.load(tmp_path / "q.gguf")
    assert set(loaded) == {"blk.0.ffn.weight", "blk.0.ffn.scales", "blk.0.ffn.biases",
                           "plain", "plain.scales", "plain.biases"}
    w, s, b = loaded["blk.0.ffn.weight"], loaded["blk.0.ffn.scales"], loaded["blk.0.ffn.biases"]
    assert w.dtype == mx.uint32 and w.shape == (2, 3, 64 * bits // 32)
    assert s.dtype == b.dtype == mx.float16 and s.shape == b.shape == (2, 3, 2)
    ref = gguf.quants.dequantize(q, qtype)
    np.testing.assert_array_equal(dequantize_affine(w, s, b, bits), ref)
    if qtype != Q.Q4_1:  # MLX 0.29's Q4_1 unpacking reads the block's min as weights
        mlx = pytest.importorskip("mlx.core")
        theirs = mlx.load(str(tmp_path / "q.gguf"))
        for k in ["blk.0.ffn.weight", "blk.0.ffn.scales", "blk.0.ffn.biases"]:
            np.testing.assert_array_equal(np.array(theirs[k]), np.array(loaded[k]))


def random_kquant_blocks(qtype, nblocks, rng):
    """Random blocks with finite, modest float16 scales (d, dmin) in their places."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (nblocks, size), dtype=np.uint8)
    d = rng.uniform(0.01, 0.1, (nblocks, 2)).astype(np.float16).view(np.uint8)
    if qtype == Q.Q6_K:
        raw[:, size - 2:] = d[:, :2]
    else:
        raw[:, :4] = d
    return raw


@pytest.mark.parametrize("qtype", [Q.Q4_K, Q.Q5_K, Q.Q6_K])
def test_gguf_k_quants_dequantized(tmp_path, qtype):
    rng = np.random.default_rng(7)
    raw = random_kquant_blocks(qtype, 6, rng).reshape(3, -1)  # 3 rows of 512 elements
    gguf_write(tmp_path / "k.gguf", [("k.weight", raw, qtype)])
    loaded = mx.load(tmp_path / "k.gguf")
    assert set(loaded) == {"k.weight"}
    y = loaded["k.weight"]
    assert y.dtype == mx.float32 and y.shape == (3, 512)
    ref = gguf.quants.dequantize(raw, qtype)
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-6, atol=1e-6)


def test_gguf_metadata_from_reference_writer(tmp_path):
    kv = [("add_uint8", "u8", 200), ("add_int8", "i8", -5), ("add_uint16", "u16", 60000),
          ("add_int16", "i16", -3000), ("add_uint32", "u32", 4_000_000_000), ("add_int32", "i32", -7),
          ("add_float32", "f32", 1.5), ("add_uint64", "u64", 2**63), ("add_int64", "i64", -2**40),
          ("add_float64", "f64", 0.1), ("add_bool", "flag", True), ("add_string", "s", "héllo"),
          ("add_array", "ints", [1, 2, 3]), ("add_array", "strs", ["a", "bc", ""])]
    gguf_write(tmp_path / "m.gguf", [("t", np.zeros(4, np.float32), None)], kv)
    arrays, meta = mx.load(tmp_path / "m.gguf", return_metadata=True)
    expect = {"u8": (mx.uint8, 200), "i8": (mx.int8, -5), "u16": (mx.uint16, 60000), "i16": (mx.int16, -3000),
              "u32": (mx.uint32, 4_000_000_000), "i32": (mx.int32, -7), "f32": (mx.float32, 1.5),
              "u64": (mx.uint64, 2**63), "i64": (mx.int64, -2**40), "f64": (mx.float64, 0.1),
              "flag": (mx.bool_, True)}
    for k, (dt, v) in expect.items():
        assert meta[k].dtype == dt and meta[k].ndim == 0 and meta[k].item() == v
    assert meta["s"] == "héllo" and meta["strs"] == ["a", "bc", ""]
    assert meta["ints"].ndim == 1 and meta["ints"].tolist() == [1, 2, 3]
    assert meta["general.architecture"] == "llama"


def test_gguf_round_trip_and_reference_reader(tmp_path):
    arrays = {"f32": values("float32", (3, 4)), "f16": values("float16", (2, 2, 3)),
              "bf16": values("bfloat16", (5,)), "f64": values("float64", (2,)), "i8": values("int8", (4,)),
              "i16": values("int16", (4,)), "i32": values("int32", (1, 4)), "i64": values("int64", (4,)),
              "scalar": mx.array(1.5), "transposed": values("float32", (3, 5)).T}
    meta = {"name": "model", "tags": ["x", "y"], "n": mx.array(7), "v": mx.array([1.0, 2.0]),
            "b": mx.array(True), "u": mx.array([1, 2], dtype=mx.uint64)}
    mx.save_gguf(str(tmp_path / "r"), arrays, meta)
    loaded, m = mx.load(tmp_path / "r.gguf", return_metadata=True)
    for k, v in arrays.items():
        assert_same(loaded[k], v)
    assert m["name"] == "model" and m["tags"] == ["x", "y"]
    for k in ["n", "v", "b", "u"]:
        assert_same(m[k], meta[k])
    reader = gguf.GGUFReader(str(tmp_path / "r.gguf"))
    by_name = {t.name: t for t in reader.tensors}
    np.testing.assert_array_equal(np.asarray(by_name["f32"].data).reshape(3, 4), np.array(arrays["f32"]))
    np.testing.assert_array_equal(np.asarray(by_name["i64"].data), np.array(arrays["i64"]))
    assert by_name["bf16"].tensor_type == Q.BF16
    field = reader.fields["name"]
    assert bytes(field.parts[field.data[0]]).decode() == "model"
    mlx = pytest.importorskip("mlx.core")  # MLX 0.29 reads GGUF without bfloat16
    mx.save_gguf(tmp_path / "r2.gguf", {k: v for k, v in arrays.items() if k.startswith("f1")}, meta)
    theirs, tm = mlx.load(str(tmp_path / "r2.gguf"), return_metadata=True)
    np.testing.assert_array_equal(np.array(theirs["f16"]), np.array(arrays["f16"]))
    assert tm["tags"] == ["x", "y"]


def test_save_gguf_rejects_what_it_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="uint32"):
        mx.save_gguf(tmp_path / "u.gguf", {"a": mx.zeros(2, dtype=mx.uint32)})
    with pytest.raises(ValueError, match="2-d"):
        mx.save_gguf(tmp_path / "u.gguf", {"a": mx.zeros(2)}, {"m": mx.zeros((2, 2))})
    with pytest.raises(ValueError, match="float16"):
        mx.save_gguf(tmp_path / "u.gguf", {"a": mx.zeros(2)}, {"m": mx.zeros(2, dtype=mx.float16)})
    assert not (tmp_path / "u.gguf").exists() and no_temp_files(tmp_path)


# ---- load() dispatch and arguments -----------------------------------------------------------


def test_load_format_argument_and_errors(tmp_path):
    mx.save(tmp_path / "a.npy", mx.arange(3))
    os.rename(tmp_path / "a.npy", tmp_path / "a.bin")
    assert mx.load(tmp_path / "a.bin", format="npy").tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="Unknown file format 'bin'"):
        mx.load(tmp_path / "a.bin")
    with pytest.raises(ValueError, match="no extension"):
        mx.load(str(tmp_path / "noext"))
    with pytest.raises(ValueError, match="metadata not supported"):
        mx.load(tmp_path / "a.bin", format="npy", return_metadata=True)
    with pytest.raises(ValueError, match="cannot open"):
        mx.load(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="not a regular file"):
        mx.load(str(tmp_path), format="npy")
    with pytest.raises(TypeError):
        mx.load(3)
    with pytest.raises(TypeError):
        mx.save_safetensors(tmp_path / "x.safetensors", [mx.zeros(1)])
    with pytest.raises(TypeError):
        mx.save_safetensors(tmp_path / "x.safetensors", {"a": mx.zeros(1)}, {"k": 1})


# ---- malformed files ------------------------------------------------------------------------------


def reference_files(d):
    """One small valid file of each format."""
    mx.save(d / "v.npy", mx.arange(12, dtype=mx.float32).reshape(3, 4))
    mx.savez(d / "v.npz", a=mx.arange(5), b=mx.ones((2, 2)))
    mx.savez_compressed(d / "vc.npz", a=mx.arange(50), b=mx.ones((8, 8)))
    mx.save_safetensors(d / "v.safetensors", {"a": mx.arange(5), "b": mx.ones((2, 3))}, {"k": "v"})
    q = gguf.quants.quantize(np.ones((2, 32), np.float32), Q.Q4_0)
    gguf_write(d / "v.gguf", [("w", np.arange(8, dtype=np.float32), None), ("q.weight", q, Q.Q4_0)],
               [("add_string", "s", "x"), ("add_array", "a", [1, 2])])
    return ["v.npy", "v.npz", "vc.npz", "v.safetensors", "v.gguf"]


def test_every_truncation_is_rejected(tmp_path):
    for name in reference_files(tmp_path):
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / ("cut." + name.split(".")[-1])
        for n in sorted(set(range(0, len(data), max(1, len(data) // 97))) | {len(data) - 1}):
            cut.write_bytes(data[:n])
            with pytest.raises(ValueError, match=r"\[load"):
                r = mx.load(cut)
                # A cut inside trailing padding can leave a valid file; then it must load right.
                if isinstance(r, dict) and n >= len(data) - 32:
                    raise ValueError("[load] padding only")


def test_random_corruption_never_crashes(tmp_path):
    rng = np.random.default_rng(8)
    for name in reference_files(tmp_path):
        data = bytearray((tmp_path / name).read_bytes())
        bad = tmp_path / ("bad." + name.split(".")[-1])
        for _ in range(150):
            d = bytearray(data)
            for _ in range(rng.integers(1, 4)):
                d[rng.integers(0, len(d))] = rng.integers(0, 256)
            bad.write_bytes(bytes(d))
            try:
                r = mx.load(bad)
                for v in (r.values() if isinstance(r, dict) else [r]):
                    mx.eval(v)
            except ValueError as e:
                assert str(e).startswith("[load")


def npy_bytes(header, data=b""):
    h = header.encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


@pytest.mark.parametrize("content,msg", [
    (b"NOTNUMPY", "bad magic"),
    (b"\x93NUMPY\x09\x00\x10\x00", "unsupported .npy version 9"),
    (b"\x93NUMPY\x01\x00\xff\xff{}", "runs past the end"),
    (npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", b"\0" * 8), "needs more bytes"),
    (npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648,), }"), "more than 2\\^31"),
    (npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "2, " * 70 + "), }"), "more than 64"),
    (npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 65536), }"), "needs more bytes"),
    (npy_bytes("{'descr': '<M8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8), "unsupported dtype '<M8'"),
    (npy_bytes("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16), "unsupported dtype"),
    (npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }"), "fortran_order"),
    (npy_bytes("{'descr': '<f4', 'shape': (1,), }", b"\0" * 4), "lacks one of"),
    (npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}"), "unexpected key"),
    (npy_bytes("{'descr': '<f4, 'fortran_order': False}"), "malformed header"),
])
def test_malformed_npy(tmp_path, content, msg):
    (tmp_path / "m.npy").write_bytes(content)
    with pytest.raises(ValueError, match=r"\[load npy\].*" + msg):
        mx.load(tmp_path / "m.npy")


def st_bytes(header, data=b"", length=None):
    h = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(h) if length is None else length) + h + data


@pytest.mark.parametrize("content,msg", [
    (b"\x01\x02", "truncated"),
    (st_bytes({}, length=2**62), "runs past the end"),
    (st_bytes(b"[1, 2]"), "not a JSON object"),
    (st_bytes(b"{\"a\": "), "truncated"),
    (st_bytes(b"{\"a\": {}} trailing"), "unexpected text"),
    (st_bytes(b"[" * 100 + b"]" * 100), "nested more than"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "outside"),
    (st_bytes({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 12), "need 12"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8), "outside"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
               "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), "overlap"),
    (st_bytes({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "unsupported dtype"),
    (st_bytes({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}), "non-negative integer"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, b"\0" * 8), "more than 2\\^31"),
    (st_bytes({"a": {"dtype": "F32", "shape": [65536] * 4, "data_offsets": [0, 8]}}, b"\0" * 8), "needs more bytes"),
    (st_bytes({"a": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, b"\0" * 4), "65 dimensions"),
    (st_bytes({"a": {"dtype": "F32", "shape": [1]}}), "lacks one of"),
    (st_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}), "not a pair"),
    (st_bytes({"__metadata__": {"k": 1}}), "not a string"),
    (st_bytes(b'{"a": 1, "a": 2}'), "duplicate key"),
    (st_bytes(b'{"a": "\\q"}'), "bad escape"),
])
def test_malformed_safetensors(tmp_path, content, msg):
    (tmp_path / "m.safetensors").write_bytes(content)
    with pytest.raises(ValueError, match=r"\[load_safetensors\].*" + msg):
        mx.load(tmp_path / "m.safetensors")


def gguf_header(n_tensors, n_kv, version=3):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def gstr(s):
    return struct.pack("<Q", len(s)) + s


def tensor_info(name, dims, ggml_type, offset):
    return gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", ggml_type, offset)


def pad32(b):
    return b + b"\0" * (-len(b) % 32)


@pytest.mark.parametrize("content,msg", [
    (b"GGUX" + b"\0" * 20, "bad magic"),
    (gguf_header(0, 0, version=1), "unsupported GGUF version 1"),
    (gguf_header(0, 2**40), "metadata count"),
    (gguf_header(2**40, 0), "tensor count"),
    (gguf_header(0, 1) + struct.pack("<Q", 2**60) + b"\0" * 16, "claims"),
    (gguf_header(0, 1) + gstr(b"k") + struct.pack("<IQ", 8, 2**50), "claims"),
    (gguf_header(0, 1) + gstr(b"k") + struct.pack("<IIQ", 9, 5, 2**50), "claims"),
    (gguf_header(0, 1) + gstr(b"k") + struct.pack("<IIQ", 9, 9, 1), "nested array"),
    (gguf_header(0, 1) + gstr(b"k") + struct.pack("<I", 77), "unknown value type 77"),
    (gguf_header(0, 2) + (gstr(b"k") + struct.pack("<Ii", 5, 1)) * 2, "duplicate metadata key"),
    (gguf_header(0, 1) + gstr(b"general.alignment") + struct.pack("<II", 4, 3), "not a power of two"),
    (gguf_header(1, 0) + tensor_info(b"t", [4], 0, 0), "truncated"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [4], 0, 16)) + b"\0" * 24, "runs past the end"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [4], 0, 2**63)) + b"\0" * 16, "runs past the end"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [4], 6, 0)) + b"\0" * 32, "unsupported type Q5_0"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [4], 999, 0)) + b"\0" * 32, "unsupported type unknown"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [40], 2, 0)) + b"\0" * 64, "not a multiple of its block"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [1] * 9, 0, 0)) + b"\0" * 4, "9 dimensions"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [2**33], 0, 0)) + b"\0" * 4, "more than 2\\^31"),
    (pad32(gguf_header(1, 0) + tensor_info(b"t", [65536] * 4, 0, 0)) + b"\0" * 4, "needs more bytes"),
    (pad32(gguf_header(2, 0) + tensor_info(b"t", [4], 0, 0) + tensor_info(b"u", [4], 0, 8)) + b"\0" * 32,
     "overlap"),
    (pad32(gguf_header(2, 0) + tensor_info(b"t", [4], 0, 0) + tensor_info(b"t", [4], 0, 16)) + b"\0" * 32,
     "duplicate tensor name"),
])
def test_malformed_gguf(tmp_path, content, msg):
    (tmp_path / "m.gguf").write_bytes(content)
    with pytest.raises(ValueError, match=r"\[load_gguf\].*" + msg):
        mx.load(tmp_path / "m.gguf")


def test_gguf_quantized_name_collision(tmp_path):
    q = gguf.quants.quantize(np.ones((1, 32), np.float32), Q.Q8_0)
    gguf_write(tmp_path / "c.gguf", [("x.weight", q, Q.Q8_0), ("x.scales", np.zeros(2, np.float32), None)])
    with pytest.raises(ValueError, match="two tensors load under the name 'x.scales'"):
        mx.load(tmp_path / "c.gguf")


def zip_with(entries):
    """A zip archive from (name, data, method, declared size or None, crc or None)."""
    import zlib
    out, central = b"", b""
    for name, data, method, size, crc in entries:
        packed = data if method == 0 else zlib.compress(data)[2:-4]
        crc = zlib.crc32(data) if crc is None else crc
        size = len(data) if size is None else size
        fields = struct.pack("<HHHHHIIIHH", 20, 0, method, 0, 0x21, crc, len(packed), size, len(name), 0)
        central += struct.pack("<IH", 0x02014B50, 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, len(out)) + name
        out += struct.pack("<I", 0x04034B50) + fields + name + packed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return out + central + end


GOOD_NPY = bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8))


@pytest.mark.parametrize("content,msg", [
    (b"PK\x05\x06", "too short"),
    (b"\0" * 100, "no end of central directory"),
    (zip_with([(b"a.npy", GOOD_NPY, 0, None, 0)]), "CRC"),
    (zip_with([(b"a.npy", GOOD_NPY, 8, 0xFFFFFFF0, None)]), "impossible size"),
    (zip_with([(b"a.npy", GOOD_NPY, 8, len(GOOD_NPY) + 5, None)]), "corrupt"),
    (zip_with([(b"a.npy", GOOD_NPY, 12, None, None)]), "compression method 12"),
    (zip_with([(b"a.npy", GOOD_NPY, 0, None, None), (b"a.npy", GOOD_NPY, 0, None, None)]), "duplicate member"),
    (zip_with([(b"a.npy", GOOD_NPY[:-2], 0, None, None)]), "needs more bytes"),
    (zip_with([(b"a.npy", GOOD_NPY, 0, None, None)])[:-22] +
     struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, 500, 0, 0), "runs past the end"),
    (zip_with([(b"a.npy", GOOD_NPY, 0, None, None)])[:-22] +
     struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 9, 9, 46 + 5, len(GOOD_NPY) + 35, 0), "entry count"),
])
def test_malformed_npz(tmp_path, content, msg):
    (tmp_path / "m.npz").write_bytes(content)
    with pytest.raises(ValueError, match=r"\[load np[yz]\].*" + msg):
        mx.load(tmp_path / "m.npz")


def test_handmade_zip_is_read(tmp_path):
    (tmp_path / "ok.npz").write_bytes(zip_with([(b"a.npy", GOOD_NPY, 0, None, None), (b"b.npy", GOOD_NPY, 8, None, None)]))
    assert {k: v.tolist() for k, v in mx.load(tmp_path / "ok.npz").items()} == {"a": [0, 0], "b": [0, 0]}


# ---- writers never leave a half-written file ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors", "gguf"])
def test_failed_save_leaves_no_file(tmp_path, fmt):
    good = {"a": mx.arange(4, dtype=mx.float32)}
    target = tmp_path / f"out.{fmt}"

    def save(arrays):
        if fmt == "npy":
            mx.save(target, arrays["b"] if "b" in arrays else arrays["a"])
        elif fmt == "npz":
            mx.savez(target, **arrays)
        elif fmt == "safetensors":
            mx.save_safetensors(target, arrays)
        else:
            mx.save_gguf(target, arrays)

    # An array whose evaluation fails part-way through the write: the memory limit leaves
    # no room for its result.
    old = mx.set_memory_limit(1 << 20)
    try:
        failing = dict(good, b=mx.zeros((1 << 22,)) + 1)
        with pytest.raises(RuntimeError):
            save(failing)
    finally:
        mx.set_memory_limit(old)
    assert not target.exists() and no_temp_files(tmp_path)
    # A failure never harms a file already there.
    save(good)
    before = target.read_bytes()
    mx.set_memory_limit(1 << 20)
    try:
        with pytest.raises(RuntimeError):
            save(dict(good, b=mx.zeros((1 << 22,)) + 1))
    finally:
        mx.set_memory_limit(old)
    assert target.read_bytes() == before and no_temp_files(tmp_path)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="cannot create a file"):
        mx.save(tmp_path / "nope" / "a.npy", mx.zeros(1))


# ---- file objects ---------------------------------------------------------------------------


def test_file_objects(tmp_path):
    import io
    x = values("float32", (3, 4))
    arrays = {"a": x, "b": values("int8", (5,))}
    for fmt, save in [("npy", lambda f: mx.save(f, x)), ("npz", lambda f: mx.savez(f, **arrays)),
                      ("npz", lambda f: mx.savez_compressed(f, **arrays)),
                      ("safetensors", lambda f: mx.save_safetensors(f, arrays, {"k": "v"})),
                      ("gguf", lambda f: mx.save_gguf(f, arrays, {"k": "v"}))]:
        buf = io.BytesIO()
        save(buf)
        path = tmp_path / f"ref.{fmt}"
        save(str(path))
        assert buf.getvalue() == path.read_bytes()  # the same bytes as a file
        buf.seek(0)
        loaded = mx.load(buf, format=fmt)
        if fmt == "npy":
            assert_same(loaded, x)
        else:
            for k, v in arrays.items():
                assert_same(loaded[k], v)
        with open(path, "rb") as f:  # a named file object: the format from its name
            again = mx.load(f)
        assert type(again) is type(loaded)
    with pytest.raises(ValueError, match="no extension"):
        mx.load(io.BytesIO(b"x"))
    with pytest.raises(ValueError, match=r"\[load npy\]"):
        mx.load(io.BytesIO(b"\x93NUMPY"), format="npy")
    with pytest.raises(TypeError, match="binary mode"):
        mx.load(io.StringIO("abc"), format="npy")


def test_safetensors_header_of_too_many_values(tmp_path):
    header = b"[" + b"0," * 10_000_001 + b"0]"
    (tmp_path / "many.safetensors").write_bytes(st_bytes(header))
    with pytest.raises(ValueError, match="more than 10000000 values"):
        mx.load(tmp_path / "many.safetensors")


def test_gguf_version_2_and_custom_alignment(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(5, 8)
    y = np.arange(3, dtype=np.float16)
    w = gguf.GGUFWriter(str(tmp_path / "a.gguf"), "llama")
    w.add_custom_alignment(64)
    w.add_tensor("y", y)
    w.add_tensor("x", x)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    arrays, meta = mx.load(tmp_path / "a.gguf", return_metadata=True)
    assert meta["general.alignment"].item() == 64
    np.testing.assert_array_equal(np.array(arrays["x"]), x)
    np.testing.assert_array_equal(np.array(arrays["y"]), y)
    data = bytearray((tmp_path / "a.gguf").read_bytes())
    data[4:8] = struct.pack("<I", 2)  # version 2 has the same layout
    (tmp_path / "v2.gguf").write_bytes(bytes(data))
    np.testing.assert_array_equal(np.array(mx.load(tmp_path / "v2.gguf")["x"]), x)


def test_writer_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="'__metadata__' cannot name a tensor"):
        mx.save_safetensors(tmp_path / "m.safetensors", {"__metadata__": mx.zeros(1)})
    with pytest.raises(TypeError, match="names must be str"):
        mx.save_safetensors(tmp_path / "m.safetensors", {1: mx.zeros(1)})
    with pytest.raises(TypeError, match="keys must be str"):
        mx.save_gguf(tmp_path / "m.gguf", {"a": mx.zeros(1)}, {1: "x"})
    with pytest.raises(TypeError, match="mixes str"):
        mx.save_gguf(tmp_path / "m.gguf", {"a": mx.zeros(1)}, {"k": ["a", 1]})
    with pytest.raises(ValueError, match="complex64"):
        mx.save_gguf(tmp_path / "m.gguf", {"a": mx.zeros(1, dtype=mx.complex64)})
    with pytest.raises(TypeError):
        mx.save(3.5, mx.zeros(1))
    assert os.listdir(tmp_path) == []


def test_saving_over_a_loaded_file_keeps_the_loaded_arrays(tmp_path):
    f = tmp_path / "w.safetensors"
    mx.save_safetensors(f, {"w": mx.arange(6, dtype=mx.float32)})
    old = mx.load(f)["w"]
    mx.save_safetensors(f, {"w": mx.zeros(6)})  # a new file renamed over the old one
    assert old.tolist() == [0, 1, 2, 3, 4, 5]
    assert mx.load(f)["w"].tolist() == [0] * 6
