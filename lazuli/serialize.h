// Binary writing and bounds-checked reading of primitive parameters and exported graphs
// (lazuli/export.h). Little-endian fixed-width fields. Every read checks what is left, so a
// truncated or hostile file raises std::invalid_argument instead of reading past the end
// or allocating a size it claims.
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lazuli/array.h"

namespace lazuli {

class Primitive;

class Writer {
 public:
  void u8(uint8_t v) { put(&v, 1); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void u32(uint32_t v) { put(&v, 4); }
  void i32(int32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void i64(int64_t v) { put(&v, 8); }
  void f64(double v) { put(&v, 8); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    put(s.data(), s.size());
  }
  void ints(const std::vector<int32_t>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (auto x : v) i32(x);
  }
  void ints64(const std::vector<int64_t>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (auto x : v) i64(x);
  }
  void dtype(Dtype t) { u8(static_cast<uint8_t>(t.val)); }
  template <typename E>
  void enumeration(E e) {
    u8(static_cast<uint8_t>(e));
  }
  void put(const void* p, size_t n) {
    bytes_.append(static_cast<const char*>(p), n);
  }
  const std::string& bytes() const { return bytes_; }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

class Reader {
 public:
  // `what` names the file or part being read, for error messages.
  Reader(const char* data, size_t size, std::string what) : p_(data), end_(data + size), what_(std::move(what)) {}

  uint8_t u8() { return get<uint8_t>(); }
  bool boolean();
  uint32_t u32() { return get<uint32_t>(); }
  int32_t i32() { return get<int32_t>(); }
  uint64_t u64() { return get<uint64_t>(); }
  int64_t i64() { return get<int64_t>(); }
  double f64() { return get<double>(); }
  std::string str();
  std::vector<int32_t> ints();
  std::vector<int64_t> ints64();
  // A shape: at most 64 non-negative dimensions whose product fits in int64.
  Shape shape();
  Dtype dtype();
  // An enum stored as u8, checked to be below `count` (the number of enumerators).
  template <typename E>
  E enumeration(int count) {
    uint8_t v = u8();
    if (v >= count) fail("an enum value " + std::to_string(v) + " out of range (" + std::to_string(count) + " values)");
    return static_cast<E>(v);
  }
  // An axis in [0, ndim); ndim is the rank of the primitive's first input when known.
  int axis(int ndim);
  std::vector<int> axes(int ndim);
  const char* take(size_t n);  // n raw bytes
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }
  [[noreturn]] void fail(const std::string& msg) const;

  // The input shapes of the node whose parameters are being read, for range checks.
  std::vector<Shape> input_shapes;
  std::vector<Dtype> input_dtypes;
  // The node's recorded output dtypes. Kernels trust them (they write the type their inputs
  // imply), so every reader checks them against its inputs.
  std::vector<Dtype> output_dtypes;
  Dtype in_dtype(size_t input) const;
  void expect_input(size_t input, Dtype t);
  void expect_integer_input(size_t input);
  void expect_output(size_t output, Dtype t);
  // Inputs [first, last) (last = -1: all) share input `first`'s dtype.
  void same_input_dtypes(size_t first = 0, long last = -1);
  // Every output has input `input`'s dtype.
  void outputs_like(size_t input);
  // A shape-and-dtype stand-in for input i (no data), for checks written against arrays.
  array placeholder(size_t input) const;
  int rank(size_t input = 0) const;
  const Shape& input_shape(size_t input) const;
  // Checks the node has between lo and hi inputs (its primitive's arity).
  void arity(size_t lo, size_t hi);
  void arity(size_t n) { arity(n, n); }

 private:
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  const char* p_;
  const char* end_;
  std::string what_;
};

// Rebuilds a primitive of one class from its parameters (what its write() wrote).
using PrimitiveReader = std::function<std::shared_ptr<Primitive>(Stream, Reader&)>;

namespace detail {
bool register_reader(const char* class_name, PrimitiveReader reader);
}  // namespace detail
// The reader registered for a primitive class, or nullptr.
const PrimitiveReader* find_primitive_reader(const std::string& class_name);

// In a primitive's .cpp, next to its other members:
//   LAZULI_PRIMITIVE_READER(Name) { return std::make_shared<Name>(s, r.i32()); }
// defines the reader of class Name (the body sees `Stream s` and `Reader& r`).
#define LAZULI_PRIMITIVE_READER(Name)                                                          \
  static std::shared_ptr<::lazuli::Primitive> lazuli_read_##Name(::lazuli::Stream s, ::lazuli::Reader& r); \
  [[maybe_unused]] static const bool lazuli_reader_registered_##Name =                       \
      ::lazuli::detail::register_reader(#Name, lazuli_read_##Name);                            \
  static std::shared_ptr<::lazuli::Primitive> lazuli_read_##Name([[maybe_unused]] ::lazuli::Stream s, \
                                                                 [[maybe_unused]] ::lazuli::Reader& r)

}  // namespace lazuli
