// A caching allocator: freed blocks are kept by size and handed out again, so a training
// loop that allocates the same sizes every step stops calling the system allocator.
// With the CUDA backend and a GPU, blocks are managed (unified) memory, which CPU and GPU
// kernels share without copies, under a hard cap below the GPU's free memory.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <utility>
#include <mutex>
#include <stdexcept>
#include <string>

#include "lazuli/memory.h"
#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/device.h"
#endif

namespace lazuli {
namespace {

constexpr size_t kPage = 4096;

size_t round_size(size_t n) {
  if (n < 64 * 1024) return (n + 63) & ~size_t{63};
  return (n + kPage - 1) & ~(kPage - 1);
}

size_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t{16} << 30;
}

// Where blocks come from: the C heap, or managed memory when a GPU is there to share it.
struct SystemMemory {
  bool managed = false;
  size_t cap = SIZE_MAX;  // hard: set_memory_limit cannot raise the limit past it

  SystemMemory() {
#ifdef LAZULI_CUDA
    if (cuda::device_count() > 0) {
      managed = true;
      cap = cuda::memory_cap();
    }
#endif
  }
  void* alloc(size_t cap_bytes) {
#ifdef LAZULI_CUDA
    if (managed) return cuda::managed_malloc(cap_bytes);
#endif
    return std::aligned_alloc(cap_bytes >= 64 * 1024 ? kPage : 64, cap_bytes);
  }
  void release(void* p) {
#ifdef LAZULI_CUDA
    if (managed) return cuda::managed_free(p);
#endif
    std::free(p);
  }
};

struct CachingAllocator {
  std::mutex mutex;
  SystemMemory system;
  std::multimap<size_t, void*> cache;  // capacity -> block
  size_t active = 0, peak = 0, cached = 0;
  size_t memory_limit = std::min(physical_memory(), system.cap);
  size_t cache_limit = memory_limit;

  void release_cached_until(size_t target) {  // caller holds the lock
    while (cached > target && !cache.empty()) {
      auto it = std::prev(cache.end());  // largest first: frees the most per call
      cached -= it->first;
      system.release(it->second);
      cache.erase(it);
    }
  }

  // Frees the GPU may still be reading (buffers of kernels in flight): they join the cache
  // once the kernels launched before the free are done.
  struct Pending {
    allocator::Buffer buffer;
    uint64_t tag;
  };
  std::deque<Pending> pending;
  size_t pending_bytes = 0;

  void reclaim(uint64_t done) {  // caller holds the lock
    while (!pending.empty() && pending.front().tag <= done) {
      auto b = pending.front().buffer;
      pending.pop_front();
      pending_bytes -= b.size;
      to_cache(b);
    }
  }

  // The ticket of GPU work known done. Call without the lock: it may drop finished nodes'
  // inputs, which frees buffers.
  uint64_t gpu_done() {
#ifdef LAZULI_CUDA
    if (system.managed) return cuda::completed_tag();
#endif
    return 0;
  }

  allocator::Buffer malloc(size_t size) {
    if (size == 0) return {nullptr, 0};
    size_t cap = round_size(size);
    uint64_t done = gpu_done();
    std::lock_guard<std::mutex> lock(mutex);
    reclaim(done);
    auto it = cache.lower_bound(cap);
    if (it != cache.end() && it->first <= cap + cap / 4) {
      allocator::Buffer b{it->second, it->first};
      cached -= it->first;
      cache.erase(it);
      note_active(b.size);
      return b;
    }
    size_t limit = std::min(memory_limit, system.cap);
#ifdef LAZULI_CUDA
    if (active + cap > limit && pending_bytes > 0) {  // wait for the GPU to give them back
      cuda::synchronize_all();
      reclaim(UINT64_MAX);
    }
#endif
    if (active + cached + cap > limit) release_cached_until(0);
    if (active + cap > limit)
      throw std::runtime_error("[malloc] Out of memory: asked for " + std::to_string(size) + " bytes with " +
                               std::to_string(active) + " bytes in use and a memory limit of " + std::to_string(limit) +
                               (limit == system.cap ? " (90% of the GPU memory free at start)." : "."));
    void* p = system.alloc(cap);
    if (!p) {
      release_cached_until(0);
      p = system.alloc(cap);
      if (!p) throw std::runtime_error("[malloc] The system could not allocate " + std::to_string(size) + " bytes.");
    }
    note_active(cap);
    return {p, cap};
  }

  void note_active(size_t n) {
    active += n;
    if (active > peak) peak = active;
  }

  void free(allocator::Buffer b) {
    if (!b.ptr) return;
#ifdef LAZULI_CUDA
    uint64_t tag = system.managed ? cuda::free_tag() : 0;
#endif
    std::lock_guard<std::mutex> lock(mutex);
#ifdef LAZULI_CUDA
    if (tag != 0) {  // still counted as active until it is reclaimed
      pending.push_back({b, tag});
      pending_bytes += b.size;
      return;
    }
#endif
    to_cache(b);
  }

  void to_cache(allocator::Buffer b) {  // caller holds the lock
    active -= b.size;
    if (b.size > cache_limit) {
      system.release(b.ptr);
      return;
    }
    cache.emplace(b.size, b.ptr);
    cached += b.size;
    release_cached_until(cache_limit);
  }
};

// Never destroyed: buffers may be freed by worker threads while the program exits.
CachingAllocator& alloc() {
  static auto* a = new CachingAllocator;
  return *a;
}

}  // namespace

namespace allocator {
Buffer malloc(size_t size) { return alloc().malloc(size); }
void free(Buffer b) { alloc().free(b); }
}  // namespace allocator

// Counts reflect the buffers the GPU has given back by now.
void settle() {
  uint64_t done = alloc().gpu_done();
  std::lock_guard<std::mutex> l(alloc().mutex);
  alloc().reclaim(done);
}

size_t get_active_memory() {
  settle();
  std::lock_guard<std::mutex> l(alloc().mutex);
  return alloc().active;
}
size_t get_peak_memory() {
  settle();
  std::lock_guard<std::mutex> l(alloc().mutex);
  return alloc().peak;
}
void reset_peak_memory() {
  settle();
  std::lock_guard<std::mutex> l(alloc().mutex);
  alloc().peak = alloc().active;
}
size_t get_cache_memory() {
  settle();
  std::lock_guard<std::mutex> l(alloc().mutex);
  return alloc().cached;
}
size_t set_memory_limit(size_t limit) {
  std::lock_guard<std::mutex> l(alloc().mutex);
  return std::exchange(alloc().memory_limit, limit);
}
size_t get_memory_limit() {
  std::lock_guard<std::mutex> l(alloc().mutex);
  return alloc().memory_limit;
}
size_t set_cache_limit(size_t limit) {
  std::lock_guard<std::mutex> l(alloc().mutex);
  size_t old = std::exchange(alloc().cache_limit, limit);
  alloc().release_cached_until(limit);
  return old;
}
void clear_cache() {
  std::lock_guard<std::mutex> l(alloc().mutex);
  alloc().release_cached_until(0);
}

}  // namespace lazuli
