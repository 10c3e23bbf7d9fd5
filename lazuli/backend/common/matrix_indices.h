// gather_mm's and gather_qmm's index arrays read on the host (every backend checks them there, so a bad index
// is the same std::out_of_range whatever device runs the product).
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lazuli/array.h"

namespace lazuli {

// The 1-D integer indices `idx` (any stride) as int64, each checked against `count` matrices.
inline std::vector<int64_t> read_matrix_indices(const array& idx, int64_t count, const char* name) {
  std::vector<int64_t> v(idx.shape(0));
  int64_t step = idx.strides()[0];
  dispatch_dtype(idx.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>) {  // the op passes integer indices only
      const T* p = static_cast<const T*>(const_cast<array&>(idx).raw_data());
      for (size_t l = 0; l < v.size(); ++l) {
        int64_t i = static_cast<int64_t>(p[l * step]);
        if (i < 0 || i >= count)
          throw std::out_of_range(std::string("[gather_mm] ") + name + " " + std::to_string(i) +
                                  " is out of range for " + std::to_string(count) + " matrices.");
        v[l] = i;
      }
    }
  });
  return v;
}

// gather_qmm's check of one (lhs, rhs) index pair: x holds x_count matrices (an empty x
// takes any lhs index), the quantized weights w_count.
inline void check_gather_qmm_indices(uint32_t lhs, uint32_t rhs, int64_t x_count, bool x_empty, int64_t w_count) {
  if (lhs >= static_cast<uint64_t>(std::max<int64_t>(x_count, 0)) && !x_empty)
    throw std::out_of_range("[gather_qmm] lhs index " + std::to_string(lhs) + " is out of range for " +
                            std::to_string(x_count) + " matrices of x.");
  if (rhs >= static_cast<uint64_t>(w_count))
    throw std::out_of_range("[gather_qmm] rhs index " + std::to_string(rhs) + " is out of range for " +
                            std::to_string(w_count) + " quantized matrices.");
}

}  // namespace lazuli
