// Internal to the CUDA backend: run-time compilation of CUDA C++ (NVRTC) into sm_90 cubin
// images, cached in memory and on disk, and their loading and launch (driver API).
//
// Kernels may include Lazuli's device-compatible headers by their source path, e.g.
// "lazuli/backend/common/math.h": their text is embedded in the library when it is built,
// so an installed library needs no source tree. CUDA's own headers (cuda_fp16.h,
// cuda_bf16.h, cuda/std/...) come from the toolkit include folders found when Lazuli was
// configured. The standard headers math.h includes (<cmath>, <limits>, ...) are mapped to
// their libcu++ counterparts (cuda/std/...), which NVRTC compiles.
//
// Disk cache: $LAZULI_KERNEL_CACHE, else ~/.cache/lazuli/kernels, one <hash>.cubin per
// (source, options, NVRTC version). A file that cannot be read or fails its checksum is
// rebuilt; a folder that cannot be written only turns the disk cache off.
#pragma once
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

namespace lazuli::cuda::jit {

// Compiles `source` (the program named `name` in errors) for sm_90 and returns the cubin
// image. Throws std::runtime_error naming `name`, with NVRTC's log, when it does not compile.
// `contract_fma` lets the compiler fuse a multiply and an add into one rounding; fused
// programs turn it off, as the elementwise kernels they must match bit for bit are built.
std::string compile(const std::string& source, const std::string& name, bool contract_fma = true);

// The kernel `kernel` (an extern "C" name) of `image` on the current device; the module is
// loaded once per (image, device).
CUfunction function(const std::string& image, const std::string& kernel);

// Launches `f` on `stream`; `args` points at each kernel argument, as cuLaunchKernel takes
// them. The device's context must be current in the calling thread, as function() leaves
// it (so get the function in the launching thread). Dynamic shared memory past 48 KiB is
// opted into here.
void launch(CUfunction f, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, void** args);

// Throws std::runtime_error naming `call` unless `r` is CUDA_SUCCESS.
void check_cu(CUresult r, const char* call);

// Test hooks: how many programs NVRTC compiled in this process, and forgetting the
// in-memory cache (as a new process would start).
namespace detail {
size_t compile_count();
void clear_memory_cache();
}  // namespace detail

}  // namespace lazuli::cuda::jit
