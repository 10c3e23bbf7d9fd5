// The scalar rules of the quantization formats (lazuli/quantized.h), written once for the
// CPU kernels and the CUDA kernels: value codes, scale codes and the per-group parameters.
// Every rounding here is explicit, so both backends produce the same bits.
#pragma once
#include <cmath>
#include <cstdint>

#include "lazuli/backend/common/math.h"  // LAZULI_HD

namespace lazuli::quant {

// e2m1 (fp4) code -> value: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives (code 8 is -0).
LAZULI_HD constexpr float fp4_value(uint32_t code) {
  uint32_t m = code & 7;
  float mag = m < 2 ? 0.5f * static_cast<float>(m)
                    : (1.f + 0.5f * static_cast<float>(m & 1)) * static_cast<float>(1u << ((m >> 1) - 1));
  return (code & 8) ? -mag : mag;
}

// The e2m1 code nearest to v; ties go to the smaller magnitude and a zero result is +0 (the
// first entry of the value table wins, as in MLX's argmin over it).
LAZULI_HD inline uint8_t fp4_encode(float v) {
  float a = std::fabs(v);
  if (a != a) return 0;
  uint8_t m = a <= 0.25f ? 0 : a <= 0.75f ? 1 : a <= 1.25f ? 2 : a <= 1.75f ? 3
            : a <= 2.5f  ? 4 : a <= 3.5f  ? 5 : a <= 5.f   ? 6 : 7;
  return (m != 0 && v < 0) ? static_cast<uint8_t>(m | 8) : m;
}

// e4m3 (bias 7, 3 mantissa bits). Like MLX, 0x7F/0xFF decode as +-480 rather than NaN.
LAZULI_HD inline float e4m3_decode(uint8_t code) {
  int e = (code >> 3) & 0xF, m = code & 7;
  float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(static_cast<float>(8 + m), e - 10);
  return (code & 0x80) ? -mag : mag;
}

// Nearest e4m3 code, ties to even; magnitudes from 464 up (and infinities, NaN) saturate to
// 448, keeping the sign, as MLX does.
LAZULI_HD inline uint8_t e4m3_encode(float x) {
  uint8_t sign = std::signbit(x) ? 0x80 : 0;
  float a = std::fabs(x);
  if (!(a < 464.f)) return sign | 0x7E;
  int code;
  if (a < 0x1p-6f) {
    code = static_cast<int>(std::nearbyint(a * 512.f));  // subnormals: units of 2^-9
  } else {
    int ex;
    std::frexp(a, &ex);
    int e = ex - 1;  // a in [2^e, 2^(e+1)); a mantissa that rounds up to 16 carries into e
    code = ((e + 7) << 3) + (static_cast<int>(std::nearbyint(std::ldexp(a, 3 - e))) - 8);
  }
  return static_cast<uint8_t>(sign | code);
}

// e8m0: 2^(code - 127); code 0 is 2^-127 (MLX's reading).
LAZULI_HD inline float e8m0_decode(uint8_t code) { return code == 0 ? 0x1p-127f : std::ldexp(1.f, int(code) - 127); }

// The multiplier a floating-point mode's scale code stands for: e8m0 (mxfp4, mxfp8) or e4m3
// times `factor` (nvfp4: global_scale / (448 * 6) when there is a global scale, else 1).
LAZULI_HD inline float fp_scale(uint8_t code, bool nvfp4, float factor) {
  return nvfp4 ? e4m3_decode(code) * factor : e8m0_decode(code);
}
// nvfp4's factor from the tensor-wide global scale (0 or less: none).
LAZULI_HD inline float nvfp4_factor(float global) { return global > 0.f ? global / (448.f * 6.f) : 1.f; }

// A dequantized value: code value times scale plus bias, rounded after the product and after
// the sum (no fused multiply-add, as in MLX), so every backend gives the same bits.
LAZULI_HD inline float dequantized(float value, float scale, float bias) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(__fmul_rn(value, scale), bias);
#else
  float product = value * scale;  // the CPU build does not contract (-ffp-contract=off)
  return product + bias;
#endif
}

// MLX's affine rule for a group with minimum lo and maximum hi: the end of the range with the
// larger magnitude is represented exactly (it is the bias, and the scale is adjusted to hit
// it with a whole code).
// std::max / std::min (NaN in the first argument passes through), usable on the device.
LAZULI_HD inline float max_of(float a, float b) { return a < b ? b : a; }
LAZULI_HD inline float min_of(float a, float b) { return b < a ? b : a; }

struct AffineGroup {
  float scale, bias;
};
LAZULI_HD inline AffineGroup affine_group(float lo, float hi, float n_bins) {
  bool low_edge = std::fabs(lo) > std::fabs(hi);
  float scale = max_of((hi - lo) / n_bins, 1e-7f);
  scale = low_edge ? scale : -scale;
  float edge = low_edge ? lo : hi;
  float q0 = std::rint(edge / scale);
  float bias = 0;
  if (q0 != 0) scale = edge / q0, bias = edge;
  return {scale, bias};
}
// The affine code of v: clamp(rint((v - bias) / scale), 0, n_bins). Division, not a
// reciprocal, so the codes match MLX's bit for bit.
LAZULI_HD inline uint32_t affine_code(float v, float bias, float scale, float n_bins) {
  float q = std::rint((v - bias) / scale);
  return static_cast<uint32_t>(min_of(max_of(q, 0.f), n_bins));
}

// A floating-point mode's scale for a group whose largest magnitude is amax: its code and
// the multiplier the values are divided by.
struct FpGroup {
  uint8_t code;
  float scale;
};
// nvfp4: an e4m3 scale of amax / 6, taken relative to global_scale / (448 * 6) when given.
LAZULI_HD inline FpGroup nvfp4_group(float amax, float global) {
  float encode = global > 0.f ? 448.f * 6.f / global : 1.f;
  uint8_t code = e4m3_encode(amax / 6.f * encode);
  return {code, e4m3_decode(code) / encode};
}
// mxfp4 / mxfp8: an e8m0 scale, amax / max_value rounded up to a power of two so that no
// value of the group saturates (MLX 0.29.3 truncates log2 toward zero instead).
LAZULI_HD inline FpGroup mx_group(float amax, int bits) {
  float s = amax / (bits == 4 ? 6.f : 448.f);
  int e = 0;
  if (s > 0.f) {
    float f = std::frexp(s, &e);  // s = f * 2^e, f in [0.5, 1)
    if (f == 0.5f) e -= 1;
  }
  return {static_cast<uint8_t>(e + 127), std::ldexp(1.f, e)};
}
// The code of v (already divided by its group's scale) in a floating-point mode.
LAZULI_HD inline uint32_t fp_code(float u, int bits) { return bits == 4 ? fp4_encode(u) : e4m3_encode(u); }

}  // namespace lazuli::quant
