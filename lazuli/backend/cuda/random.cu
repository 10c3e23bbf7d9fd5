// CUDA backend: RandomBits. One thread per (key, counter) pair; the block function is the
// CPU's (backend/common/threefry.h), so the bits are identical.
#include <algorithm>

#include "lazuli/backend/common/threefry.h"
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/random.h"

namespace lazuli::cuda {
namespace {

// Keys along y, pairs along x (grid-stride both ways): no division per element. With an
// even count per key every pair lands 8-byte aligned and is stored as one uint2.
__global__ void random_bits_kernel(const uint32_t* keys, int64_t num_keys, int64_t per_key, int64_t pairs,
                                   uint32_t* out) {
  const bool even = per_key % 2 == 0;
  for (int64_t b = blockIdx.y; b < num_keys; b += gridDim.y) {
    const uint32_t k0 = keys[2 * b], k1 = keys[2 * b + 1];
    uint32_t* o = out + b * per_key;
    LAZULI_GRID_STRIDE(j, pairs) {
      uint32_t x0, x1;
      math::threefry2x32_20(k0, k1, static_cast<uint32_t>(j), static_cast<uint32_t>(static_cast<uint64_t>(j) >> 32),
                            x0, x1);
      if (even) {
        reinterpret_cast<uint2*>(o)[j] = make_uint2(x0, x1);
      } else {
        o[2 * j] = x0;
        if (2 * j + 1 < per_key) o[2 * j + 1] = x1;
      }
    }
  }
}

}  // namespace

void launch_random_bits(const uint32_t* keys, int64_t num_keys, int64_t per_key, uint32_t* out, cudaStream_t s) {
  int64_t pairs = (per_key + 1) / 2;
  if (num_keys == 0 || pairs == 0) return;
  unsigned y = static_cast<unsigned>(std::min<int64_t>(num_keys, 65535));
  unsigned x = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks_for(pairs), (1 << 20) / y)));
  random_bits_kernel<<<dim3(x, y), kThreads, 0, s>>>(keys, num_keys, per_key, pairs, out);
  check_launch("random_bits_kernel");
}

}  // namespace lazuli::cuda
