// CPU: the Walsh-Hadamard transform along the last axis. Each row of n = m * 2^k elements
// is loaded into a buffer of the compute type, transformed there by the fast butterflies
// (k passes of x[j], x[j+h] <- x[j] + x[j+h], x[j] - x[j+h]) on each of its m blocks of
// 2^k, then, for m > 1, mixed across the blocks by the m x m matrix H_m, scaled and
// stored. Rows run in parallel.
#include <algorithm>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli {
using namespace cpu;

namespace {

// In place: x (length p, a power of two) <- H_p x, Sylvester ordering.
template <typename C>
void fwht(C* x, int64_t p) {
  // h = 1 and h = 2 together as a radix-4 step: fewer passes over the row.
  int64_t h = 1;
  if (p >= 4) {
    for (int64_t i = 0; i < p; i += 4) {
      C a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
      C s0 = a + b, d0 = a - b, s1 = c + d, d1 = c - d;
      x[i] = s0 + s1, x[i + 1] = d0 + d1, x[i + 2] = s0 - s1, x[i + 3] = d0 - d1;
    }
    h = 4;
  }
  for (; h < p; h *= 2)
    for (int64_t i = 0; i < p; i += 2 * h) {
      C* lo = x + i;
      C* hi = x + i + h;
      for (int64_t j = 0; j < h; ++j) {
        C a = lo[j], b = hi[j];
        lo[j] = a + b;
        hi[j] = a - b;
      }
    }
}

template <typename T>
void hadamard_rows(const array& in, array& out, int m, double scale, bool transposed) {
  using C = compute_t<T>;
  int64_t n = in.shape().back();
  int64_t p = n / m;
  int64_t rows = static_cast<int64_t>(in.size()) / n;
  // Signs of H_m (or its transpose), row-major.
  std::vector<C> signs(m * m, C(1));
  if (m > 1)
    for (int i = 0; i < m; ++i)
      for (int l = 0; l < m; ++l) {
        char c = transposed ? detail::hadamard_row(m, l)[i] : detail::hadamard_row(m, i)[l];
        signs[i * m + l] = c == '+' ? C(1) : C(-1);
      }
  const T* src = static_cast<const T*>(const_cast<array&>(in).raw_data());
  T* dst = static_cast<T*>(out.raw_data());
  C sc = static_cast<C>(scale);
  parallel_for(rows, std::max<int64_t>(1, kGrain / n), [&](int64_t begin, int64_t end) {
    std::vector<C> x(n), y(m > 1 ? n : 0);
    for (int64_t r = begin; r < end; ++r) {
      const T* s = src + r * n;
      for (int64_t j = 0; j < n; ++j) x[j] = static_cast<C>(s[j]);
      for (int b = 0; b < m; ++b) fwht(x.data() + b * p, p);
      C* result = x.data();
      if (m > 1) {
        for (int i = 0; i < m; ++i) {
          C* yi = y.data() + i * p;
          std::fill(yi, yi + p, C(0));
          for (int l = 0; l < m; ++l) {
            const C* xl = x.data() + l * p;
            if (signs[i * m + l] == C(1))
              for (int64_t j = 0; j < p; ++j) yi[j] += xl[j];
            else
              for (int64_t j = 0; j < p; ++j) yi[j] -= xl[j];
          }
        }
        result = y.data();
      }
      T* d = dst + r * n;
      for (int64_t j = 0; j < n; ++j) d[j] = static_cast<T>(result[j] * sc);
    }
  });
}

}  // namespace

void Hadamard::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  allocate(out);
  if (in.size() == 0) return;
  // Rows are read in place when the input is row-major; otherwise it is first copied into
  // the output, and transformed there.
  const array* src = &in;
  if (!in.flags().row_contiguous) {
    copy_to(in, out, out.strides(), 0);
    src = &out;
  }
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_floating_point_v<T> || is_half_type<T>::value || is_complex_type<T>::value)
      hadamard_rows<T>(*src, out, m_, scale_, transposed_);
    else
      throw std::invalid_argument("[hadamard_transform] Unsupported dtype.");
  });
}

}  // namespace lazuli
