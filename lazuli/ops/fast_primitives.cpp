// The fused fast-op primitives (lazuli/primitives/fast.h): construction, equivalence,
// export, CPU evaluation and transform rules, all through the composed fallback.
#include "lazuli/primitives/fast.h"

#include <algorithm>

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

std::vector<array> FastPrimitive::fallback_vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                               const std::vector<int>& argnums) const {
  auto grads = lazuli::vjp([this](const std::vector<array>& xs) { return fallback(xs); }, primals, cts).second;
  std::vector<array> out;
  for (int arg : argnums) out.push_back(grads[arg]);
  return out;
}

std::vector<array> FastPrimitive::fallback_jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                               const std::vector<int>& argnums) const {
  std::vector<array> all;
  for (size_t i = 0; i < primals.size(); ++i) {
    auto k = std::find(argnums.begin(), argnums.end(), static_cast<int>(i));
    all.push_back(k == argnums.end() ? zeros_like(primals[i], stream()) : tangents[k - argnums.begin()]);
  }
  return lazuli::jvp([this](const std::vector<array>& xs) { return fallback(xs); }, primals, all).second;
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

}  // namespace lazuli
