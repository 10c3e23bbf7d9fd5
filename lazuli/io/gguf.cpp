// GGUF (llama.cpp's format): typed metadata, then tensor descriptions, then aligned data.
#include <algorithm>
#include <map>

#include "lazuli/io.h"
#include "lazuli/io/io_util.h"

namespace lazuli {

namespace {

constexpr uint64_t gguf_alignment = 32;

Dtype plain_dtype(uint32_t type) {
  switch (type) {
    case io::GGML_F32: return float32;
    case io::GGML_F16: return float16;
    case io::GGML_BF16: return bfloat16;
    case io::GGML_F64: return float64;
    case io::GGML_I8: return int8;
    case io::GGML_I16: return int16;
    case io::GGML_I32: return int32;
    default: return int64;  // GGML_I64; the caller has ruled out the rest
  }
}

bool is_plain(uint32_t type) { return io::ggml_block(type).first == 1; }

GGUFMetaData metadata_value(const io::GgufValue& v) {
  if (v.is_string) {
    if (v.is_array) return v.strings;
    return v.strings.at(0);
  }
  Shape shape = v.is_array ? Shape{static_cast<int32_t>(v.count)} : Shape{};
  array a = io::copy_bytes(v.bytes.data(), shape, v.dtype);
  if (v.dtype.val == bool_.val) {  // any nonzero byte is true
    auto* p = static_cast<uint8_t*>(a.raw_data());
    for (size_t i = 0; i < a.size(); ++i) p[i] = p[i] != 0;
  }
  return a;
}

void add_unique(ArrayMap& out, const std::string& name, array a, const std::string& file) {
  if (!out.emplace(name, std::move(a)).second)
    io::bad_file("load_gguf", file, "two tensors load under the name '" + name + "'");
}

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_string(std::string& s, const std::string& v) {
  put<uint64_t>(s, v.size());
  s += v;
}

uint32_t gguf_value_type(Dtype t, const std::string& key, const std::string& file) {
  switch (t.val) {
    case Dtype::Val::bool_: return io::GGUF_BOOL;
    case Dtype::Val::uint8: return io::GGUF_U8;
    case Dtype::Val::int8: return io::GGUF_I8;
    case Dtype::Val::uint16: return io::GGUF_U16;
    case Dtype::Val::int16: return io::GGUF_I16;
    case Dtype::Val::uint32: return io::GGUF_U32;
    case Dtype::Val::int32: return io::GGUF_I32;
    case Dtype::Val::uint64: return io::GGUF_U64;
    case Dtype::Val::int64: return io::GGUF_I64;
    case Dtype::Val::float32: return io::GGUF_F32;
    case Dtype::Val::float64: return io::GGUF_F64;
    default:
      io::bad_file("save_gguf", file, "metadata '" + key + "' has dtype " + dtype_name(t) + ", which GGUF cannot hold");
  }
}

uint32_t ggml_tensor_type(Dtype t, const std::string& name, const std::string& file) {
  switch (t.val) {
    case Dtype::Val::float32: return io::GGML_F32;
    case Dtype::Val::float16: return io::GGML_F16;
    case Dtype::Val::bfloat16: return io::GGML_BF16;
    case Dtype::Val::float64: return io::GGML_F64;
    case Dtype::Val::int8: return io::GGML_I8;
    case Dtype::Val::int16: return io::GGML_I16;
    case Dtype::Val::int32: return io::GGML_I32;
    case Dtype::Val::int64: return io::GGML_I64;
    default:
      io::bad_file("save_gguf", file, "array '" + name + "' has dtype " + dtype_name(t) + ", which GGUF cannot hold");
  }
}

}  // namespace

namespace io {

GGUFLoad read_gguf(std::shared_ptr<const void> m, Bytes bytes, const std::string& file) {
  io::GgufFile g = io::parse_gguf(bytes, file);
  GGUFLoad out;
  for (auto& [k, v] : g.metadata) out.second.emplace(k, metadata_value(v));
  for (auto& t : g.tensors) {
    Shape shape = io::to_shape(t.shape);
    std::reverse(shape.begin(), shape.end());  // GGUF lists the innermost dimension first
    const uint8_t* data = bytes.data + t.offset;
    size_t nblocks = t.nbytes / io::ggml_block(t.ggml_type).second;
    if (is_plain(t.ggml_type)) {
      add_unique(out.first, t.name, io::view_bytes(m, data, shape, plain_dtype(t.ggml_type)), file);
    } else if (t.ggml_type == io::GGML_Q4_0 || t.ggml_type == io::GGML_Q4_1 || t.ggml_type == io::GGML_Q8_0) {
      int bits = t.ggml_type == io::GGML_Q8_0 ? 8 : 4;
      Shape wshape = shape, gshape = shape;
      wshape.back() = static_cast<int32_t>(int64_t{wshape.back()} * bits / 32);
      gshape.back() /= 32;
      array w = io::new_array(wshape, uint32), scales = io::new_array(gshape, float16),
            biases = io::new_array(gshape, float16);
      io::unpack_q_affine(t.ggml_type, data, static_cast<uint32_t*>(w.raw_data()),
                          static_cast<uint16_t*>(scales.raw_data()), static_cast<uint16_t*>(biases.raw_data()), nblocks);
      constexpr std::string_view suffix = ".weight";
      std::string prefix = t.name.size() > suffix.size() && t.name.ends_with(suffix)
                               ? t.name.substr(0, t.name.size() - suffix.size())
                               : t.name;
      add_unique(out.first, t.name, w, file);
      add_unique(out.first, prefix + ".scales", scales, file);
      add_unique(out.first, prefix + ".biases", biases, file);
    } else {
      array a = io::new_array(shape, float32);
      auto* y = static_cast<float*>(a.raw_data());
      if (t.ggml_type == io::GGML_Q4_K) io::dequantize_q4_k(data, y, nblocks);
      else if (t.ggml_type == io::GGML_Q5_K) io::dequantize_q5_k(data, y, nblocks);
      else io::dequantize_q6_k(data, y, nblocks);
      add_unique(out.first, t.name, a, file);
    }
  }
  return out;
}

void write_gguf(Sink& out, const ArrayMap& arrays, const std::unordered_map<std::string, GGUFMetaData>& metadata,
                const std::string& file) {
  std::map<std::string, const array*> tensors;
  for (auto& [name, a] : arrays) tensors.emplace(name, &a);
  std::map<std::string, const GGUFMetaData*> meta;
  for (auto& [k, v] : metadata) meta.emplace(k, &v);

  // Everything is checked and the header built before the file is opened.
  std::string header("GGUF", 4);
  put<uint32_t>(header, 3);
  put<uint64_t>(header, tensors.size());
  put<uint64_t>(header, meta.size());
  for (auto& [key, value] : meta) {
    put_string(header, key);
    if (auto* str = std::get_if<std::string>(value)) {
      put<uint32_t>(header, io::GGUF_STRING);
      put_string(header, *str);
    } else if (auto* strs = std::get_if<std::vector<std::string>>(value)) {
      put<uint32_t>(header, io::GGUF_ARRAY);
      put<uint32_t>(header, io::GGUF_STRING);
      put<uint64_t>(header, strs->size());
      for (auto& s : *strs) put_string(header, s);
    } else if (auto* arr = std::get_if<array>(value)) {
      if (arr->ndim() > 1)
        io::bad_file("save_gguf", file, "metadata '" + key + "' is a " + std::to_string(arr->ndim()) + "-d array (only 0-d and 1-d fit)");
      uint32_t type = gguf_value_type(arr->dtype(), key, file);
      if (arr->ndim() == 1) {
        put<uint32_t>(header, io::GGUF_ARRAY);
        put<uint32_t>(header, type);
        put<uint64_t>(header, arr->size());
      } else {
        put<uint32_t>(header, type);
      }
      array data = io::row_major(*arr);
      header.append(static_cast<const char*>(data.raw_data()), data.nbytes());
    } else {
      io::bad_file("save_gguf", file, "metadata '" + key + "' has no value");
    }
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (auto& [name, a] : tensors) {
    put_string(header, name);
    put<uint32_t>(header, static_cast<uint32_t>(a->ndim()));
    for (size_t i = a->ndim(); i-- > 0;) put<uint64_t>(header, a->shape()[i]);
    put<uint32_t>(header, ggml_tensor_type(a->dtype(), name, file));
    put<uint64_t>(header, offset);
    offsets.push_back(offset);
    offset = (offset + a->nbytes() + gguf_alignment - 1) / gguf_alignment * gguf_alignment;
  }
  header.append((gguf_alignment - header.size() % gguf_alignment) % gguf_alignment, '\0');

  out.write(header);
  const uint64_t data_start = header.size();
  size_t i = 0;
  for (auto& [name, a] : tensors) {
    std::string pad(data_start + offsets[i++] - out.written(), '\0');
    out.write(pad);
    array data = io::row_major(*a);
    out.write(data.raw_data(), data.nbytes());
  }
  out.write(std::string((gguf_alignment - out.written() % gguf_alignment) % gguf_alignment, '\0'));
}

}  // namespace io

GGUFLoad load_gguf(const std::string& file, StreamOrDevice s) {
  auto m = io::map_file(file, "load_gguf");
  return io::read_gguf(m, m->bytes(), file);
}

void save_gguf(const std::string& file_, const ArrayMap& arrays,
               const std::unordered_map<std::string, GGUFMetaData>& metadata) {
  std::string file = io::with_extension(file_, ".gguf");
  io::AtomicFile out(file, "save_gguf");
  io::write_gguf(out, arrays, metadata, file);
  out.commit();
}

}  // namespace lazuli
