// Max and average pooling over the spatial axes of channels-last inputs.
#include <algorithm>
#include <limits>

#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {

std::string ints_str(const std::vector<int>& v) {
  std::string out = "(";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + (v.size() == 1 ? ",)" : ")");
}

// x (N, *spatial, C) padded by `padding` on both sides of each spatial axis with
// `padding_value`, then reduced over windows of `kernel` taken every `stride`. The windows
// are a strided view (N, *out_spatial, *kernel, C) of the padded input, so nothing is copied
// before the reduction and gradients flow back through as_strided.
template <typename Reduce>
array pool(const char* op, const array& input, const std::vector<int>& kernel, const std::vector<int>& stride,
           const std::vector<int>& padding, double padding_value, Reduce reduce, S s) {
  const size_t n = kernel.size();
  if (n == 0 || stride.size() != n || padding.size() != n)
    fail(op, "kernel_size " + ints_str(kernel) + ", stride " + ints_str(stride) + " and padding " +
                 ints_str(padding) + " must have one value per spatial axis.");
  for (size_t i = 0; i < n; ++i) {
    if (kernel[i] < 1 || stride[i] < 1)
      fail(op, "kernel_size and stride must be positive, got " + ints_str(kernel) + " and " + ints_str(stride) + ".");
    if (padding[i] < 0) fail(op, "padding must be non-negative, got " + ints_str(padding) + ".");
  }
  if (input.ndim() != n + 2)
    fail(op, "expected an input of " + std::to_string(n + 2) + " dimensions (N, *spatial, C) for " +
                 std::to_string(n) + " spatial axes, got shape " + shape_str(input.shape()) + ".");
  array x = input;
  if (std::any_of(padding.begin(), padding.end(), [](int p) { return p > 0; })) {
    std::vector<std::pair<int, int>> widths{{0, 0}};
    for (int p : padding) widths.emplace_back(p, p);
    widths.emplace_back(0, 0);
    x = pad(x, widths, array(padding_value, x.dtype()), "constant", s);
  }
  Shape spatial(x.shape().begin() + 1, x.shape().end() - 1);
  for (size_t i = 0; i < n; ++i)
    if (spatial[i] < kernel[i])
      fail(op, "window " + ints_str(kernel) + " is larger than the (padded) spatial shape " + shape_str(spatial) + ".");
  // Row-major element strides of the padded input.
  Strides strides(x.ndim(), 1);
  for (int axis = static_cast<int>(x.ndim()) - 2; axis >= 0; --axis)
    strides[axis] = strides[axis + 1] * x.shape(axis + 1);
  Shape shape{x.shape(0)};
  Strides view{strides[0]};
  for (size_t i = 0; i < n; ++i) {
    shape.push_back((spatial[i] - kernel[i]) / stride[i] + 1);
    view.push_back(strides[i + 1] * stride[i]);
  }
  for (size_t i = 0; i < n; ++i) {
    shape.push_back(kernel[i]);
    view.push_back(strides[i + 1]);
  }
  shape.push_back(x.shape(-1));
  view.push_back(1);
  std::vector<int> window_axes;
  for (int i = 0; i < static_cast<int>(n); ++i) window_axes.push_back(-static_cast<int>(n) - 1 + i);
  return reduce(as_strided(x, shape, view, 0, s), window_axes, false, s);
}

}  // namespace

array max_pool(const array& x, const std::vector<int>& kernel_size, const std::vector<int>& stride,
               const std::vector<int>& padding, S s) {
  using R = array (*)(const array&, const std::vector<int>&, bool, S);
  return pool("max_pool", x, kernel_size, stride, padding, -std::numeric_limits<double>::infinity(),
              static_cast<R>(&max), s);
}

array avg_pool(const array& x, const std::vector<int>& kernel_size, const std::vector<int>& stride,
               const std::vector<int>& padding, S s) {
  using R = array (*)(const array&, const std::vector<int>&, bool, S);
  return pool("avg_pool", x, kernel_size, stride, padding, 0.0, static_cast<R>(&mean), s);
}

}  // namespace lazuli::nn
