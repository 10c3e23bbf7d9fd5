// Internal: the CPU backend's worker threads. A parallel job is cut into chunks that
// threads claim one at a time; the calling thread works too and waits only for chunks
// already claimed, so a worker the OS has not scheduled never holds the job up (which
// matters on a loaded 2-core machine, and beside OpenBLAS's own threads).
#pragma once
#include <cstdint>
#include <functional>

namespace lazuli::cpu {

int thread_count();  // the caller plus the workers
// Runs chunk(c) for c in [0, chunks), on all threads.
void run_chunks(int64_t chunks, const std::function<void(int64_t)>& chunk);

}  // namespace lazuli::cpu
