// The rest of indexing, with MLX's C++ signatures: the general multi-axis gather and
// scatters, dynamic slices (start indices held in an array), masked_scatter, unstack and
// depends; and, beyond MLX, nonzero and unique (NumPy semantics).
//
// Index safety: gathers and scatters check each index when they run and raise
// std::out_of_range (Python IndexError) instead of touching memory outside a buffer;
// negative indices count from the end. Dynamic slice starts are clamped so the slice fits
// (as in JAX): they never raise.
//
// Sync points: nonzero and unique have shapes that depend on the data, so they evaluate
// their input before returning (they cannot run under vmap, and they stop the lazy graph).
#pragma once
#include <optional>
#include <type_traits>
#include <vector>

#include "lazuli/ops.h"

namespace lazuli {

// out[i..., w...] = a[window of `slice_sizes` starting at (indices[0][i...] on axes[0], ...,
// 0 on the other axes)][w...]. The index arrays broadcast together; the output has shape
// broadcast(indices).shape + slice_sizes (size-1 windows are kept, as in MLX).
array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes,
             const Shape& slice_sizes, S s = {});
array gather(const array& a, const array& indices, int axis, const Shape& slice_sizes, S s = {});

// The inverse of gather: `updates` (shape broadcast(indices).shape + a window with a.ndim
// axes) combined into a at the windows the indices start. Repeated indices apply in order
// (for scatter the last one wins).
array scatter(const array& a, const std::vector<array>& indices, const array& updates,
              const std::vector<int>& axes, S s = {});
array scatter_add(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s = {});
array scatter_prod(const array& a, const std::vector<array>& indices, const array& updates,
                   const std::vector<int>& axes, S s = {});
array scatter_max(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s = {});
array scatter_min(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s = {});

// put_along_axis that adds: a[..., indices[..., i, ...], ...] += values[..., i, ...].
array scatter_add_axis(const array& a, const array& indices, const array& values, int axis, S s = {});

// Dynamic slices: the window of `slice_size` (one size per axis of a) starting at
// start_indices[k] on axes[k] (0 elsewhere). Starts are clamped into [0, dim - size].
array dynamic_slice(const array& a, const array& start_indices, std::vector<int> axes, Shape slice_size,
                    S s = {});
// src with `update` (broadcast to src.ndim by leading unit axes) written at the starts.
array dynamic_slice_update(const array& src, const array& update, const array& start_indices,
                           std::vector<int> axes, S s = {});

// MLX's names for the two above. They are templates taking exactly an array so that a call
// with braced lists, slice(a, {0, 1}, {2, 3}, {1, 1}), still means the static slice.
template <typename Start, typename = std::enable_if_t<std::is_same_v<Start, array>>>
array slice(const array& a, const Start& start_indices, std::vector<int> axes, Shape slice_size, S s = {}) {
  return dynamic_slice(a, start_indices, std::move(axes), std::move(slice_size), s);
}
template <typename Start, typename = std::enable_if_t<std::is_same_v<Start, array>>>
array slice_update(const array& src, const array& update, const Start& start_indices, std::vector<int> axes,
                   S s = {}) {
  return dynamic_slice_update(src, update, start_indices, std::move(axes), s);
}

// src with update combined into the slice start:stop:strides (MLX's slice_update_*).
array slice_update_add(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s = {});
array slice_update_prod(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s = {});
array slice_update_max(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s = {});
array slice_update_min(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s = {});

// a with the positions where `mask` (bool, broadcast to a's shape) is true replaced, in
// row-major order, by the elements of `src` (flattened). Positions past src's end reuse
// its last element (zero when src is empty), so nothing reads outside src.
array masked_scatter(const array& a, const array& mask, const array& src, S s = {});

// The subarrays of a along `axis`, that axis removed.
std::vector<array> unstack(const array& a, int axis = 0, S s = {});

// `inputs` unchanged, but evaluating them first evaluates `dependencies`.
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies);

// Sync point. The coordinates of a's nonzero elements, one int64 array per axis (NumPy's
// nonzero); a 0-d input raises.
std::vector<array> nonzero(const array& a, S s = {});

// Sync point. NumPy's unique: the sorted distinct values (axis: the distinct subarrays along
// it), then, as asked, the index of each one's first occurrence, the inverse (for every
// element or subarray, the position of its value among the unique ones) and the counts,
// all int64. NaNs count as one value. Complex inputs are not supported.
struct UniqueResult {
  array values;
  std::optional<array> index, inverse, counts;
};
UniqueResult unique(const array& a, bool return_index = false, bool return_inverse = false,
                    bool return_counts = false, std::optional<int> axis = std::nullopt, S s = {});

}  // namespace lazuli
