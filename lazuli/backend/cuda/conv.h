// Internal to the CUDA backend: the convolution family's kernels (conv.cu); conv.cpp
// calls cuDNN where it can and these otherwise.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

constexpr int kMaxConvDims = 8;  // spatial dimensions the kernels take

// One convolution, channels-last: x (N, in..., C_in), w (C_out, ker..., C_in / groups), out
// (N, out..., C_out), all dense; the Convolution primitive's parameters, per spatial dim.
struct ConvGeometry {
  int d = 0;
  int64_t n = 0, ci = 0, co = 0, groups = 1;
  int64_t in[kMaxConvDims], ker[kMaxConvDims], out[kMaxConvDims];
  int64_t stride[kMaxConvDims], lo[kMaxConvDims], hi[kMaxConvDims], kernel_dilation[kMaxConvDims], input_dilation[kMaxConvDims];
  bool flip = false;
};

// The direct convolution: one thread per output element, summing in float (double for
// float64) as the CPU does. t: float16, bfloat16, float32 or float64.
void launch_conv_direct(Dtype t, const ConvGeometry& g, const void* x, const void* w, void* out, cudaStream_t s);

// dst (N, P..., C) <- x (N, in..., C) with input dilation (zeros between elements) and
// padding lo before (zeros; negative crops), P the lengths the geometry's out needs
// (`padded`), for elements of `itemsize` bytes.
void launch_pad_dilate(int itemsize, const ConvGeometry& g, const int64_t* padded, const void* x, void* dst,
                       cudaStream_t s);

}  // namespace lazuli::cuda
