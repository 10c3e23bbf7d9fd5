// CUDA backend: compile's fused elementwise programs (Compiled). Two ways to run one:
// - by interpretation (the default): each step is one launch of the elementwise family's
//   kernel over a full-size temporary, the way the eager ops would run; a final sum over
//   trailing axes (the CPU's fused reduction) is a row-sum kernel, and a sum over other
//   axes first moves them last.
// - with LAZULI_CUDA_JIT=1: one kernel for the whole program, generated (fused_source.h),
//   compiled with NVRTC (jit.h) once per program, dtypes and layout class, and cached. It
//   computes what the interpreter computes, bit for bit, reading and writing memory once.
//   Sums over axes that are not trailing still go to the interpreter.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/compiled.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/elementwise.h"
#include "lazuli/backend/cuda/fused_source.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/jit.h"
#include "lazuli/ops.h"  // broadcast_shapes
#include "lazuli/primitives/compiled.h"

namespace lazuli::cuda {
namespace {

// Runs one elementwise step over `shape` into a fresh dense array.
array run_step(const FusedStep& step, const std::vector<array>& args, const Shape& shape, cudaStream_t s) {
  array out(shape, step.dtype, nullptr, {});
  cpu::allocate(out);
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return out;
  auto strides = [&](int k) { return cpu::broadcast_strides(args[k], shape); };
  const Primitive& p = *step.primitive;
  const std::string name = p.name();
  if (auto* u = dynamic_cast<const Unary*>(&p)) {
    launch_unary(u->op(), args[0].dtype(), step.dtype, data_of(args[0]), out.raw_data(), n,
                 make_indexer<1>(shape, {strides(0)}, name), s);
  } else if (auto* b = dynamic_cast<const Binary*>(&p)) {
    launch_binary(b->op(), args[0].dtype(), step.dtype, data_of(args[0]), data_of(args[1]), out.raw_data(), n,
                  make_indexer<2>(shape, {strides(0), strides(1)}, name), s);
  } else if (dynamic_cast<const Select*>(&p)) {
    launch_select(out.itemsize(), data_of(args[0]), data_of(args[1]), data_of(args[2]), out.raw_data(), n,
                  make_indexer<3>(shape, {strides(0), strides(1), strides(2)}, name), s);
  } else if (dynamic_cast<const AsType*>(&p) || dynamic_cast<const Copy*>(&p) ||
             dynamic_cast<const StopGradient*>(&p)) {
    launch_convert(args[0].dtype(), step.dtype, data_of(args[0]), out.raw_data(), n,
                   make_indexer<1>(shape, {strides(0)}, name), s);
  } else {
    throw std::logic_error("[compile] A fused step has no GPU kernel: " + name);
  }
  return out;
}

// out = the sum of `values` (dense) over the axes where out's shape is 1 and values' is not.
void fused_sum(const array& values, array& out, cudaStream_t s) {
  cpu::allocate(out);
  const Shape& full = values.shape();
  const int64_t rows = static_cast<int64_t>(out.size());
  if (rows == 0) return;
  const int64_t row_len = static_cast<int64_t>(values.size()) / rows;
  if (row_len == 0) {
    LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), s));
    return;
  }
  // Kept axes first, summed axes last: a dense copy in that order sums rows.
  std::vector<int> order(full.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_partition(order.begin(), order.end(), [&](int d) { return out.shape(d) == full[d]; });
  array rows_last = values;
  if (!std::is_sorted(order.begin(), order.end())) {
    Shape shape;
    Strides strides;
    for (int d : order) shape.push_back(full[d]), strides.push_back(values.strides()[d]);
    rows_last = array(shape, values.dtype(), nullptr, {});
    cpu::allocate(rows_last);
    launch_convert(values.dtype(), values.dtype(), data_of(values), rows_last.raw_data(),
                   static_cast<int64_t>(values.size()), make_indexer<1>(shape, {strides}, "sum"), s);
  }
  launch_row_sums(out.dtype(), data_of(rows_last), out.raw_data(), rows, row_len, s);
}

// ---- one generated kernel per program ----

// Read on every evaluation (a getenv is cheap next to a launch), so tests can switch it.
bool jit_enabled() {
  const char* v = std::getenv("LAZULI_CUDA_JIT");
  return v && std::strcmp(v, "1") == 0;
}

// The kernel of `k` on the current device, compiled and loaded on first use. Keyed by the
// source (which names the program, its dtypes and layout), since jit::compile's own key
// hashes the embedded headers too, every call.
CUfunction fused_function(const FusedKernel& k) {
  static std::mutex mutex;
  static std::map<std::pair<int, std::string>, CUfunction> functions;
  int device = 0;
  LAZULI_CUDA_CHECK(cudaGetDevice(&device));
  LAZULI_CUDA_CHECK(cudaSetDevice(device));  // the context current in this thread, for the launch (jit.h)
  std::pair<int, std::string> key{device, k.source};
  {
    std::lock_guard lock(mutex);
    if (auto it = functions.find(key); it != functions.end()) return it->second;
  }
  CUfunction f = jit::function(jit::compile(k.source, k.name, /*contract_fma=*/false), k.name);  // outside the lock: slow
  std::lock_guard lock(mutex);
  return functions.emplace(std::move(key), f).first->second;
}

// Whether summing `full` to `out` (kept axes of size 1) sums runs of consecutive elements.
bool sums_trailing_axes(const Shape& full, const Shape& out) {
  int d = static_cast<int>(full.size()) - 1;
  while (d >= 0 && out[d] == 1) --d;
  for (; d >= 0; --d)
    if (out[d] != full[d]) return false;
  return true;
}

// Runs `c` as one generated kernel; false (nothing done) where the interpreter must.
bool run_fused(Compiled& c, const std::vector<array>& inputs, std::vector<array>& outputs, const Shape& shape,
               bool sums, cudaStream_t s) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!(inputs[i].dtype() == c.input_dtypes()[i])) return false;
  if (sums && !sums_trailing_axes(shape, outputs[0].shape())) return false;
  for (auto& o : outputs) cpu::allocate(o);
  int64_t n = static_cast<int64_t>(shape_size(shape)), rows = 0, row_len = 0;
  if (sums) {
    rows = static_cast<int64_t>(outputs[0].size());
    if (rows == 0) return true;
    row_len = n / rows;
    if (row_len == 0) {
      LAZULI_CUDA_CHECK(cudaMemsetAsync(outputs[0].raw_data(), 0, outputs[0].nbytes(), s));
      return true;
    }
  } else if (n == 0) {
    return true;
  }
  const FusedLayout layout = fused_layout(inputs, shape);
  FusedIndex ix = fused_index(inputs, layout, shape);
  CUfunction f = fused_function(fused_kernel_source(c, layout));
  // The arguments in the order fused_kernel_source declares them.
  std::vector<const void*> pointers;
  for (auto& in : inputs) pointers.push_back(data_of(in));
  for (auto& o : outputs) pointers.push_back(o.raw_data());
  unsigned zero = 0;
  std::vector<void*> args;
  for (auto& p : pointers) args.push_back(&p);
  if (sums) {
    args.push_back(&rows);
    args.push_back(&row_len);
  } else {
    args.push_back(&n);
  }
  if (!ix.words.empty()) args.push_back(ix.words.data());
  args.push_back(&zero);
  constexpr int64_t kMaxBlocks = 65536;  // grid-stride loops cover the rest
  const int64_t work = sums ? rows : (n + kFusedThreads - 1) / kFusedThreads;
  jit::launch(f, dim3(static_cast<unsigned>(std::min(work, kMaxBlocks))), dim3(kFusedThreads), 0, s, args.data());
  return true;
}

void eval_compiled(Compiled& c, const std::vector<array>& inputs, std::vector<array>& outputs, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  const auto& steps = c.steps();
  const bool reduces = dynamic_cast<const Reduce*>(steps.back().primitive.get()) != nullptr;
  Shape shape;
  if (reduces) {
    for (auto& in : inputs) shape = broadcast_shapes(shape, in.shape());
  } else {
    shape = outputs[0].shape();
  }
  if (jit_enabled() && run_fused(c, inputs, outputs, shape, reduces, s)) return;
  std::vector<array> regs(inputs.begin(), inputs.end());
  const size_t elementwise = reduces ? steps.size() - 1 : steps.size();
  for (size_t i = 0; i < elementwise; ++i) {
    std::vector<array> args;
    for (int a : steps[i].args) args.push_back(regs[a]);
    regs.push_back(run_step(steps[i], args, shape, s));
  }
  if (reduces) {
    fused_sum(regs[steps.back().args[0]], outputs[0], s);
  } else {
    // Outputs are steps' results: dense arrays of the output's shape and dtype, shared.
    for (size_t k = 0; k < outputs.size(); ++k) outputs[k].copy_shared_buffer(regs[c.output_registers()[k]]);
  }
}

}  // namespace

LAZULI_GPU_KERNEL(Compiled, eval_compiled);

}  // namespace lazuli::cuda
