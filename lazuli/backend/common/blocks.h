// Row-major shapes seen as blocks, for the host code of the CPU and CUDA backends alike.
#pragma once
#include <cstdint>
#include <vector>

#include "lazuli/array.h"

namespace lazuli {

// A shape viewed as (outer, dim, inner) around `axis`.
struct Blocks {
  int64_t outer = 1, dim = 1, inner = 1;
};
inline Blocks blocks(const Shape& shape, int axis) {
  Blocks b;
  for (int d = 0; d < axis; ++d) b.outer *= shape[d];
  b.dim = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d) b.inner *= shape[d];
  return b;
}

// A reduction of a row-major array over the dimensions marked in `reduced` as
// (outer, red, inner), or false when those dimensions (ignoring ones of size 1) are not one
// contiguous run.
inline bool as_blocks(const Shape& shape, const std::vector<bool>& reduced, int64_t& outer, int64_t& red,
                      int64_t& inner) {
  int first = -1, last = -1;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d)
    if (reduced[d] && shape[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  outer = red = inner = 1;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (first >= 0 && d >= first && d <= last) {
      if (!reduced[d] && shape[d] != 1) return false;
      red *= shape[d];
    } else if (first < 0 || d < first) {
      outer *= shape[d];
    } else {
      inner *= shape[d];
    }
  }
  return true;
}

// The element offset of each matrix of `a` (its last two axes), in row-major order over
// its leading (batch) axes, from its strides.
inline std::vector<int64_t> batch_offsets(const array& a) {
  int nb = static_cast<int>(a.ndim()) - 2;
  int64_t count = 1;
  for (int d = 0; d < nb; ++d) count *= a.shape(d);
  std::vector<int64_t> offs(count, 0);
  for (int64_t i = 0; i < count; ++i)
    for (int64_t d = nb - 1, r = i; d >= 0; --d) {
      offs[i] += (r % a.shape(d)) * a.strides()[d];
      r /= a.shape(d);
    }
  return offs;
}

}  // namespace lazuli
