#include "lazuli/serialize.h"

#include <map>
#include <stdexcept>

namespace lazuli {

void Reader::fail(const std::string& msg) const {
  throw std::invalid_argument("[import_function] " + what_ + ": " + msg + ".");
}

const char* Reader::take(size_t n) {
  if (n > left())
    fail("it ends early (" + std::to_string(n) + " bytes needed, " + std::to_string(left()) + " left)");
  const char* p = p_;
  p_ += n;
  return p;
}

bool Reader::boolean() {
  uint8_t v = u8();
  if (v > 1) fail("a boolean field holds " + std::to_string(v));
  return v == 1;
}

std::string Reader::str() {
  uint32_t n = u32();
  return std::string(take(n), n);  // take checks n against what is left before allocating
}

std::vector<int32_t> Reader::ints() {
  uint32_t n = u32();
  if (uint64_t(n) * 4 > left()) fail("a list of " + std::to_string(n) + " ints is longer than the rest of the data");
  std::vector<int32_t> v(n);
  for (auto& x : v) x = i32();
  return v;
}

std::vector<int64_t> Reader::ints64() {
  uint32_t n = u32();
  if (uint64_t(n) * 8 > left()) fail("a list of " + std::to_string(n) + " ints is longer than the rest of the data");
  std::vector<int64_t> v(n);
  for (auto& x : v) x = i64();
  return v;
}

Shape Reader::shape() {
  Shape s = ints();
  if (s.size() > 64) fail("a shape has " + std::to_string(s.size()) + " dimensions");
  int64_t size = 1;
  for (auto d : s) {
    if (d < 0) fail("a shape has the negative dimension " + std::to_string(d));
    if (d > 0 && size > INT64_MAX / d) fail("a shape's size overflows");
    size *= d;
  }
  return s;
}

Dtype Reader::dtype() {
  uint8_t v = u8();
  if (v >= num_dtypes) fail("unknown dtype code " + std::to_string(v));
  return dtype_from_index(v);
}

int Reader::rank(size_t input) const {
  if (input >= input_shapes.size()) fail("a primitive reads input " + std::to_string(input) + " it does not have");
  return static_cast<int>(input_shapes[input].size());
}

const Shape& Reader::input_shape(size_t input) const {
  rank(input);
  return input_shapes[input];
}

array Reader::placeholder(size_t input) const {
  return array(input_shape(input), input_dtypes.at(input), nullptr, {});
}

Dtype Reader::in_dtype(size_t input) const {
  rank(input);
  if (input >= input_dtypes.size()) fail("a primitive reads the dtype of a missing input");
  return input_dtypes[input];
}
void Reader::expect_input(size_t input, Dtype t) {
  if (in_dtype(input) != t)
    fail("input " + std::to_string(input) + " is " + dtype_name(in_dtype(input)) + ", not " + dtype_name(t));
}
void Reader::expect_integer_input(size_t input) {
  Dtype t = in_dtype(input);
  if (!is_integral(t) || t == bool_) fail("input " + std::to_string(input) + " (indices) is " + dtype_name(t));
}
void Reader::expect_output(size_t output, Dtype t) {
  if (output >= output_dtypes.size()) fail("a primitive's output " + std::to_string(output) + " is missing");
  if (output_dtypes[output] != t)
    fail("output " + std::to_string(output) + " is recorded as " + dtype_name(output_dtypes[output]) +
         " where the primitive makes " + dtype_name(t));
}
void Reader::same_input_dtypes(size_t first, long last) {
  size_t end = last < 0 ? input_dtypes.size() : size_t(last);
  for (size_t i = first + 1; i < end; ++i) expect_input(i, in_dtype(first));
}
void Reader::outputs_like(size_t input) {
  for (size_t i = 0; i < output_dtypes.size(); ++i) expect_output(i, in_dtype(input));
}

void Reader::arity(size_t lo, size_t hi) {
  size_t n = input_shapes.size();
  if (n < lo || n > hi)
    fail("a primitive of " + std::to_string(lo) + (hi != lo ? " to " + std::to_string(hi) : std::string()) +
         " inputs has " + std::to_string(n));
}

int Reader::axis(int ndim) {
  int32_t a = i32();
  if (a < 0 || a >= ndim) fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(ndim));
  return a;
}

std::vector<int> Reader::axes(int ndim) {
  auto v = ints();
  for (auto a : v)
    if (a < 0 || a >= ndim) fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(ndim));
  return v;
}

namespace {
std::map<std::string, PrimitiveReader>& readers() {
  static std::map<std::string, PrimitiveReader> table;
  return table;
}
}  // namespace

bool detail::register_reader(const char* class_name, PrimitiveReader reader) {
  readers()[class_name] = std::move(reader);
  return true;
}

const PrimitiveReader* find_primitive_reader(const std::string& class_name) {
  auto it = readers().find(class_name);
  return it == readers().end() ? nullptr : &it->second;
}

}  // namespace lazuli
