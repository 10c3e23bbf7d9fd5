// CUDA backend: the fused rope's host side (rope.cu has the kernel). x, the offset and the
// freqs are made dense; the offset and freqs stay on the device, whether the offset came
// from an int or an array.
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/rope.h"
#include "lazuli/primitives/fast.h"

namespace lazuli::cuda {
namespace {

void eval_rope(RoPE& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cpu::allocate(outs[0]);
  if (in[0].size() == 0) return;
  array x = dense(in[0], ctx.stream), offset = dense(in[1], ctx.stream);
  std::optional<array> freqs;
  if (!p.base()) freqs = dense(in[2], ctx.stream);
  RopeShape shape;
  shape.features = x.shape(-1);
  shape.rows = static_cast<int64_t>(x.size()) / shape.features;
  shape.rows_per_batch = shape.rows / x.shape(0);
  shape.seq = x.shape(-2);
  shape.half = p.dims() / 2;
  shape.traditional = p.traditional();
  double step = p.base() ? detail::rope_exponent_step(*p.base(), p.dims()) : 0.0;
  launch_rope(x.dtype(), data_of(x), outs[0].raw_data(), shape, offset.dtype(), data_of(offset), offset.size() > 1,
              freqs ? data_of(*freqs) : nullptr, step, p.scale(), ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(RoPE, eval_rope);

}  // namespace lazuli::cuda
