// Internal to the CUDA backend: element values on the device, with the CPU's rules. 16-bit
// floats compute in float (load), and conversion between element types follows
// cast_value (backend/common/cast.h). Device code only: the kernels compiled into the
// library include it through device_util.cuh, and run-time compiled kernels (jit.h,
// fused_source.cpp) include it directly, so both convert exactly alike.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cuda/std/complex>

#include "lazuli/backend/common/math.h"

namespace lazuli::cuda {

template <typename S> inline constexpr bool is_complex_v = std::is_same_v<S, ::cuda::std::complex<float>>;
template <typename S> inline constexpr bool is_half_v = std::is_same_v<S, __half> || std::is_same_v<S, __nv_bfloat16>;
template <typename S> using compute_t = std::conditional_t<is_half_v<S>, float, S>;

template <typename S> __device__ compute_t<S> load(S v) {
  if constexpr (std::is_same_v<S, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return __bfloat162float(v);
  else return v;
}

// Value conversion with the rules of cast_value (backend/common/cast.h): nonzero is true,
// out-of-range floats give what NumPy gives on x86 rather than undefined behaviour.
template <typename To, typename From> __device__ To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_half_v<From>) {
    return convert<To>(load(v));
  } else if constexpr (is_complex_v<From>) {  // the real part, as NumPy (bool: either part nonzero)
    if constexpr (std::is_same_v<To, bool>) return v.real() != 0.f || v.imag() != 0.f;
    else return convert<To>(v.real());
  } else if constexpr (is_complex_v<To>) {
    return To(static_cast<float>(v), 0.f);
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    return __float2bfloat16(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return math::float_to_int<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace lazuli::cuda
