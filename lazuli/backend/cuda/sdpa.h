// Internal to the CUDA backend: the launcher of the fused decode-time attention kernels
// (sdpa.cu), for AttentionDecode (lazuli/primitives/fast.h).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

constexpr int kAttentionMaxHeadDim = 256;

// Element pointers (offsets applied) and strides in elements. q and out are dense
// (B, n_q, q_len, D); k and v are (B, n_kv, k_len, D) with a dense last axis, their
// strides over (batch, head, sequence); the mask (null: none) reads at its strides over
// the scores (B, n_q, q_len, k_len), 0 where it broadcasts; sinks (null: none) has n_q
// elements. Every array but the boolean mask has dtype t.
struct AttentionArgs {
  const void* q;
  const void* k;
  const void* v;
  const void* mask;
  const void* sinks;
  void* out;
  int64_t k_strides[3], v_strides[3], mask_strides[4];
  bool mask_is_bool, causal;
  int batch, n_q, n_kv, q_len, k_len, head_dim;
  float scale;
};

// Needs k_len >= 1, head_dim <= kAttentionMaxHeadDim and no empty axis.
void launch_attention_decode(Dtype t, const AttentionArgs& a, cudaStream_t s);

}  // namespace lazuli::cuda
