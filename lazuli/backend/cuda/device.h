// Internal: what the CUDA backend offers the rest of Lazuli. Plain C++ (no CUDA headers),
// so the allocator, the scheduler and the tests can include it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace lazuli {
class array;
class Primitive;
class DeviceFence;
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

// Whether `p` points into a buffer managed_malloc returned (so no driver query is needed).
bool is_managed(const void* p);

// Memory other libraries allocated (DLPack imports), for host reads of it.
// Where `p` lies, asked of the driver (one query): host memory (pageable or pinned), managed
// memory, or device-only memory (cudaMalloc), which the host cannot read.
enum class PointerKind { host, managed, device_only };
PointerKind pointer_kind(const void* p);
// A blocking copy of `bytes` from any CUDA memory `src` to host-readable `dst`.
void copy_to_host(void* dst, const void* src, size_t bytes);
// Waits on the host for the legacy default stream, on which DLPack producers were asked to
// order their work (so that every Lazuli stream and the host may then read it).
void synchronize_legacy_stream();
// The CUDA device Lazuli runs on.
int current_device();

// Launches `p` on its GPU stream without waiting for it: the stream keeps the node's inputs
// alive until its kernels are done. Returns false when the backend has no kernel for `p`.
bool eval_gpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);
// The work handed to a GPU stream so far, as a fence; nullptr when all of it is done.
std::shared_ptr<DeviceFence> stream_fence(int stream_index);

// For the allocator, which must not reuse a buffer a kernel may still read: free_tag() is 0
// when no GPU work is in flight (free at once), else a ticket that completed_tag() reaches
// once every kernel launched before the free is done. completed_tag() also lets go of the
// inputs that finished nodes kept alive. synchronize_all() waits for every GPU stream
// (and frees nothing, so the allocator may call it holding its lock).
uint64_t free_tag();
uint64_t completed_tag();
void synchronize_all();
}  // namespace lazuli::cuda
