// CUDA backend: fast::rope as one kernel, one thread per rotated pair, the features past
// dims copied by the same grid. Each thread computes what the composed fallback computes
// for its pair (lazuli/ops/fast.cpp, rope_composed), in the same compute type (float32 for
// 16-bit x) and order, each product and sum rounded on its own (no FMA contraction), and
// rounds the two results to x's dtype once. The frequencies' exp is computed in float64
// and rounded, so it is the correctly rounded value; the CPU's vectorised exp is within an
// ulp of it, so angles agree to about (position x an ulp).
#include <cmath>

#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/rope.h"

namespace lazuli::cuda {
namespace {

__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float exp_rn(float v) { return static_cast<float>(exp(static_cast<double>(v))); }
__device__ inline double exp_rn(double v) { return exp(v); }
__device__ inline void sin_cos(float v, float* s, float* c) { sincosf(v, s, c); }
__device__ inline void sin_cos(double v, double* s, double* c) { sincos(v, s, c); }

template <typename S, typename A, typename O>
__global__ void rope_kernel(const S* x, S* out, RopeShape sh, const O* offset, bool per_batch, const A* freqs,
                            A exponent_step, A scale) {
  LAZULI_GRID_STRIDE(p, sh.rows * sh.half) {
    int64_t row = p / sh.half, i = p - row * sh.half;
    A off = static_cast<A>(offset[per_batch ? row / sh.rows_per_batch : 0]);
    A position = mul_rn(add_rn(static_cast<A>(row % sh.seq), off), scale);
    A inv_freq = freqs ? A(1) / freqs[i] : exp_rn(mul_rn(static_cast<A>(i), exponent_step));
    A sn, c;
    sin_cos(mul_rn(position, inv_freq), &sn, &c);
    int64_t j1 = sh.traditional ? 2 * i : i, j2 = sh.traditional ? 2 * i + 1 : i + sh.half;
    const S* xr = x + row * sh.features;
    S* yr = out + row * sh.features;
    A x1 = load(xr[j1]), x2 = load(xr[j2]);
    yr[j1] = convert<S>(sub_rn(mul_rn(x1, c), mul_rn(x2, sn)));
    yr[j2] = convert<S>(add_rn(mul_rn(x1, sn), mul_rn(x2, c)));
  }
  const int64_t dims = 2 * sh.half, rest = sh.features - dims;
  if (rest == 0) return;
  LAZULI_GRID_STRIDE(q, sh.rows * rest) {
    int64_t row = q / rest, k = row * sh.features + dims + (q - row * rest);
    out[k] = x[k];
  }
}

}  // namespace

void launch_rope(Dtype t, const void* x, void* out, const RopeShape& shape, Dtype offset_type, const void* offset,
                 bool per_batch, const void* freqs, double exponent_step, float scale, cudaStream_t s) {
  if (offset_type != int32 && offset_type != int64)
    throw std::invalid_argument("[rope] the fused GPU kernel takes int32 or int64 offsets, got " +
                                dtype_name(offset_type) + ".");
  dispatch(t, "rope", [&](auto v) {
    using S = decltype(v);
    if constexpr (std::is_floating_point_v<S> || is_half_v<S>) {
      using A = compute_t<S>;
      auto run = [&](auto* typed_offset) {
        int blocks = blocks_for(std::max(shape.rows * shape.half, shape.rows * (shape.features - 2 * shape.half)));
        rope_kernel<S, A><<<blocks, kThreads, 0, s>>>(static_cast<const S*>(x), static_cast<S*>(out), shape,
                                                      typed_offset, per_batch, static_cast<const A*>(freqs),
                                                      A(exponent_step), A(scale));
        check_launch("rope");
      };
      if (offset_type == int32) run(static_cast<const int32_t*>(offset));
      else run(static_cast<const int64_t*>(offset));
    } else {
      throw std::invalid_argument("[rope] the fused GPU kernel takes floating types, got " + dtype_name(t) + ".");
    }
  });
}

}  // namespace lazuli::cuda
