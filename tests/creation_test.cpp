// Creation ops: zeros/ones/full and their *_like forms, arange, linspace, eye, identity,
// tri, tril and triu.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

// Row-major n x m reference of a predicate on (row, col).
template <typename P>
std::vector<double> matrix(int n, int m, P pred) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) v.push_back(pred(i, j) ? 1.0 : 0.0);
  return v;
}

}  // namespace

// ---- zeros / ones / full ---------------------------------------------------------------

TEST(Creation, Zeros) {
  array z = zeros({2, 3});
  EXPECT_EQ(z.dtype(), float32);
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  expect_values(z, {0, 0, 0, 0, 0, 0});

  array zi = zeros({4}, int32);
  EXPECT_EQ(zi.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(zi), (std::vector<int32_t>{0, 0, 0, 0}));

  array z0 = zeros({});
  EXPECT_EQ(z0.ndim(), 0u);
  EXPECT_EQ(z0.item<float>(), 0.0f);

  array empty = zeros({0, 3}, float16);
  EXPECT_EQ(empty.shape(), Shape({0, 3}));
  EXPECT_EQ(empty.size(), 0u);
  empty.eval();
  EXPECT_EQ(zeros({}, complex64).item<complex64_t>(), complex64_t(0, 0));
}

TEST(Creation, Ones) {
  array o = ones({3});
  EXPECT_EQ(o.dtype(), float32);
  expect_values(o, {1, 1, 1});
  array ob = ones({2}, bool_);
  EXPECT_EQ(ob.dtype(), bool_);
  expect_values(ob, {1, 1});
  array oh = ones({2, 2}, float16);
  EXPECT_EQ(oh.dtype(), float16);
  expect_values(oh, {1, 1, 1, 1});
  array ou = ones({2}, uint64);
  EXPECT_EQ(to_vector<uint64_t>(ou), (std::vector<uint64_t>{1, 1}));
}

TEST(Creation, FullScalar) {
  array a = full({2, 2}, 7);
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(a.shape(), Shape({2, 2}));
  EXPECT_EQ(to_vector<int32_t>(a), (std::vector<int32_t>{7, 7, 7, 7}));

  array f = full({3}, 2.5f);
  EXPECT_EQ(f.dtype(), float32);
  expect_values(f, {2.5, 2.5, 2.5});

  array cast = full({3}, 2.5, int32);
  EXPECT_EQ(cast.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(cast), (std::vector<int32_t>{2, 2, 2}));

  array h = full({2}, 0.1, float16);
  EXPECT_EQ(h.dtype(), float16);
  expect_values(h, {double(float(float16_t(0.1f))), double(float(float16_t(0.1f)))});

  array b = full({2}, true);
  EXPECT_EQ(b.dtype(), bool_);
  expect_values(b, {1, 1});

  array s = full({}, -3.0f);
  EXPECT_EQ(s.ndim(), 0u);
  EXPECT_EQ(s.item<float>(), -3.0f);
}

TEST(Creation, FullArray) {
  array rows = full({2, 3}, array({1, 2, 3}));
  EXPECT_EQ(rows.dtype(), int32);
  EXPECT_EQ(rows.shape(), Shape({2, 3}));
  expect_values(rows, {1, 2, 3, 1, 2, 3});

  array cols = full({2, 3}, array({10.f, 20.f}, {2, 1}), float64);
  EXPECT_EQ(cols.dtype(), float64);
  expect_values(cols, {10, 10, 10, 20, 20, 20});

  array lazy_vals = full({2, 2}, arange(2) * 5);  // values that are themselves lazy
  expect_values(lazy_vals, {0, 5, 0, 5});

  auto msg = error_of<std::invalid_argument>([] { full({2, 2}, array({1, 2, 3})); });
  EXPECT_TRUE(contains(msg, "broadcast")) << msg;
}

TEST(Creation, LikeVariants) {
  array a = reshape(arange(6), {2, 3});
  array z = zeros_like(a);
  EXPECT_EQ(z.dtype(), int32);
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  expect_values(z, {0, 0, 0, 0, 0, 0});

  array h = array({1.5f, 2.5f}, float16);
  array o = ones_like(h);
  EXPECT_EQ(o.dtype(), float16);
  EXPECT_EQ(o.shape(), Shape({2}));
  expect_values(o, {1, 1});

  array f = full_like(a, array(3.9));  // takes a's dtype: 3.9 becomes 3
  EXPECT_EQ(f.dtype(), int32);
  EXPECT_EQ(f.shape(), Shape({2, 3}));
  expect_values(f, {3, 3, 3, 3, 3, 3});

  array b = full_like(array({true, false}), array(0));
  EXPECT_EQ(b.dtype(), bool_);
  expect_values(b, {0, 0});
}

TEST(Creation, NegativeShapesThrow) {
  auto msg = error_of<std::invalid_argument>([] { zeros({-1}); });
  EXPECT_TRUE(contains(msg, "Negative dimension")) << msg;
  EXPECT_TRUE(contains(msg, "-1")) << msg;
  msg = error_of<std::invalid_argument>([] { ones({2, -3}); });
  EXPECT_TRUE(contains(msg, "Negative dimension")) << msg;
  msg = error_of<std::invalid_argument>([] { full({-2}, 1.0f); });
  EXPECT_TRUE(contains(msg, "[full]")) << msg;
  msg = error_of<std::invalid_argument>([] { full({3, -2}, array({1, 2})); });
  EXPECT_TRUE(contains(msg, "[full]")) << msg;
  msg = error_of<std::invalid_argument>([] { eye(-1); });
  EXPECT_TRUE(contains(msg, "[eye]")) << msg;
  msg = error_of<std::invalid_argument>([] { eye(2, -2); });
  EXPECT_TRUE(contains(msg, "[eye]")) << msg;
  msg = error_of<std::invalid_argument>([] { tri(-3); });
  EXPECT_TRUE(contains(msg, "[tri]")) << msg;
  msg = error_of<std::invalid_argument>([] { identity(-1); });
  EXPECT_TRUE(contains(msg, "[eye]")) << msg;
}

// ---- arange -----------------------------------------------------------------------------

TEST(Creation, ArangeFloat) {
  array a = arange(5.0);
  EXPECT_EQ(a.dtype(), float32);
  EXPECT_EQ(a.shape(), Shape({5}));
  expect_values(a, {0, 1, 2, 3, 4});

  expect_values(arange(2.0, 5.0), {2, 3, 4});
  expect_values(arange(1.0, 2.0, 0.25), {1, 1.25, 1.5, 1.75});
  EXPECT_EQ(arange(0.0, 1.0, 0.1).size(), 10u);  // as NumPy: ceil((stop - start) / step)
  expect_values(arange(0.0, 1.0, 0.3), {0, 0.3, 0.6, 0.9}, 1e-6);
  expect_values(arange(0.5, 3.0), {0.5, 1.5, 2.5});
  expect_values(arange(-1.5, 1.0, 1.0), {-1.5, -0.5, 0.5});

  array d = arange(0.0, 3.0, 1.0, float64);
  EXPECT_EQ(d.dtype(), float64);
  expect_values(d, {0, 1, 2});
  array l = arange(4.0, int64);
  EXPECT_EQ(l.dtype(), int64);
  EXPECT_EQ(to_vector<int64_t>(l), (std::vector<int64_t>{0, 1, 2, 3}));
  array h = arange(0.0, 2.0, 0.5, float16);
  EXPECT_EQ(h.dtype(), float16);
  expect_values(h, {0, 0.5, 1, 1.5});
  array u = arange(1.0, 4.0, uint8);
  EXPECT_EQ(u.dtype(), uint8);
  expect_values(u, {1, 2, 3});
}

TEST(Creation, ArangeInt) {
  array a = arange(5);
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(a), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(to_vector<int32_t>(arange(3, 7)), (std::vector<int32_t>{3, 4, 5, 6}));
  EXPECT_EQ(to_vector<int32_t>(arange(0, 10, 3)), (std::vector<int32_t>{0, 3, 6, 9}));
  EXPECT_EQ(to_vector<int32_t>(arange(-2, 2)), (std::vector<int32_t>{-2, -1, 0, 1}));
  EXPECT_EQ(arange(0, 10, 3).dtype(), int32);
}

TEST(Creation, ArangeNegativeStep) {
  array a = arange(5, 0, -1);
  EXPECT_EQ(to_vector<int32_t>(a), (std::vector<int32_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(to_vector<int32_t>(arange(10, -1, -4)), (std::vector<int32_t>{10, 6, 2}));
  expect_values(arange(10.0, 0.0, -2.5), {10, 7.5, 5, 2.5});
  expect_values(arange(1.0, -1.0, -0.5), {1, 0.5, 0, -0.5});
}

TEST(Creation, ArangeEmptyRanges) {
  for (array e : {arange(5, 5), arange(5, 0), arange(0, 5, -1), arange(-3), arange(0.0),
                  arange(2.0, 1.0), arange(1.0, 2.0, -0.5)}) {
    EXPECT_EQ(e.ndim(), 1u);
    EXPECT_EQ(e.size(), 0u);
    EXPECT_EQ(e.shape(), Shape({0}));
    e.eval();
    EXPECT_TRUE(e.is_available());
  }
}

TEST(Creation, ArangeErrors) {
  auto msg = error_of<std::invalid_argument>([] { arange(0, 5, 0); });
  EXPECT_TRUE(contains(msg, "[arange]")) << msg;
  EXPECT_TRUE(contains(msg, "step")) << msg;
  msg = error_of<std::invalid_argument>([] { arange(0.0, 1.0, 0.0); });
  EXPECT_TRUE(contains(msg, "[arange]")) << msg;
  msg = error_of<std::invalid_argument>([] { arange(3.0, bool_); });
  EXPECT_TRUE(contains(msg, "[arange]")) << msg;
  msg = error_of<std::invalid_argument>([] { arange(0.0, std::numeric_limits<double>::infinity()); });
  EXPECT_TRUE(contains(msg, "[arange]")) << msg;
  msg = error_of<std::invalid_argument>([] { arange(0.0, std::nan(""), 1.0); });
  EXPECT_TRUE(contains(msg, "[arange]")) << msg;
  msg = error_of<std::invalid_argument>([] { arange(0.0, 1e10, 1.0); });
  EXPECT_TRUE(contains(msg, "[arange]")) << msg;
}

// ---- linspace ---------------------------------------------------------------------------

TEST(Creation, Linspace) {
  array a = linspace(0.0, 1.0, 5);
  EXPECT_EQ(a.dtype(), float32);
  EXPECT_EQ(a.shape(), Shape({5}));
  expect_values(a, {0, 0.25, 0.5, 0.75, 1});
  expect_values(linspace(-1.0, 1.0, 3), {-1, 0, 1});
  expect_values(linspace(10.0, 0.0, 5), {10, 7.5, 5, 2.5, 0});
  expect_values(linspace(2.0, 2.0, 3), {2, 2, 2});
  EXPECT_EQ(linspace(0.0, 1.0).size(), 50u);  // the default num

  array i = linspace(0.0, 10.0, 6, int32);
  EXPECT_EQ(i.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(i), (std::vector<int32_t>{0, 2, 4, 6, 8, 10}));
  array d = linspace(0.0, 1.0, 3, float64);
  EXPECT_EQ(d.dtype(), float64);
  expect_values(d, {0, 0.5, 1});
}

TEST(Creation, LinspaceNumZeroAndOne) {
  array e = linspace(0.0, 1.0, 0);
  EXPECT_EQ(e.shape(), Shape({0}));
  EXPECT_EQ(e.dtype(), float32);
  e.eval();

  array one = linspace(3.0, 7.0, 1);
  EXPECT_EQ(one.shape(), Shape({1}));
  EXPECT_EQ(one.dtype(), float32);
  expect_values(one, {3});
  array one_int = linspace(3.0, 7.0, 1, int32);
  EXPECT_EQ(one_int.dtype(), int32);
  expect_values(one_int, {3});

  auto msg = error_of<std::invalid_argument>([] { linspace(0.0, 1.0, -1); });
  EXPECT_TRUE(contains(msg, "[linspace]")) << msg;
}

TEST(Creation, LinspaceEndpointsAreExact) {
  // The first element is start and the last is stop, exactly (as float32), whatever the
  // rounding of the step in between.
  struct Case {
    double start, stop;
    int num;
  };
  for (Case c : {Case{0.0, 0.1, 7}, Case{0.0, 1.0, 3}, Case{-0.3, 0.7, 11}, Case{1.0, 1e-3, 9},
                 Case{0.1, 0.9, 101}, Case{-5.5, 3.3, 13}, Case{1e6, 1e6 + 1, 7}, Case{0.0, 2.0 / 3.0, 1000}}) {
    array a = linspace(c.start, c.stop, c.num);
    auto v = to_vector<float>(a);
    ASSERT_EQ(v.size(), size_t(c.num));
    EXPECT_EQ(v.front(), float(c.start)) << c.start << " .. " << c.stop << " in " << c.num;
    EXPECT_EQ(v.back(), float(c.stop)) << c.start << " .. " << c.stop << " in " << c.num;
    // And the points in between are evenly spaced.
    for (int k = 0; k < c.num; ++k) {
      double want = c.start + (c.stop - c.start) * k / (c.num - 1);
      EXPECT_NEAR(v[k], want, 1e-6 * std::max({1.0, std::fabs(c.start), std::fabs(c.stop)})) << k;
    }
  }
}

// ---- eye / identity / tri ---------------------------------------------------------------

TEST(Creation, Eye) {
  array e = eye(3);
  EXPECT_EQ(e.dtype(), float32);
  EXPECT_EQ(e.shape(), Shape({3, 3}));
  expect_values(e, {1, 0, 0, 0, 1, 0, 0, 0, 1});

  expect_values(eye(2, 3), {1, 0, 0, 0, 1, 0});
  expect_values(eye(3, 2), {1, 0, 0, 1, 0, 0});
  expect_values(eye(3, 3, 1), {0, 1, 0, 0, 0, 1, 0, 0, 0});
  expect_values(eye(3, 3, -1), {0, 0, 0, 1, 0, 0, 0, 1, 0});
  expect_values(eye(2, 4, 2), {0, 0, 1, 0, 0, 0, 0, 1});
  expect_values(eye(3, 3, 3), std::vector<double>(9, 0.0));   // past the corner: all zero
  expect_values(eye(3, 3, -5), std::vector<double>(9, 0.0));
  for (int k = -4; k <= 5; ++k)
    expect_values(eye(4, 6, k), matrix(4, 6, [k](int i, int j) { return j - i == k; }));

  array ei = eye(2, int32);
  EXPECT_EQ(ei.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(ei), (std::vector<int32_t>{1, 0, 0, 1}));
  array eb = eye(2, 2, 0, bool_);
  EXPECT_EQ(eb.dtype(), bool_);
  expect_values(eb, {1, 0, 0, 1});

  array e0 = eye(0);
  EXPECT_EQ(e0.shape(), Shape({0, 0}));
  e0.eval();
}

TEST(Creation, Identity) {
  array i = identity(4);
  EXPECT_EQ(i.dtype(), float32);
  EXPECT_EQ(i.shape(), Shape({4, 4}));
  expect_values(i, matrix(4, 4, [](int r, int c) { return r == c; }));
  array ib = identity(2, float16);
  EXPECT_EQ(ib.dtype(), float16);
  expect_values(ib, {1, 0, 0, 1});
}

TEST(Creation, Tri) {
  array t = tri(3);
  EXPECT_EQ(t.dtype(), float32);
  EXPECT_EQ(t.shape(), Shape({3, 3}));
  expect_values(t, {1, 0, 0, 1, 1, 0, 1, 1, 1});
  expect_values(tri(2, 3, 1), {1, 1, 0, 1, 1, 1});
  expect_values(tri(3, 3, -1), {0, 0, 0, 1, 0, 0, 1, 1, 0});
  for (int k = -4; k <= 4; ++k)
    expect_values(tri(3, 5, k), matrix(3, 5, [k](int i, int j) { return j <= i + k; }));
  array ti = tri(2, int32);
  EXPECT_EQ(ti.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(ti), (std::vector<int32_t>{1, 0, 1, 1}));
}

TEST(Creation, TrilTriu) {
  array x = reshape(arange(1, 10), {3, 3});  // 1..9
  EXPECT_EQ(to_vector<int32_t>(tril(x)), (std::vector<int32_t>{1, 0, 0, 4, 5, 0, 7, 8, 9}));
  EXPECT_EQ(to_vector<int32_t>(tril(x, 1)), (std::vector<int32_t>{1, 2, 0, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(to_vector<int32_t>(tril(x, -1)), (std::vector<int32_t>{0, 0, 0, 4, 0, 0, 7, 8, 0}));
  EXPECT_EQ(to_vector<int32_t>(triu(x)), (std::vector<int32_t>{1, 2, 3, 0, 5, 6, 0, 0, 9}));
  EXPECT_EQ(to_vector<int32_t>(triu(x, 1)), (std::vector<int32_t>{0, 2, 3, 0, 0, 6, 0, 0, 0}));
  EXPECT_EQ(to_vector<int32_t>(triu(x, -1)), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 0, 8, 9}));
  EXPECT_EQ(tril(x).dtype(), int32);
  EXPECT_EQ(triu(x).dtype(), int32);

  // tril + triu(k + 1) rebuild the matrix for every k.
  array y = reshape(arange(1.0, 13.0), {3, 4});
  for (int k = -3; k <= 4; ++k) expect_values(tril(y, k) + triu(y, k + 1), to_vector<double>(y));

  // Non-square, other dtypes, and a batch of matrices.
  array w = astype(reshape(arange(1, 9), {2, 4}), float16);
  EXPECT_EQ(tril(w).dtype(), float16);
  expect_values(tril(w), {1, 0, 0, 0, 5, 6, 0, 0});
  expect_values(triu(w, 2), {0, 0, 3, 4, 0, 0, 0, 8});
  array b = reshape(arange(1, 13), {2, 2, 3});
  EXPECT_EQ(tril(b).shape(), Shape({2, 2, 3}));
  EXPECT_EQ(to_vector<int32_t>(tril(b)), (std::vector<int32_t>{1, 0, 0, 4, 5, 0, 7, 0, 0, 10, 11, 0}));
  EXPECT_EQ(to_vector<int32_t>(triu(b)), (std::vector<int32_t>{1, 2, 3, 0, 5, 6, 7, 8, 9, 0, 11, 12}));
}

TEST(Creation, TrilTriuNeedTwoDimensions) {
  auto msg = error_of<std::invalid_argument>([] { tril(arange(3)); });
  EXPECT_TRUE(contains(msg, "[tril]")) << msg;
  msg = error_of<std::invalid_argument>([] { triu(arange(3.0), 1); });
  EXPECT_TRUE(contains(msg, "[triu]")) << msg;
  msg = error_of<std::invalid_argument>([] { tril(array(1.0f)); });
  EXPECT_TRUE(contains(msg, "[tril]")) << msg;
  msg = error_of<std::invalid_argument>([] { triu(array(1)); });
  EXPECT_TRUE(contains(msg, "[triu]")) << msg;
}
