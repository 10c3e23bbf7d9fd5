// Internal to the CUDA backend: the exact integer kernel of the special matmuls (GatherMM,
// SegmentedMM); floating dtypes go through cuBLAS (special_matmul.cpp).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

// One product: element offsets of its A (M x k, row stride lda) and B (k x N, row stride ldb)
// and its inner length k. Output p is the dense M x N matrix at c + p * M * N.
struct MatrixProduct {
  int64_t a, b, k;
};

// Integer products (wrapping like NumPy), `products` device-readable; t an integer dtype;
// `op` names the caller in errors. Also matmul's integer kernel.
void launch_integer_products(Dtype t, const void* a, const void* b, void* c, const MatrixProduct* products,
                             int64_t count, int64_t M, int64_t N, int64_t lda, int64_t ldb, cudaStream_t s,
                             const char* op);

}  // namespace lazuli::cuda
