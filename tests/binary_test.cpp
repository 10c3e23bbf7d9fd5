// Binary elementwise ops: values (Python/NumPy semantics for integer division, remainder,
// shifts and powers), special values, dtype promotion, weakly typed C++ scalars,
// broadcasting, non-contiguous inputs and shape errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

// Python's floor division and modulo on integers.
int64_t py_floordiv(int64_t a, int64_t b) {
  if (b == 0) return 0;
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t py_mod(int64_t a, int64_t b) {
  if (b == 0) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

std::vector<float> pseudo_random(size_t n, float lo, float hi, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * float(s >> 8) / float(1 << 24);
  }
  return v;
}

}  // namespace

TEST(BinaryArith, Float32MatchesCorrectlyRoundedReference) {
  const int n = 5000;
  auto av = pseudo_random(n, -1000.f, 1000.f, 1), bv = pseudo_random(n, -10.f, 10.f, 2);
  array a(av.begin(), Shape{n}), b(bv.begin(), Shape{n});
  auto s = to_vector<float>(add(a, b)), d = to_vector<float>(subtract(a, b));
  auto m = to_vector<float>(multiply(a, b)), q = to_vector<float>(divide(a, b));
  for (int i = 0; i < n; ++i) {
    // Sums, differences, products and quotients of two floats round exactly once.
    ASSERT_EQ(s[i], float(double(av[i]) + double(bv[i])));
    ASSERT_EQ(d[i], float(double(av[i]) - double(bv[i])));
    ASSERT_EQ(m[i], float(double(av[i]) * double(bv[i])));
    ASSERT_EQ(q[i], float(double(av[i]) / double(bv[i])));
  }
  EXPECT_EQ(add(a, b).dtype(), float32);
}

TEST(BinaryArith, AllDtypes) {
  for (int k = 0; k < num_dtypes; ++k) {
    Dtype dt = dtype_from_index(k);
    SCOPED_TRACE(dtype_name(dt));
    if (dt == bool_) continue;
    array a = array({1, 2, 3, 4}, dt), b = array({4, 3, 2, 1}, dt);
    EXPECT_EQ(add(a, b).dtype(), dt);
    expect_values(add(a, b), {5, 5, 5, 5});
    expect_values(multiply(a, b), {4, 6, 6, 4});
    expect_values(a + b, {5, 5, 5, 5});
    if (is_unsigned(dt)) {
      expect_values(subtract(b, array({1, 2, 2, 1}, dt)), {3, 1, 0, 0});
    } else {
      expect_values(subtract(b, a), {3, 1, -1, -3});
      expect_values(b - a, {3, 1, -1, -3});
    }
    expect_values(a * b, {4, 6, 6, 4});
    if (!is_complex(dt)) {
      expect_values(maximum(a, b), {4, 3, 3, 4});
      expect_values(minimum(a, b), {1, 2, 2, 1});
      expect_values(floor_divide(b, a), {4, 1, 0, 0});
      expect_values(remainder(b, a), {0, 1, 2, 1});
      expect_values(less(a, b), {1, 1, 0, 0});
      expect_values(greater_equal(a, b), {0, 0, 1, 1});
    }
    expect_values(power(a, array({2, 0, 1, 3}, dt)), {1, 1, 3, 64}, is_complex(dt) ? 1e-4 : 0.0);
    expect_values(equal(a, b), {0, 0, 0, 0});
    expect_values(not_equal(a, array({1, 0, 3, 0}, dt)), {0, 1, 0, 1});
    Dtype div_t = is_integral(dt) ? float32 : dt;
    EXPECT_EQ(divide(a, b).dtype(), div_t);
    expect_values(divide(a, b), {0.25, 2.0 / 3.0, 1.5, 4}, dt == float16 || dt == bfloat16 ? 1e-2 : 1e-6);
  }
}

TEST(BinaryArith, IntegerWrapping) {
  expect_values(add(array({int8_t(127)}), array({int8_t(1)})), {-128});
  expect_values(subtract(array({uint8_t(0)}), array({uint8_t(1)})), {255});
  expect_values(multiply(array({int16_t(300)}), array({int16_t(300)})), {double(int16_t(90000 - 65536 * 1))});
  expect_values(add(array({std::numeric_limits<int32_t>::max()}), array({1})), {double(std::numeric_limits<int32_t>::min())});
  auto big = to_vector<int64_t>(add(array({std::numeric_limits<int64_t>::max()}), array({int64_t(1)})));
  EXPECT_EQ(big[0], std::numeric_limits<int64_t>::min());
  auto u64 = to_vector<uint64_t>(multiply(array({uint64_t(1) << 63}), array({uint64_t(2)})));
  EXPECT_EQ(u64[0], 0u);
}

TEST(BinaryArith, BoolArithmetic) {
  array t = array({true, true, false, false}), f = array({true, false, true, false});
  EXPECT_EQ(add(t, f).dtype(), bool_);
  expect_values(add(t, f), {1, 1, 1, 0});  // logical or, as NumPy
  expect_values(multiply(t, f), {1, 0, 0, 0});
  // As MLX: in bool, each the arithmetic result cast to bool; floor_divide gives the dividend.
  EXPECT_EQ(subtract(t, f).dtype(), bool_);
  expect_values(subtract(t, f), {0, 1, 1, 0});
  EXPECT_EQ(power(t, f).dtype(), bool_);
  expect_values(power(t, f), {1, 1, 0, 1});
  EXPECT_EQ(floor_divide(t, f).dtype(), bool_);
  expect_values(floor_divide(t, f), {1, 1, 0, 0});
  expect_throws_naming([&] { return remainder(t, f); }, "remainder");
  // bool with an integer promotes to the integer.
  EXPECT_EQ(add(t, array({1, 2, 3, 4}, int8)).dtype(), int8);
  expect_values(add(t, array({1, 2, 3, 4}, int8)), {2, 3, 3, 4});
  expect_values(subtract(array({1, 2, 3, 4}), t), {0, 1, 3, 4});
  EXPECT_EQ(divide(t, f).dtype(), float32);
  expect_values(divide(t, array({2.0f, 2.0f, 2.0f, 2.0f})), {0.5, 0.5, 0, 0});
}

TEST(BinaryDivision, IntegerFloorDivideAndRemainderFollowPython) {
  const int32_t kMin = std::numeric_limits<int32_t>::min(), kMax = std::numeric_limits<int32_t>::max();
  std::vector<int32_t> as = {7, -7, 7, -7, 0, 6, -6, 1, -1, kMin, kMin, kMax, 13, 5, kMin, -13};
  std::vector<int32_t> bs = {3, 3, -3, -3, 5, 3, -3, 0, 0, -1, 1, -1, 0, 7, 2, 4};
  array a(as.begin(), Shape{int32_t(as.size())}), b(bs.begin(), Shape{int32_t(bs.size())});
  array q = floor_divide(a, b), r = remainder(a, b);
  EXPECT_EQ(q.dtype(), int32);
  EXPECT_EQ(r.dtype(), int32);
  auto qv = to_vector<int32_t>(q), rv = to_vector<int32_t>(r);
  for (size_t i = 0; i < as.size(); ++i) {
    SCOPED_TRACE(std::to_string(as[i]) + " // " + std::to_string(bs[i]));
    if (as[i] == kMin && bs[i] == -1) {
      EXPECT_EQ(qv[i], kMin);  // wraps, as NumPy; no trap
      EXPECT_EQ(rv[i], 0);
      continue;
    }
    EXPECT_EQ(qv[i], py_floordiv(as[i], bs[i]));
    EXPECT_EQ(rv[i], py_mod(as[i], bs[i]));
  }
  // Division by zero gives 0 for every integer type.
  for (Dtype dt : {int8, int16, int32, int64, uint8, uint16, uint32, uint64}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = array({5, 0, 100}, dt), z = zeros({3}, dt);
    expect_values(floor_divide(x, z), {0, 0, 0});
    expect_values(remainder(x, z), {0, 0, 0});
    expect_values(x % z, {0, 0, 0});
    auto dm = divmod(x, z);
    expect_values(dm[0], {0, 0, 0});
    expect_values(dm[1], {0, 0, 0});
  }
  // INT_MIN / -1 for the other signed widths.
  expect_values(floor_divide(array({int8_t(-128)}), array({int8_t(-1)})), {-128});
  expect_values(remainder(array({int8_t(-128)}), array({int8_t(-1)})), {0});
  auto i64 = to_vector<int64_t>(floor_divide(array({std::numeric_limits<int64_t>::min()}), array({int64_t(-1)})));
  EXPECT_EQ(i64[0], std::numeric_limits<int64_t>::min());
  // Unsigned.
  expect_values(floor_divide(array({200, 7}, uint8), array({7, 200}, uint8)), {28, 0});
  expect_values(remainder(array({200, 7}, uint8), array({7, 200}, uint8)), {4, 7});
  // Exhaustive over a small signed grid against Python's rules.
  std::vector<int32_t> ga, gb;
  for (int x = -12; x <= 12; ++x)
    for (int y = -5; y <= 5; ++y) ga.push_back(x), gb.push_back(y);
  array A(ga.begin(), Shape{int32_t(ga.size())}, int16), B(gb.begin(), Shape{int32_t(gb.size())}, int16);
  auto gq = to_vector<int32_t>(floor_divide(A, B)), gr = to_vector<int32_t>(remainder(A, B));
  for (size_t i = 0; i < ga.size(); ++i) {
    ASSERT_EQ(gq[i], py_floordiv(ga[i], gb[i])) << ga[i] << " // " << gb[i];
    ASSERT_EQ(gr[i], py_mod(ga[i], gb[i])) << ga[i] << " % " << gb[i];
  }
}

TEST(BinaryDivision, FloatFloorDivideAndRemainder) {
  for (Dtype dt : {float32, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array a = array({7.5, -7.5, 7.5, -7.5, 1.0, -1.0, 0.0, 5.0, 3.0}, dt);
    array b = array({2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 0.0, kInf, kNan}, dt);
    expect_values(floor_divide(a, b), {3, -4, -4, 3, kInf, -kInf, kNan, 0, kNan});
    expect_values(remainder(a, b), {1.5, 0.5, -0.5, -1.5, kNan, kNan, kNan, 5.0, kNan});
    expect_values(remainder(array({kInf, -kInf}, dt), array({2.0, 3.0}, dt)), {kNan, kNan});
    // The remainder takes the divisor's sign, even when it is zero (Python: -4.0 % 2.0 == 0.0).
    auto r = to_vector<double>(remainder(array({-4.0, 4.0}, dt), array({2.0, -2.0}, dt)));
    EXPECT_EQ(r[0], 0.0);
    EXPECT_FALSE(std::signbit(r[0])) << "-4.0 % 2.0 should be +0.0";
    EXPECT_TRUE(std::signbit(r[1])) << "4.0 % -2.0 should be -0.0";
    // A small negative dividend with a large divisor: a + b.
    expect_values(remainder(array({-1e-3}, dt), array({10.0}, dt)), {10.0 - 1e-3}, dt == float32 ? 1e-5 : 1e-12);
    auto dm = divmod(a, b);
    ASSERT_EQ(dm.size(), 2u);
    EXPECT_EQ(dm[0].dtype(), dt);
    expect_values(dm[0], {3, -4, -4, 3, kInf, -kInf, kNan, 0, kNan});
    expect_values(dm[1], {1.5, 0.5, -0.5, -1.5, kNan, kNan, kNan, 5.0, kNan});
  }
  // floor(a / b) * b + a % b == a over a grid.
  auto av = pseudo_random(2000, -100.f, 100.f, 7), bv = pseudo_random(2000, -9.f, 9.f, 8);
  array A(av.begin(), Shape{2000}), B(bv.begin(), Shape{2000});
  auto q = to_vector<float>(floor_divide(A, B)), r = to_vector<float>(remainder(A, B));
  for (int i = 0; i < 2000; ++i) {
    ASSERT_NEAR(double(q[i]) * bv[i] + r[i], av[i], 1e-3) << av[i] << " " << bv[i];
    ASSERT_TRUE(r[i] == 0 || (r[i] < 0) == (bv[i] < 0)) << av[i] << " % " << bv[i] << " = " << r[i];
    ASSERT_LE(std::fabs(r[i]), std::fabs(bv[i]));
  }
  // 16-bit floats.
  expect_values(remainder(array({-7.5f, 7.5f}, float16), array({2.0f, -2.0f}, float16)), {0.5, -0.5});
  expect_values(floor_divide(array({-7.5f}, bfloat16), array({2.0f}, bfloat16)), {-4});
  expect_throws_naming([] { return floor_divide(array({complex64_t(1, 1)}), array({complex64_t(1, 1)})); },
                       "floor_divide");
  expect_throws_naming([] { return remainder(array({complex64_t(1, 1)}), array({1.0f})); }, "remainder");
  expect_throws_naming([] { return divmod(array({complex64_t(1, 1)}), array({1.0f}))[0]; }, "divmod");
}

TEST(BinaryDivision, DivideTrueDivision) {
  EXPECT_EQ(divide(array({1, 2}), array({2, 4})).dtype(), float32);
  EXPECT_EQ(divide(array({1, 2}, int64), array({2, 4}, int64)).dtype(), float32);
  EXPECT_EQ(divide(array({1, 2}, uint8), array({2, 4}, int8)).dtype(), float32);
  expect_values(divide(array({7, -7, 1, -1, 0}), array({2, 2, 0, 0, 0})), {3.5, -3.5, kInf, -kInf, kNan});
  expect_values(array({1.0f, 2.0f}) / array({0.0f, -0.0f}), {kInf, -kInf});
  EXPECT_EQ(divide(array({1.0}, float64), array({2.0f})).dtype(), float64);
  EXPECT_EQ(divide(array({1.0f}, float16), array({2.0f}, float16)).dtype(), float16);
  auto c = to_vector<complex64_t>(divide(array({complex64_t(1, 2)}), array({complex64_t(3, -1)})));
  std::complex<double> w = std::complex<double>(1, 2) / std::complex<double>(3, -1);
  EXPECT_NEAR(c[0].real(), w.real(), 1e-6);
  EXPECT_NEAR(c[0].imag(), w.imag(), 1e-6);
}

TEST(BinaryDivision, DivmodBroadcasts) {
  array a = reshape(arange(-6, 6), {3, 4});
  array b = array({3, -3, 5, 1});
  auto dm = divmod(a, b);
  EXPECT_EQ(dm[0].shape(), (Shape{3, 4}));
  EXPECT_EQ(dm[1].shape(), (Shape{3, 4}));
  auto q = to_vector<int32_t>(dm[0]), r = to_vector<int32_t>(dm[1]);
  auto fq = to_vector<int32_t>(floor_divide(a, b)), fr = to_vector<int32_t>(remainder(a, b));
  for (int i = 0; i < 12; ++i) {
    const int ys[] = {3, -3, 5, 1};
    int x = i - 6, y = ys[i % 4];
    EXPECT_EQ(q[i], py_floordiv(x, y));
    EXPECT_EQ(r[i], py_mod(x, y));
    EXPECT_EQ(q[i], fq[i]);
    EXPECT_EQ(r[i], fr[i]);
  }
  // Transposed operand.
  auto dt = divmod(transpose(a), array({4}));
  auto tq = to_vector<int32_t>(dt[0]);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(tq[i * 3 + j], py_floordiv(j * 4 + i - 6, 4));
  expect_throws_naming([] { return divmod(array({1, 2}), array({1, 2, 3}))[0]; }, "divmod");
}

TEST(BinaryPower, Integers) {
  array base = array({2, -2, 2, 1, -1, -1, 0, 3, 0, 5, -3, 2});
  array ex = array({10, 3, -1, -5, -3, -2, 0, 0, 5, 1, 4, 30});
  EXPECT_EQ(power(base, ex).dtype(), int32);
  expect_values(power(base, ex), {1024, -8, 0, 1, -1, 1, 1, 1, 0, 5, 81, 1073741824});
  // Wraps like NumPy.
  expect_values(power(array({int8_t(2)}), array({int8_t(7)})), {-128});
  expect_values(power(array({uint8_t(2)}), array({uint8_t(8)})), {0});
  expect_values(power(array({uint8_t(3)}), array({uint8_t(5)})), {243});
  auto big = to_vector<int64_t>(power(array({int64_t(3)}), array({int64_t(39)})));
  EXPECT_EQ(big[0], 4052555153018976267LL);
  auto u = to_vector<uint64_t>(power(array({uint64_t(2)}), array({uint64_t(63)})));
  EXPECT_EQ(u[0], uint64_t(1) << 63);
  // 0 ** negative is 0 for integers (no trap).
  expect_values(power(array({0, 0}), array({-1, -7})), {0, 0});
}

TEST(BinaryPower, Floats) {
  for (Dtype dt : {float32, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array b = array({2.0, 2.0, -8.0, 0.0, 0.0, -2.0, 4.0, kNan, 1.0, 10.0, -0.0}, dt);
    array e = array({0.5, -2.0, 1.0 / 3.0, -1.0, 0.0, 3.0, 0.5, 0.0, kNan, 400.0, -1.0}, dt);
    expect_values(power(b, e), {std::sqrt(2.0), 0.25, kNan, kInf, 1, -8, 2, 1, 1, kInf, -kInf},
                  dt == float32 ? 1e-6 : 1e-14);
  }
  auto av = pseudo_random(1000, 0.01f, 10.f, 3), bv = pseudo_random(1000, -5.f, 5.f, 4);
  auto p = to_vector<float>(power(array(av.begin(), Shape{1000}), array(bv.begin(), Shape{1000})));
  for (int i = 0; i < 1000; ++i) {
    double w = std::pow(double(av[i]), double(bv[i]));
    ASSERT_NEAR(p[i], w, 2e-6 * std::fabs(w)) << av[i] << "^" << bv[i];
  }
  // int base and float exponent promote to the float type.
  EXPECT_EQ(power(array({2, 4}), array({0.5f, 0.5f})).dtype(), float32);
  expect_values(power(array({2, 4}), array({0.5f, 0.5f})), {std::sqrt(2.0), 2}, 1e-6);
  expect_values(power(array({1.5f}, float16), array({2.0f}, float16)), {2.25});
  auto c = to_vector<complex64_t>(power(array({complex64_t(0, 1)}), array({complex64_t(2, 0)})));
  EXPECT_NEAR(c[0].real(), -1.0, 1e-6);
  EXPECT_NEAR(c[0].imag(), 0.0, 1e-6);
}

TEST(BinaryMaxMin, NaNPropagatesAndIntegers) {
  for (Dtype dt : {float32, float64, float16, bfloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    array a = array({1.0, kNan, 3.0, kNan, -kInf, -0.0, 2.0}, dt);
    array b = array({kNan, 2.0, 1.0, kNan, 5.0, 0.0, kInf}, dt);
    expect_values(maximum(a, b), {kNan, kNan, 3, kNan, 5, 0, kInf});
    expect_values(minimum(a, b), {kNan, kNan, 1, kNan, -kInf, 0, 2});
    EXPECT_EQ(maximum(a, b).dtype(), dt);
  }
  expect_values(maximum(array({-5, 3, 7}, int8), array({2, 3, -100}, int8)), {2, 3, 7});
  expect_values(minimum(array({200, 3}, uint8), array({100, 9}, uint8)), {100, 3});
  expect_values(maximum(array({true, false}), array({false, false})), {1, 0});
  // Mixed dtypes promote; a scalar broadcasts.
  EXPECT_EQ(maximum(array({1, 2}), array({1.5f})).dtype(), float32);
  expect_values(maximum(array({1, 2}), array({1.5f})), {1.5, 2});
  expect_values(minimum(reshape(arange(6), {2, 3}), array(2)), {0, 1, 2, 2, 2, 2});
  expect_throws_naming([] { return maximum(array({complex64_t(1, 1)}), array({complex64_t(1, 1)})); }, "maximum");
  expect_throws_naming([] { return minimum(array({complex64_t(1, 1)}), array({1.0f})); }, "minimum");
  expect_throws_naming([] { return maximum(array({1, 2}), array({1, 2, 3})); }, "maximum");
}

TEST(BinaryMath, ArcTan2) {
  array y = array({0.0, 1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 1.0, kInf, kInf, kNan});
  array x = array({1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -0.0, 0.0, kInf, -kInf, 1.0});
  std::vector<double> want;
  auto yv = to_vector<double>(y), xv = to_vector<double>(x);
  for (size_t i = 0; i < yv.size(); ++i) want.push_back(std::atan2(yv[i], xv[i]));
  for (Dtype dt : {float32, float64, float16}) {
    SCOPED_TRACE(dtype_name(dt));
    expect_values(arctan2(astype(y, dt), astype(x, dt)), want, dt == float16 ? 2e-3 : 1e-6);
  }
  EXPECT_EQ(arctan2(array({1, 2}), array({3, 4})).dtype(), float32);
  expect_values(arctan2(array({1, -1}), array({0, 0})), {M_PI / 2, -M_PI / 2}, 1e-6);
  expect_throws_naming([] { return arctan2(array({complex64_t(1, 1)}), array({1.0f})); }, "arctan2");
  expect_throws_naming([] { return arctan2(array({1.0f, 2.0f}), array({1.0f, 2.0f, 3.0f})); }, "arctan2");
}

TEST(BinaryMath, LogAddExp) {
  for (Dtype dt : {float32, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array a = array({0.0, -kInf, -kInf, 1000.0, -1000.0, 1.0, kInf, kInf, kNan, 2.0, -kInf}, dt);
    array b = array({0.0, -kInf, 0.0, 1000.0, -1000.0, 2.0, kInf, -kInf, 0.0, kNan, kInf}, dt);
    std::vector<double> want = {std::log(2.0), -kInf, 0.0, 1000 + std::log(2.0), -1000 + std::log(2.0),
                                2 + std::log1p(std::exp(-1.0)), kInf, kInf, kNan, kNan, kInf};
    expect_values(logaddexp(a, b), want, dt == float32 ? 1e-4 : 1e-12);
    expect_values(logaddexp(b, a), want, dt == float32 ? 1e-4 : 1e-12);
  }
  auto av = pseudo_random(1000, -50.f, 50.f, 5), bv = pseudo_random(1000, -50.f, 50.f, 6);
  auto r = to_vector<float>(logaddexp(array(av.begin(), Shape{1000}), array(bv.begin(), Shape{1000})));
  for (int i = 0; i < 1000; ++i) {
    double hi = std::max<double>(av[i], bv[i]), lo = std::min<double>(av[i], bv[i]);
    ASSERT_NEAR(r[i], hi + std::log1p(std::exp(lo - hi)), 1e-5 * std::max(1.0, std::fabs(hi)));
  }
  EXPECT_EQ(logaddexp(array({1}), array({2})).dtype(), float32);
  expect_values(logaddexp(array({0, 1}), array({0, 1})), {std::log(2.0), 1 + std::log(2.0)}, 1e-6);
  expect_values(logaddexp(array({-kInf}, bfloat16), array({-kInf}, bfloat16)), {-kInf});
}

TEST(BinaryCompare, Values) {
  for (Dtype dt : {int8, uint8, int32, int64, uint64, float16, bfloat16, float32, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array a = array({1, 2, 3, 5}, dt), b = array({2, 2, 1, 7}, dt);
    EXPECT_EQ(equal(a, b).dtype(), bool_);
    expect_values(equal(a, b), {0, 1, 0, 0});
    expect_values(not_equal(a, b), {1, 0, 1, 1});
    expect_values(less(a, b), {1, 0, 0, 1});
    expect_values(less_equal(a, b), {1, 1, 0, 1});
    expect_values(greater(a, b), {0, 0, 1, 0});
    expect_values(greater_equal(a, b), {0, 1, 1, 0});
    expect_values(a == b, {0, 1, 0, 0});
    expect_values(a != b, {1, 0, 1, 1});
    expect_values(a < b, {1, 0, 0, 1});
    expect_values(a <= b, {1, 1, 0, 1});
    expect_values(a > b, {0, 0, 1, 0});
    expect_values(a >= b, {0, 1, 1, 0});
  }
  // NaN compares false except for !=.
  array n = array({kNan, kNan, 1.0, kInf, -kInf}), m = array({kNan, 1.0, kNan, kInf, kInf});
  expect_values(equal(n, m), {0, 0, 0, 1, 0});
  expect_values(not_equal(n, m), {1, 1, 1, 0, 1});
  expect_values(less(n, m), {0, 0, 0, 0, 1});
  expect_values(greater_equal(n, m), {0, 0, 0, 1, 0});
  // Mixed signed/unsigned promote before comparing: -1 < 200.
  expect_values(less(array({-1}, int8), array({200}, uint8)), {1});
  expect_values(less(array({-1}, int32), array({4000000000u}, uint32)), {1});
  expect_values(equal(array({16777217}), array({16777216.0f})), {1});  // int32 vs float32 compares in float32
  // Complex: equality only.
  array z = array({complex64_t(1, 2), complex64_t(1, 0)});
  expect_values(equal(z, array({complex64_t(1, 2), complex64_t(1, 1)})), {1, 0});
  expect_values(not_equal(z, array({1.0f})), {1, 0});
  for (auto op : {"less", "less_equal", "greater", "greater_equal"}) {
    std::string name = op;
    expect_throws_naming(
        [&]() -> array {
          if (name == "less") return less(z, z);
          if (name == "less_equal") return less_equal(z, z);
          if (name == "greater") return greater(z, z);
          return greater_equal(z, z);
        },
        name);
  }
  expect_values(less(array({false, true}), array({true, true})), {1, 0});
}

TEST(BinaryLogical, Ops) {
  array a = array({true, true, false, false}), b = array({true, false, true, false});
  expect_values(logical_and(a, b), {1, 0, 0, 0});
  expect_values(logical_or(a, b), {1, 1, 1, 0});
  expect_values(logical_xor(a, b), {0, 1, 1, 0});
  expect_values(a && b, {1, 0, 0, 0});
  expect_values(a || b, {1, 1, 1, 0});
  // Numbers are read as truth values; NaN is true.
  array x = array({0.0f, 2.5f, NAN, -0.0f}), y = array({1, 0, 3, 0});
  EXPECT_EQ(logical_and(x, y).dtype(), bool_);
  expect_values(logical_and(x, y), {0, 0, 1, 0});
  expect_values(logical_or(x, y), {1, 1, 1, 0});
  expect_values(logical_xor(x, y), {1, 1, 0, 0});
  expect_values(logical_and(array({complex64_t(0, 1), complex64_t(0, 0)}), array({true, true})), {1, 0});
  // Broadcast with a 0-d operand.
  expect_values(logical_or(array(false), array({0, 5})), {0, 1});
  expect_throws_naming([] { return logical_and(array({true, false}), array({true, false, true})); }, "logical_and");
  expect_throws_naming([] { return logical_or(array({true, false}), array({true, false, true})); }, "logical_or");
  expect_throws_naming([] { return logical_xor(array({true, false}), array({true, false, true})); }, "logical_xor");
}

TEST(BinaryBitwise, Ops) {
  for (Dtype dt : {int8, int16, int32, int64, uint8, uint16, uint32, uint64}) {
    SCOPED_TRACE(dtype_name(dt));
    array a = array({12, 10, 0, 127}, dt), b = array({10, 6, 5, 1}, dt);
    EXPECT_EQ(bitwise_and(a, b).dtype(), dt);
    expect_values(bitwise_and(a, b), {8, 2, 0, 1});
    expect_values(bitwise_or(a, b), {14, 14, 5, 127});
    expect_values(bitwise_xor(a, b), {6, 12, 5, 126});
    expect_values(a & b, {8, 2, 0, 1});
    expect_values(a | b, {14, 14, 5, 127});
    expect_values(a ^ b, {6, 12, 5, 126});
    expect_values(left_shift(array({1, 3, 5}, dt), array({0, 2, 1}, dt)), {1, 12, 10});
    expect_values(right_shift(array({64, 12, 5}, dt), array({3, 2, 5}, dt)), {8, 3, 0});
    // Shifting by the width or more: 0 (and -1 for negative signed values).
    int bits = 8 * dt.size;
    expect_values(left_shift(array({1, 7}, dt), array({bits, bits + 3}, dt)), {0, 0});
    expect_values(right_shift(array({100, 7}, dt), array({bits, bits + 3}, dt)), {0, 0});
    // The top bit.
    auto top = to_vector<uint64_t>(astype(left_shift(array({1}, dt), array({bits - 1}, dt)), uint64));
    if (is_unsigned(dt)) EXPECT_EQ(top[0], uint64_t(1) << (bits - 1));
  }
  // Signed right shift is arithmetic.
  expect_values(right_shift(array({-8, -1, -8}), array({1, 5, 40})), {-4, -1, -1});
  expect_values(left_shift(array({1}), array({31})), {double(std::numeric_limits<int32_t>::min())});
  expect_values(left_shift(array({1}), array({32})), {0});
  expect_values(left_shift(array({-1}, int8), array({7}, int8)), {-128});
  expect_values(array({1, 2}) << array({3, 4}), {8, 32});
  expect_values(array({8, 32}) >> array({3, 4}), {1, 2});
  // Mixed widths promote first: int8 << int32 gives int32 and does not wrap at 8 bits.
  EXPECT_EQ(left_shift(array({1}, int8), array({10})).dtype(), int32);
  expect_values(left_shift(array({1}, int8), array({10})), {1024});
  // Bools: and/or/xor are fine, shifts are not.
  array t = array({true, true, false}), f = array({true, false, false});
  EXPECT_EQ(bitwise_and(t, f).dtype(), bool_);
  expect_values(bitwise_and(t, f), {1, 0, 0});
  expect_values(bitwise_or(t, f), {1, 1, 0});
  expect_values(bitwise_xor(t, f), {0, 1, 0});
  expect_throws_naming([&] { return left_shift(t, f); }, "left_shift");
  expect_throws_naming([&] { return right_shift(t, f); }, "right_shift");
  // Floats and complex are refused.
  expect_throws_naming([] { return bitwise_and(array({1.0f}), array({1.0f})); }, "bitwise_and");
  expect_throws_naming([] { return bitwise_or(array({1}), array({1.0f})); }, "bitwise_or");
  expect_throws_naming([] { return bitwise_xor(array({1.0}, float16), array({1})); }, "bitwise_xor");
  expect_throws_naming([] { return left_shift(array({1.0f}), array({1})); }, "left_shift");
  expect_throws_naming([] { return right_shift(array({complex64_t(1, 0)}), array({1})); }, "right_shift");
}

TEST(BinaryWhere, SelectsAndBroadcasts) {
  array c = array({true, false, true});
  expect_values(where(c, array({1, 2, 3}), array({10, 20, 30})), {1, 20, 3});
  // (3,1) condition, 0-d x, (1,4) y.
  array cond = reshape(array({true, false, true}), {3, 1});
  array y = reshape(arange(4), {1, 4});
  array out = where(cond, array(-1), y);
  EXPECT_EQ(out.shape(), (Shape{3, 4}));
  EXPECT_EQ(out.dtype(), int32);
  expect_values(out, {-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1});
  // Promotion of x and y; a numeric condition is read as a truth value.
  array w = where(array({0.0f, 2.0f, NAN}), array({1, 2, 3}, int8), array({0.5, 1.5, 2.5}));
  EXPECT_EQ(w.dtype(), float64);
  expect_values(w, {0.5, 2, 3});
  for (Dtype dt : {bool_, int8, int16, float16, float32, float64, complex64}) {
    SCOPED_TRACE(dtype_name(dt));
    array r = where(c, ones({3}, dt), zeros({3}, dt));
    EXPECT_EQ(r.dtype(), dt);
    expect_values(r, {1, 0, 1});
  }
  // Transposed inputs.
  array m = reshape(arange(6), {2, 3});
  expect_values(where(greater(transpose(m), array(2)), transpose(m), negative(transpose(m))), {-0, 3, -1, 4, -2, 5});
  expect_throws_naming([] { return where(array({true, false}), array({1, 2, 3}), array(0)); }, "where");
}

TEST(BinaryClip, Bounds) {
  array a = array({-5.0f, 0.5f, 3.0f, 10.0f, NAN});
  expect_values(clip(a, array(0.0f), array(4.0f)), {0, 0.5, 3, 4, kNan});
  expect_values(clip(a, array(0.0f), std::nullopt), {0, 0.5, 3, 10, kNan});
  expect_values(clip(a, std::nullopt, array(1.0f)), {-5, 0.5, 1, 1, kNan});
  // Array bounds broadcast.
  array m = reshape(arange(6), {2, 3});
  array r = clip(m, array({1, 2, 3}), array({4}));
  EXPECT_EQ(r.dtype(), int32);
  expect_values(r, {1, 2, 3, 3, 4, 4});
  EXPECT_EQ(clip(array({1, 5}, int8), array(2, int8), array(3, int8)).dtype(), int8);
  EXPECT_THROW(clip(a, std::nullopt, std::nullopt), std::invalid_argument);
  try {
    clip(a, std::nullopt, std::nullopt);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[clip]"), std::string::npos) << e.what();
  }
}

TEST(BinaryClose, IsCloseAllCloseArrayEqual) {
  array a = array({1.0f, 1.0f, 1.0f, NAN, INFINITY, -INFINITY, INFINITY, 0.0f});
  array b = array({1.0f + 1e-6f, 1.01f, 1.000005f, NAN, INFINITY, -INFINITY, -INFINITY, 1e-9f});
  expect_values(isclose(a, b), {1, 0, 1, 0, 1, 1, 0, 1});
  expect_values(isclose(a, b, 1e-5, 1e-8, true), {1, 0, 1, 1, 1, 1, 0, 1});
  expect_values(isclose(a, b, 0.1), {1, 1, 1, 0, 1, 1, 0, 1});
  expect_values(isclose(array({0.0f}), array({1e-7f}), 0.0, 0.0), {0});
  // An infinity is close only to itself (|inf - x| <= rtol * inf must not count).
  expect_values(isclose(array({1.0f, INFINITY, -INFINITY, INFINITY}), array({INFINITY, 1.0f, INFINITY, -INFINITY})),
                {0, 0, 0, 0});
  expect_values(isclose(array({1.0, 1e300}, float64), array({kInf, kInf}, float64)), {0, 0});
  EXPECT_EQ(isclose(a, b).dtype(), bool_);
  EXPECT_FALSE(allclose(a, b).item<bool>());
  EXPECT_TRUE(allclose(array({1.0f, 2.0f}), array({1.0f, 2.0f + 1e-6f})).item<bool>());
  EXPECT_TRUE(allclose(array({1.0f, NAN}), array({1.0f, NAN}), 1e-5, 1e-8, true).item<bool>());
  EXPECT_FALSE(allclose(array({1.0f, NAN}), array({1.0f, NAN})).item<bool>());
  EXPECT_TRUE(allclose(array({1, 2}), array({1, 2})).item<bool>());
  EXPECT_TRUE(allclose(reshape(arange(6.0), {2, 3}), array({0.0f, 1.0f, 2.0f})).item<bool>() == false);
  // Broadcasting in isclose.
  expect_values(isclose(reshape(array({1.0f, 2.0f}), {2, 1}), array({1.0f, 2.0f, 3.0f})), {1, 0, 0, 0, 1, 0});
  // array_equal: shape, values, NaN.
  EXPECT_TRUE(array_equal(array({1, 2, 3}), array({1.0f, 2.0f, 3.0f})).item<bool>());
  EXPECT_FALSE(array_equal(array({1, 2, 3}), array({1, 2, 4})).item<bool>());
  EXPECT_FALSE(array_equal(array({1, 2, 3}), array({1, 2})).item<bool>());
  EXPECT_FALSE(array_equal(reshape(arange(4), {2, 2}), arange(4)).item<bool>());
  EXPECT_FALSE(array_equal(array({1.0f, NAN}), array({1.0f, NAN})).item<bool>());
  EXPECT_TRUE(array_equal(array({1.0f, NAN}), array({1.0f, NAN}), true).item<bool>());
  EXPECT_TRUE(array_equal(zeros({0, 3}), zeros({0, 3})).item<bool>());
  EXPECT_TRUE(array_equal(transpose(reshape(arange(6), {2, 3})), reshape(array({0, 3, 1, 4, 2, 5}), {3, 2})).item<bool>());
  expect_throws_naming([] { return isclose(array({1.0f, 2.0f}), array({1.0f, 2.0f, 3.0f})); }, "isclose");
}

TEST(BinaryPromotion, ResultDtypes) {
  struct P {
    Dtype a, b, want;
  };
  std::vector<P> table = {
      {int8, uint8, int16},        {uint8, uint8, uint8},       {int8, int8, int8},         {int16, uint8, int16},
      {int8, uint16, int32},       {int32, uint32, int64},      {int64, uint64, float32},   {uint8, uint32, uint32},
      {int32, float32, float32},   {int64, float32, float32},   {int8, float16, float16},   {uint8, bfloat16, bfloat16},
      {float16, bfloat16, float32}, {float16, float32, float32}, {float32, float64, float64}, {bool_, int8, int8},
      {bool_, bool_, bool_},       {bool_, float16, float16},   {int32, complex64, complex64}, {float64, complex64, complex64},
  };
  for (auto& p : table) {
    SCOPED_TRACE(dtype_name(p.a) + " + " + dtype_name(p.b));
    array x = ones({2}, p.a), y = ones({2}, p.b);
    EXPECT_EQ(add(x, y).dtype(), p.want);
    EXPECT_EQ(add(y, x).dtype(), p.want);
    EXPECT_EQ(multiply(x, y).dtype(), p.want);
    EXPECT_EQ(result_type(x, y), p.want);
    if (p.want != bool_) expect_values(add(x, y), {2, 2});
  }
  // Values survive promotion: int8 -100 + uint8 200 in int16.
  expect_values(add(array({int8_t(-100)}), array({uint8_t(200)})), {100});
  // int32 / int32 is float32.
  EXPECT_EQ(divide(array({1}), array({2})).dtype(), float32);
  expect_values(divide(array({1}), array({2})), {0.5});
  EXPECT_EQ(floor_divide(array({7}), array({2})).dtype(), int32);
}

TEST(BinaryScalars, WeaklyTyped) {
  array h = array({1.0f, 2.0f}, float16);
  EXPECT_EQ((h * 2.5).dtype(), float16);
  EXPECT_EQ((2.5 * h).dtype(), float16);
  expect_values(h * 2.5, {2.5, 5});
  EXPECT_EQ((h + 1).dtype(), float16);
  array bf = array({1.0f}, bfloat16);
  EXPECT_EQ((bf - 0.5f).dtype(), bfloat16);
  array i = array({1, 2, 3});
  EXPECT_EQ((i + 1).dtype(), int32);
  expect_values(i + 1, {2, 3, 4});
  EXPECT_EQ((1 + i).dtype(), int32);
  EXPECT_EQ((i * 2.5).dtype(), float32);
  expect_values(i * 2.5, {2.5, 5, 7.5});
  array i8 = array({100, -100}, int8);
  EXPECT_EQ((i8 + 1).dtype(), int8);
  expect_values(i8 + 1, {101, -99});
  EXPECT_EQ((i8 * 2.0).dtype(), float32);
  array u = array({1, 2}, uint16);
  EXPECT_EQ((u + 3).dtype(), uint16);
  EXPECT_EQ((10 - u).dtype(), uint16);
  expect_values(10 - u, {9, 8});
  array d = array({1.0, 2.0});
  EXPECT_EQ((d * 2.0f).dtype(), float64);
  array b = array({true, false});
  EXPECT_EQ((b + 1).dtype(), int32);
  expect_values(b + 1, {2, 1});
  EXPECT_EQ((b * 1.5).dtype(), float32);
  EXPECT_EQ((b && true).dtype(), bool_);
  array z = array({complex64_t(1, 1)});
  EXPECT_EQ((z * 2.0).dtype(), complex64);
  EXPECT_EQ((z + 1).dtype(), complex64);
  // Comparison and bitwise operators with scalars.
  expect_values(i > 1, {0, 1, 1});
  expect_values(i == 2, {0, 1, 0});
  expect_values(h < 1.5, {1, 0});
  expect_values(i & 1, {1, 0, 1});
  expect_values(i | 4, {5, 6, 7});
  expect_values(i ^ 3, {2, 1, 0});
  expect_values(i << 2, {4, 8, 12});
  expect_values(i >> 1, {0, 1, 1});
  expect_values(i % 2, {1, 0, 1});
  expect_values(-7 % array({3}), {2});
  expect_values(i / 2, {0.5, 1, 1.5});
  EXPECT_EQ((i / 2).dtype(), float32);
  expect_values(array({-7.5f}) % 2, {0.5});
}

TEST(BinaryBroadcast, Shapes) {
  array col = reshape(array({1, 2, 3}), {3, 1}), row = reshape(array({10, 20, 30, 40}), {1, 4});
  array r = add(col, row);
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  expect_values(r, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  // (2,3,4) + (4,)
  array a = reshape(arange(24), {2, 3, 4}), v = array({100, 200, 300, 400});
  array s = add(a, v);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 4}));
  auto sv = to_vector<int32_t>(s);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(sv[i], i + 100 * (i % 4 + 1));
  // (2,1,4) * (3,1)
  array m = multiply(reshape(arange(8), {2, 1, 4}), reshape(array({1, 10, 100}), {3, 1}));
  EXPECT_EQ(m.shape(), (Shape{2, 3, 4}));
  auto mv = to_vector<int32_t>(m);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(mv[(i * 3 + j) * 4 + k], (i * 4 + k) * (j == 0 ? 1 : j == 1 ? 10 : 100));
  // Scalar and array, 0-d and 0-d.
  expect_values(add(array(5), array({1, 2})), {6, 7});
  array zz = add(array(2.0f), array(3.0f));
  EXPECT_EQ(zz.ndim(), 0u);
  EXPECT_EQ(zz.item<float>(), 5.f);
  // Empty shapes.
  array e = add(zeros({0, 3}), ones({1, 3}));
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_TRUE(to_vector<float>(e).empty());
  EXPECT_EQ(add(zeros({0}), array(1.0f)).shape(), (Shape{0}));
  EXPECT_EQ(multiply(zeros({2, 0, 3}), zeros({1, 1, 3})).shape(), (Shape{2, 0, 3}));
  EXPECT_EQ(equal(zeros({0, 3}), zeros({3})).shape(), (Shape{0, 3}));
  EXPECT_EQ((where(zeros({0, 1}, bool_), zeros({1, 3}), zeros({3})).shape()), (Shape{0, 3}));
  // Size-1 axes broadcast against size 0.
  EXPECT_EQ(add(zeros({1, 3}), zeros({0, 1})).shape(), (Shape{0, 3}));
}

TEST(BinaryBroadcast, IncompatibleShapesThrowNamingTheOp) {
  array a = zeros({2, 3}), b = zeros({4});
  using Fn = array (*)(const array&, const array&);
  struct Op {
    const char* name;
    Fn fn;
  };
#define OP(f) {#f, [](const array& x, const array& y) { return lazuli::f(x, y); }}
  std::vector<Op> ops = {OP(add),         OP(subtract),    OP(multiply),    OP(divide),      OP(floor_divide),
                         OP(remainder),   OP(power),       OP(maximum),     OP(minimum),     OP(arctan2),
                         OP(logaddexp),   OP(equal),       OP(not_equal),   OP(less),        OP(less_equal),
                         OP(greater),     OP(greater_equal), OP(logical_and), OP(logical_or), OP(logical_xor)};
#undef OP
  for (auto& op : ops) {
    SCOPED_TRACE(op.name);
    expect_throws_naming([&] { return op.fn(a, b); }, op.name);
    // Raised when the op is built, not at evaluation.
    EXPECT_THROW(op.fn(a, b), std::invalid_argument);
  }
  array ia = zeros({2, 3}, int32), ib = zeros({4}, int32);
  expect_throws_naming([&] { return bitwise_and(ia, ib); }, "bitwise_and");
  expect_throws_naming([&] { return bitwise_or(ia, ib); }, "bitwise_or");
  expect_throws_naming([&] { return bitwise_xor(ia, ib); }, "bitwise_xor");
  expect_throws_naming([&] { return left_shift(ia, ib); }, "left_shift");
  expect_throws_naming([&] { return right_shift(ia, ib); }, "right_shift");
  expect_throws_naming([&] { return a + b; }, "add");
  expect_throws_naming([&] { return add(zeros({0, 3}), zeros({2, 3})); }, "add");
  expect_throws_naming([&] { return add(zeros({3, 1}), zeros({2, 2})); }, "add");
}

TEST(BinaryLayouts, NonContiguousInputs) {
  const int R = 37, C = 53;
  auto av = pseudo_random(R * C, -5.f, 5.f, 11), bv = pseudo_random(R * C, -5.f, 5.f, 12);
  array A(av.begin(), Shape{R, C}), B(bv.begin(), Shape{R, C});
  auto at = [&](const std::vector<float>& v, int i, int j) { return v[i * C + j]; };
  // transpose + transpose (dense, same column-major layout), transpose + contiguous.
  {
    auto got = to_vector<float>(add(transpose(A), transpose(B)));
    for (int j = 0; j < C; ++j)
      for (int i = 0; i < R; ++i) ASSERT_EQ(got[j * R + i], at(av, i, j) + at(bv, i, j));
    array Bt = contiguous(transpose(B));
    auto got2 = to_vector<float>(subtract(transpose(A), Bt));
    for (int j = 0; j < C; ++j)
      for (int i = 0; i < R; ++i) ASSERT_EQ(got2[j * R + i], at(av, i, j) - at(bv, i, j));
  }
  // Strided slices with steps 2 and 3.
  {
    array sa = slice(A, {0, 1}, {R - 1, C}, {2, 3}), sb = slice(B, {1, 0}, {R, C}, {2, 3});
    ASSERT_EQ(sa.shape(), sb.shape());
    auto got = to_vector<float>(multiply(sa, sb));
    int rows = sa.shape(0), cols = sa.shape(1);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) ASSERT_EQ(got[i * cols + j], at(av, 2 * i, 3 * j + 1) * at(bv, 2 * i + 1, 3 * j));
  }
  // Negative steps in both axes.
  {
    array ra = slice(A, {R - 1, C - 1}, {-R - 1, -C - 1}, {-1, -1});
    auto got = to_vector<float>(maximum(ra, B));
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) ASSERT_EQ(got[i * C + j], std::max(at(av, R - 1 - i, C - 1 - j), at(bv, i, j)));
  }
  // broadcast_to views on both sides.
  {
    array rowv = slice(A, {0, 0}, {1, C});
    array colv = slice(B, {0, 0}, {R, 1});
    auto got = to_vector<float>(add(broadcast_to(rowv, {R, C}), broadcast_to(colv, {R, C})));
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) ASSERT_EQ(got[i * C + j], at(av, 0, j) + at(bv, i, 0));
  }
  // A 3-d permutation against its contiguous copy.
  {
    array a3 = reshape(arange(60), {3, 4, 5}), p = transpose(a3, {2, 0, 1});
    auto got = to_vector<int32_t>(multiply(p, contiguous(p)));
    for (int k = 0; k < 5; ++k)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) {
          int v = i * 20 + j * 5 + k;
          ASSERT_EQ(got[(k * 3 + i) * 4 + j], v * v);
        }
  }
  // Comparisons and divmod through strided views.
  {
    array sa = slice(A, {0, 0}, {R, C}, {1, 2});
    auto got = to_vector<bool>(greater(sa, transpose(slice(transpose(B), {0, 0}, {C, R}, {2, 1}))));
    int cols = sa.shape(1);
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < cols; ++j) ASSERT_EQ(got[i * cols + j], at(av, i, 2 * j) > at(bv, i, 2 * j));
  }
}

TEST(BinaryLayouts, LargeParallelAndDonation) {
  // Large enough for the threaded loops; chained temporaries may be donated.
  const int n = 1 << 18;
  auto av = pseudo_random(n, -2.f, 2.f, 21);
  array a(av.begin(), Shape{n});
  array r = multiply(add(a, array(1.0f)), subtract(a, array(1.0f)));
  auto got = to_vector<float>(r);
  for (int i = 0; i < n; i += 7) ASSERT_EQ(got[i], (av[i] + 1.f) * (av[i] - 1.f));
  // The input is unchanged after being used by several ops.
  auto again = to_vector<float>(a);
  for (int i = 0; i < n; i += 13) ASSERT_EQ(again[i], av[i]);
  // x + x on the same array.
  auto twice = to_vector<float>(add(a, a));
  for (int i = 0; i < n; i += 11) ASSERT_EQ(twice[i], 2 * av[i]);
}

TEST(BinaryLayouts, LargeBroadcastAndStridedParallel) {
  // Big enough that the strided loops are split across threads.
  const int R = 513, C = 1031;
  auto cv = pseudo_random(R, -3.f, 3.f, 31), rv = pseudo_random(C, -3.f, 3.f, 32);
  array col(cv.begin(), Shape{R, 1}), row(rv.begin(), Shape{1, C});
  auto s = to_vector<float>(subtract(col, row));
  ASSERT_EQ(s.size(), size_t(R) * C);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) ASSERT_EQ(s[size_t(i) * C + j], cv[i] - rv[j]);
  // A transposed big matrix against a row-major one.
  auto mv = pseudo_random(size_t(R) * C, -1.f, 1.f, 33);
  array m(mv.begin(), Shape{R, C});
  array mt = transpose(m);  // (C, R)
  auto p = to_vector<float>(multiply(mt, contiguous(mt)));
  for (int j = 0; j < C; j += 5)
    for (int i = 0; i < R; ++i) ASSERT_EQ(p[size_t(j) * R + i], mv[size_t(i) * C + j] * mv[size_t(i) * C + j]);
  auto g = to_vector<bool>(greater(mt, broadcast_to(reshape(col, {1, R}), {C, R})));
  for (int j = 0; j < C; j += 7)
    for (int i = 0; i < R; ++i) ASSERT_EQ(g[size_t(j) * R + i], mv[size_t(i) * C + j] > cv[i]);
}

TEST(BinaryHalf, StridedSixteenBitFloats) {
  for (Dtype dt : {float16, bfloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    auto av = pseudo_random(600, -4.f, 4.f, 41), bv = pseudo_random(600, -4.f, 4.f, 42);
    array a = reshape(array(av.begin(), Shape{600}, dt), {20, 30});
    array b = reshape(array(bv.begin(), Shape{600}, dt), {30, 20});
    auto A = to_vector<float>(a), B = to_vector<float>(b);
    array r = add(slice(a, {0, 0}, {20, 30}, {1, 3}), transpose(slice(b, {0, 0}, {30, 20}, {3, 1})));
    EXPECT_EQ(r.dtype(), dt);
    auto got = to_vector<float>(r);
    ASSERT_EQ(r.shape(), (Shape{20, 10}));
    for (int i = 0; i < 20; ++i)
      for (int j = 0; j < 10; ++j) {
        float want = dt == float16 ? float(float16_t(A[i * 30 + 3 * j] + B[3 * j * 20 + i]))
                                   : float(bfloat16_t(A[i * 30 + 3 * j] + B[3 * j * 20 + i]));
        ASSERT_EQ(got[i * 10 + j], want) << i << "," << j;
      }
  }
}
