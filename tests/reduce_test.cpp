// Reductions: every op over every axis combination (negative axes, keepdims) of 1-d and
// 3-d inputs in several layouts against a float64 reference; dtype rules; accuracy of long
// sums; NaN, ties, empty arrays and axis errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "checker.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

std::vector<float> pseudo_random(size_t n, float lo, float hi, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 12345;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * float(s >> 8) / float(1 << 24);
  }
  return v;
}

using Group = std::vector<double>;
using RefFn = std::function<double(const Group&)>;

// Reduces row-major `x` of `shape` over `axes` (normalised, any order), in float64. The
// elements of each group are in row-major order of the reduced axes.
std::vector<double> ref_reduce(const std::vector<double>& x, const Shape& shape, std::vector<int> axes,
                               const RefFn& f) {
  int nd = static_cast<int>(shape.size());
  for (auto& a : axes) a = a < 0 ? a + nd : a;
  std::vector<bool> red(nd, false);
  for (int a : axes) red[a] = true;
  size_t nout = 1;
  for (int d = 0; d < nd; ++d)
    if (!red[d]) nout *= shape[d];
  std::vector<Group> groups(nout);
  std::vector<int> idx(nd, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    size_t o = 0;
    for (int d = 0; d < nd; ++d)
      if (!red[d]) o = o * shape[d] + idx[d];
    groups[o].push_back(x[i]);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  std::vector<double> out;
  for (auto& g : groups) out.push_back(f(g));
  return out;
}

Shape reduced_shape(const Shape& shape, std::vector<int> axes, bool keepdims) {
  int nd = static_cast<int>(shape.size());
  for (auto& a : axes) a = a < 0 ? a + nd : a;
  Shape out;
  for (int d = 0; d < nd; ++d) {
    bool r = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!r) out.push_back(shape[d]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

double r_sum(const Group& g) {
  double s = 0;
  for (double v : g) s += v;
  return s;
}
double r_prod(const Group& g) {
  double s = 1;
  for (double v : g) s *= v;
  return s;
}
double r_max(const Group& g) {
  double m = -kInf;
  for (double v : g) {
    if (std::isnan(v)) return kNan;
    m = std::max(m, v);
  }
  return m;
}
double r_min(const Group& g) {
  double m = kInf;
  for (double v : g) {
    if (std::isnan(v)) return kNan;
    m = std::min(m, v);
  }
  return m;
}
double r_mean(const Group& g) { return r_sum(g) / double(g.size()); }
double r_var(const Group& g, int ddof) {
  double m = r_mean(g), s = 0;
  for (double v : g) s += (v - m) * (v - m);
  return s / (double(g.size()) - ddof);
}
double r_lse(const Group& g) {
  double m = r_max(g);
  if (std::isinf(m)) return m;
  double s = 0;
  for (double v : g) s += std::exp(v - m);
  return m + std::log(s);
}
double r_all(const Group& g) {
  for (double v : g)
    if (v == 0) return 0;
  return 1;
}
double r_any(const Group& g) {
  for (double v : g)
    if (v != 0) return 1;
  return 0;
}
double r_count(const Group& g) {
  double c = 0;
  for (double v : g) c += v != 0;
  return c;
}
double r_argmax(const Group& g) {
  size_t best = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i])) return double(i);
    if (g[i] > g[best]) best = i;
  }
  return double(best);
}
double r_argmin(const Group& g) {
  size_t best = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i])) return double(i);
    if (g[i] < g[best]) best = i;
  }
  return double(best);
}

using AxesFn = std::function<array(const array&, const std::vector<int>&, bool)>;

struct RedCase {
  const char* name;
  AxesFn fn;
  RefFn ref;
  double rtol;
};

std::vector<RedCase> float_cases() {
  return {
      {"sum", [](const array& a, const std::vector<int>& ax, bool k) { return sum(a, ax, k); }, r_sum, 1e-5},
      {"prod", [](const array& a, const std::vector<int>& ax, bool k) { return prod(a, ax, k); }, r_prod, 1e-5},
      {"max", [](const array& a, const std::vector<int>& ax, bool k) { return max(a, ax, k); }, r_max, 0},
      {"min", [](const array& a, const std::vector<int>& ax, bool k) { return min(a, ax, k); }, r_min, 0},
      {"mean", [](const array& a, const std::vector<int>& ax, bool k) { return mean(a, ax, k); }, r_mean, 1e-5},
      {"var", [](const array& a, const std::vector<int>& ax, bool k) { return var(a, ax, k); },
       [](const Group& g) { return r_var(g, 0); }, 1e-4},
      {"var_ddof1", [](const array& a, const std::vector<int>& ax, bool k) { return var(a, ax, k, 1); },
       [](const Group& g) { return r_var(g, 1); }, 1e-4},
      {"std", [](const array& a, const std::vector<int>& ax, bool k) { return lazuli::std(a, ax, k); },
       [](const Group& g) { return std::sqrt(r_var(g, 0)); }, 1e-4},
      {"std_ddof1", [](const array& a, const std::vector<int>& ax, bool k) { return lazuli::std(a, ax, k, 1); },
       [](const Group& g) { return std::sqrt(r_var(g, 1)); }, 1e-4},
      {"logsumexp", [](const array& a, const std::vector<int>& ax, bool k) { return logsumexp(a, ax, k); }, r_lse,
       1e-5},
      {"all", [](const array& a, const std::vector<int>& ax, bool k) { return all(a, ax, k); }, r_all, 0},
      {"any", [](const array& a, const std::vector<int>& ax, bool k) { return any(a, ax, k); }, r_any, 0},
      {"count_nonzero",
       [](const array& a, const std::vector<int>& ax, bool k) { return count_nonzero(a, ax, k); }, r_count, 0},
  };
}

void expect_matches(const array& out, const std::vector<double>& want, const Shape& want_shape, double rtol,
                    const std::string& ctx) {
  ASSERT_EQ(out.shape(), want_shape) << ctx;
  auto got = to_vector<double>(out);
  ASSERT_EQ(got.size(), want.size()) << ctx;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << ctx << " at " << i << ": got " << got[i];
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << ctx << " at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], rtol * std::max(1.0, std::fabs(want[i])) + 1e-6) << ctx << " at " << i;
    }
  }
}

// Runs every case over every axis set of `x` (any layout) with and without keepdims.
void check_all_axes(const array& x, const std::string& layout) {
  auto xv = to_vector<double>(x);
  Shape shape = x.shape();
  int nd = static_cast<int>(shape.size());
  std::vector<std::vector<int>> axis_sets;
  for (int m = 1; m < (1 << nd); ++m) {
    std::vector<int> s;
    for (int d = 0; d < nd; ++d)
      if (m & (1 << d)) s.push_back(d);
    axis_sets.push_back(s);
  }
  axis_sets.push_back({-1});
  if (nd >= 2) axis_sets.push_back({-1, 0});
  if (nd >= 3) axis_sets.push_back({-3, -2});
  for (auto& c : float_cases()) {
    for (auto& axes : axis_sets) {
      for (bool keep : {false, true}) {
        std::string ctx = std::string(c.name) + " over {";
        for (int a : axes) ctx += std::to_string(a) + ",";
        ctx += "} keepdims=" + std::to_string(keep) + " " + layout;
        expect_matches(c.fn(x, axes, keep), ref_reduce(xv, shape, axes, c.ref), reduced_shape(shape, axes, keep),
                       c.rtol, ctx);
      }
    }
  }
  // Arg reductions along each axis (and negative ones).
  for (int ax = -nd; ax < nd; ++ax) {
    for (bool keep : {false, true}) {
      std::string ctx = "axis " + std::to_string(ax) + " keepdims=" + std::to_string(keep) + " " + layout;
      array am = argmax(x, ax, keep), an = argmin(x, ax, keep);
      EXPECT_EQ(am.dtype(), uint32);
      expect_matches(am, ref_reduce(xv, shape, {ax}, r_argmax), reduced_shape(shape, {ax}, keep), 0, "argmax " + ctx);
      expect_matches(an, ref_reduce(xv, shape, {ax}, r_argmin), reduced_shape(shape, {ax}, keep), 0, "argmin " + ctx);
    }
  }
}

array make3(const std::vector<float>& v, Shape shape) { return array(v.begin(), std::move(shape), float32); }

}  // namespace

TEST(ReduceAxes, Contiguous3d) {
  auto v = pseudo_random(60, 0.5f, 1.5f, 1);
  v[7] = 0.f;  // a zero for all/any/count_nonzero
  check_all_axes(make3(v, {3, 4, 5}), "contiguous (3,4,5)");
}

TEST(ReduceAxes, OneDim) {
  auto v = pseudo_random(37, -1.f, 2.f, 2);
  v[3] = 0.f;
  check_all_axes(make3(v, {37}), "1-d");
  check_all_axes(slice(make3(v, {37}), {36}, {-38}, {-1}), "1-d reversed");
}

TEST(ReduceAxes, Transposed3d) {
  auto v = pseudo_random(60, 0.5f, 1.5f, 3);
  v[11] = 0.f;
  array x = make3(v, {3, 4, 5});
  check_all_axes(transpose(x, {2, 0, 1}), "transposed (5,3,4)");
  check_all_axes(transpose(x), "reversed axes (5,4,3)");
}

TEST(ReduceAxes, Sliced3d) {
  auto v = pseudo_random(6 * 4 * 10, 0.5f, 1.5f, 4);
  v[0] = 0.f;
  array big = make3(v, {6, 4, 10});
  check_all_axes(slice(big, {0, 0, 1}, {6, 4, 10}, {2, 1, 2}), "strided slice (3,4,5)");
  check_all_axes(slice(big, {1, 1, 0}, {4, 3, 10}), "offset slice (3,2,10)");
}

TEST(ReduceAxes, Broadcast3d) {
  auto v = pseudo_random(15, 0.5f, 1.5f, 5);
  array x = broadcast_to(make3(v, {3, 1, 5}), {3, 4, 5});
  check_all_axes(x, "broadcast (3,1,5)->(3,4,5)");
}

TEST(ReduceAxes, SizeOneAxes) {
  auto v = pseudo_random(12, 0.5f, 1.5f, 6);
  check_all_axes(make3(v, {3, 1, 4}), "(3,1,4)");
  check_all_axes(make3(v, {1, 12, 1}), "(1,12,1)");
}

TEST(ReduceAxes, OverloadsAgree) {
  auto v = pseudo_random(24, -1.f, 1.f, 7);
  array x = make3(v, {2, 3, 4});
  // All axes (no axes given), one int axis, and the vector form.
  EXPECT_NEAR(sum(x).item<float>(), to_vector<float>(sum(x, {0, 1, 2}))[0], 1e-6);
  EXPECT_EQ(sum(x).ndim(), 0u);
  EXPECT_EQ(sum(x, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(max(x, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(mean(x, 1).shape(), (Shape{2, 4}));
  EXPECT_EQ(mean(x, -1, true).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(var(x, 0, false, 1).shape(), (Shape{3, 4}));
  EXPECT_EQ(lazuli::std(x, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(logsumexp(x, 2).shape(), (Shape{2, 3}));
  EXPECT_EQ(count_nonzero(x, 0, true).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(all(x, 1).shape(), (Shape{2, 4}));
  EXPECT_EQ(any(x).shape(), Shape{});
  EXPECT_EQ(argmax(x).shape(), Shape{});
  EXPECT_EQ(argmin(x, true).shape(), (Shape{1, 1, 1}));
  for (int ax = 0; ax < 3; ++ax) {
    auto a = to_vector<float>(prod(x, ax)), b = to_vector<float>(prod(x, std::vector<int>{ax}));
    EXPECT_EQ(a, b);
    auto c = to_vector<float>(min(x, ax - 3)), d = to_vector<float>(min(x, std::vector<int>{ax}));
    EXPECT_EQ(c, d);
  }
  // An empty axis list reduces nothing.
  array s = sum(x, std::vector<int>{});
  EXPECT_EQ(s.shape(), x.shape());
  EXPECT_EQ(to_vector<float>(s), v);
  // Flattened argmax/argmin of a 3-d array (and of a transposed one).
  auto xv = to_vector<double>(x);
  EXPECT_EQ(argmax(x).item<uint32_t>(), uint32_t(r_argmax(xv)));
  EXPECT_EQ(argmin(x).item<uint32_t>(), uint32_t(r_argmin(xv)));
  array xt = transpose(x);
  auto xtv = to_vector<double>(xt);
  EXPECT_EQ(argmax(xt).item<uint32_t>(), uint32_t(r_argmax(xtv)));
  EXPECT_EQ(argmin(xt, true).item<uint32_t>(), uint32_t(r_argmin(xtv)));
}

TEST(ReduceDtypes, AccumulationAndResultTypes) {
  // Small integers and bools sum (and multiply) in 32 bits.
  array i8 = full({100}, 100, int8);
  EXPECT_EQ(sum(i8).dtype(), int32);
  EXPECT_EQ(sum(i8).item<int32_t>(), 10000);
  EXPECT_EQ(prod(array({100, 100, 100}, int8)).dtype(), int32);
  EXPECT_EQ(prod(array({100, 100, 100}, int8)).item<int32_t>(), 1000000);
  EXPECT_EQ(sum(array({30000, 30000}, int16)).item<int32_t>(), 60000);
  EXPECT_EQ(sum(array({true, true, false, true})).dtype(), int32);
  EXPECT_EQ(sum(array({true, true, false, true})).item<int32_t>(), 3);
  EXPECT_EQ(sum(full({300}, 255, uint8)).dtype(), uint32);
  EXPECT_EQ(sum(full({300}, 255, uint8)).item<uint32_t>(), 76500u);
  EXPECT_EQ(sum(array({1, 2}, uint16)).dtype(), uint32);
  EXPECT_EQ(sum(array({1, 2}, int32)).dtype(), int32);
  EXPECT_EQ(sum(array({1, 2}, int64)).dtype(), int64);
  EXPECT_EQ(sum(array({1, 2}, uint64)).dtype(), uint64);
  EXPECT_EQ(sum(array({1.0f, 2.0f}, float16)).dtype(), float16);
  EXPECT_EQ(sum(array({1.0f, 2.0f}, bfloat16)).dtype(), bfloat16);
  EXPECT_EQ(sum(array({1.0, 2.0})).dtype(), float64);
  EXPECT_EQ(prod(array({true, false})).dtype(), int32);
  // Max/min keep the dtype.
  for (Dtype dt : {int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = array({3, 1, 7, 2}, dt);
    EXPECT_EQ(max(x).dtype(), dt);
    EXPECT_EQ(min(x).dtype(), dt);
    expect_values(max(x), {7});
    expect_values(min(x), {1});
    expect_values(sum(x), {13});
    expect_values(prod(x), {42});
    EXPECT_EQ(argmax(x).item<uint32_t>(), 2u);
    EXPECT_EQ(argmin(x).item<uint32_t>(), 1u);
    EXPECT_EQ(all(x).dtype(), bool_);
    EXPECT_TRUE(all(x).item<bool>());
    EXPECT_TRUE(any(x).item<bool>());
    EXPECT_EQ(count_nonzero(x).item<int32_t>(), 4);
    Dtype mt = is_integral(dt) ? float32 : dt;
    EXPECT_EQ(mean(x).dtype(), mt);
    expect_values(mean(x), {3.25});
    EXPECT_EQ(var(x).dtype(), mt);
    expect_values(var(x), {5.1875}, dt == bfloat16 ? 0.05 : dt == float16 ? 0.01 : 1e-5);
    expect_values(var(x, false, 1), {20.75 / 3}, dt == bfloat16 ? 0.05 : dt == float16 ? 0.01 : 1e-5);
    expect_values(lazuli::std(x), {std::sqrt(5.1875)}, dt == bfloat16 ? 0.02 : dt == float16 ? 5e-3 : 1e-6);
  }
  // Extremes of integer types.
  expect_values(max(array({-128, -100}, int8)), {-100});
  expect_values(min(array({127, 100}, int8)), {100});
  auto umax = to_vector<uint64_t>(max(array({uint64_t(1), ~uint64_t(0), uint64_t(5)})));
  EXPECT_EQ(umax[0], ~uint64_t(0));
  auto imin = to_vector<int64_t>(min(array({int64_t(1), std::numeric_limits<int64_t>::min()})));
  EXPECT_EQ(imin[0], std::numeric_limits<int64_t>::min());
  // Bools: max/min are any/all.
  EXPECT_EQ(max(array({false, true})).dtype(), bool_);
  EXPECT_TRUE(max(array({false, true})).item<bool>());
  EXPECT_FALSE(min(array({false, true})).item<bool>());
  EXPECT_EQ(argmax(array({false, true, true})).item<uint32_t>(), 1u);
  // count_nonzero gives int32.
  EXPECT_EQ(count_nonzero(array({0.0f, 1.0f})).dtype(), int32);
  // Mean of integers is a float: 1.5, not 1.
  EXPECT_FLOAT_EQ(mean(array({1, 2})).item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(mean(array({true, false, false, false})).item<float>(), 0.25f);
}

TEST(ReduceDtypes, HalfPrecisionAccumulatesInFloat32) {
  // 10000 ones in float16 would stall at 2048 if accumulated in float16.
  EXPECT_EQ(sum(ones({10000}, float16)).item<float>(), 10000.f);
  EXPECT_EQ(sum(ones({1000}, bfloat16)).item<float>(), 1000.f);
  // Column sums too.
  array cs = sum(ones({5000, 3}, float16), 0);
  EXPECT_EQ(cs.dtype(), float16);
  expect_values(cs, {5000, 5000, 5000});
  expect_values(sum(ones({3, 5000}, bfloat16), 1), {4992, 4992, 4992});  // 5000 rounds to 4992 in bfloat16
  expect_values(mean(ones({4000}, float16)), {1});
  expect_values(mean(full({3, 4000}, 0.5f, bfloat16), 1), {0.5, 0.5, 0.5});
  // Random values against float64.
  auto v = pseudo_random(4096, -1.f, 1.f, 9);
  for (Dtype dt : {float16, bfloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    array x = reshape(array(v.begin(), Shape{4096}, dt), {64, 64});
    auto xv = to_vector<double>(x);
    double eps = dt == float16 ? 1e-3 : 8e-3;
    for (int ax = 0; ax < 2; ++ax) {
      auto want = ref_reduce(xv, {64, 64}, {ax}, r_sum);
      auto got = to_vector<double>(sum(x, ax));
      for (int i = 0; i < 64; ++i) EXPECT_NEAR(got[i], want[i], eps * std::max(1.0, std::fabs(want[i])));
      auto wmax = ref_reduce(xv, {64, 64}, {ax}, r_max);
      EXPECT_EQ(to_vector<double>(max(x, ax)), wmax);
    }
    EXPECT_NEAR(sum(x).item<float>(), r_sum(xv), eps * std::max(1.0, std::fabs(r_sum(xv))) + 1e-3);
    EXPECT_NEAR(logsumexp(x).item<float>(), r_lse(xv), eps * 10);
  }
  array h = array({1.0f, NAN, 3.0f}, float16);
  EXPECT_TRUE(std::isnan(max(h).item<float>()));
  EXPECT_EQ(argmax(h).item<uint32_t>(), 1u);
}

TEST(ReduceAccuracy, LongSums) {
  // 10M ones: exact.
  array ones10m = ones({10'000'000});
  EXPECT_EQ(sum(ones10m).item<float>(), 1e7f);
  // 10M copies of 0.1f: a naive float accumulator drifts by ~9%; require 1e-5.
  array tenth = full({10'000'000}, 0.1f);
  EXPECT_NEAR(sum(tenth).item<float>(), 1e6, 10.0);
  EXPECT_NEAR(mean(tenth).item<float>(), 0.1, 1e-6);
  // The same along columns: 2.5M rows of 4 columns.
  array cols = sum(reshape(tenth, {2'500'000, 4}), 0);
  expect_values(cols, {250000, 250000, 250000, 250000}, 2.5);
  // And rows of a 4 x 2.5M matrix.
  expect_values(sum(reshape(tenth, {4, 2'500'000}), 1), {250000, 250000, 250000, 250000}, 2.5);
  // 20M ones pass 2^24, where a float accumulator stops counting.
  EXPECT_EQ(sum(ones({20'000'000})).item<float>(), 2e7f);
  expect_values(sum(ones({10'000'000, 2}), 0), {1e7, 1e7});
}

TEST(ReduceAccuracy, LargeRowAndColumnSums) {
  const int n = 4096;
  auto v = pseudo_random(size_t(n) * n, 0.f, 1.f, 10);
  array x(v.begin(), Shape{n, n});
  std::vector<double> rows(n, 0), cols(n, 0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      rows[i] += v[size_t(i) * n + j];
      cols[j] += v[size_t(i) * n + j];
    }
  auto rs = to_vector<float>(sum(x, 1)), cs = to_vector<float>(sum(x, 0));
  for (int i = 0; i < n; ++i) {
    ASSERT_NEAR(rs[i], rows[i], 1e-5 * rows[i]) << "row " << i;
    ASSERT_NEAR(cs[i], cols[i], 1e-5 * cols[i]) << "column " << i;
  }
  // Column sums of the transpose are the row sums.
  auto ts = to_vector<float>(sum(transpose(x), 0));
  for (int i = 0; i < n; ++i) ASSERT_NEAR(ts[i], rows[i], 1e-5 * rows[i]);
  double total = 0;
  for (double r : rows) total += r;
  EXPECT_NEAR(sum(x).item<float>(), total, 1e-6 * total);
  EXPECT_NEAR(mean(x).item<float>(), total / (double(n) * n), 1e-6);
  // max and argmax over the big matrix.
  auto mx = to_vector<float>(max(x, 0));
  auto amx = to_vector<uint32_t>(argmax(x, 0));
  for (int j = 0; j < n; j += 97) {
    float m = -1;
    uint32_t arg = 0;
    for (int i = 0; i < n; ++i)
      if (v[size_t(i) * n + j] > m) m = v[size_t(i) * n + j], arg = i;
    ASSERT_EQ(mx[j], m);
    ASSERT_EQ(amx[j], arg);
  }
}

TEST(ReduceSpecial, NaNTiesAndInfinities) {
  array x = array({1.0f, NAN, 5.0f, NAN});
  EXPECT_TRUE(std::isnan(max(x).item<float>()));
  EXPECT_TRUE(std::isnan(min(x).item<float>()));
  EXPECT_TRUE(std::isnan(sum(x).item<float>()));
  EXPECT_EQ(argmax(x).item<uint32_t>(), 1u);
  EXPECT_EQ(argmin(x).item<uint32_t>(), 1u);
  EXPECT_EQ(argmax(array({NAN, 1.0f})).item<uint32_t>(), 0u);
  EXPECT_EQ(argmin(array({2.0f, 1.0f, NAN})).item<uint32_t>(), 2u);
  // NaN first in a column reduction, and last.
  array m = array({NAN, 1.0f, 2.0f, 3.0f, 4.0f, NAN}, Shape{3, 2});
  auto mx = to_vector<float>(max(m, 0));
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]));
  auto mn = to_vector<float>(min(m, 1));
  EXPECT_TRUE(std::isnan(mn[0]));
  EXPECT_EQ(mn[1], 2.0f);
  EXPECT_TRUE(std::isnan(mn[2]));
  expect_values(argmax(m, 0), {0, 2});
  expect_values(argmin(m, 1), {0, 0, 1});
  // Ties: the first index wins.
  EXPECT_EQ(argmax(array({3, 7, 7, 1})).item<uint32_t>(), 1u);
  EXPECT_EQ(argmin(array({3, 1, 7, 1})).item<uint32_t>(), 1u);
  EXPECT_EQ(argmax(array({2.0f, 2.0f, 2.0f})).item<uint32_t>(), 0u);
  array t = array({5, 5, 1, 9, 1, 9}, Shape{2, 3});
  expect_values(argmax(t, 0), {1, 0, 1});
  expect_values(argmin(t, 0), {0, 1, 0});
  expect_values(argmax(transpose(t), 1), {1, 0, 1});
  expect_values(argmax(t, 1), {0, 0});
  expect_values(argmin(t, 1), {2, 1});
  // Infinities.
  expect_values(max(array({-kInf, -kInf})), {-kInf});
  expect_values(min(array({kInf, 1.0})), {1});
  expect_values(sum(array({kInf, 1.0})), {kInf});
  EXPECT_TRUE(std::isnan(sum(array({kInf, -kInf})).item<double>()));
  EXPECT_EQ(argmax(array({-kInf, -kInf, -1e308})).item<uint32_t>(), 2u);
  EXPECT_EQ(argmin(array({kInf, kInf})).item<uint32_t>(), 0u);
  // all/any over NaN and -0.
  EXPECT_TRUE(all(array({1.0f, NAN})).item<bool>());
  EXPECT_FALSE(any(array({0.0f, -0.0f})).item<bool>());
  EXPECT_EQ(count_nonzero(array({0.0f, -0.0f, NAN, 2.0f})).item<int32_t>(), 2);
}

TEST(ReduceSpecial, LogSumExp) {
  expect_values(logsumexp(array({1000.0f, 1000.0f})), {1000 + std::log(2.0)}, 1e-4);
  expect_values(logsumexp(array({-1000.0f, -1000.0f})), {-1000 + std::log(2.0)}, 1e-4);
  expect_values(logsumexp(array({-kInf, -kInf})), {-kInf});
  expect_values(logsumexp(array({kInf, 1.0})), {kInf});
  expect_values(logsumexp(array({kInf, kInf})), {kInf});
  expect_values(logsumexp(array({-kInf, 0.0})), {0});
  EXPECT_TRUE(std::isnan(logsumexp(array({kNan, 1.0})).item<double>()));
  // Per row, with one row all -inf.
  array m = array({-kInf, -kInf, 0.0, 0.0, 1e4, 0.0}, Shape{3, 2});
  expect_values(logsumexp(m, 1), {-kInf, std::log(2.0), 1e4}, 1e-9);
  expect_values(logsumexp(m, 1, true), {-kInf, std::log(2.0), 1e4}, 1e-9);
  EXPECT_EQ(logsumexp(m, 1, true).shape(), (Shape{3, 1}));
  // Integers go through float32.
  EXPECT_EQ(logsumexp(array({1, 2})).dtype(), float32);
  expect_values(logsumexp(array({1, 2})), {2 + std::log1p(std::exp(-1.0))}, 1e-6);
}

TEST(ReduceSpecial, VarStdDdof) {
  array x = array({1.0, 2.0, 3.0, 4.0});
  expect_values(var(x), {1.25}, 1e-12);
  expect_values(var(x, false, 1), {5.0 / 3.0}, 1e-12);
  expect_values(lazuli::std(x), {std::sqrt(1.25)}, 1e-12);
  expect_values(lazuli::std(x, false, 1), {std::sqrt(5.0 / 3.0)}, 1e-12);
  expect_values(var(array({1.0, 2.0}), false, 2), {kInf});  // n - ddof == 0
  EXPECT_TRUE(std::isnan(var(array({1.0, 1.0}), false, 2).item<double>()));
  // Large offset: the two-pass variance keeps its accuracy.
  expect_values(var(array({1e6f + 1.f, 1e6f + 2.f, 1e6f + 3.f})), {2.0 / 3.0}, 1e-5);
  expect_values(var(array({1e8 + 1.0, 1e8 + 3.0})), {1.0}, 1e-6);
  // Per-axis with ddof.
  array m = array({1.0f, 2.0f, 3.0f, 5.0f, 7.0f, 9.0f}, Shape{2, 3});
  expect_values(var(m, 1, false, 1), {1.0, 4.0}, 1e-6);
  expect_values(lazuli::std(m, 0, true, 1), {std::sqrt(8.0), std::sqrt(12.5), std::sqrt(18.0)}, 1e-5);
  // Complex, as MLX: the mean of the squared deviations themselves, complex64 (i^2 = -1).
  array z = array({complex64_t(1, 1), complex64_t(1, -1)});
  EXPECT_EQ(var(z).dtype(), complex64);
  EXPECT_EQ(var(z).item<complex64_t>(), complex64_t(-1, 0));
  EXPECT_EQ(lazuli::std(z).dtype(), complex64);
  EXPECT_NEAR(std::abs(lazuli::std(z).item<complex64_t>() - complex64_t(0, 1)), 0.0, 1e-6);
}

TEST(ReduceEmpty, IdentitiesAndErrors) {
  EXPECT_EQ(sum(zeros({0})).item<float>(), 0.f);
  EXPECT_EQ(prod(zeros({0})).item<float>(), 1.f);
  EXPECT_EQ(sum(zeros({0}, int32)).item<int32_t>(), 0);
  EXPECT_EQ(prod(zeros({0}, int8)).item<int32_t>(), 1);
  expect_values(sum(zeros({0, 3}), 0), {0, 0, 0});
  expect_values(prod(zeros({0, 3}), 0), {1, 1, 1});
  EXPECT_EQ(sum(zeros({0, 3}), 1).shape(), Shape{0});
  EXPECT_EQ(sum(zeros({0, 3}), 1, true).shape(), (Shape{0, 1}));
  EXPECT_EQ(sum(zeros({0, 3}), true).shape(), (Shape{1, 1}));
  EXPECT_TRUE(all(zeros({0}, bool_)).item<bool>());
  EXPECT_FALSE(any(zeros({0}, bool_)).item<bool>());
  EXPECT_EQ(count_nonzero(zeros({0})).item<int32_t>(), 0);
  EXPECT_TRUE(std::isnan(mean(zeros({0})).item<float>()));
  expect_values(logsumexp(zeros({0})), {-kInf});
  expect_values(logsumexp(zeros({2, 0}), 1), {-kInf, -kInf});
  // Max/min over a non-empty axis of an empty array are fine (empty result) ...
  EXPECT_EQ(max(zeros({0, 3}), 1).shape(), Shape{0});
  EXPECT_EQ(argmax(zeros({0, 3}), 1).shape(), Shape{0});
  // ... over an empty axis they have no identity.
  expect_throws_naming([] { return max(zeros({0})); }, "max");
  expect_throws_naming([] { return min(zeros({0})); }, "min");
  expect_throws_naming([] { return max(zeros({0, 3}), 0); }, "max");
  expect_throws_naming([] { return min(zeros({2, 0}), std::vector<int>{0, 1}); }, "min");
  expect_throws_naming([] { return argmax(zeros({0})); }, "argmax");
  expect_throws_naming([] { return argmin(zeros({3, 0}), 1); }, "argmin");
  // 0-d inputs reduce to themselves.
  EXPECT_EQ(sum(array(5.0f)).item<float>(), 5.f);
  EXPECT_EQ(max(array(-2)).item<int32_t>(), -2);
  EXPECT_EQ(sum(array(int8_t(7))).dtype(), int32);
  EXPECT_EQ(argmax(array(3.0f)).item<uint32_t>(), 0u);
}

TEST(ReduceErrors, AxesOutOfRangeAndRepeated) {
  array x = zeros({2, 3, 4});
  expect_throws_naming([&] { return sum(x, 3); }, "sum");
  expect_throws_naming([&] { return sum(x, -4); }, "sum");
  expect_throws_naming([&] { return sum(x, {0, 0}); }, "sum");
  expect_throws_naming([&] { return sum(x, {1, -2}); }, "sum");
  expect_throws_naming([&] { return prod(x, 5); }, "prod");
  expect_throws_naming([&] { return max(x, {2, 2}); }, "max");
  expect_throws_naming([&] { return min(x, 7); }, "min");
  expect_throws_naming([&] { return mean(x, 3); }, "mean");
  expect_throws_naming([&] { return mean(x, {0, 0}); }, "mean");
  expect_throws_naming([&] { return var(x, 3); }, "var");
  expect_throws_naming([&] { return lazuli::std(x, {1, 1}); }, "std");
  expect_throws_naming([&] { return all(x, 3); }, "all");
  expect_throws_naming([&] { return any(x, {0, -3}); }, "any");
  expect_throws_naming([&] { return logsumexp(x, 3); }, "logsumexp");
  expect_throws_naming([&] { return count_nonzero(x, 3); }, "count_nonzero");
  expect_throws_naming([&] { return argmax(x, 3); }, "argmax");
  expect_throws_naming([&] { return argmin(x, -4); }, "argmin");
  expect_throws_naming([&] { return sum(array(1.0f), 0); }, "sum");
  // Complex numbers cannot be ordered.
  array z = array({complex64_t(1, 2)});
  expect_throws_naming([&] { return max(z); }, "max");
  expect_throws_naming([&] { return min(z); }, "min");
  expect_throws_naming([&] { return argmax(z); }, "argmax");
  // But they sum and multiply.
  auto s = to_vector<complex64_t>(sum(array({complex64_t(1, 2), complex64_t(3, -1)})));
  EXPECT_EQ(s[0], complex64_t(4, 1));
  auto p = to_vector<complex64_t>(prod(array({complex64_t(1, 2), complex64_t(3, -1)})));
  EXPECT_EQ(p[0], complex64_t(5, 5));
  auto cs = to_vector<complex64_t>(sum(array({complex64_t(1, 2), complex64_t(3, -1), complex64_t(0, 1),
                                              complex64_t(1, 1)},
                                             Shape{2, 2}),
                                       0));
  EXPECT_EQ(cs[0], complex64_t(1, 3));
  EXPECT_EQ(cs[1], complex64_t(4, 0));
}

TEST(ReduceIntegers, ExactSumsAndProducts) {
  auto v = pseudo_random(3 * 50 * 7, -1000.f, 1000.f, 13);
  std::vector<int32_t> iv(v.begin(), v.end());
  array x(iv.begin(), Shape{3, 50, 7});
  std::vector<double> xd(iv.begin(), iv.end());
  for (std::vector<int> axes : {std::vector<int>{0}, {1}, {2}, {0, 2}, {-1, -2}, {0, 1, 2}}) {
    array s = sum(x, axes);
    EXPECT_EQ(s.dtype(), int32);
    EXPECT_EQ(to_vector<double>(s), ref_reduce(xd, {3, 50, 7}, axes, r_sum));
    EXPECT_EQ(to_vector<double>(max(x, axes)), ref_reduce(xd, {3, 50, 7}, axes, r_max));
    EXPECT_EQ(to_vector<double>(min(transpose(x), axes)),
              ref_reduce(to_vector<double>(transpose(x)), {7, 50, 3}, axes, r_min));
  }
  // int64 sums past 2^31.
  array big = full({4}, int64_t(1) << 40);
  auto bs = to_vector<int64_t>(sum(big));
  EXPECT_EQ(bs[0], int64_t(1) << 42);
  // Products of small ints along an axis.
  expect_values(prod(array({1, 2, 3, 4, 5, 6}, Shape{2, 3}), 1), {6, 120});
  expect_values(prod(array({1, 2, 3, 4, 5, 6}, Shape{2, 3}), 0), {4, 10, 18});
  // Bools sum along axes into int32 counts.
  array b = array({true, false, true, true, true, false}, Shape{2, 3});
  EXPECT_EQ(sum(b, 0).dtype(), int32);
  expect_values(sum(b, 0), {2, 1, 1});
  expect_values(sum(b, 1), {2, 2});
  expect_values(all(b, 0), {1, 0, 0});
  expect_values(any(b, 1), {1, 1});
  expect_values(count_nonzero(b, 0), {2, 1, 1});
}

LAZULI_CHECKER_CASES(number_of_elements) {
  using lazuli::test::unary_fn;
  add("NumberOfElements", Case{{{3, 4}}, -2, 2, unary_fn([](const array& x) { return mean(x, 1); })});
  add("NumberOfElements", Case{{{4, 3}}, -2, 2, unary_fn([](const array& x) { return var(x, 0, false, 1); }), true, true});
}
