// The linear-algebra GPU kernels (cuSOLVER, backend/cuda/linalg.cpp) against the CPU's
// (LAPACK): unique outputs (LU, pivots, inverses, solves, Cholesky factors, singular values,
// symmetric eigenvalues) are compared with the CPU's; outputs unique only up to signs or
// phases (Q and R, singular and eigen vectors) are checked through what defines them
// (Q R = A, U S Vt = A, A V = V diag(w), orthonormality). Both devices must raise the same
// error for singular, not positive definite and non-finite inputs. Skipped without a GPU.
#include <algorithm>
#include <complex>
#include <optional>

#include "gpu_test_util.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using Outputs = std::vector<array>;

const std::vector<Dtype> kFloats = {float32, float64};

// Factorizations reorder sums: results agree to a tolerance relative to the largest value.
double linalg_tolerance(Dtype t) { return t == float64 ? 1e-9 : 2e-3; }

std::vector<double> parts(const array& a, bool imaginary) {
  if (a.dtype() == complex64) return test::to_vector<double>(imaginary ? imag(a, kCpu) : real(a, kCpu));
  return imaginary ? std::vector<double>(a.size(), 0.0) : test::to_vector<double>(a);
}

// Same dtype and shape; every value within rtol of the largest magnitude in `want` (at
// least 1); integers exact.
void expect_close(const array& want, const array& got, const std::string& what, double rtol) {
  ASSERT_EQ(want.dtype(), got.dtype()) << what;
  ASSERT_EQ(want.shape(), got.shape()) << what;
  if (is_integral(want.dtype())) rtol = 0;
  for (bool im : {false, true}) {
    auto w = parts(want, im), g = parts(got, im);
    double scale = 1;
    for (double v : w) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(g[i], w[i], rtol * scale) << what << (im ? " (imaginary)" : "") << " at " << i;
  }
}

// Runs f on the CPU and on the GPU. Where the CPU raises std::invalid_argument the GPU must
// raise it with the same message, and nullopt comes back; else both devices' outputs.
template <typename F>
std::optional<std::pair<Outputs, Outputs>> run_both(F&& f, const std::string& what) {
  Outputs cpu;
  try {
    cpu = f(kCpu);
    eval(cpu);
  } catch (const std::invalid_argument& e) {
    std::string gpu_error = test::error_of<std::invalid_argument>([&] { eval(f(kGpu)); });
    EXPECT_EQ(gpu_error, e.what()) << what;
    return std::nullopt;
  }
  Outputs gpu = f(kGpu);
  eval(gpu);
  EXPECT_EQ(cpu.size(), gpu.size()) << what;
  return std::make_pair(cpu, gpu);
}

// f must raise std::invalid_argument on the CPU, and the same on the GPU.
template <typename F>
void expect_same_error(F&& f, const std::string& what) {
  std::string cpu_error = test::error_of<std::invalid_argument>([&] { eval(f(kCpu)); });
  EXPECT_FALSE(cpu_error.empty()) << what;
  EXPECT_EQ(test::error_of<std::invalid_argument>([&] { eval(f(kGpu)); }), cpu_error) << what;
}

// run_both, then every output compared.
template <typename F>
void compare_all(F&& f, const std::string& what) {
  auto r = run_both(f, what);
  if (!r) return;
  for (size_t i = 0; i < r->first.size() && i < r->second.size(); ++i)
    expect_close(r->first[i], r->second[i], what + " output " + std::to_string(i),
                 linalg_tolerance(r->first[i].dtype() == complex64 ? float32 : r->first[i].dtype()));
}

// ---- inputs -----------------------------------------------------------------------------

using Maker = std::function<array(const Shape&, Dtype, uint64_t)>;

Shape with_matrix(Shape batch, int m, int n) {
  batch.push_back(m), batch.push_back(n);
  return batch;
}
array mT(const array& x) { return swapaxes(x, -1, -2); }

array general(const Shape& shape, Dtype t, uint64_t seed) { return sample(shape, t, seed); }
// A strong diagonal: far from singular, and far from zero on the diagonal (triangular solves).
array well_conditioned(const Shape& shape, Dtype t, uint64_t seed) {
  int n = shape.back();
  return add(sample(shape, t, seed), multiply(eye(n, t), array(4.0 * n + 4, t)));
}
// Symmetric positive definite: X X^T + n I.
array spd(const Shape& shape, Dtype t, uint64_t seed) {
  array x = sample(shape, t, seed);
  return add(matmul(x, mT(x)), multiply(eye(shape.back(), t), array(double(shape.back()), t)));
}
array symmetric(const Shape& shape, Dtype t, uint64_t seed) {
  array x = sample(shape, t, seed);
  return add(x, mT(x));
}

struct Input {
  std::string layout;
  array a;
};
// m x n matrices from `make` in several layouts: dense; the transpose of a made matrix;
// columns two apart; one matrix broadcast over a batch; a batch sliced with a step (its
// matrices do not lie evenly apart); and a dense batch.
std::vector<Input> layouts(int m, int n, Dtype t, const Maker& make, uint64_t seed) {
  array x = make({m, n}, t, seed);
  array interleaved = stack({x, zeros_like(x)}, -1);  // (m, n, 2): x's columns two apart
  array sliced_batch = make({4, 3, m, n}, t, seed + 4);
  std::vector<Input> in = {
      {"dense", x},
      {"transposed", mT(make({n, m}, t, seed + 1))},
      {"strided", squeeze(slice(interleaved, {0, 0, 0}, {m, n, 1}), -1)},
      {"broadcast batch", broadcast_to(make({1, m, n}, t, seed + 2), {3, m, n})},
      {"sliced batch", slice(sliced_batch, {0, 0, 0, 0}, {4, 3, m, n}, {2, 1, 1, 1})},
      {"batch", make({2, 3, m, n}, t, seed + 3)},
  };
  for (auto& i : in) i.a.eval();
  return in;
}

std::string name(const std::string& op, int m, int n, Dtype t, const std::string& layout) {
  return op + " " + std::to_string(m) + "x" + std::to_string(n) + " " + dtype_name(t) + " " + layout;
}

const std::vector<int> kSides = {1, 5, 64};
const std::vector<std::pair<int, int>> kRectangles = {{1, 1}, {5, 5}, {64, 64}, {3, 5}, {5, 3}, {64, 17}, {17, 64}};

// ---- invariants, computed on the CPU from the GPU's outputs ----------------------------

array cpu_matmul(const array& a, const array& b) { return matmul(a, b, kCpu); }
// Expects x^T x = I (columns orthonormal), x (..., R, C).
void expect_orthonormal_columns(const array& x, const std::string& what, double tol) {
  array gram = cpu_matmul(mT(x), x);
  expect_close(broadcast_to(eye(x.shape(-1), x.dtype()), gram.shape()), gram, what, tol);
}

// The same eigenvalues (..., n), in whichever order each solver found them: each of want's,
// matrix by matrix, has its own nearest in got within rtol of the largest magnitude.
void expect_same_eigenvalues(const array& want, const array& got, const std::string& what, double rtol) {
  ASSERT_EQ(want.shape(), got.shape()) << what;
  ASSERT_EQ(got.dtype(), complex64) << what;
  auto wr = parts(want, false), wi = parts(want, true), gr = parts(got, false), gi = parts(got, true);
  double scale = 1;
  for (size_t i = 0; i < wr.size(); ++i) scale = std::max(scale, std::hypot(wr[i], wi[i]));
  size_t n = want.shape().back();
  std::vector<bool> taken(gr.size(), false);
  for (size_t i = 0; i < wr.size(); ++i) {
    size_t first = i / n * n, best = first;
    double best_gap = test::kInf;
    for (size_t j = first; j < first + n; ++j) {
      double gap = std::hypot(gr[j] - wr[i], gi[j] - wi[i]);
      if (!taken[j] && gap < best_gap) best = j, best_gap = gap;
    }
    taken[best] = true;
    EXPECT_LE(best_gap, rtol * scale) << what << ": eigenvalue " << i << " = " << wr[i] << " + " << wi[i] << "i";
  }
}

// ---- unique outputs -------------------------------------------------------------------

TEST_F(Gpu, LuFactorMatchesCpu) {
  for (auto t : kFloats)
    for (auto [m, n] : kRectangles)
      for (auto& in : layouts(m, n, t, general, 10))
        compare_all([&](Device d) { return linalg::lu_factor(in.a, d); }, name("lu_factor", m, n, t, in.layout));
  // A singular matrix (column 1 zero) is no error; empty matrices.
  array singular = multiply(sample({4, 4}, float32, 11), array({1.f, 0.f, 1.f, 1.f}));
  compare_all([&](Device d) { return linalg::lu_factor(singular, d); }, "lu_factor singular");
  for (Shape s : {Shape{0, 0}, Shape{3, 0}, Shape{0, 3}, Shape{0, 4, 4}})
    compare_all([&](Device d) { return linalg::lu_factor(zeros(s, float32), d); }, "lu_factor empty");
}

TEST_F(Gpu, InverseMatchesCpu) {
  for (auto t : kFloats)
    for (int n : kSides)
      for (auto& in : layouts(n, n, t, well_conditioned, 20)) {
        compare_all([&](Device d) { return Outputs{linalg::inv(in.a, d)}; }, name("inv", n, n, t, in.layout));
        // The other triangle holds values the triangular inverse must ignore.
        for (bool upper : {false, true})
          compare_all([&](Device d) { return Outputs{linalg::tri_inv(in.a, upper, d)}; },
                      name(upper ? "tri_inv upper" : "tri_inv lower", n, n, t, in.layout));
      }
  compare_all([&](Device d) { return Outputs{linalg::inv(zeros({0, 0}, float32), d)}; }, "inv empty");
  compare_all([&](Device d) { return Outputs{linalg::inv(zeros({0, 3, 3}, float64), d)}; }, "inv empty batch");
}

TEST_F(Gpu, SolveMatchesCpu) {
  for (auto t : kFloats)
    for (int n : kSides)
      for (auto& in : layouts(n, n, t, well_conditioned, 30)) {
        array b = sample(with_matrix(Shape(in.a.shape().begin(), in.a.shape().end() - 2), n, 3), t, 31);
        array bt = mT(sample({7, n}, t, 32));  // strided right-hand side, broadcast against a batch
        array v = sample({n}, t, 33);          // a vector
        for (bool upper : {false, true}) {
          std::string tri = upper ? "solve_triangular upper" : "solve_triangular lower";
          std::vector<std::pair<std::string, array>> rhss = {{"", b}, {" transposed b", bt}, {" vector", v}};
          for (auto& [label, rhs] : rhss) {
            if (!upper)
              compare_all([&, &rhs = rhs](Device d) { return Outputs{linalg::solve(in.a, rhs, d)}; },
                          name("solve", n, n, t, in.layout) + label);
            compare_all([&, &rhs = rhs](Device d) { return Outputs{linalg::solve_triangular(in.a, rhs, upper, d)}; },
                        name(tri, n, n, t, in.layout) + label);
          }
        }
      }
  compare_all([&](Device d) { return Outputs{linalg::solve(eye(3), zeros({3, 0}), d)}; }, "solve no columns");
  compare_all([&](Device d) { return Outputs{linalg::solve(zeros({0, 0}), zeros({0, 2}), d)}; }, "solve empty");
}

TEST_F(Gpu, CholeskyMatchesCpu) {
  for (auto t : kFloats)
    for (int n : kSides)
      for (auto& in : layouts(n, n, t, spd, 40))
        for (bool upper : {false, true})
          compare_all([&](Device d) { return Outputs{linalg::cholesky(in.a, upper, d)}; },
                      name(upper ? "cholesky upper" : "cholesky lower", n, n, t, in.layout));
  // Only one triangle is read: junk in the other changes nothing.
  array a = spd({6, 6}, float64, 41);
  array junk = add(a, triu(full({6, 6}, 100.0, float64), 1));
  compare_all([&](Device d) { return Outputs{linalg::cholesky(junk, false, d)}; }, "cholesky reads lower");
  compare_all([&](Device d) { return Outputs{linalg::cholesky(zeros({2, 0, 0}), false, d)}; }, "cholesky empty");
}

TEST_F(Gpu, EigenvaluesOfSymmetricMatricesMatchCpu) {
  for (auto t : kFloats)
    for (int n : kSides)
      for (auto& in : layouts(n, n, t, general, 50))  // not symmetric: the triangle read matters
        for (std::string uplo : {"L", "U"})
          compare_all([&](Device d) { return Outputs{linalg::eigvalsh(in.a, uplo, d)}; },
                      name("eigvalsh " + uplo, n, n, t, in.layout));
  compare_all([&](Device d) { return Outputs{linalg::eigvalsh(zeros({0, 0}), "L", d)}; }, "eigvalsh empty");
}

TEST_F(Gpu, SingularValuesMatchCpu) {
  for (auto t : kFloats)
    for (auto [m, n] : kRectangles)
      for (auto& in : layouts(m, n, t, general, 60))
        compare_all([&](Device d) { return linalg::svd(in.a, false, d); }, name("svd values", m, n, t, in.layout));
}

// Blocked code paths (large matrices) and many small matrices (one library call each).
TEST_F(Gpu, LargeAndManyMatricesMatchCpu) {
  for (auto t : kFloats) {
    std::string d = " " + dtype_name(t);
    array big = well_conditioned({256, 256}, t, 120), big_spd = spd({256, 256}, t, 121);
    array many = well_conditioned({300, 3, 3}, t, 122);
    array rhs = sample({256, 5}, t, 123);
    big.eval(), big_spd.eval(), many.eval();
    compare_all([&](Device s) { return linalg::lu_factor(big, s); }, "lu_factor 256" + d);
    compare_all([&](Device s) { return Outputs{linalg::inv(big, s)}; }, "inv 256" + d);
    compare_all([&](Device s) { return Outputs{linalg::solve(big, rhs, s)}; }, "solve 256" + d);
    compare_all([&](Device s) { return Outputs{linalg::solve_triangular(big, rhs, true, s)}; },
                "solve_triangular 256" + d);
    compare_all([&](Device s) { return Outputs{linalg::cholesky(big_spd, false, s)}; }, "cholesky 256" + d);
    compare_all([&](Device s) { return Outputs{linalg::eigvalsh(big_spd, "L", s)}; }, "eigvalsh 256" + d);
    compare_all([&](Device s) { return linalg::svd(sample({300, 200}, t, 124), false, s); }, "svd values 300x200" + d);
    compare_all([&](Device s) { return linalg::lu_factor(many, s); }, "lu_factor 300 x 3x3" + d);
    compare_all([&](Device s) { return Outputs{linalg::inv(many, s)}; }, "inv 300 x 3x3" + d);
    compare_all([&](Device s) { return Outputs{linalg::cholesky(spd({300, 3, 3}, t, 125), true, s)}; },
                "cholesky 300 x 3x3" + d);
  }
}

// ---- outputs unique up to signs: invariants ---------------------------------------------

TEST_F(Gpu, QrReconstructsTheInput) {
  for (auto t : kFloats)
    for (auto [m, n] : kRectangles)
      for (auto& in : layouts(m, n, t, general, 70)) {
        std::string what = name("qr", m, n, t, in.layout);
        auto r = run_both([&](Device d) { return linalg::qr(in.a, d); }, what);
        ASSERT_TRUE(r) << what;
        auto& [cpu, gpu] = *r;
        double tol = linalg_tolerance(t);
        for (int i = 0; i < 2; ++i) {
          ASSERT_EQ(cpu[i].shape(), gpu[i].shape()) << what;
          ASSERT_EQ(cpu[i].dtype(), gpu[i].dtype()) << what;
        }
        expect_close(broadcast_to(in.a, cpu_matmul(gpu[0], gpu[1]).shape()), cpu_matmul(gpu[0], gpu[1]), what + " Q R",
                     tol);
        expect_orthonormal_columns(gpu[0], what + " Q^T Q", tol);
        expect_close(triu(gpu[1], 0, kCpu), gpu[1], what + " R upper", 0);
        // R's diagonal is unique up to sign.
        array dc = abs(diagonal(cpu[1], 0, -2, -1, kCpu), kCpu), dg = abs(diagonal(gpu[1], 0, -2, -1, kCpu), kCpu);
        expect_close(dc, dg, what + " |diag R|", tol);
      }
  compare_all([&](Device d) { return linalg::qr(zeros({3, 0}), d); }, "qr empty");
}

TEST_F(Gpu, SvdReconstructsTheInput) {
  for (auto t : kFloats)
    for (auto [m, n] : kRectangles)
      for (auto& in : layouts(m, n, t, general, 80)) {
        std::string what = name("svd", m, n, t, in.layout);
        auto r = run_both([&](Device d) { return linalg::svd(in.a, true, d); }, what);
        ASSERT_TRUE(r) << what;
        auto& [cpu, gpu] = *r;
        double tol = linalg_tolerance(t);
        for (int i = 0; i < 3; ++i) ASSERT_EQ(cpu[i].shape(), gpu[i].shape()) << what << " output " << i;
        expect_close(cpu[1], gpu[1], what + " S", tol);
        expect_orthonormal_columns(gpu[0], what + " U^T U", tol);
        expect_orthonormal_columns(mT(gpu[2]), what + " Vt Vt^T", tol);
        int k = std::min(m, n);
        Shape start(gpu[0].ndim(), 0);
        Shape u_stop = gpu[0].shape(), vt_stop = gpu[2].shape();
        u_stop.back() = k, vt_stop[vt_stop.size() - 2] = k;
        array us = multiply(slice(gpu[0], start, u_stop, kCpu), expand_dims(gpu[1], -2, kCpu), kCpu);
        array usv = cpu_matmul(us, slice(gpu[2], start, vt_stop, kCpu));
        expect_close(broadcast_to(in.a, usv.shape()), usv, what + " U S Vt", tol);
      }
  // Empty matrices: identities.
  for (Shape s : {Shape{3, 0}, Shape{0, 2}, Shape{2, 0, 0}})
    compare_all([&](Device d) { return linalg::svd(zeros(s), true, d); }, "svd empty");
}

TEST_F(Gpu, EighDiagonalizes) {
  for (auto t : kFloats)
    for (int n : kSides)
      for (auto& in : layouts(n, n, t, symmetric, 90))
        for (std::string uplo : {"L", "U"}) {
          std::string what = name("eigh " + uplo, n, n, t, in.layout);
          auto r = run_both([&](Device d) { return linalg::eigh(in.a, uplo, d); }, what);
          ASSERT_TRUE(r) << what;
          auto& [cpu, gpu] = *r;
          double tol = linalg_tolerance(t);
          expect_close(cpu[0], gpu[0], what + " w", tol);
          ASSERT_EQ(cpu[1].shape(), gpu[1].shape()) << what;
          expect_orthonormal_columns(gpu[1], what + " V^T V", tol);
          array av = cpu_matmul(in.a, gpu[1]), vw = multiply(gpu[1], expand_dims(gpu[0], -2, kCpu), kCpu);
          expect_close(av, vw, what + " A V = V diag(w)", tol);
        }
}

TEST_F(Gpu, EigDiagonalizes) {
  for (auto t : kFloats)
    for (int n : kSides)
      for (auto& in : layouts(n, n, t, general, 100)) {  // real and complex-pair eigenvalues
        std::string what = name("eig", n, n, t, in.layout);
        auto r = run_both([&](Device d) { return linalg::eig(in.a, d); }, what);
        ASSERT_TRUE(r) << what;
        auto& [cpu, gpu] = *r;
        double tol = 2e-3;  // complex64 outputs
        ASSERT_EQ(gpu[0].dtype(), complex64) << what;
        ASSERT_EQ(cpu[1].shape(), gpu[1].shape()) << what;
        expect_same_eigenvalues(cpu[0], gpu[0], what, tol);
        expect_same_eigenvalues(cpu[0], linalg::eigvals(in.a, kGpu), what + " eigvals", tol);
        // A V = V diag(w), unit columns.
        array ac = astype(in.a, complex64, kCpu);
        array av = cpu_matmul(ac, gpu[1]), vw = multiply(gpu[1], expand_dims(gpu[0], -2, kCpu), kCpu);
        expect_close(av, vw, what + " A V = V diag(w)", tol);
        array norms = sum(square(abs(gpu[1], kCpu), kCpu), -2, false, kCpu);
        expect_close(ones(norms.shape(), float32), norms, what + " unit eigenvectors", tol);
      }
  compare_all([&](Device d) { return Outputs{linalg::eigvals(zeros({0, 0}), d)}; }, "eigvals empty");
}

// ---- errors -------------------------------------------------------------------------------

TEST_F(Gpu, LinalgErrorsMatchCpu) {
  for (auto t : kFloats) {
    // The second matrix of the batch is singular (column 2 zero), and not positive
    // definite (a negative entry on the diagonal).
    array good = well_conditioned({4, 4}, t, 110);
    array singular = multiply(good, astype(array({1, 1, 0, 1}), t));
    array batch = stack({good, singular});
    array not_pd = stack({eye(4, t), multiply(eye(4, t), astype(array({1, 1, -1, 1}), t))});
    array rhs = sample({2, 4, 2}, t, 111);
    std::string d = " " + dtype_name(t);
    expect_same_error([&](Device s) { return Outputs{linalg::inv(batch, s)}; }, "inv singular" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::tri_inv(batch, true, s)}; }, "tri_inv singular" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::solve(batch, rhs, s)}; }, "solve singular" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::solve_triangular(batch, rhs, false, s)}; },
                "solve_triangular singular" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::cholesky(not_pd, false, s)}; }, "cholesky not pd" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::cholesky(not_pd, true, s)}; }, "cholesky upper not pd" + d);
    // NaN and infinity: the iterative solvers refuse them.
    array nan_batch = stack({good, multiply(good, astype(array({1.0, test::kNan, 1.0, 1.0}), t))});
    array inf_batch = stack({good, add(good, full({4, 4}, test::kInf, t))});
    for (auto& [label, x] : std::vector<std::pair<std::string, array>>{{" nan", nan_batch}, {" inf", inf_batch}}) {
      expect_same_error([&, &x = x](Device s) { return linalg::svd(x, true, s); }, "svd" + label + d);
      expect_same_error([&, &x = x](Device s) { return linalg::svd(x, false, s); }, "svd values" + label + d);
      expect_same_error([&, &x = x](Device s) { return linalg::eig(x, s); }, "eig" + label + d);
      expect_same_error([&, &x = x](Device s) { return Outputs{linalg::eigvals(x, s)}; }, "eigvals" + label + d);
    }
    // Shapes and dtypes the ops reject before any kernel runs.
    array wide = sample({3, 4}, t, 112);
    expect_same_error([&](Device s) { return Outputs{linalg::inv(wide, s)}; }, "inv non-square" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::cholesky(wide, false, s)}; }, "cholesky non-square" + d);
    expect_same_error([&](Device s) { return linalg::eigh(wide, "L", s); }, "eigh non-square" + d);
    expect_same_error([&](Device s) { return linalg::eig(wide, s); }, "eig non-square" + d);
    expect_same_error([&](Device s) { return Outputs{linalg::solve(wide, rhs, s)}; }, "solve non-square" + d);
  }
  array ints = astype(eye(3), int32);
  expect_same_error([&](Device s) { return Outputs{linalg::inv(ints, s)}; }, "inv int32");
  expect_same_error([&](Device s) { return linalg::qr(ints, s); }, "qr int32");
}

}  // namespace
}  // namespace lazuli
