// Internal to the CUDA backend: the linear-algebra family's small kernels (linalg.cu), which
// move matrices between the inputs' and outputs' row-major (or strided) layouts and the
// column-major buffers cuSOLVER works in, and turn its outputs into the CPU kernels'
// conventions. The factorizations themselves are cuSOLVER's and cuBLAS's (linalg.cpp).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"

namespace lazuli::cuda {

// Where a batch of matrices lies, in elements: matrix b starts at starts[b] (a device array)
// or, without starts, at b * batch_stride; its element (i, j) is i * row_step + j * col_step
// further.
struct MatrixLayout {
  const int64_t* starts = nullptr;
  int64_t batch_stride = 0, row_step = 0, col_step = 0;
};
// The column-major (ld rows) and row-major layouts of dense batches of rows x cols matrices.
inline MatrixLayout column_major(int64_t rows, int64_t cols) { return {nullptr, rows * cols, 1, rows}; }
inline MatrixLayout row_major(int64_t rows, int64_t cols) { return {nullptr, rows * cols, cols, 1}; }

// Which part of each matrix a copy keeps; the rest of the destination is zeroed.
enum class Keep { all, upper, lower };

// Copies `count` rows x cols matrices of `itemsize`-byte elements between layouts.
void launch_copy_matrices(int itemsize, const void* src, const MatrixLayout& from, void* dst, const MatrixLayout& to,
                          int64_t rows, int64_t cols, int64_t count, Keep keep, cudaStream_t s);
// Fills `count` dense n x n matrices of float type t with the identity.
void launch_identity(Dtype t, void* dst, int64_t n, int64_t count, cudaStream_t s);
// info[b] = 1 + the first i with a[i][i] == 0 in matrix b (n x n, `layout`), else 0: the
// info LAPACK's trtrs gives a singular triangular matrix.
void launch_zero_diagonal_info(Dtype t, const void* a, const MatrixLayout& layout, int64_t n, int64_t count, int* info,
                               cudaStream_t s);
// flags[b] = 1 where dense matrix b (`size` elements) holds NaN or infinity (flags zeroed first).
void launch_flag_nonfinite(Dtype t, const void* a, int64_t size, int64_t count, int* flags, cudaStream_t s);
// Sets every element of dense matrix b (`size` elements of float type t) to NaN where flags[b].
void launch_nan_where_flagged(Dtype t, void* a, int64_t size, int64_t count, const int* flags, cudaStream_t s);
// From getrf's 1-based int64 pivots (k per matrix): the 0-based `pivots` (k per matrix) and
// `rows` (m per matrix), row i of a being row rows[i] of L U. `perm` is m * count scratch.
void launch_lu_pivots(const int64_t* ipiv, int64_t k, int64_t m, int64_t count, uint32_t* pivots, uint32_t* rows,
                      uint32_t* perm, cudaStream_t s);
// geev's real outputs into complex64 ones: wri holds 2n values per matrix (real parts, then
// imaginary parts), vr (or null) n x n column-major right eigenvectors per matrix with a
// complex pair's vector as its real and imaginary columns; w gets n eigenvalues and v (with
// vr) the row-major n x n complex eigenvectors per matrix.
void launch_eig_outputs(Dtype t, const void* wri, const void* vr, int64_t n, int64_t count, void* w, void* v,
                        cudaStream_t s);

}  // namespace lazuli::cuda
