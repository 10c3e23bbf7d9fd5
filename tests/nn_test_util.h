// Helpers shared by the C++ nn tests (modules, layers, optimizer classes).
#pragma once
#include <string>
#include <vector>

#include "test_util.h"

namespace lazuli::test {

// The dotted names of a parameter map, in order.
inline std::vector<std::string> keys(const nn::Params& params) {
  std::vector<std::string> out;
  for (auto& [name, value] : params) out.push_back(name);
  return out;
}

// Expects a and b to have the same shape and values within tol (absolute).
inline void expect_close(const array& a, const array& b, double tol = 1e-5) {
  ASSERT_EQ(a.shape(), b.shape());
  auto got = to_vector<double>(a), want = to_vector<double>(b);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

// Standard normal float32 data of `shape`, reproducible from `seed`.
inline array data(const Shape& shape, uint64_t seed = 1) {
  return random::normal(shape, float32, 0.0, 1.0, random::key(seed));
}

}  // namespace lazuli::test
