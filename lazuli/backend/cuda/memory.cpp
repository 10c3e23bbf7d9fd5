// CUDA backend: managed memory and the per-stream CUDA streams.
#include <map>
#include <mutex>
#include <unordered_set>

#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/device.h"

namespace lazuli::cuda {

namespace {
// The buffers managed_malloc handed out, so that kernels need no driver query to know
// they may read them.
std::mutex managed_mutex;
std::unordered_set<const void*>& managed_buffers() {
  static auto* buffers = new std::unordered_set<const void*>;  // never destroyed: frees at exit
  return *buffers;
}
}  // namespace

void* managed_malloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMallocManaged(&p, bytes) != cudaSuccess) {
    cudaGetLastError();  // an out-of-memory status is not sticky; clear it for the next call
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(managed_mutex);
  managed_buffers().insert(p);
  return p;
}

// Never throws: buffers are freed from destructors, also while the process exits and the
// CUDA runtime is already unloading (cudaFree then reports an error that does not matter).
void managed_free(void* p) {
  {
    std::lock_guard<std::mutex> lock(managed_mutex);
    managed_buffers().erase(p);
  }
  if (cudaFree(p) != cudaSuccess) cudaGetLastError();
}

bool is_managed(const void* p) {
  std::lock_guard<std::mutex> lock(managed_mutex);
  return managed_buffers().count(p) > 0;
}

PointerKind pointer_kind(const void* p) {
  cudaPointerAttributes attr;
  LAZULI_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  if (attr.type == cudaMemoryTypeDevice) return PointerKind::device_only;
  return attr.type == cudaMemoryTypeManaged ? PointerKind::managed : PointerKind::host;
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  LAZULI_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void synchronize_legacy_stream() { LAZULI_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy)); }

int current_device() {
  int device = 0;
  LAZULI_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

size_t memory_cap() {
  static const size_t cap = [] {
    size_t free = 0, total = 0;
    LAZULI_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free / 10 * 9;
  }();
  return cap;
}

cudaStream_t stream_of(int stream_index) {
  static std::mutex mutex;
  static auto* streams = new std::map<int, cudaStream_t>;  // never destroyed: workers outlive statics
  std::lock_guard<std::mutex> lock(mutex);
  auto it = streams->find(stream_index);
  if (it != streams->end()) return it->second;
  cudaStream_t s;
  LAZULI_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  streams->emplace(stream_index, s);
  return s;
}

}  // namespace lazuli::cuda
