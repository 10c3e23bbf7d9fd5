// Internal to the CUDA backend: the launchers of the fused fast-op kernels (fast.cu). Each
// takes `rows` dense rows of `len` elements of dtype t (float16, bfloat16, float32 or
// float64); weight and bias (len elements) may be null.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

void launch_rms_norm(Dtype t, const void* x, const void* weight, void* out, int64_t rows, int64_t len, float eps,
                     cudaStream_t s);
void launch_layer_norm(Dtype t, const void* x, const void* weight, const void* bias, void* out, int64_t rows,
                       int64_t len, float eps, cudaStream_t s);
// precise: 16-bit rows compute in float32; otherwise each step rounds to t, as on the CPU.
void launch_softmax(Dtype t, const void* x, void* out, int64_t rows, int64_t len, bool precise, cudaStream_t s);
// out: one value per row.
void launch_logsumexp(Dtype t, const void* x, void* out, int64_t rows, int64_t len, cudaStream_t s);

}  // namespace lazuli::cuda
