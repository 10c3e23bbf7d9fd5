// CUDA backend: AttentionDecode's host side (sdpa.cu has the kernels). q and the sinks are
// made dense; keys and values are read in place, as slices of a larger cache, where their
// last axis is dense; the mask is read at its own (broadcast) strides.
#include <string>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/sdpa.h"
#include "lazuli/primitives/fast.h"

namespace lazuli::cuda {
namespace {

// `a` itself where its last axis is dense, else a dense copy.
array last_axis_dense(const array& a, cudaStream_t s) {
  return a.shape().back() <= 1 || a.strides().back() == 1 ? a : dense(a, s);
}

void eval_attention(AttentionDecode& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  const int head_dim = in[0].shape(3), k_len = in[1].shape(2);
  if (k_len == 0) {  // no keys: the weighted sum of no values
    LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), ctx.stream));
    return;
  }
  // Reachable only by a shapeless compile's replay at new shapes.
  if (head_dim > kAttentionMaxHeadDim || in[2].shape(3) != head_dim)
    throw std::invalid_argument("[scaled_dot_product_attention] the fused GPU kernel takes one head_dim of at most " +
                                std::to_string(kAttentionMaxHeadDim) + " for queries, keys and values, got " +
                                std::to_string(head_dim) + " and " + std::to_string(in[2].shape(3)) +
                                "; compile this function with shapes fixed.");
  array q = dense(in[0], ctx.stream), k = last_axis_dense(in[1], ctx.stream), v = last_axis_dense(in[2], ctx.stream);
  AttentionArgs a{};
  a.q = data_of(q), a.k = data_of(k), a.v = data_of(v), a.out = out.raw_data();
  for (int i = 0; i < 3; ++i) a.k_strides[i] = k.strides()[i], a.v_strides[i] = v.strides()[i];
  std::optional<array> mask, sinks;
  if (p.has_mask()) {
    mask = in[3];
    a.mask = data_of(*mask);
    a.mask_is_bool = mask->dtype() == bool_;
    const int lead = 4 - mask->ndim();  // the mask's axes are the scores' last ones
    for (int i = 0; i < 4; ++i)
      a.mask_strides[i] = i < lead || mask->shape(i - lead) == 1 ? 0 : mask->strides()[i - lead];
  }
  if (p.has_sinks()) {
    sinks = dense(in[p.has_mask() ? 4 : 3], ctx.stream);
    a.sinks = data_of(*sinks);
  }
  a.causal = p.causal();
  a.batch = q.shape(0), a.n_q = q.shape(1), a.q_len = q.shape(2), a.head_dim = head_dim;
  a.n_kv = k.shape(1), a.k_len = k_len;
  a.scale = p.scale();
  launch_attention_decode(out.dtype(), a, ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(AttentionDecode, eval_attention);

}  // namespace lazuli::cuda
