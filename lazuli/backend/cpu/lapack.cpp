// CPU: the linear-algebra primitives through LAPACK (LAPACKE, column-major). Each matrix of
// the batch is copied from its own layout (any strides) into a column-major work buffer,
// factorized there, and written into row-major outputs; the copies are O(n^2) beside the
// O(n^3) factorizations. Matrices below 512x512 run with OpenBLAS held to one thread and
// the batch spread over our pool (OpenBLAS's threads under our pool's oversubscribed the
// cores: a batch of 64 solves of 64x64 ran 7x slower); larger ones use OpenBLAS's threads.
// Failures (singular, not positive definite, no convergence) are gathered per matrix and
// raised after the batch, naming the op and the first failing matrix.
#define LAPACK_COMPLEX_CPP
#include <cblas.h>  // OpenBLAS's: openblas_set_num_threads
#include <complex>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/linalg.h"

namespace lazuli {
using namespace cpu;

namespace {

// ---- LAPACK by element type --------------------------------------------------------------
constexpr int CM = LAPACK_COL_MAJOR;
inline lapack_int getrf(int m, int n, float* a, lapack_int* ipiv) { return LAPACKE_sgetrf(CM, m, n, a, std::max(1, m), ipiv); }
inline lapack_int getrf(int m, int n, double* a, lapack_int* ipiv) { return LAPACKE_dgetrf(CM, m, n, a, std::max(1, m), ipiv); }
inline lapack_int getri(int n, float* a, const lapack_int* ipiv) { return LAPACKE_sgetri(CM, n, a, std::max(1, n), ipiv); }
inline lapack_int getri(int n, double* a, const lapack_int* ipiv) { return LAPACKE_dgetri(CM, n, a, std::max(1, n), ipiv); }
inline lapack_int trtri(char uplo, int n, float* a) { return LAPACKE_strtri(CM, uplo, 'N', n, a, std::max(1, n)); }
inline lapack_int trtri(char uplo, int n, double* a) { return LAPACKE_dtrtri(CM, uplo, 'N', n, a, std::max(1, n)); }
inline lapack_int gesv(int n, int k, float* a, lapack_int* ipiv, float* b) {
  return LAPACKE_sgesv(CM, n, k, a, std::max(1, n), ipiv, b, std::max(1, n));
}
inline lapack_int gesv(int n, int k, double* a, lapack_int* ipiv, double* b) {
  return LAPACKE_dgesv(CM, n, k, a, std::max(1, n), ipiv, b, std::max(1, n));
}
inline lapack_int trtrs(char uplo, int n, int k, const float* a, float* b) {
  return LAPACKE_strtrs(CM, uplo, 'N', 'N', n, k, a, std::max(1, n), b, std::max(1, n));
}
inline lapack_int trtrs(char uplo, int n, int k, const double* a, double* b) {
  return LAPACKE_dtrtrs(CM, uplo, 'N', 'N', n, k, a, std::max(1, n), b, std::max(1, n));
}
inline lapack_int potrf(char uplo, int n, float* a) { return LAPACKE_spotrf(CM, uplo, n, a, std::max(1, n)); }
inline lapack_int potrf(char uplo, int n, double* a) { return LAPACKE_dpotrf(CM, uplo, n, a, std::max(1, n)); }
inline lapack_int geqrf(int m, int n, float* a, float* tau) { return LAPACKE_sgeqrf(CM, m, n, a, std::max(1, m), tau); }
inline lapack_int geqrf(int m, int n, double* a, double* tau) { return LAPACKE_dgeqrf(CM, m, n, a, std::max(1, m), tau); }
inline lapack_int orgqr(int m, int n, int k, float* a, const float* tau) {
  return LAPACKE_sorgqr(CM, m, n, k, a, std::max(1, m), tau);
}
inline lapack_int orgqr(int m, int n, int k, double* a, const double* tau) {
  return LAPACKE_dorgqr(CM, m, n, k, a, std::max(1, m), tau);
}
inline lapack_int gesdd(char jobz, int m, int n, float* a, float* s, float* u, float* vt) {
  return LAPACKE_sgesdd(CM, jobz, m, n, a, std::max(1, m), s, u, std::max(1, m), vt, std::max(1, n));
}
inline lapack_int gesdd(char jobz, int m, int n, double* a, double* s, double* u, double* vt) {
  return LAPACKE_dgesdd(CM, jobz, m, n, a, std::max(1, m), s, u, std::max(1, m), vt, std::max(1, n));
}
inline lapack_int syevd(char jobz, char uplo, int n, float* a, float* w) {
  return LAPACKE_ssyevd(CM, jobz, uplo, n, a, std::max(1, n), w);
}
inline lapack_int syevd(char jobz, char uplo, int n, double* a, double* w) {
  return LAPACKE_dsyevd(CM, jobz, uplo, n, a, std::max(1, n), w);
}
inline lapack_int geev(char jobvr, int n, float* a, float* wr, float* wi, float* vr) {
  return LAPACKE_sgeev(CM, 'N', jobvr, n, a, std::max(1, n), wr, wi, nullptr, 1, vr, std::max(1, n));
}
inline lapack_int geev(char jobvr, int n, double* a, double* wr, double* wi, double* vr) {
  return LAPACKE_dgeev(CM, 'N', jobvr, n, a, std::max(1, n), wr, wi, nullptr, 1, vr, std::max(1, n));
}

// ---- layout helpers ---------------------------------------------------------------------

// A (..., rows, cols) input seen as a batch of matrices: where matrix b starts and how its
// rows and columns step.
struct Matrices {
  const array& a;
  int64_t rows, cols, count, row_step, col_step;
  std::vector<int64_t> starts;
  explicit Matrices(const array& x) : a(x) {
    int nd = static_cast<int>(x.ndim());
    rows = x.shape(nd - 2), cols = x.shape(nd - 1);
    row_step = x.strides()[nd - 2], col_step = x.strides()[nd - 1];
    count = 1;
    for (int d = 0; d < nd - 2; ++d) count *= x.shape(d);
    starts.assign(count, 0);
    for (int64_t b = 0; b < count; ++b) {
      int64_t r = b;
      for (int d = nd - 3; d >= 0; --d) {
        starts[b] += (r % x.shape(d)) * x.strides()[d];
        r /= x.shape(d);
      }
    }
  }
  // Matrix b into dst, column-major with leading dimension `ld`.
  template <typename T>
  void load(int64_t b, T* dst, int64_t ld) const {
    const T* p = static_cast<const T*>(const_cast<array&>(a).raw_data()) + starts[b];
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t i = 0; i < rows; ++i) dst[i + j * ld] = p[i * row_step + j * col_step];
  }
};

// Column-major src (rows x cols, leading dimension ld) into row-major dst.
template <typename T>
void store(const T* src, int64_t rows, int64_t cols, int64_t ld, T* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = src[i + j * ld];
}

// Keeps one triangle of a column-major n x n matrix and zeroes the other.
template <typename T>
void zero_other_triangle(T* a, int64_t n, bool upper) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i)
      if (upper ? i > j : i < j) a[i + j * n] = T(0);
}

// While one is alive (on any thread), OpenBLAS runs single-threaded; the last one to go
// restores its thread count.
class SerialBlas {
 public:
  SerialBlas() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (depth_++ == 0) {
      saved_ = openblas_get_num_threads();
      openblas_set_num_threads(1);
    }
  }
  ~SerialBlas() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--depth_ == 0) openblas_set_num_threads(saved_);
  }
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  static inline std::mutex mutex_;
  static inline int depth_ = 0, saved_ = 1;
};

// Below this side, OpenBLAS's threads cost more than they give: on 2 busy cores, eigh and
// svd of 256x256 ran 2-6x faster single-threaded, and inv, qr, cholesky as fast.
constexpr int64_t kThreadedBlasMin = 512;

// Runs work(b) for every matrix of the batch, returning LAPACK's info per matrix. Matrices
// smaller than kThreadedBlasMin run with OpenBLAS single-threaded, several at once on our
// pool; larger ones run one after another with OpenBLAS's threads.
template <typename F>
std::vector<lapack_int> for_each_matrix(int64_t count, int64_t n, F&& work) {
  // LAPACKE rejects inputs holding NaN by default; like NumPy, we let NaNs flow into the
  // results instead.
  static const bool nancheck_off = (LAPACKE_set_nancheck(0), true);
  (void)nancheck_off;
  std::vector<lapack_int> info(count, 0);
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) info[b] = work(b);
  };
  if (n >= kThreadedBlasMin) {
    run(0, count);
  } else {
    SerialBlas serial;
    parallel_for(count, std::max<int64_t>(1, (64 * 64 * 64) / std::max<int64_t>(n * n * n, 1)), run);
  }
  return info;
}

// The info we give a matrix holding NaN or infinity, for the routines (SVD, eig) whose
// iterations LAPACK cannot run on those.
constexpr lapack_int kNotFinite = std::numeric_limits<lapack_int>::min();
template <typename T>
bool all_finite(const std::vector<T>& v) {
  return std::all_of(v.begin(), v.end(), [](T x) { return std::isfinite(x); });
}

// Raises for the first matrix whose info is positive (a failure the user caused); a
// negative info is a bad argument, which is our bug.
void check_info(const std::vector<lapack_int>& info, const char* op, const std::string& what) {
  for (size_t b = 0; b < info.size(); ++b) {
    if (info[b] == kNotFinite)
      throw std::invalid_argument(std::string("[") + op + "] the input holds NaN or infinity (matrix " +
                                  std::to_string(b) + " of the batch).");
    if (info[b] < 0)
      throw std::runtime_error(std::string("[") + op + "] LAPACK rejected argument " + std::to_string(-info[b]) + ".");
    if (info[b] > 0)
      throw std::invalid_argument(std::string("[") + op + "] " + what + " (matrix " + std::to_string(b) +
                                  " of the batch, LAPACK info " + std::to_string(info[b]) + ").");
  }
}

template <typename F>
void dispatch_float(Dtype d, F&& f) {
  if (d == float32) f(float{});
  else if (d == float64) f(double{});
  else throw std::invalid_argument("[linalg] kernels need float32 or float64, got " + dtype_name(d) + ".");
}

template <typename T>
T* out_data(array& o) {
  return static_cast<T*>(o.raw_data());
}

}  // namespace

// ---- kernels -------------------------------------------------------------------------------

void LUFactor::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (auto& o : outputs) allocate(o);
  Matrices A(inputs[0]);
  int64_t M = A.rows, N = A.cols, K = std::min(M, N);
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* lu = out_data<T>(outputs[0]);
    uint32_t* piv = out_data<uint32_t>(outputs[1]);
    uint32_t* rows = out_data<uint32_t>(outputs[2]);
    for_each_matrix(A.count, std::max(M, N), [&](int64_t b) -> lapack_int {
      std::vector<T> w(M * N);
      std::vector<lapack_int> ipiv(std::max<int64_t>(K, 1));
      A.load(b, w.data(), M);
      // A zero pivot (singular matrix) still gives a valid factorization: not an error.
      lapack_int info = K > 0 ? getrf(M, N, w.data(), ipiv.data()) : 0;
      store(w.data(), M, N, M, lu + b * M * N);
      // perm: the row of a that each row of L U came from; rows[]: its inverse.
      std::vector<uint32_t> perm(M);
      std::iota(perm.begin(), perm.end(), 0u);
      for (int64_t i = 0; i < K; ++i) {
        piv[b * K + i] = static_cast<uint32_t>(ipiv[i] - 1);
        std::swap(perm[i], perm[ipiv[i] - 1]);
      }
      for (int64_t i = 0; i < M; ++i) rows[b * M + perm[i]] = static_cast<uint32_t>(i);
      return info < 0 ? info : 0;
    });
  });
}

void Inverse::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  allocate(outputs[0]);
  Matrices A(inputs[0]);
  int64_t n = A.rows;
  const char* op = triangular_ ? "linalg::tri_inv" : "linalg::inv";
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* out = out_data<T>(outputs[0]);
    auto info = for_each_matrix(A.count, n, [&](int64_t b) -> lapack_int {
      std::vector<T> w(n * n);
      A.load(b, w.data(), n);
      lapack_int r = 0;
      if (n > 0) {
        if (triangular_) {
          r = trtri(upper_ ? 'U' : 'L', n, w.data());
          zero_other_triangle(w.data(), n, upper_);
        } else {
          std::vector<lapack_int> ipiv(n);
          r = getrf(n, n, w.data(), ipiv.data());
          if (r == 0) r = getri(n, w.data(), ipiv.data());
        }
      }
      store(w.data(), n, n, n, out + b * n * n);
      return r;
    });
    check_info(info, op, "matrix is singular: a zero pivot, so it has no inverse");
  });
}

void Solve::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  allocate(outputs[0]);
  Matrices A(inputs[0]), B(inputs[1]);
  int64_t n = A.rows, k = B.cols;
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* out = out_data<T>(outputs[0]);
    auto info = for_each_matrix(A.count, n, [&](int64_t b) -> lapack_int {
      std::vector<T> wa(n * n), wb(n * k);
      std::vector<lapack_int> ipiv(std::max<int64_t>(n, 1));
      A.load(b, wa.data(), n);
      B.load(b, wb.data(), n);
      lapack_int r = n > 0 && k > 0 ? gesv(n, k, wa.data(), ipiv.data(), wb.data()) : 0;
      store(wb.data(), n, k, n, out + b * n * k);
      return r;
    });
    check_info(info, "linalg::solve", "matrix is singular: a zero pivot, so the system has no unique solution");
  });
}

void SolveTriangular::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  allocate(outputs[0]);
  Matrices A(inputs[0]), B(inputs[1]);
  int64_t n = A.rows, k = B.cols;
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* out = out_data<T>(outputs[0]);
    auto info = for_each_matrix(A.count, n, [&](int64_t b) -> lapack_int {
      std::vector<T> wa(n * n), wb(n * k);
      A.load(b, wa.data(), n);
      B.load(b, wb.data(), n);
      lapack_int r = n > 0 && k > 0 ? trtrs(upper_ ? 'U' : 'L', n, k, wa.data(), wb.data()) : 0;
      store(wb.data(), n, k, n, out + b * n * k);
      return r;
    });
    check_info(info, "linalg::solve_triangular", "matrix is singular: a zero on the diagonal");
  });
}

void Cholesky::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  allocate(outputs[0]);
  Matrices A(inputs[0]);
  int64_t n = A.rows;
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* out = out_data<T>(outputs[0]);
    auto info = for_each_matrix(A.count, n, [&](int64_t b) -> lapack_int {
      std::vector<T> w(n * n);
      A.load(b, w.data(), n);
      lapack_int r = n > 0 ? potrf(upper_ ? 'U' : 'L', n, w.data()) : 0;
      zero_other_triangle(w.data(), n, upper_);
      store(w.data(), n, n, n, out + b * n * n);
      return r;
    });
    check_info(info, "linalg::cholesky", "matrix is not positive definite");
  });
}

void QRF::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (auto& o : outputs) allocate(o);
  Matrices A(inputs[0]);
  int64_t M = A.rows, N = A.cols, K = std::min(M, N);
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* q = out_data<T>(outputs[0]);
    T* r = out_data<T>(outputs[1]);
    auto info = for_each_matrix(A.count, std::max(M, N), [&](int64_t b) -> lapack_int {
      std::vector<T> w(M * N), tau(std::max<int64_t>(K, 1));
      A.load(b, w.data(), M);
      lapack_int res = K > 0 ? geqrf(M, N, w.data(), tau.data()) : 0;
      // R: the upper trapezoid of the first K rows.
      T* rb = r + b * K * N;
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < N; ++j) rb[i * N + j] = j >= i ? w[i + j * M] : T(0);
      // Q: the first K columns, expanded from the reflectors in place.
      if (K > 0 && res == 0) res = orgqr(M, K, K, w.data(), tau.data());
      store(w.data(), M, K, M, q + b * M * K);
      return res;
    });
    check_info(info, "linalg::qr", "factorization failed");
  });
}

void SVD::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (auto& o : outputs) allocate(o);
  Matrices A(inputs[0]);
  int64_t M = A.rows, N = A.cols, K = std::min(M, N);
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* s = out_data<T>(outputs[compute_uv_ ? 1 : 0]);
    auto info = for_each_matrix(A.count, std::max(M, N), [&](int64_t b) -> lapack_int {
      std::vector<T> w(M * N);
      A.load(b, w.data(), M);
      if (!all_finite(w)) return kNotFinite;
      std::vector<T> u(compute_uv_ ? M * M : 1), vt(compute_uv_ ? N * N : 1);
      lapack_int r = 0;
      if (K > 0) {
        r = gesdd(compute_uv_ ? 'A' : 'N', M, N, w.data(), s + b * K, u.data(), vt.data());
      } else if (compute_uv_) {  // an empty matrix: U and Vt are identities
        for (int64_t i = 0; i < M; ++i) u[i + i * M] = T(1);
        for (int64_t i = 0; i < N; ++i) vt[i + i * N] = T(1);
      }
      if (compute_uv_) {
        store(u.data(), M, M, M, out_data<T>(outputs[0]) + b * M * M);
        store(vt.data(), N, N, N, out_data<T>(outputs[2]) + b * N * N);
      }
      return r;
    });
    check_info(info, "linalg::svd", "the SVD did not converge");
  });
}

void Eigh::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (auto& o : outputs) allocate(o);
  Matrices A(inputs[0]);
  int64_t n = A.rows;
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    T* w = out_data<T>(outputs[0]);
    auto info = for_each_matrix(A.count, n, [&](int64_t b) -> lapack_int {
      std::vector<T> a(n * n);
      A.load(b, a.data(), n);
      lapack_int r = n > 0 ? syevd(compute_vectors_ ? 'V' : 'N', upper_ ? 'U' : 'L', n, a.data(), w + b * n) : 0;
      if (compute_vectors_) store(a.data(), n, n, n, out_data<T>(outputs[1]) + b * n * n);
      return r;
    });
    check_info(info, compute_vectors_ ? "linalg::eigh" : "linalg::eigvalsh", "the eigenvalue solver did not converge");
  });
}

void Eig::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (auto& o : outputs) allocate(o);
  Matrices A(inputs[0]);
  int64_t n = A.rows;
  dispatch_float(inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    complex64_t* w = out_data<complex64_t>(outputs[0]);
    auto info = for_each_matrix(A.count, n, [&](int64_t b) -> lapack_int {
      std::vector<T> a(n * n), wr(n), wi(n), vr(compute_vectors_ ? n * n : 1);
      A.load(b, a.data(), n);
      if (!all_finite(a)) return kNotFinite;
      lapack_int r = n > 0 ? geev(compute_vectors_ ? 'V' : 'N', n, a.data(), wr.data(), wi.data(), vr.data()) : 0;
      for (int64_t j = 0; j < n; ++j) w[b * n + j] = complex64_t(float(wr[j]), float(wi[j]));
      if (compute_vectors_) {
        // A complex pair (wi[j] > 0, then its conjugate) keeps its vector as columns j
        // (real part) and j + 1 (imaginary part).
        complex64_t* v = out_data<complex64_t>(outputs[1]) + b * n * n;
        for (int64_t j = 0; j < n; ++j) {
          if (wi[j] != 0 && j + 1 < n) {
            for (int64_t i = 0; i < n; ++i) {
              float re = float(vr[i + j * n]), im = float(vr[i + (j + 1) * n]);
              v[i * n + j] = complex64_t(re, im);
              v[i * n + j + 1] = complex64_t(re, -im);
            }
            ++j;
          } else {
            for (int64_t i = 0; i < n; ++i) v[i * n + j] = complex64_t(float(vr[i + j * n]), 0.f);
          }
        }
      }
      return r;
    });
    check_info(info, compute_vectors_ ? "linalg::eig" : "linalg::eigvals", "the eigenvalue solver did not converge");
  });
}

}  // namespace lazuli
