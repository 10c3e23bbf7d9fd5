// CUDA backend: sorting along the last axis of a dense (lines, len) buffer (Sort, ArgSort,
// and the partitions, which a full sort satisfies). Each value becomes an unsigned key
// whose order is the CPU's (NaNs last and equal to each other, -0 equal to +0); CUB's
// radix sort, which is stable, orders (key, position) pairs line by line, so ties keep
// their positions as on the CPU (complex64: real part, then imaginary part). Sort gathers
// the values at the sorted positions.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include <climits>

#include "lazuli/backend/cuda/reduce.h"
#include "lazuli/backend/cuda/reduce_ops.cuh"

namespace lazuli::cuda {
namespace {

// The key type and the bits of it that carry the order.
template <typename S> using key_t = std::conditional_t<sizeof(compute_t<S>) == 8, uint64_t, uint32_t>;
template <typename S> constexpr int key_bits() {
  using C = compute_t<S>;
  return std::is_floating_point_v<C> ? 8 * sizeof(C) : 8 * sizeof(S);
}

// An unsigned key ordered as the value (floats: sign-magnitude flipped into two's order).
template <typename S> __device__ key_t<S> order_key(S stored) {
  using C = compute_t<S>;
  using K = key_t<S>;
  C v = load(stored);
  if constexpr (std::is_floating_point_v<C>) {
    constexpr K sign = K(1) << (8 * sizeof(C) - 1);
    if (v != v) return ~K(0);
    if (v == 0) v = 0;  // -0 equals +0
    K b;
    memcpy(&b, &v, sizeof(C));
    return (b & sign) ? ~b : (b | sign);
  } else if constexpr (std::is_same_v<C, bool>) {
    return v ? 1 : 0;
  } else if constexpr (std::is_signed_v<C>) {
    using U = std::make_unsigned_t<C>;
    return K(U(v) ^ (U(1) << (8 * sizeof(C) - 1)));
  } else {
    return K(v);
  }
}

// complex64: the real part's key, then the imaginary part's (the CPU's lexicographic
// order); a NaN in either part sorts last, equal to the other NaNs.
using complex_t = ::cuda::std::complex<float>;
__device__ uint64_t complex_key(complex_t v) {
  float re = v.real(), im = v.imag();
  if (re != re || im != im) return ~uint64_t(0);
  return (uint64_t(order_key(re)) << 32) | order_key(im);
}
__global__ void complex_keys_kernel(const complex_t* x, uint64_t* keys, uint32_t* positions, int64_t n, int64_t len) {
  LAZULI_GRID_STRIDE(i, n) {
    keys[i] = complex_key(x[i]);
    positions[i] = static_cast<uint32_t>(i % len);
  }
}

template <typename S>
__global__ void keys_kernel(const S* x, key_t<S>* keys, uint32_t* positions, int64_t n, int64_t len) {
  LAZULI_GRID_STRIDE(i, n) {
    keys[i] = order_key(x[i]);
    positions[i] = static_cast<uint32_t>(i % len);
  }
}

__global__ void offsets_kernel(int* offsets, int64_t count, int64_t len) {
  LAZULI_GRID_STRIDE(i, count) offsets[i] = static_cast<int>(i * len);
}

template <typename S>
__global__ void gather_kernel(const S* x, const uint32_t* positions, S* dst, int64_t n, int64_t len) {
  LAZULI_GRID_STRIDE(i, n) dst[i] = x[i - i % len + positions[i]];
}

inline void check_cub(cudaError_t e, const char* call) { check_cuda(e, call); }

// Sorts (keys, positions) within each line of len into (keys_out, positions_out): one radix
// sort when there is one line, else segmented sorts over as many whole lines as fit in
// CUB's int item count.
template <typename K>
void sort_pairs(const K* keys, K* keys_out, const uint32_t* pos, uint32_t* pos_out, int64_t lines, int64_t len,
                int bits, cudaStream_t s) {
  size_t temp_bytes = 0;
  if (lines == 1) {
    check_cub(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, keys_out, pos, pos_out, len, 0, bits, s),
              "cub::DeviceRadixSort::SortPairs");
    DeviceBuffer temp(temp_bytes, s);
    check_cub(cub::DeviceRadixSort::SortPairs(temp.as<char>(), temp_bytes, keys, keys_out, pos, pos_out, len, 0, bits, s),
              "cub::DeviceRadixSort::SortPairs");
    return;
  }
  int64_t batch = std::min<int64_t>(lines, INT_MAX / len);
  DeviceBuffer offsets((batch + 1) * sizeof(int), s);
  offsets_kernel<<<blocks_for(batch + 1), kThreads, 0, s>>>(offsets.as<int>(), batch + 1, len);
  check_launch("sort");
  for (int64_t first = 0; first < lines; first += batch) {
    int segments = static_cast<int>(std::min(batch, lines - first));
    int items = static_cast<int>(segments * len);
    int64_t at = first * len;
    auto run = [&](void* temp) {
      check_cub(cub::DeviceSegmentedRadixSort::SortPairs(temp, temp_bytes, keys + at, keys_out + at, pos + at,
                                                          pos_out + at, items, segments, offsets.as<int>(),
                                                          offsets.as<int>() + 1, 0, bits, s),
                "cub::DeviceSegmentedRadixSort::SortPairs");
    };
    run(nullptr);
    DeviceBuffer temp(temp_bytes, s);
    run(temp.as<char>());
  }
}

}  // namespace

void launch_sort(Dtype t, const void* x, void* values, uint32_t* indices, int64_t lines, int64_t len,
                 cudaStream_t s) {
  int64_t n = lines * len;
  if (n == 0) return;
  if (len > int64_t(UINT32_MAX)) throw std::invalid_argument("[sort] GPU sorts take lines of at most 2^32 elements.");
  dispatch_all(t, [&](auto v) {
    using S = decltype(v);
    constexpr bool complex = is_complex_v<S>;
    using K = std::conditional_t<complex, uint64_t, key_t<S>>;
    const S* src = static_cast<const S*>(x);
    DeviceBuffer keys(n * sizeof(K), s), sorted_keys(n * sizeof(K), s);
    DeviceBuffer positions(n * sizeof(uint32_t), s), sorted_positions((indices ? 0 : n) * sizeof(uint32_t), s);
    uint32_t* order = indices ? indices : sorted_positions.as<uint32_t>();
    if constexpr (complex) complex_keys_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, keys.as<K>(), positions.as<uint32_t>(), n, len);
    else keys_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, keys.as<K>(), positions.as<uint32_t>(), n, len);
    check_launch("sort");
    int bits = 0;
    if constexpr (complex) bits = 64;
    else bits = key_bits<S>();
    sort_pairs<K>(keys.as<K>(), sorted_keys.as<K>(), positions.as<uint32_t>(), order, lines, len, bits, s);
    if (!indices) {
      gather_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, order, static_cast<S*>(values), n, len);
      check_launch("sort");
    }
  });
}

}  // namespace lazuli::cuda
