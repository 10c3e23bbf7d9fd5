// Activation functions, each a few lazuli ops (so grad, vmap and jvp come for free).
#include <cmath>

#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {
// A Python-like weak scalar next to x: it takes x's dtype where the kinds agree.
template <typename T>
array w(T v, const array& x) { return weak_scalar(v, x); }
}  // namespace

array sigmoid(const array& x, S s) { return lazuli::sigmoid(x, s); }
array relu(const array& x, S s) { return maximum(x, w(0, x), s); }
array relu2(const array& x, S s) { return square(relu(x, s), s); }
array relu6(const array& x, S s) { return minimum(relu(x, s), w(6.0, x), s); }
array leaky_relu(const array& x, double negative_slope, S s) {
  return maximum(multiply(w(negative_slope, x), x, s), x, s);
}
array log_softmax(const array& x, int axis, S s) { return subtract(x, logsumexp(x, axis, true, s), s); }
array elu(const array& x, double alpha, S s) {
  // exp(min(x, 0)) keeps the unused branch finite, so its gradient does not poison where's.
  array neg = multiply(w(alpha, x), expm1(minimum(x, w(0, x), s), s), s);
  return where(greater(x, w(0, x), s), x, neg, s);
}
array softmax(const array& x, int axis, S s) { return lazuli::softmax(x, axis, false, s); }
array softplus(const array& x, S s) { return logaddexp(x, w(0, x), s); }
array softsign(const array& x, S s) { return divide(x, add(w(1, x), abs(x, s), s), s); }
array softshrink(const array& x, double lambd, S s) {
  array shrunk = subtract(x, multiply(sign(x, s), w(lambd, x), s), s);
  return where(greater(abs(x, s), w(lambd, x), s), shrunk, zeros_like(shrunk, s), s);
}
array celu(const array& x, double alpha, S s) {
  array neg = multiply(w(alpha, x), expm1(divide(minimum(x, w(0.0, x), s), w(alpha, x), s), s), s);
  return add(maximum(x, w(0.0, x), s), neg, s);
}
array silu(const array& x, S s) { return multiply(x, lazuli::sigmoid(x, s), s); }
array log_sigmoid(const array& x, S s) { return negative(softplus(negative(x, s), s), s); }
array gelu(const array& x, S s) {
  array cdf = add(w(1.0, x), erf(multiply(x, w(1.0 / std::sqrt(2.0), x), s), s), s);
  return divide(multiply(x, cdf, s), w(2.0, x), s);
}
array gelu_approx(const array& x, S s) {
  const double c = std::sqrt(2.0 / M_PI);
  array cube = multiply(x, square(x, s), s);
  array inner = multiply(w(c, x), add(x, multiply(w(0.044715, x), cube, s), s), s);
  return multiply(multiply(w(0.5, x), x, s), add(w(1.0, x), lazuli::tanh(inner, s), s), s);
}
array gelu_fast_approx(const array& x, S s) {
  return multiply(x, lazuli::sigmoid(multiply(w(1.702, x), x, s), s), s);
}
array glu(const array& x, int axis, S s) {
  int ax = normalize_axis(axis, x.ndim(), "glu");
  if (x.shape(ax) % 2 != 0)
    fail("glu", "axis " + std::to_string(axis) + " of shape " + shape_str(x.shape()) + " has an odd size.");
  std::vector<array> halves = split(x, 2, ax, s);
  return multiply(halves[0], lazuli::sigmoid(halves[1], s), s);
}
array step(const array& x, double threshold, S s) {
  return where(greater(x, w(threshold, x), s), array(1), array(0), s);
}
array selu(const array& x, S s) { return multiply(elu(x, 1.67326, s), w(1.0507, x), s); }
array prelu(const array& x, const array& alpha, S s) {
  return add(maximum(x, w(0, x), s), multiply(alpha, minimum(x, w(0, x), s), s), s);
}
array mish(const array& x, S s) { return multiply(x, lazuli::tanh(softplus(x, s), s), s); }
array hardswish(const array& x, S s) {
  array gate = minimum(maximum(add(x, w(3, x), s), w(0, x), s), w(6, x), s);
  return divide(multiply(x, gate, s), w(6, x), s);
}
array hard_tanh(const array& x, double min_val, double max_val, S s) {
  return minimum(maximum(x, w(min_val, x), s), w(max_val, x), s);
}
array hard_shrink(const array& x, double lambd, S s) {
  return where(greater(abs(x, s), w(lambd, x), s), x, zeros_like(x, s), s);
}
array softmin(const array& x, int axis, S s) { return lazuli::softmax(negative(x, s), axis, false, s); }
array tanh(const array& x, S s) { return lazuli::tanh(x, s); }

}  // namespace lazuli::nn
