// Tiny helpers shared by the tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "lazuli/lazuli.h"

namespace lazuli::test {

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

}  // namespace lazuli::test
