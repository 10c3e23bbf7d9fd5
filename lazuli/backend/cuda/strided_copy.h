// Internal to the CUDA backend: moving elements of any dtype (complex64 too) between
// layouts by their byte width, for the families that only rearrange (fft, hadamard).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/array.h"
#include "lazuli/backend/cuda/indexer.h"

namespace lazuli::cuda {

// dst, row-major over `shape`, <- the elements of `itemsize` bytes at src + strides (in
// elements). Dims are merged (host.h's make_indexer); `op` names the caller in errors.
void gather(const void* src, const Strides& strides, const Shape& shape, int itemsize, void* dst, cudaStream_t s,
            const std::string& op);
// `a` itself when row-major dense, else a dense device copy of the same dtype.
array dense_copy(const array& a, cudaStream_t s, const std::string& op);

// The kernel behind gather: n elements.
void launch_strided_copy(int itemsize, const void* src, void* dst, int64_t n, const Indexer<1>& ix, cudaStream_t s);

}  // namespace lazuli::cuda
