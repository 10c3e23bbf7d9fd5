// Internal to the CUDA backend: what the reduction and scan kernels share. The combining
// operations with the CPU's identities and NaN rules (backend/cpu/accumulate.h), a
// device complex64 for Sum and Prod, and warp and block reductions of any such value.
#pragma once
#include <cstring>
#include <limits>
#include <type_traits>

#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/device_util.cuh"

namespace lazuli::cuda {

// complex64 as the device computes it: std::complex<float>'s layout, trivially
// constructible (so it can live in shared memory), with the + and * of Sum and Prod.
struct Complex64 {
  float re, im;
  Complex64() = default;
  __host__ __device__ Complex64(float r, float i = 0) : re(r), im(i) {}
};
__device__ inline Complex64 operator+(Complex64 a, Complex64 b) { return {a.re + b.re, a.im + b.im}; }
__device__ inline Complex64 operator*(Complex64 a, Complex64 b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}

struct SumOp {
  template <typename A> __device__ static A init() { return A(0); }
  template <typename A> __device__ static A combine(A a, A b) {
    if constexpr (std::is_same_v<A, bool>) return a || b;
    else return a + b;
  }
};
struct ProdOp {
  template <typename A> __device__ static A init() { return A(1); }
  template <typename A> __device__ static A combine(A a, A b) {
    if constexpr (std::is_same_v<A, bool>) return a && b;
    else return a * b;
  }
};
// Max and min propagate NaN: a NaN operand wins, and a NaN accumulator is never replaced.
struct MaxOp {
  template <typename A> __device__ static A init() {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  }
  template <typename A> __device__ static A combine(A a, A b) {
    if constexpr (std::is_floating_point_v<A>)
      if (b != b) return b;
    return b > a ? b : a;
  }
};
struct MinOp {
  template <typename A> __device__ static A init() {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
  template <typename A> __device__ static A combine(A a, A b) {
    if constexpr (std::is_floating_point_v<A>)
      if (b != b) return b;
    return b < a ? b : a;
  }
};
struct AndOp {
  template <typename A> __device__ static A init() { return true; }
  template <typename A> __device__ static A combine(A a, A b) { return a && b; }
};
struct OrOp {
  template <typename A> __device__ static A init() { return false; }
  template <typename A> __device__ static A combine(A a, A b) { return a || b; }
};
// log(exp(a) + exp(b)) without overflow, floating point only.
struct LogAddExpOp {
  template <typename A> __device__ static A init() { return -std::numeric_limits<A>::infinity(); }
  template <typename A> __device__ static A combine(A a, A b) {
    if (a != a || b != b) return std::numeric_limits<A>::quiet_NaN();
    A hi = a > b ? a : b, lo = a > b ? b : a;
    if (isinf(hi)) return hi;  // +inf, or both -inf
    return hi + log1p(exp(lo - hi));
  }
};

// A stored value as the accumulator type A reads it (A is the compute type, or bool).
template <typename A, typename S> __device__ A to_acc(S v) {
  if constexpr (std::is_same_v<S, Complex64>) {
    if constexpr (std::is_same_v<A, bool>) return v.re != 0 || v.im != 0;
    else return v;
  } else {
    return convert<A>(v);
  }
}
template <typename Out, typename A> __device__ Out from_acc(A v) {
  if constexpr (std::is_same_v<A, Complex64>) return v;
  else return convert<Out>(v);
}

// The storage types' accumulators: 16-bit floats accumulate in float.
template <typename S> using acc_t = std::conditional_t<is_half_v<S>, float, S>;

// Shuffles any value of at most 8 bytes (bool, 8-bit integers, complex64 included).
template <typename T> __device__ T shfl_down(T v, int delta) {
  static_assert(sizeof(T) <= 8);
  unsigned long long bits = 0;
  memcpy(&bits, &v, sizeof(T));
  bits = __shfl_down_sync(0xffffffffu, bits, delta);
  T r;
  memcpy(&r, &bits, sizeof(T));
  return r;
}
// The combination of the 32 lanes' values, in lane 0.
template <typename Op, typename A> __device__ A warp_reduce(A v) {
  for (int d = 16; d > 0; d >>= 1) v = Op::combine(v, shfl_down(v, d));
  return v;
}
// The combination of the block's values, in thread 0. Every thread of the block calls it.
template <typename Op, typename A> __device__ A block_reduce(A v) {
  __shared__ A partial[32];
  v = warp_reduce<Op>(v);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // a previous call's readers are done with `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) v = warp_reduce<Op>(lane < int(blockDim.x >> 5) ? partial[lane] : Op::template init<A>());
  return v;
}

// Calls f(S{}) with S the device storage type of t, complex64 as Complex64.
template <typename F> void dispatch_all(Dtype t, const char* op, F&& f) {
  if (t == complex64) return f(Complex64{});
  dispatch(t, op, f);
}

// The number of SMs of the current device (grid sizes fill them).
inline int sm_count() {
  int device = 0, n = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  return n;
}

}  // namespace lazuli::cuda
