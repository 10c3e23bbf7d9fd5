// Upsampling of channels-last arrays (N, *spatial, C). Every mode is separable, so each
// spatial axis is resampled in turn: output sample j along an axis of length n is a weighted
// sum of the input samples at a few (clamped) indices, gathered with take(). The sampling
// positions are computed on the host in float32 exactly as MLX computes them, so the same
// input samples are picked.
#include <cmath>

#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {

// One neighbour of every output sample along an axis: its input index and its weight.
struct Tap {
  std::vector<int32_t> index;
  std::vector<float> weight;
};

int output_size(int n, double scale) { return static_cast<int>(scale * n); }

void check_input(const char* op, const array& x, const std::vector<double>& scale_factor) {
  if (x.ndim() < 3)
    fail(op, "input must have shape (N, *spatial, C) with at least one spatial axis, got shape " +
                 shape_str(x.shape()) + ".");
  if (scale_factor.size() != size_t(x.ndim() - 2))
    fail(op, "one scale factor per spatial axis is needed: the input of shape " + shape_str(x.shape()) + " has " +
                 std::to_string(x.ndim() - 2) + " but " + std::to_string(scale_factor.size()) + " were given.");
  for (double f : scale_factor)
    if (!(f > 0) || !std::isfinite(f))
      fail(op, "scale factors must be positive and finite, got " + std::to_string(f) + ".");
}

// Where output sample j falls in the input, in input samples: align_corners maps the end
// samples onto each other, otherwise the pixel centres are scaled about the middle.
std::vector<float> source_positions(int n, double scale, bool align_corners) {
  int m = output_size(n, scale);
  std::vector<float> pos(m);
  if (align_corners) {
    float step = m > 1 ? static_cast<float>(double(n - 1) / (m - 1)) : 0.f;
    for (int j = 0; j < m; ++j) pos[j] = float(j) * step;
  } else {
    double step = 1 / scale;
    float start = static_cast<float>(((m - 1) * step - n + 1) / 2);
    for (int j = 0; j < m; ++j) pos[j] = float(j) * float(step) - start;
  }
  return pos;
}

int32_t clamp_index(float i, int n) { return static_cast<int32_t>(std::clamp(i, 0.f, float(n - 1))); }

std::vector<Tap> linear_taps(int n, double scale, bool align_corners) {
  std::vector<float> pos = source_positions(n, scale, align_corners);
  std::vector<Tap> taps(2);
  for (float p : pos) {
    p = std::clamp(p, 0.f, float(n - 1));
    float lo = std::floor(p), frac = p - lo;
    taps[0].index.push_back(int32_t(lo));
    taps[0].weight.push_back(1 - frac);
    taps[1].index.push_back(int32_t(std::ceil(p)));
    taps[1].weight.push_back(frac);
  }
  return taps;
}

// Keys' cubic convolution kernel with a = -0.75 (OpenCV's and PyTorch's choice) at distance
// d, for the inner (d <= 1) and outer (1 < d < 2) neighbours.
float cubic_inner(float d) {
  const float a = -0.75f;
  return ((a + 2) * d - (a + 3)) * d * d + 1;
}
float cubic_outer(float d) {
  const float a = -0.75f;
  return (((d - 5) * d + 8) * d - 4) * a;
}

std::vector<Tap> cubic_taps(int n, double scale, bool align_corners) {
  std::vector<float> pos = source_positions(n, scale, align_corners);
  std::vector<Tap> taps(4);
  for (float p : pos) {
    float l1 = std::floor(p), r1 = std::floor(p + 1);
    const float grid[4] = {l1 - 1, l1, r1, r1 + 1};
    for (int t = 0; t < 4; ++t) {
      float d = std::abs(p - grid[t]);
      taps[t].index.push_back(clamp_index(grid[t], n));
      taps[t].weight.push_back(t == 1 || t == 2 ? cubic_inner(d) : cubic_outer(d));
    }
  }
  return taps;
}

std::vector<int32_t> nearest_indices(int n, double scale) {
  int m = output_size(n, scale);
  float ratio = static_cast<float>(double(n) / m);
  std::vector<int32_t> index(m);
  for (int j = 0; j < m; ++j)
    index[j] = m > n ? int32_t(std::nearbyint((float(j) + 0.5f) * ratio - 0.5f)) : int32_t(float(j) * ratio);
  return index;
}

array vector_array(const std::vector<int32_t>& v) { return array(v.begin(), Shape{int(v.size())}, int32); }

// sum_t weight_t * x[index_t] along `axis`, the weights broadcast along that axis.
array resample_axis(const array& x, int axis, const std::vector<Tap>& taps, S s) {
  OptArray out;
  for (const Tap& t : taps) {
    Shape wshape(x.ndim(), 1);
    wshape[axis] = int(t.weight.size());
    array weight(t.weight.begin(), wshape, float32);
    array term = multiply(weight, take(x, vector_array(t.index), axis, s), s);
    out = out ? add(*out, term, s) : term;
  }
  return *out;
}

using TapsFn = std::vector<Tap> (*)(int, double, bool);

array interpolate(const char* op, const array& x, const std::vector<double>& scale_factor, bool align_corners,
                  TapsFn taps, S s) {
  check_input(op, x, scale_factor);
  array y = x;
  for (size_t i = 0; i < scale_factor.size(); ++i) {
    int axis = int(i) + 1;
    y = resample_axis(y, axis, taps(x.shape(axis), scale_factor[i], align_corners), s);
  }
  return y;
}

}  // namespace

array upsample_nearest(const array& x, const std::vector<double>& scale_factor, S s) {
  check_input("upsample_nearest", x, scale_factor);
  array y = x;
  for (size_t i = 0; i < scale_factor.size(); ++i) {
    int axis = int(i) + 1;
    double f = scale_factor[i];
    // An integer factor repeats every sample; the index rule picks the same ones.
    y = f == std::floor(f) ? repeat(y, int(f), axis, s)
                           : take(y, vector_array(nearest_indices(x.shape(axis), f)), axis, s);
  }
  return y;
}

array upsample_linear(const array& x, const std::vector<double>& scale_factor, bool align_corners, S s) {
  return interpolate("upsample_linear", x, scale_factor, align_corners, &linear_taps, s);
}

array upsample_cubic(const array& x, const std::vector<double>& scale_factor, bool align_corners, S s) {
  return interpolate("upsample_cubic", x, scale_factor, align_corners, &cubic_taps, s);
}

}  // namespace lazuli::nn
