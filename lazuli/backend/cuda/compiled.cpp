// CUDA backend: compile's fused elementwise programs (Compiled), run by interpretation for
// now: each step is one launch of the elementwise family's kernel over a full-size
// temporary, the way the eager ops would run; a final sum over trailing axes (the CPU's
// fused reduction) is a row-sum kernel, and a sum over other axes first moves them last.
// (Generating one kernel per program is a later step.)
#include <algorithm>
#include <numeric>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/compiled.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/elementwise.h"
#include "lazuli/backend/cuda/host.h"
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
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));  // the temporaries are freed on return
}

}  // namespace

LAZULI_GPU_KERNEL(Compiled, eval_compiled);

}  // namespace lazuli::cuda
