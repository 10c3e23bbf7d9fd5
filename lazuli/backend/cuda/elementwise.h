// Internal to the CUDA backend: the elementwise kernels' launchers. The host side works
// out layouts (host.h's make_indexer); these only index and compute.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/backend/cuda/indexer.h"
#include "lazuli/dtype.h"
#include "lazuli/primitives.h"

namespace lazuli::cuda {

// n elements each; src/dst point at the first element (offset applied).
void launch_unary(UnaryOp op, Dtype in, Dtype out, const void* src, void* dst, int64_t n, const Indexer<1>& ix,
                  cudaStream_t s);
void launch_binary(BinaryOp op, Dtype in, Dtype out, const void* a, const void* b, void* dst, int64_t n,
                   const Indexer<2>& ix, cudaStream_t s);
// Converts values from `in` to `out` (AsType; Copy when the dtypes are equal).
void launch_convert(Dtype in, Dtype out, const void* src, void* dst, int64_t n, const Indexer<1>& ix, cudaStream_t s);
// out = cond ? x : y, moving elements of `itemsize` bytes.
void launch_select(int itemsize, const void* cond, const void* x, const void* y, void* dst, int64_t n,
                   const Indexer<3>& ix, cudaStream_t s);

}  // namespace lazuli::cuda
