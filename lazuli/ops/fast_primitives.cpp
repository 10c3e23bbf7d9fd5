// The fused fast-op primitives (lazuli/primitives/fast.h): construction, equivalence,
// export, CPU evaluation and transform rules, all through the composed fallback.
#include "lazuli/primitives/fast.h"

#include "lazuli/ops/ops_util.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {

using namespace lazuli::detail;

namespace detail {

bool runs_fused(const array& x, Dtype dtype, const Stream& s) {
  return s.device.type == Device::gpu && x.ndim() > 0 && x.size() > 0 &&
         (dtype == float32 || dtype == float16 || dtype == bfloat16 || dtype == float64);
}

array fused_rms_norm(const array& x, const std::optional<array>& weight, float eps, const Stream& s) {
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(*weight);
  return make_node<RMSNorm>(inputs, x.dtype(), s, eps, weight.has_value());
}

array fused_layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                       float eps, const Stream& s) {
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(*weight);
  if (bias) inputs.push_back(*bias);
  return make_node<LayerNorm>(inputs, x.dtype(), s, eps, weight.has_value(), bias.has_value());
}

array fused_softmax(const array& x, bool precise, const Stream& s) {
  return make_node<Softmax>({x}, x.dtype(), s, precise);
}

array fused_logsumexp(const array& x, const Stream& s) { return make_node<LogSumExp>({x}, x.dtype(), s); }

array fused_rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
                 const array& offset, const std::optional<array>& freqs, const Stream& s) {
  // The kernel reads offsets of these two types; any other integer fits int64 (uint64 past
  // 2^63 aside), and the fallback computes the same positions from it.
  bool read_as_is = offset.dtype() == int32 || offset.dtype() == int64;
  std::vector<array> inputs{x, read_as_is ? offset : astype(offset, int64, s)};
  if (freqs) inputs.push_back(astype(*freqs, promote_types(x.dtype(), float32), s));
  return make_node<RoPE>(inputs, x.dtype(), s, dims, traditional, freqs ? std::nullopt : base, scale);
}

bool attention_runs_fused(const array& q, const array& k, const array& v, Dtype dtype, const Stream& s) {
  const int head_dim = q.shape(3);
  return s.device.type == Device::gpu && (dtype == float32 || dtype == float16 || dtype == bfloat16) &&
         q.size() > 0 && k.size() > 0 && q.shape(2) <= 8 && v.shape(3) == head_dim && head_dim % 8 == 0 &&
         head_dim <= 256;
}

array fused_attention(const array& q, const array& k, const array& v, float scale, bool causal,
                      const std::optional<array>& mask, const std::optional<array>& sinks, const Stream& s) {
  std::vector<array> inputs{q, k, v};
  if (mask) inputs.push_back(*mask);
  if (sinks) inputs.push_back(*sinks);
  return make_node<AttentionDecode>(inputs, q.dtype(), s, scale, causal, mask.has_value(), sinks.has_value());
}

}  // namespace detail

// ---- FastPrimitive ------------------------------------------------------------------------

// The fallback graph, built on this (CPU) stream from the evaluated inputs, run node by node
// on this thread: this node already runs on its stream's worker, so handing the graph to
// the scheduler would wait on itself.
void FastPrimitive::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<array> results = fallback(inputs);
  detail::walk_graph(
      results, [](const array& a) { return a.status() == array::Status::unscheduled; },
      [](array node) {
        auto outs = node.outputs();
        node.primitive().eval_cpu(node.inputs(), outs);
        for (auto& o : outs) o.set_status(array::Status::available);
      });
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(results[i]);
}

namespace {

// The fallback as a function of the inputs `argnums` only, the others held at `primals`
// (which may be integers, as rope's offset, that vjp and jvp refuse to differentiate).
Fn fallback_of_args(const FastPrimitive& p, const std::vector<array>& primals, const std::vector<int>& argnums) {
  return [&p, primals, argnums](const std::vector<array>& args) {
    std::vector<array> all = primals;
    for (size_t k = 0; k < argnums.size(); ++k) all[argnums[k]] = args[k];
    return p.fallback(all);
  };
}

std::vector<array> pick(const std::vector<array>& arrays, const std::vector<int>& indices) {
  std::vector<array> out;
  for (int i : indices) out.push_back(arrays[i]);
  return out;
}

}  // namespace

std::vector<array> FastPrimitive::fallback_vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                               const std::vector<int>& argnums) const {
  return lazuli::vjp(fallback_of_args(*this, primals, argnums), pick(primals, argnums), cts).second;
}

std::vector<array> FastPrimitive::fallback_jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                               const std::vector<int>& argnums) const {
  return lazuli::jvp(fallback_of_args(*this, primals, argnums), pick(primals, argnums), tangents).second;
}

std::pair<std::vector<array>, std::vector<int>> FastPrimitive::fallback_vmap(const std::vector<array>& inputs,
                                                                           const std::vector<int>& axes) const {
  auto outs = lazuli::vmap([this](const std::vector<array>& xs) { return fallback(xs); }, axes)(inputs);
  return {outs, std::vector<int>(outs.size(), 0)};
}

#define LAZULI_FALLBACK_RULES(Name)                                                                           \
  std::vector<array> Name::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,       \
                               const std::vector<int>& argnums, const std::vector<array>&) {                  \
    return fallback_vjp(primals, cotangents, argnums);                                                        \
  }                                                                                                           \
  std::vector<array> Name::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,         \
                               const std::vector<int>& argnums) {                                             \
    return fallback_jvp(primals, tangents, argnums);                                                          \
  }                                                                                                           \
  std::pair<std::vector<array>, std::vector<int>> Name::vmap(const std::vector<array>& inputs,                \
                                                             const std::vector<int>& axes) {                  \
    return fallback_vmap(inputs, axes);                                                                       \
  }
LAZULI_FALLBACK_RULES(RMSNorm)
LAZULI_FALLBACK_RULES(LayerNorm)
LAZULI_FALLBACK_RULES(Softmax)
LAZULI_FALLBACK_RULES(LogSumExp)
LAZULI_FALLBACK_RULES(RoPE)
LAZULI_FALLBACK_RULES(AttentionDecode)
#undef LAZULI_FALLBACK_RULES

namespace {

// Checks shared by the readers: `inputs` arrays of one floating dtype, the output of that
// dtype, x with a last axis, and the 1-d parameters of its size.
void read_fused_inputs(Reader& r, size_t inputs) {
  r.arity(inputs);
  r.same_input_dtypes();
  if (!is_floating_point(r.in_dtype(0))) r.fail("a fused fast op gets the non-floating type " + dtype_name(r.in_dtype(0)));
  r.outputs_like(0);
  if (r.rank(0) < 1) r.fail("a fused fast op gets a 0-d input");
  for (size_t i = 1; i < inputs; ++i)
    if (r.input_shape(i) != Shape{r.input_shape(0).back()})
      r.fail("a fused fast op gets a weight or bias of shape " + shape_str(r.input_shape(i)) + " for x of shape " + shape_str(r.input_shape(0)));
}

}  // namespace

// ---- RMSNorm ------------------------------------------------------------------------------

bool RMSNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RMSNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_;
}
std::vector<array> RMSNorm::fallback(const std::vector<array>& in) const {
  return {rms_norm_composed(in[0], has_weight_ ? std::optional<array>(in[1]) : std::nullopt, eps_, stream())};
}
LAZULI_PRIMITIVE_READER(RMSNorm) {
  float eps = static_cast<float>(r.f64());
  bool has_weight = r.boolean();
  read_fused_inputs(r, has_weight ? 2 : 1);
  return std::make_shared<RMSNorm>(s, eps, has_weight);
}

// ---- LayerNorm ----------------------------------------------------------------------------

bool LayerNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const LayerNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_ && p->has_bias_ == has_bias_;
}
std::vector<array> LayerNorm::fallback(const std::vector<array>& in) const {
  std::optional<array> weight, bias;
  if (has_weight_) weight = in[1];
  if (has_bias_) bias = in[has_weight_ ? 2 : 1];
  return {layer_norm_composed(in[0], weight, bias, eps_, stream())};
}
LAZULI_PRIMITIVE_READER(LayerNorm) {
  float eps = static_cast<float>(r.f64());
  bool has_weight = r.boolean(), has_bias = r.boolean();
  read_fused_inputs(r, 1 + has_weight + has_bias);
  return std::make_shared<LayerNorm>(s, eps, has_weight, has_bias);
}

// ---- Softmax ------------------------------------------------------------------------------

bool Softmax::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Softmax*>(&o);
  return p && p->precise_ == precise_;
}
std::vector<array> Softmax::fallback(const std::vector<array>& in) const {
  return {softmax_composed(in[0], {-1}, precise_, stream())};
}
LAZULI_PRIMITIVE_READER(Softmax) {
  bool precise = r.boolean();
  read_fused_inputs(r, 1);
  return std::make_shared<Softmax>(s, precise);
}

// ---- LogSumExp ----------------------------------------------------------------------------

std::vector<Shape> LogSumExp::output_shapes(const std::vector<array>& inputs) const {
  Shape shape = inputs[0].shape();
  shape.pop_back();
  return {shape};
}
bool LogSumExp::is_equivalent(const Primitive& o) const { return dynamic_cast<const LogSumExp*>(&o) != nullptr; }
std::vector<array> LogSumExp::fallback(const std::vector<array>& in) const {
  return {logsumexp_composed(in[0], {-1}, false, stream())};
}
LAZULI_PRIMITIVE_READER(LogSumExp) {
  read_fused_inputs(r, 1);
  return std::make_shared<LogSumExp>(s);
}

// ---- RoPE ---------------------------------------------------------------------------------

bool RoPE::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RoPE*>(&o);
  return p && p->dims_ == dims_ && p->traditional_ == traditional_ && p->base_ == base_ && p->scale_ == scale_;
}
std::vector<array> RoPE::fallback(const std::vector<array>& in) const {
  std::optional<array> freqs;
  if (!base_) freqs = in[2];
  return {rope_composed(in[0], dims_, traditional_, base_, scale_, in[1], freqs, stream())};
}
void RoPE::write(Writer& w) const {
  w.i32(dims_), w.boolean(traditional_), w.boolean(base_.has_value()), w.f64(base_.value_or(0.0f)), w.f64(scale_);
}
LAZULI_PRIMITIVE_READER(RoPE) {
  int dims = r.i32();
  bool traditional = r.boolean(), has_base = r.boolean();
  float base = static_cast<float>(r.f64()), scale = static_cast<float>(r.f64());
  r.arity(has_base ? 2 : 3);
  if (!is_floating_point(r.in_dtype(0))) r.fail("RoPE gets the non-floating type " + dtype_name(r.in_dtype(0)));
  r.outputs_like(0);
  const Shape& x = r.input_shape(0);
  if (x.size() < 3) r.fail("RoPE gets an input of shape " + shape_str(x) + ", of fewer than 3 axes");
  if (dims <= 0 || dims % 2 != 0 || dims > x.back())
    r.fail("RoPE gets dims " + std::to_string(dims) + " for an input of shape " + shape_str(x));
  if (r.in_dtype(1) != int32) r.expect_input(1, int64);
  const Shape& offset = r.input_shape(1);
  if (offset.size() > 1 || (offset.size() == 1 && offset[0] != 1 && offset[0] != x[0]))
    r.fail("RoPE gets an offset of shape " + shape_str(offset) + " for an input of shape " + shape_str(x));
  if (!has_base) {
    r.expect_input(2, promote_types(r.in_dtype(0), float32));
    if (r.input_shape(2) != Shape{dims / 2})
      r.fail("RoPE gets freqs of shape " + shape_str(r.input_shape(2)) + " for dims " + std::to_string(dims));
  }
  return std::make_shared<RoPE>(s, dims, traditional, has_base ? std::optional<float>(base) : std::nullopt, scale);
}

// ---- AttentionDecode ----------------------------------------------------------------------

std::vector<Shape> AttentionDecode::output_shapes(const std::vector<array>& inputs) const {
  Shape shape = inputs[0].shape();
  shape.back() = inputs[2].shape(3);
  return {shape};
}
bool AttentionDecode::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const AttentionDecode*>(&o);
  return p && p->scale_ == scale_ && p->causal_ == causal_ && p->has_mask_ == has_mask_ &&
         p->has_sinks_ == has_sinks_;
}
std::vector<array> AttentionDecode::fallback(const std::vector<array>& in) const {
  std::optional<array> mask, sinks;
  if (has_mask_) mask = in[3];
  if (has_sinks_) sinks = in[has_mask_ ? 4 : 3];
  return {sdpa_composed(in[0], in[1], in[2], scale_, causal_, mask, sinks, stream())};
}
LAZULI_PRIMITIVE_READER(AttentionDecode) {
  float scale = static_cast<float>(r.f64());
  bool causal = r.boolean(), has_mask = r.boolean(), has_sinks = r.boolean();
  if (causal && has_mask) r.fail("a causal attention node gets a mask array");
  r.arity(3 + has_mask + has_sinks);
  r.same_input_dtypes(0, 3);
  if (!is_floating_point(r.in_dtype(0))) r.fail("attention gets the non-floating type " + dtype_name(r.in_dtype(0)));
  r.outputs_like(0);
  for (size_t i = 0; i < 3; ++i)
    if (r.rank(i) != 4) r.fail("attention gets an input of shape " + shape_str(r.input_shape(i)) + ", not of rank 4");
  const Shape &q = r.input_shape(0), &k = r.input_shape(1), &v = r.input_shape(2);
  if (k[0] != v[0] || k[1] != v[1] || k[2] != v[2] || q[0] != k[0] || q[3] != k[3] || k[1] == 0 ||
      q[1] % k[1] != 0)
    r.fail("attention gets queries " + shape_str(q) + ", keys " + shape_str(k) + " and values " + shape_str(v));
  if (has_mask) {
    if (r.in_dtype(3) != bool_) r.expect_input(3, r.in_dtype(0));
    const Shape scores{q[0], q[1], q[2], k[2]};
    Shape b;
    try {
      b = broadcast_shapes(r.input_shape(3), scores);
    } catch (const std::invalid_argument&) {
    }
    if (r.rank(3) > 4 || b != scores)
      r.fail("attention gets a mask of shape " + shape_str(r.input_shape(3)) + " for scores " + shape_str(scores));
  }
  if (has_sinks) {
    size_t i = has_mask ? 4 : 3;
    r.expect_input(i, r.in_dtype(0));
    if (r.input_shape(i) != Shape{q[1]})
      r.fail("attention gets sinks of shape " + shape_str(r.input_shape(i)) + " for " + std::to_string(q[1]) + " heads");
  }
  return std::make_shared<AttentionDecode>(s, scale, causal, has_mask, has_sinks);
}

}  // namespace lazuli
