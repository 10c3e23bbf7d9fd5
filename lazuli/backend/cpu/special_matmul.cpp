// CPU: GatherMM. Each output matrix is a BLAS product of the two matrices its indices
// pick (runs of them merged into one product where they can be), read in place (after one row-major copy of an operand that is not row-major);
// 16-bit floats go through float32, integers use an exact loop.
#include <cblas.h>

#include <string>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli {
using namespace cpu;

namespace {

array row_major(const array& a, Dtype dtype) {
  if (a.flags().row_contiguous && a.dtype() == dtype) return a;
  array c(a.shape(), dtype, nullptr, {});
  allocate(c);
  copy_to(a, c, c.strides(), 0);
  return c;
}

// The indices as int64, checked against the number of matrices.
std::vector<int64_t> read_indices(const array& idx, int64_t count, const char* name) {
  std::vector<int64_t> v(idx.shape(0));
  int64_t step = idx.strides()[0];
  dispatch_dtype(idx.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>) {  // the op passes integer indices only
      const T* p = static_cast<const T*>(const_cast<array&>(idx).raw_data());
      for (size_t l = 0; l < v.size(); ++l) {
        int64_t i = static_cast<int64_t>(p[l * step]);
        if (i < 0 || i >= count)
          throw std::out_of_range(std::string("[gather_mm] ") + name + " " + std::to_string(i) +
                                  " is out of range for " + std::to_string(count) + " matrices.");
        v[l] = i;
      }
    }
  });
  return v;
}

// C (M x N) = A (M x K) B (K x N), all row-major and dense.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, A, K, B, N, 0.f, C, N);
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, A, K, B, N, 0.0, C, N);
  } else if constexpr (std::is_same_v<T, complex64_t>) {
    complex64_t one(1.f, 0.f), zero(0.f, 0.f);
    cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, &one, A, K, B, N, &zero, C, N);
  } else {
    // Integers: exact, wrapping like NumPy; i-k-j order streams rows of B.
    for (int64_t i = 0; i < M; ++i) {
      T* c = C + i * N;
      std::fill(c, c + N, T(0));
      for (int64_t k = 0; k < K; ++k) {
        T aik = A[i * K + k];
        for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + aik * B[k * N + j]);
      }
    }
  }
}

template <typename T>
void gather_mm_typed(const array& a, const array& b, const std::vector<int64_t>& li, const std::vector<int64_t>& ri,
                     array& out) {
  int64_t M = a.shape(1), K = a.shape(2), N = b.shape(2);
  const T* pa = static_cast<const T*>(const_cast<array&>(a).raw_data());
  const T* pb = static_cast<const T*>(const_cast<array&>(b).raw_data());
  T* pc = static_cast<T*>(out.raw_data());
  // A run of outputs with one rhs matrix and consecutive lhs matrices (sorted routing,
  // as in a mixture of experts) is one product: those lhs matrices are contiguous rows of
  // a, and their outputs contiguous rows of out.
  for (size_t l = 0; l < li.size();) {
    size_t run = 1;
    while (l + run < li.size() && ri[l + run] == ri[l] && li[l + run] == li[l] + static_cast<int64_t>(run)) ++run;
    T* c = pc + l * M * N;
    if (K == 0) std::fill(c, c + run * M * N, T(0));
    else gemm<T>(run * M, N, K, pa + li[l] * M * K, pb + ri[l] * K * N, c);
    l += run;
  }
}

}  // namespace

void GatherMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  auto li = read_indices(inputs[2], inputs[0].shape(0), "lhs index");
  auto ri = read_indices(inputs[3], inputs[1].shape(0), "rhs index");
  Dtype t = out.dtype();
  if (t == float16 || t == bfloat16) {
    array c32(out.shape(), float32, nullptr, {});
    allocate(c32);
    gather_mm_typed<float>(row_major(inputs[0], float32), row_major(inputs[1], float32), li, ri, c32);
    copy_to(c32, out, out.strides(), 0);
    return;
  }
  dispatch_dtype(t, [&](auto v) {
    using T = decltype(v);
    if constexpr (is_half_type<T>::value || std::is_same_v<T, bool>)
      throw std::invalid_argument("[gather_mm] " + dtype_name(t) + " is not supported.");
    else
      gather_mm_typed<T>(row_major(inputs[0], t), row_major(inputs[1], t), li, ri, out);
  });
}

}  // namespace lazuli
