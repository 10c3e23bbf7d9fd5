// CUDA backend: matmul through cuBLAS.
#include <climits>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/special_matmul.h"
#include "lazuli/primitives.h"

namespace lazuli::cuda {
namespace {

// An operand as cuBLAS reads it: per batch entry a dense matrix, row-major or (a transposed
// view, as a Linear layer's x @ W.T gives) column-major, `batch_stride` elements apart (0
// when every batch entry is the same matrix). Other layouts are copied.
struct Operand {
  array data;
  long long batch_stride;
  bool column_major = false;
  // The leading dimension of the matrix cuBLAS reads (rows x cols of the logical matrix):
  // cols for row-major, rows for column-major.
  long long ld(int64_t rows, int64_t cols) const { return column_major ? rows : cols; }
};
// The batch axes' stride when the batch entries lie evenly apart (0 when they are all the
// same matrix, broadcast), else -1: the batch axes of size past 1 must nest.
long long even_batch_stride(const array& x) {
  long long stride = 0, inner_stride = 0;
  int64_t inner_size = 0;  // of the batch axis inside the one at hand (0: none yet)
  for (int d = static_cast<int>(x.ndim()) - 3; d >= 0; --d) {
    if (x.shape(d) == 1) continue;
    if (inner_size == 0) stride = x.strides(d);
    else if (x.strides(d) != inner_stride * inner_size) return -1;
    inner_stride = x.strides(d), inner_size = x.shape(d);
  }
  return stride;
}
Operand matmul_operand(const array& x, cudaStream_t s, bool allow_column_major = true) {
  int nd = static_cast<int>(x.ndim());
  int64_t rows = x.shape(nd - 2), cols = x.shape(nd - 1);
  if (row_major_dense(x)) return {x, rows * cols};
  long long batch = even_batch_stride(x);
  bool row_dense = (cols == 1 || x.strides(nd - 1) == 1) && (rows == 1 || x.strides(nd - 2) == cols);
  bool column_dense = (rows == 1 || x.strides(nd - 2) == 1) && (cols == 1 || x.strides(nd - 1) == rows);
  if (batch >= 0 && row_dense) return {x, batch};
  if (batch >= 0 && column_dense && allow_column_major) return {x, batch, true};
  return {dense(x, s), rows * cols};
}
// Integers (wrapping, exact) by a kernel of our own; bool is refused as on the CPU.
void eval_integer_matmul(const std::vector<array>& inputs, array& out, cudaStream_t s) {
  if (!is_integral(out.dtype()) || out.dtype() == bool_)
    throw std::invalid_argument("[matmul] " + dtype_name(out.dtype()) + " is not supported.");
  int nd = static_cast<int>(out.ndim());
  int64_t m = out.shape(nd - 2), n = out.shape(nd - 1), k = inputs[0].shape(-1);
  Operand a = matmul_operand(inputs[0], s, false), b = matmul_operand(inputs[1], s, false);
  std::vector<MatrixProduct> products(out.size() / (m * n));
  for (size_t z = 0; z < products.size(); ++z)
    products[z] = {int64_t(z) * a.batch_stride, int64_t(z) * b.batch_stride, k};
  DeviceCopy table(products.data(), products.size() * sizeof(MatrixProduct), s);
  launch_integer_products(out.dtype(), data_of(a.data), data_of(b.data), out.raw_data(),
                          table.as<MatrixProduct>(), int64_t(products.size()), m, n, k, n, s, "matmul");
}

void eval_matmul(Matmul& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cudaStream_t s = ctx.stream;
  cpu::allocate(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  cudaDataType_t type;
  cublasComputeType_t compute;
  if (t == float32) type = CUDA_R_32F, compute = CUBLAS_COMPUTE_32F;
  else if (t == float64) type = CUDA_R_64F, compute = CUBLAS_COMPUTE_64F;
  else if (t == float16) type = CUDA_R_16F, compute = CUBLAS_COMPUTE_32F;
  else if (t == bfloat16) type = CUDA_R_16BF, compute = CUBLAS_COMPUTE_32F;
  else if (t == complex64) type = CUDA_C_32F, compute = CUBLAS_COMPUTE_32F;
  else
    return eval_integer_matmul(inputs, out, s);
  int nd = static_cast<int>(out.ndim());
  int64_t m = out.shape(nd - 2), n = out.shape(nd - 1), k = inputs[0].shape(-1);
  int64_t batch = out.size() / (m * n);
  if (k == 0) {  // an empty sum
    LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), s));
    return;
  }
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || batch > INT_MAX)
    throw std::invalid_argument("[matmul] GPU matmul dimensions must fit in 32 bits; got m=" + std::to_string(m) +
                                ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                                ", batch=" + std::to_string(batch) + ".");
  Operand a = matmul_operand(inputs[0], s), b = matmul_operand(inputs[1], s);
  // One matrix B for every batch entry of a row-major A whose entries follow each other:
  // a single product of batch * m rows, which cuBLAS runs better than many small ones.
  if (batch > 1 && b.batch_stride == 0 && !a.column_major && a.batch_stride == m * k && batch * m <= INT_MAX) {
    m *= batch;
    batch = 1;
  }
  // Row-major C = A B is column-major C^T = B^T A^T: pass B first. A row-major operand read
  // column-major is its transpose, as wanted (no op); a column-major one is transposed by cuBLAS.
  double alpha64 = 1, beta64 = 0;
  float alpha32[2] = {1, 0}, beta32[2] = {0, 0};  // real and complex scalars alike
  const void* alpha = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&alpha64) : alpha32;
  const void* beta = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&beta64) : beta32;
  LAZULI_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_handle(ctx), b.column_major ? CUBLAS_OP_T : CUBLAS_OP_N, a.column_major ? CUBLAS_OP_T : CUBLAS_OP_N,
      int(n), int(m), int(k), alpha, data_of(b.data), type, int(b.ld(k, n)), b.batch_stride, data_of(a.data), type,
      int(a.ld(m, k)), a.batch_stride, beta,
      out.raw_data(), type, int(n), m * n, int(batch), compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace

LAZULI_GPU_KERNEL(Matmul, eval_matmul);

}  // namespace lazuli::cuda
