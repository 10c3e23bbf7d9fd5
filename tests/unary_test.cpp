// Unary elementwise ops: values against float64 std:: references over every dtype each op
// accepts, special values (the float32/float64 paths of the transcendental functions run
// through Highway SIMD code), contiguous and strided layouts, 0-d and empty arrays, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iomanip>
#include <limits>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

using ArrFn = array (*)(const array&);
using RefFn = double (*)(double);

struct Range {
  double lo, hi;
  bool log_scale = false;  // log-uniform between lo and hi (both > 0)
};

struct UnaryCase {
  const char* name;
  ArrFn fn;
  RefFn ref;
  std::vector<Range> ranges;
  int ulp;  // allowed error of the float32 result against the correctly rounded reference
};

// Deterministic pseudo-random values.
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  double next() {  // [0, 1)
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return double(s >> 11) * (1.0 / 9007199254740992.0);
  }
};

std::vector<double> sample(const std::vector<Range>& ranges, size_t n, uint64_t seed) {
  Lcg g(seed);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) {
    const Range& r = ranges[i % ranges.size()];
    double u = g.next();
    v[i] = r.log_scale ? std::exp(std::log(r.lo) + u * (std::log(r.hi) - std::log(r.lo))) : r.lo + u * (r.hi - r.lo);
  }
  return v;
}

// Distance in units in the last place between two finite values of type F.
template <typename F>
int64_t ulp_distance(F a, F b) {
  using I = std::conditional_t<sizeof(F) == 4, int32_t, int64_t>;
  auto key = [](F x) {
    I i;
    std::memcpy(&i, &x, sizeof(F));
    // Map the sign-magnitude bit pattern onto a monotonic integer line.
    return i < 0 ? static_cast<long double>(std::numeric_limits<I>::min()) - static_cast<long double>(i)
                 : static_cast<long double>(i);
  };
  long double d = key(a) - key(b);
  return static_cast<int64_t>(d < 0 ? -d : d);
}

// got vs want: NaN only for NaN, infinities exact, zeros with the right sign, finite
// values within max_ulp (or an absolute slack for results in the subnormal range).
template <typename F>
::testing::AssertionResult close_ulp(F got, F want, int max_ulp, bool check_zero_sign = true) {
  if (std::isnan(want)) {
    if (std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", expected nan";
  }
  if (std::isinf(want) || std::isnan(got) || std::isinf(got)) {
    if (got == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", expected " << want;
  }
  if (want == 0) {  // exactly zero, not a subnormal a unit away
    if (got == 0 && (!check_zero_sign || std::signbit(got) == std::signbit(want))) return ::testing::AssertionSuccess();
    if (got != 0) return ::testing::AssertionFailure() << "got " << got << ", expected 0";
    return ::testing::AssertionFailure() << "got " << (std::signbit(got) ? "-0" : "+0") << ", expected "
                                         << (std::signbit(want) ? "-0" : "+0");
  }
  if (ulp_distance(got, want) <= max_ulp) return ::testing::AssertionSuccess();
  if (std::fabs(want) < std::numeric_limits<F>::min() && std::fabs(got - want) <= std::numeric_limits<F>::min())
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::setprecision(std::numeric_limits<F>::max_digits10) << "got " << got
                                       << ", expected " << want << " (" << ulp_distance(got, want) << " ulp)";
}

double ref_sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }
double ref_negative(double x) { return -x; }
double ref_square(double x) { return x * x; }
double ref_rsqrt(double x) { return 1.0 / std::sqrt(x); }
double ref_reciprocal(double x) { return 1.0 / x; }
double ref_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
double ref_degrees(double x) { return x * (180.0 / M_PI); }
double ref_radians(double x) { return x * (M_PI / 180.0); }
double ref_abs(double x) { return std::fabs(x); }
double ref_sqrt(double x) { return std::sqrt(x); }
double ref_exp(double x) { return std::exp(x); }
double ref_expm1(double x) { return std::expm1(x); }
double ref_log(double x) { return std::log(x); }
double ref_log1p(double x) { return std::log1p(x); }
double ref_log2(double x) { return std::log2(x); }
double ref_log10(double x) { return std::log10(x); }
double ref_sin(double x) { return std::sin(x); }
double ref_cos(double x) { return std::cos(x); }
double ref_tan(double x) { return std::tan(x); }
double ref_asin(double x) { return std::asin(x); }
double ref_acos(double x) { return std::acos(x); }
double ref_atan(double x) { return std::atan(x); }
double ref_sinh(double x) { return std::sinh(x); }
double ref_cosh(double x) { return std::cosh(x); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_asinh(double x) { return std::asinh(x); }
double ref_acosh(double x) { return std::acosh(x); }
double ref_atanh(double x) { return std::atanh(x); }
double ref_erf(double x) { return std::erf(x); }
double ref_floor(double x) { return std::floor(x); }
double ref_ceil(double x) { return std::ceil(x); }
double ref_round(double x) { return std::nearbyint(x); }
double ref_trunc(double x) { return std::trunc(x); }

#define FN(f) [](const array& a) { return lazuli::f(a); }

const std::vector<UnaryCase>& cases() {
  static const std::vector<UnaryCase> c = {
      {"abs", FN(abs), ref_abs, {{-1e30, 1e30}, {-2, 2}}, 0},
      {"negative", FN(negative), ref_negative, {{-1e30, 1e30}, {-2, 2}}, 0},
      {"sign", FN(sign), ref_sign, {{-10, 10}}, 0},
      {"sqrt", FN(sqrt), ref_sqrt, {{1e-37, 1e38, true}, {0, 4}}, 0},
      {"rsqrt", FN(rsqrt), ref_rsqrt, {{1e-37, 1e37, true}, {0.01, 4}}, 2},
      {"square", FN(square), ref_square, {{-1e18, 1e18}, {-3, 3}}, 0},
      {"reciprocal", FN(reciprocal), ref_reciprocal, {{1e-30, 1e30, true}, {-4, 4}}, 0},
      {"exp", FN(exp), ref_exp, {{-87, 88}, {-1, 1}, {-1e-4, 1e-4}}, 3},
      {"expm1", FN(expm1), ref_expm1, {{-20, 88}, {-1, 1}, {-1e-4, 1e-4}}, 4},
      {"log", FN(log), ref_log, {{1e-37, 1e38, true}, {0.5, 2}}, 4},
      {"log1p", FN(log1p), ref_log1p, {{-0.999, 10}, {1e-30, 1e30, true}, {-1e-4, 1e-4}}, 4},
      {"log2", FN(log2), ref_log2, {{1e-37, 1e38, true}, {0.5, 2}}, 4},
      {"log10", FN(log10), ref_log10, {{1e-37, 1e38, true}, {0.5, 2}}, 4},
      {"sin", FN(sin), ref_sin, {{-100, 100}, {-1e-3, 1e-3}}, 3},
      {"cos", FN(cos), ref_cos, {{-100, 100}, {-1, 1}}, 3},
      {"tan", FN(tan), ref_tan, {{-1.5, 1.5}, {-100, 100}}, 3},
      {"arcsin", FN(arcsin), ref_asin, {{-1, 1}, {-1e-3, 1e-3}}, 3},
      {"arccos", FN(arccos), ref_acos, {{-1, 1}}, 3},
      {"arctan", FN(arctan), ref_atan, {{-1e4, 1e4}, {-2, 2}, {1e-30, 1e30, true}}, 3},
      {"sinh", FN(sinh), ref_sinh, {{-88, 88}, {-1, 1}, {-1e-3, 1e-3}}, 4},
      {"cosh", FN(cosh), ref_cosh, {{-88, 88}, {-1, 1}}, 3},
      {"tanh", FN(tanh), ref_tanh, {{-20, 20}, {-1, 1}, {-1e-3, 1e-3}}, 4},
      {"arcsinh", FN(arcsinh), ref_asinh, {{-1e10, 1e10}, {-2, 2}, {1e-30, 1e30, true}}, 4},
      {"arccosh", FN(arccosh), ref_acosh, {{1, 1e30, true}, {1, 3}}, 4},
      {"arctanh", FN(arctanh), ref_atanh, {{-0.9999, 0.9999}, {-1e-3, 1e-3}}, 4},
      {"sigmoid", FN(sigmoid), ref_sigmoid, {{-100, 100}, {-5, 5}}, 3},
      {"erf", FN(erf), ref_erf, {{-5, 5}, {-1e-3, 1e-3}}, 3},
      {"floor", FN(floor), ref_floor, {{-1e6, 1e6}, {-3, 3}}, 0},
      {"ceil", FN(ceil), ref_ceil, {{-1e6, 1e6}, {-3, 3}}, 0},
      {"round", FN(round), ref_round, {{-1e6, 1e6}, {-3, 3}}, 0},
      {"trunc", FN(trunc), ref_trunc, {{-1e6, 1e6}, {-3, 3}}, 0},
      {"degrees", FN(degrees), ref_degrees, {{-1e6, 1e6}, {-7, 7}}, 2},
      {"radians", FN(radians), ref_radians, {{-1e6, 1e6}, {-400, 400}}, 2},
  };
  return c;
}

// Inputs where the special cases live. The float32 versions are these rounded to float.
const std::vector<double>& special_inputs() {
  static const std::vector<double> v = {
      0.0,    -0.0,   kInf,  -kInf,  kNan,   1.0,    -1.0,   0.5,     -0.5,    2.0,    -2.0,  1e-45,
      -1e-45, 1e-40,  1e-30, -1e-30, 1e-8,   -1e-8,  3e38,   -3e38,   88.0,    88.8,   89.0,  -87.0,
      -88.0,  -104.0, -105,  100.0,  -100.0, 104.0,  105.0,  710.0,   -710.0,  745.0,  -746., 1000.0,
      -1000., 1e300,  -1e300, 3.0,   0.999,  -0.999, 1.0001, 1e10,    -1e10,   39000., 1e5,   -1e5,
      1e20,   -1e20,  5e-324, 1.5,   1e-310, 65504.0, 65520.0, 7.0,   -20.0,   20.0,   50.0,  -50.0,
  };
  return v;
}

template <typename F>
void check_specials(const UnaryCase& c, Dtype dt) {
  const int ulp = c.ulp + 1;  // the reference itself may be 1 ulp off for float64
  std::vector<double> base = special_inputs();
  // Three copies and a bit: full SIMD vectors and the masked tail both see every value.
  std::vector<F> xs;
  for (int r = 0; r < 3; ++r)
    for (double v : base) xs.push_back(static_cast<F>(v));
  for (size_t i = 0; i < 5; ++i) xs.push_back(static_cast<F>(base[i]));
  array x(xs.begin(), Shape{static_cast<int32_t>(xs.size())}, dt);
  auto got = to_vector<F>(c.fn(x));
  ASSERT_EQ(got.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    F want = static_cast<F>(c.ref(static_cast<double>(xs[i])));
    EXPECT_TRUE(close_ulp<F>(got[i], want, ulp)) << c.name << "(" << std::setprecision(17) << double(xs[i])
                                                 << ") [" << dtype_name(dt) << ", position " << i << "]";
  }
}

template <typename F>
void check_random(const UnaryCase& c, Dtype dt, bool check_zero_sign = true) {
  const int ulp = c.ulp + (sizeof(F) == 8 ? 1 : 0);
  constexpr int kRows = 100, kCols = 100, kN = kRows * kCols;
  auto vals = sample(c.ranges, kN, std::hash<std::string>{}(c.name) % 1000 + 7);
  std::vector<F> xs(vals.begin(), vals.end());
  auto ref = [&](F x) { return static_cast<F>(c.ref(static_cast<double>(x))); };
  auto expect_all = [&](const array& out, const std::vector<F>& inputs, const char* layout) {
    ASSERT_EQ(out.dtype(), dt);
    auto got = to_vector<F>(out);
    ASSERT_EQ(got.size(), inputs.size());
    int failures = 0;
    for (size_t i = 0; i < got.size() && failures < 5; ++i) {
      auto r = close_ulp<F>(got[i], ref(inputs[i]), ulp, check_zero_sign);
      if (!r) {
        ++failures;
        ADD_FAILURE() << c.name << "(" << std::setprecision(17) << double(inputs[i]) << ") [" << dtype_name(dt)
                      << ", " << layout << ", element " << i << "]: " << r.message();
      }
    }
  };

  // Contiguous.
  array x(xs.begin(), Shape{kN}, dt);
  expect_all(c.fn(x), xs, "contiguous");

  // Transposed view (dense, but not row-major).
  array xt = transpose(reshape(x, {kRows, kCols}));
  std::vector<F> xt_vals(kN);
  for (int i = 0; i < kCols; ++i)
    for (int j = 0; j < kRows; ++j) xt_vals[i * kRows + j] = xs[j * kCols + i];
  expect_all(c.fn(xt), xt_vals, "transposed");

  // Every other element of a twice-as-long buffer (strided, not dense).
  std::vector<F> wide(2 * kN, F(0.25));
  for (int i = 0; i < kN; ++i) wide[2 * i] = xs[i];
  array xw(wide.begin(), Shape{2 * kN}, dt);
  expect_all(c.fn(slice(xw, {0}, {2 * kN}, {2})), xs, "strided");

  // Reversed (negative step) over a 2-d block: the row-reversed matrix.
  array xr = slice(reshape(x, {kRows, kCols}), {kRows - 1, 0}, {-kRows - 1, kCols}, {-1, 1});
  std::vector<F> xr_vals(kN);
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < kCols; ++j) xr_vals[i * kCols + j] = xs[(kRows - 1 - i) * kCols + j];
  expect_all(c.fn(xr), xr_vals, "reversed");

  // Broadcast view (stride 0).
  array row(xs.begin(), Shape{1, kCols}, dt);
  std::vector<F> bc_vals;
  for (int i = 0; i < 7; ++i) bc_vals.insert(bc_vals.end(), xs.begin(), xs.begin() + kCols);
  expect_all(c.fn(broadcast_to(row, {7, kCols})), bc_vals, "broadcast");

  // A contiguous slice at an offset into the buffer.
  array xo = slice(x, {3}, {kN - 2});
  std::vector<F> xo_vals(xs.begin() + 3, xs.end() - 2);
  expect_all(c.fn(xo), xo_vals, "offset");
}

// Values in the result dtype of a 16-bit float op are within one unit of that type's
// precision of the float64 reference (computation is in float32, rounded once).
template <typename H>
void check_half(const UnaryCase& c, Dtype dt) {
  std::vector<Range> ranges;
  for (auto r : c.ranges) {
    r.lo = std::clamp(r.lo, -8.0, 8.0);
    r.hi = std::clamp(r.hi, -8.0, 8.0);
    if (r.log_scale) r.lo = std::max(r.lo, 1e-3);
    ranges.push_back(r);
  }
  auto vals = sample(ranges, 2000, 99);
  array x(vals.begin(), Shape{2000}, dt);
  auto xin = to_vector<double>(x);  // the values after rounding to the 16-bit type
  array y = c.fn(x);
  ASSERT_EQ(y.dtype(), dt) << c.name;
  auto got = to_vector<double>(y);
  double eps = dt == float16 ? std::ldexp(1.0, -10) : std::ldexp(1.0, -7);
  double tiny = dt == float16 ? std::ldexp(1.0, -24) : 1e-38;
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i) {
    double want = static_cast<double>(static_cast<float>(H(static_cast<float>(c.ref(xin[i])))));
    bool ok = (std::isnan(want) && std::isnan(got[i])) || got[i] == want ||
              std::fabs(got[i] - want) <= eps * std::fabs(want) + tiny;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << c.name << "(" << xin[i] << ") [" << dtype_name(dt) << "]: got " << got[i] << ", expected "
                    << want;
    }
  }
}

}  // namespace

TEST(UnaryFloat32, AgreesWithFloat64ReferenceAcrossLayouts) {
  for (auto& c : cases()) {
    SCOPED_TRACE(c.name);
    check_random<float>(c, float32);
  }
}

TEST(UnaryFloat64, AgreesWithStdAcrossLayouts) {
  for (auto& c : cases()) {
    SCOPED_TRACE(c.name);
    check_random<double>(c, float64);
  }
}

TEST(UnaryFloat32, SpecialValues) {
  for (auto& c : cases()) check_specials<float>(c, float32);
}

TEST(UnaryFloat64, SpecialValues) {
  for (auto& c : cases()) check_specials<double>(c, float64);
}

TEST(UnaryHalf, Float16AndBfloat16) {
  for (auto& c : cases()) {
    SCOPED_TRACE(c.name);
    check_half<float16_t>(c, float16);
    check_half<bfloat16_t>(c, bfloat16);
  }
}

TEST(UnaryHalf, SpecialValues) {
  for (Dtype dt : {float16, bfloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = array({0.0f, -1.0f, 100.0f, -100.0f, INFINITY, -INFINITY, NAN}, dt);
    expect_values(exp(x), {1, std::exp(-1.0), kInf, 0, kInf, 0, kNan}, dt == float16 ? 1e-3 : 4e-3);
    if (dt == float16) {  // e^100 overflows float16 (65504) but not bfloat16
      EXPECT_TRUE(std::isinf(to_vector<double>(exp(array({12.0f}, dt)))[0]));
    }
    expect_values(log(array({0.0f, -1.0f, 1.0f, INFINITY}, dt)), {-kInf, kNan, 0, kInf});
    expect_values(sqrt(array({-1.0f, 4.0f, 0.0f, INFINITY}, dt)), {kNan, 2, 0, kInf});
    expect_values(tanh(array({INFINITY, -INFINITY, 20.0f}, dt)), {1, -1, 1});
    expect_values(sigmoid(array({INFINITY, -INFINITY, 0.0f}, dt)), {1, 0, 0.5});
    expect_values(isnan(x), {0, 0, 0, 0, 0, 0, 1});
    expect_values(isinf(x), {0, 0, 0, 0, 1, 1, 0});
    expect_values(isposinf(x), {0, 0, 0, 0, 1, 0, 0});
    expect_values(isneginf(x), {0, 0, 0, 0, 0, 1, 0});
    expect_values(isfinite(x), {1, 1, 1, 1, 0, 0, 0});
    expect_values(abs(array({-2.5f, 3.0f, -0.0f}, dt)), {2.5, 3, 0});
    expect_values(negative(array({-2.5f, 3.0f}, dt)), {2.5, -3});
    expect_values(sign(array({-2.5f, 3.0f, 0.0f}, dt)), {-1, 1, 0});
    expect_values(round(array({0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 3.75f}, dt)), {0, 2, 2, 0, -2, 4});
    expect_values(floor(array({-1.5f, 1.5f}, dt)), {-2, 1});
    expect_values(ceil(array({-1.5f, 1.5f}, dt)), {-1, 2});
    expect_values(trunc(array({-1.5f, 1.5f}, dt)), {-1, 1});
    expect_values(erfinv(array({0.0f, 1.0f, -1.0f, 2.0f}, dt)), {0, kInf, -kInf, kNan});
    EXPECT_EQ(exp(x).dtype(), dt);
    EXPECT_EQ(isnan(x).dtype(), bool_);
  }
}

TEST(UnaryFloat32, SpecialValuesSpotChecks) {
  // The classic cases, spelled out.
  expect_values(exp(array({100.0f, -100.0f, 0.0f, INFINITY, -INFINITY, NAN, 1000.0f, -1000.0f})),
                {kInf, 0, 1, kInf, 0, kNan, kInf, 0}, 1e-38);
  expect_values(log(array({0.0f, -0.0f, -1.0f, 1.0f, INFINITY, -INFINITY, NAN})), {-kInf, -kInf, kNan, 0, kInf, kNan, kNan});
  expect_values(sqrt(array({-1.0f, 0.0f, 4.0f, INFINITY, -INFINITY, NAN})), {kNan, 0, 2, kInf, kNan, kNan});
  expect_values(log1p(array({-1.0f, -2.0f, 0.0f, INFINITY})), {-kInf, kNan, 0, kInf});
  expect_values(log2(array({0.0f, -1.0f, 8.0f, INFINITY})), {-kInf, kNan, 3, kInf});
  expect_values(log10(array({0.0f, -1.0f, 1000.0f, INFINITY})), {-kInf, kNan, 3, kInf});
  expect_values(expm1(array({INFINITY, -INFINITY, 100.0f, 0.0f})), {kInf, -1, kInf, 0});
  expect_values(tanh(array({INFINITY, -INFINITY, 50.0f, -50.0f, NAN})), {1, -1, 1, -1, kNan});
  expect_values(sinh(array({INFINITY, -INFINITY, 100.0f, -100.0f})), {kInf, -kInf, kInf, -kInf});
  expect_values(cosh(array({INFINITY, -INFINITY, 100.0f})), {kInf, kInf, kInf});
  expect_values(sin(array({INFINITY, NAN, 0.0f})), {kNan, kNan, 0});
  expect_values(cos(array({-INFINITY, 0.0f})), {kNan, 1});
  expect_values(arcsin(array({2.0f, -2.0f, 1.0f})), {kNan, kNan, M_PI / 2}, 1e-6);
  expect_values(arccos(array({2.0f, -1.0f})), {kNan, M_PI}, 1e-6);
  expect_values(arctan(array({INFINITY, -INFINITY})), {M_PI / 2, -M_PI / 2}, 1e-6);
  expect_values(arccosh(array({0.5f, 1.0f, INFINITY})), {kNan, 0, kInf});
  expect_values(arcsinh(array({INFINITY, -INFINITY})), {kInf, -kInf});
  expect_values(arctanh(array({1.0f, -1.0f, 2.0f, 0.0f})), {kInf, -kInf, kNan, 0});
  expect_values(sigmoid(array({INFINITY, -INFINITY, 1000.0f, -1000.0f, NAN})), {1, 0, 1, 0, kNan});
  expect_values(rsqrt(array({0.0f, -1.0f, 4.0f, INFINITY})), {kInf, kNan, 0.5, 0});
  expect_values(reciprocal(array({0.0f, -0.0f, INFINITY})), {kInf, -kInf, 0});
  expect_values(erf(array({INFINITY, -INFINITY, 0.0f})), {1, -1, 0});
}

TEST(UnaryErfinv, InvertsErf) {
  for (Dtype dt : {float32, float64}) {
    auto ys = sample({{-0.999999, 0.999999}, {-1e-6, 1e-6}, {0.99, 0.9999999}}, 3000, 5);
    array y(ys.begin(), Shape{3000}, dt);
    auto yin = to_vector<double>(y);
    auto x = to_vector<double>(erfinv(y));
    double tol = dt == float32 ? 4e-7 : 1e-15;
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_NEAR(std::erf(x[i]), yin[i], tol * std::max(1.0, std::fabs(yin[i]) * 4)) << "erfinv(" << yin[i] << ")";
      // erf is monotone: erfinv keeps the sign.
      if (yin[i] != 0) ASSERT_EQ(x[i] > 0, yin[i] > 0);
    }
    expect_values(erfinv(array({0.0, 1.0, -1.0, 1.5, -1.5, kNan}, dt)), {0, kInf, -kInf, kNan, kNan, kNan});
    expect_values(erfinv(array({0.5, -0.5}, dt)), {0.4769362762044699, -0.4769362762044699}, dt == float32 ? 1e-6 : 1e-14);
  }
}

TEST(UnaryRound, HalfToEvenAndDecimals) {
  for (Dtype dt : {float32, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = array({0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 3.7, -3.7, 0.49999997}, dt);
    expect_values(round(x), {0, 2, 2, 4, -0.0, -2, -2, 4, -4, 0});
    auto r = to_vector<double>(round(array({-0.5, -0.4}, dt)));
    EXPECT_TRUE(std::signbit(r[0]) && std::signbit(r[1])) << "round keeps the sign of negative zero results";
    expect_values(round(array({1.25, 1.35, -1.25, 2.0}, dt), 1), {1.2, 1.4, -1.2, 2.0}, dt == float32 ? 1e-6 : 1e-12);
    expect_values(round(array({1234.5, 1250.0, 1350.0, -1250.0, 49.0}, dt), -2), {1200, 1200, 1400, -1200, 0},
                  dt == float32 ? 1e-3 : 1e-9);
    expect_values(round(array({kInf, -kInf, kNan}, dt), 2), {kInf, -kInf, kNan});
    EXPECT_EQ(round(x, 3).dtype(), dt);
  }
  expect_values(round(array({0.125, -0.125, 1.2345, 2.5}, float64), 2), {0.12, -0.12, 1.23, 2.5}, 1e-12);
  // Integers round to themselves whatever the decimals.
  array i = array({-7, 0, 15});
  EXPECT_EQ(round(i).dtype(), int32);
  expect_values(round(i, 2), {-7, 0, 15});
}

TEST(UnaryIntegers, KeepTheirDtype) {
  for (Dtype dt : {int8, int16, int32, int64}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = array({-3, -1, 0, 2, 5}, dt);
    EXPECT_EQ(abs(x).dtype(), dt);
    expect_values(abs(x), {3, 1, 0, 2, 5});
    expect_values(negative(x), {3, 1, 0, -2, -5});
    expect_values(sign(x), {-1, -1, 0, 1, 1});
    expect_values(square(x), {9, 1, 0, 4, 25});
    EXPECT_EQ(square(x).dtype(), dt);
    for (ArrFn fn : std::vector<ArrFn>{FN(floor), FN(ceil), FN(round), FN(trunc)}) {
      EXPECT_EQ(fn(x).dtype(), dt);
      expect_values(fn(x), {-3, -1, 0, 2, 5});
    }
    expect_values(logical_not(x), {0, 0, 1, 0, 0});
    expect_values(bitwise_invert(x), {2, 0, -1, -3, -6});
    EXPECT_EQ(bitwise_invert(x).dtype(), dt);
    expect_values(isnan(x), {0, 0, 0, 0, 0});
    expect_values(isinf(x), {0, 0, 0, 0, 0});
    expect_values(isposinf(x), {0, 0, 0, 0, 0});
    expect_values(isneginf(x), {0, 0, 0, 0, 0});
    expect_values(isfinite(x), {1, 1, 1, 1, 1});
    EXPECT_EQ(isfinite(x).dtype(), bool_);
    EXPECT_EQ(isnan(x).shape(), x.shape());
    expect_values(conjugate(x), {-3, -1, 0, 2, 5});
    expect_values(real(x), {-3, -1, 0, 2, 5});
    expect_values(imag(x), {0, 0, 0, 0, 0});
  }
  // Wrapping, as NumPy does.
  expect_values(abs(array({-128}, int8)), {-128});
  expect_values(negative(array({-128}, int8)), {-128});
  expect_values(square(array({16}, int8)), {0});
  expect_values(negative(array({std::numeric_limits<int32_t>::min()})), {double(std::numeric_limits<int32_t>::min())});
  // Unsigned.
  for (Dtype dt : {uint8, uint16, uint32, uint64}) {
    SCOPED_TRACE(dtype_name(dt));
    array u = array({0, 1, 7}, dt);
    EXPECT_EQ(abs(u).dtype(), dt);
    expect_values(abs(u), {0, 1, 7});
    expect_values(sign(u), {0, 1, 1});
    expect_values(square(u), {0, 1, 49});
    auto inv = to_vector<uint64_t>(bitwise_invert(u));
    uint64_t mask = dt.size == 8 ? ~uint64_t(0) : ((uint64_t(1) << (8 * dt.size)) - 1);
    EXPECT_EQ(inv, (std::vector<uint64_t>{mask, mask - 1, mask - 7}));
    auto neg = to_vector<uint64_t>(negative(u));
    EXPECT_EQ(neg, (std::vector<uint64_t>{0, mask, mask - 6}));
  }
  expect_values(square(array({20}, uint8)), {144});
  expect_values(square(array({16}, uint8)), {0});
}

TEST(UnaryIntegers, FloatFunctionsPromoteToFloat32) {
  struct F {
    const char* name;
    ArrFn fn;
    RefFn ref;
  };
  std::vector<F> fns = {
      {"sqrt", FN(sqrt), ref_sqrt},      {"rsqrt", FN(rsqrt), ref_rsqrt},  {"reciprocal", FN(reciprocal), ref_reciprocal},
      {"exp", FN(exp), ref_exp},         {"expm1", FN(expm1), ref_expm1},  {"log", FN(log), ref_log},
      {"log1p", FN(log1p), ref_log1p},   {"log2", FN(log2), ref_log2},     {"log10", FN(log10), ref_log10},
      {"sin", FN(sin), ref_sin},         {"cos", FN(cos), ref_cos},        {"tan", FN(tan), ref_tan},
      {"arctan", FN(arctan), ref_atan},  {"sinh", FN(sinh), ref_sinh},     {"cosh", FN(cosh), ref_cosh},
      {"tanh", FN(tanh), ref_tanh},      {"arcsinh", FN(arcsinh), ref_asinh}, {"arccosh", FN(arccosh), ref_acosh},
      {"sigmoid", FN(sigmoid), ref_sigmoid}, {"erf", FN(erf), ref_erf},   {"degrees", FN(degrees), ref_degrees},
      {"radians", FN(radians), ref_radians},
  };
  for (Dtype dt : {bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64}) {
    array x = dt == bool_ ? array({true, false, true, true}) : array({1, 2, 3, 10}, dt);
    std::vector<double> xs = dt == bool_ ? std::vector<double>{1, 0, 1, 1} : std::vector<double>{1, 2, 3, 10};
    for (auto& f : fns) {
      SCOPED_TRACE(std::string(f.name) + " of " + dtype_name(dt));
      array y = f.fn(x);
      ASSERT_EQ(y.dtype(), float32);
      auto got = to_vector<float>(y);
      for (size_t i = 0; i < xs.size(); ++i)
        EXPECT_TRUE(close_ulp<float>(got[i], static_cast<float>(f.ref(xs[i])), 4)) << "x=" << xs[i];
    }
    SCOPED_TRACE(dtype_name(dt));
    EXPECT_EQ(arcsin(x).dtype(), float32);
    EXPECT_EQ(arccos(x).dtype(), float32);
    EXPECT_EQ(arctanh(x).dtype(), float32);
    EXPECT_EQ(erfinv(x).dtype(), float32);
  }
  expect_values(arcsin(array({0, 1, -1, 2})), {0, M_PI / 2, -M_PI / 2, kNan}, 1e-6);
  expect_values(arctanh(array({0, 1, -1})), {0, kInf, -kInf});
  expect_values(erfinv(array({0, 1, -1})), {0, kInf, -kInf});
  expect_values(sqrt(array({-4, 9})), {kNan, 3});
  expect_values(log(array({0, 1}, uint8)), {-kInf, 0});
}

TEST(UnaryBool, Ops) {
  array b = array({true, false});
  expect_values(logical_not(b), {0, 1});
  expect_values(bitwise_invert(b), {0, 1});
  EXPECT_EQ(bitwise_invert(b).dtype(), bool_);
  EXPECT_EQ(abs(b).dtype(), bool_);
  expect_values(abs(b), {1, 0});
  expect_values(square(b), {1, 0});
  EXPECT_EQ(square(b).dtype(), bool_);
  expect_values(isnan(b), {0, 0});
  expect_values(isfinite(b), {1, 1});
  expect_values(floor(b), {1, 0});
  EXPECT_EQ(floor(b).dtype(), bool_);
  expect_values(operator!(b), {0, 1});
  expect_values(~b, {0, 1});
}

TEST(UnaryFloat, LogicalNotAndPredicates) {
  for (Dtype dt : {float32, float64, float16, bfloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = array({0.0, -0.0, 1.0, kNan, kInf, -kInf, -2.5}, dt);
    expect_values(logical_not(x), {1, 1, 0, 0, 0, 0, 0});
    EXPECT_EQ(logical_not(x).dtype(), bool_);
    expect_values(isnan(x), {0, 0, 0, 1, 0, 0, 0});
    expect_values(isinf(x), {0, 0, 0, 0, 1, 1, 0});
    expect_values(isposinf(x), {0, 0, 0, 0, 1, 0, 0});
    expect_values(isneginf(x), {0, 0, 0, 0, 0, 1, 0});
    expect_values(isfinite(x), {1, 1, 1, 0, 0, 0, 1});
    // Predicates through a transposed and a strided view.
    array m = reshape(array({kNan, 1.0, kInf, 2.0, -kInf, 3.0}, dt), {2, 3});
    expect_values(isnan(transpose(m)), {1, 0, 0, 0, 0, 0});
    expect_values(isinf(transpose(m)), {0, 0, 0, 1, 1, 0});
    expect_values(isfinite(slice(m, {0, 0}, {2, 3}, {1, 2})), {0, 0, 1, 1});
    // Float inputs keep their dtype through conjugate and real; imag is zeros.
    EXPECT_EQ(conjugate(x).dtype(), dt);
    expect_values(real(array({1.5, -2.0}, dt)), {1.5, -2.0});
    expect_values(imag(array({1.5, -2.0}, dt)), {0, 0});
    EXPECT_EQ(imag(array({1.5, -2.0}, dt)).dtype(), dt);
  }
}

TEST(UnaryComplex, SupportedOps) {
  using C = std::complex<double>;
  std::vector<complex64_t> zs = {{1.f, 2.f}, {-3.f, 0.5f}, {0.f, 0.f}, {-1.f, -1.f}, {2.f, -4.f}, {0.25f, 0.f}};
  array z(zs.begin(), Shape{static_cast<int32_t>(zs.size())}, complex64);
  auto check = [&](const char* name, const array& out, auto ref, Dtype want_dtype, double tol) {
    SCOPED_TRACE(name);
    ASSERT_EQ(out.dtype(), want_dtype);
    if (want_dtype == complex64) {
      auto got = to_vector<complex64_t>(out);
      for (size_t i = 0; i < zs.size(); ++i) {
        C w = ref(C(zs[i].real(), zs[i].imag()));
        if (std::isinf(std::abs(w)) || std::isnan(std::abs(w))) continue;  // checked separately
        EXPECT_NEAR(got[i].real(), w.real(), tol * std::max(1.0, std::abs(w))) << "z=" << zs[i];
        EXPECT_NEAR(got[i].imag(), w.imag(), tol * std::max(1.0, std::abs(w))) << "z=" << zs[i];
      }
    } else {
      auto got = to_vector<double>(out);
      for (size_t i = 0; i < zs.size(); ++i) {
        double w = ref(C(zs[i].real(), zs[i].imag())).real();
        EXPECT_NEAR(got[i], w, tol * std::max(1.0, std::fabs(w))) << "z=" << zs[i];
      }
    }
  };
  const double tol = 2e-6;
  check("abs", abs(z), [](C v) { return C(std::abs(v)); }, float32, tol);
  check("negative", negative(z), [](C v) { return -v; }, complex64, 0);
  check("sign", sign(z), [](C v) { return v == C(0) ? v : v / std::abs(v); }, complex64, tol);
  check("square", square(z), [](C v) { return v * v; }, complex64, tol);
  check("sqrt", sqrt(z), [](C v) { return std::sqrt(v); }, complex64, tol);
  check("rsqrt", rsqrt(z), [](C v) { return 1.0 / std::sqrt(v); }, complex64, tol);
  check("reciprocal", reciprocal(z), [](C v) { return 1.0 / v; }, complex64, tol);
  check("exp", exp(z), [](C v) { return std::exp(v); }, complex64, tol);
  check("log", log(z), [](C v) { return std::log(v); }, complex64, tol);
  check("sin", sin(z), [](C v) { return std::sin(v); }, complex64, tol);
  check("cos", cos(z), [](C v) { return std::cos(v); }, complex64, tol);
  check("conjugate", conjugate(z), [](C v) { return std::conj(v); }, complex64, 0);
  check("real", real(z), [](C v) { return C(v.real()); }, float32, 0);
  check("imag", imag(z), [](C v) { return C(v.imag()); }, float32, 0);
  expect_values(logical_not(z), {0, 0, 1, 0, 0, 0});
  // Complex through a strided view.
  array zs2 = slice(z, {1}, {6}, {2});
  auto got = to_vector<complex64_t>(conjugate(zs2));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], complex64_t(-3.f, -0.5f));
  EXPECT_EQ(got[1], complex64_t(-1.f, 1.f));
  EXPECT_EQ(got[2], complex64_t(0.25f, 0.f));
  // NaN and inf in either part.
  float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  array w = array({complex64_t(1.f, nan), complex64_t(inf, 0.f), complex64_t(0.f, -inf), complex64_t(nan, inf),
                   complex64_t(1.f, 1.f)});
  expect_values(isnan(w), {1, 0, 0, 1, 0});
  expect_values(isinf(w), {0, 1, 1, 1, 0});
  expect_values(isfinite(w), {0, 0, 0, 0, 1});
  // abs of a 0-d complex and of an empty one.
  EXPECT_FLOAT_EQ(abs(array(complex64_t(3.f, 4.f))).item<float>(), 5.f);
  EXPECT_EQ(abs(zeros({0}, complex64)).shape(), Shape{0});
}

TEST(UnaryErrors, UnsupportedDtypesThrowNamingTheOp) {
  array f = array({1.0f, 2.0f});
  array b = array({true, false});
  array z = array({complex64_t(1.f, 1.f)});
  expect_throws_naming([&] { return bitwise_invert(f); }, "bitwise_invert");
  expect_throws_naming([&] { return bitwise_invert(array({1.0}, float16)); }, "bitwise_invert");
  expect_throws_naming([&] { return bitwise_invert(z); }, "bitwise_invert");
  expect_throws_naming([&] { return ~f; }, "bitwise_invert");
  expect_throws_naming([&] { return negative(b); }, "negative");
  expect_throws_naming([&] { return -b; }, "negative");
  EXPECT_EQ(to_vector<bool>(sign(b)), (std::vector<bool>{true, false}));  // MLX: a bool's sign is itself
  struct NoComplex {
    const char* name;
    ArrFn fn;
  };
  std::vector<NoComplex> no_complex = {
      {"erf", FN(erf)},
      {"erfinv", FN(erfinv)},   {"floor", FN(floor)},     {"ceil", FN(ceil)},       {"round", FN(round)},
      {"trunc", FN(trunc)},     {"degrees", FN(degrees)}, {"radians", FN(radians)}, {"isposinf", FN(isposinf)},
      {"isneginf", FN(isneginf)},
  };
  for (auto& c : no_complex) {
    SCOPED_TRACE(c.name);
    expect_throws_naming([&] { return c.fn(z); }, c.name);
  }
  // The error is raised when the op is built, before any evaluation.
  EXPECT_THROW(erf(z), std::invalid_argument);
  EXPECT_THROW(bitwise_invert(f), std::invalid_argument);
}

TEST(UnaryComplex, TrigonometricAndHyperbolicMatchStd) {
  std::vector<complex64_t> zs = {{0.3f, 0.4f}, {-0.5f, 0.2f}, {0.1f, -0.7f}};
  array z = array(zs.begin(), Shape{3}, complex64);
  struct Case {
    ArrFn fn;
    std::complex<double> (*ref)(const std::complex<double>&);
  };
  std::vector<Case> cases = {
      {FN(tan), std::tan},     {FN(sinh), std::sinh},   {FN(cosh), std::cosh},   {FN(tanh), std::tanh},
      {FN(arcsin), std::asin}, {FN(arccos), std::acos}, {FN(arctan), std::atan}, {FN(arcsinh), std::asinh},
      {FN(arccosh), std::acosh}, {FN(arctanh), std::atanh}, {FN(log10), std::log10},
  };
  for (auto& c : cases) {
    auto got = to_vector<complex64_t>(c.fn(z));
    for (size_t i = 0; i < zs.size(); ++i) {
      auto want = c.ref(std::complex<double>(zs[i].real(), zs[i].imag()));
      EXPECT_NEAR(got[i].real(), want.real(), 1e-5);
      EXPECT_NEAR(got[i].imag(), want.imag(), 1e-5);
    }
  }
}

TEST(UnaryShapes, ZeroDimAndEmpty) {
  array s = exp(array(1.0f));
  EXPECT_EQ(s.ndim(), 0u);
  EXPECT_EQ(s.dtype(), float32);
  EXPECT_NEAR(s.item<float>(), std::exp(1.0), 1e-6);
  EXPECT_NEAR(log(array(2.0)).item<double>(), std::log(2.0), 1e-15);
  EXPECT_EQ(sqrt(array(9)).item<float>(), 3.f);
  EXPECT_EQ(abs(array(-5)).item<int>(), 5);
  EXPECT_TRUE(isnan(array(NAN)).item<bool>());
  EXPECT_FALSE(isnan(array(2)).item<bool>());
  EXPECT_EQ(bitwise_invert(array(uint8_t(0))).item<uint8_t>(), 255);
  for (Dtype dt : {float32, float64, float16, int32}) {
    SCOPED_TRACE(dtype_name(dt));
    for (Shape sh : {Shape{0}, Shape{0, 3}, Shape{2, 0, 4}}) {
      array e = zeros(sh, dt);
      for (array out : {exp(e), abs(e), negative(e), sqrt(e), sin(e), tanh(e), floor(e), round(e, 2), isnan(e),
                        isfinite(e), logical_not(e), square(e), sigmoid(e), trunc(e)}) {
        EXPECT_EQ(out.shape(), sh);
        out.eval();
        EXPECT_EQ(out.size(), 0u);
        EXPECT_TRUE(to_vector<double>(out).empty());
      }
      // Empty views: a transposed one and a strided one.
      if (sh.size() == 2) {
        EXPECT_EQ(exp(transpose(e)).shape(), (Shape{3, 0}));
        EXPECT_TRUE(to_vector<double>(exp(transpose(e))).empty());
      }
    }
  }
}

TEST(UnaryShapes, ChainsAndKeepsShape) {
  // A chain of ops on a 3-d non-contiguous view keeps the shape and the values.
  std::vector<float> v(2 * 3 * 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * float(i) - 1.0f;
  array a(v.begin(), Shape{2, 3, 4}, float32);
  array t = transpose(a, {2, 0, 1});  // (4, 2, 3)
  array y = tanh(exp(negative(t)));
  EXPECT_EQ(y.shape(), (Shape{4, 2, 3}));
  auto got = to_vector<float>(y);
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) {
        float x = v[i * 12 + j * 4 + k];
        EXPECT_NEAR(got[k * 6 + i * 3 + j], std::tanh(std::exp(-double(x))), 1e-6);
      }
}

TEST(UnaryLarge, ParallelPathMatchesScalar) {
  // Large enough to be split across threads (and through the SIMD path for exp/log).
  const int n = 300001;
  std::vector<float> v(n);
  Lcg g(3);
  for (auto& x : v) x = static_cast<float>(g.next() * 40.0 - 20.0);
  array a(v.begin(), Shape{n}, float32);
  auto e = to_vector<float>(exp(a));
  auto l = to_vector<float>(log(abs(a)));
  auto s = to_vector<float>(sin(a));
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(close_ulp<float>(e[i], float(std::exp(double(v[i]))), 3)) << v[i];
    ASSERT_TRUE(close_ulp<float>(l[i], float(std::log(std::fabs(double(v[i])))), 4)) << v[i];
    ASSERT_TRUE(close_ulp<float>(s[i], float(std::sin(double(v[i]))), 3)) << v[i];
  }
}

TEST(UnaryDegreesRadians, Values) {
  expect_values(degrees(array({0.0, M_PI, -M_PI / 2})), {0, 180, -90}, 1e-12);
  expect_values(radians(array({0.0f, 180.0f, -90.0f})), {0, M_PI, -M_PI / 2}, 1e-6);
  EXPECT_EQ(degrees(array({1.0}, float16)).dtype(), float16);
  EXPECT_EQ(radians(array({1, 2})).dtype(), float32);
  expect_values(degrees(array({kInf, kNan})), {kInf, kNan});
}

TEST(UnaryInPlace, DonatedInputsWithSpecialValues) {
  // Each op's input below is a temporary that nothing else holds, so its buffer may be
  // reused for the output; vectors holding out-of-range lanes must still see their inputs.
  const int n = 1003;
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i)
    v[i] = i % 7 == 3 ? -1.f : i % 11 == 5 ? 0.f : i % 13 == 0 ? INFINITY : 0.5f + 0.25f * float(i);
  array a(v.begin(), Shape{n});
  auto lg = to_vector<float>(log(negative(negative(a))));
  auto ex = to_vector<float>(exp(negative(negative(a))));
  auto sg = to_vector<float>(sigmoid(negative(a)));
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(close_ulp<float>(lg[i], float(std::log(double(v[i]))), 4)) << "log(" << v[i] << ")";
    ASSERT_TRUE(close_ulp<float>(ex[i], float(std::exp(double(v[i]))), 3)) << "exp(" << v[i] << ")";
    ASSERT_TRUE(close_ulp<float>(sg[i], float(ref_sigmoid(-double(v[i]))), 3)) << "sigmoid(" << -v[i] << ")";
  }
  // The same in float64, through a transposed temporary (dense, not row-major).
  std::vector<double> w(30 * 40);
  for (size_t i = 0; i < w.size(); ++i) w[i] = i % 9 == 4 ? -2.0 : i % 17 == 1 ? kInf : 1.0 + double(i);
  array b(w.begin(), Shape{30, 40});
  auto l2 = to_vector<double>(log1p(transpose(negative(negative(b)))));
  for (int i = 0; i < 40; ++i)
    for (int j = 0; j < 30; ++j) {
      double x = w[j * 40 + i];
      ASSERT_TRUE(close_ulp<double>(l2[i * 30 + j], std::log1p(x), 3)) << "log1p(" << x << ")";
    }
}
