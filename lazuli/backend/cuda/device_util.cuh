// Internal to the CUDA backend: what every kernel family's device code shares. Element
// types as the device stores them, value conversion with the CPU's rules, strided
// indexing, grid-stride launch sizes and dtype dispatch.
#pragma once
#include <stdexcept>
#include <string>
#include <type_traits>

#include "lazuli/backend/common/math.h"
#include "lazuli/backend/cuda/convert.cuh"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/indexer.h"
#include "lazuli/dtype.h"

namespace lazuli::cuda {

// Element types as the device stores them; 16-bit floats compute in float.
template <typename T> struct device_type { using type = T; };
template <> struct device_type<float16_t> { using type = __half; };
template <> struct device_type<bfloat16_t> { using type = __nv_bfloat16; };
template <> struct device_type<complex64_t> { using type = ::cuda::std::complex<float>; };
template <int N> __device__ void offsets(int64_t i, const Indexer<N>& ix, int64_t (&off)[N]) {
  if (ix.ndim == 1) {
    for (int k = 0; k < N; ++k) off[k] = i * ix.strides[k][0];
    return;
  }
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = ix.ndim - 1; d >= 0; --d) {
    int64_t q = i / ix.shape[d], r = i - q * ix.shape[d];
    for (int k = 0; k < N; ++k) off[k] += r * ix.strides[k][d];
    i = q;
  }
}

constexpr int kThreads = 256;
inline int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 ? b : 65536);  // grid-stride loops cover the rest
}
#define LAZULI_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)


inline void check_launch(const char* what) { check_cuda(cudaGetLastError(), what); }

// Calls f(S{}) with S the device storage type of t, complex64 included.
template <typename F> void dispatch_all(Dtype t, F&& f) {
  dispatch_dtype(t, [&](auto host) { f(typename device_type<decltype(host)>::type{}); });
}

// Calls f(S{}) with S the device storage type of t, for kernels without complex64 support.
template <typename F> void dispatch(Dtype t, const char* op, F&& f) {
  if (t == complex64)
    throw std::invalid_argument(std::string("[") + op + "] complex64 is not supported on the GPU yet.");
  dispatch_dtype(t, [&](auto host) {
    if constexpr (!std::is_same_v<decltype(host), complex64_t>) f(typename device_type<decltype(host)>::type{});
  });
}

// V elements of S at p, or stored at p: one 16-byte access when V > 1 (p then 16-byte aligned).
template <int V, typename S> __device__ void load_vec(const S* p, S (&e)[V]) {
  if constexpr (V == 1) {
    e[0] = p[0];
  } else {
    static_assert(V * sizeof(S) == 16);
    uint4 w = *reinterpret_cast<const uint4*>(p);
    memcpy(e, &w, sizeof(e));
  }
}
template <int V, typename S> __device__ void store_vec(S* p, const S (&e)[V]) {
  if constexpr (V == 1) {
    p[0] = e[0];
  } else {
    uint4 w;
    memcpy(&w, e, sizeof(e));
    *reinterpret_cast<uint4*>(p) = w;
  }
}

}  // namespace lazuli::cuda
