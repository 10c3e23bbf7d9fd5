// Internal to the CUDA backend: the integer matmul kernel (cuBLAS has none that wraps).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

// C[b] = A[b] B[b] for `batch` row-major dense matrices (M x K, K x N), A and B entries
// `a_stride` and `b_stride` elements apart (0: shared), exact and wrapping like NumPy.
void launch_integer_matmul(Dtype t, const void* a, const void* b, void* c, int64_t M, int64_t N, int64_t K,
                           int64_t batch, int64_t a_stride, int64_t b_stride, cudaStream_t s);

}  // namespace lazuli::cuda
