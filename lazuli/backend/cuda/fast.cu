// CUDA backend: the fused fast ops, one kernel each. A row (the last axis) goes to a warp
// when short, else to a block; it is read once per pass (the row's passes mostly hit the
// cache), with 16-byte vectors where every pointer is aligned and the rows are a whole
// number of vectors. Sums accumulate in float (double for float64), and each step computes
// and rounds as the composed fallback does (lazuli/ops/fast.cpp, scan.cpp, reduce.cpp), so
// results match the CPU within the dtype's rounding: products are never contracted with
// the sum that follows them, and where the fallback rounds 16-bit intermediates, so do we.
#include <algorithm>
#include <initializer_list>

#include "lazuli/backend/cuda/fast.h"
#include "lazuli/backend/cuda/reduce_ops.cuh"

namespace lazuli::cuda {
namespace {

constexpr int kWarpRowMax = 1024;  // rows up to this length go one warp each
constexpr int kBlocksPerSm = 8;    // 256-thread blocks: a full SM

// The accumulator (and compute) type of a storage type.
template <typename S> using acc_of = std::conditional_t<std::is_same_v<S, double>, double, float>;
// Elements per 16-byte vector.
template <typename S> constexpr int kVec = 16 / int(sizeof(S));

template <typename A, typename S> __device__ A to_a(S v) { return static_cast<A>(load(v)); }
// v rounded to the storage type S, read back.
template <typename S, typename A> __device__ A round_to(A v) { return to_a<A>(convert<S>(v)); }
// Products rounded on their own, never fused with a following add into an FMA (the CPU
// rounds the product first).
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// The threads that share a row: a warp's lanes, or the whole block.
struct Group {
  int tid, nt;
  bool warp;
};
__device__ Group group_of(bool warp) {
  return warp ? Group{int(threadIdx.x & 31), 32, true} : Group{int(threadIdx.x), int(blockDim.x), false};
}
// Rows go to groups in turn; a block's threads all see the same rows when the group is the block.
#define LAZULI_FOR_EACH_ROW(row, g, rows)                                                    \
  for (int64_t per = (g).warp ? blockDim.x / 32 : 1,                                        \
               row = blockIdx.x * per + ((g).warp ? threadIdx.x / 32 : 0);                  \
       row < (rows); row += gridDim.x * per)

// The combination of the group's values, in every thread of the group.
template <typename Op, typename A> __device__ A group_all(A v, const Group& g) {
  for (int d = 16; d > 0; d >>= 1) v = Op::combine(v, __shfl_xor_sync(0xffffffffu, v, d));
  if (g.warp) return v;
  __shared__ A partial[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // a previous call's readers are done with `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  A r = Op::template init<A>();
  for (int k = 0; k < int(blockDim.x >> 5); ++k) r = Op::combine(r, partial[k]);
  return r;
}

// f(value as A) for this thread's share of the row's elements; returns the sum of f.
template <typename S, typename A, int V, typename F>
__device__ A row_sum(const S* row, int64_t len, const Group& g, F&& f) {
  A acc = 0;
  for (int64_t i = int64_t(g.tid) * V; i < len; i += int64_t(g.nt) * V) {
    S e[V];
    load_vec<V>(row + i, e);
#pragma unroll
    for (int k = 0; k < V; ++k) acc += f(to_a<A>(e[k]));
  }
  return group_all<SumOp>(acc, g);
}

// The row's maximum (NaN if any), as the fallback's max.
template <typename S, typename A, int V> __device__ A row_max(const S* row, int64_t len, const Group& g) {
  A m = MaxOp::init<A>();
  for (int64_t i = int64_t(g.tid) * V; i < len; i += int64_t(g.nt) * V) {
    S e[V];
    load_vec<V>(row + i, e);
#pragma unroll
    for (int k = 0; k < V; ++k) m = MaxOp::combine(m, to_a<A>(e[k]));
  }
  return group_all<MaxOp>(m, g);
}

// out[i] = f(x[i], i) over the row, f returning S.
template <typename S, int V, typename F> __device__ void row_map(const S* row, S* out, int64_t len, const Group& g,
                                                                 F&& f) {
  for (int64_t i = int64_t(g.tid) * V; i < len; i += int64_t(g.nt) * V) {
    S e[V], y[V];
    load_vec<V>(row + i, e);
#pragma unroll
    for (int k = 0; k < V; ++k) y[k] = f(e[k], i + k);
    store_vec<V>(out + i, y);
  }
}

// y (already in S) times weight, plus bias, each step rounded to S as the fallback's
// multiply and add in the result type.
template <typename S, typename A> __device__ S affine(S y, const S* weight, const S* bias, int64_t i) {
  if (weight) y = convert<S>(mul_rn(to_a<A>(y), to_a<A>(weight[i])));
  if (bias) y = convert<S>(to_a<A>(y) + to_a<A>(bias[i]));
  return y;
}

template <typename S, typename A, int V>
__global__ void rms_norm_kernel(const S* x, const S* weight, S* out, int64_t rows, int64_t len, A eps, bool warp) {
  Group g = group_of(warp);
  LAZULI_FOR_EACH_ROW(row, g, rows) {
    const S* xr = x + row * len;
    A ss = row_sum<S, A, V>(xr, len, g, [](A v) { return mul_rn(v, v); });
    A r = A(1) / sqrt(ss / A(len) + eps);
    row_map<S, V>(xr, out + row * len, len, g, [&](S v, int64_t i) {
      return affine<S, A>(convert<S>(mul_rn(to_a<A>(v), r)), weight, nullptr, i);
    });
  }
}

template <typename S, typename A, int V>
__global__ void layer_norm_kernel(const S* x, const S* weight, const S* bias, S* out, int64_t rows, int64_t len,
                                  A eps, bool warp) {
  Group g = group_of(warp);
  LAZULI_FOR_EACH_ROW(row, g, rows) {
    const S* xr = x + row * len;
    A mean = row_sum<S, A, V>(xr, len, g, [](A v) { return v; }) / A(len);
    A var = row_sum<S, A, V>(xr, len, g, [&](A v) { return mul_rn(v - mean, v - mean); }) / A(len);
    A r = A(1) / sqrt(var + eps);
    row_map<S, V>(xr, out + row * len, len, g, [&](S v, int64_t i) {
      return affine<S, A>(convert<S>(mul_rn(to_a<A>(v) - mean, r)), weight, bias, i);
    });
  }
}

// The shift of softmax and logsumexp: the row's max, 0 where that is infinite.
template <typename S, typename A, int V> __device__ A row_shift(const S* row, int64_t len, const Group& g) {
  A m = row_max<S, A, V>(row, len, g);
  return isinf(m) ? A(0) : m;
}

// rounds: the fallback computes in S (16-bit, not precise): round every step to S.
template <typename S, typename A, int V>
__global__ void softmax_kernel(const S* x, S* out, int64_t rows, int64_t len, bool rounds, bool warp) {
  Group g = group_of(warp);
  auto rnd = [rounds](A v) { return rounds ? round_to<S>(v) : v; };
  LAZULI_FOR_EACH_ROW(row, g, rows) {
    const S* xr = x + row * len;
    A m = row_shift<S, A, V>(xr, len, g);
    auto e = [&](A v) { return rnd(exp(rnd(v - m))); };
    A total = rnd(row_sum<S, A, V>(xr, len, g, e));
    row_map<S, V>(xr, out + row * len, len, g, [&](S v, int64_t) { return convert<S>(e(to_a<A>(v)) / total); });
  }
}

template <typename S, typename A, int V>
__global__ void logsumexp_kernel(const S* x, S* out, int64_t rows, int64_t len, bool warp) {
  Group g = group_of(warp);
  LAZULI_FOR_EACH_ROW(row, g, rows) {
    const S* xr = x + row * len;
    A m = row_shift<S, A, V>(xr, len, g);
    A total = round_to<S>(row_sum<S, A, V>(xr, len, g, [&](A v) { return round_to<S>(exp(round_to<S>(v - m))); }));
    if (g.tid == 0) out[row] = convert<S>(round_to<S>(log(total)) + m);
  }
}

// Calls f(S{}) with S the device type of a floating dtype t.
template <typename F> void dispatch_floating(Dtype t, const char* op, F&& f) {
  if (t == float32) return f(float{});
  if (t == float64) return f(double{});
  if (t == float16) return f(__half{});
  if (t == bfloat16) return f(__nv_bfloat16{});
  throw std::invalid_argument(std::string("[") + op + "] the fused GPU kernel takes floating types, got " +
                              dtype_name(t) + ".");
}

// Whether rows of len elements of S at these pointers (null: absent) load as 16-byte vectors.
template <typename S> bool vectors(int64_t len, std::initializer_list<const void*> pointers) {
  if (len % kVec<S> != 0) return false;
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

struct Launch {
  int blocks;
  bool warp;  // a warp per row, else a block
};
Launch launch_for(int64_t rows, int64_t len) {
  bool warp = len <= kWarpRowMax;
  int64_t wanted = warp ? (rows + kThreads / 32 - 1) / (kThreads / 32) : rows;
  return {static_cast<int>(std::clamp<int64_t>(wanted, 1, int64_t(sm_count()) * kBlocksPerSm)), warp};
}

}  // namespace

void launch_rms_norm(Dtype t, const void* x, const void* weight, void* out, int64_t rows, int64_t len, float eps,
                     cudaStream_t s) {
  dispatch_floating(t, "rms_norm", [&](auto v) {
    using S = decltype(v);
    using A = acc_of<S>;
    Launch l = launch_for(rows, len);
    auto kernel = vectors<S>(len, {x, weight, out}) ? rms_norm_kernel<S, A, kVec<S>> : rms_norm_kernel<S, A, 1>;
    kernel<<<l.blocks, kThreads, 0, s>>>(static_cast<const S*>(x), static_cast<const S*>(weight), static_cast<S*>(out),
                                         rows, len, A(eps), l.warp);
    check_launch("rms_norm");
  });
}

void launch_layer_norm(Dtype t, const void* x, const void* weight, const void* bias, void* out, int64_t rows,
                       int64_t len, float eps, cudaStream_t s) {
  dispatch_floating(t, "layer_norm", [&](auto v) {
    using S = decltype(v);
    using A = acc_of<S>;
    Launch l = launch_for(rows, len);
    auto kernel =
        vectors<S>(len, {x, weight, bias, out}) ? layer_norm_kernel<S, A, kVec<S>> : layer_norm_kernel<S, A, 1>;
    kernel<<<l.blocks, kThreads, 0, s>>>(static_cast<const S*>(x), static_cast<const S*>(weight),
                                         static_cast<const S*>(bias), static_cast<S*>(out), rows, len, A(eps), l.warp);
    check_launch("layer_norm");
  });
}

void launch_softmax(Dtype t, const void* x, void* out, int64_t rows, int64_t len, bool precise, cudaStream_t s) {
  dispatch_floating(t, "softmax", [&](auto v) {
    using S = decltype(v);
    using A = acc_of<S>;
    Launch l = launch_for(rows, len);
    bool rounds = !precise && is_half_v<S>;
    auto kernel = vectors<S>(len, {x, out}) ? softmax_kernel<S, A, kVec<S>> : softmax_kernel<S, A, 1>;
    kernel<<<l.blocks, kThreads, 0, s>>>(static_cast<const S*>(x), static_cast<S*>(out), rows, len, rounds, l.warp);
    check_launch("softmax");
  });
}

void launch_logsumexp(Dtype t, const void* x, void* out, int64_t rows, int64_t len, cudaStream_t s) {
  dispatch_floating(t, "logsumexp", [&](auto v) {
    using S = decltype(v);
    using A = acc_of<S>;
    Launch l = launch_for(rows, len);
    auto kernel = vectors<S>(len, {x}) ? logsumexp_kernel<S, A, kVec<S>> : logsumexp_kernel<S, A, 1>;
    kernel<<<l.blocks, kThreads, 0, s>>>(static_cast<const S*>(x), static_cast<S*>(out), rows, len, l.warp);
    check_launch("logsumexp");
  });
}

}  // namespace lazuli::cuda
