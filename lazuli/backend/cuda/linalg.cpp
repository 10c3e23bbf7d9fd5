// CUDA backend: the linear-algebra primitives (lazuli/primitives/linalg.h) through cuSOLVER's
// 64-bit API (and cuBLAS's trsm), matching the CPU kernels (backend/cpu/lapack.cpp) in
// outputs, conventions and errors. Each input is copied into a column-major work buffer
// (cuSOLVER factors in place and wants column-major), one library call runs per matrix of
// the batch, and results are copied back into row-major outputs; the copies are O(n^2)
// beside the O(n^3) factorizations. Failures are read from cuSOLVER's per-matrix info once
// the stream is done, and raised like the CPU's: naming the op and the first failing matrix.
#include <cusolverDn.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/linalg.h"
#include "lazuli/primitives/linalg.h"

namespace lazuli::cuda {
namespace {

void check_cusolver(cusolverStatus_t s, const char* call) {
  if (s != CUSOLVER_STATUS_SUCCESS)
    throw std::runtime_error(std::string("[cuda] ") + call + " failed: cuSOLVER status " + std::to_string(int(s)) + ".");
}
#define LAZULI_CUSOLVER_CHECK(call) check_cusolver((call), #call)

// The cuSOLVER handle (and default 64-bit API parameters) of a Lazuli stream.
struct Solver {
  cusolverDnHandle_t handle;
  cusolverDnParams_t params;
};
Solver solver(const GpuContext& ctx) {
  return per_stream<Solver>(ctx, [&] {
    Solver s;
    LAZULI_CUSOLVER_CHECK(cusolverDnCreate(&s.handle));
    LAZULI_CUSOLVER_CHECK(cusolverDnSetStream(s.handle, ctx.stream));
    LAZULI_CUSOLVER_CHECK(cusolverDnCreateParams(&s.params));
    return s;
  });
}

// A library call's workspace: device bytes and host bytes (the 64-bit API asks for both).
struct Workspace {
  DeviceBuffer device;
  std::vector<char> host;
  size_t device_bytes, host_bytes;
  Workspace(size_t device_size, size_t host_size, cudaStream_t s)
      : device(device_size, s), host(host_size), device_bytes(device_size), host_bytes(host_size) {}
  void* host_data() { return host_bytes ? host.data() : nullptr; }
};

cudaDataType real_type(Dtype t) {
  if (t == float32) return CUDA_R_32F;
  if (t == float64) return CUDA_R_64F;
  throw std::invalid_argument("[linalg] kernels need float32 or float64, got " + dtype_name(t) + ".");
}

// A (..., rows, cols) input as a batch of matrices: its layout, with the batch offsets on
// the device when its batch axes do not step evenly (broadcast or sliced batches).
struct Matrices {
  int64_t rows, cols, count = 1;
  MatrixLayout layout;
  std::optional<DeviceBuffer> starts;
  Matrices(const array& a, cudaStream_t s) {
    int nd = static_cast<int>(a.ndim());
    rows = a.shape(nd - 2), cols = a.shape(nd - 1);
    layout.row_step = a.strides()[nd - 2], layout.col_step = a.strides()[nd - 1];
    for (int d = 0; d < nd - 2; ++d) count *= a.shape(d);
    std::vector<int64_t> offsets(count, 0);
    for (int64_t b = 0; b < count; ++b) {
      int64_t r = b;
      for (int d = nd - 3; d >= 0; --d) {
        offsets[b] += (r % a.shape(d)) * a.strides()[d];
        r /= a.shape(d);
      }
    }
    bool even = true;
    int64_t stride = count > 1 ? offsets[1] : 0;
    for (int64_t b = 0; b < count && even; ++b) even = offsets[b] == b * stride;
    if (even) {
      layout.batch_stride = stride;
    } else {
      starts.emplace(count * sizeof(int64_t), s);
      LAZULI_CUDA_CHECK(cudaMemcpyAsync(starts->as<int64_t>(), offsets.data(), count * sizeof(int64_t),
                                        cudaMemcpyHostToDevice, s));  // pageable: read before it returns
      layout.starts = starts->as<int64_t>();
    }
  }
};

// Copies the input's matrices into `dst`, dense column-major (ld = rows), or row-major.
void load(const array& a, const Matrices& m, void* dst, cudaStream_t s, bool transposed = false) {
  launch_copy_matrices(int(a.itemsize()), data_of(a), m.layout, dst,
                       transposed ? row_major(m.rows, m.cols) : column_major(m.rows, m.cols), m.rows, m.cols, m.count,
                       Keep::all, s);
}
// Copies rows x cols matrices (column-major in `src` with leading dimension ld, batch
// stride `batch`) into the row-major output, keeping `keep` of each.
void store(const void* src, int64_t ld, int64_t batch, array& out, int64_t rows, int64_t cols, int64_t count,
           cudaStream_t s, Keep keep = Keep::all) {
  launch_copy_matrices(int(out.itemsize()), src, {nullptr, batch, 1, ld}, out.raw_data(), row_major(rows, cols), rows,
                       cols, count, keep, s);
}

// The info given a matrix holding NaN or infinity, for routines (SVD, eig) that cannot run on those.
constexpr int kNotFinite = std::numeric_limits<int>::min();

// Per-matrix info (device), read once the stream is done.
std::vector<int> read_info(const int* info, int64_t count, cudaStream_t s) {
  std::vector<int> host(count);
  if (count > 0)
    LAZULI_CUDA_CHECK(cudaMemcpyAsync(host.data(), info, count * sizeof(int), cudaMemcpyDeviceToHost, s));
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));
  return host;
}

// Raises for the first matrix whose info is positive (a failure the input caused), with the
// CPU kernels' messages (cuSOLVER's info follows LAPACK's); a negative info is our bug.
void check_info(const std::vector<int>& info, const char* op, const std::string& what) {
  for (size_t b = 0; b < info.size(); ++b) {
    if (info[b] == kNotFinite)
      throw std::invalid_argument(std::string("[") + op + "] the input holds NaN or infinity (matrix " +
                                  std::to_string(b) + " of the batch).");
    if (info[b] < 0)
      throw std::runtime_error(std::string("[") + op + "] cuSOLVER rejected argument " + std::to_string(-info[b]) + ".");
    if (info[b] > 0)
      throw std::invalid_argument(std::string("[") + op + "] " + what + " (matrix " + std::to_string(b) +
                                  " of the batch, LAPACK info " + std::to_string(info[b]) + ").");
  }
}

// Raises (before any iteration runs on them) when a dense batch of matrices holds NaN or infinity.
void check_finite(Dtype t, const void* a, int64_t size, int64_t count, const char* op, cudaStream_t s) {
  DeviceBuffer flags(count * sizeof(int), s);
  launch_flag_nonfinite(t, a, size, count, flags.as<int>(), s);
  std::vector<int> info = read_info(flags.as<int>(), count, s);
  for (auto& f : info) f = f ? kNotFinite : 0;
  check_info(info, op, "");
}

// cuSOLVER's legacy orgqr (no 64-bit form) takes int sizes.
int as_int(int64_t v, const char* op) {
  if (v > INT_MAX)
    throw std::invalid_argument(std::string("[") + op + "] GPU dimensions must fit in 32 bits; got " +
                                std::to_string(v) + ".");
  return static_cast<int>(v);
}

cublasFillMode_t fill(bool upper) { return upper ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER; }

// ---- getrf, shared by LUFactor, Inverse and Solve -----------------------------------------

// LU-factors `count` column-major m x n matrices in place (pivots: min(m, n) per matrix),
// info per matrix.
void getrf_batch(const GpuContext& ctx, Dtype t, char* work, int64_t m, int64_t n, int64_t count, int64_t* ipiv,
                 int* info) {
  if (std::min(m, n) == 0 || count == 0) return;
  Solver sv = solver(ctx);
  cudaDataType type = real_type(t);
  size_t dev = 0, host = 0;
  LAZULI_CUSOLVER_CHECK(cusolverDnXgetrf_bufferSize(sv.handle, sv.params, m, n, type, work, m, type, &dev, &host));
  Workspace ws(dev, host, ctx.stream);
  int64_t bytes = m * n * int64_t(t.size), k = std::min(m, n);
  for (int64_t b = 0; b < count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXgetrf(sv.handle, sv.params, m, n, type, work + b * bytes, m, ipiv + b * k, type,
                                           ws.device.as<void>(), ws.device_bytes, ws.host_data(), ws.host_bytes,
                                           info + b));
}

// Solves with getrf's factors: B (n x k column-major per matrix) becomes A^-1 B.
void getrs_batch(const GpuContext& ctx, Dtype t, const char* lu, int64_t n, const int64_t* ipiv, char* rhs, int64_t k,
                 int64_t count) {
  Solver sv = solver(ctx);
  cudaDataType type = real_type(t);
  DeviceBuffer info(count * sizeof(int), ctx.stream);  // only ever negative (our bug): statuses cover it
  for (int64_t b = 0; b < count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXgetrs(sv.handle, sv.params, CUBLAS_OP_N, n, k, type, lu + b * n * n * t.size, n,
                                           ipiv + b * n, type, rhs + b * n * k * t.size, n, info.as<int>() + b));
}

// ---- kernels ----------------------------------------------------------------------------

void eval_lu_factor(LUFactor&, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  for (auto& o : outputs) cpu::allocate(o);
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  Matrices A(a, s);
  int64_t M = A.rows, N = A.cols, K = std::min(M, N);
  DeviceBuffer work(A.count * M * N * a.itemsize(), s), ipiv(A.count * K * sizeof(int64_t), s),
      info(A.count * sizeof(int), s), perm(A.count * M * sizeof(uint32_t), s);
  load(a, A, work.as<void>(), s);
  // A zero pivot (singular matrix) still gives a valid factorization: not an error.
  getrf_batch(ctx, a.dtype(), work.as<char>(), M, N, A.count, ipiv.as<int64_t>(), info.as<int>());
  store(work.as<void>(), M, M * N, outputs[0], M, N, A.count, s);
  launch_lu_pivots(ipiv.as<int64_t>(), K, M, A.count, static_cast<uint32_t*>(outputs[1].raw_data()),
                   static_cast<uint32_t*>(outputs[2].raw_data()), perm.as<uint32_t>(), s);
}

void eval_inverse(Inverse& p, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  array& out = outputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  Dtype t = a.dtype();
  cudaDataType type = real_type(t);
  Matrices A(a, s);
  int64_t n = A.rows, bytes = n * n * int64_t(a.itemsize());
  DeviceBuffer work(A.count * bytes, s), info(A.count * sizeof(int), s);
  load(a, A, work.as<void>(), s);
  bool triangular = p.triangular(), upper = p.upper();
  if (triangular) {
    Solver sv = solver(ctx);
    size_t dev = 0, host = 0;
    LAZULI_CUSOLVER_CHECK(cusolverDnXtrtri_bufferSize(sv.handle, fill(upper), CUBLAS_DIAG_NON_UNIT, n, type,
                                                      work.as<void>(), n, &dev, &host));
    Workspace ws(dev, host, s);
    for (int64_t b = 0; b < A.count; ++b)
      LAZULI_CUSOLVER_CHECK(cusolverDnXtrtri(sv.handle, fill(upper), CUBLAS_DIAG_NON_UNIT, n, type,
                                             work.as<char>() + b * bytes, n, ws.device.as<void>(), ws.device_bytes,
                                             ws.host_data(), ws.host_bytes, info.as<int>() + b));
    // trtri leaves the other triangle as it was: the inverse is triangular.
    store(work.as<void>(), n, n * n, out, n, n, A.count, s, upper ? Keep::upper : Keep::lower);
  } else {
    // A^-1 solves A X = I.
    DeviceBuffer ipiv(A.count * n * sizeof(int64_t), s), inverse(A.count * bytes, s);
    getrf_batch(ctx, t, work.as<char>(), n, n, A.count, ipiv.as<int64_t>(), info.as<int>());
    launch_identity(t, inverse.as<void>(), n, A.count, s);
    getrs_batch(ctx, t, work.as<char>(), n, ipiv.as<int64_t>(), inverse.as<char>(), n, A.count);
    store(inverse.as<void>(), n, n * n, out, n, n, A.count, s);
  }
  check_info(read_info(info.as<int>(), A.count, s), triangular ? "linalg::tri_inv" : "linalg::inv",
             "matrix is singular: a zero pivot, so it has no inverse");
}

void eval_solve(Solve&, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  array& out = outputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  cudaStream_t s = ctx.stream;
  Dtype t = inputs[0].dtype();
  Matrices A(inputs[0], s), B(inputs[1], s);
  int64_t n = A.rows, k = B.cols;
  DeviceBuffer wa(A.count * n * n * t.size, s), wb(A.count * n * k * t.size, s), ipiv(A.count * n * sizeof(int64_t), s),
      info(A.count * sizeof(int), s);
  load(inputs[0], A, wa.as<void>(), s);
  load(inputs[1], B, wb.as<void>(), s);
  getrf_batch(ctx, t, wa.as<char>(), n, n, A.count, ipiv.as<int64_t>(), info.as<int>());
  getrs_batch(ctx, t, wa.as<char>(), n, ipiv.as<int64_t>(), wb.as<char>(), k, A.count);
  store(wb.as<void>(), n, n * k, out, n, k, A.count, s);
  check_info(read_info(info.as<int>(), A.count, s), "linalg::solve",
             "matrix is singular: a zero pivot, so the system has no unique solution");
}

void eval_solve_triangular(SolveTriangular& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                           const GpuContext& ctx) {
  array& out = outputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  cudaStream_t s = ctx.stream;
  Dtype t = inputs[0].dtype();
  (void)real_type(t);  // rejects other dtypes
  bool upper = p.upper();
  Matrices A(inputs[0], s), B(inputs[1], s);
  int64_t n = A.rows, k = B.cols;
  DeviceBuffer wa(A.count * n * n * t.size, s), wb(A.count * n * k * t.size, s), info(A.count * sizeof(int), s);
  load(inputs[0], A, wa.as<void>(), s);
  load(inputs[1], B, wb.as<void>(), s);
  // trsm reports nothing: a zero on the diagonal is found as LAPACK's trtrs finds it.
  launch_zero_diagonal_info(t, wa.as<void>(), column_major(n, n), n, A.count, info.as<int>(), s);
  cublasHandle_t h = cublas_handle(ctx);
  for (int64_t b = 0; b < A.count; ++b) {
    if (t == float64) {
      const double one = 1;
      LAZULI_CUBLAS_CHECK(cublasDtrsm_64(h, CUBLAS_SIDE_LEFT, fill(upper), CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, n, k, &one,
                                         wa.as<double>() + b * n * n, n, wb.as<double>() + b * n * k, n));
    } else {
      const float one = 1;
      LAZULI_CUBLAS_CHECK(cublasStrsm_64(h, CUBLAS_SIDE_LEFT, fill(upper), CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, n, k, &one,
                                         wa.as<float>() + b * n * n, n, wb.as<float>() + b * n * k, n));
    }
  }
  store(wb.as<void>(), n, n * k, out, n, k, A.count, s);
  check_info(read_info(info.as<int>(), A.count, s), "linalg::solve_triangular",
             "matrix is singular: a zero on the diagonal");
}

void eval_cholesky(Cholesky& p, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  array& out = outputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  cudaDataType type = real_type(a.dtype());
  bool upper = p.upper();
  Matrices A(a, s);
  int64_t n = A.rows, bytes = n * n * int64_t(a.itemsize());
  DeviceBuffer work(A.count * bytes, s), info(A.count * sizeof(int), s);
  load(a, A, work.as<void>(), s);
  Solver sv = solver(ctx);
  size_t dev = 0, host = 0;
  LAZULI_CUSOLVER_CHECK(
      cusolverDnXpotrf_bufferSize(sv.handle, sv.params, fill(upper), n, type, work.as<void>(), n, type, &dev, &host));
  Workspace ws(dev, host, s);
  for (int64_t b = 0; b < A.count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXpotrf(sv.handle, sv.params, fill(upper), n, type, work.as<char>() + b * bytes, n,
                                           type, ws.device.as<void>(), ws.device_bytes, ws.host_data(), ws.host_bytes,
                                           info.as<int>() + b));
  store(work.as<void>(), n, n * n, out, n, n, A.count, s, upper ? Keep::upper : Keep::lower);
  check_info(read_info(info.as<int>(), A.count, s), "linalg::cholesky", "matrix is not positive definite");
}

// Expands geqrf's reflectors into Q's first k columns, in place in each column-major m x n
// matrix (ld m, `batch` elements apart).
template <typename T>
void orgqr_batch(const GpuContext& ctx, T* work, int64_t batch, int64_t m, int64_t k, const T* tau, int64_t count,
                 int* info) {
  cusolverDnHandle_t h = solver(ctx).handle;
  int mi = as_int(m, "linalg::qr"), ki = as_int(k, "linalg::qr"), lwork = 0;
  if constexpr (std::is_same_v<T, double>)
    LAZULI_CUSOLVER_CHECK(cusolverDnDorgqr_bufferSize(h, mi, ki, ki, work, mi, tau, &lwork));
  else
    LAZULI_CUSOLVER_CHECK(cusolverDnSorgqr_bufferSize(h, mi, ki, ki, work, mi, tau, &lwork));
  DeviceBuffer ws(size_t(lwork) * sizeof(T), ctx.stream);
  for (int64_t b = 0; b < count; ++b) {
    T* a = work + b * batch;
    if constexpr (std::is_same_v<T, double>)
      LAZULI_CUSOLVER_CHECK(cusolverDnDorgqr(h, mi, ki, ki, a, mi, tau + b * k, ws.as<T>(), lwork, info + b));
    else
      LAZULI_CUSOLVER_CHECK(cusolverDnSorgqr(h, mi, ki, ki, a, mi, tau + b * k, ws.as<T>(), lwork, info + b));
  }
}

void eval_qrf(QRF&, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  for (auto& o : outputs) cpu::allocate(o);
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  Dtype t = a.dtype();
  cudaDataType type = real_type(t);
  Matrices A(a, s);
  int64_t M = A.rows, N = A.cols, K = std::min(M, N), bytes = M * N * int64_t(t.size);
  if (K == 0 || A.count == 0) return;  // Q (M x 0) and R (0 x N) are empty
  DeviceBuffer work(A.count * bytes, s), tau(A.count * K * t.size, s), info(A.count * sizeof(int), s);
  load(a, A, work.as<void>(), s);
  Solver sv = solver(ctx);
  size_t dev = 0, host = 0;
  LAZULI_CUSOLVER_CHECK(cusolverDnXgeqrf_bufferSize(sv.handle, sv.params, M, N, type, work.as<void>(), M, type,
                                                    tau.as<void>(), type, &dev, &host));
  Workspace ws(dev, host, s);
  for (int64_t b = 0; b < A.count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXgeqrf(sv.handle, sv.params, M, N, type, work.as<char>() + b * bytes, M, type,
                                           tau.as<char>() + b * K * t.size, type, ws.device.as<void>(), ws.device_bytes,
                                           ws.host_data(), ws.host_bytes, info.as<int>() + b));
  // R: the upper trapezoid of the first K rows.
  store(work.as<void>(), M, M * N, outputs[1], K, N, A.count, s, Keep::upper);
  // Q: the first K columns, expanded from the reflectors in place.
  if (t == float64) orgqr_batch(ctx, work.as<double>(), M * N, M, K, tau.as<double>(), A.count, info.as<int>());
  else orgqr_batch(ctx, work.as<float>(), M * N, M, K, tau.as<float>(), A.count, info.as<int>());
  store(work.as<void>(), M, M * N, outputs[0], M, K, A.count, s);
  check_info(read_info(info.as<int>(), A.count, s), "linalg::qr", "factorization failed");
}

void eval_svd(SVD& p, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  for (auto& o : outputs) cpu::allocate(o);
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  Dtype t = a.dtype();
  cudaDataType type = real_type(t);
  bool uv = p.compute_uv();
  Matrices A(a, s);
  int64_t M = A.rows, N = A.cols, K = std::min(M, N);
  if (A.count == 0) return;
  if (K == 0) {  // an empty matrix: U and Vt are identities
    if (uv) {
      launch_identity(t, outputs[0].raw_data(), M, A.count, s);
      launch_identity(t, outputs[2].raw_data(), N, A.count, s);
    }
    return;
  }
  // cuSOLVER's gesvd takes m >= n only. A wide A is solved as A^T = U' S V'^T, whose
  // column-major A^T is A's row-major copy: then U = V' and Vt = U'^T, which are V'^T's and
  // U''s column-major buffers read row-major, so gesvd writes them straight into the outputs.
  bool wide = M < N;
  int64_t m = wide ? N : M, n = wide ? M : N, isz = int64_t(t.size);
  DeviceBuffer work(A.count * m * n * isz, s), info(A.count * sizeof(int), s);
  load(a, A, work.as<void>(), s, /*transposed=*/wide);
  check_finite(t, work.as<void>(), m * n, A.count, "linalg::svd", s);
  DeviceBuffer u_tmp(uv && !wide ? A.count * m * m * isz : 0, s), vt_tmp(uv && !wide ? A.count * n * n * isz : 0, s);
  char* u = nullptr;
  char* vt = nullptr;
  if (uv) {
    u = wide ? static_cast<char*>(outputs[2].raw_data()) : u_tmp.as<char>();
    vt = wide ? static_cast<char*>(outputs[0].raw_data()) : vt_tmp.as<char>();
  }
  char* sv_out = static_cast<char*>(outputs[uv ? 1 : 0].raw_data());
  signed char job = uv ? 'A' : 'N';
  Solver sv = solver(ctx);
  size_t dev = 0, host = 0;
  LAZULI_CUSOLVER_CHECK(cusolverDnXgesvd_bufferSize(sv.handle, sv.params, job, job, m, n, type, work.as<void>(), m, type,
                                                    sv_out, type, u, m, type, vt, n, type, &dev, &host));
  Workspace ws(dev, host, s);
  for (int64_t b = 0; b < A.count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXgesvd(sv.handle, sv.params, job, job, m, n, type, work.as<char>() + b * m * n * isz,
                                           m, type, sv_out + b * K * isz, type, uv ? u + b * m * m * isz : nullptr, m,
                                           type, uv ? vt + b * n * n * isz : nullptr, n, type, ws.device.as<void>(),
                                           ws.device_bytes, ws.host_data(), ws.host_bytes, info.as<int>() + b));
  if (uv && !wide) {
    store(u, M, M * M, outputs[0], M, M, A.count, s);
    store(vt, N, N * N, outputs[2], N, N, A.count, s);
  }
  check_info(read_info(info.as<int>(), A.count, s), "linalg::svd", "the SVD did not converge");
}

void eval_eigh(Eigh& p, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  for (auto& o : outputs) cpu::allocate(o);
  if (outputs[0].size() == 0) return;
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  cudaDataType type = real_type(a.dtype());
  bool upper = p.upper(), vectors = p.compute_vectors();
  Matrices A(a, s);
  int64_t n = A.rows, bytes = n * n * int64_t(a.itemsize());
  DeviceBuffer work(A.count * bytes, s), info(A.count * sizeof(int), s);
  load(a, A, work.as<void>(), s);
  char* w = static_cast<char*>(outputs[0].raw_data());
  cusolverEigMode_t jobz = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  Solver sv = solver(ctx);
  size_t dev = 0, host = 0;
  LAZULI_CUSOLVER_CHECK(cusolverDnXsyevd_bufferSize(sv.handle, sv.params, jobz, fill(upper), n, type, work.as<void>(),
                                                    n, type, w, type, &dev, &host));
  Workspace ws(dev, host, s);
  for (int64_t b = 0; b < A.count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXsyevd(sv.handle, sv.params, jobz, fill(upper), n, type, work.as<char>() + b * bytes,
                                           n, type, w + b * n * a.itemsize(), type, ws.device.as<void>(),
                                           ws.device_bytes, ws.host_data(), ws.host_bytes, info.as<int>() + b));
  if (vectors) store(work.as<void>(), n, n * n, outputs[1], n, n, A.count, s);
  check_info(read_info(info.as<int>(), A.count, s), vectors ? "linalg::eigh" : "linalg::eigvalsh",
             "the eigenvalue solver did not converge");
  // syevd may return finite values for a matrix whose read triangle holds NaN or infinity;
  // LAPACK's (the CPU kernel's) are NaN there, and so are these. `info` is free again for
  // the flags.
  launch_copy_matrices(int(a.itemsize()), data_of(a), A.layout, work.as<void>(), column_major(n, n), n, n, A.count,
                       upper ? Keep::upper : Keep::lower, s);
  launch_flag_nonfinite(a.dtype(), work.as<void>(), n * n, A.count, info.as<int>(), s);
  launch_nan_where_flagged(a.dtype(), w, n, A.count, info.as<int>(), s);
  if (vectors) launch_nan_where_flagged(a.dtype(), outputs[1].raw_data(), n * n, A.count, info.as<int>(), s);
}

void eval_eig(Eig& p, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  for (auto& o : outputs) cpu::allocate(o);
  if (outputs[0].size() == 0) return;
  cudaStream_t s = ctx.stream;
  const array& a = inputs[0];
  Dtype t = a.dtype();
  cudaDataType type = real_type(t);
  bool vectors = p.compute_vectors();
  const char* op = vectors ? "linalg::eig" : "linalg::eigvals";
  Matrices A(a, s);
  int64_t n = A.rows, isz = int64_t(t.size), bytes = n * n * isz;
  DeviceBuffer work(A.count * bytes, s), info(A.count * sizeof(int), s), wri(A.count * 2 * n * isz, s),
      vr(vectors ? A.count * bytes : 0, s);
  load(a, A, work.as<void>(), s);
  check_finite(t, work.as<void>(), n * n, A.count, op, s);
  // Real W (n real parts, then n imaginary parts) and real VR: LAPACK's geev outputs.
  cusolverEigMode_t jobvr = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  Solver sv = solver(ctx);
  size_t dev = 0, host = 0;
  LAZULI_CUSOLVER_CHECK(cusolverDnXgeev_bufferSize(sv.handle, sv.params, CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, type,
                                                   work.as<void>(), n, type, wri.as<void>(), type, nullptr, n, type,
                                                   vr.as<void>(), n, type, &dev, &host));
  Workspace ws(dev, host, s);
  for (int64_t b = 0; b < A.count; ++b)
    LAZULI_CUSOLVER_CHECK(cusolverDnXgeev(sv.handle, sv.params, CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, type,
                                          work.as<char>() + b * bytes, n, type, wri.as<char>() + b * 2 * n * isz, type,
                                          nullptr, n, type, vectors ? vr.as<char>() + b * bytes : nullptr, n, type,
                                          ws.device.as<void>(), ws.device_bytes, ws.host_data(), ws.host_bytes,
                                          info.as<int>() + b));
  launch_eig_outputs(t, wri.as<void>(), vectors ? vr.as<void>() : nullptr, n, A.count, outputs[0].raw_data(),
                     vectors ? outputs[1].raw_data() : nullptr, s);
  check_info(read_info(info.as<int>(), A.count, s), op, "the eigenvalue solver did not converge");
}

}  // namespace

LAZULI_GPU_KERNEL(LUFactor, eval_lu_factor);
LAZULI_GPU_KERNEL(Inverse, eval_inverse);
LAZULI_GPU_KERNEL(Solve, eval_solve);
LAZULI_GPU_KERNEL(SolveTriangular, eval_solve_triangular);
LAZULI_GPU_KERNEL(Cholesky, eval_cholesky);
LAZULI_GPU_KERNEL(QRF, eval_qrf);
LAZULI_GPU_KERNEL(SVD, eval_svd);
LAZULI_GPU_KERNEL(Eigh, eval_eigh);
LAZULI_GPU_KERNEL(Eig, eval_eig);

}  // namespace lazuli::cuda
