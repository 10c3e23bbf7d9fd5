// The transform checker's case type, shared by the test files: each primitive family may
// add its cases with LAZULI_CHECKER_CASES in its own test file, and transforms_test.cpp
// runs them all (finite differences, dot-product test, vmap against a loop).
#pragma once
#include <functional>
#include <map>
#include <string>

#include "lazuli/transforms.h"
#include "test_util.h"

namespace lazuli::test {

// Deterministic pseudo-random values in [lo, hi).
inline array filled(const Shape& shape, double lo, double hi, int seed) {
  size_t n = shape_size(shape);
  std::vector<double> v(n);
  uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (auto& x : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = lo + (hi - lo) * double(s % 1000003) / 1000003.0;
  }
  return array(v.begin(), shape, float64);
}

inline double dot(const array& a, const array& b) {
  return sum(multiply(astype(a, float64), astype(b, float64))).item<double>();
}

struct Case {
  std::vector<Shape> shapes;
  double lo = -2, hi = 2;       // input range (the op's domain)
  Fn fun;
  bool differentiable = true;
  bool transposed = false;      // feed the first input as a transposed (non-contiguous) view
  std::vector<int> in_axes = {};  // for the vmap check; default maps every input on axis 0
  bool single_precision = false;  // goes through float32/complex64: coarser finite differences
};

inline Fn unary_fn(std::function<array(const array&)> f) {
  return [f](const std::vector<array>& x) { return std::vector<array>{f(x[0])}; };
}
inline Fn binary_fn(std::function<array(const array&, const array&)> f) {
  return [f](const std::vector<array>& x) { return std::vector<array>{f(x[0], x[1])}; };
}

// Cases added by other test files, by primitive name.
inline std::multimap<std::string, Case>& extra_cases() {
  static std::multimap<std::string, Case> cases;
  return cases;
}

}  // namespace lazuli::test

// LAZULI_CHECKER_CASES(tag) { add("Name", Case{...}); ... } in a test file registers cases.
#define LAZULI_CHECKER_CASES(tag)                                                              \
  static void tag##_checker_cases(const std::function<void(const std::string&, lazuli::test::Case)>& add); \
  static const bool tag##_registered = [] {                                                    \
    tag##_checker_cases([](const std::string& n, lazuli::test::Case c) {                       \
      lazuli::test::extra_cases().insert({n, std::move(c)});                                   \
    });                                                                                        \
    return true;                                                                               \
  }();                                                                                         \
  static void tag##_checker_cases(const std::function<void(const std::string&, lazuli::test::Case)>& add)
