// Positional encodings and multi-head attention in functional form (MLX's nn.positional
// and nn.MultiHeadAttention); attention itself is fast::scaled_dot_product_attention.
#include <cmath>

#include "lazuli/fast.h"
#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

array sinusoidal_frequencies(int dims, double min_freq, double max_freq, bool full_turns, S s) {
  const char* op = "sinusoidal_positional_encoding";
  // The sigmas interpolate between the two frequencies over dims / 2 - 1 steps.
  if (dims < 4) fail(op, "dims must be at least 4, got " + std::to_string(dims) + ".");
  if (!(min_freq > 0) || !(max_freq > 0))
    fail(op, "min_freq and max_freq must be positive, got " + std::to_string(min_freq) + " and " +
                 std::to_string(max_freq) + ".");
  const int half = dims / 2;
  double lo = std::log(min_freq), hi = std::log(max_freq);
  array one_zero = subtract(array(1.0f), divide(arange(0.0, half, float32, s), array(half - 1.0f), s), s);
  array sigmas = exp(add(multiply(one_zero, array(static_cast<float>(hi - lo)), s), array(static_cast<float>(lo)), s),
                     s);
  return full_turns ? multiply(sigmas, array(static_cast<float>(2 * M_PI)), s) : sigmas;
}

array sinusoidal_positional_encoding(const array& x, const array& sigmas, double scale, bool cos_first, S s) {
  array y = multiply(expand_dims(x, -1, s), sigmas, s);
  array c = cos(y, s), sn = sin(y, s);
  y = cos_first ? concatenate({c, sn}, -1, s) : concatenate({sn, c}, -1, s);
  return scale == 1.0 ? y : multiply(y, weak_scalar(scale, y), s);
}

array alibi_slope(int num_heads, S s) {
  if (num_heads < 1) fail("alibi", "num_heads must be positive, got " + std::to_string(num_heads) + ".");
  array base(static_cast<float>(std::pow(256.0, 1.0 / num_heads)));
  array slopes = power(base, negative(arange(1.0, num_heads + 1.0, float32, s), s), s);
  return reshape(slopes, {num_heads, 1, 1}, s);
}

array alibi_matrix(int q_len, int k_len, int num_heads, int offset, Dtype dtype, S s) {
  array queries = expand_dims(arange(offset, q_len, s), 1, s);
  array distance = negative(abs(subtract(queries, arange(0, k_len, s), s), s), s);  // (q_len - offset, k_len)
  return astype(multiply(expand_dims(distance, {0, 1}, s), alibi_slope(num_heads, s), s), dtype, s);
}

array alibi(const array& scores, int offset, const OptArray& mask, S s) {
  if (scores.ndim() != 4)
    fail("alibi", "attention scores must have shape (batch, heads, queries, keys), got " +
                      shape_str(scores.shape()) + ".");
  array bias = alibi_matrix(scores.shape(2) + offset, scores.shape(3), scores.shape(1), offset, scores.dtype(), s);
  if (mask) bias = add(bias, *mask, s);
  return add(scores, bias, s);
}

array additive_causal_mask(int n, Dtype dtype, S s) {
  if (!is_floating_point(dtype))
    fail("create_additive_causal_mask", "dtype must be floating, got " + dtype_name(dtype) + ".");
  array idx = arange(0, n, s);
  array future = less(expand_dims(idx, 1, s), idx, s);
  return multiply(astype(future, dtype, s), array(finfo(dtype).min, dtype), s);
}

array multi_head_attention(const array& queries, const array& keys, const array& values, int num_heads,
                           const AttentionWeights& w, const std::string& mask_mode, const OptArray& mask, S s) {
  const char* op = "multi_head_attention";
  for (const array* a : {&queries, &keys, &values})
    if (a->ndim() != 3)
      fail(op, "queries, keys and values must have shape (batch, sequence, features), got " +
                   shape_str(a->shape()) + ".");
  if (num_heads < 1) fail(op, "num_heads must be positive, got " + std::to_string(num_heads) + ".");
  array q = linear(queries, w.query_weight, w.query_bias, s);
  array k = linear(keys, w.key_weight, w.key_bias, s);
  array v = linear(values, w.value_weight, w.value_bias, s);
  if (q.shape(-1) % num_heads != 0 || v.shape(-1) % num_heads != 0)
    fail(op, "the projected query (" + std::to_string(q.shape(-1)) + ") and value (" + std::to_string(v.shape(-1)) +
                 ") dims must be divisible by num_heads (" + std::to_string(num_heads) + ").");
  // (batch, sequence, heads * d) -> (batch, heads, sequence, d)
  auto heads = [&](const array& a) { return transpose(unflatten(a, -1, {num_heads, -1}, s), {0, 2, 1, 3}, s); };
  float scale = static_cast<float>(std::sqrt(1.0 / (q.shape(-1) / num_heads)));
  array o = fast::scaled_dot_product_attention(heads(q), heads(k), heads(v), scale, mask_mode, mask, std::nullopt, s);
  o = flatten(transpose(o, {0, 2, 1, 3}, s), -2, -1, s);
  return linear(o, w.out_weight, w.out_bias, s);
}

}  // namespace lazuli::nn
