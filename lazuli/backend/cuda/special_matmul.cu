// CUDA backend: integer products of the special matmuls and of matmul. One thread per output element; the
// sum runs in 64-bit unsigned arithmetic, which wraps to the same bits as the element type.
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/special_matmul.h"

namespace lazuli::cuda {
namespace {

template <typename T>
__global__ void integer_products_kernel(const T* a, const T* b, T* c, const MatrixProduct* products, int64_t total,
                                        int64_t M, int64_t N, int64_t lda, int64_t ldb) {
  using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  LAZULI_GRID_STRIDE(e, total) {
    int64_t p = e / (M * N), ij = e - p * M * N, i = ij / N, j = ij - i * N;
    MatrixProduct pr = products[p];
    const T* row = a + pr.a + i * lda;
    const T* col = b + pr.b + j;
    uint64_t sum = 0;
    for (int64_t k = 0; k < pr.k; ++k)
      sum += static_cast<uint64_t>(static_cast<Wide>(row[k])) * static_cast<uint64_t>(static_cast<Wide>(col[k * ldb]));
    c[e] = static_cast<T>(sum);
  }
}

}  // namespace

void launch_integer_products(Dtype t, const void* a, const void* b, void* c, const MatrixProduct* products,
                             int64_t count, int64_t M, int64_t N, int64_t lda, int64_t ldb, cudaStream_t s,
                             const char* op) {
  int64_t total = count * M * N;
  if (total == 0) return;
  dispatch(t, op, [&](auto v) {
    using T = decltype(v);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      integer_products_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c), products, total, M, N, lda, ldb);
      check_launch(op);
    } else {
      throw std::logic_error(std::string("[") + op + "] integer kernel called for " + dtype_name(t) + ".");
    }
  });
}

}  // namespace lazuli::cuda
