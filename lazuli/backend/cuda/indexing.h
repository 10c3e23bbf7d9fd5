// Internal to the CUDA backend: the indexing kernels' launchers (indexing.cu). The host side
// (indexing.cpp) checks indices, lays out windows and allocates; these only move elements.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/backend/cuda/indexer.h"
#include "lazuli/dtype.h"
#include "lazuli/primitives.h"

namespace lazuli::cuda {

// The elements one index selects: a box of `shape` whose steps through the buffer are
// `strides` (in elements). Element i of window w lies at
//   starts[w % count] + (w / count) * block_step + offset of i in the box,
// so a take along an axis is `count` indices repeated over the outer blocks, and a general
// gather is count = windows (one block).
struct Windows {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
  int64_t size = 1;  // elements per window
  const int64_t* starts = nullptr;
  int64_t count = 1;
  int64_t block_step = 0;
};

// Wraps the n indices (integer dtype t; negatives count from the end of an axis of size dim)
// and adds index * stride to acc[i]. An index outside [0, hi] after wrapping adds nothing and
// records its position in *first_bad (the lowest such position wins; start it at ~0).
void launch_index_offsets(Dtype t, const void* idx, int64_t n, int64_t dim, int64_t hi, int64_t stride, int64_t* acc,
                          unsigned long long* first_bad, cudaStream_t s);

// dst[w * win.size + i] = element i of window w of src, for `total` elements.
void launch_gather(int itemsize, const void* src, void* dst, int64_t total, const Windows& win, cudaStream_t s);

// Combines the `total` elements of updates (row-major over windows) into out at the places
// the windows name, in update order: repeated places combine in order and the last Set wins,
// as on the CPU. Updates and out share dtype t; complex64 takes Set, Add and Prod.
void launch_scatter(ScatterOp op, Dtype t, const void* updates, void* out, int64_t out_size, int64_t total,
                    const Windows& win, cudaStream_t s, const char* name);

// Copies `n` elements of itemsize bytes from src to dst, ix.strides[0] stepping dst and
// ix.strides[1] src (Concatenate's and SliceUpdate's strided destination).
void launch_strided_copy(int itemsize, const void* src, void* dst, int64_t n, const Indexer<2>& ix, cudaStream_t s);

// q = floor_divide(a, b), r = remainder(a, b) with the CPU's rules; q and r row-major.
void launch_divmod(Dtype t, const void* a, const void* b, void* q, void* r, int64_t n, const Indexer<2>& ix,
                   cudaStream_t s);

}  // namespace lazuli::cuda
