// CUDA backend: how a primitive runs on the GPU. Views run their CPU code over the same
// managed memory; everything else goes to the kernel its family registered (host.h). Every
// GPU node ends by waiting for its CUDA stream, so an output marked available is finished
// data that CPU nodes may read.
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/device.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives.h"
#include "lazuli/primitives/indexing.h"

namespace lazuli::cuda {
namespace {

// Buffers from the allocator are managed memory, which kernels address directly; memory a
// caller lent (an array over a pointer) or a memory-mapped file is not, and a kernel
// reading it would fault and take the whole CUDA context down with it.
bool device_accessible(const array& a) {
  const void* p = data_of(a);
  if (!p || a.size() == 0) return true;
  cudaPointerAttributes attr;
  LAZULI_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  return attr.type == cudaMemoryTypeManaged || attr.type == cudaMemoryTypeDevice ||
         attr.type == cudaMemoryTypeHost;  // pinned host memory is mapped for the device
}
// A row-major copy in managed memory, made on the host.
array staged(const array& a) {
  array copy(a.shape(), a.dtype(), nullptr, {});
  cpu::allocate(copy);
  if (copy.size() > 0) cpu::copy_to(a, copy, copy.strides(), 0);
  return copy;
}

// Primitives that only make a new view of their input's buffer (or, for an incompatible
// reshape, a host copy; Depends and CustomTransforms pass their inputs' buffers through):
// they run as on the CPU, over the same managed memory.
bool is_view(const Primitive& p) {
  return dynamic_cast<const Broadcast*>(&p) || dynamic_cast<const Reshape*>(&p) ||
         dynamic_cast<const Transpose*>(&p) || dynamic_cast<const Slice*>(&p) ||
         dynamic_cast<const AsStrided*>(&p) || dynamic_cast<const View*>(&p) ||
         dynamic_cast<const StopGradient*>(&p) || dynamic_cast<const Depends*>(&p) ||
         dynamic_cast<const CustomTransforms*>(&p);
}

}  // namespace

bool eval_gpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (is_view(p)) {
    p.eval_cpu(inputs, outputs);
    return true;
  }
  const GpuKernel* kernel = find_gpu_kernel(typeid(p));
  if (!kernel) return false;
  LAZULI_CUDA_CHECK(cudaSetDevice(p.device().index));
  GpuContext ctx{stream_of(p.stream().index), p.stream().index};
  std::vector<array> in = inputs;
  for (auto& a : in)
    if (!device_accessible(a)) a = staged(a);
  (*kernel)(p, in, outputs, ctx);
  // Correctness first: the node is done when its kernels are (temporaries the kernel made
  // are freed when it returns, so they too must be finished with).
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  return true;
}

}  // namespace lazuli::cuda
