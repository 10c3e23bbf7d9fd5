// The layers' forward passes in functional form (the classes only hold parameters).
#include "lazuli/fast.h"
#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {
template <typename T>
array w(T v, const array& x) { return weak_scalar(v, x); }

array affine(array y, const OptArray& weight, const OptArray& bias, S s) {
  if (weight) y = multiply(y, *weight, s);
  if (bias) y = add(y, *bias, s);
  return y;
}

// (x - mean) / sqrt(var + eps) over `axes`.
array standardize(const array& x, const std::vector<int>& axes, double eps, S s) {
  array mu = mean(x, axes, true, s);
  array v = var(x, axes, true, 0, s);
  return multiply(subtract(x, mu, s), rsqrt(add(v, w(eps, v), s), s), s);
}
}  // namespace

array linear(const array& x, const array& weight, const OptArray& bias, S s) {
  if (weight.ndim() != 2) fail("linear", "weight must be 2-d (out, in), got shape " + shape_str(weight.shape()) + ".");
  array wt = transpose(weight, s);
  return bias ? addmm(*bias, x, wt, 1.f, 1.f, s) : matmul(x, wt, s);
}

array bilinear(const array& x1, const array& x2, const array& weight, const OptArray& bias, S s) {
  const char* op = "bilinear";
  if (weight.ndim() != 3) fail(op, "weight must be 3-d (out, in2, in1), got shape " + shape_str(weight.shape()) + ".");
  int out = weight.shape(0), in2 = weight.shape(1), in1 = weight.shape(2);
  if (x1.ndim() == 0 || x1.shape(-1) != in1 || x2.ndim() == 0 || x2.shape(-1) != in2)
    fail(op, "inputs of shapes " + shape_str(x1.shape()) + " and " + shape_str(x2.shape()) +
                 " do not match the weight of shape " + shape_str(weight.shape()) + ".");
  Shape batch(x1.shape().begin(), x1.shape().end() - 1);
  // y[b, o] = sum_j x2[b, j] * (x1[b] @ W[o, j, :]): one matmul for x1 W, one batched for x2.
  array a = reshape(x1, {-1, in1}, s);
  array b = reshape(x2, {-1, 1, in2}, s);
  array xw = matmul(a, transpose(reshape(weight, {out * in2, in1}, s), s), s);  // (n, out * in2)
  xw = swapaxes(reshape(xw, {-1, out, in2}, s), -2, -1, s);                      // (n, in2, out)
  array y = squeeze(matmul(b, xw, s), 1, s);                                    // (n, out)
  Shape out_shape = batch;
  out_shape.push_back(out);
  y = reshape(y, out_shape, s);
  return bias ? add(y, *bias, s) : y;
}

array embedding(const array& indices, const array& weight, S s) {
  if (!is_integral(indices.dtype()) || indices.dtype() == bool_)
    fail("embedding", "indices must be integers.");
  return take(weight, indices, 0, s);
}

// MLX's nn.LayerNorm and nn.RMSNorm are mx.fast's: one definition of the math, in fast.cpp.
array layer_norm(const array& x, const OptArray& weight, const OptArray& bias, double eps, S s) {
  return fast::layer_norm(x, weight, bias, static_cast<float>(eps), s);
}

array rms_norm(const array& x, const OptArray& weight, double eps, S s) {
  return fast::rms_norm(x, weight, static_cast<float>(eps), s);
}

array group_norm(const array& x, int num_groups, const OptArray& weight, const OptArray& bias, double eps,
                 bool pytorch_compatible, S s) {
  const char* op = "group_norm";
  if (x.ndim() < 2) fail(op, "input must have a batch and a channel axis, got shape " + shape_str(x.shape()) + ".");
  int dims = x.shape(-1);
  if (num_groups <= 0 || dims % num_groups != 0)
    fail(op, std::to_string(dims) + " channels do not split into " + std::to_string(num_groups) + " groups.");
  int batch = x.shape(0);
  int group_size = dims / num_groups;
  array y = x;
  if (pytorch_compatible) {
    // Groups of consecutive channels: (batch, rest, groups, size) -> normalise over rest and size.
    y = reshape(x, {batch, -1, num_groups, group_size}, s);
    y = standardize(y, {1, 3}, eps, s);
  } else {
    // MLX's default: channel c belongs to group c % num_groups.
    y = reshape(x, {batch, -1, num_groups}, s);
    y = standardize(y, {1}, eps, s);
  }
  return affine(reshape(y, x.shape(), s), weight, bias, s);
}

array instance_norm(const array& x, const OptArray& weight, const OptArray& bias, double eps, S s) {
  if (x.ndim() < 3)
    fail("instance_norm", "input must be (batch, ..., channels) with a spatial axis, got shape " +
                              shape_str(x.shape()) + ".");
  std::vector<int> axes;
  for (int i = 1; i + 1 < static_cast<int>(x.ndim()); ++i) axes.push_back(i);
  return affine(standardize(x, axes, eps, s), weight, bias, s);
}

array batch_norm(const array& x, const array& mu, const array& v, const OptArray& weight, const OptArray& bias,
                 double eps, S s) {
  array y = multiply(subtract(x, mu, s), rsqrt(add(v, w(eps, v), s), s), s);
  return affine(y, weight, bias, s);
}

array dropout(const array& x, double p, int spatial_dims, const random::Key& key, S s) {
  const char* op = "dropout";
  if (p < 0 || p >= 1) fail(op, "the dropout probability " + std::to_string(p) + " is not in [0, 1).");
  if (spatial_dims < 0 || (spatial_dims > 0 && static_cast<int>(x.ndim()) < spatial_dims + 1))
    fail(op, "input of shape " + shape_str(x.shape()) + " has no " + std::to_string(spatial_dims) +
                 " spatial axes before its channels.");
  if (p == 0) return x;
  Shape mask_shape = x.shape();
  for (int i = 2; i <= spatial_dims + 1 && spatial_dims > 0; ++i) mask_shape[x.ndim() - i] = 1;
  double keep = 1 - p;
  array mask = random::bernoulli(keep, mask_shape, key, s);
  return multiply(multiply(astype(mask, x.dtype(), s), x, s), w(1.0 / keep, x), s);
}

}  // namespace lazuli::nn
