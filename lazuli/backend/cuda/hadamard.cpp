// CUDA backend: the Hadamard primitive's host side (hadamard.cu transforms).
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/hadamard.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli::cuda {
namespace {

void eval_hadamard(Hadamard& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  const int m = p.m();
  HadamardSigns signs{};
  if (m > 1)
    for (int i = 0; i < m; ++i)
      for (int l = 0; l < m; ++l) {
        char c = p.transposed() ? detail::hadamard_row(m, l)[i] : detail::hadamard_row(m, i)[l];
        signs.s[i * m + l] = c == '+' ? 1 : -1;
      }
  array x = dense(in[0], ctx.stream);
  int64_t n = out.shape().back(), rows = static_cast<int64_t>(out.size()) / n;
  launch_hadamard(out.dtype(), data_of(x), out.raw_data(), rows, n, m, signs, p.scale(), ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(Hadamard, eval_hadamard);

}  // namespace lazuli::cuda
