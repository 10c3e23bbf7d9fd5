// CUDA backend: integer matmul, one output element per thread. Sums wrap: they are taken
// modulo 2^64 and cut to the dtype, which is what adding step by step in the dtype gives.
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/matmul.h"

namespace lazuli::cuda {
namespace {

template <typename T>
__global__ void integer_matmul_kernel(const T* a, const T* b, T* c, int64_t M, int64_t N, int64_t K, int64_t batch,
                                      int64_t a_stride, int64_t b_stride) {
  LAZULI_GRID_STRIDE(i, batch * M * N) {
    int64_t n = i % N, m = (i / N) % M, z = i / (M * N);
    const T* ar = a + z * a_stride + m * K;
    const T* bc = b + z * b_stride + n;
    uint64_t sum = 0;
    for (int64_t k = 0; k < K; ++k)
      sum += static_cast<uint64_t>(static_cast<int64_t>(ar[k])) * static_cast<uint64_t>(static_cast<int64_t>(bc[k * N]));
    c[i] = static_cast<T>(sum);
  }
}

}  // namespace

void launch_integer_matmul(Dtype t, const void* a, const void* b, void* c, int64_t M, int64_t N, int64_t K,
                           int64_t batch, int64_t a_stride, int64_t b_stride, cudaStream_t s) {
  dispatch(t, "matmul", [&](auto v) {
    using T = decltype(v);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      integer_matmul_kernel<T><<<blocks_for(batch * M * N), kThreads, 0, s>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c), M, N, K, batch, a_stride, b_stride);
      check_launch("matmul");
    } else {
      throw std::invalid_argument("[matmul] " + dtype_name(t) + " is not supported.");
    }
  });
}

}  // namespace lazuli::cuda
