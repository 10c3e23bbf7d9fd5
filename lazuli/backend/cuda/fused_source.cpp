// The CUDA C++ of a fused program's kernel (see fused_source.h). The program becomes a
// straight line of statements per element: load each input, one statement per step into a
// register of the step's dtype, store the outputs (or add the summed register to the
// thread's float64 partial sum).
//
// Bit for bit with the interpreter: each step is the elementwise kernels' expression,
// convert<Out>(Op{}(load(x), ...)), and so runs the same code. One thing differs when
// steps share a kernel: the compiler may contract a multiply ending one step with an add
// starting the next into one fused multiply-add, which rounds once where storing the
// product between kernels rounds twice. So every float result passes through keep(),
// an exclusive-or with a kernel argument that is always 0: the compiler cannot see
// through it, so the product is rounded before the next step uses it. (It costs one
// integer instruction per step; the kernels are bound by memory.)
#include "lazuli/backend/cuda/fused_source.h"

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "lazuli/backend/cpu/kernels.h"  // broadcast_strides
#include "lazuli/backend/cuda/host.h"    // row_major_dense
#include "lazuli/primitives/compiled.h"

namespace lazuli::cuda {
namespace {

// The device type a register or buffer of dtype t holds, as device_util.cuh's device_type
// (int64 is `long` there too, on the LP64 hosts CUDA supports).
const char* device_type_name(Dtype t) {
  switch (t.val) {
    case Dtype::Val::bool_: return "bool";
    case Dtype::Val::uint8: return "unsigned char";
    case Dtype::Val::uint16: return "unsigned short";
    case Dtype::Val::uint32: return "unsigned int";
    case Dtype::Val::uint64: return "unsigned long";
    case Dtype::Val::int8: return "signed char";
    case Dtype::Val::int16: return "short";
    case Dtype::Val::int32: return "int";
    case Dtype::Val::int64: return "long";
    case Dtype::Val::float16: return "__half";
    case Dtype::Val::bfloat16: return "__nv_bfloat16";
    case Dtype::Val::float32: return "float";
    case Dtype::Val::float64: return "double";
    case Dtype::Val::complex64: return "c64";
  }
  throw std::logic_error("[compile] No device type for " + dtype_name(t) + ".");
}

bool keeps(Dtype t) { return t == float32 || t == float64 || t == complex64; }

// What every fused kernel shares. `step` is the elementwise kernels' expression, with the
// checks their dispatch makes at compile time: the functor takes the dtype, and the step
// stores what the elementwise kernel would (result_t in elementwise.cu).
const char* const kPrelude = R"(#include "lazuli/backend/cuda/convert.cuh"
namespace {
using c64 = ::cuda::std::complex<float>;
using lazuli::cuda::compute_t;
using lazuli::cuda::convert;
using lazuli::cuda::load;
static_assert(sizeof(long) == 8, "int64 is long");

template <typename Out, typename Op, typename S, typename... More>
__device__ __forceinline__ Out step(S x, More... more) {
  static_assert((Op::kinds & lazuli::math::kind_of<compute_t<S>>) != 0, "the op does not take this dtype");
  static_assert((std::is_same_v<S, More> && ...), "the op's operands differ in dtype");
  using R = decltype(Op{}(load(x), load(more)...));
  using Stored = std::conditional_t<std::is_same_v<R, compute_t<S>>, S, R>;
  static_assert(std::is_same_v<Out, Stored>, "the step's dtype is not what the elementwise kernel stores");
  return convert<Out>(Op{}(load(x), load(more)...));
}

__device__ __forceinline__ float keep(float v, unsigned zero) { return __uint_as_float(__float_as_uint(v) ^ zero); }
__device__ __forceinline__ double keep(double v, unsigned zero) {
  return __longlong_as_double(__double_as_longlong(v) ^ static_cast<long long>(zero));
}
__device__ __forceinline__ c64 keep(c64 v, unsigned zero) { return c64(keep(v.real(), zero), keep(v.imag(), zero)); }
)";

// The FusedIndex type and offsets() for `strided` inputs read through it.
std::string index_source(int strided) {
  std::ostringstream s;
  s << "constexpr int kDims = " << kMaxDims << ", kStrided = " << strided << ";\n"
    << "struct FusedIndex {\n  long long ndim;\n  long long shape[kDims];\n  long long strides[kStrided][kDims];\n};\n"
    << R"(__device__ __forceinline__ void offsets(long long i, const FusedIndex& ix, long long (&off)[kStrided]) {
  if (ix.ndim == 1) {
    for (int k = 0; k < kStrided; ++k) off[k] = i * ix.strides[k][0];
    return;
  }
  for (int k = 0; k < kStrided; ++k) off[k] = 0;
  for (int d = static_cast<int>(ix.ndim) - 1; d >= 0; --d) {
    long long q = i / ix.shape[d], r = i - q * ix.shape[d];
    for (int k = 0; k < kStrided; ++k) off[k] += r * ix.strides[k][d];
    i = q;
  }
}
)";
  return s.str();
}

std::string reg(int r) {
  std::string name(1, 'r');  // (not "r" + ...: GCC 12 warns falsely there, -Wrestrict)
  return name += std::to_string(r);
}

// The expression of one step over its argument registers.
std::string step_expression(const FusedStep& step, const std::vector<Dtype>& reg_dtypes) {
  const Primitive& p = *step.primitive;
  const std::string out = device_type_name(step.dtype);
  auto args = [&] {
    std::string s;
    for (size_t k = 0; k < step.args.size(); ++k) s += (k ? ", " : "") + reg(step.args[k]);
    return s;
  };
  if (auto* u = dynamic_cast<const Unary*>(&p))
    return "step<" + out + ", lazuli::math::" + op_name(u->op()) + ">(" + args() + ")";
  if (auto* b = dynamic_cast<const Binary*>(&p))
    return "step<" + out + ", lazuli::math::" + op_name(b->op()) + ">(" + args() + ")";
  if (dynamic_cast<const Select*>(&p)) {
    if (!(reg_dtypes[step.args[0]] == bool_) || !(reg_dtypes[step.args[1]] == step.dtype) ||
        !(reg_dtypes[step.args[2]] == step.dtype))
      throw std::logic_error("[compile] A fused select's dtypes do not match.");
    return reg(step.args[0]) + " ? " + reg(step.args[1]) + " : " + reg(step.args[2]);
  }
  if (dynamic_cast<const AsType*>(&p) || dynamic_cast<const Copy*>(&p) || dynamic_cast<const StopGradient*>(&p))
    return "convert<" + out + ">(" + reg(step.args[0]) + ")";
  throw std::logic_error("[compile] A fused step has no GPU code: " + p.name());
}

bool ends_in_sum(const Compiled& c) {
  auto* r = dynamic_cast<const Reduce*>(c.steps().back().primitive.get());
  return r && r->op() == ReduceOp::Sum;
}

uint64_t fnv1a(const std::string& data) {  // stable across processes, unlike std::hash
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : data) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

const char* const kNamePlaceholder = "@KERNEL@";

}  // namespace

FusedLayout fused_layout(const std::vector<array>& inputs, const Shape& shape) {
  FusedLayout layout;
  for (const auto& in : inputs) {
    if (in.size() == 1) layout.inputs.push_back(Access::Scalar);
    else if (in.shape() == shape && row_major_dense(in)) layout.inputs.push_back(Access::Dense);
    else layout.inputs.push_back(Access::Strided);
  }
  return layout;
}

FusedIndex fused_index(const std::vector<array>& inputs, const FusedLayout& layout, const Shape& shape) {
  std::vector<Strides> strides;
  for (size_t k = 0; k < inputs.size(); ++k)
    if (layout.inputs[k] == Access::Strided) strides.push_back(cpu::broadcast_strides(inputs[k], shape));
  FusedIndex ix;
  if (strides.empty()) return ix;
  const MergedDims m = merge_dims(shape, strides, "compile");
  // Words: ndim, shape[kMaxDims], then strides[count][kMaxDims].
  ix.words.assign(1 + kMaxDims * (1 + strides.size()), 0);
  ix.words[0] = static_cast<int64_t>(m.shape.size());
  for (size_t d = 0; d < m.shape.size(); ++d) {
    ix.words[1 + d] = m.shape[d];
    for (size_t k = 0; k < strides.size(); ++k) ix.words[1 + kMaxDims * (1 + k) + d] = m.strides[k][d];
  }
  return ix;
}

FusedKernel fused_kernel_source(const Compiled& c, const FusedLayout& layout) {
  const auto& steps = c.steps();
  const int ni = static_cast<int>(c.input_dtypes().size());
  if (static_cast<int>(layout.inputs.size()) != ni)
    throw std::logic_error("[compile] A fused layout names " + std::to_string(layout.inputs.size()) +
                           " inputs for a program of " + std::to_string(ni) + ".");
  const bool sums = ends_in_sum(c);
  const size_t elementwise = sums ? steps.size() - 1 : steps.size();
  std::vector<Dtype> reg_dtypes = c.input_dtypes();
  for (const auto& s : steps) reg_dtypes.push_back(s.dtype);
  int strided = 0;
  for (Access a : layout.inputs) strided += a == Access::Strided;

  std::ostringstream src;
  src << "// A fused program, generated by lazuli/backend/cuda/fused_source.cpp.\n" << kPrelude;
  if (strided) src << index_source(strided);
  src << "}  // namespace\n\n";

  // Parameters.
  src << "extern \"C\" __global__ void __launch_bounds__(" << kFusedThreads << ") " << kNamePlaceholder << "(";
  for (int i = 0; i < ni; ++i)
    src << "const " << device_type_name(reg_dtypes[i]) << "* __restrict__ in" << i << ", ";
  if (sums) {
    src << device_type_name(steps.back().dtype) << "* __restrict__ out, long long rows, long long row_len, ";
  } else {
    for (size_t k = 0; k < c.output_registers().size(); ++k)
      src << device_type_name(reg_dtypes[c.output_registers()[k]]) << "* __restrict__ out" << k << ", ";
    src << "long long n, ";
  }
  if (strided) src << "const FusedIndex ix, ";
  src << "unsigned zero) {\n";

  // Scalars are read once; the body computes every register at element i.
  for (int i = 0; i < ni; ++i)
    if (layout.inputs[i] == Access::Scalar)
      src << "  const " << device_type_name(reg_dtypes[i]) << " scalar" << i << " = in" << i << "[0];\n";
  std::ostringstream body;
  const std::string pad = sums ? "      " : "    ";
  if (strided) body << pad << "long long off[kStrided];\n" << pad << "offsets(i, ix, off);\n";
  for (int i = 0, k = 0; i < ni; ++i) {
    body << pad << "const " << device_type_name(reg_dtypes[i]) << " " << reg(i) << " = ";
    switch (layout.inputs[i]) {
      case Access::Dense: body << "in" << i << "[i];\n"; break;
      case Access::Scalar: body << "scalar" << i << ";\n"; break;
      case Access::Strided: body << "in" << i << "[off[" << k++ << "]];\n"; break;
    }
  }
  for (size_t s = 0; s < elementwise; ++s) {
    const int r = ni + static_cast<int>(s);
    const std::string e = step_expression(steps[s], reg_dtypes);
    body << pad << "const " << device_type_name(steps[s].dtype) << " " << reg(r) << " = "
         << (keeps(steps[s].dtype) ? "keep(" + e + ", zero)" : e) << ";\n";
  }

  if (!sums) {
    src << "  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;"
           " i += (long long)gridDim.x * blockDim.x) {\n"
        << body.str();
    for (size_t k = 0; k < c.output_registers().size(); ++k)
      src << "    out" << k << "[i] = " << reg(c.output_registers()[k]) << ";\n";
    src << "  }\n}\n";
  } else {
    const FusedStep& sum = steps.back();
    const int value = sum.args.at(0);
    if (!(sum.dtype == float32 || sum.dtype == float64) || !(reg_dtypes[value] == sum.dtype))
      throw std::logic_error("[compile] A fused sum of " + dtype_name(reg_dtypes[value]) + " has no GPU kernel.");
    src << "  __shared__ double part[" << kFusedThreads << "];\n"
        << "  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {\n"
        << "    double sum = 0;\n"
        << "    for (long long j = threadIdx.x; j < row_len; j += blockDim.x) {\n"
        << "      const long long i = row * row_len + j;\n"
        << body.str() << "      sum += " << reg(value) << ";\n"
        << "    }\n"
        << "    part[threadIdx.x] = sum;\n"
        << "    __syncthreads();\n"
        << "    for (int w = " << kFusedThreads / 2 << "; w > 0; w /= 2) {\n"
        << "      if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];\n"
        << "      __syncthreads();\n"
        << "    }\n"
        << "    if (threadIdx.x == 0) out[row] = static_cast<" << device_type_name(sum.dtype) << ">(part[0]);\n"
        << "    __syncthreads();  // part is reused by the next row\n"
        << "  }\n}\n";
  }

  // The name hashes the whole source, so it changes with anything that changes the code.
  FusedKernel k;
  k.source = src.str();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(k.source)));
  k.name = std::string("lazuli_fused_") + hex;
  k.source.replace(k.source.find(kNamePlaceholder), std::string(kNamePlaceholder).size(), k.name);
  return k;
}

}  // namespace lazuli::cuda
