// Internal to the CUDA backend: the Walsh-Hadamard transform's launcher (hadamard.cu).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

// The signs of H_m (m <= 28), row-major, +1 or -1: passed to the kernels by value.
struct HadamardSigns {
  int8_t s[28 * 28];
};

// dst (rows x n, row-major) <- scale * (H_m kron H_p) applied to each row of src (dense,
// row-major, dtype t), n = m * p, as the CPU kernel computes it.
void launch_hadamard(Dtype t, const void* src, void* dst, int64_t rows, int64_t n, int m, const HadamardSigns& signs,
                     double scale, cudaStream_t s);

}  // namespace lazuli::cuda
