// CUDA backend: RandomBits' host side (random.cu draws).
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/random.h"
#include "lazuli/primitives.h"

namespace lazuli::cuda {
namespace {

void eval_random_bits(RandomBits&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  // Keys as a row-major (num_keys, 2) uint32 table, as the CPU reads them.
  array keys = dense_as(in[0], uint32, ctx.stream);
  int64_t num_keys = static_cast<int64_t>(keys.size() / 2);
  int64_t per_key = static_cast<int64_t>(out.size()) / num_keys;
  launch_random_bits(static_cast<const uint32_t*>(data_of(keys)), num_keys, per_key,
                     static_cast<uint32_t*>(out.raw_data()), ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(RandomBits, eval_random_bits);

}  // namespace lazuli::cuda
