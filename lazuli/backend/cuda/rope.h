// Internal to the CUDA backend: the launcher of the fused rope kernel (rope.cu).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

// A dense x of shape (batch, ..., seq, features), seen as rows of its last axis.
struct RopeShape {
  int64_t rows;            // x's size / features
  int64_t rows_per_batch;  // rows / batch: the rows of one entry of x's first axis
  int64_t seq;             // positions run along axis -2
  int64_t features;
  int64_t half;  // rotated pairs per row (dims / 2)
  bool traditional;
};

// out = rope(x) of dtype t (float16, bfloat16, float32 or float64). offset: int32 or int64
// (offset_type), one value, or one per batch entry when per_batch. freqs: half values of
// the compute type (float32, float64 for float64), or null: then the inverse frequencies
// are exp(i * exponent_step).
void launch_rope(Dtype t, const void* x, void* out, const RopeShape& shape, Dtype offset_type, const void* offset,
                 bool per_batch, const void* freqs, double exponent_step, float scale, cudaStream_t s);

}  // namespace lazuli::cuda
