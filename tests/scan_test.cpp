// Scans: cumsum, cumprod, cummax, cummin and logcumsumexp over every axis of 1-d to 3-d
// inputs (reverse, exclusive, negative axes, transposed views) against a float64 reference;
// dtype rules; NaN, empty and 0-d inputs; errors; and checker cases for the transforms.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "checker.h"
#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_values;
using lazuli::test::to_vector;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

void expect_throws_naming(const std::function<array()>& f, const std::string& op) {
  try {
    array out = f();
    out.eval();
    ADD_FAILURE() << "expected std::invalid_argument naming [" << op << "]";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[" + op + "]"), std::string::npos) << e.what();
  }
}

enum class Op { Sum, Prod, Max, Min, Lse };

using ScanFn = array (*)(const array&, int, bool, bool, S);
ScanFn fn_of(Op op) {
  switch (op) {
    case Op::Sum: return &cumsum;
    case Op::Prod: return &cumprod;
    case Op::Max: return &cummax;
    case Op::Min: return &cummin;
    case Op::Lse: return &logcumsumexp;
  }
  return &cumsum;
}

double combine(Op op, double a, double v) {
  switch (op) {
    case Op::Sum: return a + v;
    case Op::Prod: return a * v;
    case Op::Max: return (v > a || std::isnan(v)) ? v : a;
    case Op::Min: return (v < a || std::isnan(v)) ? v : a;
    case Op::Lse: {
      double hi = std::max(a, v), lo = std::min(a, v);
      return std::isinf(hi) ? hi : hi + std::log1p(std::exp(lo - hi));
    }
  }
  return 0;
}
double identity(Op op) {
  switch (op) {
    case Op::Sum: return 0;
    case Op::Prod: return 1;
    case Op::Max: return -kInf;
    case Op::Min: return kInf;
    case Op::Lse: return -kInf;
  }
  return 0;
}

// The float64 reference: row-major data of `shape`, scanned along `axis`.
std::vector<double> reference(const std::vector<double>& x, const Shape& shape, int axis, Op op, bool reverse,
                              bool inclusive) {
  int64_t len = shape[axis], inner = 1, outer = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < inner; ++c) {
      double acc = identity(op);
      for (int64_t i = 0; i < len; ++i) {
        int64_t j = reverse ? len - 1 - i : i;
        size_t at = (o * len + j) * inner + c;
        if (inclusive) acc = combine(op, acc, x[at]), out[at] = acc;
        else out[at] = acc, acc = combine(op, acc, x[at]);
      }
    }
  return out;
}

}  // namespace

TEST(Scan, EveryOpAxisAndDirectionMatchesTheReference) {
  for (Shape shape : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4}}) {
    array x = test::filled(shape, 0.5, 1.5, 3);  // positive: cumprod stays moderate
    auto xv = to_vector<double>(x);
    for (Op op : {Op::Sum, Op::Prod, Op::Max, Op::Min, Op::Lse})
      for (int axis = 0; axis < static_cast<int>(shape.size()); ++axis)
        for (bool reverse : {false, true})
          for (bool inclusive : {true, false}) {
            SCOPED_TRACE(std::to_string(int(op)) + " axis " + std::to_string(axis) + (reverse ? " rev" : "") +
                         (inclusive ? "" : " excl"));
            auto want = reference(xv, shape, axis, op, reverse, inclusive);
            expect_values(fn_of(op)(x, axis, reverse, inclusive, {}), want, 1e-12);
            // Negative axis, and a transposed (non-contiguous) view of the same values.
            int nd = static_cast<int>(shape.size());
            expect_values(fn_of(op)(x, axis - nd, reverse, inclusive, {}), want, 1e-12);
            if (nd > 1) {
              array xt = transpose(contiguous(transpose(x)));
              expect_values(fn_of(op)(xt, axis, reverse, inclusive, {}), want, 1e-12);
              // float32 through both layouts (the kernel's lanes-together path).
              expect_values(fn_of(op)(astype(xt, float32), axis, reverse, inclusive, {}), want, 1e-4);
            }
          }
  }
}

TEST(Scan, HandValues) {
  array a = array({1, 2, 3, 4});
  expect_values(cumsum(a), {1, 3, 6, 10});
  expect_values(cumsum(a, 0, true), {10, 9, 7, 4});
  expect_values(cumsum(a, 0, false, false), {0, 1, 3, 6});
  expect_values(cumsum(a, 0, true, false), {9, 7, 4, 0});
  expect_values(cumprod(a), {1, 2, 6, 24});
  expect_values(cumprod(a, 0, true, false), {24, 12, 4, 1});
  array b = array({3.f, 1.f, 4.f, 1.f, 5.f});
  expect_values(cummax(b), {3, 3, 4, 4, 5});
  expect_values(cummin(b), {3, 1, 1, 1, 1});
  expect_values(cummax(b, 0, false, false), {-kInf, 3, 3, 4, 4});
  expect_values(cummin(b, 0, true, false), {1, 1, 1, 5, kInf});
  expect_values(logcumsumexp(array({0.f, 0.f, 0.f})), {0, std::log(2.0), std::log(3.0)}, 1e-6);
  // 2-d, flattened when no axis is given.
  array m = reshape(arange(1, 7), {2, 3});
  expect_values(cumsum(m, 0), {1, 2, 3, 5, 7, 9});
  expect_values(cumsum(m, -1), {1, 3, 6, 4, 9, 15});
  array f = cumsum(m);
  EXPECT_EQ(f.shape(), Shape{6});
  expect_values(f, {1, 3, 6, 10, 15, 21});
}

TEST(Scan, Dtypes) {
  // As MLX: bool sums count in int32; other dtypes are kept (integers wrap).
  array bools = array({true, false, true});
  EXPECT_EQ(cumsum(bools).dtype(), int32);
  expect_values(cumsum(bools), {1, 1, 2});
  EXPECT_EQ(cumprod(bools).dtype(), bool_);
  expect_values(cumprod(bools), {1, 0, 0});
  EXPECT_EQ(cummax(bools).dtype(), bool_);
  expect_values(cummax(array({false, true, false})), {0, 1, 1});
  for (Dtype t : {int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64}) {
    SCOPED_TRACE(dtype_name(t));
    array x = astype(array({1, 2, 3}), t);
    EXPECT_EQ(cumsum(x).dtype(), t);
    EXPECT_EQ(cumprod(x).dtype(), t);
    EXPECT_EQ(cummax(x).dtype(), t);
    EXPECT_EQ(cummin(x).dtype(), t);
    expect_values(cumsum(x), {1, 3, 6});
    expect_values(cumprod(x, 0, true), {6, 6, 3});
    if (is_floating_point(t)) expect_values(cummin(x, 0, false, false), {kInf, 1, 1});
  }
  EXPECT_EQ(logcumsumexp(array({1, 2})).dtype(), float32);
  EXPECT_EQ(logcumsumexp(astype(array({1, 2}), float16)).dtype(), float16);
  EXPECT_EQ(to_vector<int32_t>(cummax(array({1, 2}), 0, false, false))[0], std::numeric_limits<int32_t>::lowest());
  // int8 wraps like MLX.
  expect_values(cumsum(astype(array({100, 100}), int8)), {100, -56});
  // float16 accumulates in float32: 4096 ones sum exactly (float16 alone stalls at 2048).
  array halves = ones({4096}, float16);
  EXPECT_EQ(to_vector<float>(cumsum(halves))[2047], 2048.f);
  EXPECT_EQ(to_vector<float>(cumsum(halves))[4095], 4096.f);
  // complex sums and products.
  array c = astype(array({1.f, 2.f}), complex64);
  EXPECT_EQ(cumsum(c).dtype(), complex64);
  expect_values(real(cumprod(c)), {1, 2});
}

TEST(Scan, NanInfEmptyAndScalars) {
  // NaN propagates through cummax/cummin, as NumPy's maximum.accumulate.
  expect_values(cummax(array({1.0, kNan, 3.0})), {1, kNan, kNan});
  expect_values(cummin(array({1.0, kNan, 0.0})), {1, kNan, kNan});
  expect_values(cummax(array({1.0, 3.0, kNan}), 0, true), {kNan, kNan, kNan});
  expect_values(logcumsumexp(array({-kInf, -kInf, 0.0})), {-kInf, -kInf, 0});
  expect_values(logcumsumexp(array({kInf, 1.0})), {kInf, kInf});
  expect_values(logcumsumexp(array({1000.0, 1000.0})), {1000, 1000 + std::log(2.0)}, 1e-9);
  // Empty arrays keep their shape.
  for (Op op : {Op::Sum, Op::Prod, Op::Max, Op::Min, Op::Lse}) {
    array e = fn_of(op)(zeros({0, 3}), 0, false, true, {});
    EXPECT_EQ(e.shape(), (Shape{0, 3}));
    e.eval();
    EXPECT_EQ(fn_of(op)(zeros({2, 0}), 1, true, false, {}).shape(), (Shape{2, 0}));
  }
  // A 0-d array is flattened when no axis is given, and has no axis 0.
  EXPECT_EQ(cumsum(array(5)).shape(), Shape{1});
  expect_values(cumsum(array(5)), {5});
  expect_throws_naming([] { return cumsum(array(5), 0); }, "cumsum");
}

TEST(Scan, Errors) {
  array x = ones({2, 3});
  expect_throws_naming([&] { return cumsum(x, 2); }, "cumsum");
  expect_throws_naming([&] { return cumprod(x, -3); }, "cumprod");
  expect_throws_naming([&] { return cummax(x, 5); }, "cummax");
  expect_throws_naming([&] { return cummin(x, -4); }, "cummin");
  expect_throws_naming([&] { return logcumsumexp(x, 9); }, "logcumsumexp");
  array c = astype(x, complex64);
  expect_throws_naming([&] { return cummax(c, 0); }, "cummax");
  expect_throws_naming([&] { return cummin(c, 0); }, "cummin");
  expect_throws_naming([&] { return logcumsumexp(c, 0); }, "logcumsumexp");
}

TEST(Scan, LongAndWideInputsUseEveryPath) {
  // Long contiguous lines and many short strided lines, against the reference.
  array x = test::filled({3, 70000}, -1, 1, 5);
  auto xv = to_vector<double>(x);
  expect_values(cumsum(x, 1), reference(xv, {3, 70000}, 1, Op::Sum, false, true), 1e-9);
  array y = test::filled({300, 400}, -1, 1, 6);
  auto yv = to_vector<double>(y);
  expect_values(cummax(y, 0, true), reference(yv, {300, 400}, 0, Op::Max, true, true));
  expect_values(cumsum(astype(y, float32), 0), reference(yv, {300, 400}, 0, Op::Sum, false, true), 1e-3);
  // More neighbouring lines than one block of the strided path holds.
  array z = test::filled({4, 5000}, -1, 1, 7);
  expect_values(cumsum(z, 0, true, false), reference(to_vector<double>(z), {4, 5000}, 0, Op::Sum, true, false), 1e-12);
  expect_values(logcumsumexp(transpose(z), 1), reference(to_vector<double>(transpose(z)), {5000, 4}, 1, Op::Lse, false, true),
                1e-12);
}

TEST(Scan, GradientsOfProductsWithZeros) {
  // d/dx_j sum(cumprod(x)) with zeros: only the first zero gets a derivative past it.
  array x = array({2.0, 0.0, 3.0, 0.0, 5.0});
  array g = grad([](const array& y) { return sum(cumprod(y)); })(x);
  // y = [2, 0, 0, 0, 0]: dy0/dx0 = 1; dy_i/dx1 = 2 (i=1), 2*3 (i=2), 0 after the second zero.
  expect_values(g, {1, 2 + 6, 0, 0, 0});
  array gr = grad([](const array& y) { return sum(cumprod(y, 0, true)); })(x);
  // Reverse: y = [0, 0, 0, 0, 5]; only x3 (the first zero from the end) and x4 matter:
  // dy3/dx3 = x4, dy2/dx3 = x2 x4, dy4/dx4 = 1.
  expect_values(gr, {0, 0, 0, 5 + 5 * 3, 1});
  array ge = grad([](const array& y) { return sum(cumprod(y, 0, false, false)); })(array({2.0, 0.0, 3.0}));
  // Exclusive: y = [1, 2, 0]: dy/dx0 = [0, 1, 0], dy/dx1 = [0, 0, 2].
  expect_values(ge, {1, 2, 0});
}

TEST(Scan, GradientsOfMaxAndLogCumSumExp) {
  array x = array({1.0, 3.0, 2.0, 5.0});
  // cummax = [1, 3, 3, 5]: x1 holds outputs 1 and 2.
  expect_values(grad([](const array& y) { return sum(cummax(y)); })(x), {1, 2, 0, 1});
  expect_values(grad([](const array& y) { return sum(cummin(y)); })(x), {4, 0, 0, 0});
  expect_values(grad([](const array& y) { return sum(cummax(y, 0, true)); })(x), {0, 0, 0, 4});
  // sum(logcumsumexp) of huge values: gradients stay finite.
  array big = array({1000.0, 1000.0});
  expect_values(grad([](const array& y) { return sum(logcumsumexp(y)); })(big), {1.5, 0.5}, 1e-12);
}

LAZULI_CHECKER_CASES(scan) {
  using test::Case;
  using test::unary_fn;
  // Drops the first (or, reversed, the last) element of axis 1: an exclusive max/min/lse
  // starts with an infinite identity, which finite differences cannot step across.
  auto tail = [](const array& y, bool reverse) {
    Shape b(y.ndim(), 0), e = y.shape();
    if (reverse) e[1] -= 1;
    else b[1] = 1;
    return slice(y, b, e);
  };
  add("Scan", Case{{{3, 4}}, -2, 2, unary_fn([](const array& x) { return cumsum(x, 1); })});
  add("Scan", Case{{{3, 4}}, -2, 2, unary_fn([](const array& x) { return cumsum(x, 0, true, false); })});
  add("Scan", Case{{{2, 3, 4}}, -2, 2, unary_fn([](const array& x) { return cumsum(x, -2, true); }), true, true});
  add("Scan", Case{{{3, 4}}, 0.5, 1.5, unary_fn([](const array& x) { return cumprod(x, 1); })});
  add("Scan", Case{{{3, 5}}, 0.5, 1.5, unary_fn([](const array& x) { return cumprod(x, 1, true, false); })});
  add("Scan", Case{{{2, 3, 4}}, 0.5, 1.5, unary_fn([](const array& x) { return cumprod(x, 0); }), true, true});
  // Exact zeros in a product: x * mask keeps them zero under every perturbation.
  add("Scan", Case{{{3, 5}}, 0.5, 1.5, unary_fn([](const array& x) {
                     array mask = array({1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0},
                                        {3, 5});
                     return cumprod(multiply(x, mask), 1);
                   })});
  add("Scan", Case{{{3, 5}}, 0.5, 1.5, unary_fn([](const array& x) {
                     array mask = array({1.0, 0.0, 1.0, 0.0, 1.0}, {1, 5});
                     return cumprod(multiply(x, mask), 1, true, false);
                   })});
  add("Scan", Case{{{3, 5}}, -2, 2, unary_fn([](const array& x) { return cummax(x, 1); })});
  add("Scan", Case{{{3, 5}}, -2, 2, unary_fn([tail](const array& x) { return tail(cummax(x, 1, true, false), true); })});
  add("Scan", Case{{{2, 3, 4}}, -2, 2, unary_fn([](const array& x) { return cummax(x, 0, true); }), true, true});
  add("Scan", Case{{{3, 5}}, -2, 2, unary_fn([](const array& x) { return cummin(x, -1, true); })});
  add("Scan", Case{{{3, 5}}, -2, 2, unary_fn([tail](const array& x) { return tail(cummin(x, 1, false, false), false); })});
  add("Scan", Case{{{2, 3, 4}}, -2, 2, unary_fn([](const array& x) { return cummin(x, 2); }), true, true});
  add("Scan", Case{{{3, 4}}, -2, 2, unary_fn([](const array& x) { return logcumsumexp(x, 1); })});
  add("Scan", Case{{{3, 5}}, -2, 2, unary_fn([tail](const array& x) { return tail(logcumsumexp(x, 1, true, false), true); })});
  add("Scan", Case{{{2, 3, 4}}, -2, 2, unary_fn([](const array& x) { return logcumsumexp(x, 1, true); }), true, true});
  add("Scan", Case{{{2, 3, 4}}, -2, 2, unary_fn([tail](const array& x) { return tail(logcumsumexp(x, 1, false, false), false); })});
}

// ---- miscellaneous compositions ----------------------------------------------------------

namespace {
// Central-difference gradient of a scalar function, for checking grad of compositions.
array numeric_grad(const std::function<array(const array&)>& f, const array& x, double h = 1e-6) {
  auto xv = to_vector<double>(x);
  std::vector<double> g(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    auto p = xv, m = xv;
    p[i] += h, m[i] -= h;
    double fp = f(array(p.begin(), x.shape(), float64)).item<double>();
    double fm = f(array(m.begin(), x.shape(), float64)).item<double>();
    g[i] = (fp - fm) / (2 * h);
  }
  return array(g.begin(), x.shape(), float64);
}
}  // namespace

TEST(ScanMisc, Diff) {
  array a = array({1, 4, 9, 16, 25});
  expect_values(diff(a), {3, 5, 7, 9});
  expect_values(diff(a, 2), {2, 2, 2});
  expect_values(diff(a, 0), {1, 4, 9, 16, 25});
  EXPECT_EQ(diff(a, 7).shape(), Shape{0});
  array m = reshape(arange(6), {2, 3});
  expect_values(diff(m, 1, 0), {3, 3, 3});
  expect_values(diff(m, 1, -1), {1, 1, 1, 1});
  EXPECT_EQ(diff(array({true, true, false})).dtype(), bool_);
  expect_values(diff(array({true, true, false})), {0, 1});
  expect_throws_naming([&] { return diff(a, -1); }, "diff");
  expect_throws_naming([&] { return diff(a, 1, 1); }, "diff");
  expect_throws_naming([] { return diff(array(1.f)); }, "diff");
}

TEST(ScanMisc, Softmax) {
  array x = array({1.0, 2.0, 3.0, 1.0, 1.0, 1.0}, {2, 3});
  double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), z = e1 + e2 + e3;
  expect_values(softmax(x, -1), {e1 / z, e2 / z, e3 / z, 1 / 3., 1 / 3., 1 / 3.}, 1e-12);
  expect_values(sum(softmax(x), {0, 1}), {1}, 1e-12);
  expect_values(softmax(x, 0), {1 / (1 + std::exp(-0.0)), 1 / (1 + std::exp(-1.0)), 1 / (1 + std::exp(-2.0)),
                                1 / (1 + std::exp(0.0)), 1 / (1 + std::exp(1.0)), 1 / (1 + std::exp(2.0))},
                1e-12);
  // Large values stay finite; a row of -inf gives NaN as 0/0, as in MLX.
  expect_values(softmax(array({1000.0, 1000.0}), 0), {0.5, 0.5}, 1e-12);
  expect_values(softmax(array({-kInf, 0.0}), 0), {0, 1});
  EXPECT_EQ(softmax(array({1, 2})).dtype(), float32);
  EXPECT_EQ(softmax(astype(array({1, 2}), float16), 0, true).dtype(), float16);
  expect_values(softmax(astype(array({1, 2}), bfloat16), 0, true), {1 / (1 + e1), e1 / (1 + e1)}, 1e-2);
  EXPECT_EQ(softmax(zeros({0, 3}), 1).shape(), (Shape{0, 3}));
  expect_throws_naming([&] { return softmax(x, 2); }, "softmax");
  // Gradient against central differences.
  array w = test::filled({2, 4}, -1, 1, 21), v = test::filled({2, 4}, -2, 2, 22);
  auto f = [&](const array& y) { return sum(multiply(softmax(y, 1), w)); };
  EXPECT_TRUE(allclose(grad(f)(v), numeric_grad(f, v), 1e-5, 1e-7).item<bool>());
}

TEST(ScanMisc, NanToNum) {
  array x = array({kNan, kInf, -kInf, 1.5});
  expect_values(nan_to_num(x), {0, std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(), 1.5});
  expect_values(nan_to_num(x, 7.0, 1.0, -1.0), {7, 1, -1, 1.5});
  expect_values(nan_to_num(astype(x, float16)), {0, 65504, -65504, 1.5});
  EXPECT_EQ(nan_to_num(astype(x, float32)).dtype(), float32);
  expect_values(nan_to_num(array({1, 2})), {1, 2});
  expect_throws_naming([] { return nan_to_num(array(complex64_t(1.f, 0.f))); }, "nan_to_num");
}

TEST(ScanMisc, Roll) {
  array a = arange(5);
  expect_values(roll(a, 2), {3, 4, 0, 1, 2});
  expect_values(roll(a, -1), {1, 2, 3, 4, 0});
  expect_values(roll(a, 12), {3, 4, 0, 1, 2});
  array m = reshape(arange(6), {2, 3});
  expect_values(roll(m, 1), {5, 0, 1, 2, 3, 4});  // flattened
  expect_values(roll(m, 1, 1), {2, 0, 1, 5, 3, 4});
  expect_values(roll(m, 1, -2), {3, 4, 5, 0, 1, 2});
  expect_values(roll(m, Shape{1, 1}, {0, 1}), {5, 3, 4, 2, 0, 1});
  expect_values(roll(m, Shape{1}, {0, 1}), {5, 3, 4, 2, 0, 1});
  EXPECT_EQ(roll(zeros({0, 2}), 3, 0).shape(), (Shape{0, 2}));
  expect_values(roll(array(4), 3), {4});
  expect_throws_naming([&] { return roll(m, 1, 2); }, "roll");
  expect_throws_naming([&] { return roll(m, Shape{1, 2, 3}, {0, 1}); }, "roll");
  array w = test::filled({3, 4}, -1, 1, 23), v = test::filled({3, 4}, -1, 1, 24);
  auto f = [&](const array& y) { return sum(multiply(square(roll(y, Shape{1, -3}, {0, 1})), w)); };
  EXPECT_TRUE(allclose(grad(f)(v), numeric_grad(f, v), 1e-5, 1e-7).item<bool>());
}

TEST(ScanMisc, DiagonalDiagTrace) {
  array m = reshape(arange(12), {3, 4});
  expect_values(diagonal(m), {0, 5, 10});
  expect_values(diagonal(m, 1), {1, 6, 11});
  expect_values(diagonal(m, -1), {4, 9});
  expect_values(diagonal(m, 5), {});
  expect_values(diagonal(m, 0, 1, 0), {0, 5, 10});
  array t = reshape(arange(24), {2, 3, 4});
  array d = diagonal(t, 0, 1, 2);
  EXPECT_EQ(d.shape(), (Shape{2, 3}));
  expect_values(d, {0, 5, 10, 12, 17, 22});
  array d2 = diagonal(t, 1, -1, 0);  // planes (axis 2, axis 0): a[j, :, j + 1]... rows of axis 2
  EXPECT_EQ(d2.shape(), (Shape{3, 1}));
  expect_values(d2, {12, 16, 20});
  expect_values(diag(array({1, 2})), {1, 0, 0, 2});
  expect_values(diag(array({1, 2}), 1), {0, 1, 0, 0, 0, 2, 0, 0, 0});
  expect_values(diag(array({1, 2}), -1), {0, 0, 0, 1, 0, 0, 0, 2, 0});
  expect_values(diag(m, 1), {1, 6, 11});
  EXPECT_EQ(trace(m).item<int32_t>(), 15);
  EXPECT_EQ(trace(m, 1).item<int32_t>(), 18);
  EXPECT_EQ(trace(m, 0, 0, 1, float32).dtype(), float32);
  expect_values(trace(t, 0, 1, 2), {15, 51});
  expect_throws_naming([&] { return diagonal(m, 0, 1, 1); }, "diagonal");
  expect_throws_naming([] { return diagonal(arange(3)); }, "diagonal");
  expect_throws_naming([] { return diag(zeros({2, 2, 2})); }, "diag");
  expect_throws_naming([] { return trace(arange(3)); }, "trace");
  // Gradients flow through take and scatter.
  array v = test::filled({3, 4}, -1, 1, 25);
  expect_values(grad([](const array& y) { return sum(diagonal(y, 1)); })(v), {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1});
  expect_values(grad([](const array& y) { return sum(multiply(diag(y), diag(y))); })(array({1.0, 2.0})), {2, 4});
}

TEST(ScanMisc, MeshgridKronVecdot) {
  array x = array({1, 2, 3}), y = array({4, 5});
  auto xy = meshgrid({x, y});
  EXPECT_EQ(xy[0].shape(), (Shape{2, 3}));
  expect_values(xy[0], {1, 2, 3, 1, 2, 3});
  expect_values(xy[1], {4, 4, 4, 5, 5, 5});
  auto ij = meshgrid({x, y}, false, "ij");
  EXPECT_EQ(ij[0].shape(), (Shape{3, 2}));
  expect_values(ij[1], {4, 5, 4, 5, 4, 5});
  auto sp = meshgrid({x, y}, true);
  EXPECT_EQ(sp[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(sp[1].shape(), (Shape{2, 1}));
  EXPECT_EQ(meshgrid({x, y, array({7, 8, 9, 10})})[2].shape(), (Shape{2, 3, 4}));
  expect_throws_naming([&] { return meshgrid({x}, false, "yx")[0]; }, "meshgrid");
  array k = kron(array({1, 2}), array({1, 10, 100}));
  expect_values(k, {1, 10, 100, 2, 20, 200});
  array k2 = kron(reshape(arange(1, 5), {2, 2}), eye(2, int32));
  EXPECT_EQ(k2.shape(), (Shape{4, 4}));
  expect_values(k2, {1, 0, 2, 0, 0, 1, 0, 2, 3, 0, 4, 0, 0, 3, 0, 4});
  EXPECT_EQ(kron(ones({2}), ones({3, 4})).shape(), (Shape{3, 8}));
  array a = reshape(arange(6), {2, 3}), b = array({1, 1, 2});
  expect_values(vecdot(a, b), {0 + 1 + 4, 3 + 4 + 10});
  expect_values(vecdot(a, reshape(array({1, 2}), {2, 1}), 0), {6, 9, 12});
  expect_throws_naming([&] { return vecdot(a, b, 2); }, "vecdot");
}
