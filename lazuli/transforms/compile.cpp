// compile: trace, simplify, fuse, replay. A trace runs the function once on placeholder
// inputs (shape and dtype, no data) and keeps the graph it builds; later calls with the
// same signature rebuild that graph on their inputs without running the function.
#include "lazuli/compile.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "lazuli/ops.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives.h"
#include "lazuli/primitives/compiled.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {

namespace {

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{!std::getenv("LAZULI_DISABLE_COMPILE") && !std::getenv("MLX_DISABLE_COMPILE")};
  return on;
}

// A traced function: its graph from placeholder inputs to outputs.
struct Trace {
  std::vector<array> inputs;   // placeholders
  std::vector<array> tape;     // nodes that depend on the inputs, inputs before readers
  std::vector<array> outputs;  // tape nodes, placeholders or constants
  bool fixed_shapes = false;   // a primitive fixes shapes: replay only at the traced shapes
  std::vector<std::vector<int>> same_sizes;  // per tape node: see same_size_axes
};

// The axes of all of a node's inputs, in order, each mapped to the first of them that had
// the same size (larger than 1: sizes 0 and 1 are in a shapeless trace's key), or -1. The
// op that made the node checked its shapes (matmul's inner axes, concatenate's other axes)
// and the primitive trusts them: a shapeless replay must find those sizes equal again.
std::vector<int> same_size_axes(const std::vector<array>& inputs) {
  std::vector<int32_t> dims;
  for (auto& in : inputs) dims.insert(dims.end(), in.shape().begin(), in.shape().end());
  std::vector<int> first(dims.size(), -1);
  for (size_t p = 0; p < dims.size(); ++p)
    for (size_t q = 0; q < p && dims[p] > 1 && first[p] < 0; ++q)
      if (dims[q] == dims[p]) first[p] = static_cast<int>(q);
  return first;
}

bool same_sizes_hold(const std::vector<int>& first, const std::vector<array>& inputs) {
  std::vector<int32_t> dims;
  for (auto& in : inputs) dims.insert(dims.end(), in.shape().begin(), in.shape().end());
  for (size_t p = 0; p < first.size(); ++p)
    if (first[p] >= 0 && dims[p] != dims[first[p]]) return false;
  return true;
}

// Primitives whose output shapes follow from their inputs' shapes alone, so a trace made
// of them can be replayed at other shapes of the same ranks.
bool shape_polymorphic(const Primitive& p) {
  static const std::unordered_set<std::string> classes = {
      "Unary", "Binary", "DivMod", "Select", "AsType", "Copy", "StopGradient", "Transpose", "Reduce",
      "ArgReduce", "Matmul", "Concatenate", "Take", "Scan", "Sort", "ArgSort", "Compiled",
      "NumberOfElements", "RMSNorm", "LayerNorm", "Softmax", "LogSumExp", "RoPE", "AttentionDecode"};
  return p.class_name() && classes.count(p.class_name());
}

// ---- simplification -------------------------------------------------------------------

// Rewrites uses of replaced arrays (by id) in the tape's inputs and the outputs.
struct Replacements {
  std::unordered_map<uintptr_t, array> map;
  array operator()(const array& a) const {
    auto it = map.find(a.id());
    return it == map.end() ? a : it->second;
  }
  void replace(const array& from, const array& to) {
    auto a = from.outputs(), b = to.outputs();
    for (size_t k = 0; k < a.size(); ++k) map.emplace(a[k].id(), b[k]);
  }
};

bool same_scalar(const array& a, const array& b) {
  if (a.dtype() != b.dtype()) return false;
  eval({a, b});  // available, but a GPU may still be writing them
  return
         std::memcmp(const_cast<array&>(a).raw_data(), const_cast<array&>(b).raw_data(), a.itemsize()) == 0;
}

// Nodes reachable from the outputs, in tape order (dead nodes dropped).
std::vector<array> live_nodes(const std::vector<array>& tape, const std::vector<array>& outputs) {
  std::unordered_set<uintptr_t> live;
  for (auto& o : outputs) live.insert(o.id());
  std::vector<array> kept;
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    bool used = false;
    for (auto& o : it->outputs()) used |= live.count(o.id()) > 0;
    if (!used) continue;
    for (auto& in : it->inputs()) live.insert(in.id());
    kept.push_back(*it);
  }
  return {kept.rbegin(), kept.rend()};
}

// Merges equal 0-d constants and equivalent nodes on the same inputs, then drops nodes no
// output needs. (Constant subgraphs were already evaluated when traced: that is the
// folding.)
void simplify(Trace& t) {
  Replacements replaced;
  std::unordered_set<uintptr_t> on_tape;
  for (auto& in : t.inputs) on_tape.insert(in.id());
  for (auto& node : t.tape)
    for (auto& o : node.outputs()) on_tape.insert(o.id());
  std::vector<array> scalars;
  auto merge_scalar = [&](const array& c) {
    if (c.ndim() != 0 || !c.is_available() || replaced.map.count(c.id())) return;
    for (auto& s : scalars)
      if (s.id() != c.id() && same_scalar(s, c)) return replaced.replace(c, s);
    scalars.push_back(c);
  };
  std::unordered_map<std::string, std::vector<array>> seen;
  std::vector<array> kept;
  for (auto& node : t.tape) {
    std::string key = node.primitive().name();
    for (auto& in : node.inputs()) {
      if (!on_tape.count(in.id())) merge_scalar(in);
      in = replaced(in);
      key.append(":").append(std::to_string(in.id()));
    }
    bool merged = false;
    for (auto& other : seen[key]) {
      if (other.outputs().size() == node.outputs().size() && other.dtype() == node.dtype() &&
          other.primitive().is_equivalent(node.primitive())) {
        replaced.replace(node, other);
        merged = true;
        break;
      }
    }
    if (merged) continue;
    seen[key].push_back(node);
    kept.push_back(node);
  }
  for (auto& o : t.outputs) {
    if (!on_tape.count(o.id())) merge_scalar(o);
    o = replaced(o);
  }
  t.tape = live_nodes(kept, t.outputs);
}

// ---- fusion ---------------------------------------------------------------------------

// Groups elementwise nodes of one shape into Compiled nodes. Growing a group from its last
// node (the root), an input node joins when every node reading it is already in the group
// (or it is a function output): then no path leaves the group and comes back, so the group
// can run as one node at the root's place.
void fuse(Trace& t) {
  const int n = static_cast<int>(t.tape.size());
  std::unordered_map<uintptr_t, int> index;
  for (int i = 0; i < n; ++i)
    for (auto& o : t.tape[i].outputs()) index[o.id()] = i;
  auto producer = [&](const array& a) {
    auto it = index.find(a.id());
    return it == index.end() ? -1 : it->second;
  };
  std::vector<std::vector<int>> readers(n);
  for (int i = 0; i < n; ++i)
    for (auto& in : t.tape[i].inputs())
      if (int p = producer(in); p >= 0 && (readers[p].empty() || readers[p].back() != i)) readers[p].push_back(i);
  std::vector<bool> is_output(n), fusable(n);
  for (auto& o : t.outputs)
    if (int p = producer(o); p >= 0) is_output[p] = true;
  for (int i = 0; i < n; ++i) fusable[i] = Compiled::can_fuse(t.tape[i]);
  // A sum can end a group that computes its input (a prologue): the input then never goes
  // to memory. The group keeps the sum as its only output.
  std::vector<bool> sums(n);
  for (int i = 0; i < n; ++i) sums[i] = Compiled::can_reduce(t.tape[i]);

  std::vector<int> group(n, -1);
  Replacements replaced;
  std::unordered_map<int, array> fused_at;  // the Compiled node standing at a root's place
  for (int root = n - 1; root >= 0; --root) {
    if (!(fusable[root] || sums[root]) || group[root] != -1) continue;
    const bool reduces = !fusable[root];
    const Shape& shape = reduces ? t.tape[root].inputs()[0].shape() : t.tape[root].shape();
    group[root] = root;
    std::vector<int> members = {root};
    std::priority_queue<int> frontier;  // latest first: a node's readers are decided before it
    auto push_inputs = [&](int m) {
      for (auto& in : t.tape[m].inputs())
        if (int p = producer(in); p >= 0) frontier.push(p);
    };
    push_inputs(root);
    while (!frontier.empty()) {
      int p = frontier.top();
      frontier.pop();
      if (group[p] != -1 || !fusable[p] || t.tape[p].shape() != shape || (reduces && is_output[p])) continue;
      bool inside = true;
      for (int r : readers[p]) inside &= group[r] == root;
      if (!inside) continue;
      group[p] = root;
      members.push_back(p);
      push_inputs(p);
    }
    if (members.size() < 2 || (reduces && producer(t.tape[root].inputs()[0]) < 0)) continue;

    std::sort(members.begin(), members.end());
    std::unordered_map<uintptr_t, int> reg;
    std::vector<array> inputs;
    std::vector<Dtype> input_dtypes;
    for (int m : members)
      for (auto& in : t.tape[m].inputs())
        if ((producer(in) < 0 || group[producer(in)] != root) && !reg.count(in.id())) {
          reg[in.id()] = static_cast<int>(inputs.size());
          inputs.push_back(in);
          input_dtypes.push_back(in.dtype());
        }
    std::vector<FusedStep> steps;
    for (int m : members) {
      FusedStep step{t.tape[m].primitive_ptr(), {}, t.tape[m].dtype()};
      for (auto& in : t.tape[m].inputs()) step.args.push_back(reg.at(in.id()));
      reg[t.tape[m].id()] = static_cast<int>(inputs.size() + steps.size());
      steps.push_back(std::move(step));
    }
    std::vector<int> out_regs;
    std::vector<int> out_members;
    for (int m : members)
      if (m == root || (is_output[m] && !reduces)) {
        out_regs.push_back(reg.at(t.tape[m].id()));
        out_members.push_back(m);
      }
    auto prim = std::make_shared<Compiled>(t.tape[root].primitive().stream(), std::move(input_dtypes),
                                           std::move(steps), out_regs);
    std::vector<Shape> shapes;
    for (int m : out_members) shapes.push_back(t.tape[m].shape());
    std::vector<Dtype> dtypes;
    for (int m : out_members) dtypes.push_back(t.tape[m].dtype());
    std::vector<array> made = out_members.size() == 1
                                  ? std::vector<array>{array(shapes[0], dtypes[0], prim, inputs)}
                                  : array::make_arrays(shapes, dtypes, prim, inputs);
    for (size_t k = 0; k < out_members.size(); ++k) replaced.map.emplace(t.tape[out_members[k]].id(), made[k]);
    fused_at.emplace(root, made[0]);
  }

  std::vector<array> tape;
  for (int i = 0; i < n; ++i) {
    if (group[i] != -1 && fused_at.count(group[i])) {
      if (i != group[i]) continue;  // a member: its group stands at the root
      array node = fused_at.at(i);
      for (auto& in : node.inputs()) in = replaced(in);
      tape.push_back(node);
      continue;
    }
    for (auto& in : t.tape[i].inputs()) in = replaced(in);
    tape.push_back(t.tape[i]);
  }
  for (auto& o : t.outputs) o = replaced(o);
  t.tape = std::move(tape);
}

// ---- tracing and replay ---------------------------------------------------------------

Trace trace(const Fn& fun, const std::vector<array>& args) {
  Trace t;
  for (auto& a : args) {
    t.inputs.emplace_back(a.shape(), a.dtype(), nullptr, std::vector<array>{});
    t.inputs.back().set_tracer(true);  // marks what depends on the inputs
  }
  {
    detail::CompileTracing tracing;
    t.outputs = fun(t.inputs);
  }
  t.tape = detail::tape_between(t.inputs, t.outputs);
  // What the graph reads besides the inputs is constant: evaluate it once now.
  std::unordered_set<uintptr_t> on_tape;
  for (auto& in : t.inputs) on_tape.insert(in.id());
  for (auto& node : t.tape)
    for (auto& o : node.outputs()) on_tape.insert(o.id());
  std::vector<array> constants;
  for (auto& node : t.tape)
    for (auto& in : node.inputs())
      if (!on_tape.count(in.id())) constants.push_back(in);
  for (auto& o : t.outputs)
    if (!on_tape.count(o.id())) constants.push_back(o);
  eval(constants);
  simplify(t);
  fuse(t);
  for (auto& node : t.tape) {
    t.fixed_shapes |= !shape_polymorphic(node.primitive());
    t.same_sizes.push_back(same_size_axes(node.inputs()));
  }
  return t;
}

// The trace's graph on args, or nothing where args' shapes break a size equality it relies
// on (then they need a trace of their own, whose ops check them).
std::optional<std::vector<array>> replay(const Trace& t, const std::vector<array>& args) {
  std::unordered_map<uintptr_t, array> value;
  bool same_shapes = true;
  for (size_t i = 0; i < args.size(); ++i) {
    value.emplace(t.inputs[i].id(), args[i]);
    same_shapes &= args[i].shape() == t.inputs[i].shape();
  }
  auto get = [&](const array& a) {
    auto it = value.find(a.id());
    return it == value.end() ? a : it->second;
  };
  for (size_t k = 0; k < t.tape.size(); ++k) {
    const array& node = t.tape[k];
    std::vector<array> inputs;
    for (auto& in : node.inputs()) inputs.push_back(get(in));
    if (!same_shapes && !same_sizes_hold(t.same_sizes[k], inputs)) return std::nullopt;
    auto outs = node.outputs();
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& o : outs) shapes.push_back(o.shape()), dtypes.push_back(o.dtype());
    if (!same_shapes) shapes = node.primitive().output_shapes(inputs);
    std::vector<array> made = outs.size() == 1
                                  ? std::vector<array>{array(shapes[0], dtypes[0], node.primitive_ptr(), inputs)}
                                  : array::make_arrays(shapes, dtypes, node.primitive_ptr(), inputs);
    for (size_t k = 0; k < outs.size(); ++k) value.emplace(outs[k].id(), made[k]);
  }
  std::vector<array> outputs;
  for (auto& o : t.outputs) outputs.push_back(get(o));
  return outputs;
}

// The traces of one compiled function, least recently used last.
class TraceCache {
 public:
  TraceCache(Fn fun, bool shapeless, size_t max_traces)
      : fun_(std::move(fun)), shapeless_(shapeless), max_traces_(std::max<size_t>(1, max_traces)) {}

  std::vector<array> operator()(const std::vector<array>& args) {
    std::shared_ptr<Trace> t;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      t = find(args);
    }
    if (!t) t = add(args, shapeless_);
    if (auto out = replay(*t, args)) return *out;
    // A shapeless trace whose sizes were equal by chance (a square matrix) or that args
    // make invalid: trace args, which raises where they are invalid. The new trace comes
    // first among those of these ranks.
    return *replay(*add(args, shapeless_), args);
  }

 private:
  // Dtypes and shapes of the inputs or, shapeless, their ranks and which axes are empty or
  // of size 1: a trace depends on those even when no primitive in it fixes shapes, since
  // tracing decides broadcasting by them (a broadcast_to or reshape to the same shape is no
  // node at all, a fused group's outputs share one shape, matmul broadcasts batch axes).
  static std::vector<int64_t> key(const std::vector<array>& args, bool ranks_only) {
    std::vector<int64_t> k{ranks_only};
    for (auto& a : args) {
      k.push_back(static_cast<int64_t>(a.dtype().val));
      k.push_back(static_cast<int64_t>(a.ndim()));
      for (int32_t d : a.shape()) k.push_back(ranks_only ? std::min<int32_t>(d, 2) : d);
    }
    return k;
  }
  // A new trace for args, kept for every shape of their ranks when shapeless allows.
  std::shared_ptr<Trace> add(const std::vector<array>& args, bool shapeless) {
    auto t = std::make_shared<Trace>(trace(fun_, args));
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_front({key(args, shapeless && !t->fixed_shapes), t});
    if (entries_.size() > max_traces_) entries_.pop_back();
    return t;
  }
  std::shared_ptr<Trace> find(const std::vector<array>& args) {
    auto exact = key(args, false);
    auto ranks = key(args, true);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->key == exact || (shapeless_ && it->key == ranks)) {
        entries_.splice(entries_.begin(), entries_, it);
        return entries_.front().trace;
      }
    }
    return nullptr;
  }

  struct Entry {
    std::vector<int64_t> key;
    std::shared_ptr<Trace> trace;
  };
  Fn fun_;
  bool shapeless_;
  size_t max_traces_;
  std::mutex mutex_;
  std::list<Entry> entries_;
};

}  // namespace

namespace detail {
std::atomic<int>& compile_tracing_depth() {
  static std::atomic<int> depth{0};
  return depth;
}
}  // namespace detail

Fn compile(Fn fun, bool shapeless, size_t max_traces) {
  auto cache = std::make_shared<TraceCache>(fun, shapeless, max_traces);
  return [fun = std::move(fun), cache](const std::vector<array>& args) {
    if (!compile_enabled()) return fun(args);
    return (*cache)(args);
  };
}

void disable_compile() { enabled() = false; }
void enable_compile() { enabled() = true; }
bool compile_enabled() { return enabled(); }

// ---- the Compiled primitive -------------------------------------------------------------

Compiled::Compiled(Stream s, std::vector<Dtype> input_dtypes, std::vector<FusedStep> steps, std::vector<int> outputs)
    : Primitive(s), input_dtypes_(std::move(input_dtypes)), steps_(std::move(steps)), outputs_(std::move(outputs)) {}

std::vector<Shape> Compiled::output_shapes(const std::vector<array>& inputs) const {
  Shape shape;
  for (auto& in : inputs) shape = broadcast_shapes(shape, in.shape());
  if (dynamic_cast<const Reduce*>(steps_.back().primitive.get())) {
    array values(shape, steps_.back().dtype, nullptr, {});
    return steps_.back().primitive->output_shapes({values});
  }
  return std::vector<Shape>(outputs_.size(), shape);
}

bool Compiled::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Compiled*>(&other);
  if (!o || o->outputs_ != outputs_ || o->input_dtypes_ != input_dtypes_ || o->steps_.size() != steps_.size())
    return false;
  for (size_t i = 0; i < steps_.size(); ++i)
    if (steps_[i].args != o->steps_[i].args || !(steps_[i].dtype == o->steps_[i].dtype) ||
        !steps_[i].primitive->is_equivalent(*o->steps_[i].primitive))
      return false;
  return true;
}

void Compiled::print(std::ostream& os) const {
  os << "Compiled";
  for (size_t i = 0; i < steps_.size(); ++i) os << (i ? "_" : "(") << steps_[i].primitive->name();
  os << ")";
}

std::vector<array> Compiled::expand(const std::vector<array>& inputs) const {
  std::vector<array> reg = inputs;
  for (auto& step : steps_) {
    std::vector<array> args;
    for (int a : step.args) args.push_back(reg[a]);
    Shape shape = step.primitive->output_shapes(args)[0];
    reg.emplace_back(std::move(shape), step.dtype, step.primitive, std::move(args));
  }
  std::vector<array> out;
  for (int r : outputs_) out.push_back(reg[r]);
  return out;
}

// The rules differentiate or batch the expanded computation: the fused node is a faster way
// to run it, not a different function.
namespace {
// The positions k of argnums whose inputs carry derivatives: integer and bool inputs (a
// comparison computed outside the group, say) have none, and vjp and jvp refuse them.
std::vector<size_t> differentiable(const std::vector<array>& primals, const std::vector<int>& argnums) {
  std::vector<size_t> ks;
  for (size_t k = 0; k < argnums.size(); ++k)
    if (!is_integral(primals[argnums[k]].dtype())) ks.push_back(k);
  return ks;
}
}  // namespace

std::vector<array> Compiled::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<int> wrt;
  for (size_t k : differentiable(primals, argnums)) wrt.push_back(argnums[k]);
  auto fn = [&](const std::vector<array>& xs) {
    auto ins = primals;
    for (size_t k = 0; k < wrt.size(); ++k) ins[wrt[k]] = xs[k];
    return expand(ins);
  };
  std::vector<array> xs;
  for (int a : wrt) xs.push_back(primals[a]);
  auto grads = lazuli::vjp(fn, xs, cotangents).second;
  std::vector<array> out;
  for (int a : argnums) {
    auto it = std::find(wrt.begin(), wrt.end(), a);
    out.push_back(it == wrt.end() ? zeros_like(primals[a]) : grads[it - wrt.begin()]);
  }
  return out;
}

std::vector<array> Compiled::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<int> wrt;
  std::vector<array> xs, ts;
  for (size_t k : differentiable(primals, argnums)) {
    wrt.push_back(argnums[k]);
    xs.push_back(primals[argnums[k]]);
    ts.push_back(tangents[k]);
  }
  auto fn = [&](const std::vector<array>& xs) {
    auto ins = primals;
    for (size_t k = 0; k < wrt.size(); ++k) ins[wrt[k]] = xs[k];
    return expand(ins);
  };
  return lazuli::jvp(fn, xs, ts).second;
}

std::pair<std::vector<array>, std::vector<int>> Compiled::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  auto fn = [this](const std::vector<array>& xs) { return expand(xs); };
  auto out = lazuli::vmap(fn, axes, std::vector<int>(outputs_.size(), 0))(inputs);
  return {out, std::vector<int>(out.size(), 0)};
}

void Compiled::write(Writer& w) const {
  w.u32(static_cast<uint32_t>(input_dtypes_.size()));
  for (auto t : input_dtypes_) w.dtype(t);
  w.u32(static_cast<uint32_t>(steps_.size()));
  for (auto& step : steps_) {
    Writer params;
    step.primitive->write(params);
    w.str(step.primitive->class_name());
    w.str(params.bytes());
    w.ints(step.args);
    w.dtype(step.dtype);
  }
  w.ints(outputs_);
}

LAZULI_PRIMITIVE_READER(Compiled) {
  static const std::unordered_set<std::string> step_classes = {"Unary", "Binary", "Select", "AsType", "Copy",
                                                               "StopGradient", "Reduce"};
  uint32_t ni = r.u32();
  if (ni != r.input_shapes.size()) r.fail("a fused node whose input count does not match its inputs");
  std::vector<Dtype> input_dtypes, reg;
  Shape shape;
  for (uint32_t i = 0; i < ni; ++i) {
    input_dtypes.push_back(r.dtype());
    r.expect_input(i, input_dtypes.back());
    shape = broadcast_shapes(shape, r.input_shape(i));
  }
  reg = input_dtypes;
  uint32_t ns = r.u32();
  if (ns > r.left()) r.fail("a fused node with more steps than its bytes");
  std::vector<FusedStep> steps;
  for (uint32_t i = 0; i < ns; ++i) {
    std::string cls = r.str(), params = r.str();
    if (!step_classes.count(cls) || (cls == "Reduce" && i + 1 != ns)) r.fail("a fused step of class " + cls);
    FusedStep step{nullptr, r.ints(), r.dtype()};
    Reader sub(params.data(), params.size(), "a fused " + cls + " step");
    for (int a : step.args) {
      if (a < 0 || a >= static_cast<int>(reg.size())) r.fail("a fused step reading a later register");
      sub.input_shapes.push_back(shape);
      sub.input_dtypes.push_back(reg[a]);
    }
    sub.output_dtypes = {step.dtype};
    step.primitive = (*find_primitive_reader(cls))(s, sub);
    if (!sub.done()) r.fail("trailing bytes in a fused " + cls + " step");
    reg.push_back(step.dtype);
    steps.push_back(std::move(step));
  }
  std::vector<int> outputs = r.ints();
  if (outputs.size() != r.output_dtypes.size()) r.fail("a fused node whose output count does not match");
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k] < static_cast<int>(ni) || outputs[k] >= static_cast<int>(reg.size()))
      r.fail("a fused output that is not a step");
    r.expect_output(k, reg[outputs[k]]);
  }
  return std::make_shared<Compiled>(s, std::move(input_dtypes), std::move(steps), std::move(outputs));
}

}  // namespace lazuli
