// CUDA backend: the linear-algebra family's layout and bookkeeping kernels (linalg.h). They
// are O(n^2) per matrix beside cuSOLVER's O(n^3), so they stay simple grid-stride loops;
// element copies move bytes (dispatch on width), the rest compute in float or double.
#include <cmath>

#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/linalg.h"

namespace lazuli::cuda {
namespace {

__device__ int64_t matrix_start(const MatrixLayout& l, int64_t b) { return l.starts ? l.starts[b] : b * l.batch_stride; }

template <typename W>
__global__ void copy_matrices_kernel(const W* src, MatrixLayout from, W* dst, MatrixLayout to, int64_t rows,
                                     int64_t cols, int64_t total, Keep keep) {
  LAZULI_GRID_STRIDE(idx, total) {
    int64_t j = idx % cols, t = idx / cols, i = t % rows, b = t / rows;
    bool kept = keep == Keep::all || (keep == Keep::upper ? j >= i : j <= i);
    dst[matrix_start(to, b) + i * to.row_step + j * to.col_step] =
        kept ? src[matrix_start(from, b) + i * from.row_step + j * from.col_step] : W(0);
  }
}

template <typename T>
__global__ void identity_kernel(T* dst, int64_t n, int64_t total) {
  LAZULI_GRID_STRIDE(idx, total) {
    int64_t j = idx % n, i = (idx / n) % n;
    dst[idx] = i == j ? T(1) : T(0);
  }
}

template <typename T>
__global__ void zero_diagonal_kernel(const T* a, MatrixLayout l, int64_t n, int64_t count, int* info) {
  LAZULI_GRID_STRIDE(b, count) {
    const T* m = a + matrix_start(l, b);
    int found = 0;
    for (int64_t i = 0; i < n && !found; ++i)
      if (m[i * (l.row_step + l.col_step)] == T(0)) found = static_cast<int>(i + 1);
    info[b] = found;
  }
}

template <typename T>
__global__ void flag_nonfinite_kernel(const T* a, int64_t size, int64_t total, int* flags) {
  LAZULI_GRID_STRIDE(idx, total) {
    if (!isfinite(a[idx])) flags[idx / size] = 1;  // racing writers all store 1
  }
}

template <typename T>
__global__ void nan_where_flagged_kernel(T* a, int64_t size, int64_t total, const int* flags) {
  LAZULI_GRID_STRIDE(idx, total) {
    if (flags[idx / size]) a[idx] = T(NAN);
  }
}

// One thread per matrix: the pivots replay LAPACK's row swaps in order.
__global__ void lu_pivots_kernel(const int64_t* ipiv, int64_t k, int64_t m, int64_t count, uint32_t* pivots,
                                 uint32_t* rows, uint32_t* perm) {
  LAZULI_GRID_STRIDE(b, count) {
    uint32_t* p = perm + b * m;
    for (int64_t i = 0; i < m; ++i) p[i] = static_cast<uint32_t>(i);
    for (int64_t i = 0; i < k; ++i) {
      int64_t target = ipiv[b * k + i] - 1;
      pivots[b * k + i] = static_cast<uint32_t>(target);
      uint32_t held = p[i];
      p[i] = p[target];
      p[target] = held;
    }
    for (int64_t i = 0; i < m; ++i) rows[b * m + p[i]] = static_cast<uint32_t>(i);
  }
}

// One thread per row of a matrix's eigenvectors: which columns pair up is read left to
// right, as the CPU kernel does.
template <typename T>
__global__ void eig_outputs_kernel(const T* wri, const T* vr, int64_t n, int64_t total, float2* w, float2* v) {
  LAZULI_GRID_STRIDE(idx, total) {
    int64_t i = idx % n, b = idx / n;
    const T* wr = wri + b * 2 * n;
    const T* wi = wr + n;
    w[idx] = make_float2(static_cast<float>(wr[i]), static_cast<float>(wi[i]));
    if (!vr) continue;
    const T* vm = vr + b * n * n;
    float2* row = v + b * n * n + i * n;
    for (int64_t j = 0; j < n; ++j) {
      if (wi[j] != T(0) && j + 1 < n) {
        float re = static_cast<float>(vm[i + j * n]), im = static_cast<float>(vm[i + (j + 1) * n]);
        row[j] = make_float2(re, im);
        row[j + 1] = make_float2(re, -im);
        ++j;
      } else {
        row[j] = make_float2(static_cast<float>(vm[i + j * n]), 0.f);
      }
    }
  }
}

// Calls f(T{}) with T float or double; the host side has already rejected other dtypes.
template <typename F>
void dispatch_real(Dtype t, F&& f) {
  if (t == float64) f(double{});
  else f(float{});
}

}  // namespace

void launch_copy_matrices(int itemsize, const void* src, const MatrixLayout& from, void* dst, const MatrixLayout& to,
                          int64_t rows, int64_t cols, int64_t count, Keep keep, cudaStream_t s) {
  int64_t total = rows * cols * count;
  if (total == 0) return;
  auto launch = [&](auto word) {
    using W = decltype(word);
    copy_matrices_kernel<<<blocks_for(total), kThreads, 0, s>>>(static_cast<const W*>(src), from, static_cast<W*>(dst),
                                                                 to, rows, cols, total, keep);
  };
  if (itemsize == 8) launch(uint64_t{});
  else launch(uint32_t{});
  check_launch("copy_matrices_kernel");
}

void launch_identity(Dtype t, void* dst, int64_t n, int64_t count, cudaStream_t s) {
  int64_t total = n * n * count;
  if (total == 0) return;
  dispatch_real(t, [&](auto z) {
    using T = decltype(z);
    identity_kernel<<<blocks_for(total), kThreads, 0, s>>>(static_cast<T*>(dst), n, total);
  });
  check_launch("identity_kernel");
}

void launch_zero_diagonal_info(Dtype t, const void* a, const MatrixLayout& layout, int64_t n, int64_t count, int* info,
                               cudaStream_t s) {
  if (count == 0) return;
  dispatch_real(t, [&](auto z) {
    using T = decltype(z);
    zero_diagonal_kernel<<<blocks_for(count), kThreads, 0, s>>>(static_cast<const T*>(a), layout, n, count, info);
  });
  check_launch("zero_diagonal_kernel");
}

void launch_flag_nonfinite(Dtype t, const void* a, int64_t size, int64_t count, int* flags, cudaStream_t s) {
  if (count == 0) return;
  check_cuda(cudaMemsetAsync(flags, 0, count * sizeof(int), s), "cudaMemsetAsync(flags)");
  int64_t total = size * count;
  if (total == 0) return;
  dispatch_real(t, [&](auto z) {
    using T = decltype(z);
    flag_nonfinite_kernel<<<blocks_for(total), kThreads, 0, s>>>(static_cast<const T*>(a), size, total, flags);
  });
  check_launch("flag_nonfinite_kernel");
}

void launch_nan_where_flagged(Dtype t, void* a, int64_t size, int64_t count, const int* flags, cudaStream_t s) {
  int64_t total = size * count;
  if (total == 0) return;
  dispatch_real(t, [&](auto z) {
    using T = decltype(z);
    nan_where_flagged_kernel<<<blocks_for(total), kThreads, 0, s>>>(static_cast<T*>(a), size, total, flags);
  });
  check_launch("nan_where_flagged_kernel");
}

void launch_lu_pivots(const int64_t* ipiv, int64_t k, int64_t m, int64_t count, uint32_t* pivots, uint32_t* rows,
                      uint32_t* perm, cudaStream_t s) {
  if (count == 0 || m == 0) return;
  lu_pivots_kernel<<<blocks_for(count), kThreads, 0, s>>>(ipiv, k, m, count, pivots, rows, perm);
  check_launch("lu_pivots_kernel");
}

void launch_eig_outputs(Dtype t, const void* wri, const void* vr, int64_t n, int64_t count, void* w, void* v,
                        cudaStream_t s) {
  int64_t total = n * count;
  if (total == 0) return;
  dispatch_real(t, [&](auto z) {
    using T = decltype(z);
    eig_outputs_kernel<<<blocks_for(total), kThreads, 0, s>>>(static_cast<const T*>(wri), static_cast<const T*>(vr), n,
                                                             total, static_cast<float2*>(w), static_cast<float2*>(v));
  });
  check_launch("eig_outputs_kernel");
}

}  // namespace lazuli::cuda
