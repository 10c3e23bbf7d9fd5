// CUDA backend: RandomBits. One thread per (key, counter) pair; the block function is the
// CPU's (backend/common/threefry.h), so the bits are identical.
#include "lazuli/backend/common/threefry.h"
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/random.h"

namespace lazuli::cuda {
namespace {

__global__ void random_bits_kernel(const uint32_t* keys, int64_t per_key, int64_t pairs, int64_t total,
                                   uint32_t* out) {
  LAZULI_GRID_STRIDE(t, total) {
    int64_t b = t / pairs, j = t - b * pairs;
    uint32_t x0, x1;
    math::threefry2x32_20(keys[2 * b], keys[2 * b + 1], static_cast<uint32_t>(j),
                          static_cast<uint32_t>(static_cast<uint64_t>(j) >> 32), x0, x1);
    uint32_t* o = out + b * per_key;
    o[2 * j] = x0;
    if (2 * j + 1 < per_key) o[2 * j + 1] = x1;
  }
}

}  // namespace

void launch_random_bits(const uint32_t* keys, int64_t num_keys, int64_t per_key, uint32_t* out, cudaStream_t s) {
  int64_t pairs = (per_key + 1) / 2, total = num_keys * pairs;
  if (total == 0) return;
  random_bits_kernel<<<blocks_for(total), kThreads, 0, s>>>(keys, per_key, pairs, total, out);
  check_launch("random_bits_kernel");
}

}  // namespace lazuli::cuda
