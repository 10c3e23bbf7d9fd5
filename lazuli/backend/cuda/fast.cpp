// CUDA backend: the fused fast ops' host side (fast.cu has the kernels). Inputs are made
// dense first; the kernels take rows of the last axis.
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/fast.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives/fast.h"

namespace lazuli::cuda {
namespace {

// The rows of x: its last axis, and how many of those there are.
struct Rows {
  int64_t rows, len;
};
Rows rows_of(const array& x) {
  int64_t len = x.shape().back();
  return {len == 0 ? 0 : static_cast<int64_t>(x.size()) / len, len};
}

std::vector<array> dense_all(const std::vector<array>& in, cudaStream_t s) {
  std::vector<array> out;
  for (auto& a : in) out.push_back(dense(a, s));
  return out;
}

void eval_rms_norm(RMSNorm& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cpu::allocate(outs[0]);
  auto [rows, len] = rows_of(in[0]);
  if (rows == 0) return;
  auto d = dense_all(in, ctx.stream);
  launch_rms_norm(outs[0].dtype(), data_of(d[0]), p.has_weight() ? data_of(d[1]) : nullptr, outs[0].raw_data(),
                  rows, len, p.eps(), ctx.stream);
}

void eval_layer_norm(LayerNorm& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cpu::allocate(outs[0]);
  auto [rows, len] = rows_of(in[0]);
  if (rows == 0) return;
  auto d = dense_all(in, ctx.stream);
  const void* weight = p.has_weight() ? data_of(d[1]) : nullptr;
  const void* bias = p.has_bias() ? data_of(d[p.has_weight() ? 2 : 1]) : nullptr;
  launch_layer_norm(outs[0].dtype(), data_of(d[0]), weight, bias, outs[0].raw_data(), rows, len, p.eps(),
                    ctx.stream);
}

void eval_softmax(Softmax& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cpu::allocate(outs[0]);
  auto [rows, len] = rows_of(in[0]);
  if (rows == 0) return;
  array x = dense(in[0], ctx.stream);
  launch_softmax(outs[0].dtype(), data_of(x), outs[0].raw_data(), rows, len, p.precise(), ctx.stream);
}

void eval_logsumexp(LogSumExp&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  // Rows of length 0 give -inf (the kernel's empty sum), so the rows are the outputs.
  cpu::allocate(outs[0]);
  int64_t rows = static_cast<int64_t>(outs[0].size()), len = in[0].shape().back();
  if (rows == 0) return;
  array x = dense(in[0], ctx.stream);
  launch_logsumexp(outs[0].dtype(), data_of(x), outs[0].raw_data(), rows, len, ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(RMSNorm, eval_rms_norm);
LAZULI_GPU_KERNEL(LayerNorm, eval_layer_norm);
LAZULI_GPU_KERNEL(Softmax, eval_softmax);
LAZULI_GPU_KERNEL(LogSumExp, eval_logsumexp);

}  // namespace lazuli::cuda
