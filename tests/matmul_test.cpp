// Matrix products: matmul against a naive float64 reference over shapes (vectors, batches
// with broadcast batch axes, transposed and strided operands, K = 0), dtypes (float32/64,
// float16/bfloat16, integers exactly, complex64), addmm, inner, outer, tensordot, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

std::vector<double> pseudo_random(size_t n, double lo, double hi, uint32_t seed, bool integers = false) {
  std::vector<double> v(n);
  uint32_t s = seed * 2654435761u + 99;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * double(s >> 8) / double(1 << 24);
    if (integers) x = std::round(x);
  }
  return v;
}

size_t numel(const Shape& s) {
  size_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

struct Ref {
  Shape shape;
  std::vector<double> vals;
  std::vector<double> abs_sums;  // sum of |a||b| per output, for tolerances
};

// NumPy's matmul on row-major float64 data: 1-d operands are promoted and the added axis
// dropped; batch axes broadcast.
Ref ref_matmul(const std::vector<double>& a, Shape as, const std::vector<double>& b, Shape bs) {
  bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as = {1, as[0]};
  if (b1) bs = {bs[0], 1};
  int M = as[as.size() - 2], K = as.back(), N = bs.back();
  Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  size_t nd = std::max(ba.size(), bb.size());
  ba.insert(ba.begin(), nd - ba.size(), 1);
  bb.insert(bb.begin(), nd - bb.size(), 1);
  Shape batch(nd);
  for (size_t i = 0; i < nd; ++i) batch[i] = std::max(ba[i], bb[i]);
  size_t nb = numel(batch);
  Ref r;
  for (size_t bi = 0; bi < nb; ++bi) {
    // Batch index -> offsets into a and b with broadcasting.
    size_t rem = bi, oa = 0, ob = 0, sa = 1, sb = 1;
    for (int d = int(nd) - 1; d >= 0; --d) {
      size_t i = rem % batch[d];
      rem /= batch[d];
      oa += (ba[d] == 1 ? 0 : i) * sa;
      ob += (bb[d] == 1 ? 0 : i) * sb;
      sa *= ba[d];
      sb *= bb[d];
    }
    const double* pa = a.data() + oa * M * K;
    const double* pb = b.data() + ob * K * N;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double s = 0, t = 0;
        for (int k = 0; k < K; ++k) {
          s += pa[i * K + k] * pb[k * N + j];
          t += std::fabs(pa[i * K + k] * pb[k * N + j]);
        }
        r.vals.push_back(s);
        r.abs_sums.push_back(t);
      }
  }
  r.shape = batch;
  if (!a1) r.shape.push_back(M);
  if (!b1) r.shape.push_back(N);
  return r;
}

// matmul(a, b) for arrays a and b of any layout against the reference from their values.
void check_matmul(const array& a, const array& b, double rtol, const std::string& ctx) {
  SCOPED_TRACE(ctx);
  Ref r = ref_matmul(to_vector<double>(a), a.shape(), to_vector<double>(b), b.shape());
  array c = matmul(a, b);
  ASSERT_EQ(c.shape(), r.shape);
  EXPECT_EQ(c.dtype(), promote_types(a.dtype(), b.dtype()));
  auto got = to_vector<double>(c);
  ASSERT_EQ(got.size(), r.vals.size());
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i) {
    double tol = rtol * (r.abs_sums[i] + std::fabs(r.vals[i])) + 1e-300;
    if (!(std::fabs(got[i] - r.vals[i]) <= tol)) {
      ++failures;
      ADD_FAILURE() << "at " << i << ": got " << got[i] << ", expected " << r.vals[i] << " (tol " << tol << ")";
    }
  }
}

array rand_array(const Shape& s, Dtype dt, uint32_t seed, bool integers = false) {
  auto v = pseudo_random(numel(s), -2, 2, seed, integers);
  return array(v.begin(), s, dt);
}

}  // namespace

TEST(MatmulFloat, ShapesAgainstReference) {
  struct S {
    Shape a, b;
  };
  std::vector<S> shapes = {
      {{3, 4}, {4, 5}},     {{1, 7}, {7, 1}},          {{7, 1}, {1, 6}},        {{64, 33}, {33, 17}},
      {{5}, {5, 3}},        {{3, 5}, {5}},             {{5}, {5}},              {{2, 3, 4}, {2, 4, 5}},
      {{2, 1, 3, 4}, {5, 4, 6}}, {{4}, {2, 4, 3}},     {{2, 3, 4}, {4}},        {{1, 3, 4}, {6, 4, 2}},
      {{3, 1, 2, 5}, {1, 4, 5, 3}}, {{130, 70}, {70, 90}}, {{1, 1}, {1, 1}},    {{2, 2, 2, 2}, {2, 2}},
  };
  uint32_t seed = 1;
  for (Dtype dt : {float32, float64}) {
    double rtol = dt == float32 ? 1e-5 : 1e-14;
    for (auto& s : shapes) {
      std::string ctx = dtype_name(dt) + " " + std::to_string(s.a.size()) + "-d @ " + std::to_string(s.b.size()) +
                        "-d, case " + std::to_string(seed);
      check_matmul(rand_array(s.a, dt, seed), rand_array(s.b, dt, seed + 100), rtol, ctx);
      ++seed;
    }
  }
  // Vector @ vector is 0-d.
  array v = matmul(array({1.0f, 2.0f, 3.0f}), array({4.0f, 5.0f, 6.0f}));
  EXPECT_EQ(v.ndim(), 0u);
  EXPECT_EQ(v.item<float>(), 32.f);
  // Shapes of the broadcast batch case.
  EXPECT_EQ(matmul(zeros({2, 1, 3, 4}), zeros({5, 4, 6})).shape(), (Shape{2, 5, 3, 6}));
}

TEST(MatmulFloat, TransposedAndStridedOperands) {
  for (Dtype dt : {float32, float64}) {
    double rtol = dt == float32 ? 1e-5 : 1e-14;
    SCOPED_TRACE(dtype_name(dt));
    array a = rand_array({6, 5}, dt, 1), b = rand_array({7, 5}, dt, 2);  // a @ b.T is (6, 7)
    check_matmul(a, transpose(b), rtol, "a @ b.T");
    check_matmul(transpose(a), rand_array({6, 4}, dt, 3), rtol, "a.T @ c");
    check_matmul(b, transpose(a), rtol, "b @ a.T");
    check_matmul(transpose(rand_array({5, 6}, dt, 23)), transpose(a), rtol, "c.T @ a.T");
    // Batched transposes via swapaxes, including a broadcast batch.
    array ba = rand_array({3, 5, 4}, dt, 4), bb = rand_array({3, 6, 5}, dt, 5);
    check_matmul(swapaxes(ba, -1, -2), swapaxes(bb, -1, -2), rtol, "batched transposes");
    check_matmul(swapaxes(ba, -1, -2), rand_array({5, 2}, dt, 6), rtol, "batched transpose @ matrix");
    // Batch axes that are not outermost in memory.
    array perm = transpose(rand_array({4, 3, 5}, dt, 7), {1, 0, 2});  // (3, 4, 5), batch stride 5
    check_matmul(perm, rand_array({3, 5, 2}, dt, 8), rtol, "permuted batch");
    // Strided slices (steps in the matrix axes need a copy), reversed rows, column slices.
    array big = rand_array({10, 12}, dt, 9);
    check_matmul(slice(big, {0, 0}, {10, 12}, {2, 3}), rand_array({4, 3}, dt, 10), rtol, "stepped slice");
    check_matmul(slice(big, {9, 0}, {-11, 12}, {-1, 1}), rand_array({12, 2}, dt, 11), rtol, "reversed rows");
    check_matmul(slice(big, {1, 2}, {6, 9}), slice(big, {0, 3}, {7, 8}), rtol, "sub-blocks with leading dims");
    check_matmul(rand_array({3, 10}, dt, 12), slice(big, {0, 11}, {10, -13}, {1, -2}), rtol, "reversed columns");
    // Broadcast views as operands.
    check_matmul(broadcast_to(rand_array({1, 5}, dt, 13), {4, 5}), rand_array({5, 3}, dt, 14), rtol,
                 "broadcast rows");
    check_matmul(rand_array({4, 5}, dt, 15), broadcast_to(rand_array({5, 1}, dt, 16), {5, 3}), rtol,
                 "broadcast columns");
    check_matmul(broadcast_to(rand_array({5, 6}, dt, 17), {3, 5, 6}), rand_array({3, 6, 2}, dt, 18), rtol,
                 "broadcast batch view");
    // A (M, 1) column from a transposed row vector, and a (1, N) row from a transposed column.
    check_matmul(transpose(rand_array({1, 6}, dt, 19)), rand_array({1, 4}, dt, 20), rtol, "column from transpose");
    check_matmul(rand_array({3, 1}, dt, 21), transpose(rand_array({5, 1}, dt, 22)), rtol, "row from transpose");
  }
}

TEST(MatmulFloat, EmptyDimensions) {
  for (Dtype dt : {float32, float64, int32, float16, complex64}) {
    SCOPED_TRACE(dtype_name(dt));
    array c = matmul(zeros({3, 0}, dt), zeros({0, 4}, dt));
    EXPECT_EQ(c.shape(), (Shape{3, 4}));
    expect_values(c, std::vector<double>(12, 0.0));
    // Even when the output buffer was not zero to start with: fill a pool block first.
    { auto junk = to_vector<float>(full({3, 4}, 7.0f)); }
    expect_values(matmul(ones({2, 3, 0}, dt), ones({0, 4}, dt)), std::vector<double>(24, 0.0));
    EXPECT_EQ(matmul(zeros({0, 3}, dt), zeros({3, 4}, dt)).shape(), (Shape{0, 4}));
    EXPECT_EQ(matmul(zeros({3, 2}, dt), zeros({2, 0}, dt)).shape(), (Shape{3, 0}));
    EXPECT_EQ(matmul(zeros({0, 3, 2}, dt), zeros({2, 5}, dt)).shape(), (Shape{0, 3, 5}));
    array v = matmul(zeros({0}, dt), zeros({0}, dt));
    EXPECT_EQ(v.ndim(), 0u);
    expect_values(v, {0});
  }
}

TEST(MatmulHalf, Float16AndBfloat16) {
  for (Dtype dt : {float16, bfloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    double eps = dt == float16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
    // Accumulated in float32, rounded once: within half a unit of the 16-bit type.
    check_matmul(rand_array({17, 40}, dt, 1), rand_array({40, 9}, dt, 2), eps * 1.01, "2-d");
    check_matmul(rand_array({2, 1, 3, 8}, dt, 3), rand_array({4, 8, 5}, dt, 4), eps * 1.01, "broadcast batch");
    check_matmul(transpose(rand_array({8, 3}, dt, 5)), rand_array({8}, dt, 6), eps * 1.01, "transposed @ vector");
    EXPECT_EQ(matmul(ones({2, 2}, dt), ones({2, 2}, dt)).dtype(), dt);
    // A long dot product of ones: float32 accumulation counts past 2048 exactly.
    expect_values(matmul(ones({1, 3000}, dt), ones({3000, 1}, dt)), {dt == float16 ? 3000.0 : 3008.0});
  }
  // float16 @ bfloat16 is float32; float16 @ float32 is float32.
  EXPECT_EQ(matmul(ones({2, 2}, float16), ones({2, 2}, bfloat16)).dtype(), float32);
  EXPECT_EQ(matmul(ones({2, 2}, float16), ones({2, 2}, float32)).dtype(), float32);
  expect_values(matmul(ones({2, 3}, float16), ones({3, 2}, bfloat16)), {3, 3, 3, 3});
}

TEST(MatmulIntegers, Exact) {
  for (Dtype dt : {int32, int64, int16, uint32}) {
    SCOPED_TRACE(dtype_name(dt));
    bool uns = is_unsigned(dt);
    auto mk = [&](const Shape& s, uint32_t seed) {
      auto v = pseudo_random(numel(s), uns ? 0 : -50, 50, seed, true);
      return array(v.begin(), s, dt);
    };
    check_matmul(mk({9, 13}, 1), mk({13, 7}, 2), 0, "2-d");
    check_matmul(mk({2, 1, 3, 4}, 3), mk({5, 4, 6}, 4), 0, "broadcast batch");
    check_matmul(transpose(mk({13, 9}, 5)), transpose(mk({7, 13}, 6)), 0, "transposed");
    check_matmul(mk({5}, 7), mk({5, 3}, 8), 0, "vector @ matrix");
    check_matmul(mk({3, 5}, 9), mk({5}, 10), 0, "matrix @ vector");
    check_matmul(slice(mk({8, 10}, 11), {0, 1}, {8, 10}, {2, 2}), mk({5, 3}, 12), 0, "strided");
  }
  // Large values stay exact in int64 (float64 would round 2^53 + 2^40 + 2^13 + 1).
  int64_t big = (int64_t(1) << 40) + 1;
  auto r = to_vector<int64_t>(matmul(array({big, big}, Shape{1, 2}), array({int64_t(1) << 13, int64_t(1)}, Shape{2, 1})));
  EXPECT_EQ(r[0], (int64_t(1) << 53) + (int64_t(1) << 40) + (int64_t(1) << 13) + 1);
  // int8 products wrap like NumPy's.
  expect_values(matmul(array({100, 100}, Shape{1, 2}, int8), array({2, 1}, Shape{2, 1}, int8)), {44});
  EXPECT_EQ(matmul(array({1, 2}, int8), array({3, 4}, uint8)).dtype(), int16);
  // Mixed int and float promote.
  EXPECT_EQ(matmul(array({1, 2}, Shape{1, 2}), array({0.5f, 0.25f}, Shape{2, 1})).dtype(), float32);
  expect_values(matmul(array({1, 2}, Shape{1, 2}), array({0.5f, 0.25f}, Shape{2, 1})), {1.0});
}

TEST(MatmulComplex, AgainstStdComplex) {
  using C = std::complex<double>;
  const int M = 5, K = 7, N = 4;
  auto re = pseudo_random(2 * (M * K + K * N), -1, 1, 3);
  std::vector<complex64_t> av, bv;
  for (int i = 0; i < M * K; ++i) av.emplace_back(float(re[2 * i]), float(re[2 * i + 1]));
  for (int i = 0; i < K * N; ++i) bv.emplace_back(float(re[2 * (M * K + i)]), float(re[2 * (M * K + i) + 1]));
  array a(av.begin(), Shape{M, K}), b(bv.begin(), Shape{K, N});
  auto check = [&](const array& c, bool transposed_b_input) {
    ASSERT_EQ(c.dtype(), complex64);
    ASSERT_EQ(c.shape(), (Shape{M, N}));
    auto got = to_vector<complex64_t>(c);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        C s = 0;
        for (int k = 0; k < K; ++k) s += C(av[i * K + k]) * C(bv[k * N + j]);
        EXPECT_NEAR(got[i * N + j].real(), s.real(), 1e-5) << transposed_b_input;
        EXPECT_NEAR(got[i * N + j].imag(), s.imag(), 1e-5) << transposed_b_input;
      }
  };
  check(matmul(a, b), false);
  check(matmul(a, transpose(contiguous(transpose(b)))), true);
  // complex @ float promotes.
  array r = matmul(a, ones({K, 1}));
  EXPECT_EQ(r.dtype(), complex64);
  auto rv = to_vector<complex64_t>(r);
  for (int i = 0; i < M; ++i) {
    C s = 0;
    for (int k = 0; k < K; ++k) s += C(av[i * K + k]);
    EXPECT_NEAR(rv[i].real(), s.real(), 1e-5);
    EXPECT_NEAR(rv[i].imag(), s.imag(), 1e-5);
  }
}

TEST(MatmulAddmm, AlphaBeta) {
  array a = rand_array({4, 3}, float32, 1), b = rand_array({3, 5}, float32, 2);
  array c = rand_array({4, 5}, float32, 3);
  auto ab = to_vector<double>(matmul(a, b));
  auto cv = to_vector<double>(c);
  auto check = [&](const array& out, double alpha, double beta, const std::vector<double>& cvals, size_t period) {
    ASSERT_EQ(out.shape(), (Shape{4, 5}));
    auto got = to_vector<double>(out);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], alpha * ab[i] + beta * cvals[i % period], 1e-5) << alpha << " " << beta;
  };
  check(addmm(c, a, b), 1, 1, cv, 20);
  check(addmm(c, a, b, 2.0f, 0.5f), 2, 0.5, cv, 20);
  check(addmm(c, a, b, 1.0f, 0.0f), 1, 0, cv, 20);
  check(addmm(c, a, b, 0.0f, 1.0f), 0, 1, cv, 20);
  // c broadcasts over rows.
  array row = array({1.0f, 2.0f, 3.0f, 4.0f, 5.0f});
  check(addmm(row, a, b, -1.0f, 3.0f), -1, 3, {1, 2, 3, 4, 5}, 5);
  // Batched, and with transposed operands.
  array ba = rand_array({2, 4, 3}, float32, 4);
  array out = addmm(array(1.0f), ba, transpose(rand_array({5, 3}, float32, 5)), 0.5f, 2.0f);
  EXPECT_EQ(out.shape(), (Shape{2, 4, 5}));
  EXPECT_EQ(addmm(c, a, b).dtype(), float32);
  EXPECT_EQ(addmm(astype(c, float64), a, b).dtype(), float64);
  // c must broadcast to the product's shape, not widen it.
  expect_throws_naming([&] { return addmm(zeros({2, 4, 5}), a, b); }, "addmm");
  expect_throws_naming([&] { return addmm(zeros({3, 3}), a, b); }, "add");
  expect_throws_naming([&] { return addmm(c, a, transpose(b)); }, "matmul");
}

TEST(MatmulInnerOuter, Values) {
  array x = array({1.0f, 2.0f, 3.0f}), y = array({4.0f, 5.0f, 6.0f});
  array d = inner(x, y);
  EXPECT_EQ(d.ndim(), 0u);
  EXPECT_EQ(d.item<float>(), 32.f);
  // 2-d: contracts the last axes.
  array a = reshape(arange(6.0), {2, 3}), b = reshape(arange(12.0), {4, 3});
  array ab = inner(a, b);
  EXPECT_EQ(ab.shape(), (Shape{2, 4}));
  std::vector<double> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += (i * 3 + k) * (j * 3 + k);
      want.push_back(s);
    }
  expect_values(ab, want);
  EXPECT_EQ(inner(reshape(arange(24.0), {2, 3, 4}), reshape(arange(8.0), {2, 4})).shape(), (Shape{2, 3, 2}));
  expect_values(inner(array(2.0f), y), {8, 10, 12});
  expect_values(inner(array({1, 2}), array({3, 4})), {11});
  EXPECT_EQ(inner(array({1, 2}), array({3, 4})).dtype(), int32);
  expect_throws_naming([&] { return inner(x, array({1.0f, 2.0f})); }, "inner");
  array o = outer(x, array({1.0f, 10.0f}));
  EXPECT_EQ(o.shape(), (Shape{3, 2}));
  expect_values(o, {1, 10, 2, 20, 3, 30});
  // Inputs of any shape are flattened.
  expect_values(outer(reshape(array({1, 2, 3, 4}), {2, 2}), array({1, -1})), {1, -1, 2, -2, 3, -3, 4, -4});
  expect_values(outer(transpose(reshape(array({1, 2, 3, 4}), {2, 2})), array(2)), {2, 6, 4, 8});
  EXPECT_EQ(outer(array({1}, int8), array({2.0f})).dtype(), float32);
}

TEST(MatmulTensordot, IntAxesAndAxisLists) {
  auto av = pseudo_random(3 * 4 * 5, -1, 1, 1), bv = pseudo_random(4 * 5 * 6, -1, 1, 2);
  array a(av.begin(), Shape{3, 4, 5}), b(bv.begin(), Shape{4, 5, 6});
  array a64 = astype(a, float64), b64 = astype(b, float64);
  auto A = to_vector<double>(a), B = to_vector<double>(b);
  // axes = 2: contract (4, 5).
  array t2 = tensordot(a64, b64, 2);
  EXPECT_EQ(t2.shape(), (Shape{3, 6}));
  std::vector<double> w2;
  for (int i = 0; i < 3; ++i)
    for (int l = 0; l < 6; ++l) {
      double s = 0;
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 5; ++k) s += A[(i * 4 + j) * 5 + k] * B[(j * 5 + k) * 6 + l];
      w2.push_back(s);
    }
  expect_values(t2, w2, 1e-12);
  expect_values(tensordot(a, b), w2, 1e-5);  // default axes = 2
  // axes = 0: the outer product.
  array t0 = tensordot(array({1, 2}), array({3, 4, 5}), 0);
  EXPECT_EQ(t0.shape(), (Shape{2, 3}));
  expect_values(t0, {3, 4, 5, 6, 8, 10});
  // axes = 1 on (3,4,5) and (5,2): contracts 5.
  auto cv = pseudo_random(10, -1, 1, 3);
  array c(cv.begin(), Shape{5, 2}, float64);
  array t1 = tensordot(a64, c, 1);
  EXPECT_EQ(t1.shape(), (Shape{3, 4, 2}));
  std::vector<double> w1;
  for (int i = 0; i < 12; ++i)
    for (int l = 0; l < 2; ++l) {
      double s = 0;
      for (int k = 0; k < 5; ++k) s += A[i * 5 + k] * cv[k * 2 + l];
      w1.push_back(s);
    }
  expect_values(t1, w1, 1e-12);
  // Axis lists, in the caller's pairing: a's axis 0 with b2's axis 1 and a's axis 2 with b2's axis 0.
  auto dv = pseudo_random(5 * 3 * 2, -1, 1, 4);
  array b2(dv.begin(), Shape{5, 3, 2}, float64);
  array tl = tensordot(a64, b2, {0, 2}, {1, 0});
  EXPECT_EQ(tl.shape(), (Shape{4, 2}));
  std::vector<double> wl;
  for (int j = 0; j < 4; ++j)
    for (int m = 0; m < 2; ++m) {
      double s = 0;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) s += A[(i * 4 + j) * 5 + k] * dv[(k * 3 + i) * 2 + m];
      wl.push_back(s);
    }
  expect_values(tl, wl, 1e-12);
  // The same pairing listed in the other order, and with negative axes.
  expect_values(tensordot(a64, b2, {2, 0}, {0, 1}), wl, 1e-12);
  expect_values(tensordot(a64, b2, {-3, -1}, {-2, -3}), wl, 1e-12);
  // A transposed input.
  // Transposed inputs: transpose(a) is (5,4,3), transpose(b) is (6,5,4); the result is w2.
  expect_values(tensordot(transpose(a64), transpose(b64), {1, 0}, {2, 1}), w2, 1e-12);
  expect_throws_naming([&] { return tensordot(a, b, {0}, {0}); }, "tensordot");
  expect_throws_naming([&] { return tensordot(a, b, {1, 2}, {0}); }, "tensordot");
  expect_throws_naming([&] { return tensordot(a, b, 4); }, "tensordot");
  expect_throws_naming([&] { return tensordot(a, b, -1); }, "tensordot");
  expect_throws_naming([&] { return tensordot(a, b, {3}, {0}); }, "tensordot");
}

TEST(MatmulErrors, BadInputs) {
  expect_throws_naming([] { return matmul(array(1.0f), ones({2, 2})); }, "matmul");
  expect_throws_naming([] { return matmul(ones({2, 2}), array(1.0f)); }, "matmul");
  expect_throws_naming([] { return matmul(ones({2, 3}), ones({2, 3})); }, "matmul");
  expect_throws_naming([] { return matmul(ones({3}), ones({4})); }, "matmul");
  expect_throws_naming([] { return matmul(ones({2, 3}), ones({4})); }, "matmul");
  expect_throws_naming([] { return matmul(ones({2, 2}, bool_), ones({2, 2}, bool_)); }, "matmul");
  expect_throws_naming([] { return matmul(ones({2, 2, 3}), ones({3, 3, 4})); }, "matmul");
  // Errors come when the op is built.
  EXPECT_THROW(matmul(ones({2, 3}), ones({2, 3})), std::invalid_argument);
  // bool with a number is fine: it promotes.
  EXPECT_EQ(matmul(ones({2, 2}, bool_), ones({2, 2}, float32)).dtype(), float32);
  expect_values(matmul(ones({2, 2}, bool_), ones({2, 2}, int32)), {2, 2, 2, 2});
}
