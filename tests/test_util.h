// Tiny helpers shared by the tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"

namespace lazuli::test {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// The elements of `a` in row-major order, converted to T (works for any layout).
template <typename T>
std::vector<T> to_vector(const array& a) {
  array c = contiguous(astype(a, dtype_of<T>));
  c.eval();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.size());
}

// Checks every element of `a` (read as float64) against `expected`: NaN must be NaN,
// infinities must match exactly, finite values within `tol` (absolute).
inline void expect_values(const array& a, const std::vector<double>& expected, double tol = 0.0) {
  auto got = to_vector<double>(a);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i << ": got " << got[i] << ", expected nan";
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(got[i], expected[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], expected[i], tol) << "at " << i;
    }
  }
}

// Runs `f`, expects it to throw E, and returns what() (empty, with a failure, otherwise).
template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Expects building and evaluating f() to throw std::invalid_argument naming [op].
inline void expect_throws_naming(const std::function<array()>& f, const std::string& op) {
  try {
    array out = f();
    out.eval();
    ADD_FAILURE() << "expected std::invalid_argument naming [" << op << "]";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[" + op + "]"), std::string::npos) << e.what();
  }
}

}  // namespace lazuli::test
