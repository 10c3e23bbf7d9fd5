// CUDA backend: reductions (Reduce, ArgReduce) and arange. The host hands a reduction over
// as a dense (outer, red, inner) buffer. Rows (inner == 1) are reduced by a block, or by a
// warp when short, with 16-byte loads; columns (inner > 1) by threads walking down
// neighbouring columns, so a warp reads contiguous memory. When the outputs alone cannot
// fill the GPU, the reduced axis is cut into chunks whose partial results a second pass
// combines: no atomics, and the same order on every run.
#include <algorithm>

#include "lazuli/backend/cuda/reduce.h"
#include "lazuli/backend/cuda/reduce_ops.cuh"
#include "lazuli/primitives.h"

namespace lazuli::cuda {
namespace {

constexpr int kBlocksPerSm = 8;  // 256-thread blocks: 2048 threads, a full H100 SM

// Elements of S per 16-byte load; 1 where S's alignment is below its size (complex64).
template <typename S> constexpr int vector_width() {
  return alignof(S) == sizeof(S) && sizeof(S) <= 16 ? 16 / int(sizeof(S)) : 1;
}

template <typename Op, typename A, typename S, int V>
__device__ A combine_words(A acc, const uint4& w) {
  S e[V];
  memcpy(e, &w, sizeof(e));
#pragma unroll
  for (int k = 0; k < V; ++k) acc = Op::combine(acc, to_acc<A>(e[k]));
  return acc;
}

// This thread's share (thread `tid` of `nt`) of the n contiguous values at p: a scalar head
// up to a 16-byte boundary, 16-byte words four at a time, then a scalar tail.
template <typename Op, typename A, typename S>
__device__ A reduce_segment(const S* p, int64_t n, int tid, int nt) {
  A acc = Op::template init<A>();
  constexpr int V = vector_width<S>();
  int64_t head = n;
  if constexpr (V > 1) head = std::min<int64_t>(n, (16 - reinterpret_cast<uintptr_t>(p) % 16) % 16 / sizeof(S));
  for (int64_t i = tid; i < head; i += nt) acc = Op::combine(acc, to_acc<A>(p[i]));
  if constexpr (V > 1) {
    const uint4* w = reinterpret_cast<const uint4*>(p + head);
    int64_t words = (n - head) / V, i = tid;
    for (; i + 3 * int64_t(nt) < words; i += 4 * int64_t(nt)) {
      uint4 w0 = w[i], w1 = w[i + nt], w2 = w[i + 2 * nt], w3 = w[i + 3 * nt];
      acc = combine_words<Op, A, S, V>(acc, w0);
      acc = combine_words<Op, A, S, V>(acc, w1);
      acc = combine_words<Op, A, S, V>(acc, w2);
      acc = combine_words<Op, A, S, V>(acc, w3);
    }
    if (i + nt < words) {  // short rows (a warp's): two loads in flight, not one
      uint4 w0 = w[i], w1 = w[i + nt];
      acc = combine_words<Op, A, S, V>(acc, w0);
      acc = combine_words<Op, A, S, V>(acc, w1);
      i += 2 * int64_t(nt);
    }
    for (; i < words; i += nt) acc = combine_words<Op, A, S, V>(acc, w[i]);
    for (int64_t j = head + words * V + tid; j < n; j += nt) acc = Op::combine(acc, to_acc<A>(p[j]));
  }
  return acc;
}

// Task t reduces chunk t % chunks (elements [c * chunk, (c + 1) * chunk) clipped to len) of
// row t / chunks into out[t]. A warp per task when `warp_tasks`, else the whole block.
template <typename Op, typename S, typename A, typename Out>
__global__ void row_kernel(const S* x, Out* out, int64_t tasks, int64_t len, int64_t chunks, int64_t chunk,
                           bool warp_tasks) {
  int group = warp_tasks ? 32 : blockDim.x;
  int tid = warp_tasks ? threadIdx.x & 31 : threadIdx.x;
  int64_t per_block = blockDim.x / group;
  int64_t first = blockIdx.x * per_block + threadIdx.x / group;
  for (int64_t t = first; t < tasks; t += gridDim.x * per_block) {
    int64_t row = t / chunks, begin = (t - row * chunks) * chunk;
    int64_t n = std::min(chunk, len - begin);
    A acc = reduce_segment<Op, A>(x + row * len + begin, n, tid, group);
    acc = warp_tasks ? warp_reduce<Op>(acc) : block_reduce<Op>(acc);
    if (tid == 0) out[t] = from_acc<Out>(acc);
  }
}

// x is (outer, len, inner); task (o, c, g) reduces rows [c * chunk, (c + 1) * chunk) of
// columns [g * V, (g + 1) * V) of block o into out (outer, chunks, inner). Threads of a
// warp take neighbouring column groups, so their loads are contiguous.
template <typename Op, typename S, typename A, typename Out, int V>
__global__ void column_kernel(const S* x, Out* out, int64_t outer, int64_t len, int64_t inner, int64_t chunks,
                              int64_t chunk) {
  int64_t groups = inner / V;
  LAZULI_GRID_STRIDE(t, outer * chunks * groups) {
    int64_t g = t % groups, oc = t / groups, c = oc % chunks, o = oc / chunks;
    int64_t r0 = c * chunk, r1 = std::min(len, r0 + chunk);
    A acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = Op::template init<A>();
    const S* p = x + (o * len + r0) * inner + g * V;
    auto take = [&](const S* row) {
      S e[V];
      if constexpr (V > 1) {
        uint4 w = *reinterpret_cast<const uint4*>(row);
        memcpy(e, &w, sizeof(e));
      } else {
        e[0] = row[0];
      }
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] = Op::combine(acc[k], to_acc<A>(e[k]));
    };
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4, p += 4 * inner) {  // four rows' loads in flight
      take(p), take(p + inner), take(p + 2 * inner), take(p + 3 * inner);
    }
    for (; r < r1; ++r, p += inner) take(p);
    Out* o_ptr = out + oc * inner + g * V;
#pragma unroll
    for (int k = 0; k < V; ++k) o_ptr[k] = from_acc<Out>(acc[k]);
  }
}

// Blocks of `kernel` that run at once on the whole GPU: a grid of this many, each with an
// equal share, finishes together, with no partly filled last wave.
template <typename Kernel> int64_t resident_blocks(Kernel kernel) {
  int per_sm = 0;
  check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0),
             "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  return int64_t(sm_count()) * std::max(per_sm, 1);
}
int grid_for(int64_t blocks_wanted, int64_t resident) {
  return static_cast<int>(std::max<int64_t>(1, std::min(blocks_wanted, resident)));
}

// Rows of len contiguous values: one block (or warp) per row when there are enough rows to
// fill the GPU, else chunks of kChunk values and a second pass over the partials (rows of
// `chunks` values). Many small tasks keep every SM busy to the end: one big chunk per
// block measured 30% slower, as blocks start and finish at different times.
template <typename Op, typename S, typename A, typename Out>
void reduce_rows(const S* x, Out* out, int64_t rows, int64_t len, cudaStream_t s) {
  constexpr int64_t kChunk = 16384;  // a multiple of 64: chunks start 16-byte aligned when rows do
  int64_t chunks = 1, chunk = std::max<int64_t>(len, 1);
  if (rows < resident_blocks(row_kernel<Op, S, A, A>) && len > 2 * kChunk) {
    chunk = kChunk;
    chunks = (len + chunk - 1) / chunk;
  }
  auto launch = [&](const auto* src, auto* dst, int64_t tasks, int64_t n, int64_t c, int64_t size) {
    using Src = std::remove_cv_t<std::remove_pointer_t<decltype(src)>>;
    using Dst = std::remove_pointer_t<decltype(dst)>;
    auto kernel = row_kernel<Op, Src, A, Dst>;
    bool warp_tasks = size <= 1024;
    int blocks = grid_for(warp_tasks ? (tasks + kThreads / 32 - 1) / (kThreads / 32) : tasks, resident_blocks(kernel));
    kernel<<<blocks, kThreads, 0, s>>>(src, dst, tasks, n, c, size, warp_tasks);
    check_launch("reduce");
  };
  if (chunks == 1) return launch(x, out, rows, len, 1, chunk);
  DeviceBuffer partial(rows * chunks * sizeof(A), s);
  launch(x, partial.as<A>(), rows * chunks, len, chunks, chunk);
  launch(static_cast<const A*>(partial.as<A>()), out, rows, chunks, 1, chunks);
}

// (outer, len, inner) with inner > 1: a thread per column group when those fill the GPU,
// else the rows cut into chunks of at least 16 (two waves of tasks, so SMs that finish
// early find more), whose partials (outer, chunks, inner) are reduced the same way.
template <typename Op, typename S, typename A, typename Out>
void reduce_columns(const S* x, Out* out, int64_t outer, int64_t len, int64_t inner, cudaStream_t s) {
  constexpr int V = vector_width<S>();
  bool vectors = V > 1 && inner % V == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  int64_t threads = outer * (vectors ? inner / V : inner);
  int64_t resident = resident_blocks(column_kernel<Op, S, A, A, V>);
  int64_t chunks = std::clamp<int64_t>((2 * resident * kThreads + threads - 1) / threads, 1, std::max<int64_t>(1, len / 16));
  int64_t chunk = std::max<int64_t>(1, (len + chunks - 1) / chunks);
  chunks = std::max<int64_t>(1, (len + chunk - 1) / chunk);
  auto launch = [&](auto* dst, int64_t c, int64_t size) {
    using Dst = std::remove_pointer_t<decltype(dst)>;
    int blocks = grid_for((threads * c + kThreads - 1) / kThreads, resident);
    if (vectors) column_kernel<Op, S, A, Dst, V><<<blocks, kThreads, 0, s>>>(x, dst, outer, len, inner, c, size);
    else column_kernel<Op, S, A, Dst, 1><<<blocks, kThreads, 0, s>>>(x, dst, outer, len, inner, c, size);
    check_launch("reduce");
  };
  if (chunks == 1) return launch(out, 1, std::max<int64_t>(len, 1));
  DeviceBuffer partial(outer * chunks * inner * sizeof(A), s);
  launch(partial.as<A>(), chunks, chunk);
  reduce_columns<Op, A, A, Out>(partial.as<A>(), out, outer, chunks, inner, s);
}

template <typename Op>
void reduce_typed(Dtype in, Dtype out, const void* x, void* dst, int64_t outer, int64_t red, int64_t inner,
                  cudaStream_t s) {
  constexpr bool logical = std::is_same_v<Op, AndOp> || std::is_same_v<Op, OrOp>;
  constexpr bool ordered = std::is_same_v<Op, MaxOp> || std::is_same_v<Op, MinOp>;
  dispatch_all(in, "reduce", [&](auto v) {
    using S = decltype(v);
    if constexpr (ordered && std::is_same_v<S, Complex64>) {
      throw std::invalid_argument("[reduce] complex64 inputs cannot be ordered.");
    } else {
      using Out = std::conditional_t<logical, bool, S>;
      using A = std::conditional_t<logical, bool, acc_t<S>>;
      if (sizeof(Out) != out.size) throw std::logic_error("[reduce] GPU output type does not match the graph's.");
      const S* src = static_cast<const S*>(x);
      Out* o = static_cast<Out*>(dst);
      if (inner == 1) reduce_rows<Op, S, A, Out>(src, o, outer, red, s);
      else reduce_columns<Op, S, A, Out>(src, o, outer, red, inner, s);
    }
  });
}

// ---- argmin / argmax -------------------------------------------------------------------

// (value, position) candidates: a NaN beats any number (the first NaN wins), then the
// better value, then the smaller position, so combining in any order gives the CPU's answer.
template <typename C> __device__ bool arg_better(bool is_max, C v, uint32_t i, C best, uint32_t bi) {
  if constexpr (std::is_floating_point_v<C>) {
    bool vn = v != v, bn = best != best;
    if (vn || bn) return vn && (!bn || i < bi);
  }
  if (v == best) return i < bi;
  return is_max ? v > best : v < best;
}

// A warp per line (lanes stride along it) when lines are long, else a thread per line.
template <typename S>
__global__ void argreduce_kernel(bool is_max, const S* x, uint32_t* dst, int64_t lines, int64_t len, int64_t step,
                                 Indexer<2> ix, bool warp_lines) {
  using C = compute_t<S>;
  int group = warp_lines ? 32 : 1;
  int lane = warp_lines ? threadIdx.x & 31 : 0;
  int64_t per_block = blockDim.x / group;
  for (int64_t k = blockIdx.x * per_block + threadIdx.x / group; k < lines; k += gridDim.x * per_block) {
    int64_t off[2];
    offsets(k, ix, off);
    const S* line = x + off[1];
    C best = load(line[0]);
    uint32_t arg = 0;
    for (int64_t i = lane; i < len; i += group) {
      C v = load(line[i * step]);
      if (arg_better(is_max, v, uint32_t(i), best, arg)) best = v, arg = uint32_t(i);
    }
    if (warp_lines) {
      for (int d = 16; d > 0; d >>= 1) {
        C ov = shfl_down(best, d);
        uint32_t oi = __shfl_down_sync(0xffffffffu, arg, d);
        if (arg_better(is_max, ov, oi, best, arg)) best = ov, arg = oi;
      }
    }
    if (lane == 0) dst[off[0]] = arg;
  }
}

template <typename T>
__global__ void arange_kernel(double start, double step, T* dst, int64_t n) {
  LAZULI_GRID_STRIDE(i, n) dst[i] = convert<T>(start + double(i) * step);
}

}  // namespace

void launch_reduce(ReduceOp op, Dtype in, Dtype out, const void* x, void* dst, int64_t outer, int64_t red,
                   int64_t inner, cudaStream_t s) {
  switch (op) {
    case ReduceOp::Sum: return reduce_typed<SumOp>(in, out, x, dst, outer, red, inner, s);
    case ReduceOp::Prod: return reduce_typed<ProdOp>(in, out, x, dst, outer, red, inner, s);
    case ReduceOp::Max: return reduce_typed<MaxOp>(in, out, x, dst, outer, red, inner, s);
    case ReduceOp::Min: return reduce_typed<MinOp>(in, out, x, dst, outer, red, inner, s);
    case ReduceOp::And: return reduce_typed<AndOp>(in, out, x, dst, outer, red, inner, s);
    case ReduceOp::Or: return reduce_typed<OrOp>(in, out, x, dst, outer, red, inner, s);
  }
}

void launch_argreduce(bool is_max, Dtype t, const void* x, uint32_t* dst, int64_t lines, int64_t len, int64_t step,
                      const Indexer<2>& ix, cudaStream_t s) {
  const char* name = is_max ? "argmax" : "argmin";
  dispatch(t, name, [&](auto v) {
    using S = decltype(v);
    bool warp_lines = len >= 64;
    int64_t wanted = warp_lines ? (lines + kThreads / 32 - 1) / (kThreads / 32) : (lines + kThreads - 1) / kThreads;
    int blocks = grid_for(wanted, int64_t(sm_count()) * kBlocksPerSm);
    argreduce_kernel<S><<<blocks, kThreads, 0, s>>>(is_max, static_cast<const S*>(x), dst, lines, len, step, ix,
                                                    warp_lines);
    check_launch(name);
  });
}

void launch_arange(Dtype t, double start, double step, void* dst, int64_t n, cudaStream_t s) {
  dispatch(t, "arange", [&](auto v) {
    using S = decltype(v);
    arange_kernel<S><<<blocks_for(n), kThreads, 0, s>>>(start, step, static_cast<S*>(dst), n);
    check_launch("arange");
  });
}

}  // namespace lazuli::cuda
