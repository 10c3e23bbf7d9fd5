// vmap: trace the function on per-sample stand-ins (no data), then rebuild the traced
// graph with each primitive's vmap rule on the batched inputs.
#include <unordered_map>

#include "lazuli/ops/ops_util.h"
#include "lazuli/transforms.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {
using detail::fail;

Fn vmap(const Fn& fun, const std::vector<int>& in_axes, const std::vector<int>& out_axes) {
  return [fun, in_axes, out_axes](const std::vector<array>& inputs) {
    std::vector<int> axes = in_axes.empty() ? std::vector<int>(inputs.size(), 0) : in_axes;
    if (axes.size() != inputs.size())
      fail("vmap", "Got " + std::to_string(axes.size()) + " in_axes for " + std::to_string(inputs.size()) + " inputs.");
    int batch = -1;
    std::vector<array> samples, stand_ins;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (axes[i] == -1) {
        samples.push_back(inputs[i]);
        continue;
      }
      int nd = static_cast<int>(inputs[i].ndim());
      if (nd == 0) fail("vmap", "Input " + std::to_string(i) + " is 0-d and cannot be mapped over an axis.");
      axes[i] = detail::normalize_axis(axes[i], nd, "vmap");
      int size = inputs[i].shape()[axes[i]];
      if (batch >= 0 && size != batch)
        fail("vmap", "Mapped axes have different sizes: " + std::to_string(batch) + " and " + std::to_string(size) + ".");
      batch = size;
      Shape sample = inputs[i].shape();
      sample.erase(sample.begin() + axes[i]);
      // A stand-in with no data: the function only builds graph on it.
      samples.emplace_back(sample, inputs[i].dtype(), nullptr, std::vector<array>{});
      samples.back().set_tracer(true);
      stand_ins.push_back(samples.back());
    }
    if (batch < 0) fail("vmap", "At least one input must be mapped (in_axes are all -1).");
    detail::Tracing tracing;  // through the rebuild too, as in vjp
    std::vector<array> outputs = fun(samples);
    std::unordered_map<uintptr_t, std::pair<array, int>> batched;
    for (size_t i = 0, k = 0; i < inputs.size(); ++i)
      if (axes[i] != -1) batched.emplace(stand_ins[k++].id(), std::make_pair(inputs[i], axes[i]));
    for (auto& node : detail::tape_between(stand_ins, outputs)) {
      std::vector<array> ins;
      std::vector<int> in_ax;
      for (auto& in : node.inputs()) {
        auto b = batched.find(in.id());
        ins.push_back(b != batched.end() ? b->second.first : in);
        in_ax.push_back(b != batched.end() ? b->second.second : -1);
      }
      auto [outs, oax] = node.primitive().vmap(ins, in_ax);
      auto node_outs = node.outputs();
      for (size_t j = 0; j < node_outs.size(); ++j) batched.insert_or_assign(node_outs[j].id(), std::make_pair(outs[j], oax[j]));
    }
    if (!out_axes.empty() && out_axes.size() != outputs.size())
      fail("vmap", "Got " + std::to_string(out_axes.size()) + " out_axes for " + std::to_string(outputs.size()) + " outputs.");
    std::vector<array> result;
    for (size_t j = 0; j < outputs.size(); ++j) {
      int want = out_axes.empty() ? 0 : out_axes[j];
      auto b = batched.find(outputs[j].id());
      array out = b != batched.end() ? b->second.first : outputs[j];
      int ax = b != batched.end() ? b->second.second : -1;
      if (ax == -1) {  // does not depend on the mapped inputs: repeat it
        want = detail::normalize_axis(want, static_cast<int>(out.ndim()) + 1, "vmap");
        out = expand_dims(out, want);
        Shape shape = out.shape();
        shape[want] = batch;
        result.push_back(broadcast_to(out, shape));
      } else {
        want = detail::normalize_axis(want, static_cast<int>(out.ndim()), "vmap");
        result.push_back(moveaxis(out, ax, want));
      }
    }
    return result;
  };
}

UnaryFn vmap(const UnaryFn& fun, int in_axis, int out_axis) {
  auto f = vmap([fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {in_axis}, {out_axis});
  return [f](const array& x) { return f({x})[0]; };
}

}  // namespace lazuli
