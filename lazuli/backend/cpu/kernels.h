// Internal to the CPU backend: threading, strided iteration and layout helpers that every
// kernel family shares.
#pragma once
#include <array>
#include <cstdint>
#include <type_traits>

#include "lazuli/array.h"
#include "lazuli/backend/common/cast.h"
#include "lazuli/backend/common/math.h"
#include "lazuli/backend/cpu/thread_pool.h"

namespace lazuli::cpu {

// Runs f(begin, end) over [0, n), in chunks of at least `grain` items spread over the
// cores (a few chunks per thread, so a late thread only delays its own chunk).
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  int64_t chunks = std::min<int64_t>(4 * thread_count(), grain > 0 ? n / grain : n);
  if (chunks <= 1 || thread_count() == 1) {
    if (n > 0) f(int64_t{0}, n);
    return;
  }
  run_chunks(chunks, [&](int64_t c) { f(n * c / chunks, n * (c + 1) / chunks); });
}
inline constexpr int64_t kGrain = 1 << 16;  // elements per thread before splitting pays

// Layout of a view with these strides: which flags hold, and how many buffer slots it
// spans when dense.
array::Flags layout_flags(const Shape& shape, const Strides& strides);

// Walks a shape with N arrays' strides (in elements), merging dims that are contiguous
// in every array, and calls inner(offsets, inner_strides, length) for each innermost run.
// Runs are split across cores when the shape is large.
template <size_t N, typename F>
void for_each_run(const Shape& shape, const std::array<const Strides*, N>& strides, F&& inner) {
  // Collapse: drop size-1 dims, merge dim i into i+1 when every array steps evenly.
  std::vector<int64_t> dims;
  std::array<std::vector<int64_t>, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; merge && k < N; ++k) merge = st[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = (*strides[k])[d];
    } else {
      dims.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back((*strides[k])[d]);
    }
  }
  for (auto d : shape)
    if (d == 0) return;
  if (dims.empty()) {
    dims.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(1);
  }
  int nd = static_cast<int>(dims.size());
  int64_t len = dims.back();
  std::array<int64_t, N> inner_st;
  for (size_t k = 0; k < N; ++k) inner_st[k] = st[k].back();
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= dims[d];
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1));
  parallel_for(outer, grain, [&](int64_t begin, int64_t end) {
    // Offsets of run `begin`, then step the multi-index like an odometer.
    std::vector<int64_t> idx(nd, 0);
    std::array<int64_t, N> off{};
    int64_t r = begin;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = r % dims[d];
      r /= dims[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * st[k][d];
    }
    for (int64_t run = begin; run < end; ++run) {
      inner(off, inner_st, len);
      for (int d = nd - 2; d >= 0; --d) {
        for (size_t k = 0; k < N; ++k) off[k] += st[k][d];
        if (++idx[d] < dims[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= st[k][d] * dims[d];
        idx[d] = 0;
      }
    }
  });
}

// Broadcast strides of `a` against `shape` (0 on broadcast and missing axes).
Strides broadcast_strides(const array& a, const Shape& shape);

// Copies `src` (any layout) into `dst` laid out with `dst_strides` from `dst_offset`,
// converting the element type.
void copy_to(const array& src, array& dst, const Strides& dst_strides, int64_t dst_offset);
// Gives `out` a fresh row-major buffer.
void allocate(array& out);
// Gives `out` the buffer of `in` when `in` may be donated and the layouts fit, else a
// fresh row-major one. Returns true when the output uses `in`'s layout (flat loops).
bool allocate_like(const array& in, array& out);

// Element type helpers: 16-bit floats compute in float.
template <typename T> using compute_t = std::conditional_t<is_half_type<T>::value, float, T>;
template <typename T> inline constexpr int kind_of_v = math::kind_of<compute_t<T>>;

}  // namespace lazuli::cpu
