// CPU: quantization kernels. Every row of packed weights is a little-endian bit stream of
// codes (lazuli/quantized.h); a group of codes times its scale (plus its bias) is the weight.
//
// Matrix products take one of two paths:
// - few rows of x against w's rows (transpose=true, M <= kGemvRows): a GEMV over w's rows,
//   split over the thread pool. Affine 4-bit rows (the common case) use an AVX+FMA kernel that
//   never expands codes to memory: it masks the eight nibbles of each word in place, converts
//   them to float as they sit (q * 2^(4j)) and multiplies by x pre-permuted into nibble planes
//   and pre-scaled by 2^(-4j), so a word of weights costs one load, a shift and eight
//   mask/convert/FMAs, shared by up to four rows of x; sum(x * (s*q + b)) = s * sum(x*q) +
//   b * sum(x) takes the bias out of the inner loop. Affine 8-bit rows widen bytes in
//   registers; mxfp4/nvfp4 rows place each e2m1 nibble straight into float bits. Other
//   formats decode a row into L1 once and dot it with each row of x.
// - otherwise: blocks of w are dequantized to float32 (affine 4-bit in nibble-plane order, with
//   x's columns permuted to match) and multiplied by OpenBLAS's sgemm.
// Arithmetic is in float32 whatever the dtype; half inputs are converted once. Setting
// LAZULI_QUANT_NO_SIMD in the environment selects the portable kernels.
#include <cblas.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/common/matrix_indices.h"
#include "lazuli/backend/common/quant.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/quantized.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LAZULI_QUANT_X86 1
#endif

namespace lazuli {
using namespace cpu;

namespace {

// ---- value formats (the scalar rules live in backend/common/quant.h) ------------------

using quant::e4m3_decode;
using quant::e4m3_encode;

constexpr auto kFp4Values = [] {
  std::array<float, 16> t{};
  for (uint32_t c = 0; c < 16; ++c) t[c] = quant::fp4_value(c);
  return t;
}();

const std::array<float, 256>& e4m3_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) t[c] = e4m3_decode(static_cast<uint8_t>(c));
    return t;
  }();
  return table;
}

// ---- bit streams -----------------------------------------------------------------------

inline void put_code(uint32_t* row, int64_t i, int bits, uint32_t code) {
  int64_t pos = i * bits;
  int64_t word = pos >> 5;
  int off = static_cast<int>(pos & 31);
  row[word] |= code << off;
  if (off + bits > 32) row[word + 1] |= code >> (32 - off);
}

// The values (before scaling) of codes [first, first + n) of a row; first and n are
// multiples of the group size. Every 8 codes fill exactly `bits` bytes of the stream, so each
// run of 8 is one little-endian read of `bits` bytes and eight shifts.
void decode_values(const uint32_t* row, int64_t first, int64_t n, const QuantParams& p, float* dst) {
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(row);
  if (p.mode == QuantizationMode::Mxfp8) {
    const auto& t = e4m3_table();
    for (int64_t j = 0; j < n; ++j) dst[j] = t[bytes[first + j]];
    return;
  }
  if (p.bits == 4 && p.mode != QuantizationMode::Affine) {
    // e2m1: one table entry per byte gives both of its values.
    static const auto pairs = [] {
      std::array<std::array<float, 2>, 256> t{};
      for (int b = 0; b < 256; ++b) t[b] = {kFp4Values[b & 15], kFp4Values[b >> 4]};
      return t;
    }();
    const uint8_t* src = bytes + first / 2;
    for (int64_t j = 0; j < n / 2; ++j) std::memcpy(dst + 2 * j, pairs[src[j]].data(), 2 * sizeof(float));
    return;
  }
  auto run = [&](auto bits_tag, auto value) {
    constexpr int bits = decltype(bits_tag)::value;
    constexpr uint64_t mask = (uint64_t{1} << bits) - 1;
    const uint8_t* src = bytes + first * bits / 8;
    for (int64_t j = 0; j < n; j += 8, src += bits) {
      // Assembled from byte loads in registers (a partial memcpy into u would stall on
      // store-to-load forwarding); the compiler merges them into wide loads.
      uint64_t u = 0;
      for (int i = 0; i < bits; ++i) u |= uint64_t{src[i]} << (8 * i);
      for (int k = 0; k < 8; ++k) dst[j + k] = value(static_cast<uint32_t>((u >> (k * bits)) & mask));
    }
  };
  auto with_bits = [&](auto value) {
    switch (p.bits) {
      case 2: return run(std::integral_constant<int, 2>{}, value);
      case 3: return run(std::integral_constant<int, 3>{}, value);
      case 4: return run(std::integral_constant<int, 4>{}, value);
      case 5: return run(std::integral_constant<int, 5>{}, value);
      case 6: return run(std::integral_constant<int, 6>{}, value);
      default: return run(std::integral_constant<int, 8>{}, value);
    }
  };
  if (p.mode == QuantizationMode::Affine) with_bits([](uint32_t c) { return static_cast<float>(c); });
  else with_bits([](uint32_t c) { return kFp4Values[c]; });
}

// ---- layouts ---------------------------------------------------------------------------

bool is_row_major(const array& a) {
  int64_t expected = 1;
  for (int d = static_cast<int>(a.ndim()) - 1; d >= 0; --d) {
    if (a.shape()[d] != 1 && a.strides()[d] != expected) return false;
    expected *= a.shape()[d];
  }
  return true;
}

// `a` as a row-major array of dtype t (itself when it already is one).
array row_major(const array& a, Dtype t) {
  if (a.dtype() == t && is_row_major(a)) return a;
  array c(a.shape(), t, nullptr, {});
  allocate(c);
  copy_to(a, c, c.strides(), 0);
  return c;
}

// A float32 buffer to compute `out` in: out itself when it is float32, else a temporary
// that finish() converts into it.
struct Float32Out {
  array& out;
  array buf;
  explicit Float32Out(array& o) : out(o), buf(o) {
    allocate(out);
    if (out.dtype() != float32) {
      buf = array(out.shape(), float32, nullptr, {});
      allocate(buf);
    }
  }
  float* data() { return static_cast<float*>(buf.raw_data()); }
  void finish() {
    if (out.dtype() != float32) copy_to(buf, out, out.strides(), 0);
  }
};

template <typename T>
const T* ptr(const array& a) {
  return static_cast<const T*>(const_cast<array&>(a).raw_data());
}

// Group scales as float32 multipliers: affine scales converted; e8m0 / e4m3 codes decoded
// (nvfp4 times global_scale / (448 * 6) when there is one).
array scale_multipliers(const array& scales, const QuantParams& p, float global = 0.f) {
  if (p.mode == QuantizationMode::Affine) return row_major(scales, float32);
  array codes = row_major(scales, uint8);
  array m(scales.shape(), float32, nullptr, {});
  allocate(m);
  const uint8_t* c = ptr<uint8_t>(codes);
  float* d = static_cast<float*>(m.raw_data());
  // Through a table of the 256 codes: ldexp per scale would cost more than the product.
  float factor = quant::nvfp4_factor(global);
  std::array<float, 256> table;
  for (int i = 0; i < 256; ++i) table[i] = quant::fp_scale(uint8_t(i), p.mode == QuantizationMode::Nvfp4, factor);
  for (size_t i = 0; i < m.size(); ++i) d[i] = table[c[i]];
  return m;
}

// ---- vector helpers --------------------------------------------------------------------

#ifdef LAZULI_QUANT_X86
// LAZULI_QUANT_NO_SIMD=1 in the environment forces the portable kernels (the tests use it).
bool has_avx_fma() {
  static const bool yes = __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma") &&
                          std::getenv("LAZULI_QUANT_NO_SIMD") == nullptr;
  return yes;
}
__attribute__((target("avx,fma"))) float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// sum_k v[k] * x[k] * scale[group(k)] for a decoded row (group_size a multiple of 16): one
// vector accumulator per group, scaled into the total, one horizontal sum per row.
__attribute__((target("avx,fma"))) float row_dot_decoded_avx(const float* v, const float* x, const float* scales,
                                                            int64_t K, int group_size) {
  __m256 total = _mm256_setzero_ps();
  for (int64_t g0 = 0; g0 < K; g0 += group_size) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t j = g0; j < g0 + group_size; j += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + j), _mm256_loadu_ps(x + j), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + j + 8), _mm256_loadu_ps(x + j + 8), a1);
    }
    total = _mm256_fmadd_ps(_mm256_add_ps(a0, a1), _mm256_set1_ps(scales[g0 / group_size]), total);
  }
  return hsum256(total);
}
#else
bool has_avx_fma() { return false; }
#endif

float row_dot_decoded(const float* v, const float* x, const float* scales, int64_t K, int group_size) {
#ifdef LAZULI_QUANT_X86
  if (has_avx_fma()) return row_dot_decoded_avx(v, x, scales, K, group_size);
#endif
  float total = 0;
  for (int64_t g0 = 0; g0 < K; g0 += group_size) {
    float s[8] = {};
    for (int64_t j = g0; j < g0 + group_size; j += 8)
      for (int k = 0; k < 8; ++k) s[k] += v[j + k] * x[j + k];
    total += scales[g0 / group_size] * (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));
  }
  return total;
}

// codes[j] = clamp(rint((v[j] - bias) / scale), 0, n_bins): the affine codes of one group
// (n a multiple of 8). Division, not a reciprocal, so the codes match MLX's bit for bit.
void affine_codes_scalar(const float* v, int64_t n, float bias, float scale, float n_bins, uint32_t* codes) {
  for (int64_t j = 0; j < n; ++j) codes[j] = quant::affine_code(v[j], bias, scale, n_bins);
}
#ifdef LAZULI_QUANT_X86
__attribute__((target("avx,fma"))) void affine_codes_avx(const float* v, int64_t n, float bias, float scale,
                                                         float n_bins, uint32_t* codes) {
  __m256 b = _mm256_set1_ps(bias), s = _mm256_set1_ps(scale), top = _mm256_set1_ps(n_bins), zero = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; j += 8) {
    __m256 q = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(v + j), b), s);
    q = _mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // rint: ties to even
    q = _mm256_min_ps(_mm256_max_ps(q, zero), top);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + j), _mm256_cvttps_epi32(q));
  }
}
#endif
// (min, max) of n values (n a multiple of 8).
std::pair<float, float> min_max_scalar(const float* v, int64_t n) {
  float lo = INFINITY, hi = -INFINITY;
  for (int64_t j = 0; j < n; ++j) lo = std::min(lo, v[j]), hi = std::max(hi, v[j]);
  return {lo, hi};
}
#ifdef LAZULI_QUANT_X86
__attribute__((target("avx,fma"))) std::pair<float, float> min_max_avx(const float* v, int64_t n) {
  __m256 lo = _mm256_loadu_ps(v), hi = lo;
  for (int64_t j = 8; j < n; j += 8) {
    __m256 x = _mm256_loadu_ps(v + j);
    lo = _mm256_min_ps(lo, x), hi = _mm256_max_ps(hi, x);
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, lo), _mm256_store_ps(h, hi);
  return {*std::min_element(l, l + 8), *std::max_element(h, h + 8)};
}
#endif
std::pair<float, float> min_max(const float* v, int64_t n) {
#ifdef LAZULI_QUANT_X86
  if (has_avx_fma()) return min_max_avx(v, n);
#endif
  return min_max_scalar(v, n);
}

void affine_codes(const float* v, int64_t n, float bias, float scale, float n_bins, uint32_t* codes) {
#ifdef LAZULI_QUANT_X86
  if (has_avx_fma()) return affine_codes_avx(v, n, bias, scale, n_bins, codes);
#endif
  affine_codes_scalar(v, n, bias, scale, n_bins, codes);
}

// Writes n codes as elements [first, first + n) of a zeroed row; first * bits is a multiple
// of 32 (groups start on a word).
void pack_codes(const uint32_t* codes, int64_t n, int bits, uint32_t* row, int64_t first) {
  if (32 % bits == 0) {
    int per_word = 32 / bits;
    uint32_t* out = row + first * bits / 32;
    for (int64_t i = 0; i < n / per_word; ++i) {
      uint32_t word = 0;
      for (int k = 0; k < per_word; ++k) word |= codes[i * per_word + k] << (k * bits);
      out[i] = word;
    }
    return;
  }
  for (int64_t j = 0; j < n; ++j) put_code(row, first + j, bits, codes[j]);
}

// ---- one quantized matrix --------------------------------------------------------------

// `rows` packed rows of `len` values each (words_per_row words), with `len / group_size`
// float scales (and biases, affine only) per row.
struct QMatrix {
  const uint32_t* w;
  int64_t rows, len, words_per_row;
  const float* scales;
  const float* biases;  // null for the floating-point modes
  QuantParams p;
  int64_t groups() const { return len / p.group_size; }
};

#ifdef LAZULI_QUANT_X86
// Affine 4-bit rows in natural order: the two nibbles of each byte are split and interleaved
// back into bytes, widened to int32 and converted. s * q + b is rounded twice, as in MLX (AVX
// without FMA, so that the compiler cannot fuse the two).
__attribute__((target("avx"))) void dequantize_rows_4bit(const QMatrix& q, int64_t r0, int64_t r1, float* dst) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  int64_t K = q.len, G = q.groups(), gs = q.p.group_size;
  for (int64_t r = r0; r < r1; ++r) {
    const uint32_t* w = q.w + r * q.words_per_row;
    float* d = dst + (r - r0) * K;
    for (int64_t c = 0; c < K / 32; ++c) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 4 * c));
      __m128i lo = _mm_and_si128(v, low4), hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
      __m128i halves[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)};  // values 0-15, 16-31
      int64_t g = r * G + c * 32 / gs;
      __m256 sv = _mm256_set1_ps(q.scales[g]), bv = _mm256_set1_ps(q.biases[g]);
      for (int h = 0; h < 2; ++h)
        for (int e = 0; e < 2; ++e) {
          __m128i b0 = _mm_cvtepu8_epi32(_mm_srli_si128(halves[h], 8 * e));
          __m128i b1 = _mm_cvtepu8_epi32(_mm_srli_si128(halves[h], 8 * e + 4));
          __m256 f = _mm256_cvtepi32_ps(_mm256_set_m128i(b1, b0));
          _mm256_storeu_ps(d + 32 * c + 16 * h + 8 * e, _mm256_add_ps(_mm256_mul_ps(f, sv), bv));
        }
    }
  }
}
#endif

// Rows [r0, r1) dequantized into dst (row-major, len wide).
void dequantize_rows(const QMatrix& q, int64_t r0, int64_t r1, float* dst) {
#ifdef LAZULI_QUANT_X86
  if (has_avx_fma() && q.p.mode == QuantizationMode::Affine && q.p.bits == 4 && q.len % 32 == 0)
    return dequantize_rows_4bit(q, r0, r1, dst);
#endif
  int64_t gs = q.p.group_size, G = q.groups();
  for (int64_t r = r0; r < r1; ++r) {
    float* d = dst + (r - r0) * q.len;
    decode_values(q.w + r * q.words_per_row, 0, q.len, q.p, d);
    for (int64_t g = 0; g < G; ++g) {
      float s = q.scales[r * G + g], b = q.biases ? q.biases[r * G + g] : 0.f;
      for (int64_t j = 0; j < gs; ++j) d[g * gs + j] = quant::dequantized(d[g * gs + j], s, b);
    }
  }
}

// Up to this many rows of x take the GEMV path; more go through dequantize + sgemm, which
// measured faster from about a dozen rows on (its cost hardly grows with the rows).
constexpr int64_t kGemvRows = 8;

#ifdef LAZULI_QUANT_X86
// x rows rearranged for the 4-bit kernel: in each 64-value chunk, value 8l + p (word l,
// nibble p) moves to 8p + l, scaled by 2^(-8 * (p / 2)) to undo where the nibble is
// converted (nibbles 2j and 2j+1 are read at bit 8j, the odd ones after a 4-bit shift).
// (Unscaled, the same permutation serves the blocked path, whose dequantized rows come out in
// plane order.)
void nibble_planes(const float* x, int64_t K, float* xp, bool scaled = true) {
  for (int64_t c = 0; c < K; c += 64)
    for (int l = 0; l < 8; ++l)
      for (int p = 0; p < 8; ++p) xp[c + 8 * p + l] = scaled ? std::ldexp(x[c + 8 * l + p], -8 * (p / 2)) : x[c + 8 * l + p];
}

// The nibbles of `words` under `mask`, converted to float where they sit.
__attribute__((target("avx,fma"))) inline __m256 value(__m256 words, __m256 mask) {
  return _mm256_cvtepi32_ps(_mm256_castps_si256(_mm256_and_ps(words, mask)));
}

// sum_k x[k] * scale[group(k)] * q[k] over one row of 4-bit codes (K a multiple of 64).
__attribute__((target("avx,fma"))) float row_dot_4bit(const uint32_t* w, const float* xp, const float* scales,
                                                     int64_t K, int group_size) {
  const __m256 m0 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF));
  const __m256 m1 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF00));
  const __m256 m2 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF0000));
  const __m256 m3 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF000000));
  __m256 total = _mm256_setzero_ps();
  for (int64_t c = 0; c < K / 64; ++c) {
    __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c));
    __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c + 4));
    __m256 a = _mm256_castsi256_ps(_mm256_set_m128i(hi, lo));
    __m256 b = _mm256_castsi256_ps(_mm256_set_m128i(_mm_srli_epi32(hi, 4), _mm_srli_epi32(lo, 4)));
    const float* xc = xp + 64 * c;
    __m256 acc0 = _mm256_mul_ps(value(a, m0), _mm256_loadu_ps(xc));
    __m256 acc1 = _mm256_mul_ps(value(b, m0), _mm256_loadu_ps(xc + 8));
    acc0 = _mm256_fmadd_ps(value(a, m1), _mm256_loadu_ps(xc + 16), acc0);
    acc1 = _mm256_fmadd_ps(value(b, m1), _mm256_loadu_ps(xc + 24), acc1);
    acc0 = _mm256_fmadd_ps(value(a, m2), _mm256_loadu_ps(xc + 32), acc0);
    acc1 = _mm256_fmadd_ps(value(b, m2), _mm256_loadu_ps(xc + 40), acc1);
    acc0 = _mm256_fmadd_ps(value(a, m3), _mm256_loadu_ps(xc + 48), acc0);
    acc1 = _mm256_fmadd_ps(value(b, m3), _mm256_loadu_ps(xc + 56), acc1);
    // Lane l holds word l of the chunk: with groups of 32 the low four lanes are one group.
    __m256 sv = group_size == 32 ? _mm256_set_m128(_mm_set1_ps(scales[2 * c + 1]), _mm_set1_ps(scales[2 * c]))
                                 : _mm256_set1_ps(scales[c * 64 / group_size]);
    total = _mm256_fmadd_ps(_mm256_add_ps(acc0, acc1), sv, total);
  }
  return hsum256(total);
}

// The 4-bit dots of one row of w with T rows of x (planes, ldx apart) at once: each chunk is
// decoded and scaled once, then meets every x row, so the decoding is shared.
template <int T>
__attribute__((target("avx,fma"))) void row_dot_4bit_tile(const uint32_t* w, const float* xp, int64_t ldx,
                                                         const float* scales, int64_t K, int group_size,
                                                         float* result) {
  const __m256 m0 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF));
  const __m256 m1 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF00));
  const __m256 m2 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF0000));
  const __m256 m3 = _mm256_castsi256_ps(_mm256_set1_epi32(0xF000000));
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t c = 0; c < K / 64; ++c) {
    __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c));
    __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c + 4));
    __m256 a = _mm256_castsi256_ps(_mm256_set_m128i(hi, lo));
    __m256 b = _mm256_castsi256_ps(_mm256_set_m128i(_mm_srli_epi32(hi, 4), _mm_srli_epi32(lo, 4)));
    __m256 sv = group_size == 32 ? _mm256_set_m128(_mm_set1_ps(scales[2 * c + 1]), _mm_set1_ps(scales[2 * c]))
                                 : _mm256_set1_ps(scales[c * 64 / group_size]);
    __m256 d[8] = {_mm256_mul_ps(value(a, m0), sv), _mm256_mul_ps(value(b, m0), sv),
                   _mm256_mul_ps(value(a, m1), sv), _mm256_mul_ps(value(b, m1), sv),
                   _mm256_mul_ps(value(a, m2), sv), _mm256_mul_ps(value(b, m2), sv),
                   _mm256_mul_ps(value(a, m3), sv), _mm256_mul_ps(value(b, m3), sv)};
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const float* xc = xp + t * ldx + 64 * c;
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) acc[t] = _mm256_fmadd_ps(d[p], _mm256_loadu_ps(xc + 8 * p), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) result[t] = hsum256(acc[t]);
}

// The 4-bit dots of one row of w with M rows of x, four at a time.
void rows_dot_4bit(const uint32_t* w, const float* xp, int64_t M, const float* scales, int64_t K, int group_size,
                   float* result) {
  for (int64_t m = 0; m < M; m += 4) {
    const float* x = xp + m * K;
    switch (std::min<int64_t>(4, M - m)) {
      case 4: row_dot_4bit_tile<4>(w, x, K, scales, K, group_size, result + m); break;
      case 3: row_dot_4bit_tile<3>(w, x, K, scales, K, group_size, result + m); break;
      case 2: row_dot_4bit_tile<2>(w, x, K, scales, K, group_size, result + m); break;
      default: result[m] = row_dot_4bit(w, x, scales, K, group_size);
    }
  }
}

// sum_k x[k] * scale[group(k)] * q[k] over one row of 8-bit codes: bytes widened to int32 and
// converted, eight at a time.
__attribute__((target("avx,fma"))) float row_dot_8bit(const uint32_t* w, const float* x, const float* scales,
                                                     int64_t K, int group_size) {
  const uint8_t* b = reinterpret_cast<const uint8_t*>(w);
  __m256 total = _mm256_setzero_ps();
  for (int64_t g0 = 0; g0 < K; g0 += group_size) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t j = g0; j < g0 + group_size; j += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j));
      __m256 f0 = _mm256_cvtepi32_ps(_mm256_set_m128i(_mm_cvtepu8_epi32(_mm_srli_si128(v, 4)), _mm_cvtepu8_epi32(v)));
      __m256 f1 = _mm256_cvtepi32_ps(
          _mm256_set_m128i(_mm_cvtepu8_epi32(_mm_srli_si128(v, 12)), _mm_cvtepu8_epi32(_mm_srli_si128(v, 8))));
      a0 = _mm256_fmadd_ps(f0, _mm256_loadu_ps(x + j), a0);
      a1 = _mm256_fmadd_ps(f1, _mm256_loadu_ps(x + j + 8), a1);
    }
    total = _mm256_fmadd_ps(_mm256_add_ps(a0, a1), _mm256_set1_ps(scales[g0 / group_size]), total);
  }
  return hsum256(total);
}

// e2m1 nibble P of each word as float32 bits scaled by 2^-126: the three magnitude bits land
// at bits 22-24 (exponent = the e2m1 exponent, mantissa bit 22; exponent 0 reads as a
// subnormal, which is e2m1's subnormal too) and the sign bit at bit 31.
template <int P>
__attribute__((target("avx,fma"))) inline __m128i fp4_float_bits(__m128i w) {
  constexpr int up = 22 - 4 * P;
  __m128i mag;
  if constexpr (up >= 0) mag = _mm_slli_epi32(w, up);
  else mag = _mm_srli_epi32(w, -up);
  mag = _mm_and_si128(mag, _mm_set1_epi32(7 << 22));
  __m128i sign = _mm_and_si128(_mm_slli_epi32(w, 28 - 4 * P), _mm_set1_epi32(static_cast<int>(0x80000000u)));
  return _mm_or_si128(mag, sign);
}
template <int P>
__attribute__((target("avx,fma"))) inline __m256 fp4_plane(__m128i lo, __m128i hi) {
  __m256 v = _mm256_castsi256_ps(_mm256_set_m128i(fp4_float_bits<P>(hi), fp4_float_bits<P>(lo)));
  return _mm256_mul_ps(v, _mm256_set1_ps(0x1p126f));  // exact: scales a power of two back
}

// sum_k x[k] * scale[group(k)] * e2m1[k] over one row of mxfp4 / nvfp4 codes (K a multiple of
// 64), x in (unscaled) nibble-plane order. Lane l of a chunk holds word l: 8 values.
__attribute__((target("avx,fma"))) float row_dot_fp4(const uint32_t* w, const float* xp, const float* scales,
                                                    int64_t K, int group_size) {
  __m256 total = _mm256_setzero_ps();
  for (int64_t c = 0; c < K / 64; ++c) {
    __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c));
    __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c + 4));
    const float* xc = xp + 64 * c;
    __m256 acc0 = _mm256_mul_ps(fp4_plane<0>(lo, hi), _mm256_loadu_ps(xc));
    __m256 acc1 = _mm256_mul_ps(fp4_plane<1>(lo, hi), _mm256_loadu_ps(xc + 8));
    acc0 = _mm256_fmadd_ps(fp4_plane<2>(lo, hi), _mm256_loadu_ps(xc + 16), acc0);
    acc1 = _mm256_fmadd_ps(fp4_plane<3>(lo, hi), _mm256_loadu_ps(xc + 24), acc1);
    acc0 = _mm256_fmadd_ps(fp4_plane<4>(lo, hi), _mm256_loadu_ps(xc + 32), acc0);
    acc1 = _mm256_fmadd_ps(fp4_plane<5>(lo, hi), _mm256_loadu_ps(xc + 40), acc1);
    acc0 = _mm256_fmadd_ps(fp4_plane<6>(lo, hi), _mm256_loadu_ps(xc + 48), acc0);
    acc1 = _mm256_fmadd_ps(fp4_plane<7>(lo, hi), _mm256_loadu_ps(xc + 56), acc1);
    const float* s = scales + c * 64 / group_size;
    __m256 sv = group_size == 16 ? _mm256_set_ps(s[3], s[3], s[2], s[2], s[1], s[1], s[0], s[0])
              : group_size == 32 ? _mm256_set_m128(_mm_set1_ps(s[1]), _mm_set1_ps(s[0]))
                                 : _mm256_set1_ps(s[0]);
    total = _mm256_fmadd_ps(_mm256_add_ps(acc0, acc1), sv, total);
  }
  return hsum256(total);
}

// Rows [r0, r1) of affine 4-bit codes dequantized in nibble-plane order (value 8l + p of each
// 64-value chunk lands at 8p + l): the masked codes convert in place, and the plane's power of
// two folds into its scale.
__attribute__((target("avx,fma"))) void dequantize_rows_4bit_planes(const QMatrix& q, int64_t r0, int64_t r1,
                                                                   float* dst) {
  const __m256 masks[4] = {_mm256_castsi256_ps(_mm256_set1_epi32(0xF)), _mm256_castsi256_ps(_mm256_set1_epi32(0xF00)),
                           _mm256_castsi256_ps(_mm256_set1_epi32(0xF0000)),
                           _mm256_castsi256_ps(_mm256_set1_epi32(0xF000000))};
  int64_t K = q.len, G = q.groups(), gs = q.p.group_size;
  for (int64_t r = r0; r < r1; ++r) {
    const uint32_t* w = q.w + r * q.words_per_row;
    const float* sc = q.scales + r * G;
    const float* bi = q.biases + r * G;
    float* d = dst + (r - r0) * K;
    for (int64_t c = 0; c < K / 64; ++c) {
      __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c));
      __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * c + 4));
      __m256 a = _mm256_castsi256_ps(_mm256_set_m128i(hi, lo));
      __m256 b = _mm256_castsi256_ps(_mm256_set_m128i(_mm_srli_epi32(hi, 4), _mm_srli_epi32(lo, 4)));
      __m256 sv, bv;
      if (gs == 32) {
        sv = _mm256_set_m128(_mm_set1_ps(sc[2 * c + 1]), _mm_set1_ps(sc[2 * c]));
        bv = _mm256_set_m128(_mm_set1_ps(bi[2 * c + 1]), _mm_set1_ps(bi[2 * c]));
      } else {
        sv = _mm256_set1_ps(sc[c * 64 / gs]);
        bv = _mm256_set1_ps(bi[c * 64 / gs]);
      }
      float* dc = d + 64 * c;
      for (int j = 0; j < 4; ++j) {
        __m256 sj = _mm256_mul_ps(sv, _mm256_set1_ps(std::ldexp(1.f, -8 * j)));
        _mm256_storeu_ps(dc + 16 * j, _mm256_fmadd_ps(value(a, masks[j]), sj, bv));
        _mm256_storeu_ps(dc + 16 * j + 8, _mm256_fmadd_ps(value(b, masks[j]), sj, bv));
      }
    }
  }
}

#endif  // LAZULI_QUANT_X86

// out (M x rows) = x (M x len) @ dequantized(q)^T, for small M.
void gemv_t(const QMatrix& q, const float* x, int64_t M, float* out) {
  int64_t K = q.len, gs = q.p.group_size, G = q.groups(), N = q.rows;
  // Group sums of x for the bias term.
  std::vector<float> xsum(M * G);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t g = 0; g < G; ++g) {
      float s = 0;
      for (int64_t j = 0; j < gs; ++j) s += x[m * K + g * gs + j];
      xsum[m * G + g] = s;
    }
  // Affine 4- and 8-bit rows have a kernel that keeps the codes in registers (the 4-bit one
  // reads x in nibble-plane order); the others decode a group at a time and dot it.
  using RowDot = float (*)(const uint32_t*, const float*, const float*, int64_t, int);
  RowDot row_dot = nullptr;
  [[maybe_unused]] bool multi4 = false;  // affine 4-bit with several rows of x: rows_dot_4bit
  const float* xs = x;
  std::vector<float> planes;
#ifdef LAZULI_QUANT_X86
  bool affine = q.p.mode == QuantizationMode::Affine;
  if (has_avx_fma() && affine && q.p.bits == 4 && K % 64 == 0) {
    row_dot = row_dot_4bit;
    multi4 = M > 1;
    planes.resize(M * K);
    for (int64_t m = 0; m < M; ++m) nibble_planes(x + m * K, K, planes.data() + m * K);
    xs = planes.data();
  } else if (has_avx_fma() && affine && q.p.bits == 8) {
    row_dot = row_dot_8bit;
  } else if (has_avx_fma() && !affine && q.p.bits == 4 && K % 64 == 0) {
    row_dot = row_dot_fp4;
    planes.resize(M * K);
    for (int64_t m = 0; m < M; ++m) nibble_planes(x + m * K, K, planes.data() + m * K, false);
    xs = planes.data();
  }
#endif
  parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(K, 1)), [&](int64_t n0, int64_t n1) {
    std::vector<float> decoded(row_dot ? 0 : K), dots(M);
    for (int64_t n = n0; n < n1; ++n) {
      const uint32_t* wr = q.w + n * q.words_per_row;
      const float* sc = q.scales + n * G;
      const float* bi = q.biases ? q.biases + n * G : nullptr;
#ifdef LAZULI_QUANT_X86
      if (multi4) {
        rows_dot_4bit(wr, xs, M, sc, K, static_cast<int>(gs), dots.data());
        for (int64_t m = 0; m < M; ++m) {
          float bias_part = 0;
          for (int64_t g = 0; g < G; ++g) bias_part += bi[g] * xsum[m * G + g];
          out[m * N + n] = dots[m] + bias_part;
        }
        continue;
      }
#endif
      if (row_dot) {
        for (int64_t m = 0; m < M; ++m) {
          float bias_part = 0;
          if (bi)
            for (int64_t g = 0; g < G; ++g) bias_part += bi[g] * xsum[m * G + g];
          out[m * N + n] = row_dot(wr, xs + m * K, sc, K, static_cast<int>(gs)) + bias_part;
        }
        continue;
      }
      // The row decoded once (it stays in L1) and dotted with each row of x.
      decode_values(wr, 0, K, q.p, decoded.data());
      for (int64_t m = 0; m < M; ++m) {
        float bias_part = 0;
        if (bi)
          for (int64_t g = 0; g < G; ++g) bias_part += bi[g] * xsum[m * G + g];
        out[m * N + n] = row_dot_decoded(decoded.data(), x + m * K, sc, K, static_cast<int>(gs)) + bias_part;
      }
    }
  });
}

// out (M x N) = x (M x K) @ W^T (transpose, q holds N rows of K) or x @ W (q holds K rows of N).
void qmm(const QMatrix& q, const float* x, int64_t M, bool transpose, float* out) {
  int64_t K = transpose ? q.len : q.rows, N = transpose ? q.rows : q.len;
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(out, out + M * N, 0.f);
    return;
  }
  if (transpose && M <= kGemvRows) return gemv_t(q, x, M, out);
  // Dequantize about 4 MB of w at a time (in parallel) and hand each block to sgemm. Affine
  // 4-bit rows dequantize fastest in nibble-plane order; x's columns are permuted to match
  // (a dot product does not care about the order of its terms).
  [[maybe_unused]] bool planes = false;
  std::vector<float> xperm;
#ifdef LAZULI_QUANT_X86
  planes = transpose && has_avx_fma() && q.p.mode == QuantizationMode::Affine && q.p.bits == 4 && K % 64 == 0;
  if (planes) {
    xperm.resize(M * K);
    for (int64_t m = 0; m < M; ++m) nibble_planes(x + m * K, K, xperm.data() + m * K, false);
    x = xperm.data();
  }
#endif
  int64_t block = std::max<int64_t>(1, (int64_t{1} << 20) / q.len);
  block = std::min(block, q.rows);
  std::vector<float> buf(block * q.len);
  for (int64_t r0 = 0; r0 < q.rows; r0 += block) {
    int64_t r1 = std::min(q.rows, r0 + block), nr = r1 - r0;
    parallel_for(nr, std::max<int64_t>(1, kGrain / q.len), [&](int64_t b, int64_t e) {
#ifdef LAZULI_QUANT_X86
      if (planes) return dequantize_rows_4bit_planes(q, r0 + b, r0 + e, buf.data() + b * q.len);
#endif
      dequantize_rows(q, r0 + b, r0 + e, buf.data() + b * q.len);
    });
    if (transpose) {  // out[:, r0:r1] = x @ block^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, nr, K, 1.f, x, K, buf.data(), K, 0.f, out + r0, N);
    } else {  // out += x[:, r0:r1] @ block
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, nr, 1.f, x + r0, K, buf.data(), N,
                  r0 == 0 ? 0.f : 1.f, out, N);
    }
  }
}

// w with its last two axes row-major (batch axes may be strided or broadcast).
array rows_dense(const array& w) {
  int nd = static_cast<int>(w.ndim());
  bool ok = (w.strides()[nd - 1] == 1 || w.shape()[nd - 1] == 1) &&
            (w.strides()[nd - 2] == w.shape()[nd - 1] || w.shape()[nd - 2] == 1);
  return ok ? w : row_major(w, uint32);
}

// The packed weights, scales and biases of a QuantizedMatmul / GatherQMM, ready for qmm().
struct Weights {
  array w, scales, biases;
  std::vector<int64_t> w_offsets;
  int64_t rows, len, words, groups;
  QuantParams p;
  Weights(const std::vector<array>& inputs, const QuantParams& params)
      : w(rows_dense(inputs[1])), scales(scale_multipliers(inputs[2], params)), biases(scales), p(params) {
    bool aff = p.mode == QuantizationMode::Affine;
    if (aff) biases = row_major(inputs[3], float32);
    w_offsets = batch_offsets(w);
    rows = w.shape(-2), words = w.shape(-1), len = words * 32 / p.bits, groups = len / p.group_size;
  }
  size_t count() const { return w_offsets.size(); }
  QMatrix matrix(size_t i) const {
    bool aff = p.mode == QuantizationMode::Affine;
    const float* s = ptr<float>(scales) + i * rows * groups;
    const float* b = aff ? ptr<float>(biases) + i * rows * groups : nullptr;
    return QMatrix{ptr<uint32_t>(w) + w_offsets[i], rows, len, words, s, b, p};
  }
};

}  // namespace

// ---- primitives ------------------------------------------------------------------------

void Quantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array w = row_major(inputs[0], float32);
  float global = inputs.size() > 1 ? *ptr<float>(row_major(inputs[1], float32)) : 0.f;
  bool aff = p_.mode == QuantizationMode::Affine;
  int64_t K = w.shape(-1), gs = p_.group_size, G = K / gs, bits = p_.bits;
  int64_t rows = K ? static_cast<int64_t>(w.size()) / K : 0, words = K * bits / 32;
  allocate(outputs[0]);
  uint32_t* wq = static_cast<uint32_t*>(outputs[0].raw_data());
  std::fill(wq, wq + rows * words, 0u);
  std::optional<Float32Out> scales, biases;
  uint8_t* scale_codes = nullptr;
  if (aff) {
    scales.emplace(outputs[1]);
    biases.emplace(outputs[2]);
  } else {
    allocate(outputs[1]);
    scale_codes = static_cast<uint8_t*>(outputs[1].raw_data());
  }
  const float* src = ptr<float>(w);
  float n_bins = static_cast<float>((1 << bits) - 1);
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      uint32_t* row = wq + r * words;
      for (int64_t g = 0; g < G; ++g) {
        const float* v = src + r * K + g * gs;
        int64_t first = g * gs;
        if (aff) {
          // MLX's affine rule: the end of the range with the larger magnitude is represented
          // exactly (it is the bias, and the scale is adjusted to hit it with a whole code).
          auto [lo, hi] = min_max(v, gs);
          auto [scale, bias] = quant::affine_group(lo, hi, n_bins);
          uint32_t codes[128];
          affine_codes(v, gs, bias, scale, n_bins, codes);
          pack_codes(codes, gs, static_cast<int>(bits), row, first);
          scales->data()[r * G + g] = scale;
          biases->data()[r * G + g] = bias;
          continue;
        }
        float amax = 0;
        for (int64_t j = 0; j < gs; ++j) amax = std::max(amax, std::fabs(v[j]));
        auto [code, scale] = p_.mode == QuantizationMode::Nvfp4 ? quant::nvfp4_group(amax, global)
                                                               : quant::mx_group(amax, static_cast<int>(bits));
        scale_codes[r * G + g] = code;
        for (int64_t j = 0; j < gs; ++j) {
          float u = scale != 0.f ? v[j] / scale : 0.f;
          put_code(row, first + j, static_cast<int>(bits), quant::fp_code(u, static_cast<int>(bits)));
        }
      }
    }
  });
  if (scales) scales->finish(), biases->finish();
}

void Dequantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  bool aff = p_.mode == QuantizationMode::Affine;
  float global = (!aff && inputs.size() > 2) ? *ptr<float>(row_major(inputs[2], float32)) : 0.f;
  array w = row_major(inputs[0], uint32);
  array s = scale_multipliers(inputs[1], p_, global);
  array b = aff ? row_major(inputs[2], float32) : s;
  int64_t words = w.shape(-1), len = words * 32 / p_.bits;
  int64_t rows = words ? static_cast<int64_t>(w.size()) / words : 0;
  QMatrix q{ptr<uint32_t>(w), rows, len, words, ptr<float>(s), aff ? ptr<float>(b) : nullptr, p_};
  Float32Out out(outputs[0]);
  float* d = out.data();
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)),
               [&](int64_t r0, int64_t r1) { dequantize_rows(q, r0, r1, d + r0 * len); });
  out.finish();
}

void QuantizedMatmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = row_major(inputs[0], float32);
  Weights wt(inputs, p_);
  Float32Out out(outputs[0]);
  int64_t K = x.shape(-1), N = outputs[0].shape(-1);
  int64_t x_rows = K ? static_cast<int64_t>(x.size()) / K : static_cast<int64_t>(outputs[0].size()) / std::max<int64_t>(N, 1);
  if (wt.count() == 1) {
    // One weight matrix: every row of x (all batch axes) is one more row of the product.
    qmm(wt.matrix(0), ptr<float>(x), x_rows, transpose_, out.data());
  } else {
    int64_t M = x.shape(-2);
    for (size_t i = 0; i < wt.count(); ++i)
      qmm(wt.matrix(i), ptr<float>(x) + i * M * K, M, transpose_, out.data() + i * M * N);
  }
  out.finish();
}

void GatherQMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  size_t n = inputs.size();
  array x = row_major(inputs[0], float32);
  array lhs = row_major(inputs[n - 2], uint32), rhs = row_major(inputs[n - 1], uint32);
  Weights wt(inputs, p_);
  Float32Out out(outputs[0]);
  int64_t M = x.shape(-2), K = x.shape(-1), N = outputs[0].shape(-1);
  int64_t x_count = M * K != 0 ? static_cast<int64_t>(x.size()) / (M * K) : 0;
  const uint32_t* li = ptr<uint32_t>(lhs);
  const uint32_t* ri = ptr<uint32_t>(rhs);
  for (size_t i = 0; i < lhs.size(); ++i) {
    check_gather_qmm_indices(li[i], ri[i], x_count, M * K == 0, wt.count());
    qmm(wt.matrix(ri[i]), ptr<float>(x) + li[i] * M * K, M, transpose_, out.data() + i * M * N);
  }
  out.finish();
}

void ToFP8::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = row_major(inputs[0], float32);
  allocate(outputs[0]);
  const float* s = ptr<float>(x);
  uint8_t* d = static_cast<uint8_t*>(outputs[0].raw_data());
  parallel_for(static_cast<int64_t>(x.size()), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] = e4m3_encode(s[i]);
  });
}

void FromFP8::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = row_major(inputs[0], uint8);
  Float32Out out(outputs[0]);
  const uint8_t* s = ptr<uint8_t>(x);
  float* d = out.data();
  const auto& t = e4m3_table();
  parallel_for(static_cast<int64_t>(x.size()), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] = t[s[i]];
  });
  out.finish();
}

}  // namespace lazuli
