// Internal helpers shared by the op files: argument checks that name the op.
#pragma once
#include <sstream>
#include <string>

#include "lazuli/ops.h"
#include "lazuli/primitives.h"

namespace lazuli::detail {

std::string shape_str(const Shape& s);
int normalize_axis(int axis, int ndim, const char* op);
// Sorted, unique, non-negative axes; all axes when `axes` is empty and `all_if_empty`.
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op);
[[noreturn]] void fail(const char* op, const std::string& msg);

template <typename P, typename... Args>
array make_node(const std::vector<array>& inputs, Dtype dtype, S s, Args&&... args) {
  auto p = std::make_shared<P>(to_stream(s), std::forward<Args>(args)...);
  auto shapes = p->output_shapes(inputs);
  return array(std::move(shapes[0]), dtype, std::move(p), inputs);
}

// For transform rules: float or complex (only those carry derivatives).
inline bool inexact(const array& a) { return !is_integral(a.dtype()); }
// For vmap rules: x with its batch axis `ax` moved to the front (-1 or 0: as it is).
inline array to_front(const array& x, int ax, S s = {}) { return ax <= 0 ? x : moveaxis(x, ax, 0, s); }

}  // namespace lazuli::detail
