// CPU: batched matrix products through OpenBLAS. Transposed operands are passed to BLAS as
// such, not copied; 16-bit floats go through float32; integers use an exact loop.
#include <cblas.h>

#include <vector>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

// How BLAS should read one matrix operand: row-major with leading dimension ld, or its
// transpose. Other layouts need a copy first.
struct MatrixLayout {
  bool ok = true;
  bool transposed = false;
  int64_t ld = 0;
};

MatrixLayout matrix_layout(const array& a) {
  int64_t rows = a.shape(-2), cols = a.shape(-1);
  int64_t sr = a.strides()[a.ndim() - 2], sc = a.strides()[a.ndim() - 1];
  if ((sc == 1 || cols == 1) && (sr >= std::max<int64_t>(cols, 1) || rows == 1)) return {true, false, std::max<int64_t>({sr, cols, 1})};
  if ((sr == 1 || rows == 1) && (sc >= std::max<int64_t>(rows, 1) || cols == 1)) return {true, true, std::max<int64_t>({sc, rows, 1})};
  return {false, false, 0};
}

array row_major_copy(const array& a, Dtype dtype) {
  array c(a.shape(), dtype, nullptr, {});
  allocate(c);
  copy_to(a, c, c.strides(), 0);
  return c;
}

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C) {
  auto tA = ta ? CblasTrans : CblasNoTrans, tB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    // One row times a matrix is a matrix-vector product: OpenBLAS's gemm does not take
    // the memory-bound gemv path by itself and runs 3-4x slower on it.
    if (M == 1) {
      // c = op(B)^T a, with B stored N x K (tb) or K x N.
      auto tBv = tb ? CblasNoTrans : CblasTrans;
      int64_t rows = tb ? N : K, cols = tb ? K : N, inc_a = ta ? lda : 1;
      if constexpr (std::is_same_v<T, float>) {
        cblas_sgemv(CblasRowMajor, tBv, rows, cols, 1.f, B, ldb, A, inc_a, 0.f, C, 1);
      } else {
        cblas_dgemv(CblasRowMajor, tBv, rows, cols, 1.0, B, ldb, A, inc_a, 0.0, C, 1);
      }
      return;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, tA, tB, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, tA, tB, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, N);
  } else if constexpr (std::is_same_v<T, complex64_t>) {
    complex64_t one(1.f, 0.f), zero(0.f, 0.f);
    cblas_cgemm(CblasRowMajor, tA, tB, M, N, K, &one, A, lda, B, ldb, &zero, C, N);
  } else {
    // Integers: exact, wrapping like NumPy; i-k-j order streams rows of B.
    parallel_for(M, std::max<int64_t>(1, kGrain / std::max<int64_t>(N * K, 1)), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T* c = C + i * N;
        std::fill(c, c + N, T(0));
        for (int64_t k = 0; k < K; ++k) {
          T aik = ta ? A[k * lda + i] : A[i * lda + k];
          for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + aik * (tb ? B[j * ldb + k] : B[k * ldb + j]));
        }
      }
    });
  }
}

template <typename T>
void matmul_typed(array a, array b, array& out) {
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  MatrixLayout la = matrix_layout(a), lb = matrix_layout(b);
  if (!la.ok) a = row_major_copy(a, a.dtype()), la = matrix_layout(a);
  if (!lb.ok) b = row_major_copy(b, b.dtype()), lb = matrix_layout(b);
  auto oa = batch_offsets(a), ob = batch_offsets(b);
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* pc = static_cast<T*>(out.raw_data());
  for (size_t i = 0; i < oa.size(); ++i) {
    T* c = pc + i * M * N;
    if (K == 0) {
      std::fill(c, c + M * N, T(0));
      continue;
    }
    gemm<T>(la.transposed, lb.transposed, M, N, K, pa + oa[i], la.ld, pb + ob[i], lb.ld, c);
  }
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  if (t == float16 || t == bfloat16) {
    // Accumulate in float32, round once at the end.
    array a32 = row_major_copy(inputs[0], float32), b32 = row_major_copy(inputs[1], float32);
    array c32(out.shape(), float32, nullptr, {});
    allocate(c32);
    matmul_typed<float>(a32, b32, c32);
    copy_to(c32, out, out.strides(), 0);
    return;
  }
  dispatch_dtype(t, [&](auto v) {
    using T = decltype(v);
    if constexpr (is_half_type<T>::value || std::is_same_v<T, bool>) {
      throw std::invalid_argument("[matmul] " + dtype_name(t) + " is not supported.");
    } else {
      matmul_typed<T>(inputs[0], inputs[1], out);
    }
  });
}

}  // namespace lazuli
