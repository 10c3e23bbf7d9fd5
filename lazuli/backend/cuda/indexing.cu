// CUDA backend: indexing kernels (take, gather, the scatters, strided copies) and divmod.
// Gathers and copies move elements as raw words of the element's width. Scatters sort the
// update elements by destination (a stable radix sort keeps update order among repeats);
// repeated indices then give exactly what the CPU's sequential loop gives: the last Set
// wins, integer runs reduce as trees (their combines are associative), and float runs
// combine in update order on one thread, rounding as the CPU rounds.
#include <cuda/std/complex>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>

#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/indexing.h"

namespace lazuli::cuda {
namespace {

// Calls f(W{}) with W the unsigned word as wide as one element.
template <typename F> void dispatch_width(int itemsize, F&& f) {
  switch (itemsize) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
  }
  throw std::logic_error("[cuda indexing] Unsupported element size " + std::to_string(itemsize) + ".");
}

// The device's reading of cpu::wrap_index (backend/cpu/index_util.h): negatives count from
// the end; an unsigned value too large for int64 is -1 (out of range), never wrapped.
template <typename I> __device__ int64_t wrap_index(I raw, int64_t dim) {
  if constexpr (std::is_signed_v<I>) {
    int64_t v = static_cast<int64_t>(raw);
    return v < 0 ? v + dim : v;
  } else {
    return static_cast<uint64_t>(raw) > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(raw);
  }
}

template <typename I>
__global__ void index_offsets_kernel(const I* idx, int64_t n, int64_t dim, int64_t hi, int64_t stride, int64_t* acc,
                                     unsigned long long* first_bad) {
  LAZULI_GRID_STRIDE(i, n) {
    int64_t v = wrap_index(idx[i], dim);
    if (v < 0 || v > hi) atomicMin(first_bad, static_cast<unsigned long long>(i));
    else acc[i] += v * stride;
  }
}

// Where element e (row-major over windows, then over the window's box) lies.
__device__ int64_t element_offset(int64_t e, const Windows& win) {
  int64_t w = e / win.size, i = e - w * win.size;
  int64_t off = win.starts[w % win.count] + (w / win.count) * win.block_step;
  for (int d = win.ndim - 1; d >= 0; --d) {
    int64_t q = i / win.shape[d];
    off += (i - q * win.shape[d]) * win.strides[d];
    i = q;
  }
  return off;
}

template <typename W> __global__ void gather_kernel(const W* src, W* dst, int64_t total, Windows win) {
  LAZULI_GRID_STRIDE(e, total) dst[e] = src[element_offset(e, win)];
}

__global__ void scatter_keys_kernel(int64_t total, Windows win, uint64_t* keys, int64_t* order) {
  LAZULI_GRID_STRIDE(e, total) {
    keys[e] = static_cast<uint64_t>(element_offset(e, win));
    order[e] = e;
  }
}

// Runs of equal keys (one destination element) start where the key changes; the thread at a
// run's start applies the run's updates in order.
template <typename T, typename Combine>
__global__ void combine_kernel(const T* upd, T* out, const uint64_t* keys, const int64_t* order, int64_t n,
                               Combine combine) {
  LAZULI_GRID_STRIDE(p, n) {
    uint64_t k = keys[p];
    if (p > 0 && keys[p - 1] == k) continue;
    T acc = out[k];
    for (int64_t q = p; q < n && keys[q] == k; ++q) acc = combine(acc, upd[order[q]]);
    out[k] = acc;
  }
}

// One index (a KV cache's update, say): no two updates share a place, so each combines
// straight into it, without sorting.
template <typename T, typename Combine>
__global__ void combine_direct_kernel(const T* upd, T* out, int64_t total, Windows win, Combine combine) {
  LAZULI_GRID_STRIDE(e, total) {
    T* dst = out + element_offset(e, win);
    *dst = combine(*dst, upd[e]);
  }
}

struct TakeLast {
  template <typename T> __device__ T operator()(T, T y) const { return y; }
};
// The CPU's combine: both values in the compute type, the result stored back (so 16-bit
// floats round after every step, as there).
template <typename Op> struct InComputeType {
  template <typename T> __device__ T operator()(T x, T y) const { return convert<T>(Op{}(load(x), load(y))); }
};

template <typename W>
__global__ void strided_copy_kernel(const W* src, W* dst, int64_t n, Indexer<2> ix) {
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets(i, ix, off);
    dst[off[0]] = src[off[1]];
  }
}

template <typename S>
__global__ void divmod_kernel(const S* a, const S* b, S* q, S* r, int64_t n, Indexer<2> ix) {
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets(i, ix, off);
    auto x = load(a[off[0]]), y = load(b[off[1]]);
    q[i] = convert<S>(math::FloorDivide{}(x, y));
    r[i] = convert<S>(math::Remainder{}(x, y));
  }
}

// Where the updates go: sorted by destination (keys/order), or, when keys is null, all to
// distinct places that `win` names.
struct Placement {
  const uint64_t* keys = nullptr;
  const int64_t* order = nullptr;
  int64_t total = 0;
  const Windows* win = nullptr;
};

// Set: the last update of each run wins, written by the run's last position.
template <typename W>
__global__ void set_last_kernel(const W* upd, W* out, const uint64_t* keys, const int64_t* order, int64_t n) {
  LAZULI_GRID_STRIDE(p, n) {
    if (p == n - 1 || keys[p + 1] != keys[p]) out[keys[p]] = upd[order[p]];
  }
}

template <typename T> __global__ void gather_sorted_kernel(const T* upd, T* values, const int64_t* order, int64_t n) {
  LAZULI_GRID_STRIDE(p, n) values[p] = upd[order[p]];
}
template <typename T, typename Combine>
__global__ void apply_runs_kernel(T* out, const uint64_t* places, const T* totals, const int64_t* runs,
                                  Combine combine) {
  LAZULI_GRID_STRIDE(r, *runs) out[places[r]] = combine(out[places[r]], totals[r]);
}

template <typename T, typename Combine>
void combine_into(const void* updates, void* out, const Placement& at, Combine combine, cudaStream_t s) {
  auto* u = static_cast<const T*>(updates);
  auto* o = static_cast<T*>(out);
  int64_t n = at.total;
  if (!at.keys) {
    combine_direct_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(u, o, n, *at.win, combine);
  } else if constexpr (std::is_same_v<Combine, TakeLast>) {
    set_last_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(u, o, at.keys, at.order, n);
  } else if constexpr (std::is_integral_v<T>) {
    // Integer and bool combines are associative (wrapping), so a run may reduce as a tree
    // and then combine into out once: exact, and a long run of one index stays parallel.
    DeviceBuffer values(n * sizeof(T), s), totals(n * sizeof(T), s), places(n * sizeof(uint64_t), s);
    DeviceBuffer runs(sizeof(int64_t), s);
    gather_sorted_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(u, values.as<T>(), at.order, n);
    check_launch("scatter");
    size_t temp_bytes = 0;
    LAZULI_CUDA_CHECK(cub::DeviceReduce::ReduceByKey(nullptr, temp_bytes, at.keys, places.as<uint64_t>(),
                                                     values.as<T>(), totals.as<T>(), runs.as<int64_t>(), combine, n, s));
    DeviceBuffer temp(temp_bytes, s);
    LAZULI_CUDA_CHECK(cub::DeviceReduce::ReduceByKey(temp.as<void>(), temp_bytes, at.keys, places.as<uint64_t>(),
                                                     values.as<T>(), totals.as<T>(), runs.as<int64_t>(), combine, n, s));
    apply_runs_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(o, places.as<uint64_t>(), totals.as<T>(),
                                                           runs.as<int64_t>(), combine);
  } else {
    // Floats round differently in another order: each run combines in update order, as the
    // CPU's loop does.
    combine_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(u, o, at.keys, at.order, n, combine);
  }
  check_launch("scatter");
}

}  // namespace

void launch_index_offsets(Dtype t, const void* idx, int64_t n, int64_t dim, int64_t hi, int64_t stride, int64_t* acc,
                          unsigned long long* first_bad, cudaStream_t s) {
  if (n == 0) return;
  bool integral = false;
  dispatch_dtype(t, [&](auto v) {
    using I = decltype(v);
    if constexpr (std::is_integral_v<I>) {
      integral = true;
      index_offsets_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const I*>(idx), n, dim, hi, stride, acc,
                                                                  first_bad);
      check_launch("index offsets");
    }
  });
  if (!integral) throw std::invalid_argument("[gather] Indices must be integers, not " + dtype_name(t) + ".");
}

void launch_gather(int itemsize, const void* src, void* dst, int64_t total, const Windows& win, cudaStream_t s) {
  if (total == 0) return;
  dispatch_width(itemsize, [&](auto word) {
    using W = decltype(word);
    gather_kernel<W><<<blocks_for(total), kThreads, 0, s>>>(static_cast<const W*>(src), static_cast<W*>(dst), total,
                                                            win);
    check_launch("gather");
  });
}

void launch_scatter(ScatterOp op, Dtype t, const void* updates, void* out, int64_t out_size, int64_t total,
                    const Windows& win, cudaStream_t s, const char* name) {
  if (total == 0) return;
  if (t == complex64 && (op == ScatterOp::Max || op == ScatterOp::Min))
    throw std::invalid_argument(std::string("[") + (op == ScatterOp::Max ? "scatter_max" : "scatter_min") +
                                "] complex64 cannot be ordered.");
  // With one index, windows of distinct blocks never meet; with more, sort the update
  // positions by destination (stably, so repeats keep their order).
  bool may_repeat = win.count > 1;
  DeviceBuffer keys(may_repeat ? 2 * total * sizeof(uint64_t) : 0, s);
  DeviceBuffer order(may_repeat ? 2 * total * sizeof(int64_t) : 0, s);
  Placement at{nullptr, nullptr, total, &win};
  if (may_repeat) {
    uint64_t *keys_in = keys.as<uint64_t>(), *keys_out = keys_in + total;
    int64_t *order_in = order.as<int64_t>(), *order_out = order_in + total;
    scatter_keys_kernel<<<blocks_for(total), kThreads, 0, s>>>(total, win, keys_in, order_in);
    check_launch(name);
    int end_bit = 1;
    while (end_bit < 63 && (int64_t(1) << end_bit) < out_size) ++end_bit;
    size_t temp_bytes = 0;
    LAZULI_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, order_in, order_out,
                                                      total, 0, end_bit, s));
    DeviceBuffer temp(temp_bytes, s);
    LAZULI_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.as<void>(), temp_bytes, keys_in, keys_out, order_in,
                                                      order_out, total, 0, end_bit, s));
    at.keys = keys_out;
    at.order = order_out;
  }
  if (op == ScatterOp::Set) {  // moves elements: any dtype by its width
    return dispatch_width(t.size, [&](auto word) { combine_into<decltype(word)>(updates, out, at, TakeLast{}, s); });
  }
  auto run = [&](auto v) {
    using T = decltype(v);
    switch (op) {
      case ScatterOp::Set: break;
      case ScatterOp::Add: return combine_into<T>(updates, out, at, InComputeType<math::Add>{}, s);
      case ScatterOp::Prod:
        return combine_into<T>(updates, out, at, InComputeType<math::Multiply>{}, s);
      case ScatterOp::Max:
        if constexpr (!std::is_same_v<T, ::cuda::std::complex<float>>)
          return combine_into<T>(updates, out, at, InComputeType<math::Maximum>{}, s);
        break;
      case ScatterOp::Min:
        if constexpr (!std::is_same_v<T, ::cuda::std::complex<float>>)
          return combine_into<T>(updates, out, at, InComputeType<math::Minimum>{}, s);
        break;
    }
  };
  if (t == complex64) run(::cuda::std::complex<float>{});
  else dispatch(t, name, run);
}

void launch_strided_copy(int itemsize, const void* src, void* dst, int64_t n, const Indexer<2>& ix, cudaStream_t s) {
  if (n == 0) return;
  dispatch_width(itemsize, [&](auto word) {
    using W = decltype(word);
    strided_copy_kernel<W><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const W*>(src), static_cast<W*>(dst), n, ix);
    check_launch("copy");
  });
}

void launch_divmod(Dtype t, const void* a, const void* b, void* q, void* r, int64_t n, const Indexer<2>& ix,
                   cudaStream_t s) {
  auto unsupported = [&] {
    return std::invalid_argument("[divmod] " + dtype_name(t) + " inputs are not supported.");
  };
  if (t == complex64) throw unsupported();
  dispatch(t, "divmod", [&](auto v) {
    using S = decltype(v);
    if constexpr ((math::FloorDivide::kinds & math::kind_of<compute_t<S>>) != 0) {
      if (n == 0) return;
      divmod_kernel<S><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const S*>(a), static_cast<const S*>(b),
                                                          static_cast<S*>(q), static_cast<S*>(r), n, ix);
      check_launch("divmod");
    } else {
      throw unsupported();
    }
  });
}

}  // namespace lazuli::cuda
