// CPU: the Walsh-Hadamard transform along the last axis. Each row of n = m * 2^k elements
// is copied into the output row (16-bit floats: into a float buffer), transformed there by
// the fast butterflies on each of its m blocks of 2^k, then, for m > 1, mixed across the
// blocks by the m x m matrix H_m, and scaled. Rows run in parallel.
#include <algorithm>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli {
using namespace cpu;

namespace {

// In place: x (length p, a power of two) <- H_p x, Sylvester ordering, for the stages of
// half-width h >= h0 (the earlier ones done already). Stages go two at a time (radix 4:
// x[j], x[j+h], x[j+2h], x[j+3h] together), which halves the passes over the row; the
// loops over j are the vectorised ones.
template <typename C>
inline __attribute__((always_inline)) void fwht_stages(C* __restrict x, int64_t p, int64_t h0) {
  int64_t h = h0;
  for (; 4 * h <= p; h *= 4)
    for (int64_t i = 0; i < p; i += 4 * h) {
      C* __restrict x0 = x + i;
      C* __restrict x1 = x0 + h;
      C* __restrict x2 = x1 + h;
      C* __restrict x3 = x2 + h;
      for (int64_t j = 0; j < h; ++j) {
        C a = x0[j], b = x1[j], c = x2[j], d = x3[j];
        C s0 = a + b, d0 = a - b, s1 = c + d, d1 = c - d;
        x0[j] = s0 + s1, x1[j] = d0 + d1, x2[j] = s0 - s1, x3[j] = d0 - d1;
      }
    }
  if (h < p)  // one radix-2 stage left
    for (int64_t j = 0; j < h; ++j) {
      C a = x[j], b = x[j + h];
      x[j] = a + b, x[j + h] = a - b;
    }
}

#if defined(__x86_64__)
// AVX2 for float: the three stages inside each group of 8 (h = 1, 2, 4) are lane shuffles
// of one register (swap neighbours, pairs, halves; the upper lane of each pair takes the
// difference), the rest are the radix-4 loops, vectorised 8 wide.
__attribute__((target("avx2"))) void fwht_f32_avx2(float* x, int64_t p) {
  if (p < 8) return fwht_stages(x, p, 1);
  for (int64_t i = 0; i < p; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 s = _mm256_permute_ps(v, 0xB1);
    v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xAA);
    s = _mm256_permute_ps(v, 0x4E);
    v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xCC);
    s = _mm256_permute2f128_ps(v, v, 1);
    v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xF0);
    _mm256_storeu_ps(x + i, v);
  }
  fwht_stages(x, p, 8);
}
__attribute__((target("avx2"))) void fwht_f64_avx2(double* x, int64_t p) { fwht_stages(x, p, 1); }
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
#endif

template <typename C>
void fwht(C* x, int64_t p) {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<C, float>) {
    if (kHasAvx2) return fwht_f32_avx2(x, p);
  } else if constexpr (std::is_same_v<C, double>) {
    if (kHasAvx2) return fwht_f64_avx2(x, p);
  }
#endif
  fwht_stages(x, p, 1);
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
    // Rows whose type computes as itself are transformed in the output row; others (16-bit
    // floats) in a buffer of float.
    constexpr bool direct = std::is_same_v<T, C>;
    std::vector<C> buffer(direct ? 0 : n), y(m > 1 ? n : 0);
    for (int64_t r = begin; r < end; ++r) {
      const T* s = src + r * n;
      T* d = dst + r * n;
      C* x;
      if constexpr (direct) {
        if (s != d) std::memcpy(d, s, n * sizeof(T));
        x = d;
      } else {
        for (int64_t j = 0; j < n; ++j) buffer[j] = static_cast<C>(s[j]);
        x = buffer.data();
      }
      for (int b = 0; b < m; ++b) fwht(x + b * p, p);
      C* result = x;
      if (m > 1) {
        for (int i = 0; i < m; ++i) {
          C* yi = y.data() + i * p;
          std::fill(yi, yi + p, C(0));
          for (int l = 0; l < m; ++l) {
            const C* xl = x + l * p;
            if (signs[i * m + l] == C(1))
              for (int64_t j = 0; j < p; ++j) yi[j] += xl[j];
            else
              for (int64_t j = 0; j < p; ++j) yi[j] -= xl[j];
          }
        }
        result = y.data();
      }
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
