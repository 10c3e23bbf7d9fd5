// export_function / import_function. File layout (little-endian; see lazuli/serialize.h):
//
//   "LAZULIFN" u32 version (1) u8 shapeless
//   u32 #constants, each: u8 dtype, shape (u32 ndim, i32 dims), u64 nbytes, raw row-major data
//   u32 #traces, each:
//     u32 #args, each: shape, u8 dtype
//     u32 #kwargs (sorted by name), each: str name, shape, u8 dtype
//     u32 #nodes (inputs before their readers), each:
//       str primitive class, u32 #inputs, each a ref, u32 #outputs, each: shape, u8 dtype,
//       str parameters (what the primitive's write() wrote)
//     u32 #outputs, each a ref
//   ref = u8 kind (0: input (args then kwargs), 1: constant, 2: node output), u32 index,
//         u32 output position; str = u32 length + bytes.
#include "lazuli/export.h"

#include <cstdio>
#include <cstring>
#include <optional>
#include <fstream>
#include <ostream>
#include <sstream>
#include <unistd.h>
#include <unordered_map>

#include "lazuli/device_memory.h"
#include "lazuli/ops.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives.h"
#include "lazuli/serialize.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {
namespace {

constexpr char kMagic[8] = {'L', 'A', 'Z', 'U', 'L', 'I', 'F', 'N'};
constexpr uint32_t kVersion = 1;

enum RefKind : uint8_t { kInput = 0, kConstant = 1, kNode = 2 };
struct Ref {
  uint8_t kind;
  uint32_t index, position;
};
struct Spec {  // an input's or node output's shape and dtype
  Shape shape;
  Dtype dtype = float32;
};
struct Node {
  std::string cls;
  std::vector<Ref> inputs;
  std::vector<Spec> outputs;
  std::string params;
};
struct Trace {
  std::vector<Spec> args;
  std::vector<std::pair<std::string, Spec>> kwargs;
  std::vector<Node> nodes;
  std::vector<Ref> outputs;
};

[[noreturn]] void fail(const std::string& op, const std::string& msg) {
  throw std::invalid_argument("[" + op + "] " + msg);
}

std::string spec_str(const Spec& s) { return detail::shape_str(s.shape) + " " + dtype_name(s.dtype); }

// Row-major, dense and evaluated.
array dense(const array& a) {
  array c = contiguous(a);
  c.eval();
  if (!c.flags().row_contiguous || c.data_size() != c.size()) {
    c = copy(a);
    c.eval();
  }
  return c;
}

}  // namespace

struct ImportedFunction::Impl {
  bool shapeless = false;
  std::vector<array> constants;
  std::vector<Trace> traces;
};

struct FunctionExporter::State {
  std::string file;
  KwFn fun;
  ImportedFunction::Impl graph;
  std::unordered_map<uintptr_t, uint32_t> constant_ids;
  bool closed = false;

  uint32_t add_constant(const array& a) {
    auto [it, fresh] = constant_ids.emplace(a.id(), static_cast<uint32_t>(graph.constants.size()));
    if (fresh) graph.constants.push_back(dense(a));  // keeps a alive too, so its id stays unique
    return it->second;
  }
  void trace(const std::vector<array>& args, const Kwargs& kwargs);
};

namespace {

// A new graph leaf holding x's values: the trace starts at it, whatever built x.
array leaf_of(const array& x) {
  array c = dense(x);
  array leaf(c.raw_data(), c.shape(), c.dtype(), [c](void*) {});
  leaf.set_tracer(true);
  return leaf;
}

}  // namespace

void FunctionExporter::State::trace(const std::vector<array>& args, const Kwargs& kwargs) {
  if (closed) fail("export_function", "The exporter for " + file + " is already closed.");
  Trace t;
  std::unordered_map<uintptr_t, uint32_t> input_index;
  std::vector<array> leaf_args;
  Kwargs leaf_kwargs;
  for (auto& a : args) {
    leaf_args.push_back(leaf_of(a));
    input_index[leaf_args.back().id()] = static_cast<uint32_t>(input_index.size());
    t.args.push_back({a.shape(), a.dtype()});
  }
  for (auto& [name, a] : kwargs) {
    array leaf = leaf_of(a);
    leaf_kwargs.emplace(name, leaf);
    input_index[leaf.id()] = static_cast<uint32_t>(input_index.size());
    t.kwargs.push_back({name, {a.shape(), a.dtype()}});
  }

  detail::Tracing tracing;  // graphs derived from the leaves survive any eval inside fun
  std::vector<array> outs = fun(leaf_args, leaf_kwargs);
  if (outs.empty()) fail("export_function", "The function returned no arrays.");

  std::unordered_map<uintptr_t, Ref> refs;
  auto resolve = [&](const array& a) -> Ref {
    if (auto it = refs.find(a.id()); it != refs.end()) return it->second;
    Ref r = input_index.count(a.id()) ? Ref{kInput, input_index[a.id()], 0} : Ref{kConstant, add_constant(a), 0};
    refs[a.id()] = r;
    return r;
  };
  auto enter = [&](const array& a) { return !input_index.count(a.id()) && a.has_primitive(); };
  auto leave = [&](array a) {
    std::vector<array> outputs = a.outputs();
    std::vector<Ref> ins;
    bool depends = false;  // on the inputs; nodes that do not are evaluated and saved as constants
    for (auto& in : a.inputs()) {
      ins.push_back(resolve(in));
      depends |= ins.back().kind != kConstant;
    }
    if (!depends) {
      for (auto& o : outputs) refs[o.id()] = Ref{kConstant, add_constant(o), 0};
      return;
    }
    Primitive& p = a.primitive();
    if (auto* custom = dynamic_cast<CustomTransforms*>(&p)) {
      // Its rules are C++ closures: keep only the forward graph it already holds.
      for (size_t i = 0; i < outputs.size(); ++i) refs[outputs[i].id()] = ins[custom->num_args() + i];
      return;
    }
    const char* cls = p.class_name();
    if (!cls || !find_primitive_reader(cls))
      fail("export_function", "The primitive " + p.name() + " cannot be exported (it has no registered reader).");
    Node n{cls, std::move(ins), {}, {}};
    for (auto& o : outputs) n.outputs.push_back({o.shape(), o.dtype()});
    Writer w;
    p.write(w);
    n.params = std::move(w.bytes());
    uint32_t index = static_cast<uint32_t>(t.nodes.size());
    t.nodes.push_back(std::move(n));
    for (uint32_t i = 0; i < outputs.size(); ++i) refs[outputs[i].id()] = Ref{kNode, index, i};
  };
  detail::walk_graph(outs, enter, leave);
  for (auto& o : outs) t.outputs.push_back(resolve(o));
  graph.traces.push_back(std::move(t));
}

// ---- writing ----------------------------------------------------------------------------

namespace {

void write_spec(Writer& w, const Spec& s) { w.ints(s.shape), w.dtype(s.dtype); }
void write_ref(Writer& w, const Ref& r) { w.u8(r.kind), w.u32(r.index), w.u32(r.position); }

std::string serialize(const ImportedFunction::Impl& g) {
  Writer w;
  w.put(kMagic, sizeof(kMagic));
  w.u32(kVersion);
  w.boolean(g.shapeless);
  w.u32(static_cast<uint32_t>(g.constants.size()));
  for (auto& c : g.constants) {
    write_spec(w, {c.shape(), c.dtype()});
    w.u64(c.nbytes());
    array bytes = host_readable(c);  // device-only memory (DLPack imports) is copied to the host
    if (c.nbytes()) w.put(bytes.raw_data(), c.nbytes());
  }
  w.u32(static_cast<uint32_t>(g.traces.size()));
  for (auto& t : g.traces) {
    w.u32(static_cast<uint32_t>(t.args.size()));
    for (auto& a : t.args) write_spec(w, a);
    w.u32(static_cast<uint32_t>(t.kwargs.size()));
    for (auto& [name, a] : t.kwargs) w.str(name), write_spec(w, a);
    w.u32(static_cast<uint32_t>(t.nodes.size()));
    for (auto& n : t.nodes) {
      w.str(n.cls);
      w.u32(static_cast<uint32_t>(n.inputs.size()));
      for (auto& r : n.inputs) write_ref(w, r);
      w.u32(static_cast<uint32_t>(n.outputs.size()));
      for (auto& o : n.outputs) write_spec(w, o);
      w.str(n.params);
    }
    w.u32(static_cast<uint32_t>(t.outputs.size()));
    for (auto& r : t.outputs) write_ref(w, r);
  }
  return std::move(w.bytes());
}

// Writes to file + ".tmp" and renames, so a failure never leaves a half-written file.
void write_file(const std::string& file, const std::string& bytes) {
  std::string tmp = file + ".tmp" + std::to_string(::getpid());  // one per writing process
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("[export_function] Cannot open " + tmp + " for writing.");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error("[export_function] Writing " + tmp + " failed.");
    }
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("[export_function] Cannot rename " + tmp + " to " + file + ".");
  }
}

}  // namespace

FunctionExporter::FunctionExporter(std::string file, KwFn fun, bool shapeless) : state_(std::make_unique<State>()) {
  state_->file = std::move(file);
  state_->fun = std::move(fun);
  state_->graph.shapeless = shapeless;
}
FunctionExporter::FunctionExporter(std::string file, Fn fun, bool shapeless)
    : FunctionExporter(
          std::move(file),
          [fun = std::move(fun)](const std::vector<array>& args, const Kwargs& kwargs) {
            if (!kwargs.empty()) fail("export_function", "This function takes no keyword arguments.");
            return fun(args);
          },
          shapeless) {}
FunctionExporter::FunctionExporter(FunctionExporter&&) noexcept = default;
FunctionExporter::~FunctionExporter() {
  if (!state_ || state_->closed) return;
  try {
    close();
  } catch (...) {
  }
}
void FunctionExporter::operator()(const std::vector<array>& args, const Kwargs& kwargs) {
  state_->trace(args, kwargs);
}
void FunctionExporter::close() {
  if (state_->closed) return;
  state_->closed = true;
  if (state_->graph.traces.empty()) return;  // nothing traced: no file, as MLX
  write_file(state_->file, serialize(state_->graph));
}

FunctionExporter exporter(const std::string& file, const KwFn& fun, bool shapeless) {
  return FunctionExporter(file, fun, shapeless);
}
FunctionExporter exporter(const std::string& file, const Fn& fun, bool shapeless) {
  return FunctionExporter(file, fun, shapeless);
}

void export_function(const std::string& file, const KwFn& fun, const std::vector<array>& args, const Kwargs& kwargs,
                     bool shapeless) {
  FunctionExporter ex(file, fun, shapeless);
  ex(args, kwargs);
  ex.close();
}
void export_function(const std::string& file, const Fn& fun, const std::vector<array>& args, bool shapeless) {
  FunctionExporter ex(file, fun, shapeless);
  ex(args);
  ex.close();
}

// ---- reading ----------------------------------------------------------------------------

namespace {

// A count of items each taking at least `min_bytes`, checked against what is left.
uint32_t read_count(Reader& r, size_t min_bytes) {
  uint32_t n = r.u32();
  if (uint64_t(n) * min_bytes > r.left()) r.fail("a count of " + std::to_string(n) + " is larger than the file");
  return n;
}
Spec read_spec(Reader& r) {
  Spec s;
  s.shape = r.shape();
  s.dtype = r.dtype();
  return s;
}

// The shape and dtype a ref stands for in trace t.
const Spec* spec_of(const ImportedFunction::Impl& g, const Trace& t, const Ref& ref, std::vector<Spec>& scratch) {
  if (ref.kind == kInput)
    return ref.index < t.args.size() ? &t.args[ref.index] : &t.kwargs[ref.index - t.args.size()].second;
  if (ref.kind == kNode) return &t.nodes[ref.index].outputs[ref.position];
  scratch.push_back({g.constants[ref.index].shape(), g.constants[ref.index].dtype()});
  return &scratch.back();
}

Ref read_ref(Reader& r, const ImportedFunction::Impl& g, const Trace& t, size_t num_nodes) {
  Ref ref{r.u8(), r.u32(), r.u32()};
  size_t num_inputs = t.args.size() + t.kwargs.size();
  bool ok = (ref.kind == kInput && ref.index < num_inputs && ref.position == 0) ||
            (ref.kind == kConstant && ref.index < g.constants.size() && ref.position == 0) ||
            (ref.kind == kNode && ref.index < num_nodes && ref.position < t.nodes[ref.index].outputs.size());
  if (!ok) r.fail("a reference to a value that does not exist (kind " + std::to_string(ref.kind) + ", index " +
                  std::to_string(ref.index) + ")");
  return ref;
}

std::vector<array> placeholders(const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes) {
  std::vector<array> out;
  for (size_t i = 0; i < shapes.size(); ++i) out.push_back(array(shapes[i], dtypes[i], nullptr, {}));
  return out;
}

// Rebuilds node n's primitive for inputs of these shapes and dtypes; the reader checks the
// parameters against them. Returns it with its output shapes.
std::shared_ptr<Primitive> make_primitive(const std::string& cls, const std::string& params,
                                          const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes,
                                          const std::vector<Dtype>& out_dtypes, const std::string& context) {
  const PrimitiveReader* reader = find_primitive_reader(cls);
  Reader r(params.data(), params.size(), context);
  if (!reader) r.fail("unknown primitive class '" + cls + "'");
  r.input_shapes = shapes;
  r.input_dtypes = dtypes;
  r.output_dtypes = out_dtypes;
  auto p = (*reader)(to_stream({}), r);
  if (!r.done()) r.fail(cls + " has " + std::to_string(r.left()) + " unread parameter bytes");
  return p;
}

}  // namespace

ImportedFunction import_function(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("[import_function] Cannot open " + file + ".");
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw std::runtime_error("[import_function] Cannot read " + file + ".");
  std::string bytes(static_cast<size_t>(size), '\0');  // the file's real size, not a claimed one
  if (!in.read(bytes.data(), size)) throw std::runtime_error("[import_function] Cannot read " + file + ".");
  std::string context = "The file " + file + " is malformed";
  Reader r(bytes.data(), bytes.size(), context);
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    r.fail("it is not a Lazuli exported function (bad magic)");
  r.take(sizeof(kMagic));
  uint32_t version = r.u32();
  if (version != kVersion) r.fail("unsupported version " + std::to_string(version));
  auto g = std::make_shared<ImportedFunction::Impl>();
  g->shapeless = r.boolean();

  uint32_t num_constants = read_count(r, 1 + 4 + 8);
  for (uint32_t i = 0; i < num_constants; ++i) {
    Spec s = read_spec(r);
    uint64_t nbytes = r.u64();
    size_t size = 1;
    for (auto d : s.shape) size *= size_t(d);
    if (size > r.left() / s.dtype.size || nbytes != size * s.dtype.size)
      r.fail("constant " + std::to_string(i) + " claims " + std::to_string(nbytes) + " bytes for " + spec_str(s));
    const char* data = r.take(nbytes);
    // A copy of the bytes (aligned) that the array owns.
    char* buf = new char[std::max<size_t>(nbytes, 1)];
    std::memcpy(buf, data, nbytes);
    g->constants.push_back(array(buf, s.shape, s.dtype, [](void* p) { delete[] static_cast<char*>(p); }));
  }

  uint32_t num_traces = read_count(r, 16);
  if (num_traces == 0) r.fail("it holds no traces");
  for (uint32_t ti = 0; ti < num_traces; ++ti) {
    Trace t;
    uint32_t num_args = read_count(r, 5);
    for (uint32_t i = 0; i < num_args; ++i) t.args.push_back(read_spec(r));
    uint32_t num_kwargs = read_count(r, 9);
    for (uint32_t i = 0; i < num_kwargs; ++i) {
      std::string name = r.str();
      if (i > 0 && !(t.kwargs.back().first < name)) r.fail("keyword names are not sorted and unique");
      t.kwargs.push_back({name, read_spec(r)});
    }
    uint32_t num_nodes = read_count(r, 16);
    for (uint32_t ni = 0; ni < num_nodes; ++ni) {
      Node n;
      n.cls = r.str();
      uint32_t num_inputs = read_count(r, 9);
      for (uint32_t i = 0; i < num_inputs; ++i) n.inputs.push_back(read_ref(r, *g, t, ni));
      uint32_t num_outputs = read_count(r, 5);
      if (num_outputs == 0) r.fail("a node has no outputs");
      for (uint32_t i = 0; i < num_outputs; ++i) n.outputs.push_back(read_spec(r));
      n.params = r.str();
      // Rebuild the primitive once to check its parameters and recorded output shapes.
      std::vector<Shape> shapes;
      std::vector<Dtype> dtypes;
      std::vector<Spec> scratch;
      scratch.reserve(num_inputs);
      for (auto& ref : n.inputs) {
        const Spec* s = spec_of(*g, t, ref, scratch);
        shapes.push_back(s->shape), dtypes.push_back(s->dtype);
      }
      std::vector<Dtype> out_dtypes;
      for (auto& o : n.outputs) out_dtypes.push_back(o.dtype);
      auto p = make_primitive(n.cls, n.params, shapes, dtypes, out_dtypes,
                              context + " (node " + std::to_string(ni) + ", " + n.cls + ")");
      auto out_shapes = p->output_shapes(placeholders(shapes, dtypes));
      bool same = out_shapes.size() == n.outputs.size();
      for (size_t i = 0; same && i < out_shapes.size(); ++i) same = out_shapes[i] == n.outputs[i].shape;
      if (!same) r.fail("node " + std::to_string(ni) + " (" + n.cls + ") records output shapes its primitive does not make");
      t.nodes.push_back(std::move(n));
    }
    uint32_t num_outputs = read_count(r, 9);
    if (num_outputs == 0) r.fail("a trace has no outputs");
    for (uint32_t i = 0; i < num_outputs; ++i) t.outputs.push_back(read_ref(r, *g, t, t.nodes.size()));
    g->traces.push_back(std::move(t));
  }
  if (!r.done()) r.fail(std::to_string(r.left()) + " bytes follow the last trace");
  return ImportedFunction(std::move(g));
}

// ---- running ----------------------------------------------------------------------------

namespace {

bool matches(const Spec& s, const array& a, bool shapeless) {
  if (a.dtype() != s.dtype) return false;
  return shapeless ? a.ndim() == s.shape.size() : a.shape() == s.shape;
}

// The output shape of a Reshape (traced from `in` to `out`) for the new input `now`: the
// dimensions `in` and `out` share at the front and at the back carry changes through; a
// change anywhere else cannot be followed.
std::optional<Shape> reshaped(const Shape& in, const Shape& out, const Shape& now) {
  size_t p = 0, q = 0, m = std::min(in.size(), out.size());
  while (p < m && in[p] == out[p]) ++p;
  while (q < m - p && in[in.size() - 1 - q] == out[out.size() - 1 - q]) ++q;
  Shape result = out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (now[d] == in[d]) continue;
    if (d < p) result[d] = now[d];
    else if (d >= in.size() - q) result[d + out.size() - in.size()] = now[d];
    else return std::nullopt;
  }
  return result;
}

// The target of a Broadcast (traced from `in` to `out`) for the new input `now`: axes that
// passed through unbroadcast follow the input.
std::optional<Shape> broadcasted(const Shape& in, const Shape& out, const Shape& now) {
  Shape result = out;
  size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) {
    if (now[d] == in[d]) continue;
    if (in[d] != out[lead + d]) return std::nullopt;  // a broadcast axis: its size is fixed
    result[lead + d] = now[d];
  }
  return result;
}

std::string describe(const std::vector<array>& args, const Kwargs& kwargs) {
  std::ostringstream os;
  os << args.size() << " positional and " << kwargs.size() << " keyword inputs:";
  for (size_t i = 0; i < args.size(); ++i) os << "\n  " << i + 1 << ": " << spec_str({args[i].shape(), args[i].dtype()});
  for (auto& [k, v] : kwargs) os << "\n  \"" << k << "\": " << spec_str({v.shape(), v.dtype()});
  return os.str();
}
std::string describe(const Trace& t) {
  std::ostringstream os;
  os << t.args.size() << " positional and " << t.kwargs.size() << " keyword inputs:";
  for (size_t i = 0; i < t.args.size(); ++i) os << "\n  " << i + 1 << ": " << spec_str(t.args[i]);
  for (auto& [k, v] : t.kwargs) os << "\n  \"" << k << "\": " << spec_str(v);
  return os.str();
}

}  // namespace

bool ImportedFunction::shapeless() const { return impl_->shapeless; }
size_t ImportedFunction::num_traces() const { return impl_->traces.size(); }

std::vector<array> ImportedFunction::operator()(const std::vector<array>& args, const Kwargs& kwargs) const {
  const Impl& g = *impl_;
  const Trace* trace = nullptr;
  for (auto& t : g.traces) {
    if (t.args.size() != args.size() || t.kwargs.size() != kwargs.size()) continue;
    bool ok = true;
    for (size_t i = 0; ok && i < args.size(); ++i) ok = matches(t.args[i], args[i], g.shapeless);
    for (size_t i = 0; ok && i < t.kwargs.size(); ++i) {
      auto it = kwargs.find(t.kwargs[i].first);
      ok = it != kwargs.end() && matches(t.kwargs[i].second, it->second, g.shapeless);
    }
    if (ok) {
      trace = &t;
      break;
    }
  }
  if (!trace) {
    std::ostringstream os;
    os << "No exported trace matches the given inputs" << (g.shapeless ? " (shapeless: same ranks and dtypes)" : "")
       << ". Traces:";
    for (size_t i = 0; i < g.traces.size(); ++i) os << "\n" << i + 1 << ". " << describe(g.traces[i]);
    os << "\nCalled with " << describe(args, kwargs);
    fail("import_function", os.str());
  }
  const Trace& t = *trace;
  std::vector<array> inputs = args;
  for (auto& [k, v] : t.kwargs) inputs.push_back(kwargs.at(k));
  std::vector<std::vector<array>> values;
  auto value = [&](const Ref& r) -> const array& {
    if (r.kind == kInput) return inputs[r.index];
    if (r.kind == kConstant) return g.constants[r.index];
    return values[r.index][r.position];
  };
  std::vector<Spec> scratch;
  for (size_t ni = 0; ni < t.nodes.size(); ++ni) {
    const Node& n = t.nodes[ni];
    std::vector<array> ins;
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    bool changed = false;
    scratch.clear();
    scratch.reserve(n.inputs.size());
    for (auto& ref : n.inputs) {
      ins.push_back(value(ref));
      shapes.push_back(ins.back().shape());
      dtypes.push_back(ins.back().dtype());
      changed |= shapes.back() != spec_of(g, t, ref, scratch)->shape;
    }
    std::vector<Dtype> out_dtypes;
    std::vector<Shape> out_shapes;
    for (auto& o : n.outputs) out_dtypes.push_back(o.dtype), out_shapes.push_back(o.shape);
    std::shared_ptr<Primitive> p;
    if (!changed) {
      p = make_primitive(n.cls, n.params, shapes, dtypes, out_dtypes, "The exported graph is malformed");
    } else {
      std::string context = "Cannot run the shapeless function on these input shapes: node " + std::to_string(ni) +
                            " (" + n.cls + ")";
      Shape traced_in = spec_of(g, t, n.inputs[0], scratch)->shape;
      std::string params = n.params;
      if (n.cls == "Slice" || n.cls == "SliceUpdate" || n.cls == "AsStrided") {
        fail("import_function", context + " bakes in its traced input shape " + detail::shape_str(traced_in) +
                                    " and cannot take " + detail::shape_str(shapes[0]) + ".");
      } else if (n.cls == "Reshape" || n.cls == "Broadcast") {
        auto target = n.cls == "Reshape" ? reshaped(traced_in, n.outputs[0].shape, shapes[0])
                                         : broadcasted(traced_in, n.outputs[0].shape, shapes[0]);
        if (!target)
          fail("import_function", context + " was traced from " + detail::shape_str(traced_in) + " to " +
                                      detail::shape_str(n.outputs[0].shape) + " and cannot follow the input " +
                                      detail::shape_str(shapes[0]) + ".");
        Writer w;
        w.ints(*target);
        params = std::move(w.bytes());
      }
      p = make_primitive(n.cls, params, shapes, dtypes, out_dtypes, context);
      out_shapes = p->output_shapes(ins);
      if (out_shapes.size() != out_dtypes.size()) fail("import_function", context + " makes another number of outputs.");
    }
    if (out_shapes.size() == 1)
      values.push_back({array(out_shapes[0], out_dtypes[0], p, ins)});
    else
      values.push_back(array::make_arrays(out_shapes, out_dtypes, p, ins));
  }
  std::vector<array> outs;
  for (auto& r : t.outputs) outs.push_back(value(r));
  return outs;
}

// ---- dot --------------------------------------------------------------------------------

void export_to_dot(std::ostream& os, const std::vector<array>& outputs) {
  os << "digraph {\n";
  std::unordered_map<uintptr_t, int> ids;
  auto id_of = [&](const array& a) {
    auto [it, fresh] = ids.emplace(a.id(), static_cast<int>(ids.size()));
    if (fresh) os << "  v" << it->second << " [label=\"" << detail::shape_str(a.shape()) << " " << dtype_name(a.dtype()) << "\"];\n";
    return it->second;
  };
  int num_prims = 0;
  detail::walk_graph(
      outputs, [](const array& a) { return a.has_primitive(); },
      [&](array a) {
        int prim = num_prims++;
        std::vector<int> ins, outs;
        for (auto& in : a.inputs()) ins.push_back(id_of(in));
        for (auto& o : a.outputs()) outs.push_back(id_of(o));
        os << "  p" << prim << " [label=\"" << a.primitive().name() << "\", shape=rectangle];\n";
        for (int v : ins) os << "  v" << v << " -> p" << prim << ";\n";
        for (int v : outs) os << "  p" << prim << " -> v" << v << ";\n";
      });
  for (auto& o : outputs) id_of(o);
  os << "}\n";
}

void export_to_dot(const std::string& file, const std::vector<array>& outputs) {
  std::ostringstream os;
  export_to_dot(os, outputs);
  write_file(file, os.str());
}

}  // namespace lazuli
