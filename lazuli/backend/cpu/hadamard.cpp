// CPU: the Walsh-Hadamard transform along the last axis. Each of the m blocks of 2^k of a
// row of n = m * 2^k elements goes through the fast butterflies from the input row into the
// output row (16-bit floats: in a float buffer); for m > 1 the blocks are then mixed by the
// m x m matrix H_m. The scale rides on the last pass. Rows run in parallel.
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

// One pass of two butterfly stages of half-width h and 2h (radix 4: x[j], x[j+h], x[j+2h],
// x[j+3h] together), the results times f when Scaled. The loop over j is the vectorised one.
template <bool Scaled, typename C>
inline __attribute__((always_inline)) void radix4_pass(C* __restrict x, int64_t len, int64_t h, C f) {
  for (int64_t i = 0; i < len; i += 4 * h) {
    C* __restrict x0 = x + i;
    C* __restrict x1 = x0 + h;
    C* __restrict x2 = x1 + h;
    C* __restrict x3 = x2 + h;
    for (int64_t j = 0; j < h; ++j) {
      C a = x0[j], b = x1[j], c = x2[j], d = x3[j];
      C s0 = a + b, d0 = a - b, s1 = c + d, d1 = c - d;
      if constexpr (Scaled) {
        x0[j] = (s0 + s1) * f, x1[j] = (d0 + d1) * f, x2[j] = (s0 - s1) * f, x3[j] = (d0 - d1) * f;
      } else {
        x0[j] = s0 + s1, x1[j] = d0 + d1, x2[j] = s0 - s1, x3[j] = d0 - d1;
      }
    }
  }
}

// In place: each block of p (a power of two) of x (length len, a multiple of p) <- scale *
// H_p block in Sylvester ordering, for the stages of half-width h >= h0 (the earlier ones
// done already). Blocks never mix: a stage pairs elements within aligned groups of 2h <= p,
// so consecutive rows are transformed as one long array. The scale rides on the last pass.
template <typename C>
inline __attribute__((always_inline)) void fwht_stages(C* __restrict x, int64_t len, int64_t p, int64_t h0, C scale) {
  int64_t h = h0;
  if (h >= p) {
    if (scale != C(1))
      for (int64_t j = 0; j < len; ++j) x[j] *= scale;
    return;
  }
  for (; 4 * h < p; h *= 4) radix4_pass<false>(x, len, h, C(1));
  if (4 * h == p) {
    radix4_pass<true>(x, len, h, scale);
    return;
  }
  for (int64_t i = 0; i < len; i += 2 * h) {  // 2h == p: one radix-2 stage left
    C* __restrict lo = x + i;
    C* __restrict hi = lo + h;
    for (int64_t j = 0; j < h; ++j) {
      C a = lo[j], b = hi[j];
      lo[j] = (a + b) * scale, hi[j] = (a - b) * scale;
    }
  }
}

// dst <- the blocks of p of src transformed (len elements); src may be dst.
template <typename C>
inline __attribute__((always_inline)) void fwht_generic(const C* src, C* dst, int64_t len, int64_t p, C scale) {
  if (src != dst) std::memcpy(dst, src, len * sizeof(C));
  fwht_stages(dst, len, p, 1, scale);
}

#if defined(__x86_64__)
// AVX2 for float: the three stages inside each group of 8 (h = 1, 2, 4) are lane shuffles
// of one register (swap neighbours, pairs, halves; the upper lane of each pair takes the
// difference), done while copying src to dst; the rest are the radix-4 passes, vectorised
// 8 wide.
__attribute__((target("avx2"))) void fwht_f32_avx2(const float* src, float* dst, int64_t len, int64_t p,
                                                   float scale) {
  if (p < 8) return fwht_generic(src, dst, len, p, scale);
  for (int64_t i = 0; i < len; i += 8) {
    __m256 v = _mm256_loadu_ps(src + i);
    __m256 s = _mm256_permute_ps(v, 0xB1);
    v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xAA);
    s = _mm256_permute_ps(v, 0x4E);
    v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xCC);
    s = _mm256_permute2f128_ps(v, v, 1);
    v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xF0);
    _mm256_storeu_ps(dst + i, v);
  }
  fwht_stages(dst, len, p, 8, scale);
}
__attribute__((target("avx2"))) void fwht_f64_avx2(const double* src, double* dst, int64_t len, int64_t p,
                                                   double scale) {
  fwht_generic(src, dst, len, p, scale);
}
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
#endif

template <typename C>
void fwht(const C* src, C* dst, int64_t len, int64_t p, C scale) {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<C, float>) {
    if (kHasAvx2) return fwht_f32_avx2(src, dst, len, p, scale);
  } else if constexpr (std::is_same_v<C, double>) {
    if (kHasAvx2) return fwht_f64_avx2(src, dst, len, p, scale);
  }
#endif
  fwht_generic(src, dst, len, p, scale);
}

// y (m x p) <- scale * signs (m x m) x (m x p): H_m across the blocks of one row.
template <typename C>
inline __attribute__((always_inline)) void mix_generic(const C* __restrict x, C* __restrict y, const C* signs, int m,
                                                       int64_t p, C scale) {
  for (int i = 0; i < m; ++i) {
    C* __restrict yi = y + i * p;
    for (int64_t j = 0; j < p; ++j) yi[j] = C(0);
    for (int l = 0; l < m; ++l) {
      const C* __restrict xl = x + l * p;
      C f = signs[i * m + l] * scale;
      for (int64_t j = 0; j < p; ++j) yi[j] += f * xl[j];
    }
  }
}
__attribute__((target_clones("avx2", "default"))) void mix_f32(const float* x, float* y, const float* signs, int m,
                                                               int64_t p, float scale) {
  mix_generic(x, y, signs, m, p, scale);
}
template <typename C>
void mix(const C* x, C* y, const C* signs, int m, int64_t p, C scale) {
  if constexpr (std::is_same_v<C, float>) mix_f32(x, y, signs, m, p, scale);
  else mix_generic(x, y, signs, m, p, scale);
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
  // With m > 1 the scale is applied when the blocks are mixed, else by the butterflies.
  C block_scale = m > 1 ? C(1) : sc;
  // Short rows go through the butterflies a group at a time (about 4K elements: in L1).
  int64_t group = std::max<int64_t>(1, 4096 / n);
  parallel_for(rows, std::max<int64_t>(group, kGrain / n), [&](int64_t begin, int64_t end) {
    // Rows whose type computes as itself go straight from input to output rows, unless the
    // blocks are mixed afterwards (m > 1); the others (16-bit floats) go through a buffer of
    // float.
    constexpr bool direct = std::is_same_v<T, C>;
    bool buffered = !direct || m > 1;
    std::vector<C> buffer(buffered ? group * n : 0), y(!direct && m > 1 ? n : 0);
    for (int64_t r0 = begin; r0 < end; r0 += group) {
      int64_t g = std::min(group, end - r0), len = g * n;
      const T* s = src + r0 * n;
      T* d = dst + r0 * n;
      C* x = buffered ? buffer.data() : reinterpret_cast<C*>(d);
      if constexpr (direct) {
        fwht(s, x, len, p, block_scale);
      } else {
        for (int64_t j = 0; j < len; ++j) x[j] = static_cast<C>(s[j]);
        fwht(x, x, len, p, block_scale);
      }
      for (int64_t r = 0; r < g; ++r) {
        C* xr = x + r * n;
        T* dr = d + r * n;
        if constexpr (direct) {
          if (m > 1) mix(xr, dr, signs.data(), m, p, sc);
        } else if (m > 1) {
          mix(xr, y.data(), signs.data(), m, p, sc);
          for (int64_t j = 0; j < n; ++j) dr[j] = static_cast<T>(y[j]);
        } else {
          for (int64_t j = 0; j < n; ++j) dr[j] = static_cast<T>(xr[j]);
        }
      }
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
