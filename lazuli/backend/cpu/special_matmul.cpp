// CPU: GatherMM and SegmentedMM through BLAS. GatherMM merges sorted runs of outputs into
// one product each and groups unsorted ones by rhs matrix, so each rhs matrix is read once;
// SegmentedMM runs one product per segment on the operands in place. Operands that are not
// row-major are copied once; 16-bit floats go through float32, integers use an exact loop.
#include <cblas.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lazuli/backend/common/matrix_indices.h"
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

// C (M x N, dense) = A (M x K) B (K x N), row-major with leading dimensions lda and ldb.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C) {
  if (K == 0) {
    std::fill(C, C + M * N, T(0));
  } else if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, N);
  } else if constexpr (std::is_same_v<T, complex64_t>) {
    complex64_t one(1.f, 0.f), zero(0.f, 0.f);
    cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, &one, A, lda, B, ldb, &zero, C, N);
  } else {
    // Integers: exact, wrapping like NumPy; i-k-j order streams rows of B.
    for (int64_t i = 0; i < M; ++i) {
      T* c = C + i * N;
      std::fill(c, c + N, T(0));
      for (int64_t k = 0; k < K; ++k) {
        T aik = A[i * lda + k];
        for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + aik * B[k * ldb + j]);
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
  size_t L = li.size();
  bool runs = true;  // every rhs matrix used by one run only
  std::vector<char> seen(b.shape(0), 0);
  for (size_t l = 0; l < L && runs; ++l) {
    bool continues = l > 0 && ri[l] == ri[l - 1] && li[l] == li[l - 1] + 1;
    if (!continues) runs = !seen[ri[l]], seen[ri[l]] = 1;
  }
  if (runs) {
    for (size_t l = 0; l < L;) {
      size_t run = 1;
      while (l + run < L && ri[l + run] == ri[l] && li[l + run] == li[l] + static_cast<int64_t>(run)) ++run;
      gemm<T>(run * M, N, K, pa + li[l] * M * K, K, pb + ri[l] * K * N, N, pc + l * M * N);
      l += run;
    }
    return;
  }
  // Otherwise (unsorted routing) the outputs are grouped by rhs matrix: each group's lhs
  // matrices are copied together, multiplied by that matrix once, and the rows put back.
  // Each rhs matrix is then read once, not once per output.
  std::vector<size_t> order(L);
  for (size_t l = 0; l < L; ++l) order[l] = l;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return ri[x] < ri[y]; });
  std::vector<T> lhs, res;
  for (size_t g = 0; g < L;) {
    size_t c = 1;
    while (g + c < L && ri[order[g + c]] == ri[order[g]]) ++c;
    lhs.resize(c * M * K);
    res.resize(c * M * N);
    for (size_t q = 0; q < c; ++q) std::copy_n(pa + li[order[g + q]] * M * K, M * K, lhs.data() + q * M * K);
    gemm<T>(c * M, N, K, lhs.data(), K, pb + ri[order[g]] * K * N, N, res.data());
    for (size_t q = 0; q < c; ++q) std::copy_n(res.data() + q * M * N, M * N, pc + order[g + q] * M * N);
    g += c;
  }
}

// Segment s: the columns [start, end) of a (M x K) times those rows of b (K x N), both
// read in place; bounds clip to [0, K].
template <typename T>
void segmented_mm_typed(const array& a, const array& b, const array& seg, array& out) {
  int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1), S = seg.shape(0);
  const T* pa = static_cast<const T*>(const_cast<array&>(a).raw_data());
  const T* pb = static_cast<const T*>(const_cast<array&>(b).raw_data());
  const int32_t* ps = static_cast<const int32_t*>(const_cast<array&>(seg).raw_data());
  T* pc = static_cast<T*>(out.raw_data());
  for (int64_t i = 0; i < S; ++i) {
    int64_t start = std::clamp<int64_t>(ps[2 * i], 0, K), end = std::clamp<int64_t>(ps[2 * i + 1], 0, K);
    gemm<T>(M, N, std::max<int64_t>(end - start, 0), pa + start, K, pb + start * N, N, pc + i * M * N);
  }
}

// Runs typed(a, b, ..., out) in the output's type; 16-bit floats through float32.
template <typename F>
void in_compute_type(const std::vector<array>& inputs, array& out, const char* op, F&& typed) {
  Dtype t = out.dtype();
  if (t == float16 || t == bfloat16) {
    array c32(out.shape(), float32, nullptr, {});
    allocate(c32);
    typed(float{}, row_major(inputs[0], float32), row_major(inputs[1], float32), c32);
    copy_to(c32, out, out.strides(), 0);
    return;
  }
  dispatch_dtype(t, [&](auto v) {
    using T = decltype(v);
    if constexpr (is_half_type<T>::value || std::is_same_v<T, bool>)
      throw std::invalid_argument(std::string("[") + op + "] " + dtype_name(t) + " is not supported.");
    else
      typed(T{}, row_major(inputs[0], t), row_major(inputs[1], t), out);
  });
}

}  // namespace

void GatherMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  auto li = read_matrix_indices(inputs[2], inputs[0].shape(0), "lhs index");
  auto ri = read_matrix_indices(inputs[3], inputs[1].shape(0), "rhs index");
  in_compute_type(inputs, out, "gather_mm", [&](auto t, const array& a, const array& b, array& o) {
    gather_mm_typed<decltype(t)>(a, b, li, ri, o);
  });
}

void SegmentedMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  array seg = row_major(inputs[2], int32);
  in_compute_type(inputs, out, "segmented_mm", [&](auto t, const array& a, const array& b, array& o) {
    segmented_mm_typed<decltype(t)>(a, b, seg, o);
  });
}

}  // namespace lazuli
