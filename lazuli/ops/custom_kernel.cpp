// fast::cuda_kernel: MLX's custom-kernel API with a CUDA body. The call writes the whole
// program (signature, template arguments, the user's header and body), compiles it with
// NVRTC right away (so errors surface at the call, and the image is cached for the launch)
// and returns the outputs of a CustomKernel node, which the CUDA backend launches
// (lazuli/backend/cuda/custom_kernel.cpp).
#include <cctype>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "lazuli/fast.h"
#include "lazuli/primitives/custom_kernel.h"
#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/jit.h"
#endif

namespace lazuli {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("[cuda_kernel] " + msg); }

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// Whether `source` uses the identifier `word` (not as part of a longer one).
bool mentions(const std::string& source, const std::string& word) {
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = source.find(word); at != std::string::npos; at = source.find(word, at + 1)) {
    bool starts = at == 0 || !ident(source[at - 1]);
    bool ends = at + word.size() == source.size() || !ident(source[at + word.size()]);
    if (starts && ends) return true;
  }
  return false;
}

// The CUDA type of a Lazuli dtype's elements in the generated program.
const char* cuda_type(Dtype t) {
  switch (t.val) {
    case Dtype::Val::bool_: return "bool";
    case Dtype::Val::uint8: return "uint8_t";
    case Dtype::Val::uint16: return "uint16_t";
    case Dtype::Val::uint32: return "uint32_t";
    case Dtype::Val::uint64: return "uint64_t";
    case Dtype::Val::int8: return "int8_t";
    case Dtype::Val::int16: return "int16_t";
    case Dtype::Val::int32: return "int32_t";
    case Dtype::Val::int64: return "int64_t";
    case Dtype::Val::float16: return "__half";
    case Dtype::Val::float32: return "float";
    case Dtype::Val::float64: return "double";
    case Dtype::Val::bfloat16: return "__nv_bfloat16";
    case Dtype::Val::complex64: return "cuda::std::complex<float>";
  }
  return "void";
}

// What every program starts with. Fixed-width integer names are made global (NVRTC has no
// <stdint.h>); `inf` is there because kernels written for MLX use it.
const char* const kPrelude = R"(#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda/std/complex>
#include <cuda/std/cstdint>
#include <cuda/std/limits>
using cuda::std::int8_t; using cuda::std::int16_t; using cuda::std::int32_t; using cuda::std::int64_t;
using cuda::std::uint8_t; using cuda::std::uint16_t; using cuda::std::uint32_t; using cuda::std::uint64_t;
#define inf cuda::std::numeric_limits<float>::infinity()
namespace lazuli_custom {
// An input's shape or strides, passed by value: index it as an array.
template <typename T> struct Dims {
  T v[LAZULI_MAX_DIMS];
  __device__ const T& operator[](int i) const { return v[i]; }
};
}  // namespace lazuli_custom
)";

using TemplateArgs = std::vector<std::pair<std::string, fast::TemplateArg>>;

std::string template_value(const fast::TemplateArg& a) {
  if (auto* b = std::get_if<bool>(&a)) return *b ? "true" : "false";
  if (auto* i = std::get_if<int>(&a)) return std::to_string(*i);
  return cuda_type(std::get<Dtype>(a));
}

// A short, stable tag of the template arguments for the kernel's name.
std::string template_tag(const TemplateArgs& args) {
  if (args.empty()) return "";
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (auto& [name, value] : args)
    for (unsigned char c : name + "=" + template_value(value) + ";") h = (h ^ c) * 0x100000001b3ull;
  std::ostringstream os;
  os << "_" << std::hex << h;
  return os.str();
}

struct Program {
  std::string source, kernel_name;
  std::vector<CustomKernel::InputMeta> meta;
};

Program write_program(const std::string& name, const std::vector<std::string>& input_names,
                      const std::vector<std::string>& output_names, const std::string& body,
                      const std::string& header, const std::vector<array>& inputs,
                      const std::vector<Dtype>& output_dtypes, const TemplateArgs& template_args) {
  Program p;
  p.kernel_name = "lazuli_custom_" + name + template_tag(template_args);
  std::vector<std::string> params, args;  // the kernel's parameters and the body's arguments
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& in = input_names[i];
    CustomKernel::InputMeta m{mentions(body, in + "_shape"), mentions(body, in + "_strides"),
                              mentions(body, in + "_ndim")};
    if ((m.shape || m.strides) && inputs[i].ndim() > static_cast<size_t>(kCustomKernelMaxDims))
      fail("input '" + in + "' has " + std::to_string(inputs[i].ndim()) + " dimensions; a kernel reading its shape "
           "or strides takes at most " + std::to_string(kCustomKernelMaxDims) + ".");
    params.push_back(std::string("const ") + cuda_type(inputs[i].dtype()) + "* __restrict__ " + in);
    args.push_back(in);
    auto add = [&](bool used, const std::string& type, const std::string& suffix) {
      if (!used) return;
      params.push_back(type + " " + in + suffix);
      args.push_back(in + suffix);
    };
    add(m.shape, "const lazuli_custom::Dims<int32_t>", "_shape");
    add(m.strides, "const lazuli_custom::Dims<int64_t>", "_strides");
    add(m.ndim, "const int", "_ndim");
    p.meta.push_back(m);
  }
  for (size_t i = 0; i < output_names.size(); ++i) {
    params.push_back(std::string(cuda_type(output_dtypes[i])) + "* __restrict__ " + output_names[i]);
    args.push_back(output_names[i]);
  }
  auto join = [](const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
  };
  std::vector<std::string> tparams, targs;
  for (auto& [tname, value] : template_args) {
    const char* kind = std::holds_alternative<Dtype>(value) ? "typename" : std::holds_alternative<bool>(value) ? "bool" : "int";
    tparams.push_back(std::string(kind) + " " + tname);
    targs.push_back(template_value(value));
  }
  std::ostringstream os;
  os << "// Custom kernel '" << name << "', written by lazuli::fast::cuda_kernel.\n"
     << "#define LAZULI_MAX_DIMS " << kCustomKernelMaxDims << "\n"
     << kPrelude << header << "\n\n";
  if (!tparams.empty()) os << "template <" << join(tparams, ", ") << ">\n";
  os << "__device__ __forceinline__ void lazuli_custom_body(\n    " << join(params, ",\n    ") << ") {\n"
     << body << "\n}\n\n"
     << "extern \"C\" __global__ void " << p.kernel_name << "(\n    " << join(params, ",\n    ") << ") {\n"
     << "  lazuli_custom_body" << (targs.empty() ? "" : "<" + join(targs, ", ") + ">") << "(" << join(args, ", ")
     << ");\n}\n";
  p.source = os.str();
  return p;
}

void check_names(const std::vector<std::string>& names, const char* what, std::set<std::string>& seen) {
  for (auto& n : names) {
    if (!is_identifier(n)) fail(std::string(what) + " name '" + n + "' is not a C++ identifier.");
    if (!seen.insert(n).second) fail(std::string(what) + " name '" + n + "' is used twice.");
  }
}

std::string dims_text(const std::array<int, 3>& d) {
  std::ostringstream os;
  os << "(" << d[0] << ", " << d[1] << ", " << d[2] << ")";
  return os.str();
}

void check_launch(const std::array<int, 3>& grid, const std::array<int, 3>& threadgroup, int shared_memory) {
  for (int k = 0; k < 3; ++k) {
    if (grid[k] < 1) fail("grid " + dims_text(grid) + " must be positive in every dimension.");
    if (threadgroup[k] < 1) fail("threadgroup " + dims_text(threadgroup) + " must be positive in every dimension.");
  }
  int64_t threads = int64_t(threadgroup[0]) * threadgroup[1] * threadgroup[2];
  if (threads > 1024 || threadgroup[2] > 64)
    fail("threadgroup " + dims_text(threadgroup) + " has " + std::to_string(threads) +
         " threads; a CUDA block takes at most 1024 (and at most 64 in z).");
  for (int k = 1; k < 3; ++k)
    if ((grid[k] + int64_t(threadgroup[k]) - 1) / threadgroup[k] > 65535)
      fail("grid " + dims_text(grid) + " needs more than 65535 blocks in y or z.");
  // 227 KiB: the most dynamic shared memory a block may have on sm_90.
  if (shared_memory < 0 || shared_memory > 227 * 1024)
    fail("shared_memory " + std::to_string(shared_memory) + " must be between 0 and 232448 bytes.");
}

}  // namespace

namespace fast {

CustomKernelFunction cuda_kernel(const std::string& name, const std::vector<std::string>& input_names,
                                 const std::vector<std::string>& output_names, const std::string& source,
                                 const std::string& header, bool ensure_row_contiguous, int shared_memory,
                                 bool /*atomic_outputs: CUDA's atomics work on plain T* outputs*/) {
  if (name.empty()) fail("the kernel needs a name.");
  if (!is_identifier(name)) fail("name '" + name + "' must be a C++ identifier (letters, digits, _).");
  if (output_names.empty()) fail("the kernel needs at least one output.");
  std::set<std::string> seen;
  check_names(input_names, "input", seen);
  check_names(output_names, "output", seen);
  if (shared_memory < 0 || shared_memory > 227 * 1024)
    fail("shared_memory " + std::to_string(shared_memory) + " must be between 0 and 232448 bytes.");
  return [=](const std::vector<array>& inputs, const std::vector<Shape>& output_shapes,
             const std::vector<Dtype>& output_dtypes, std::array<int, 3> grid, std::array<int, 3> threadgroup,
             const TemplateArgs& template_args, std::optional<float> init_value, bool verbose,
             StreamOrDevice s) -> std::vector<array> {
    const std::string op = "kernel '" + name + "': ";
    if (inputs.size() != input_names.size())
      fail(op + "got " + std::to_string(inputs.size()) + " inputs for " + std::to_string(input_names.size()) +
           " input names.");
    if (output_shapes.size() != output_names.size() || output_dtypes.size() != output_names.size())
      fail(op + "got " + std::to_string(output_shapes.size()) + " output shapes and " +
           std::to_string(output_dtypes.size()) + " output dtypes for " + std::to_string(output_names.size()) +
           " output names.");
    for (auto& shape : output_shapes)
      for (auto d : shape)
        if (d < 0) fail(op + "output shapes must not have negative dimensions (got " + std::to_string(d) + ").");
    check_launch(grid, threadgroup, shared_memory);
    std::set<std::string> names(input_names.begin(), input_names.end());
    names.insert(output_names.begin(), output_names.end());
    for (auto& [tname, value] : template_args) {
      if (!is_identifier(tname)) fail(op + "template argument name '" + tname + "' is not a C++ identifier.");
      if (!names.insert(tname).second) fail(op + "template argument name '" + tname + "' is used twice.");
    }
    Program program = write_program(name, input_names, output_names, source, header, inputs, output_dtypes,
                                    template_args);
    if (verbose) std::cout << "Generated source code for `" << name << "`:\n```\n" << program.source << "```\n";
#ifdef LAZULI_CUDA
    cuda::jit::compile(program.source, name);  // errors now; the launch finds the image cached
#else
    throw std::runtime_error("[cuda_kernel] Lazuli was built without CUDA: custom CUDA kernels cannot run.");
#endif
    CustomKernel::Launch launch{grid, threadgroup, shared_memory, init_value};
    auto p = std::make_shared<CustomKernel>(to_stream(s), name, program.kernel_name, program.source,
                                            std::move(program.meta), output_shapes, ensure_row_contiguous, launch);
    return array::make_arrays(output_shapes, output_dtypes, p, inputs);
  };
}

}  // namespace fast

void CustomKernel::eval_cpu(const std::vector<array>&, std::vector<array>&) {
  throw std::invalid_argument("[cuda_kernel] Custom CUDA kernels run on the GPU only.");
}

void CustomKernel::print(std::ostream& os) const { os << "CustomKernel(" << user_name_ << ")"; }

std::vector<array> CustomKernel::vjp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&,
                                     const std::vector<array>&) {
  throw std::invalid_argument("[cuda_kernel] Custom kernel '" + user_name_ + "' has no gradient (vjp).");
}
std::vector<array> CustomKernel::jvp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&) {
  throw std::invalid_argument("[cuda_kernel] Custom kernel '" + user_name_ + "' has no gradient (jvp).");
}
std::pair<std::vector<array>, std::vector<int>> CustomKernel::vmap(const std::vector<array>&,
                                                                   const std::vector<int>&) {
  throw std::invalid_argument("[cuda_kernel] Custom kernel '" + user_name_ +
                              "' cannot be vmapped: it sees its inputs' whole shapes.");
}

// Export: the whole program and the launch, so an import runs the same kernel.
void CustomKernel::write(Writer& w) const {
  w.str(user_name_), w.str(kernel_name_), w.str(source_);
  w.u32(static_cast<uint32_t>(input_meta_.size()));
  for (auto& m : input_meta_) w.boolean(m.shape), w.boolean(m.strides), w.boolean(m.ndim);
  w.u32(static_cast<uint32_t>(output_shapes_.size()));
  for (auto& shape : output_shapes_) w.ints(shape);
  w.boolean(ensure_row_contiguous_);
  for (int k = 0; k < 3; ++k) w.i32(launch_.grid[k]), w.i32(launch_.threadgroup[k]);
  w.i32(launch_.shared_memory);
  w.boolean(launch_.init_value.has_value());
  w.f64(launch_.init_value.value_or(0));
}

LAZULI_PRIMITIVE_READER(CustomKernel) {
  std::string user_name = r.str(), kernel_name = r.str(), source = r.str();
  uint32_t n_inputs = r.u32();
  r.arity(n_inputs);
  std::vector<CustomKernel::InputMeta> meta(n_inputs);
  for (auto& m : meta) m.shape = r.boolean(), m.strides = r.boolean(), m.ndim = r.boolean();
  uint32_t n_outputs = r.u32();
  if (n_outputs != r.output_dtypes.size())
    r.fail("a CustomKernel with " + std::to_string(n_outputs) + " output shapes for " +
           std::to_string(r.output_dtypes.size()) + " outputs");
  std::vector<Shape> shapes;
  for (uint32_t i = 0; i < n_outputs; ++i) shapes.push_back(r.shape());
  bool contiguous = r.boolean();
  CustomKernel::Launch launch{};
  for (int k = 0; k < 3; ++k) launch.grid[k] = r.i32(), launch.threadgroup[k] = r.i32();
  launch.shared_memory = r.i32();
  bool has_init = r.boolean();
  double init = r.f64();
  if (has_init) launch.init_value = static_cast<float>(init);
  try {
    check_launch(launch.grid, launch.threadgroup, launch.shared_memory);
  } catch (const std::invalid_argument& e) {
    r.fail(e.what());
  }
  for (uint32_t i = 0; i < n_inputs; ++i)
    if ((meta[i].shape || meta[i].strides) && r.rank(i) > kCustomKernelMaxDims)
      r.fail("a CustomKernel input of rank " + std::to_string(r.rank(i)));
  return std::make_shared<CustomKernel>(s, user_name, kernel_name, source, std::move(meta), std::move(shapes),
                                        contiguous, launch);
}

}  // namespace lazuli
