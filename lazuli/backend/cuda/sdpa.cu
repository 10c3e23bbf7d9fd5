// CUDA backend: attention at decode time (few queries against a long key/value cache) in
// two passes, as split-K ("flash decoding"):
//  1. a block per (query row, chunk of keys): its lane groups take the chunk's keys in
//     turn, each key's q.k summed across the group's lanes, and keep a running max m, sum
//     l and unnormalised output; the block combines its groups into one (m, l, o) per chunk;
//  2. a block per query row combines the chunks (o_c scaled by exp(m_c - M) over the sum
//     of l_c exp(m_c - M), with the sinks as extra logits) into the output.
//
// Numerics. q is scaled as the composed fallback does (the scale rounded to the dtype,
// then q * scale rounded to it); everything after that is float32: the dot products, the
// mask added, the softmax and the weighted sum of values; only the output is rounded. The
// fallback (lazuli/ops/fast.cpp, sdpa_composed) rounds the scores and probabilities to
// 16-bit dtypes between its steps, so the two agree within the dtype's rounding; for
// float32 they differ only in the order of the float32 sums. Masked keys (false in a
// boolean mask, or past the causal diagonal) score the dtype's lowest finite value, as in
// the fallback: a row with every key masked averages all the values.
#include <algorithm>
#include <cmath>

#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/reduce_ops.cuh"
#include "lazuli/backend/cuda/sdpa.h"

namespace lazuli::cuda {
namespace {

constexpr int kWarps = 4;  // 128-thread blocks in pass 1
constexpr int kPerLane = kAttentionMaxHeadDim / 32;  // head_dim elements a lane holds at most
constexpr int kMaxGroups = kWarps * 32;
constexpr int kMinChunk = 64;     // keys: shorter chunks cost more to combine than they save
constexpr int kMaxChunks = 1024;  // per row
constexpr int kBlocksPerSm = 8;

// v rounded to the storage type S, read back as float.
template <typename S> __device__ float round_to(float v) { return load(convert<S>(v)); }

template <typename S> __device__ float lowest_of() {
  if constexpr (std::is_same_v<S, __half>) return -65504.f;
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return -3.38953139e38f;
  else return -3.402823466e38f;
}

// V elements of S at p as float; 16-byte loads when V > 1.
template <int V, typename S> __device__ void load_floats(const S* p, float (&f)[V]) {
  S e[V];
  if constexpr (V == 1) {
    e[0] = p[0];
  } else {
    static_assert(V * sizeof(S) == 16);
    uint4 w = *reinterpret_cast<const uint4*>(p);
    memcpy(e, &w, sizeof(e));
  }
#pragma unroll
  for (int j = 0; j < V; ++j) f[j] = load(e[j]);
}

// exp(x - max), 0 for x = -inf (a chunk or group that saw no key above -inf).
__device__ inline float rescale(float x, float max) { return x == -INFINITY ? 0.f : expf(x - max); }

// The row's coordinates: row = ((b * n_q + h) * q_len + qi).
struct RowIndex {
  int b, h, qi;
};
__device__ RowIndex row_index(int64_t row, const AttentionArgs& a) {
  int qi = int(row % a.q_len);
  int64_t bh = row / a.q_len;
  return {int(bh / a.n_q), int(bh % a.n_q), qi};
}

// Pass 1. A lane group of G lanes takes one key at a time; lane `glane` of it holds the
// head_dim elements (it * G + glane) * V + j. part_o: (rows, chunks, D), part_ml: (rows,
// chunks) of (max, sum).
template <typename S, int V>
__global__ void __launch_bounds__(kWarps * 32)
    attention_chunks_kernel(AttentionArgs a, int G, int64_t chunk_len, int chunks, float* part_o, float2* part_ml) {
  constexpr int kIters = kPerLane / V;
  const int D = a.head_dim;
  const int64_t row = blockIdx.x / chunks;
  const int chunk = int(blockIdx.x % chunks);
  const RowIndex r = row_index(row, a);
  const int kv_head = r.h / (a.n_q / a.n_kv);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int glane = lane % G, groups_per_warp = 32 / G, groups = kWarps * groups_per_warp;
  const int group = warp * groups_per_warp + lane / G;

  // q * scale, each rounded as the fallback rounds them.
  const S* q = static_cast<const S*>(a.q) + row * D;
  const float scale = round_to<S>(a.scale);
  float qs[kIters][V], acc[kIters][V];
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    int d = (it * G + glane) * V;
    if (d < D) load_floats<V>(q + d, qs[it]);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      qs[it][j] = d < D ? round_to<S>(__fmul_rn(qs[it][j], scale)) : 0.f;
      acc[it][j] = 0.f;
    }
  }

  const S* k = static_cast<const S*>(a.k) + r.b * a.k_strides[0] + kv_head * a.k_strides[1];
  const S* v = static_cast<const S*>(a.v) + r.b * a.v_strides[0] + kv_head * a.v_strides[1];
  const int64_t mask_row = r.b * a.mask_strides[0] + r.h * a.mask_strides[1] + r.qi * a.mask_strides[2];
  // The last key a causal query sees: the queries are the last q_len positions.
  const int64_t last_causal = (a.k_len > a.q_len ? a.k_len - a.q_len : 0) + r.qi;
  const int64_t start = chunk * chunk_len, end = start + chunk_len < a.k_len ? start + chunk_len : a.k_len;
  const float lowest = lowest_of<S>();
  float m = -INFINITY, l = 0.f;
  // Every lane of a warp runs the same iterations (the shuffles need them all).
  for (int64_t base = start + warp * groups_per_warp; base < end; base += groups) {
    const int64_t key = base + lane / G;
    const bool valid = key < end;
    // The key's values load with its keys, so their latency overlaps the dot product's.
    float dot = 0.f, vals[kIters][V];
    if (valid) {
      const S* kr = k + key * a.k_strides[2];
      const S* vr = v + key * a.v_strides[2];
#pragma unroll
      for (int it = 0; it < kIters; ++it) {
        int d = (it * G + glane) * V;
        if (d < D) {
          float e[V];
          load_floats<V>(kr + d, e);
          load_floats<V>(vr + d, vals[it]);
#pragma unroll
          for (int j = 0; j < V; ++j) dot = fmaf(qs[it][j], e[j], dot);
        }
      }
    }
    for (int o = G / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (!valid) continue;
    float score = dot;
    if (a.causal && key > last_causal) score = lowest;
    if (a.mask) {
      int64_t at = mask_row + key * a.mask_strides[3];
      if (a.mask_is_bool) {
        if (!static_cast<const bool*>(a.mask)[at]) score = lowest;
      } else {
        score += load(static_cast<const S*>(a.mask)[at]);
      }
    }
    const float m_new = isnan(score) ? score : fmaxf(m, score);  // a NaN score makes the row NaN, as the softmax
    if (m_new == -INFINITY) continue;  // only -inf so far: nothing to add
    const float alpha = rescale(m, m_new), p = expf(score - m_new);
    m = m_new;
    l = l * alpha + p;
#pragma unroll
    for (int it = 0; it < kIters; ++it)
      if ((it * G + glane) * V < D)
#pragma unroll
        for (int j = 0; j < V; ++j) acc[it][j] = acc[it][j] * alpha + p * vals[it][j];
  }

  // The block's groups into one (m, l, o): groups * D <= kMaxGroups * kPerLane floats.
  __shared__ float group_m[kMaxGroups], group_l[kMaxGroups], group_w[kMaxGroups];
  __shared__ float group_o[kMaxGroups * kPerLane];
  if (glane == 0) group_m[group] = m, group_l[group] = l;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    int d = (it * G + glane) * V;
#pragma unroll
    for (int j = 0; j < V; ++j)
      if (d < D) group_o[group * D + d + j] = acc[it][j];
  }
  __syncthreads();
  float max = -INFINITY;
  for (int g = 0; g < groups; ++g) max = fmaxf(max, group_m[g]);
  if (threadIdx.x < groups) group_w[threadIdx.x] = rescale(group_m[threadIdx.x], max);
  __syncthreads();
  const int64_t slot = row * chunks + chunk;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float o = 0.f;
    for (int g = 0; g < groups; ++g) o += group_o[g * D + d] * group_w[g];
    part_o[slot * D + d] = o;
  }
  if (threadIdx.x == 0) {
    float sum = 0.f;
    for (int g = 0; g < groups; ++g) sum += group_l[g] * group_w[g];
    part_ml[slot] = make_float2(max, sum);
  }
}

// Pass 2: a block per row; the chunks' weights in shared memory (chunks floats).
template <typename S>
__global__ void attention_combine_kernel(AttentionArgs a, int chunks, const float* part_o, const float2* part_ml) {
  extern __shared__ float weight[];
  const int64_t row = blockIdx.x;
  const int D = a.head_dim;
  const float2* ml = part_ml + row * chunks;
  float max = -INFINITY;
  for (int c = 0; c < chunks; ++c) max = fmaxf(max, ml[c].x);
  const float sink = a.sinks ? load(static_cast<const S*>(a.sinks)[row_index(row, a).h]) : -INFINITY;
  max = fmaxf(max, sink);
  for (int c = threadIdx.x; c < chunks; c += blockDim.x) weight[c] = rescale(ml[c].x, max);
  __syncthreads();
  float sum = rescale(sink, max);
  for (int c = 0; c < chunks; ++c) sum += ml[c].y * weight[c];
  const float* o = part_o + row * chunks * D;
  S* out = static_cast<S*>(a.out) + row * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float total = 0.f;
    for (int c = 0; c < chunks; ++c) total += o[int64_t(c) * D + d] * weight[c];
    out[d] = convert<S>(total / sum);
  }
}

template <typename F> void dispatch_attention(Dtype t, F&& f) {
  if (t == float32) return f(float{});
  if (t == float16) return f(__half{});
  if (t == bfloat16) return f(__nv_bfloat16{});
  throw std::invalid_argument("[scaled_dot_product_attention] the fused GPU kernel takes float16, bfloat16 or "
                              "float32, got " + dtype_name(t) + ".");
}

// Whether q, k and v load as 16-byte vectors of V elements.
bool vectors(const AttentionArgs& a, int V) {
  if (a.head_dim % V != 0) return false;
  for (const void* p : {a.q, a.k, a.v})
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (a.k_strides[i] % V != 0 || a.v_strides[i] % V != 0) return false;
  return true;
}

int pow2_at_least(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

}  // namespace

void launch_attention_decode(Dtype t, const AttentionArgs& a, cudaStream_t s) {
  dispatch_attention(t, [&](auto zero) {
    using S = decltype(zero);
    constexpr int kVec = 16 / int(sizeof(S));
    const bool vec = vectors(a, kVec);
    const int V = vec ? kVec : 1;
    const int G = std::min(32, pow2_at_least((a.head_dim + V - 1) / V));  // lanes per key
    // Enough chunks to fill the GPU, none shorter than kMinChunk keys.
    const int64_t rows = int64_t(a.batch) * a.n_q * a.q_len;
    const int64_t wanted = (int64_t(sm_count()) * kBlocksPerSm + rows - 1) / rows;
    const int64_t most = std::min<int64_t>(kMaxChunks, (a.k_len + kMinChunk - 1) / kMinChunk);
    const int64_t split = std::clamp<int64_t>(wanted, 1, most);
    const int64_t chunk_len = (a.k_len + split - 1) / split;
    const int chunks = int((a.k_len + chunk_len - 1) / chunk_len);
    DeviceBuffer part_o(size_t(rows) * chunks * a.head_dim * sizeof(float), s);
    DeviceBuffer part_ml(size_t(rows) * chunks * sizeof(float2), s);
    auto pass1 = vec ? attention_chunks_kernel<S, kVec> : attention_chunks_kernel<S, 1>;
    pass1<<<unsigned(rows * chunks), kWarps * 32, 0, s>>>(a, G, chunk_len, chunks, part_o.as<float>(), part_ml.as<float2>());
    check_launch("scaled_dot_product_attention");
    const int threads = std::max(32, pow2_at_least(a.head_dim));
    attention_combine_kernel<S><<<unsigned(rows), threads, chunks * sizeof(float), s>>>(a, chunks, part_o.as<float>(),
                                                                             part_ml.as<float2>());
    check_launch("scaled_dot_product_attention");
  });
}

}  // namespace lazuli::cuda
