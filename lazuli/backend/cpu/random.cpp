// CPU: RandomBits with Threefry-2x32-20 (backend/common/threefry.h, shared with the CUDA
// kernel). Counter-based: the pair of elements (2j, 2j + 1) of a draw is threefry(key,
// (j mod 2^32, j >> 32)), so element i depends only on the key and i, whatever the thread
// count or the draw's size.
#include <cstring>

#include "lazuli/backend/common/threefry.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"
#include "lazuli/random.h"

namespace lazuli {
using namespace cpu;

namespace random {
std::array<uint32_t, 2> threefry2x32_20(std::array<uint32_t, 2> key, std::array<uint32_t, 2> counter) {
  std::array<uint32_t, 2> x;
  math::threefry2x32_20(key[0], key[1], counter[0], counter[1], x[0], x[1]);
  return x;
}
}  // namespace random

void RandomBits::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  // Keys as a row-major (num_keys, 2) uint32 table.
  const array& k = inputs[0];
  array keys(k.shape(), uint32, nullptr, {});
  allocate(keys);
  copy_to(k, keys, keys.strides(), 0);
  const uint32_t* kp = static_cast<const uint32_t*>(keys.raw_data());
  int64_t num_keys = static_cast<int64_t>(keys.size() / 2);
  int64_t per_key = static_cast<int64_t>(shape_size(shape_));
  uint32_t* o = static_cast<uint32_t*>(out.raw_data());
  int64_t pairs = (per_key + 1) / 2;
  for (int64_t b = 0; b < num_keys; ++b) {
    std::array<uint32_t, 2> key{kp[2 * b], kp[2 * b + 1]};
    uint32_t* ob = o + b * per_key;
    parallel_for(pairs, kGrain / 2, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        auto r = random::threefry2x32_20(
            key, {static_cast<uint32_t>(j), static_cast<uint32_t>(static_cast<uint64_t>(j) >> 32)});
        ob[2 * j] = r[0];
        if (2 * j + 1 < per_key) ob[2 * j + 1] = r[1];
      }
    });
  }
}

}  // namespace lazuli
