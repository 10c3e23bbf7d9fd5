// GGUF: the header (metadata and tensor descriptions), checked against the file, and the
// decoding of the quantized blocks of GGML's types.
#include <algorithm>
#include <iterator>
#include <limits>
#include <set>

#include "lazuli/half.h"
#include "lazuli/io/formats.h"

namespace lazuli::io {

std::pair<uint32_t, uint32_t> ggml_block(uint32_t type) {
  switch (type) {
    case GGML_F32: return {1, 4};
    case GGML_F16: return {1, 2};
    case GGML_BF16: return {1, 2};
    case GGML_F64: return {1, 8};
    case GGML_I8: return {1, 1};
    case GGML_I16: return {1, 2};
    case GGML_I32: return {1, 4};
    case GGML_I64: return {1, 8};
    case GGML_Q4_0: return {32, 18};   // float16 d, 16 bytes of nibbles
    case GGML_Q4_1: return {32, 20};   // float16 d, float16 m, 16 bytes of nibbles
    case GGML_Q8_0: return {32, 34};   // float16 d, 32 int8
    case GGML_Q4_K: return {256, 144}; // d, dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles
    case GGML_Q5_K: return {256, 176}; // as Q4_K plus 32 bytes of fifth bits
    case GGML_Q6_K: return {256, 210}; // 128 low nibbles, 64 of high pairs, 16 int8 scales, d
    default: return {0, 0};
  }
}

const char* ggml_type_name(uint32_t type) {
  static const char* names[] = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
                                "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
                                "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64",
                                "IQ1_M", "BF16"};
  return type < std::size(names) ? names[type] : "unknown";
}

namespace {

Dtype gguf_number_dtype(uint32_t t) {
  switch (t) {
    case GGUF_U8: return uint8;
    case GGUF_I8: return int8;
    case GGUF_U16: return uint16;
    case GGUF_I16: return int16;
    case GGUF_U32: return uint32;
    case GGUF_I32: return int32;
    case GGUF_F32: return float32;
    case GGUF_BOOL: return bool_;
    case GGUF_U64: return uint64;
    case GGUF_I64: return int64;
    case GGUF_F64: return float64;
    default: return complex64;  // not a number type
  }
}

std::string read_string(Cursor& c, const char* what) {
  uint64_t len = c.read<uint64_t>(what);
  if (len > c.left())
    c.fail(std::string(what) + " claims " + std::to_string(len) + " bytes but only " + std::to_string(c.left()) +
           " remain");
  std::string s(reinterpret_cast<const char*>(c.take(len, what)), len);
  if (!valid_utf8(s)) c.fail(std::string(what) + " is not valid UTF-8");
  return s;
}

GgufValue read_value(Cursor& c, uint32_t type, const std::string& key) {
  GgufValue v;
  uint64_t count = 1;
  if (type == GGUF_ARRAY) {
    type = c.read<uint32_t>("an array's element type");
    count = c.read<uint64_t>("an array's length");
    v.is_array = true;
    if (type == GGUF_ARRAY) c.fail("metadata '" + key + "' is a nested array (not supported)");
  }
  if (type == GGUF_STRING) {
    if (count > c.left() / 8) c.fail("metadata '" + key + "' claims " + std::to_string(count) + " strings, more than the file holds");
    v.is_string = true;
    v.strings.reserve(count);
    for (uint64_t i = 0; i < count; ++i) v.strings.push_back(read_string(c, "a metadata string"));
    v.count = count;
    return v;
  }
  Dtype dt = gguf_number_dtype(type);
  if (dt.val == complex64.val) c.fail("metadata '" + key + "' has unknown value type " + std::to_string(type));
  if (count > c.left() / dt.size) c.fail("metadata '" + key + "' claims " + std::to_string(count) + " values, more than the file holds");
  v.dtype = dt;
  v.count = count;
  const uint8_t* p = c.take(count * dt.size, "metadata values");
  v.bytes.assign(p, p + count * dt.size);
  return v;
}

}  // namespace

GgufFile parse_gguf(Bytes b, const std::string& file) {
  Cursor c(b, "load_gguf", file);
  if (std::memcmp(c.take(4, "the magic"), "GGUF", 4) != 0) c.fail("not a GGUF file (bad magic)");
  uint32_t version = c.read<uint32_t>("the version");
  if (version != 2 && version != 3) c.fail("unsupported GGUF version " + std::to_string(version));
  uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  uint64_t n_kv = c.read<uint64_t>("the metadata count");
  if (n_kv > c.left() / 13) c.fail("the metadata count " + std::to_string(n_kv) + " is more than the file holds");
  if (n_tensors > c.left() / 24) c.fail("the tensor count " + std::to_string(n_tensors) + " is more than the file holds");

  GgufFile g;
  std::set<std::string> keys;
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(c, "a metadata key");
    if (!keys.insert(key).second) c.fail("duplicate metadata key '" + key + "'");
    uint32_t type = c.read<uint32_t>("a metadata type");
    GgufValue v = read_value(c, type, key);
    if (key == "general.alignment") {
      if (v.is_array || v.is_string || v.dtype.val != uint32.val) c.fail("general.alignment is not a uint32");
      uint32_t a;
      std::memcpy(&a, v.bytes.data(), 4);
      if (a == 0 || (a & (a - 1)) != 0) c.fail("general.alignment " + std::to_string(a) + " is not a power of two");
      alignment = a;
    }
    g.metadata.emplace_back(std::move(key), std::move(v));
  }

  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = read_string(c, "a tensor name");
    if (!names.insert(t.name).second) c.fail("duplicate tensor name '" + t.name + "'");
    uint32_t ndim = c.read<uint32_t>("a tensor's dimension count");
    if (ndim > 8) c.fail("tensor '" + t.name + "' has " + std::to_string(ndim) + " dimensions (at most 8 are supported)");
    for (uint32_t d = 0; d < ndim; ++d) t.shape.push_back(c.read<uint64_t>("a tensor's dimensions"));
    t.ggml_type = c.read<uint32_t>("a tensor's type");
    t.offset = c.read<uint64_t>("a tensor's offset");
    g.tensors.push_back(std::move(t));
  }
  uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  if (!g.tensors.empty() && data_start > b.size) c.fail("truncated: the tensor data are missing");
  uint64_t data_size = data_start <= b.size ? b.size - data_start : 0;

  for (auto& t : g.tensors) {
    auto [block, block_bytes] = ggml_block(t.ggml_type);
    if (!block)
      c.fail("tensor '" + t.name + "' has unsupported type " + ggml_type_name(t.ggml_type) + " (" +
             std::to_string(t.ggml_type) + ")");
    uint64_t row = t.shape.empty() ? 1 : t.shape[0];  // 0-d: one element
    if (row % block != 0)
      c.fail("tensor '" + t.name + "' of type " + ggml_type_name(t.ggml_type) + " has a row of " +
             std::to_string(row) + " elements, not a multiple of its block of " + std::to_string(block));
    checked_nbytes(t.shape, 1, std::numeric_limits<uint64_t>::max(), c, t.name);  // dims fit int32
    std::vector<uint64_t> blocks = t.shape;
    if (!blocks.empty()) blocks[0] /= block;
    t.nbytes = checked_nbytes(blocks, block_bytes, data_size, c, t.name);
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      c.fail("tensor '" + t.name + "' at offset " + std::to_string(t.offset) + " with " + std::to_string(t.nbytes) +
             " bytes runs past the end of the data (" + std::to_string(data_size) + " bytes)");
    t.offset += data_start;
  }
  std::vector<const TensorInfo*> by_offset;
  for (auto& t : g.tensors)
    if (t.nbytes) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->nbytes)
      c.fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  return g;
}

// ---- block decoding ----------------------------------------------------------------------

namespace {
float half_at(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return float16_t::to_float(bits);
}
// The 6-bit scale and min of sub-block j of a Q4_K / Q5_K block, packed in 12 bytes.
void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
}  // namespace

void dequantize_q4_k(const uint8_t* src, float* y, size_t nblocks) {
  for (size_t b = 0; b < nblocks; ++b, src += 144) {
    float d = half_at(src), dmin = half_at(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (int j = 0; j < 4; ++j, q += 32) {  // 64 elements: low nibbles, then high nibbles
      uint8_t sc, m;
      scale_min_k4(2 * j, scales, sc, m);
      float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(2 * j + 1, scales, sc, m);
      float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const uint8_t* src, float* y, size_t nblocks) {
  for (size_t b = 0; b < nblocks; ++b, src += 176) {
    float d = half_at(src), dmin = half_at(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* ql = src + 48;
    for (int j = 0; j < 4; ++j, ql += 32) {  // the fifth bits of sub-blocks 2j, 2j+1 are bits 2j, 2j+1 of qh
      uint8_t sc, m;
      scale_min_k4(2 * j, scales, sc, m);
      float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(2 * j + 1, scales, sc, m);
      float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] >> (2 * j)) & 1) * 16) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] >> (2 * j + 1)) & 1) * 16) - m2;
    }
  }
}

void dequantize_q6_k(const uint8_t* src, float* y, size_t nblocks) {
  for (size_t b = 0; b < nblocks; ++b, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    float d = half_at(src + 208);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      for (int l = 0; l < 32; ++l) {
        int is = l / 16;
        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void unpack_q_affine(uint32_t type, const uint8_t* src, uint32_t* words, uint16_t* scales, uint16_t* biases,
                     size_t nblocks) {
  auto bits_of = [](float f) { return float16_t(f).bits; };
  for (size_t b = 0; b < nblocks; ++b) {
    uint16_t d_bits;
    std::memcpy(&d_bits, src, 2);
    float d = float16_t::to_float(d_bits);
    scales[b] = d_bits;
    if (type == GGML_Q8_0) {
      // value = q * d with q int8; as uint8 q + 128: value = u * d - 128 d.
      biases[b] = bits_of(-128.0f * d);
      uint8_t u[32];
      for (int i = 0; i < 32; ++i) u[i] = src[2 + i] ^ 0x80;
      std::memcpy(words + b * 8, u, 32);  // 4 elements per little-endian word, in order
      src += 34;
    } else {
      // Q4_0: value = (q - 8) d; Q4_1: value = q d + m. Byte j holds elements j (low
      // nibble) and j + 16 (high nibble); the affine layout wants element i at nibble i.
      const uint8_t* qs = src + (type == GGML_Q4_1 ? 4 : 2);
      if (type == GGML_Q4_1) std::memcpy(&biases[b], src + 2, 2);
      else biases[b] = bits_of(-8.0f * d);
      uint8_t packed[16];
      for (int i = 0; i < 16; i += 2) {
        packed[i / 2] = (qs[i] & 0xF) | ((qs[i + 1] & 0xF) << 4);
        packed[8 + i / 2] = (qs[i] >> 4) | ((qs[i + 1] >> 4) << 4);
      }
      std::memcpy(words + b * 4, packed, 16);
      src += type == GGML_Q4_1 ? 20 : 18;
    }
  }
}

}  // namespace lazuli::io
