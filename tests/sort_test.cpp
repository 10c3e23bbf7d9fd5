// Sorting and searching: sort, argsort, partition, argpartition, topk, searchsorted, median.
// Expected values come from NumPy (np.sort, np.argsort(kind="stable"), ...).
#include <algorithm>
#include <limits>

#include "checker.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::Case;
using lazuli::test::expect_values;
using lazuli::test::to_vector;

namespace {
const double nan_v = std::numeric_limits<double>::quiet_NaN();
const double inf_v = std::numeric_limits<double>::infinity();

array sample() { return array({3., 1., 4., 1., 5., 9., 2., 6., 5., 3.}, Shape{2, 5}); }

const Dtype all_dtypes[] = {bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
                            float16, bfloat16, float32, float64, complex64};

// The partition property along the last axis of a 2-D result: the kth element is the one
// sorting would put there, none before it is larger and none after it smaller.
void expect_partitioned(const array& values, const array& a, int kth) {
  auto v = to_vector<double>(values);
  auto sorted = to_vector<double>(sort(a, -1));
  int rows = a.shape()[0], n = a.shape()[1];
  for (int r = 0; r < rows; ++r) {
    const double* line = v.data() + r * n;
    EXPECT_EQ(line[kth], sorted[r * n + kth]) << "row " << r;
    for (int i = 0; i < kth; ++i) EXPECT_LE(line[i], line[kth]);
    for (int i = kth + 1; i < n; ++i) EXPECT_GE(line[i], line[kth]);
    std::vector<double> got(line, line + n), want(sorted.begin() + r * n, sorted.begin() + (r + 1) * n);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << "row " << r << " is not a permutation";
  }
}
}  // namespace

TEST(Sort, ValuesAndStableIndicesAlongAnyAxis) {
  array a = sample();
  expect_values(sort(a), {1, 1, 2, 3, 3, 4, 5, 5, 6, 9});  // axis=None flattens
  expect_values(sort(a, -1), {1, 1, 3, 4, 5, 2, 3, 5, 6, 9});
  expect_values(sort(a, 0), {3, 1, 4, 1, 3, 9, 2, 6, 5, 5});
  array i = argsort(a, -1);
  EXPECT_EQ(i.dtype(), uint32);
  expect_values(i, {1, 3, 0, 2, 4, 1, 4, 3, 2, 0});
  expect_values(argsort(a, 0), {0, 0, 0, 0, 1, 1, 1, 1, 1, 0});
  expect_values(argsort(a), {1, 3, 6, 0, 9, 2, 4, 8, 7, 5});
  // A transposed (non-contiguous) input sorts like its contiguous copy.
  expect_values(sort(transpose(a), 0), {1, 2, 1, 3, 3, 5, 4, 6, 5, 9});
  expect_values(argsort(transpose(a), 0), {1, 1, 3, 4, 0, 3, 2, 2, 4, 0});
}

TEST(Sort, EveryDtype) {
  array a = array({3., 0., 2., 1., 0., 5.});
  for (Dtype t : all_dtypes) {
    SCOPED_TRACE(dtype_name(t));
    array x = astype(a, t);
    array s = sort(x);
    EXPECT_EQ(s.dtype(), t);
    if (t == bool_) {
      expect_values(s, {0, 0, 1, 1, 1, 1});
      expect_values(argsort(x), {1, 4, 0, 2, 3, 5});
      continue;
    }
    expect_values(real(astype(s, complex64)), {0, 0, 1, 2, 3, 5});
    expect_values(argsort(x), {1, 4, 3, 2, 0, 5});
    expect_values(real(astype(topk(x, 1), complex64)), {5});
    array p = partition(x, 2);
    EXPECT_EQ(p.dtype(), t);
    expect_values(real(astype(slice(p, {2}, {3}), complex64)), {1});
    expect_values(slice(argpartition(x, 2), {2}, {3}), {3});
  }
  // Complex numbers order by real part, then imaginary part (as NumPy).
  array c = array({complex64_t(1, 2), complex64_t(1, -1), complex64_t(0, 5)});
  expect_values(argsort(c), {2, 1, 0});
  expect_values(imag(sort(c)), {5, -1, 2});
  // Large values keep their exact bits through the 16-bit and 64-bit paths.
  expect_values(sort(array({int64_t{1} << 60, int64_t{-3}, int64_t{7}})), {-3, 7, double(int64_t{1} << 60)});
  expect_values(sort(astype(array({65504., -65504., 0.5}), float16)), {-65504, 0.5, 65504});
}

TEST(Sort, NaNsOrderLast) {
  array n = array({2., nan_v, -1., inf_v, nan_v, 0., -inf_v});
  for (Dtype t : {float16, bfloat16, float32, float64}) {
    SCOPED_TRACE(dtype_name(t));
    expect_values(sort(astype(n, t)), {-inf_v, -1, 0, 2, inf_v, nan_v, nan_v});
    expect_values(argsort(astype(n, t)), {6, 2, 5, 0, 3, 1, 4});
    // Partition puts NaNs last too: kth 4 is inf, kth 5 a NaN.
    expect_values(slice(partition(astype(n, t), 4), {4}, {7}), {inf_v, nan_v, nan_v});
    expect_values(slice(argpartition(astype(n, t), 5), {5}, {7}), {1, 4});
  }
}

TEST(Sort, EmptyAndScalar) {
  EXPECT_EQ(sort(zeros({0, 3}), 0).shape(), (Shape{0, 3}));
  EXPECT_EQ(argsort(zeros({2, 0}), -1).shape(), (Shape{2, 0}));
  EXPECT_EQ(to_vector<float>(sort(zeros({3, 0}), 0)).size(), 0u);
  EXPECT_EQ(to_vector<uint32_t>(argsort(zeros({0}))).size(), 0u);
  EXPECT_EQ(topk(zeros({4}), 0).shape(), (Shape{0}));
  // 0-d: axis=None flattens to one element; an axis is an error.
  array s = array(3.f);
  expect_values(sort(s), {3});
  EXPECT_EQ(sort(s).shape(), (Shape{1}));
  expect_values(argsort(s), {0});
  expect_values(topk(s, 1), {3});
  expect_values(partition(s, 0), {3});
  EXPECT_THROW(sort(s, 0), std::invalid_argument);
  EXPECT_THROW(argsort(s, -1), std::invalid_argument);
}

TEST(Sort, LongLinesAndManyLines) {
  // Many lines in parallel, and a line longer than one thread's share.
  array a = lazuli::test::filled({300, 257}, -10, 10, 7);
  auto s = to_vector<double>(sort(a, 1));
  auto x = to_vector<double>(a);
  for (int r = 0; r < 300; ++r) {
    std::vector<double> want(x.begin() + r * 257, x.begin() + (r + 1) * 257);
    std::sort(want.begin(), want.end());
    ASSERT_TRUE(std::equal(want.begin(), want.end(), s.begin() + r * 257)) << "row " << r;
  }
  array b = astype(lazuli::test::filled({200000}, -1, 1, 3), float32);
  auto sb = to_vector<float>(sort(b));
  EXPECT_TRUE(std::is_sorted(sb.begin(), sb.end()));
  auto ib = to_vector<uint32_t>(argsort(b));
  auto xb = to_vector<float>(b);
  for (size_t i = 0; i < ib.size(); ++i) ASSERT_EQ(xb[ib[i]], sb[i]) << i;
  for (size_t i = 1; i < ib.size(); ++i) {
    if (sb[i] == sb[i - 1]) ASSERT_LT(ib[i - 1], ib[i]) << "argsort is not stable at " << i;
  }
}

TEST(Sort, LongLinesWithTiesNaNsAndSignedZerosEveryDtype) {
  // Long lines take the vectorised paths: they must agree with a stable sort, NaNs last,
  // -0 equal to +0.
  const int n = 1000;
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = ((i * 37) % 23) - 11;
  for (int i = 0; i < n; i += 50) v[i] = nan_v;
  for (int i = 7; i < n; i += 61) v[i] = -0.0;
  for (Dtype t : {bool_, uint8, int8, uint16, int16, uint32, int32, int64, uint64, float16, bfloat16, float32,
                  float64}) {
    SCOPED_TRACE(dtype_name(t));
    std::vector<double> src = v;
    if (!is_floating_point(t))
      for (auto& x : src) x = std::isnan(x) ? 3 : x;
    if (t == uint8 || t == uint16 || t == uint32 || t == uint64)  // exact through float64
      for (auto& x : src) x = std::abs(x);
    array x = astype(array(src.begin(), Shape{2, n / 2}, float64), t);
    auto xv = to_vector<double>(x);
    std::vector<uint32_t> want(n);
    for (int r = 0; r < 2; ++r) {
      auto b = want.begin() + r * (n / 2);
      for (int i = 0; i < n / 2; ++i) b[i] = i;
      const double* line = xv.data() + r * (n / 2);
      std::stable_sort(b, b + n / 2, [&](uint32_t i, uint32_t j) {
        if (std::isnan(line[j])) return !std::isnan(line[i]);
        return line[i] < line[j];
      });
    }
    EXPECT_EQ(to_vector<uint32_t>(argsort(x, 1)), want);
    auto sv = to_vector<double>(sort(x, 1));
    for (int i = 0; i < n; ++i) {
      double w = xv[(i / (n / 2)) * (n / 2) + want[i]];
      if (std::isnan(w)) EXPECT_TRUE(std::isnan(sv[i])) << i;
      else EXPECT_EQ(sv[i], w) << i;
    }
  }
}

TEST(Sort, PartitionProperty) {
  array a = lazuli::test::filled({4, 33}, -5, 5, 11);
  for (int kth : {0, 5, 16, 32, -1, -7}) {
    SCOPED_TRACE(kth);
    int k = kth < 0 ? kth + 33 : kth;
    expect_partitioned(partition(a, kth, -1), a, k);
    expect_partitioned(take_along_axis(a, argpartition(a, kth, 1), 1), a, k);
    // Along axis 0 of the transpose, the same thing.
    expect_partitioned(transpose(partition(transpose(a), kth, 0)), a, k);
  }
}

TEST(Sort, TopK) {
  array a = sample();
  auto top = to_vector<double>(topk(a, 2, -1));
  std::sort(top.begin(), top.begin() + 2);
  std::sort(top.begin() + 2, top.end());
  EXPECT_EQ(top, (std::vector<double>{4, 5, 6, 9}));
  EXPECT_EQ(topk(a, 2, 0).shape(), (Shape{2, 5}));
  EXPECT_EQ(topk(a, 1, 0).shape(), (Shape{1, 5}));
  expect_values(topk(a, 1, 0), {9, 2, 6, 5, 5});
  auto flat = to_vector<double>(topk(a, 3));
  std::sort(flat.begin(), flat.end());
  EXPECT_EQ(flat, (std::vector<double>{5, 6, 9}));
  EXPECT_THROW(topk(a, 6, -1), std::invalid_argument);
  EXPECT_THROW(topk(a, -1, -1), std::invalid_argument);
}

TEST(Sort, SearchSorted) {
  array s = array({1., 2., 2., 3., 5.});
  array v = array({0., 2., 2.5, 9.}, Shape{2, 2});
  array l = searchsorted(s, v);
  EXPECT_EQ(l.dtype(), uint32);
  EXPECT_EQ(l.shape(), (Shape{2, 2}));
  expect_values(l, {0, 1, 3, 5});
  expect_values(searchsorted(s, v, "right"), {0, 3, 3, 5});
  // Mixed dtypes promote; scalars give 0-d; NaN goes after everything but NaNs.
  expect_values(searchsorted(array({1, 3, 5}), array(4.5f)), {2});
  EXPECT_EQ(searchsorted(array({1, 3, 5}), array(4)).shape(), (Shape{}));
  expect_values(searchsorted(array({1., 3., nan_v}), array({nan_v, 3.})), {2, 1});
  expect_values(searchsorted(array({1., 3., nan_v}), array({nan_v, 3.}), "right"), {3, 2});
  EXPECT_EQ(searchsorted(s, zeros({0})).shape(), (Shape{0}));
  expect_values(searchsorted(zeros({0}), array({1.f, 2.f})), {0, 0});
  EXPECT_THROW(searchsorted(s, v, "middle"), std::invalid_argument);
  EXPECT_THROW(searchsorted(reshape(s, {5, 1}), v), std::invalid_argument);
}

TEST(Sort, Median) {
  array a = sample();
  expect_values(median(a), {3.5});
  EXPECT_EQ(median(a).shape(), (Shape{}));
  expect_values(median(a, 1), {3, 5});
  expect_values(median(a, -2), {6, 1.5, 5, 3, 4});
  EXPECT_EQ(median(a, {0, 1}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(median(a, 1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(median(astype(a, int32)).dtype(), float32);
  expect_values(median(astype(a, int32)), {3.5});
  EXPECT_EQ(median(astype(a, float16)).dtype(), float16);
  expect_values(median(astype(a, bfloat16), 1), {3, 5});
  expect_values(median(array({1., nan_v, 3.})), {nan_v});
  expect_values(median(array(2.f)), {2});
  expect_values(median(zeros({0})), {nan_v});
  EXPECT_THROW(median(a, 2), std::invalid_argument);
  EXPECT_THROW(median(array({complex64_t(1, 1)})), std::invalid_argument);
}

TEST(Sort, ErrorsNameTheOp) {
  array a = sample();
  auto message = [](auto f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { sort(a, 2); }).find("[sort]"), std::string::npos);
  EXPECT_NE(message([&] { argsort(a, -3); }).find("[argsort]"), std::string::npos);
  EXPECT_NE(message([&] { partition(a, 5, 1); }).find("[partition]"), std::string::npos);
  EXPECT_NE(message([&] { argpartition(a, -6, 1); }).find("[argpartition]"), std::string::npos);
  EXPECT_NE(message([&] { topk(a, 11); }).find("[topk]"), std::string::npos);
  EXPECT_NE(message([&] { searchsorted(a, a); }).find("[searchsorted]"), std::string::npos);
  EXPECT_NE(message([&] { median(a, 3); }).find("[median]"), std::string::npos);
}

TEST(Sort, Gradients) {
  // The gradient of sort moves each cotangent back to where its value came from.
  array x = array({3., 1., 2.});
  auto g = grad(UnaryFn([](const array& y) { return sum(multiply(sort(y), array({1., 10., 100.}))); }))(x);
  expect_values(g, {100, 1, 10});
  // topk's gradient reaches the k largest; median's the middle ones.
  auto gt = grad(UnaryFn([](const array& y) { return sum(topk(y, 2)); }))(x);
  expect_values(gt, {1, 0, 1});
  auto gm = grad(UnaryFn([](const array& y) { return median(y); }))(array({4., 1., 3., 2.}));
  expect_values(gm, {0, 0, 0.5, 0.5});
}

LAZULI_CHECKER_CASES(sort) {
  using lazuli::test::unary_fn;
  add("Sort", Case{{{3, 5}}, -2, 2, unary_fn([](const array& x) { return sort(x, -1); })});
  add("Sort", Case{{{4, 3}}, -2, 2, unary_fn([](const array& x) { return sort(x, 0); }), true, true});
  add("Sort", Case{{{2, 3}}, -2, 2, unary_fn([](const array& x) { return sort(x); })});
  add("ArgSort", Case{{{3, 5}}, -2, 2, unary_fn([](const array& x) { return argsort(x, -1); }), false});
  add("ArgSort", Case{{{4, 3}}, -2, 2, unary_fn([](const array& x) { return argsort(x, 0); }), false, true});
  add("Partition", Case{{{3, 6}}, -2, 2, unary_fn([](const array& x) { return partition(x, 2, -1); })});
  add("Partition", Case{{{5, 3}}, -2, 2, unary_fn([](const array& x) { return topk(x, 2, 0); }), true, true});
  add("Sort", Case{{{3, 5}}, -2, 2, unary_fn([](const array& x) { return median(x, 1); })});
  add("ArgPartition", Case{{{3, 6}}, -2, 2, unary_fn([](const array& x) { return argpartition(x, -2, -1); }), false});
  add("ArgPartition", Case{{{5, 3}}, -2, 2, unary_fn([](const array& x) { return argpartition(x, 1, 0); }), false, true});
}
