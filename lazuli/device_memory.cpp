#include "lazuli/device_memory.h"

#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/device.h"
#endif

namespace lazuli {

MemoryKind memory_kind(const array& a) {
#ifdef LAZULI_CUDA
  if (cuda::device_count() == 0 || !a.has_data() || a.buffer().ptr == nullptr) return MemoryKind::host;
  const void* p = a.buffer().ptr;
  if (cuda::is_managed(p)) return MemoryKind::managed;  // the fast path: Lazuli's own buffers
  switch (cuda::pointer_kind(p)) {
    case cuda::PointerKind::managed: return MemoryKind::managed;  // another library's (kDLCUDAManaged)
    case cuda::PointerKind::device_only: return MemoryKind::device_only;
    default: return MemoryKind::host;
  }
#else
  (void)a;
  return MemoryKind::host;
#endif
}

int cuda_device() {
#ifdef LAZULI_CUDA
  if (cuda::device_count() > 0) return cuda::current_device();
#endif
  return -1;
}

array host_readable(const array& a) {
  if (a.size() == 0 || memory_kind(a) != MemoryKind::device_only) return a;
#ifdef LAZULI_CUDA
  // The span the elements cover, in elements from the first one (strides may be negative).
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < a.ndim(); ++i) {
    int64_t reach = int64_t(a.shape()[i] - 1) * a.strides()[i];
    (reach < 0 ? lo : hi) += reach;
  }
  size_t bytes = size_t(hi - lo + 1) * a.itemsize();
  array holder(a.shape(), a.dtype(), nullptr, {});  // carries the new buffer only
  holder.set_data(allocator::malloc(bytes));
  const char* first = static_cast<const char*>(const_cast<array&>(a).raw_data());
  cuda::copy_to_host(holder.buffer().ptr, first + lo * int64_t(a.itemsize()), bytes);
  array copy(a.shape(), a.dtype(), nullptr, {});
  copy.copy_shared_buffer(holder, a.strides(), a.flags(), a.data_size(), -lo);
  copy.set_status(array::Status::available);
  return copy;
#else
  return a;
#endif
}

std::optional<std::vector<array>> host_readable(const std::vector<array>& arrays) {
#ifdef LAZULI_CUDA
  if (cuda::device_count() == 0) return std::nullopt;
  std::optional<std::vector<array>> staged;
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (arrays[i].size() == 0 || memory_kind(arrays[i]) != MemoryKind::device_only) continue;
    if (!staged) staged = arrays;
    (*staged)[i] = host_readable(arrays[i]);
  }
  return staged;
#else
  (void)arrays;
  return std::nullopt;
#endif
}

void synchronize_dlpack_producers() {
#ifdef LAZULI_CUDA
  if (cuda::device_count() > 0) cuda::synchronize_legacy_stream();
#endif
}

}  // namespace lazuli
