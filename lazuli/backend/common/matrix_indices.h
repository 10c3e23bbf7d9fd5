// gather_mm's index arrays read on the host (every backend checks them there, so a bad index
// is the same std::out_of_range whatever device runs the product).
#pragma once
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

}  // namespace lazuli
