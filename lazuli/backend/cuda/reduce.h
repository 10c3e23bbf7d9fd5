// Internal to the CUDA backend: the launchers of the reduction, scan, sort and arange
// kernels (reduce.cu, scan.cu, sort.cu). The host side (reduce.cpp) brings inputs into
// the layouts these expect; pointers are to the first element, buffers row-major dense.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"
#include "lazuli/backend/cuda/indexer.h"

namespace lazuli {
enum class ReduceOp;
enum class ScanOp;
}  // namespace lazuli

namespace lazuli::cuda {

// x viewed as (outer, red, inner), reduced over red into out (outer, inner). `in` is x's
// dtype, `out` the output's (bool for And/Or, else the same).
void launch_reduce(ReduceOp op, Dtype in, Dtype out, const void* x, void* dst, int64_t outer, int64_t red,
                   int64_t inner, cudaStream_t s);

// Index (uint32) of the first max (or min) along lines of `len` elements `step` apart;
// line k starts at the offset the indexer gives for k (its second operand) and writes
// dst at the first operand's offset. A NaN wins at its first position.
void launch_argreduce(bool is_max, Dtype t, const void* x, uint32_t* dst, int64_t lines, int64_t len, int64_t step,
                      const Indexer<2>& ix, cudaStream_t s);

// Scans rows of a dense (outer, len, inner) buffer along len into a dense buffer of the
// same layout (inclusive or exclusive, from either end).
void launch_scan(ScanOp op, Dtype t, const void* x, void* dst, int64_t outer, int64_t len, int64_t inner,
                 bool reverse, bool inclusive, cudaStream_t s);

// Sorts `lines` dense rows of `len` elements: the values (dst of dtype t) when indices is
// null, else the stable order of positions (uint32). NaNs order last, -0 equals +0.
void launch_sort(Dtype t, const void* x, void* values, uint32_t* indices, int64_t lines, int64_t len,
                 cudaStream_t s);

// dst[i] = start + i * step, computed in double and converted to t.
void launch_arange(Dtype t, double start, double step, void* dst, int64_t n, cudaStream_t s);

}  // namespace lazuli::cuda
