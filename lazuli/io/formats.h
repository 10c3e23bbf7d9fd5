// The parsers of the file formats, apart from arrays: each turns bytes into a description
// of what they hold (dtypes, shapes, byte ranges), checking every length and offset
// against the bytes actually there. They depend on nothing but the standard library and
// zlib, so the fuzz targets (fuzz/) build them alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lazuli/dtype.h"

namespace lazuli::io {

// Raises std::invalid_argument("[<format>] <file>: <problem>").
[[noreturn]] void bad_file(const std::string& format, const std::string& file, const std::string& problem);

bool valid_utf8(const std::string& s);

struct Bytes {
  const uint8_t* data;
  size_t size;
};

// A bounds-checked cursor: every read past the end names the format, the file and what
// was being read.
class Cursor {
 public:
  Cursor(Bytes b, std::string format, std::string file) : b_(b), format_(std::move(format)), file_(std::move(file)) {}
  size_t pos() const { return pos_; }
  size_t left() const { return b_.size - pos_; }
  void seek(size_t p, const char* what);
  const uint8_t* take(size_t n, const char* what);
  template <typename T>
  T read(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));  // little-endian hosts only
    return v;
  }
  [[noreturn]] void fail(const std::string& problem) const { bad_file(format_, file_, problem); }

 private:
  Bytes b_;
  size_t pos_ = 0;
  std::string format_, file_;
};

// Element count of `shape` where each dim fits in int32 and the byte count in `limit`;
// otherwise fail() through `c`.
uint64_t checked_nbytes(const std::vector<uint64_t>& dims, uint64_t itemsize, uint64_t limit, const Cursor& c,
                        const std::string& tensor);

// ---- JSON (safetensors headers, Hugging Face index files) ------------------------------
struct JsonMember;
struct Json {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  bool boolean = false;
  std::string text;  // a string's value, or a number's text as written
  std::vector<Json> items;
  std::vector<JsonMember> members;  // in file order, keys unique
  const Json* find(const std::string& key) const;
};
struct JsonMember {
  std::string first;
  Json second;
};
Json parse_json(Bytes b, const std::string& format, const std::string& file);
std::string json_quote(const std::string& s);

// ---- .npy ---------------------------------------------------------------------------------
struct NpyHeader {
  Dtype dtype = float32;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  size_t data_offset = 0;
  uint64_t nbytes = 0;
};
// Parses the header and checks that the data follow it in full.
NpyHeader parse_npy(Bytes b, const std::string& file);
std::string npy_header(Dtype dtype, const std::vector<uint64_t>& shape);  // magic to '\n'

// ---- .npz (zip) -----------------------------------------------------------------------------
struct ZipEntry {
  std::string name;
  uint16_t method;  // 0 stored, 8 deflated
  uint32_t crc;
  uint64_t compressed_size, size;
  uint64_t data_offset;  // of the member's bytes in the archive
};
std::vector<ZipEntry> parse_zip(Bytes b, const std::string& file);
// A member's bytes: stored ones are viewed in place (`out` untouched), deflated ones are
// inflated into `out`. The CRC is checked either way.
Bytes zip_member(Bytes archive, const ZipEntry& e, std::vector<uint8_t>& out, const std::string& file);

// ---- safetensors --------------------------------------------------------------------------
struct TensorInfo {
  std::string name;
  Dtype dtype = float32;
  std::vector<uint64_t> shape;  // as in the file
  uint64_t offset = 0, nbytes = 0;  // absolute, in the file
  uint32_t ggml_type = 0;  // GGUF only
};
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;
};
SafetensorsHeader parse_safetensors(Bytes b, const std::string& file);
const char* safetensors_dtype_name(Dtype t);

// ---- GGUF -------------------------------------------------------------------------------
enum GgmlType : uint32_t {
  GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q8_0 = 8, GGML_Q4_K = 12,
  GGML_Q5_K = 13, GGML_Q6_K = 14, GGML_I8 = 24, GGML_I16 = 25, GGML_I32 = 26, GGML_I64 = 27,
  GGML_F64 = 28, GGML_BF16 = 30,
};
enum GgufValueType : uint32_t {
  GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
  GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
};
struct GgufValue {
  // Numbers: `dtype` and their little-endian bytes (`count` of them; `is_array` tells a
  // one-element array from a scalar). Strings: `strings`.
  bool is_string = false, is_array = false;
  Dtype dtype = uint8;
  uint64_t count = 0;
  std::vector<uint8_t> bytes;
  std::vector<std::string> strings;
};
struct GgufFile {
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<TensorInfo> tensors;  // shape in GGUF order (innermost first)
};
GgufFile parse_gguf(Bytes b, const std::string& file);
// Block size in elements and bytes of a GGML type (0, 0 when unsupported).
std::pair<uint32_t, uint32_t> ggml_block(uint32_t type);
const char* ggml_type_name(uint32_t type);
// Dequantization of `nblocks` blocks of a k-quant into float32.
void dequantize_q4_k(const uint8_t* src, float* dst, size_t nblocks);
void dequantize_q5_k(const uint8_t* src, float* dst, size_t nblocks);
void dequantize_q6_k(const uint8_t* src, float* dst, size_t nblocks);
// Q4_0, Q4_1, Q8_0 blocks of 32 into the affine layout: packed words (4 or 8 bits per
// element, element i of a group at bit (i*bits)%32 of word i*bits/32), and one float16
// scale and bias per block, as raw float16 bits.
void unpack_q_affine(uint32_t type, const uint8_t* src, uint32_t* words, uint16_t* scales, uint16_t* biases,
                     size_t nblocks);

}  // namespace lazuli::io
