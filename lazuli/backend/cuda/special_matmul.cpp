// CUDA backend: GatherMM and SegmentedMM. Floating dtypes go through cuBLAS: GatherMM as one
// batched GEMM over pointer arrays (each output with its own lhs and rhs matrix), SegmentedMM
// as one GEMM per segment on the operands in place. Integer dtypes use an exact kernel
// (special_matmul.cu); bool is refused, as on the CPU. Index values are checked on the host.
#include <algorithm>
#include <climits>
#include <string>

#include "lazuli/backend/common/matrix_indices.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/special_matmul.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli::cuda {
namespace {

// cuBLAS's view of a floating dtype; integer dtypes have none (is_blas false).
struct BlasType {
  bool is_blas = true;
  cudaDataType_t data;
  cublasComputeType_t compute;
};
BlasType blas_type(Dtype t, const char* op) {
  if (t == float32) return {true, CUDA_R_32F, CUBLAS_COMPUTE_32F};
  if (t == float64) return {true, CUDA_R_64F, CUBLAS_COMPUTE_64F};
  if (t == float16) return {true, CUDA_R_16F, CUBLAS_COMPUTE_32F};
  if (t == bfloat16) return {true, CUDA_R_16BF, CUBLAS_COMPUTE_32F};
  if (t == complex64) return {true, CUDA_C_32F, CUBLAS_COMPUTE_32F};
  if (t == bool_) throw std::invalid_argument(std::string("[") + op + "] " + dtype_name(t) + " is not supported.");
  return {false, CUDA_R_32F, CUBLAS_COMPUTE_32F};
}

// Scalars 1 and 0 in the compute type (a complex one reads two floats).
struct Scalars {
  double one64 = 1, zero64 = 0;
  float one32[2] = {1, 0}, zero32[2] = {0, 0};
  const void* one(const BlasType& b) const { return b.compute == CUBLAS_COMPUTE_64F ? (const void*)&one64 : one32; }
  const void* zero(const BlasType& b) const { return b.compute == CUBLAS_COMPUTE_64F ? (const void*)&zero64 : zero32; }
};

void check_int32(int64_t m, int64_t n, int64_t k, int64_t count, const char* op) {
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || count > INT_MAX)
    throw std::invalid_argument(std::string("[") + op + "] GPU dimensions must fit in 32 bits; got m=" +
                                std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) + ".");
}

char* bytes(const array& a) { return static_cast<char*>(const_cast<array&>(a).raw_data()); }

// out[p] (M x N) = A_p (M x k_p, row stride lda) @ B_p (k_p x N, row stride ldb) for each
// product, with a and b dense in out's dtype.
void run_products(const array& a, const array& b, array& out, const std::vector<MatrixProduct>& products, int64_t M,
                  int64_t N, int64_t lda, int64_t ldb, const char* op, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  const Dtype t = out.dtype();
  const int64_t P = static_cast<int64_t>(products.size());
  BlasType bt = blas_type(t, op);
  LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), s));  // empty sums are zeros
  if (!bt.is_blas) {
    DeviceCopy table(products.data(), P * sizeof(MatrixProduct), s);
    launch_integer_products(t, data_of(a), data_of(b), out.raw_data(), table.as<MatrixProduct>(), P, M, N, lda, ldb,
                            s, "gather_mm");
    return;
  }
  const size_t w = t.size;
  const bool uniform = std::all_of(products.begin(), products.end(),
                                   [&](const MatrixProduct& p) { return p.k == products[0].k; });
  int64_t kmax = 0;
  for (auto& p : products) kmax = std::max(kmax, p.k);
  check_int32(M, N, kmax, P, op);
  Scalars sc;
  cublasHandle_t h = cublas_handle(ctx);
  // Row-major C = A B is column-major C^T = B^T A^T: B goes first, no transposes.
  if (uniform && kmax > 0) {
    std::vector<const void*> host_pointers(3 * P);
    for (int64_t i = 0; i < P; ++i) {
      host_pointers[i] = bytes(a) + products[i].a * w;
      host_pointers[P + i] = bytes(b) + products[i].b * w;
      host_pointers[2 * P + i] = bytes(out) + i * M * N * w;
    }
    DeviceCopy pointers(host_pointers.data(), 3 * P * sizeof(void*), s);
    const void** pa = pointers.as<const void*>();
    const void** pb = pa + P;
    void** pc = const_cast<void**>(pa + 2 * P);
    LAZULI_CUBLAS_CHECK(cublasGemmBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, int(N), int(M), int(kmax), sc.one(bt), pb,
                                            bt.data, int(ldb), pa, bt.data, int(lda), sc.zero(bt), pc, bt.data, int(N),
                                            int(P), bt.compute, CUBLAS_GEMM_DEFAULT));
  } else {
    for (int64_t i = 0; i < P; ++i) {
      if (products[i].k == 0) continue;
      LAZULI_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, int(N), int(M), int(products[i].k), sc.one(bt),
                                       bytes(b) + products[i].b * w, bt.data, int(ldb), bytes(a) + products[i].a * w,
                                       bt.data, int(lda), sc.zero(bt), bytes(out) + i * M * N * w, bt.data, int(N),
                                       bt.compute, CUBLAS_GEMM_DEFAULT));
    }
  }
}

void eval_gather_mm(GatherMM&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));  // the indices are read here
  auto li = read_matrix_indices(in[2], in[0].shape(0), "lhs index");
  auto ri = read_matrix_indices(in[3], in[1].shape(0), "rhs index");
  array a = dense(in[0], ctx.stream), b = dense(in[1], ctx.stream);
  int64_t M = a.shape(1), K = a.shape(2), N = b.shape(2);
  std::vector<MatrixProduct> products(li.size());
  for (size_t l = 0; l < li.size(); ++l) products[l] = {li[l] * M * K, ri[l] * K * N, K};
  run_products(a, b, out, products, M, N, K, N, "gather_mm", ctx);
}

void eval_segmented_mm(SegmentedMM&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  array seg = dense_as(in[2], int32, s);
  array a = dense(in[0], s), b = dense(in[1], s);
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));  // the segments are read here
  int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1), S = seg.shape(0);
  const int32_t* ps = static_cast<const int32_t*>(seg.raw_data());
  std::vector<MatrixProduct> products(S);
  for (int64_t i = 0; i < S; ++i) {
    int64_t start = std::clamp<int64_t>(ps[2 * i], 0, K), end = std::clamp<int64_t>(ps[2 * i + 1], 0, K);
    products[i] = {start, start * N, std::max<int64_t>(end - start, 0)};
  }
  run_products(a, b, out, products, M, N, K, N, "segmented_mm", ctx);
}

}  // namespace

LAZULI_GPU_KERNEL(GatherMM, eval_gather_mm);
LAZULI_GPU_KERNEL(SegmentedMM, eval_segmented_mm);

}  // namespace lazuli::cuda
