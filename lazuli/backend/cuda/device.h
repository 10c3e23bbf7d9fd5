// Internal: what the CUDA backend offers the rest of Lazuli. Plain C++ (no CUDA headers),
// so the allocator, the scheduler and the tests can include it.
#pragma once
#include <cstddef>
#include <vector>

namespace lazuli {
class array;
class Primitive;
}  // namespace lazuli

namespace lazuli::cuda {
// GPUs the driver reports; 0 when there is no driver or no device (never throws).
int device_count();

// Memory: unified (managed) buffers that CPU and GPU kernels both read and write, so no
// copies between devices are ever needed.
void* managed_malloc(size_t bytes);  // nullptr when the driver refuses
void managed_free(void* p);
// The most the allocator may hold at once: 90% of the GPU memory free when the process
// first asked, so that a program fails with a clear error instead of thrashing.
size_t memory_cap();

// Runs `p` on the GPU stream `stream_index` and waits for the stream, so the outputs are
// complete when this returns. Returns false when the backend has no kernel for `p`.
bool eval_gpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);
}  // namespace lazuli::cuda
