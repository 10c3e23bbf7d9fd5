// Internal to the CUDA backend: every CUDA, cuBLAS call goes through these, so a failure
// is an exception naming the call, never a silently ignored status.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace lazuli::cuda {

inline void check_cuda(cudaError_t e, const char* call) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("[cuda] ") + call + " failed: " + cudaGetErrorString(e) + ".");
}
inline void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("[cuda] ") + call + " failed: " + cublasGetStatusString(s) + ".");
}

// The CUDA stream of a Lazuli GPU stream (made on first use; never destroyed).
cudaStream_t stream_of(int stream_index);

}  // namespace lazuli::cuda

#define LAZULI_CUDA_CHECK(call) ::lazuli::cuda::check_cuda((call), #call)
#define LAZULI_CUBLAS_CHECK(call) ::lazuli::cuda::check_cublas((call), #call)
