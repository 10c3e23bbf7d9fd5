// Where an array's buffer lies, for DLPack exchange with other GPU libraries and for host
// reads of memory they allocated. With a GPU, Lazuli's own buffers are CUDA managed memory
// (host and device both read them); arrays imported through DLPack may instead wrap
// device-only memory, which the host must never read directly.
#pragma once
#include <optional>
#include <vector>

#include "lazuli/array.h"

namespace lazuli {

enum class MemoryKind {
  host,         // readable by the host only (every buffer of a build or machine without a GPU)
  managed,      // CUDA managed memory (Lazuli's own with a GPU): readable by host and device
  device_only,  // CUDA device memory (cudaMalloc by another library): the device only
};

// Where the buffer of an evaluated `a` lies (host for arrays without data). Lazuli's own
// buffers answer without a driver query; others cost one, and only with a GPU.
MemoryKind memory_kind(const array& a);

// The CUDA device Lazuli runs on; -1 when there is no GPU.
int cuda_device();

// An evaluated `a` itself when the host may read its buffer, else a copy of the span its
// elements cover, in host-readable memory, with the same strides and layout.
array host_readable(const array& a);
// The same for a node's inputs: nullopt (no copies) when the host may read them all.
std::optional<std::vector<array>> host_readable(const std::vector<array>& arrays);

// Waits on the host for the work DLPack producers ordered before CUDA's legacy default
// stream (the stream Lazuli names when it imports); a no-op without a GPU.
void synchronize_dlpack_producers();

}  // namespace lazuli
