// The fused fast-op primitives: rms_norm, layer_norm, softmax and logsumexp over the last
// axis, each one GPU kernel (backend/cuda/fast.{cpp,cu}), rope (backend/cuda/rope.{cpp,cu})
// and attention at decode time (backend/cuda/sdpa.{cpp,cu}). The ops build them only where
// they run fused (a GPU stream, a floating dtype, a non-empty input); everywhere else they
// build the composed graph below. That graph is also each primitive's fallback: its CPU
// evaluation, and what vjp, jvp and vmap differentiate or batch.
#pragma once
#include <cmath>
#include <optional>
#include <vector>

#include "lazuli/primitives.h"

namespace lazuli {

namespace detail {

// The composed graphs (the CPU path), after the ops' argument checks.
array rms_norm_composed(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s);
array layer_norm_composed(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                          float eps, StreamOrDevice s);
array softmax_composed(const array& a, const std::vector<int>& axes, bool precise, StreamOrDevice s);
array logsumexp_composed(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s);
// freqs, when given, replaces base (exactly one of them has a value); dims > 0.
array rope_composed(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
                    const array& offset, const std::optional<array>& freqs, StreamOrDevice s);
// rope's inverse frequency i from base, exp(i * step), has this step (rounded to the
// compute dtype).
inline double rope_exponent_step(float base, int dims) { return -std::log(double(base)) / (dims / 2); }

// Whether an op on `x` over its last axis runs as a fused primitive on stream s: a GPU
// stream, x non-empty with at least one axis, and of dtype float16, bfloat16, float32 or
// float64 (`dtype`: the op's result type, which x and its parameters are cast to).
bool runs_fused(const array& x, Dtype dtype, const Stream& s);

// The fused nodes themselves, on any stream (the ops call these when runs_fused; tests
// build them on the CPU, where they evaluate their fallback). x and the parameters have
// the result's dtype; weight and bias are 1-d, of x's last-axis size.
array fused_rms_norm(const array& x, const std::optional<array>& weight, float eps, const Stream& s);
array fused_layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                       float eps, const Stream& s);
array fused_softmax(const array& x, bool precise, const Stream& s);
array fused_logsumexp(const array& x, const Stream& s);  // the last axis dropped
// x of 3 or more axes, 0 < dims <= its last axis; offset of any integer dtype (made int32
// or int64), freqs of any dtype (made x's compute dtype: float32, float64 for float64).
array fused_rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
                 const array& offset, const std::optional<array>& freqs, const Stream& s);

// scaled_dot_product_attention's composed graph, after its checks: q (B, n_q, q_len, D), k
// and v (B, n_kv, k_len, D), mask broadcasting to (B, n_q, q_len, k_len), sinks (n_q,).
array sdpa_composed(const array& q, const array& k, const array& v, float scale, bool causal,
                    const std::optional<array>& mask, const std::optional<array>& sinks, StreamOrDevice s);
// Whether attention of q against k and v runs as the fused decode kernel on stream s: a GPU
// stream, a result dtype of float16, bfloat16 or float32, at most 8 queries, one head_dim
// for q, k and v, a multiple of 8 up to 256, and no empty axis.
bool attention_runs_fused(const array& q, const array& k, const array& v, Dtype dtype, const Stream& s);
// The fused attention node: q, k, v, an additive mask and sinks of the result's dtype (a
// mask may be bool instead); the mask may be of any rank that broadcasts to the scores.
array fused_attention(const array& q, const array& k, const array& v, float scale, bool causal,
                      const std::optional<array>& mask, const std::optional<array>& sinks, const Stream& s);

}  // namespace detail

// A fused op with a composed fallback: evaluated on the CPU by running the fallback graph
// eagerly; its transform rules transform the fallback.
class FastPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  // The composed graph of this node's op, on this primitive's stream.
  virtual std::vector<array> fallback(const std::vector<array>& inputs) const = 0;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;

 protected:
  std::vector<array> fallback_vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums) const;
  std::vector<array> fallback_jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) const;
  std::pair<std::vector<array>, std::vector<int>> fallback_vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) const;
};

// (x, [weight]) -> x / sqrt(mean(x^2) + eps) over the last axis, times weight.
class RMSNorm : public FastPrimitive {
 public:
  RMSNorm(Stream s, float eps, bool has_weight) : FastPrimitive(s), eps_(eps), has_weight_(has_weight) {}
  std::string name() const override { return "RMSNorm"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override { return {inputs[0].shape()}; }
  bool is_equivalent(const Primitive& other) const override;
  std::vector<array> fallback(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(RMSNorm)
  void write(Writer& w) const override { w.f64(eps_), w.boolean(has_weight_); }

  float eps() const { return eps_; }
  bool has_weight() const { return has_weight_; }

 private:
  float eps_;
  bool has_weight_;
};

// (x, [weight], [bias]) -> (x - mean) / sqrt(var + eps) over the last axis, times weight,
// plus bias.
class LayerNorm : public FastPrimitive {
 public:
  LayerNorm(Stream s, float eps, bool has_weight, bool has_bias)
      : FastPrimitive(s), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  std::string name() const override { return "LayerNorm"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override { return {inputs[0].shape()}; }
  bool is_equivalent(const Primitive& other) const override;
  std::vector<array> fallback(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(LayerNorm)
  void write(Writer& w) const override { w.f64(eps_), w.boolean(has_weight_), w.boolean(has_bias_); }

  float eps() const { return eps_; }
  bool has_weight() const { return has_weight_; }
  bool has_bias() const { return has_bias_; }

 private:
  float eps_;
  bool has_weight_;
  bool has_bias_;
};

// (x) -> softmax over the last axis; precise: 16-bit inputs compute in float32.
class Softmax : public FastPrimitive {
 public:
  Softmax(Stream s, bool precise) : FastPrimitive(s), precise_(precise) {}
  std::string name() const override { return "Softmax"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override { return {inputs[0].shape()}; }
  bool is_equivalent(const Primitive& other) const override;
  std::vector<array> fallback(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(Softmax)
  void write(Writer& w) const override { w.boolean(precise_); }

  bool precise() const { return precise_; }

 private:
  bool precise_;
};

// (x) -> log(sum(exp(x))) over the last axis, which the output drops.
class LogSumExp : public FastPrimitive {
 public:
  using FastPrimitive::FastPrimitive;
  std::string name() const override { return "LogSumExp"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  std::vector<array> fallback(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(LogSumExp)
};

// (x, offset, [freqs]) -> x with the first `dims` features of its last axis rotated by
// angles (position along axis -2 + offset) * scale * inverse frequency: pairs (2i, 2i+1)
// when traditional, else (i, i + dims/2). The frequencies are base^(2i/dims), or freqs
// when given (then has_base() is false). offset: int32 or int64, one value or one per
// entry of x's first axis; freqs: x's compute dtype (float32, or float64 for float64).
class RoPE : public FastPrimitive {
 public:
  RoPE(Stream s, int dims, bool traditional, std::optional<float> base, float scale)
      : FastPrimitive(s), dims_(dims), traditional_(traditional), base_(base), scale_(scale) {}
  std::string name() const override { return "RoPE"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override { return {inputs[0].shape()}; }
  bool is_equivalent(const Primitive& other) const override;
  std::vector<array> fallback(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(RoPE)
  void write(Writer& w) const override;

  int dims() const { return dims_; }
  bool traditional() const { return traditional_; }
  std::optional<float> base() const { return base_; }
  float scale() const { return scale_; }

 private:
  int dims_;
  bool traditional_;
  std::optional<float> base_;
  float scale_;
};

}  // namespace lazuli

namespace lazuli {

// (q, k, v, [mask], [sinks]) -> softmax(scale q k^T + mask) v per head, with grouped kv
// heads, a causal mask or a mask array, and sinks as extra logits: attention at decode time
// (few queries against a long cache), one split-K kernel pair on the GPU
// (backend/cuda/sdpa.{cpp,cu}).
class AttentionDecode : public FastPrimitive {
 public:
  AttentionDecode(Stream s, float scale, bool causal, bool has_mask, bool has_sinks)
      : FastPrimitive(s), scale_(scale), causal_(causal), has_mask_(has_mask), has_sinks_(has_sinks) {}
  std::string name() const override { return "AttentionDecode"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;  // (B, n_q, q_len, v's D)
  bool is_equivalent(const Primitive& other) const override;
  std::vector<array> fallback(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(AttentionDecode)
  void write(Writer& w) const override {
    w.f64(scale_), w.boolean(causal_), w.boolean(has_mask_), w.boolean(has_sinks_);
  }

  float scale() const { return scale_; }
  bool causal() const { return causal_; }
  bool has_mask() const { return has_mask_; }
  bool has_sinks() const { return has_sinks_; }

 private:
  float scale_;
  bool causal_, has_mask_, has_sinks_;
};

}  // namespace lazuli
