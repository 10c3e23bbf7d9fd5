// Linear algebra (lazuli::linalg): reconstruction checks of the factorizations, errors,
// and the transform checker's cases for the LAPACK primitives. Value checks against NumPy
// and SciPy over many shapes are in python/tests/test_linalg.py.
#include "lazuli/linalg.h"

#include "checker.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::Case;
using lazuli::test::expect_throws_naming;
using lazuli::test::filled;

namespace {

array mT(const array& x) { return swapaxes(x, -1, -2); }
// A well-conditioned square matrix from x: x + n I.
array shifted(const array& x) { return add(x, multiply(eye(x.shape(-1), x.dtype()), array(4.0, x.dtype()))); }
// A symmetric positive-definite matrix from x.
array spd(const array& x) { return add(matmul(x, mT(x)), multiply(eye(x.shape(-1), x.dtype()), array(3.0, x.dtype()))); }
array symmetric(const array& x) { return add(x, mT(x)); }

bool close(const array& a, const array& b, double tol = 1e-9) {
  return allclose(astype(a, float64), astype(b, float64), tol, tol).item<bool>();
}

}  // namespace

TEST(Linalg, InvSolveAndDet) {
  for (Dtype t : {float32, float64}) {
    double tol = t == float32 ? 1e-4 : 1e-10;
    array a = astype(shifted(filled({2, 4, 4}, -1, 1, 3)), t);
    array b = astype(filled({2, 4, 3}, -1, 1, 4), t);
    array i4 = broadcast_to(eye(4, t), {2, 4, 4});
    EXPECT_TRUE(close(matmul(a, linalg::inv(a)), i4, tol));
    EXPECT_TRUE(close(matmul(a, linalg::solve(a, b)), b, tol));
    // det of a triangular matrix is the product of its diagonal; slogdet agrees with det.
    array u = triu(a);
    EXPECT_TRUE(close(linalg::det(u), prod(diagonal(u, 0, -2, -1), -1), tol));
    auto sl = linalg::slogdet(a);
    EXPECT_TRUE(close(multiply(sl[0], exp(sl[1])), linalg::det(a), tol));
  }
}

TEST(Linalg, FactorizationsReconstruct) {
  array a = filled({3, 5, 4}, -1, 1, 5);
  auto qr = linalg::qr(a);
  EXPECT_TRUE(close(matmul(qr[0], qr[1]), a));
  auto usv = linalg::svd(a);
  array us = multiply(slice(usv[0], {0, 0, 0}, {3, 5, 4}), expand_dims(usv[1], -2));
  EXPECT_TRUE(close(matmul(us, usv[2]), a));
  auto plu = linalg::lu(a);
  array rows = broadcast_to(expand_dims(astype(plu[0], int32), -1), {3, 5, 4});
  EXPECT_TRUE(close(take_along_axis(matmul(plu[1], plu[2]), rows, -2), a));
  array p = spd(filled({4, 4}, -1, 1, 6));
  array l = linalg::cholesky(p);
  EXPECT_TRUE(close(matmul(l, mT(l)), p));
  EXPECT_TRUE(close(matmul(linalg::cholesky_inv(l), p), eye(4, float64)));
  auto wv = linalg::eigh(p);
  EXPECT_TRUE(close(matmul(multiply(wv[1], expand_dims(wv[0], -2)), mT(wv[1])), p));
  EXPECT_TRUE(close(matmul(linalg::pinv(a), a), broadcast_to(eye(4, float64), {3, 4, 4})));
}

TEST(Linalg, Norms) {
  array v({3.0, -4.0, 0.0});
  EXPECT_DOUBLE_EQ(linalg::norm(v).item<double>(), 5.0);
  EXPECT_DOUBLE_EQ(linalg::norm(v, 1.0).item<double>(), 7.0);
  EXPECT_DOUBLE_EQ(linalg::norm(v, 0.0).item<double>(), 2.0);
  EXPECT_DOUBLE_EQ(linalg::norm(v, -std::numeric_limits<double>::infinity()).item<double>(), 0.0);
  array m({1.0, -2.0, 3.0, 4.0}, Shape{2, 2});
  EXPECT_DOUBLE_EQ(linalg::norm(m, 1.0).item<double>(), 6.0);  // largest column sum
  EXPECT_DOUBLE_EQ(linalg::norm(m, std::numeric_limits<double>::infinity()).item<double>(), 7.0);
  EXPECT_NEAR(linalg::norm(m, std::string("nuc")).item<double>(),
              sum(linalg::svd(m, false)[0]).item<double>(), 1e-12);
  EXPECT_EQ(linalg::norm(filled({2, 3, 4}, -1, 1, 1), 2.0, std::vector<int>{0, 2}, true).shape(), (Shape{1, 3, 1}));
  EXPECT_NEAR(linalg::norm(m, "fro").item<double>(), std::sqrt(30.0), 1e-12);
  EXPECT_EQ(linalg::norm(m, std::vector<int>{1}).shape(), (Shape{2}));
  EXPECT_EQ(linalg::norm(m, std::optional<linalg::NormOrd>(), std::nullopt, true).shape(), (Shape{1, 1}));
}

TEST(Linalg, Errors) {
  array sing({1.0, 2.0, 2.0, 4.0}, Shape{2, 2});
  expect_throws_naming([&] { return linalg::inv(sing); }, "linalg::inv");
  expect_throws_naming([&] { return linalg::solve(sing, array({1.0, 1.0})); }, "linalg::solve");
  expect_throws_naming([&] { return linalg::tri_inv(triu(sing, 1)); }, "linalg::tri_inv");
  expect_throws_naming([&] { return linalg::cholesky(negative(eye(3, float64))); }, "linalg::cholesky");
  expect_throws_naming([&] { return linalg::inv(ones({2, 3})); }, "linalg::inv");
  expect_throws_naming([&] { return linalg::inv(ones({3, 3}, int32)); }, "linalg::inv");
  expect_throws_naming([&] { return linalg::svd(ones({3}))[0]; }, "linalg::svd");
  expect_throws_naming([&] { return linalg::norm(ones({3, 3}), 3.0); }, "linalg::norm");
  expect_throws_naming([&] { return linalg::norm(ones({3}), std::string("fro")); }, "linalg::norm");
  expect_throws_naming([&] { return linalg::norm(ones({2, 2, 2}), 2.0); }, "linalg::norm");
  expect_throws_naming([&] { return linalg::solve(ones({2, 3, 3}), ones({4, 3, 1})); }, "linalg::solve");
  expect_throws_naming([&] { return linalg::eigh(eye(3), "X")[0]; }, "linalg::eigh");
  expect_throws_naming([&] { return linalg::cross(ones({4}), ones({3})); }, "linalg::cross");
}

LAZULI_CHECKER_CASES(linalg) {
  using lazuli::test::binary_fn;
  using lazuli::test::unary_fn;
  using V = std::vector<array>;
  auto fn = [](std::function<V(const array&)> f) { return [f](const V& x) { return f(x[0]); }; };
  add("LUFactor", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::lu_factor(shifted(x))[0]; })});
  add("LUFactor", Case{{{2, 3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::det(x); })});
  add("LUFactor", Case{{{3, 3}}, -1, 1, fn([](const array& x) { return linalg::slogdet(shifted(x)); }), true, true});
  add("LUFactor", Case{{{3, 3}}, -1, 1, fn([](const array& x) {
                         auto plu = linalg::lu(x);
                         return V{plu[1], plu[2]};
                       })});
  add("Inverse", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::inv(shifted(x)); }), true, true});
  add("Inverse", Case{{{2, 3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::tri_inv(shifted(x), true); })});
  add("Inverse", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::tri_inv(shifted(x), false); })});
  add("Inverse", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::cholesky_inv(spd(x), true); })});
  add("Solve", Case{{{3, 3}, {3, 2}}, -1, 1, binary_fn([](const array& a, const array& b) { return linalg::solve(shifted(a), b); })});
  add("Solve", Case{{{2, 3, 3}, {3}}, -1, 1, binary_fn([](const array& a, const array& b) { return linalg::solve(shifted(a), b); }), true, true, {0, -1}});
  add("SolveTriangular", Case{{{3, 3}, {3, 2}}, -1, 1, binary_fn([](const array& a, const array& b) {
                                return linalg::solve_triangular(shifted(a), b, true);
                              })});
  add("SolveTriangular", Case{{{3, 3}, {2, 3, 1}}, -1, 1, binary_fn([](const array& a, const array& b) {
                                return linalg::solve_triangular(shifted(a), b, false);
                              }), true, true, {-1, 0}});
  add("Cholesky", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::cholesky(spd(x)); })});
  add("Cholesky", Case{{{2, 3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::cholesky(spd(x), true); })});
  add("QRF", Case{{{4, 3}}, -1, 1, fn([](const array& x) { return linalg::qr(x); })});
  add("QRF", Case{{{3, 3}}, -1, 1, fn([](const array& x) { return linalg::qr(x); }), true, true});
  add("QRF", Case{{{2, 4}}, -1, 1, fn([](const array& x) { return linalg::qr(x); })});
  add("SVD", Case{{{3, 3}}, -1, 1, fn([](const array& x) { return linalg::svd(x); }), true, true});
  add("SVD", Case{{{4, 3}}, -1, 1, fn([](const array& x) { return linalg::svd(x, false); })});
  add("SVD", Case{{{2, 4}}, -1, 1, fn([](const array& x) {
                    auto usv = linalg::svd(x);  // U whole (square), the first two rows of Vt
                    return V{usv[0], usv[1], slice(usv[2], {0, 0}, {2, 4})};
                  })});
  add("SVD", Case{{{4, 2}}, -1, 1, fn([](const array& x) {
                    auto usv = linalg::svd(x);
                    return V{slice(usv[0], {0, 0}, {4, 2}), usv[1], usv[2]};
                  })});
  add("SVD", Case{{{3, 4}}, -1, 1, unary_fn([](const array& x) { return linalg::pinv(x); })});
  add("SVD", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return linalg::norm(x, std::string("nuc")); })});
  add("SVD", Case{{{2, 3, 2}}, -1, 1, unary_fn([](const array& x) { return linalg::norm(x, 2.0, std::vector<int>{-2, -1}); })});
  add("Eigh", Case{{{3, 3}}, -1, 1, fn([](const array& x) { return linalg::eigh(symmetric(x)); })});
  add("Eigh", Case{{{2, 3, 3}}, -1, 1, fn([](const array& x) { return linalg::eigh(symmetric(x), "U"); })});
  add("Eigh", Case{{{4, 4}}, -1, 1, unary_fn([](const array& x) { return linalg::eigvalsh(symmetric(x)); }), true, true});
  add("Eig", Case{{{3, 3}}, -1, 1, unary_fn([](const array& x) { return real(linalg::eigvals(x)); }), false});
  add("Eig", Case{{{3, 3}}, -1, 1, fn([](const array& x) {
                    auto wv = linalg::eig(x);
                    return V{real(wv[0]), imag(wv[1])};
                  }), false});
}
