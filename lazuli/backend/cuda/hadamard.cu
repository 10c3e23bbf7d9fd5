// CUDA backend: the Walsh-Hadamard transform along the last axis, computed as the CPU does
// (backend/cpu/hadamard.cpp): radix-2 butterflies within each block of p = n / m elements
// (the CPU's radix-4 passes are two of these stages, same sums in the same order), the
// scale riding on the last stage; for m > 1 the blocks are then mixed by the m x m matrix
// H_m, the scale riding on the mix. 16-bit floats compute in float.
// Rows that fit in a block's shared memory go one block per row; longer rows take one
// launch per stage over a buffer in global memory.
#include <algorithm>

#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/hadamard.h"

namespace lazuli::cuda {
namespace {

struct cplx {  // complex64 as stored and computed
  float re, im;
};
__device__ cplx operator+(cplx a, cplx b) { return {a.re + b.re, a.im + b.im}; }
__device__ cplx operator-(cplx a, cplx b) { return {a.re - b.re, a.im - b.im}; }
__device__ cplx operator*(cplx a, float f) { return {a.re * f, a.im * f}; }
__device__ cplx operator*(float f, cplx a) { return a * f; }
__device__ cplx& operator+=(cplx& a, cplx b) { return a = a + b; }

// Storage type S computes as C; the scale as R.
template <typename S> struct compute_of { using C = compute_t<S>; using R = C; };
template <> struct compute_of<cplx> { using C = cplx; using R = float; };

template <typename C, typename S> __device__ C to_compute(S v) {
  if constexpr (std::is_same_v<S, cplx>) return v;
  else return static_cast<C>(load(v));
}
template <typename S, typename C> __device__ S to_storage(C v) {
  if constexpr (std::is_same_v<S, cplx>) return v;
  else return convert<S>(v);
}

// The butterfly of pair t (of the len / 2 pairs) at half-width h (a power of two: masks,
// not divisions), times f when scaled.
template <typename C, typename R> __device__ void butterfly(C* x, int64_t t, int64_t h, bool scaled, R f) {
  int64_t i0 = ((t & ~(h - 1)) << 1) | (t & (h - 1)), i1 = i0 + h;
  C a = x[i0], b = x[i1];
  if (scaled) x[i0] = (a + b) * f, x[i1] = (a - b) * f;
  else x[i0] = a + b, x[i1] = a - b;
}

// Element j of mixed row y: sum over l of (sign(i, l) * scale) * x[l * p + jj], for
// j = i * p + jj.
template <typename C, typename R> __device__ C mixed(const C* x, int64_t j, int m, int64_t p,
                                                     const HadamardSigns& signs, R scale) {
  int i = static_cast<int>(j / p);
  int64_t jj = j - i * p;
  C y = C{};
  for (int l = 0; l < m; ++l) y += (signs.s[i * m + l] * scale) * x[l * p + jj];
  return y;
}

// One block per row (grid-stride over rows), the row in shared memory.
template <typename S> __global__ void hadamard_shared(const S* src, S* dst, int64_t rows, int64_t n, int m,
                                                      HadamardSigns signs, typename compute_of<S>::R scale) {
  using C = typename compute_of<S>::C;
  using R = typename compute_of<S>::R;
  extern __shared__ __align__(16) unsigned char smem[];
  C* x = reinterpret_cast<C*>(smem);
  const int64_t p = n / m;
  const R block_scale = m > 1 ? R(1) : scale;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const S* s = src + r * n;
    S* d = dst + r * n;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) x[j] = to_compute<C>(s[j]);
    if (p == 1 && block_scale != R(1)) {
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) x[j] = x[j] * block_scale;
    }
    for (int64_t h = 1; h < p; h *= 2) {
      __syncthreads();
      bool last = 2 * h == p;
      for (int64_t t = threadIdx.x; t < n / 2; t += blockDim.x) butterfly(x, t, h, last, block_scale);
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
      d[j] = to_storage<S>(m > 1 ? mixed(x, j, m, p, signs, scale) : x[j]);
    __syncthreads();  // the next row reuses x
  }
}

// Long rows: the whole buffer x (every row, as one array) through one stage per launch.
template <typename S, typename C> __global__ void to_compute_kernel(const S* src, C* x, int64_t len) {
  LAZULI_GRID_STRIDE(j, len) x[j] = to_compute<C>(src[j]);
}
template <typename C, typename R> __global__ void stage_kernel(C* x, int64_t pairs, int64_t h, bool scaled, R f) {
  LAZULI_GRID_STRIDE(t, pairs) butterfly(x, t, h, scaled, f);
}
template <typename C, typename R> __global__ void scale_kernel(C* x, int64_t len, R f) {
  LAZULI_GRID_STRIDE(j, len) x[j] = x[j] * f;
}
template <typename S, typename C, typename R> __global__ void finish_kernel(const C* x, S* dst, int64_t len, int64_t n,
                                                                           int m, HadamardSigns signs, R scale) {
  const int64_t p = n / m;
  LAZULI_GRID_STRIDE(j, len) {
    int64_t r = j / n;
    dst[j] = to_storage<S>(m > 1 ? mixed(x + r * n, j - r * n, m, p, signs, scale) : x[j]);
  }
}

constexpr int64_t kSharedBytes = 48 << 10;  // a block's shared memory without opting in

// The most shared memory a block may opt in to on the current device.
int64_t max_shared_bytes() {
  int device = 0, bytes = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute (shared memory per block)");
  return bytes;
}

template <typename S>
void hadamard_typed(const S* src, S* dst, int64_t rows, int64_t n, int m, const HadamardSigns& signs, double scale,
                    cudaStream_t s) {
  using C = typename compute_of<S>::C;
  using R = typename compute_of<S>::R;
  const R sc = static_cast<R>(scale);
  const int64_t bytes = n * static_cast<int64_t>(sizeof(C));
  static const int64_t max_bytes = max_shared_bytes();
  if (bytes <= max_bytes) {
    if (bytes > kSharedBytes)
      check_cuda(cudaFuncSetAttribute(hadamard_shared<S>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(bytes)),
                 "cudaFuncSetAttribute (hadamard shared memory)");
    // Long rows get more threads: one block holds the SM's shared memory alone.
    int64_t most = bytes > kSharedBytes ? 1024 : kThreads;
    int threads = static_cast<int>(std::min<int64_t>(most, std::max<int64_t>(32, (n / 2 + 31) / 32 * 32)));
    int blocks = static_cast<int>(std::min<int64_t>(rows, 65536));
    hadamard_shared<S><<<blocks, threads, bytes, s>>>(src, dst, rows, n, m, signs, sc);
    check_launch("hadamard_shared");
    return;
  }
  const int64_t len = rows * n, p = n / m;
  const R block_scale = m > 1 ? R(1) : sc;
  DeviceBuffer buffer(len * sizeof(C), s);
  C* x = buffer.as<C>();
  to_compute_kernel<<<blocks_for(len), kThreads, 0, s>>>(src, x, len);
  check_launch("to_compute_kernel");
  for (int64_t h = 1; h < p; h *= 2) {  // p > 1 here: the row is long
    stage_kernel<<<blocks_for(len / 2), kThreads, 0, s>>>(x, len / 2, h, 2 * h == p, block_scale);
    check_launch("stage_kernel");
  }
  if (p == 1 && block_scale != R(1)) {
    scale_kernel<<<blocks_for(len), kThreads, 0, s>>>(x, len, block_scale);
    check_launch("scale_kernel");
  }
  finish_kernel<<<blocks_for(len), kThreads, 0, s>>>(x, dst, len, n, m, signs, sc);
  check_launch("finish_kernel");
}

}  // namespace

void launch_hadamard(Dtype t, const void* src, void* dst, int64_t rows, int64_t n, int m, const HadamardSigns& signs,
                     double scale, cudaStream_t s) {
  if (t == complex64)
    return hadamard_typed(static_cast<const cplx*>(src), static_cast<cplx*>(dst), rows, n, m, signs, scale, s);
  dispatch(t, "hadamard_transform", [&](auto v) {
    using S = decltype(v);
    if constexpr (std::is_floating_point_v<S> || is_half_v<S>)
      hadamard_typed(static_cast<const S*>(src), static_cast<S*>(dst), rows, n, m, signs, scale, s);
    else
      throw std::invalid_argument("[hadamard_transform] Unsupported dtype.");
  });
}

}  // namespace lazuli::cuda
