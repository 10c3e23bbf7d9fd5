// CUDA backend: CustomKernel (fast::cuda_kernel). The program was compiled when the kernel
// was called (jit::compile caches the image, so this finds it), and is launched here with
// the arguments its generated signature takes: per input the data pointer and, where the
// body reads them, its shape, strides and rank; then per output the data pointer.
#include <algorithm>
#include <cstring>
#include <deque>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/jit.h"
#include "lazuli/primitives/custom_kernel.h"

namespace lazuli::cuda {
namespace {

// The kernel's arguments, each kept at a stable address for cuLaunchKernel.
class KernelArgs {
 public:
  template <typename T> void add(const T& value) {
    auto& bytes = storage_.emplace_back(sizeof(T));
    std::memcpy(bytes.data(), &value, sizeof(T));
    pointers_.push_back(bytes.data());
  }
  void** data() { return pointers_.data(); }

 private:
  std::deque<std::vector<uint64_t>> storage_;  // 8-byte aligned blocks
  std::vector<void*> pointers_;
};

// The layout of lazuli_custom::Dims<T> in the generated program.
template <typename T, typename V> std::array<T, kCustomKernelMaxDims> dims_of(const V& values) {
  std::array<T, kCustomKernelMaxDims> d{};
  std::copy(values.begin(), values.end(), d.begin());
  return d;
}

void run_custom_kernel(CustomKernel& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                       const GpuContext& ctx) {
  const std::string image = jit::compile(p.source(), p.user_name());
  CUfunction f = jit::function(image, p.kernel_name());
  KernelArgs args;
  std::vector<array> kept;  // dense copies, alive until the launch is queued (eval syncs after the node)
  kept.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const array& in = p.ensure_row_contiguous() ? kept.emplace_back(dense(inputs[i], ctx.stream)) : inputs[i];
    args.add(data_of(in));
    const CustomKernel::InputMeta& m = p.input_meta()[i];
    if (m.shape) args.add(dims_of<int32_t>(in.shape()));
    if (m.strides) args.add(dims_of<int64_t>(in.strides()));
    if (m.ndim) args.add(static_cast<int>(in.ndim()));
  }
  const CustomKernel::Launch& launch = p.launch();
  for (auto& out : outputs) {
    if (launch.init_value) convert_into(array(*launch.init_value, float32), out, ctx.stream);
    else cpu::allocate(out);
    args.add(out.raw_data());
  }
  dim3 block(launch.threadgroup[0], launch.threadgroup[1], launch.threadgroup[2]);
  auto blocks = [&](int k) {
    return static_cast<unsigned>((int64_t(launch.grid[k]) + launch.threadgroup[k] - 1) / launch.threadgroup[k]);
  };
  jit::launch(f, dim3(blocks(0), blocks(1), blocks(2)), block, launch.shared_memory, ctx.stream, args.data());
}

}  // namespace

LAZULI_GPU_KERNEL(CustomKernel, run_custom_kernel);

}  // namespace lazuli::cuda
