// CPU: sorting along one axis (Sort, ArgSort, Partition, ArgPartition). Each line along the
// axis is copied into a contiguous buffer, ordered there (std::sort, std::nth_element) and
// written back; lines run in parallel. NaNs order last, as in NumPy. Index outputs order
// ties by position, so ArgSort is stable and the value and index kernels permute alike
// (the transform rules rely on that). Long lines of the key types Highway's vectorised
// quicksort (vqsort) knows go through it; argsort of 32-bit-or-smaller keys sorts
// (order-preserving key << 32 | position) as uint64, which is stable by construction.
#include <hwy/contrib/sort/vqsort.h>

#include <algorithm>
#include <bit>
#include <utility>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

template <typename C>
bool is_nan(const C& v) {
  if constexpr (std::is_floating_point_v<C>) return v != v;
  else if constexpr (is_complex_type<C>::value) return v.real() != v.real() || v.imag() != v.imag();
  else return false;
}
template <typename C>
inline constexpr bool may_be_nan = std::is_floating_point_v<C> || is_complex_type<C>::value;

// a < b for values that are not NaN (complex: by real part, then imaginary part).
template <typename C>
bool value_less(const C& a, const C& b) {
  if constexpr (is_complex_type<C>::value)
    return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
  else return a < b;
}

template <typename C>
inline constexpr bool has_vqsort = std::is_same_v<C, float> || std::is_same_v<C, double> ||
                                   std::is_same_v<C, int32_t> || std::is_same_v<C, uint32_t> ||
                                   std::is_same_v<C, int64_t> || std::is_same_v<C, uint64_t>;
// Keys that fit in 32 bits, for the packed argsort.
template <typename C>
inline constexpr bool has_key32 = std::is_same_v<C, float> || std::is_same_v<C, bool> ||
                                  (std::is_integral_v<C> && sizeof(C) <= 4);
constexpr int64_t kVqsortMin = 256;  // shorter lines: std::sort is as fast

// One sorter (it owns a buffer) per thread.
const hwy::Sorter& vqsort() {
  thread_local hwy::Sorter sorter;
  return sorter;
}

// A uint32 whose order is the value's (NaNs last and equal, -0 equal to +0).
template <typename C>
uint32_t order_key(C v) {
  if constexpr (std::is_same_v<C, float>) {
    if (v != v) return 0xFFFFFFFFu;
    if (v == 0) v = 0.f;
    uint32_t b = std::bit_cast<uint32_t>(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  } else if constexpr (std::is_signed_v<C>) {
    return static_cast<uint32_t>(static_cast<int32_t>(v)) ^ 0x80000000u;
  } else {
    return static_cast<uint32_t>(v);
  }
}

// Calls f(line, in_offset, out_offset) for lines [begin, end): every index of `shape` with
// `axis` fixed at 0, in row-major order.
template <typename F>
void for_lines(const Shape& shape, int axis, const Strides& in_st, const Strides& out_st, int64_t begin,
               int64_t end, F&& f) {
  int nd = static_cast<int>(shape.size());
  for (int64_t line = begin; line < end; ++line) {
    int64_t r = line, in_off = 0, out_off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      if (d == axis) continue;
      int64_t i = r % shape[d];
      r /= shape[d];
      in_off += i * in_st[d];
      out_off += i * out_st[d];
    }
    f(in_off, out_off);
  }
}

enum class Kind { Sort, ArgSort, Partition, ArgPartition };

// One kernel for the four primitives: `kth` is used by the partitions only.
void sort_kernel(const array& in, array& out, int axis, int kth, Kind kind) {
  allocate(out);
  if (in.size() == 0) return;
  int64_t len = in.shape()[axis];
  int64_t lines = static_cast<int64_t>(in.size()) / len;
  int64_t in_step = in.strides()[axis], out_step = out.strides()[axis];
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    using C = compute_t<T>;
    const T* px = static_cast<const T*>(const_cast<array&>(in).raw_data());
    parallel_for(lines, std::max<int64_t>(1, kGrain / len), [&](int64_t begin, int64_t end) {
      if (kind == Kind::Sort) {
        // Values only: NaNs to the end, then an ordinary sort of the rest.
        std::vector<C> buf(len);
        T* po = static_cast<T*>(out.raw_data());
        for_lines(in.shape(), axis, in.strides(), out.strides(), begin, end, [&](int64_t io, int64_t oo) {
          for (int64_t i = 0; i < len; ++i) buf[i] = static_cast<C>(px[io + i * in_step]);
          auto mid = buf.end();
          if constexpr (may_be_nan<C>) mid = std::partition(buf.begin(), buf.end(), [](const C& v) { return !is_nan(v); });
          if constexpr (has_vqsort<C>) {
            if (mid - buf.begin() >= kVqsortMin) {
              vqsort()(buf.data(), static_cast<size_t>(mid - buf.begin()), hwy::SortAscending());
              mid = buf.begin();
            }
          }
          std::sort(buf.begin(), mid, [](const C& a, const C& b) { return value_less(a, b); });
          for (int64_t i = 0; i < len; ++i) po[oo + i * out_step] = static_cast<T>(buf[i]);
        });
        return;
      }
      if constexpr (has_key32<C>) {
        if (kind == Kind::ArgSort && len >= kVqsortMin) {
          std::vector<uint64_t> keys(len);
          uint32_t* po = static_cast<uint32_t*>(out.raw_data());
          for_lines(in.shape(), axis, in.strides(), out.strides(), begin, end, [&](int64_t io, int64_t oo) {
            for (int64_t i = 0; i < len; ++i)
              keys[i] = (uint64_t{order_key(static_cast<C>(px[io + i * in_step]))} << 32) | static_cast<uint64_t>(i);
            vqsort()(keys.data(), static_cast<size_t>(len), hwy::SortAscending());
            for (int64_t i = 0; i < len; ++i) po[oo + i * out_step] = static_cast<uint32_t>(keys[i]);
          });
          return;
        }
      }
      // (value, position) pairs, ordered by value then position; NaNs keep their order at the end.
      using P = std::pair<C, uint32_t>;
      std::vector<P> buf(len), nans;
      auto cmp = [](const P& a, const P& b) {
        return value_less(a.first, b.first) || (!value_less(b.first, a.first) && a.second < b.second);
      };
      for_lines(in.shape(), axis, in.strides(), out.strides(), begin, end, [&](int64_t io, int64_t oo) {
        int64_t n = 0;
        nans.clear();
        for (int64_t i = 0; i < len; ++i) {
          C v = static_cast<C>(px[io + i * in_step]);
          if (may_be_nan<C> && is_nan(v)) nans.emplace_back(v, static_cast<uint32_t>(i));
          else buf[n++] = {v, static_cast<uint32_t>(i)};
        }
        std::copy(nans.begin(), nans.end(), buf.begin() + n);
        if (kind == Kind::ArgSort) std::sort(buf.begin(), buf.begin() + n, cmp);
        else if (kth < n) std::nth_element(buf.begin(), buf.begin() + kth, buf.begin() + n, cmp);
        if (kind == Kind::Partition) {
          T* po = static_cast<T*>(out.raw_data());
          for (int64_t i = 0; i < len; ++i) po[oo + i * out_step] = static_cast<T>(buf[i].first);
        } else {
          uint32_t* po = static_cast<uint32_t*>(out.raw_data());
          for (int64_t i = 0; i < len; ++i) po[oo + i * out_step] = buf[i].second;
        }
      });
    });
  });
}

}  // namespace

void Sort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  sort_kernel(inputs[0], outputs[0], axis_, 0, Kind::Sort);
}
void ArgSort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  sort_kernel(inputs[0], outputs[0], axis_, 0, Kind::ArgSort);
}
void Partition::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  sort_kernel(inputs[0], outputs[0], axis_, kth_, Kind::Partition);
}
void ArgPartition::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  sort_kernel(inputs[0], outputs[0], axis_, kth_, Kind::ArgPartition);
}

}  // namespace lazuli
