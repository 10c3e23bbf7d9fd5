// CUDA backend: the elementwise primitives' host side (layouts; elementwise.cu computes).
#include <array>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/elementwise.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives.h"

namespace lazuli::cuda {
namespace {

void eval_unary(Unary& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto ix = make_indexer<1>(out.shape(), {cpu::broadcast_strides(in[0], out.shape())}, p.name());
  launch_unary(p.op(), in[0].dtype(), out.dtype(), data_of(in[0]), out.raw_data(), out.size(), ix, ctx.stream);
}

void eval_binary(Binary& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto ix = make_indexer<2>(
      out.shape(), {cpu::broadcast_strides(in[0], out.shape()), cpu::broadcast_strides(in[1], out.shape())}, p.name());
  launch_binary(p.op(), in[0].dtype(), out.dtype(), data_of(in[0]), data_of(in[1]), out.raw_data(), out.size(), ix,
                ctx.stream);
}

void eval_select(Select&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  std::array<Strides, 3> st;
  for (int k = 0; k < 3; ++k) st[k] = cpu::broadcast_strides(in[k], out.shape());
  auto ix = make_indexer<3>(out.shape(), st, "where");
  launch_select(out.itemsize(), data_of(in[0]), data_of(in[1]), data_of(in[2]), out.raw_data(), out.size(), ix,
                ctx.stream);
}

// AsType and Copy: a fresh row-major buffer with the input's values in the output dtype.
template <typename P>
void eval_convert(P&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  convert_into(in[0], outs[0], ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(Unary, eval_unary);
LAZULI_GPU_KERNEL(Binary, eval_binary);
LAZULI_GPU_KERNEL(Select, eval_select);
LAZULI_GPU_KERNEL(AsType, eval_convert<AsType>);
LAZULI_GPU_KERNEL(Copy, eval_convert<Copy>);

}  // namespace lazuli::cuda
