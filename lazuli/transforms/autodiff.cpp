// vjp, jvp and vmap: trace the function on marked inputs, collect the nodes between those
// inputs and the outputs, then apply each primitive's rule along that tape.
#include <unordered_map>
#include <unordered_set>

#include "lazuli/ops.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives.h"
#include "lazuli/transforms.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {
using detail::fail;
using detail::shape_str;
using detail::tape_between;
using detail::Tracing;

namespace {

void check_differentiable(const array& p, const char* op) {
  if (is_integral(p.dtype()))
    fail(op, "Cannot differentiate with respect to an input of dtype " + dtype_name(p.dtype()) +
                 "; cast it to a floating-point dtype first.");
}

// Marked copies of the inputs: the places differentiation starts from.
std::vector<array> trace_inputs(const std::vector<array>& inputs) {
  std::vector<array> out;
  for (auto& p : inputs) {
    out.push_back(copy(p));
    out.back().set_tracer(true);
  }
  return out;
}

}  // namespace

namespace detail {
std::atomic<int>& tracing_depth() {
  static std::atomic<int> depth{0};
  return depth;
}

void walk_graph(const std::vector<array>& outputs, const std::function<bool(const array&)>& enter,
                const std::function<void(array)>& leave) {
  std::unordered_set<uintptr_t> visited;
  struct Frame {
    array node;
    size_t next;
  };
  std::vector<Frame> stack;
  auto push = [&](const array& a) {
    if (!visited.insert(a.id()).second || !enter(a)) return;
    for (auto& s : a.siblings()) visited.insert(s.id());
    stack.push_back({a, 0});
  };
  for (auto& out : outputs) {
    push(out);
    while (!stack.empty()) {
      auto& top = stack.back();
      if (top.next < top.node.inputs().size()) {
        push(top.node.inputs()[top.next++]);
        continue;
      }
      array node = std::move(top.node);
      stack.pop_back();
      leave(std::move(node));
    }
  }
}

std::vector<array> tape_between(const std::vector<array>& sources, const std::vector<array>& outputs) {
  std::unordered_set<uintptr_t> source_ids, depends;
  for (auto& s : sources) source_ids.insert(s.id());
  std::vector<array> tape;
  auto enter = [&](const array& a) {
    if (source_ids.count(a.id())) {
      depends.insert(a.id());
      return false;
    }
    // Only traced nodes can depend on the sources; untraced ones (constants, and the
    // untraced inner graph of a custom function) are leaves.
    return a.traced();
  };
  auto leave = [&](array node) {
    bool dep = false;
    for (auto& in : node.inputs()) dep |= depends.count(in.id()) > 0;
    if (!dep) return;
    for (auto& o : node.outputs()) depends.insert(o.id());
    tape.push_back(std::move(node));
  };
  walk_graph(outputs, enter, leave);
  return tape;
}

}  // namespace detail

namespace {
// Reverse mode, with the seed cotangents made from the traced outputs.
std::pair<std::vector<array>, std::vector<array>> vjp_seeded(
    const Fn& fun, const std::vector<array>& primals,
    const std::function<std::vector<array>(const std::vector<array>&)>& seed, const char* op) {
  for (auto& p : primals) check_differentiable(p, op);
  std::vector<array> inputs = trace_inputs(primals);
  // The trace stays marked through the tape walk too: a rule that evaluates (a custom vjp
  // calling .item()) must not release graph the walk has yet to read.
  Tracing tracing;
  std::vector<array> outputs = fun(inputs);
  std::vector<array> cotangents = seed(outputs);
  if (cotangents.size() != outputs.size())
    fail(op, "Got " + std::to_string(cotangents.size()) + " cotangents for " + std::to_string(outputs.size()) +
                 " outputs.");
  std::unordered_map<uintptr_t, array> cotan;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (cotangents[i].shape() != outputs[i].shape())
      fail(op, "Cotangent " + std::to_string(i) + " has shape " + shape_str(cotangents[i].shape()) +
                   " but the output has shape " + shape_str(outputs[i].shape()) + ".");
    array c = astype(cotangents[i], outputs[i].dtype());
    auto [it, fresh] = cotan.emplace(outputs[i].id(), c);
    if (!fresh) it->second = add(it->second, c);
  }
  auto tape = tape_between(inputs, outputs);
  std::unordered_set<uintptr_t> on_tape;
  for (auto& in : inputs) on_tape.insert(in.id());
  for (auto& n : tape)
    for (auto& o : n.outputs()) on_tape.insert(o.id());
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    auto& node = *it;
    auto outs = node.outputs();
    std::vector<array> cts;
    bool any = false;
    for (auto& o : outs) {
      auto c = cotan.find(o.id());
      any |= c != cotan.end();
      cts.push_back(c != cotan.end() ? c->second : zeros_like(o));
    }
    if (!any) continue;
    std::vector<int> argnums;
    for (size_t i = 0; i < node.inputs().size(); ++i)
      if (on_tape.count(node.inputs()[i].id())) argnums.push_back(static_cast<int>(i));
    auto grads = node.primitive().vjp(node.inputs(), cts, argnums, outs);
    for (size_t k = 0; k < argnums.size(); ++k) {
      const array& in = node.inputs()[argnums[k]];
      auto [c, fresh] = cotan.emplace(in.id(), grads[k]);
      if (!fresh) c->second = add(c->second, grads[k]);
    }
  }
  std::vector<array> grads;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto c = cotan.find(inputs[i].id());
    grads.push_back(c != cotan.end() ? astype(c->second, primals[i].dtype()) : zeros_like(primals[i]));
  }
  return {outputs, grads};
}
}  // namespace

std::pair<std::vector<array>, std::vector<array>> vjp(const Fn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  return vjp_seeded(fun, primals, [&](const std::vector<array>&) { return cotangents; }, "vjp");
}

std::pair<array, array> vjp(const UnaryFn& fun, const array& primal, const array& cotangent) {
  auto [outs, grads] = vjp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {primal},
                           {cotangent});
  return {outs[0], grads[0]};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const Fn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (tangents.size() != primals.size())
    fail("jvp", "Got " + std::to_string(tangents.size()) + " tangents for " + std::to_string(primals.size()) +
                    " primals.");
  for (size_t i = 0; i < primals.size(); ++i) {
    check_differentiable(primals[i], "jvp");
    if (tangents[i].shape() != primals[i].shape())
      fail("jvp", "Tangent " + std::to_string(i) + " has shape " + shape_str(tangents[i].shape()) +
                      " but the primal has shape " + shape_str(primals[i].shape()) + ".");
  }
  std::vector<array> inputs = trace_inputs(primals);
  Tracing tracing;  // through the tape walk, as in vjp
  std::vector<array> outputs = fun(inputs);
  std::unordered_map<uintptr_t, array> tan;
  for (size_t i = 0; i < inputs.size(); ++i) tan.emplace(inputs[i].id(), astype(tangents[i], primals[i].dtype()));
  for (auto& node : tape_between(inputs, outputs)) {
    std::vector<int> argnums;
    std::vector<array> ts;
    for (size_t i = 0; i < node.inputs().size(); ++i) {
      auto t = tan.find(node.inputs()[i].id());
      if (t != tan.end()) argnums.push_back(static_cast<int>(i)), ts.push_back(t->second);
    }
    auto outs = node.outputs();
    auto out_tans = node.primitive().jvp(node.inputs(), ts, argnums);
    for (size_t j = 0; j < outs.size(); ++j) tan.insert_or_assign(outs[j].id(), out_tans[j]);
  }
  std::vector<array> result;
  for (auto& o : outputs) {
    auto t = tan.find(o.id());
    result.push_back(t != tan.end() ? t->second : zeros_like(o));
  }
  return {outputs, result};
}

std::pair<array, array> jvp(const UnaryFn& fun, const array& primal, const array& tangent) {
  auto [outs, tans] = jvp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {primal},
                          {tangent});
  return {outs[0], tans[0]};
}

ValueAndGradFn value_and_grad(const Fn& fun, const std::vector<int>& argnums) {
  if (argnums.empty()) fail("value_and_grad", "argnums must name at least one argument.");
  return [fun, argnums](const std::vector<array>& args) {
    std::vector<int> nums;
    for (int a : argnums) nums.push_back(detail::normalize_axis(a, static_cast<int>(args.size()), "value_and_grad"));
    std::vector<array> chosen;
    for (int a : nums) chosen.push_back(args[a]);
    auto partial = [&](const std::vector<array>& xs) {
      std::vector<array> full = args;
      for (size_t k = 0; k < nums.size(); ++k) full[nums[k]] = xs[k];
      return fun(full);
    };
    // The first output is the loss: cotangent one; other outputs are carried along.
    auto seed = [](const std::vector<array>& outs) {
      if (outs.empty() || outs[0].ndim() != 0)
        fail("value_and_grad", "The function must return a scalar (0-d array) first, got " +
                                   (outs.empty() ? std::string("nothing") : "shape " + shape_str(outs[0].shape())) + ".");
      std::vector<array> cts{ones_like(outs[0])};
      for (size_t i = 1; i < outs.size(); ++i) cts.push_back(zeros_like(outs[i]));
      return cts;
    };
    return vjp_seeded(partial, chosen, seed, "value_and_grad");
  };
}

std::function<std::pair<array, std::vector<array>>(const std::vector<array>&)> value_and_grad(
    const ScalarFn& fun, const std::vector<int>& argnums) {
  auto vg = value_and_grad([fun](const std::vector<array>& xs) { return std::vector<array>{fun(xs)}; }, argnums);
  return [vg](const std::vector<array>& xs) {
    auto [vals, grads] = vg(xs);
    return std::make_pair(vals[0], grads);
  };
}

std::function<std::pair<array, array>(const array&)> value_and_grad(const UnaryFn& fun) {
  auto vg = value_and_grad([fun](const std::vector<array>& xs) { return fun(xs[0]); }, std::vector<int>{0});
  return [vg](const array& x) {
    auto [val, grads] = vg({x});
    return std::make_pair(val, grads[0]);
  };
}

std::function<std::vector<array>(const std::vector<array>&)> grad(const ScalarFn& fun, const std::vector<int>& argnums) {
  auto vg = value_and_grad(fun, argnums);
  return [vg](const std::vector<array>& xs) { return vg(xs).second; };
}

UnaryFn grad(const UnaryFn& fun) {
  auto vg = value_and_grad(fun);
  return [vg](const array& x) { return vg(x).second; };
}

}  // namespace lazuli
