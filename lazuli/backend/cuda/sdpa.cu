// CUDA backend: attention at decode time (few queries against a long key/value cache) in
// two passes, as split-K ("flash decoding"):
//  1. a block per (batch entry, kv head, query position, chunk of keys), serving up to
//     kTile of the query heads that share the kv head: its lane groups take the chunk's
//     keys in turn, each key's q.k summed across the group's lanes, and keep per head a
//     running max m, sum l and unnormalised output; the block combines its groups into one
//     (m, l, o) per head and chunk;
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
// Query heads of one kv head that a pass-1 block serves: each loads the kv head's keys and
// values once for all of them. 4 keeps pass 1 near 128 registers a thread.
constexpr int kTile = 4;
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
  load_vec(p, e);
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

// Pass 1's unit of work besides the chunk: a query position qi and a tile of up to kTile
// query heads [h0, h0 + heads) sharing one kv head, in batch entry b.
struct Unit {
  int b, kv_head, h0, heads, qi;
};
__device__ Unit unit_of(int64_t unit, int tile, const AttentionArgs& a) {
  const int n_rep = a.n_q / a.n_kv, tiles = (n_rep + tile - 1) / tile;
  const int qi = int(unit % a.q_len);
  int64_t rest = unit / a.q_len;
  const int t = int(rest % tiles);
  rest /= tiles;
  const int kv_head = int(rest % a.n_kv), b = int(rest / a.n_kv);
  const int h0 = kv_head * n_rep + t * tile;
  return {b, kv_head, h0, n_rep - t * tile < tile ? n_rep - t * tile : tile, qi};
}

// Pass 1. A block per (unit, chunk of keys): its query heads share each key and value it
// loads. A lane group of G lanes takes one key at a time; lane `glane` of it holds the
// head_dim elements (it * G + glane) * V + j. part_o: (rows, chunks, D), part_ml: (rows,
// chunks) of (max, sum), rows being ((b * n_q + h) * q_len + qi).
template <typename S, int V>
__global__ void __launch_bounds__(kWarps * 32)
    attention_chunks_kernel(AttentionArgs a, int G, int tile, int64_t chunk_len, int chunks, float* part_o,
                            float2* part_ml) {
  constexpr int kIters = kPerLane / V;
  const int D = a.head_dim;
  const Unit u = unit_of(blockIdx.x / chunks, tile, a);
  const int chunk = int(blockIdx.x % chunks);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int glane = lane % G, groups_per_warp = 32 / G, groups = kWarps * groups_per_warp;
  const int group = warp * groups_per_warp + lane / G;
  auto row_of = [&](int t) { return (int64_t(u.b) * a.n_q + u.h0 + t) * a.q_len + u.qi; };

  // q * scale per head, each rounded as the fallback rounds them.
  const float scale = round_to<S>(a.scale);
  float qs[kTile][kIters][V], acc[kTile][kIters][V], m[kTile], l[kTile];
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    const S* q = static_cast<const S*>(a.q) + row_of(t < u.heads ? t : 0) * D;
    m[t] = -INFINITY, l[t] = 0.f;
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int d = (it * G + glane) * V;
      const bool here = t < u.heads && d < D;
      if (here) load_floats<V>(q + d, qs[t][it]);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        qs[t][it][j] = here ? round_to<S>(__fmul_rn(qs[t][it][j], scale)) : 0.f;
        acc[t][it][j] = 0.f;
      }
    }
  }

  const S* k = static_cast<const S*>(a.k) + u.b * a.k_strides[0] + u.kv_head * a.k_strides[1];
  const S* v = static_cast<const S*>(a.v) + u.b * a.v_strides[0] + u.kv_head * a.v_strides[1];
  const int64_t mask_at = u.b * a.mask_strides[0] + u.h0 * a.mask_strides[1] + u.qi * a.mask_strides[2];
  // The last key a causal query sees: the queries are the last q_len positions.
  const int64_t last_causal = (a.k_len > a.q_len ? a.k_len - a.q_len : 0) + u.qi;
  const int64_t start = chunk * chunk_len, end = start + chunk_len < a.k_len ? start + chunk_len : a.k_len;
  const float lowest = lowest_of<S>();
  // Every lane of a warp runs the same iterations (the shuffles need them all).
  for (int64_t base = start + warp * groups_per_warp; base < end; base += groups) {
    const int64_t key = base + lane / G;
    const bool valid = key < end;
    // The key's values load with its keys, so their latency overlaps the dot products'.
    float dot[kTile], vals[kIters][V];
#pragma unroll
    for (int t = 0; t < kTile; ++t) dot[t] = 0.f;
    if (valid) {
      const S* kr = k + key * a.k_strides[2];
      const S* vr = v + key * a.v_strides[2];
#pragma unroll
      for (int it = 0; it < kIters; ++it) {
        const int d = (it * G + glane) * V;
        if (d < D) {
          float e[V];
          load_floats<V>(kr + d, e);
          load_floats<V>(vr + d, vals[it]);
#pragma unroll
          for (int t = 0; t < kTile; ++t)
            if (t < u.heads)
#pragma unroll
              for (int j = 0; j < V; ++j) dot[t] = fmaf(qs[t][it][j], e[j], dot[t]);
        }
      }
    }
#pragma unroll
    for (int t = 0; t < kTile; ++t)
      if (t < u.heads)  // the same in every lane
        for (int o = G / 2; o > 0; o >>= 1) dot[t] += __shfl_xor_sync(0xffffffffu, dot[t], o);
    if (!valid) continue;
    const bool hidden = a.causal && key > last_causal;
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      if (t >= u.heads) break;
      float score = hidden ? lowest : dot[t];
      if (a.mask) {
        const int64_t at = mask_at + t * a.mask_strides[1] + key * a.mask_strides[3];
        if (a.mask_is_bool) {
          if (!static_cast<const bool*>(a.mask)[at]) score = lowest;
        } else {
          score += load(static_cast<const S*>(a.mask)[at]);
        }
      }
      // A NaN score makes the row NaN, as in the softmax; only -inf so far adds nothing.
      const float m_new = isnan(score) ? score : fmaxf(m[t], score);
      if (m_new == -INFINITY) continue;
      const float alpha = rescale(m[t], m_new), p = expf(score - m_new);
      m[t] = m_new;
      l[t] = l[t] * alpha + p;
#pragma unroll
      for (int it = 0; it < kIters; ++it)
        if ((it * G + glane) * V < D)
#pragma unroll
          for (int j = 0; j < V; ++j) acc[t][it][j] = acc[t][it][j] * alpha + p * vals[it][j];
    }
  }

  // Per head, the block's groups into one (m, l, o): groups * D <= kMaxGroups * kPerLane.
  __shared__ float group_m[kTile][kMaxGroups], group_l[kTile][kMaxGroups], head_max[kTile];
  __shared__ float group_o[kMaxGroups * kPerLane];
#pragma unroll
  for (int t = 0; t < kTile; ++t) {
    if (t >= u.heads) break;  // the same in the whole block (unrolled: registers stay registers)
    __syncthreads();  // the previous head's readers are done with group_o
    if (glane == 0) group_m[t][group] = m[t], group_l[t][group] = l[t];
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int d = (it * G + glane) * V;
#pragma unroll
      for (int j = 0; j < V; ++j)
        if (d < D) group_o[group * D + d + j] = acc[t][it][j];
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      float max = -INFINITY;
      for (int g = 0; g < groups; ++g) max = fmaxf(max, group_m[t][g]);
      head_max[t] = max;
    }
    __syncthreads();
    const float max = head_max[t];
    if (threadIdx.x < groups) group_m[t][threadIdx.x] = rescale(group_m[t][threadIdx.x], max);  // now weights
    __syncthreads();
    const int64_t slot = row_of(t) * chunks + chunk;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
      float o = 0.f;
      for (int g = 0; g < groups; ++g) o += group_o[g * D + d] * group_m[t][g];
      part_o[slot * D + d] = o;
    }
    if (threadIdx.x == 0) {
      float sum = 0.f;
      for (int g = 0; g < groups; ++g) sum += group_l[t][g] * group_m[t][g];
      part_ml[slot] = make_float2(max, sum);
    }
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
    // Query heads of a kv head in tiles of at most kTile, as even as can be.
    const int n_rep = a.n_q / a.n_kv, tile = (n_rep + (n_rep + kTile - 1) / kTile - 1) / ((n_rep + kTile - 1) / kTile);
    const int tiles = (n_rep + tile - 1) / tile;  // as unit_of counts them
    const int64_t units = int64_t(a.batch) * a.n_kv * tiles * a.q_len;
    // Enough chunks to fill the GPU, none shorter than kMinChunk keys.
    const int64_t rows = int64_t(a.batch) * a.n_q * a.q_len;
    const int64_t wanted = (int64_t(sm_count()) * kBlocksPerSm + units - 1) / units;
    const int64_t most = std::min<int64_t>(kMaxChunks, (a.k_len + kMinChunk - 1) / kMinChunk);
    const int64_t split = std::clamp<int64_t>(wanted, 1, most);
    const int64_t chunk_len = (a.k_len + split - 1) / split;
    const int chunks = int((a.k_len + chunk_len - 1) / chunk_len);
    DeviceBuffer part_o(size_t(rows) * chunks * a.head_dim * sizeof(float), s);
    DeviceBuffer part_ml(size_t(rows) * chunks * sizeof(float2), s);
    auto pass1 = vec ? attention_chunks_kernel<S, kVec> : attention_chunks_kernel<S, 1>;
    pass1<<<unsigned(units * chunks), kWarps * 32, 0, s>>>(a, G, tile, chunk_len, chunks, part_o.as<float>(),
                                                            part_ml.as<float2>());
    check_launch("scaled_dot_product_attention");
    const int threads = std::max(32, pow2_at_least(a.head_dim));
    attention_combine_kernel<S><<<unsigned(rows), threads, chunks * sizeof(float), s>>>(a, chunks, part_o.as<float>(),
                                                                             part_ml.as<float2>());
    check_launch("scaled_dot_product_attention");
  });
}

}  // namespace lazuli::cuda
