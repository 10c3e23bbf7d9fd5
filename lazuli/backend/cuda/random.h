// Internal to the CUDA backend: the RandomBits kernel's launcher (random.cu).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace lazuli::cuda {

// out[b * per_key + i] = element i of the Threefry draw under key b (keys: num_keys
// row-major pairs of uint32 the device can read), as the CPU kernel numbers them.
void launch_random_bits(const uint32_t* keys, int64_t num_keys, int64_t per_key, uint32_t* out, cudaStream_t s);

}  // namespace lazuli::cuda
