// Internal to the CUDA backend: the kernel a fused program's final sum needs (compiled.cpp
// runs the elementwise steps with the elementwise family's kernels).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

// out[r] = sum of in[r * row_len .. (r + 1) * row_len) for r < rows (dense, float32 or
// float64), summed in float64.
void launch_row_sums(Dtype t, const void* in, void* out, int64_t rows, int64_t row_len, cudaStream_t s);

}  // namespace lazuli::cuda
