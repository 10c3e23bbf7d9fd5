// CUDA backend: scans (cumsum, cumprod, cummax, cummin, logcumsumexp). The host hands over a
// dense (outer, len, inner) buffer. Contiguous lines (inner == 1) are scanned by a block
// each, tile by tile, with CUB's block scan carrying the running prefix between tiles;
// strided lines by a thread each, stepping down the axis, so a warp's loads are contiguous.
#include <cub/block/block_scan.cuh>

#include "lazuli/backend/cuda/reduce.h"
#include "lazuli/backend/cuda/reduce_ops.cuh"
#include "lazuli/primitives.h"

namespace lazuli::cuda {
namespace {

constexpr int kItems = 4;  // per thread per tile

template <typename Op> struct Combine {
  template <typename A> __device__ A operator()(A a, A b) const { return Op::combine(a, b); }
};

// The prefix of the tiles scanned so far (kept by the first warp, which CUB asks).
template <typename Op, typename A> struct Carry {
  A running;
  __device__ A operator()(A tile_total) {
    A before = running;
    running = Op::combine(running, tile_total);
    return before;
  }
};

template <typename Op, typename S, typename A>
__global__ void scan_rows_kernel(const S* x, S* dst, int64_t rows, int64_t len, bool reverse, bool inclusive) {
  using BlockScan = cub::BlockScan<A, kThreads>;
  __shared__ typename BlockScan::TempStorage temp;
  constexpr int64_t kTile = int64_t(kThreads) * kItems;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const S* xr = x + row * len;
    S* dr = dst + row * len;
    Carry<Op, A> carry{Op::template init<A>()};
    for (int64_t tile = 0; tile < len; tile += kTile) {
      A v[kItems];
#pragma unroll
      for (int k = 0; k < kItems; ++k) {
        int64_t i = tile + threadIdx.x * kItems + k;  // position in scan order
        v[k] = i < len ? to_acc<A>(xr[reverse ? len - 1 - i : i]) : Op::template init<A>();
      }
      if (inclusive) BlockScan(temp).InclusiveScan(v, v, Combine<Op>{}, carry);
      else BlockScan(temp).ExclusiveScan(v, v, Combine<Op>{}, carry);
      __syncthreads();  // temp is reused by the next tile
#pragma unroll
      for (int k = 0; k < kItems; ++k) {
        int64_t i = tile + threadIdx.x * kItems + k;
        if (i < len) dr[reverse ? len - 1 - i : i] = from_acc<S>(v[k]);
      }
    }
  }
}

template <typename Op, typename S, typename A>
__global__ void scan_columns_kernel(const S* x, S* dst, int64_t outer, int64_t len, int64_t inner, bool reverse,
                                    bool inclusive) {
  LAZULI_GRID_STRIDE(t, outer * inner) {
    int64_t o = t / inner, c = t - o * inner;
    const S* xc = x + o * len * inner + c;
    S* dc = dst + o * len * inner + c;
    A acc = Op::template init<A>();
    for (int64_t i = 0; i < len; ++i) {
      int64_t at = (reverse ? len - 1 - i : i) * inner;
      A v = to_acc<A>(xc[at]);
      if (inclusive) acc = Op::combine(acc, v), dc[at] = from_acc<S>(acc);
      else dc[at] = from_acc<S>(acc), acc = Op::combine(acc, v);
    }
  }
}

template <typename Op>
void scan_typed(const char* name, Dtype t, const void* x, void* dst, int64_t outer, int64_t len, int64_t inner,
                bool reverse, bool inclusive, cudaStream_t s) {
  constexpr bool ordered = !std::is_same_v<Op, SumOp> && !std::is_same_v<Op, ProdOp>;
  dispatch_all(t, name, [&](auto v) {
    using S = decltype(v);
    using A = acc_t<S>;
    if constexpr (ordered && std::is_same_v<S, Complex64>) {
      throw std::invalid_argument(std::string("[") + name + "] complex64 inputs cannot be ordered.");
    } else if constexpr (std::is_same_v<Op, LogAddExpOp> && !std::is_floating_point_v<A>) {
      throw std::invalid_argument(std::string("[") + name + "] needs a floating-point input.");
    } else {
      const S* src = static_cast<const S*>(x);
      S* out = static_cast<S*>(dst);
      if (inner == 1) {
        int blocks = static_cast<int>(std::min<int64_t>(outer, int64_t(sm_count()) * 8));
        scan_rows_kernel<Op, S, A><<<blocks, kThreads, 0, s>>>(src, out, outer, len, reverse, inclusive);
      } else {
        scan_columns_kernel<Op, S, A><<<blocks_for(outer * inner), kThreads, 0, s>>>(src, out, outer, len, inner,
                                                                                     reverse, inclusive);
      }
      check_launch(name);
    }
  });
}

}  // namespace

void launch_scan(ScanOp op, Dtype t, const void* x, void* dst, int64_t outer, int64_t len, int64_t inner,
                 bool reverse, bool inclusive, cudaStream_t s) {
  if (outer == 0 || len == 0 || inner == 0) return;
  switch (op) {
    case ScanOp::Sum: return scan_typed<SumOp>("cumsum", t, x, dst, outer, len, inner, reverse, inclusive, s);
    case ScanOp::Prod: return scan_typed<ProdOp>("cumprod", t, x, dst, outer, len, inner, reverse, inclusive, s);
    case ScanOp::Max: return scan_typed<MaxOp>("cummax", t, x, dst, outer, len, inner, reverse, inclusive, s);
    case ScanOp::Min: return scan_typed<MinOp>("cummin", t, x, dst, outer, len, inner, reverse, inclusive, s);
    case ScanOp::LogAddExp:
      return scan_typed<LogAddExpOp>("logcumsumexp", t, x, dst, outer, len, inner, reverse, inclusive, s);
  }
}

}  // namespace lazuli::cuda
