// lazuli::fast, composed of lazuli ops (see lazuli/fast.h for the semantics).
#include "lazuli/fast.h"

#include <algorithm>
#include <cmath>

#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/fast.h"

namespace lazuli::fast {

using namespace lazuli::detail;
using S = StreamOrDevice;
using OptArray = std::optional<array>;

namespace {

// The floating dtype an op returns; non-floating results are refused.
Dtype floating_result(const char* op, const std::vector<array>& inputs) {
  Dtype t = result_type(inputs);
  if (!is_floating_point(t)) fail(op, "Received unsupported type " + dtype_name(t) + ".");
  return t;
}

// 16-bit floats are computed in float32; float32 and float64 as they are.
Dtype compute_type(Dtype t) { return promote_types(t, float32); }

void check_vector_param(const char* op, const char* name, const OptArray& p, const array& x) {
  if (!p) return;
  if (p->ndim() != 1)
    fail(op, std::string(name) + " must have 1 dimension but has shape " + shape_str(p->shape()) + ".");
  if (p->shape(0) != x.shape(-1))
    fail(op, std::string(name) + " must have the size of the last axis of x (" + std::to_string(x.shape(-1)) +
                 ") but has " + std::to_string(p->shape(0)) + " elements.");
}

void check_has_axis(const char* op, const array& x) {
  if (x.ndim() == 0) fail(op, "Input must have at least 1 dimension but got a 0-d array.");
}

array scalar(double v, Dtype t) { return array(v, t); }

// x[..., start:stop] along the last axis.
array last_axis_slice(const array& x, int start, int stop, S s) {
  Shape lo(x.ndim(), 0), hi = x.shape();
  lo.back() = start;
  hi.back() = stop;
  return slice(x, lo, hi, s);
}

}  // namespace

array rms_norm(const array& x, const OptArray& weight, float eps, S s) {
  const char* op = "rms_norm";
  check_has_axis(op, x);
  check_vector_param(op, "weight", weight, x);
  Dtype out = weight ? floating_result(op, {x, *weight}) : floating_result(op, {x});
  Stream st = to_stream(s);
  if (!runs_fused(x, out, st)) return rms_norm_composed(x, weight, eps, s);
  return fused_rms_norm(astype(x, out, s), weight ? OptArray(astype(*weight, out, s)) : std::nullopt, eps, st);
}

array layer_norm(const array& x, const OptArray& weight, const OptArray& bias, float eps, S s) {
  const char* op = "layer_norm";
  check_has_axis(op, x);
  check_vector_param(op, "weight", weight, x);
  check_vector_param(op, "bias", bias, x);
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(*weight);
  if (bias) inputs.push_back(*bias);
  Dtype out = floating_result(op, inputs);
  Stream st = to_stream(s);
  if (!runs_fused(x, out, st)) return layer_norm_composed(x, weight, bias, eps, s);
  auto cast = [&](const OptArray& p) { return p ? OptArray(astype(*p, out, s)) : std::nullopt; };
  return fused_layer_norm(astype(x, out, s), cast(weight), cast(bias), eps, st);
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const OptArray& freqs, S s) {
  return rope(x, dims, traditional, base, scale, array(offset, int32), freqs, s);
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const OptArray& freqs, S s) {
  const char* op = "rope";
  if (x.ndim() < 3)
    fail(op, "Input must have at least 3 dimensions but got shape " + shape_str(x.shape()) + ".");
  if (!is_floating_point(x.dtype())) fail(op, "Input must be a floating type but got " + dtype_name(x.dtype()) + ".");
  const int features = x.shape(-1);
  if (dims < 0 || dims % 2 != 0 || dims > features)
    fail(op, "dims must be even and at most the last axis (" + std::to_string(features) + "), got " +
                 std::to_string(dims) + ".");
  if (base.has_value() == freqs.has_value())
    fail(op, base ? "Only one of base or freqs can have a value." : "Neither base nor freqs has a value.");
  const int half = dims / 2;
  if (freqs && (freqs->ndim() != 1 || freqs->shape(0) != half))
    fail(op, "freqs must be one dimensional with size " + std::to_string(half) + " but got shape " +
                 shape_str(freqs->shape()) + ".");
  if (!is_integral(offset.dtype()) || offset.dtype() == bool_)
    fail(op, "offset must be an integer but got type " + dtype_name(offset.dtype()) + ".");
  const int batch = x.shape(0);
  if (offset.ndim() > 1 || (offset.ndim() == 1 && offset.shape(0) != 1 && offset.shape(0) != batch))
    fail(op, "offset must be a scalar or a vector with 1 or " + std::to_string(batch) +
                 " (batch) elements but has shape " + shape_str(offset.shape()) + ".");
  if (dims == 0) return x;
  Stream st = to_stream(s);
  if (!runs_fused(x, x.dtype(), st)) return rope_composed(x, dims, traditional, base, scale, offset, freqs, s);
  return fused_rope(x, dims, traditional, base, scale, offset, freqs, st);
}

namespace {

// A per-query-head array (mask of rank <= 4 or sinks reshaped to (n_q, 1, 1)) laid out
// as the scores: (B, n_kv, n_rep, q_len, k_len) when heads are grouped.
array group_heads(const array& a, int n_q, int n_kv, S s) {
  if (n_q == n_kv) return a;
  Shape shape = a.shape();
  while (shape.size() < 4) shape.insert(shape.begin(), 1);
  array a4 = reshape(a, shape, s);
  return shape[1] == n_q ? unflatten(a4, 1, {n_kv, n_q / n_kv}, s) : expand_dims(a4, 2, s);
}

void check_attention_inputs(const array& q, const array& k, const array& v) {
  const char* op = "scaled_dot_product_attention";
  for (const array* a : {&q, &k, &v})
    if (a->ndim() != 4)
      fail(op, "queries, keys and values must have rank 4 (batch, heads, sequence, features); got shape " +
                   shape_str(a->shape()) + ".");
  if (q.shape(0) != k.shape(0) || q.shape(0) != v.shape(0))
    fail(op, "mismatching batch sizes: queries " + shape_str(q.shape()) + ", keys " + shape_str(k.shape()) +
                 ", values " + shape_str(v.shape()) + ".");
  if (q.shape(-1) != k.shape(-1))
    fail(op, "queries and keys must have the same last dimension; got queries " + shape_str(q.shape()) +
                 " and keys " + shape_str(k.shape()) + ".");
  if (k.shape(1) != v.shape(1) || k.shape(2) != v.shape(2))
    fail(op, "keys and values must have the same heads and sequence length; got keys " + shape_str(k.shape()) +
                 " and values " + shape_str(v.shape()) + ".");
  if (k.shape(1) == 0 || q.shape(1) % k.shape(1) != 0)
    fail(op, "the query heads (" + std::to_string(q.shape(1)) + ") must be a multiple of the key/value heads (" +
                 std::to_string(k.shape(1)) + ").");
}

}  // namespace

array scaled_dot_product_attention(const array& queries, const array& keys, const array& values, float scale,
                                   const std::string& mask_mode, const OptArray& mask, const OptArray& sinks, S s) {
  const char* op = "scaled_dot_product_attention";
  check_attention_inputs(queries, keys, values);
  Dtype out = floating_result(op, {queries, keys, values});
  const bool causal = mask_mode == "causal";
  if (!causal && !mask_mode.empty())
    fail(op, "invalid mask mode '" + mask_mode + "'; it must be 'causal' or empty (then mask may be an array).");
  if (causal && mask) fail(op, "a causal mask takes no mask array.");
  const int batch = queries.shape(0), n_q = queries.shape(1);
  const int q_len = queries.shape(2), k_len = keys.shape(2);
  const Shape scores_shape{batch, n_q, q_len, k_len};
  if (mask) {
    if (mask->ndim() > 4) fail(op, "the mask must have rank at most 4, got shape " + shape_str(mask->shape()) + ".");
    Shape b;
    try {
      b = broadcast_shapes(mask->shape(), scores_shape);
    } catch (const std::invalid_argument&) {
    }
    if (b != scores_shape)
      fail(op, "the mask of shape " + shape_str(mask->shape()) + " does not broadcast to the scores' shape " +
                   shape_str(scores_shape) + ".");
    if (mask->dtype() != bool_ && promote_types(mask->dtype(), out) != out)
      fail(op, "an additive mask's type (" + dtype_name(mask->dtype()) + ") must promote to the output type " +
                   dtype_name(out) + ".");
  }
  if (sinks) {
    if (sinks->ndim() != 1 || sinks->shape(0) != n_q)
      fail(op, "sinks must have shape (" + std::to_string(n_q) + ",) (one per query head), got " +
                   shape_str(sinks->shape()) + ".");
    if (promote_types(sinks->dtype(), out) != out)
      fail(op, "the sinks' type (" + dtype_name(sinks->dtype()) + ") must promote to the output type " +
                   dtype_name(out) + ".");
  }

  Stream st = to_stream(s);
  if (!attention_runs_fused(queries, keys, values, out, st))
    return sdpa_composed(queries, keys, values, scale, causal, mask, sinks, s);
  // The fused node takes its inputs in the result type (a boolean mask stays boolean; boolean
  // sinks, which promote, are logits of 0 and 1 like any other type's).
  auto cast = [&](const OptArray& a) {
    return a && a->dtype() != bool_ ? OptArray(astype(*a, out, s)) : a;
  };
  return fused_attention(astype(queries, out, s), astype(keys, out, s), astype(values, out, s), scale, causal,
                         cast(mask), sinks ? OptArray(astype(*sinks, out, s)) : std::nullopt, st);
}

}  // namespace lazuli::fast

namespace lazuli::detail {

using fast::group_heads;
using fast::last_axis_slice;
using fast::scalar;

// The result dtype is that of x and the parameters together (the ops check they are floating).
array rms_norm_composed(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  Dtype out = weight ? result_type({x, *weight}) : x.dtype();
  Dtype ct = promote_types(out, float32);  // 16-bit floats are computed in float32
  array xc = astype(x, ct, s);
  array ms = mean(square(xc, s), -1, true, s);
  array y = astype(multiply(xc, rsqrt(add(ms, array(double(eps), ct), s), s), s), out, s);
  return weight ? multiply(y, *weight, s) : y;
}

array layer_norm_composed(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                          float eps, StreamOrDevice s) {
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(*weight);
  if (bias) inputs.push_back(*bias);
  Dtype out = result_type(inputs);
  Dtype ct = promote_types(out, float32);
  array xc = astype(x, ct, s);
  array centred = subtract(xc, mean(xc, -1, true, s), s);
  array v = mean(square(centred, s), -1, true, s);
  array y = astype(multiply(centred, rsqrt(add(v, array(double(eps), ct), s), s), s), out, s);
  if (weight) y = multiply(y, *weight, s);
  if (bias) y = add(y, *bias, s);
  return y;
}

// The attention of fast::scaled_dot_product_attention, after its checks: scores and
// probabilities in the result type, the softmax in float32 (precise).
array sdpa_composed(const array& queries, const array& keys, const array& values, float scale, bool causal,
                    const std::optional<array>& mask, const std::optional<array>& sinks, StreamOrDevice s) {
  Dtype out = result_type({queries, keys, values});
  const int n_q = queries.shape(1), n_kv = keys.shape(1);
  const int q_len = queries.shape(2), k_len = keys.shape(2);
  // Grouped heads: q (B, n_kv, n_rep, q_len, D) against k, v (B, n_kv, 1, k_len, D).
  array q = multiply(astype(queries, out, s), scalar(scale, out), s);
  array k = astype(keys, out, s), v = astype(values, out, s);
  if (n_q != n_kv) {
    q = unflatten(q, 1, {n_kv, n_q / n_kv}, s);
    k = expand_dims(k, 2, s);
    v = expand_dims(v, 2, s);
  }
  array scores = matmul(q, swapaxes(k, -1, -2, s), s);
  std::optional<array> keep;  // bool: where false, the score becomes the lowest finite value
  if (causal) {
    int first = std::max(k_len - q_len, 0);
    keep = greater_equal(expand_dims(arange(first, first + q_len, s), 1, s), arange(0, k_len, s), s);
  } else if (mask && mask->dtype() == bool_) {
    keep = group_heads(*mask, n_q, n_kv, s);
  } else if (mask) {
    scores = add(scores, astype(group_heads(*mask, n_q, n_kv, s), out, s), s);
  }
  if (keep) scores = where(*keep, scores, scalar(finfo(out).min, out), s);
  if (sinks) {
    Shape column = scores.shape();
    column.back() = 1;
    array sink = group_heads(reshape(astype(*sinks, out, s), {n_q, 1, 1}, s), n_q, n_kv, s);
    scores = concatenate({broadcast_to(sink, column, s), scores}, -1, s);
  }
  array probs = softmax(scores, -1, true, s);
  if (sinks) probs = last_axis_slice(probs, 1, k_len + 1, s);
  array o = matmul(probs, v, s);
  return n_q == n_kv ? o : flatten(o, 1, 2, s);
}

// Computes in float32 (float64 for float64): positions, frequencies, their products and the
// rotation, rounded to x's dtype at the end.
array rope_composed(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
                    const array& offset, const std::optional<array>& freqs, StreamOrDevice s) {
  using fast::last_axis_slice;
  const int features = x.shape(-1), half = dims / 2;
  Dtype ct = fast::compute_type(x.dtype());
  // Positions (L,) for one offset, (B, 1, ..., 1, L) for one offset per batch entry.
  array off = astype(offset, ct, s);
  if (offset.ndim() == 1) {
    Shape per_batch(x.ndim() - 1, 1);
    per_batch[0] = offset.shape(0);
    off = reshape(off, per_batch, s);
  }
  array positions = multiply(add(arange(0.0, x.shape(-2), ct, s), off, s), array(double(scale), ct), s);
  array inv_freqs = freqs ? reciprocal(astype(*freqs, ct, s), s)
                          : exp(multiply(arange(0.0, half, ct, s), array(rope_exponent_step(*base, dims), ct), s), s);
  array theta = multiply(expand_dims(positions, -1, s), inv_freqs, s);  // (..., L, half)
  array c = cos(theta, s), sn = sin(theta, s);

  array rotated = astype(last_axis_slice(x, 0, dims, s), ct, s);
  array x1 = rotated, x2 = rotated;
  if (traditional) {  // pairs (x[2i], x[2i+1])
    Shape pairs = rotated.shape();
    pairs.back() = half;
    pairs.push_back(2);
    auto parts = split(reshape(rotated, pairs, s), 2, -1, s);
    x1 = squeeze(parts[0], -1, s);
    x2 = squeeze(parts[1], -1, s);
  } else {  // pairs (x[i], x[i + half])
    x1 = last_axis_slice(rotated, 0, half, s);
    x2 = last_axis_slice(rotated, half, dims, s);
  }
  array r1 = subtract(multiply(x1, c, s), multiply(x2, sn, s), s);
  array r2 = add(multiply(x1, sn, s), multiply(x2, c, s), s);
  if (traditional) {
    rotated = flatten(stack({r1, r2}, -1, s), -2, -1, s);
  } else {
    rotated = concatenate({r1, r2}, -1, s);
  }
  rotated = astype(rotated, x.dtype(), s);
  if (dims == features) return rotated;
  return concatenate({rotated, last_axis_slice(x, dims, features, s)}, -1, s);
}

}  // namespace lazuli::detail
