// Internal to the CPU gather/scatter kernels (indexing.cpp, gather.cpp): reading indices in
// their own dtype, checking them while they are used, and moving elements as raw bits.
#pragma once
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "lazuli/backend/cpu/kernels.h"

namespace lazuli::cpu {

// A row-major copy of `a` (or `a` itself when it already is one).
inline array row_major(const array& a) {
  if (a.flags().row_contiguous && a.data_size() == a.size()) return a;
  array c(a.shape(), a.dtype(), nullptr, {});
  allocate(c);
  copy_to(a, c, c.strides(), 0);
  return c;
}

// Element types by size: gathers move bits, whatever the dtype.
template <size_t N> struct Bits;
template <> struct Bits<1> { using type = uint8_t; };
template <> struct Bits<2> { using type = uint16_t; };
template <> struct Bits<4> { using type = uint32_t; };
template <> struct Bits<8> { using type = uint64_t; };

// Calls f(U{}) with U the unsigned integer as wide as one element of `itemsize` bytes.
template <typename F>
void dispatch_bits(size_t itemsize, F&& f) {
  switch (itemsize) {
    case 1: return f(Bits<1>::type{});
    case 2: return f(Bits<2>::type{});
    case 4: return f(Bits<4>::type{});
    case 8: return f(Bits<8>::type{});
  }
  throw std::runtime_error("[gather] Unsupported element size " + std::to_string(itemsize) + ".");
}

// Calls f(I{}) with I the C type of the integer index dtype `t` (other dtypes: nothing).
template <typename F>
void dispatch_index(Dtype t, F&& f) {
  dispatch_dtype(t, [&](auto v) {
    using I = decltype(v);
    if constexpr (std::is_integral_v<I>) f(v);
  });
}

// An index as int64 with negatives counted from the end of an axis of size `dim`; an
// unsigned value too large for int64 comes back as -1 (out of range), not wrapped.
template <typename I>
inline int64_t wrap_index(I raw, int64_t dim) {
  if constexpr (std::is_signed_v<I>) {
    int64_t v = static_cast<int64_t>(raw);
    return v < 0 ? v + dim : v;
  } else {
    return static_cast<uint64_t>(raw) > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(raw);
  }
}
// Whether a wrapped index lies in [0, dim): one unsigned compare.
inline bool in_range(int64_t v, int64_t dim) { return static_cast<uint64_t>(v) < static_cast<uint64_t>(dim); }

// The lowest position of an out-of-range index any thread met (kernels check while they
// gather and raise after, so the valid path pays one predictable branch per index).
class FirstBad {
 public:
  void record(int64_t i) {
    int64_t cur = pos_.load(std::memory_order_relaxed);
    while ((cur < 0 || i < cur) && !pos_.compare_exchange_weak(cur, i, std::memory_order_relaxed)) {
    }
  }
  int64_t get() const { return pos_.load(); }

 private:
  std::atomic<int64_t> pos_{-1};
};

// The index value at position i of a row-major integer array, as text (for errors).
inline std::string index_text(array idx, int64_t i) {
  std::string v;
  dispatch_index(idx.dtype(), [&](auto t) {
    using I = decltype(t);
    v = std::to_string(+static_cast<const I*>(idx.raw_data())[i]);
  });
  return v;
}

inline void raise_out_of_range(const char* op, const std::string& value, int axis, int64_t dim,
                               const std::string& extra = "") {
  throw std::out_of_range(std::string("[") + op + "] Index " + value + " is out of bounds for axis " +
                          std::to_string(axis) + " with size " + std::to_string(dim) + extra + ".");
}

}  // namespace lazuli::cpu
