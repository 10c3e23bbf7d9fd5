// CPU: the Convolution primitive as a blocked implicit GEMM. For each group, the output
// rows (n, out positions...) times the output channels is the product of the patch matrix
// (rows x kernel positions * C_in_g) and the weight (C_out_g x the same). The patch matrix
// is never built whole: each task gathers a tile of rows (and, for long kernels, a slice of
// the reduction) into a buffer that stays in L2, then multiplies it with the weight packed
// once into panels of NR output channels, in a register-blocked micro-kernel (6 rows x NR
// channels of accumulators, AVX2 + FMA where the CPU has them). Tiles run in parallel on
// the thread pool. A 1x1 kernel with unit stride and no padding reads the input directly.
// float16 / bfloat16 compute in float32; float64 in double.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/conv.h"

namespace lazuli {
using namespace cpu;

namespace {

// Register block: MR output rows by NR output channels (two vectors of 256 bits).
constexpr int kMR = 6;
template <typename T> inline constexpr int kNR = 64 / static_cast<int>(sizeof(T));
constexpr int64_t kTileBytes = 192 << 10;  // patch tile: leaves room in a 1 MiB L2 for the weight
constexpr int64_t kMaxDepth = 4096;        // reduction slice per pass (elements)

// Writes (or adds) the first mr x nr entries of a register block to C.
template <typename T, int NR>
void store_block(const T (&c)[kMR][NR], int mr, T* C, int64_t ldc, int nr, bool acc) {
  for (int i = 0; i < mr; ++i) {
    T* row = C + i * ldc;
    if (acc)
      for (int j = 0; j < nr; ++j) row[j] += c[i][j];
    else
      for (int j = 0; j < nr; ++j) row[j] = c[i][j];
  }
}

// C[mr x nr] (+)= A[mr x kc] (rows lda apart) * B[kc x NR] (packed, row-major).
template <typename T>
void tile_generic(int64_t kc, const T* A, int64_t lda, int mr, const T* B, T* C, int64_t ldc, int nr, bool acc) {
  constexpr int NR = kNR<T>;
  T c[kMR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* b = B + k * NR;
    for (int i = 0; i < mr; ++i) {
      T a = A[i * lda + k];
      for (int j = 0; j < NR; ++j) c[i][j] += a * b[j];
    }
  }
  store_block(c, mr, C, ldc, nr, acc);
}

// Rows past mr read row 0 again (their results are dropped); columns past nr go through a
// scratch block.
__attribute__((target("avx2,fma"))) void tile_avx2(int64_t kc, const float* A, int64_t lda, int mr, const float* B,
                                                   float* C, int64_t ldc, int nr, bool acc) {
  const float* a[kMR];
  for (int i = 0; i < kMR; ++i) a[i] = A + (i < mr ? i : 0) * lda;
  __m256 c[kMR][2];
  for (int i = 0; i < kMR; ++i) c[i][0] = c[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_loadu_ps(B + k * 16), b1 = _mm256_loadu_ps(B + k * 16 + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) {
      __m256 av = _mm256_broadcast_ss(a[i] + k);
      c[i][0] = _mm256_fmadd_ps(av, b0, c[i][0]);
      c[i][1] = _mm256_fmadd_ps(av, b1, c[i][1]);
    }
  }
  // The accumulators leave registers only here (indexing them by a run-time row would
  // keep them in memory throughout the loop).
  alignas(32) float res[kMR][16];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) _mm256_store_ps(res[i], c[i][0]), _mm256_store_ps(res[i] + 8, c[i][1]);
  store_block(res, mr, C, ldc, nr, acc);
}

__attribute__((target("avx2,fma"))) void tile_avx2(int64_t kc, const double* A, int64_t lda, int mr, const double* B,
                                                   double* C, int64_t ldc, int nr, bool acc) {
  const double* a[kMR];
  for (int i = 0; i < kMR; ++i) a[i] = A + (i < mr ? i : 0) * lda;
  __m256d c[kMR][2];
  for (int i = 0; i < kMR; ++i) c[i][0] = c[i][1] = _mm256_setzero_pd();
  for (int64_t k = 0; k < kc; ++k) {
    __m256d b0 = _mm256_loadu_pd(B + k * 8), b1 = _mm256_loadu_pd(B + k * 8 + 4);
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) {
      __m256d av = _mm256_broadcast_sd(a[i] + k);
      c[i][0] = _mm256_fmadd_pd(av, b0, c[i][0]);
      c[i][1] = _mm256_fmadd_pd(av, b1, c[i][1]);
    }
  }
  alignas(32) double res[kMR][8];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) _mm256_store_pd(res[i], c[i][0]), _mm256_store_pd(res[i] + 4, c[i][1]);
  store_block(res, mr, C, ldc, nr, acc);
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

template <typename T>
void tile(int64_t kc, const T* A, int64_t lda, int mr, const T* B, T* C, int64_t ldc, int nr, bool acc) {
  if (has_avx2()) tile_avx2(kc, A, lda, mr, B, C, ldc, nr, acc);
  else tile_generic(kc, A, lda, mr, B, C, ldc, nr, acc);
}

// Everything about one convolution the kernel needs, in elements.
struct Geometry {
  int d = 0;
  int64_t n = 0, ci = 0, co = 0, groups = 1, ci_g = 0, co_g = 0;
  std::vector<int64_t> in, ker, out;
  int64_t ksp = 1, osp = 1;  // kernel positions, output positions per image
  int64_t depth = 0;         // GEMM reduction length: ksp * ci_g
  int64_t rows = 0;          // n * osp
  // For each spatial dim, the input index that output o and kernel tap k read (-1: padding
  // or a hole of the input dilation), at [o * ker + k].
  std::vector<std::vector<int32_t>> taps;
  std::vector<int64_t> in_step;  // input strides of the spatial dims, in elements
  bool direct = false;           // a 1x1 kernel reading the input rows as they are
};

Geometry make_geometry(const array& x, const array& w, const array& out, const Convolution::Params& p) {
  Geometry G;
  G.d = static_cast<int>(x.ndim()) - 2;
  G.n = x.shape()[0];
  G.ci = x.shape().back();
  G.co = w.shape()[0];
  G.groups = p.groups;
  G.ci_g = w.shape().back();
  G.co_g = G.co / G.groups;
  G.direct = true;
  for (int i = 0; i < G.d; ++i) {
    G.in.push_back(x.shape()[1 + i]);
    G.ker.push_back(w.shape()[1 + i]);
    G.out.push_back(out.shape()[1 + i]);
    G.ksp *= G.ker[i];
    G.osp *= G.out[i];
    std::vector<int32_t> t(G.out[i] * G.ker[i]);
    for (int64_t o = 0; o < G.out[i]; ++o)
      for (int64_t k = 0; k < G.ker[i]; ++k) {
        int64_t pos = o * p.stride[i] + k * p.kernel_dilation[i] - p.padding_lo[i];
        int64_t dil = p.input_dilation[i];
        bool hit = pos >= 0 && pos % dil == 0 && pos / dil < G.in[i];
        t[o * G.ker[i] + k] = hit ? static_cast<int32_t>(pos / dil) : -1;
      }
    G.taps.push_back(std::move(t));
    G.direct = G.direct && G.ker[i] == 1 && p.stride[i] == 1 && p.padding_lo[i] == 0 && G.out[i] == G.in[i];
  }
  G.in_step.assign(G.d, G.ci);
  for (int i = G.d - 2; i >= 0; --i) G.in_step[i] = G.in_step[i + 1] * G.in[i + 1];
  G.depth = G.ksp * G.ci_g;
  G.rows = G.n * G.osp;
  return G;
}

// Gathers patch rows [r0, r0 + nrows) of group g, reduction slice [k0, k1), into P
// (row-major, k1 - k0 wide). `kidx` holds each kernel position's per-dim taps.
template <typename T>
void gather(const Geometry& G, const std::vector<int32_t>& kidx, const T* x, int64_t g, int64_t r0, int64_t nrows,
            int64_t k0, int64_t k1, T* P) {
  int d = G.d;
  int64_t kc = k1 - k0;
  int64_t kp0 = k0 / G.ci_g, kp1 = (k1 + G.ci_g - 1) / G.ci_g;
  std::vector<const int32_t*> trow(d);
  for (int64_t r = r0; r < r0 + nrows; ++r) {
    int64_t rem = r;
    for (int i = d - 1; i >= 0; --i) {
      int64_t o = rem % G.out[i];
      rem /= G.out[i];
      trow[i] = G.taps[i].data() + o * G.ker[i];
    }
    const T* xn = x + rem * G.in_step[0] * G.in[0] + g * G.ci_g;
    T* row = P + (r - r0) * kc;
    for (int64_t kp = kp0; kp < kp1; ++kp) {
      const int32_t* ki = kidx.data() + kp * d;
      int64_t off = 0;
      bool hit = true;
      for (int i = 0; i < d; ++i) {
        int32_t t = trow[i][ki[i]];
        hit = hit && t >= 0;
        off += int64_t(t) * G.in_step[i];
      }
      int64_t c0 = std::max(k0, kp * G.ci_g), c1 = std::min(k1, (kp + 1) * G.ci_g);
      if (hit) std::memcpy(row + (c0 - k0), xn + off + (c0 - kp * G.ci_g), (c1 - c0) * sizeof(T));
      else std::memset(static_cast<void*>(row + (c0 - k0)), 0, (c1 - c0) * sizeof(T));
    }
  }
}

// The weight as [C_out][kernel positions][C_in_g] with the flip applied.
template <typename T>
std::vector<T> unflipped_weight(const Geometry& G, const T* w, bool flip) {
  std::vector<T> r(w, w + G.co * G.depth);
  if (!flip) return r;
  for (int64_t o = 0; o < G.co; ++o)
    for (int64_t kp = 0; kp < G.ksp; ++kp)
      std::memcpy(r.data() + (o * G.ksp + kp) * G.ci_g, w + (o * G.ksp + G.ksp - 1 - kp) * G.ci_g, G.ci_g * sizeof(T));
  return r;
}

template <typename T>
void conv_typed(const Geometry& G, const T* x, const T* wraw, T* out, bool flip) {
  constexpr int NR = kNR<T>;
  std::vector<T> w = unflipped_weight(G, wraw, flip);
  // Panels: for group g, panel j, [depth][NR] with missing channels zero.
  int64_t panels = (G.co_g + NR - 1) / NR;
  std::vector<T> packed(G.groups * panels * G.depth * NR, T(0));
  for (int64_t g = 0; g < G.groups; ++g)
    for (int64_t o = 0; o < G.co_g; ++o) {
      const T* src = w.data() + (g * G.co_g + o) * G.depth;
      T* dst = packed.data() + ((g * panels + o / NR) * G.depth) * NR + o % NR;
      for (int64_t k = 0; k < G.depth; ++k) dst[k * NR] = src[k];
    }
  std::vector<int32_t> kidx(G.ksp * G.d);
  for (int64_t kp = 0; kp < G.ksp; ++kp) {
    int64_t rem = kp;
    for (int i = G.d - 1; i >= 0; --i) kidx[kp * G.d + i] = static_cast<int32_t>(rem % G.ker[i]), rem /= G.ker[i];
  }
  int64_t kc_max = std::min(G.depth, kMaxDepth);
  int64_t tile_rows = std::max<int64_t>(kMR, kTileBytes / int64_t(sizeof(T) * kc_max) / kMR * kMR);
  int64_t tiles = (G.rows + tile_rows - 1) / tile_rows;
  parallel_for(G.groups * tiles, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<T> patch;
    if (!G.direct) patch.resize(tile_rows * kc_max);
    for (int64_t task = begin; task < end; ++task) {
      int64_t g = task / tiles, r0 = (task % tiles) * tile_rows;
      int64_t nrows = std::min(tile_rows, G.rows - r0);
      T* c = out + r0 * G.co + g * G.co_g;
      for (int64_t k0 = 0; k0 < G.depth; k0 += kc_max) {
        int64_t k1 = std::min(G.depth, k0 + kc_max), kc = k1 - k0;
        const T* a;
        int64_t lda;
        if (G.direct) {
          a = x + r0 * G.ci + g * G.ci_g + k0, lda = G.ci;
        } else {
          gather(G, kidx, x, g, r0, nrows, k0, k1, patch.data());
          a = patch.data(), lda = kc;
        }
        for (int64_t i = 0; i < nrows; i += kMR) {
          int mr = static_cast<int>(std::min<int64_t>(kMR, nrows - i));
          for (int64_t j = 0; j < panels; ++j) {
            int nr = static_cast<int>(std::min<int64_t>(NR, G.co_g - j * NR));
            const T* b = packed.data() + ((g * panels + j) * G.depth + k0) * NR;
            tile(kc, a + i * lda, lda, mr, b, c + i * G.co + j * NR, G.co, nr, k0 > 0);
          }
        }
      }
    }
  });
}

// The array as a row-major buffer of `dtype` (itself when it already is one).
array dense(const array& a, Dtype dtype) {
  if (a.dtype() == dtype && a.flags().row_contiguous) return a;
  array c(a.shape(), dtype, nullptr, {});
  allocate(c);
  copy_to(a, c, c.strides(), 0);
  return c;
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  Dtype compute = t == float64 ? float64 : float32;
  array x = dense(inputs[0], compute), w = dense(inputs[1], compute);
  array o = t == compute ? out : array(out.shape(), compute, nullptr, {});
  if (t != compute) allocate(o);
  Geometry G = make_geometry(x, w, o, p_);
  if (G.depth == 0) {
    std::memset(o.raw_data(), 0, o.nbytes());
  } else if (compute == float64) {
    conv_typed(G, static_cast<const double*>(x.raw_data()), static_cast<const double*>(w.raw_data()),
               static_cast<double*>(o.raw_data()), p_.flip);
  } else {
    conv_typed(G, static_cast<const float*>(x.raw_data()), static_cast<const float*>(w.raw_data()),
               static_cast<float*>(o.raw_data()), p_.flip);
  }
  if (t != compute) copy_to(o, out, out.strides(), 0);
}

}  // namespace lazuli
