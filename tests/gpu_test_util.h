// Shared by the GPU test files (tests/gpu_*test.cpp, binary lazuli_gpu_tests, suite Gpu):
// the fixture that skips without a GPU, test values per dtype, and the comparison of a
// graph run on the GPU against the same graph on the CPU.
#pragma once
#include <cmath>
#include <complex>
#include <functional>
#include <optional>

#include "lazuli/random.h"
#include "test_util.h"

namespace lazuli::gpu_test {

inline const Device kGpu{Device::gpu};
inline const Device kCpu{Device::cpu};

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device_count(Device::gpu) == 0) GTEST_SKIP() << "no GPU on this machine";
  }
};

// Relative tolerance of results that went through the dtype's rounding once or twice.
inline double tolerance(Dtype t) {
  if (t == float16) return 2e-3;
  if (t == bfloat16) return 1.6e-2;
  if (t == float32 || t == complex64) return 2e-5;
  if (t == float64) return 1e-12;
  return 0;  // integers and bools are exact
}

// Same dtype and shape, and the same values: NaN where NaN, equal infinities, finite
// values within the dtype's tolerance (exact for integers).
// `scale`: per element, what the tolerance is relative to (default: the value itself).
inline void expect_same(const array& cpu, const array& gpu, const std::string& what,
                        const std::vector<double>& scale = {}) {
  ASSERT_EQ(cpu.dtype(), gpu.dtype()) << what;
  ASSERT_EQ(cpu.shape(), gpu.shape()) << what;
  if (cpu.dtype() == complex64) {  // each part on its own, relative to the magnitude
    auto magnitude = test::to_vector<double>(abs(cpu, kCpu));
    expect_same(real(cpu, kCpu), real(gpu, kCpu), what + " (real part)", magnitude);
    expect_same(imag(cpu, kCpu), imag(gpu, kCpu), what + " (imaginary part)", magnitude);
    return;
  }
  double rtol = tolerance(cpu.dtype());
  auto c = test::to_vector<double>(cpu), g = test::to_vector<double>(gpu);
  for (size_t i = 0; i < c.size(); ++i) {
    double size = std::max(1.0, scale.empty() ? std::fabs(c[i]) : scale[i]);
    if (std::isnan(c[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " at " << i << ": gpu " << g[i] << ", cpu nan";
    } else if (std::isinf(c[i]) || rtol == 0) {
      EXPECT_EQ(g[i], c[i]) << what << " at " << i;
    } else {
      EXPECT_NEAR(g[i], c[i], rtol * size) << what << " at " << i;
    }
  }
}

// Test values of each dtype: small integers (with negatives where signed), signed floats.
inline array sample(const Shape& shape, Dtype t, uint64_t seed) {
  if (t == bool_) return astype(random::randint(0, 2, shape, int32, random::key(seed)), bool_);
  if (is_integral(t)) return astype(random::randint(is_unsigned(t) ? 0 : -20, 20, shape, int32, random::key(seed)), t);
  array x = random::normal(shape, float32, 0.0, 2.0, random::key(seed));
  if (t == complex64) return astype(add(x, multiply(array(std::complex<float>(0, 1)), x)), t);
  return astype(x, t);
}
// Positive, small divisors and shift counts for the integer binary ops.
inline array sample_rhs(const Shape& shape, Dtype t, uint64_t seed) {
  if (is_integral(t) && t != bool_) return astype(random::randint(1, 6, shape, int32, random::key(seed)), t);
  return sample(shape, t, seed);
}

inline const std::vector<Dtype> kDtypes = {bool_, uint8, uint32, int8, int32, int64, float16, bfloat16, float32, float64};

// Runs f on the CPU and on the GPU; both throw (an unsupported dtype) or both agree.
template <typename F>
void compare(F&& f, const std::string& what) {
  std::optional<array> cpu;
  try {
    cpu = f(kCpu);
    cpu->eval();
  } catch (const std::invalid_argument&) {
    EXPECT_THROW(f(kGpu).eval(), std::invalid_argument) << what;
    return;
  }
  array gpu = f(kGpu);
  gpu.eval();
  expect_same(*cpu, gpu, what);
}

}  // namespace lazuli::gpu_test
