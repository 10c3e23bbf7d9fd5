// Buffers and the allocator. Freed buffers go to a size-bucketed cache so that the next
// step's allocations of the same sizes cost nothing.
#pragma once
#include <cstddef>

namespace lazuli {

namespace allocator {
struct Buffer {
  void* ptr;
  size_t size;  // bytes asked for
};
// Raises std::runtime_error naming the size when the memory limit cannot be met.
Buffer malloc(size_t size);
void free(Buffer b);
}  // namespace allocator

size_t get_active_memory();
size_t get_peak_memory();
void reset_peak_memory();
size_t get_cache_memory();
size_t set_memory_limit(size_t limit);  // returns the previous limit
size_t get_memory_limit();
size_t set_cache_limit(size_t limit);   // returns the previous limit
void clear_cache();

}  // namespace lazuli
