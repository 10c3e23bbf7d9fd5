// 16-bit floating-point storage types. Arithmetic happens in float: each op converts in,
// computes, and rounds back, which is what NumPy and MLX do for these types on CPUs.
#pragma once
#include <cstdint>
#include <cstring>

namespace lazuli {

namespace detail {
inline uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float u2f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
}  // namespace detail

struct float16_t {
  uint16_t bits = 0;
  float16_t() = default;
  float16_t(float f) : bits(from_float(f)) {}
  float16_t(double d) : float16_t(static_cast<float>(d)) {}
  template <typename T, typename = decltype(static_cast<float>(T{}))>
  float16_t(T v) : float16_t(static_cast<float>(v)) {}
  operator float() const { return to_float(bits); }
  static float16_t from_bits(uint16_t b) { float16_t h; h.bits = b; return h; }

  static uint16_t from_float(float f) {
    // Round to nearest even, with overflow to inf and gradual underflow to subnormals.
    uint32_t x = detail::f2u(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (ax >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504
    if (ax < 0x38800000u) {                        // subnormal half (or zero)
      float v = detail::u2f(ax) + 0.5f;            // align mantissa, FPU rounds
      return sign | static_cast<uint16_t>(detail::f2u(v) - detail::f2u(0.5f));
    }
    uint32_t odd = (ax >> 13) & 1u;
    ax += 0xc8000fffu + odd;  // rebias exponent (-112 << 23) and round
    return sign | static_cast<uint16_t>(ax >> 13);
  }
  static float to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) return detail::u2f(sign | 0x7f800000u | (em & 0x3ffu) << 13);
    if (em < 0x0400u) return detail::u2f(sign) + (sign ? -1.f : 1.f) * em * 5.9604644775390625e-8f;
    return detail::u2f(sign | ((em << 13) + 0x38000000u));
  }
};

struct bfloat16_t {
  uint16_t bits = 0;
  bfloat16_t() = default;
  bfloat16_t(float f) : bits(from_float(f)) {}
  bfloat16_t(double d) : bfloat16_t(static_cast<float>(d)) {}
  template <typename T, typename = decltype(static_cast<float>(T{}))>
  bfloat16_t(T v) : bfloat16_t(static_cast<float>(v)) {}
  operator float() const { return detail::u2f(static_cast<uint32_t>(bits) << 16); }
  static bfloat16_t from_bits(uint16_t b) { bfloat16_t h; h.bits = b; return h; }
  static uint16_t from_float(float f) {
    uint32_t x = detail::f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
    return static_cast<uint16_t>(x >> 16);
  }
};

}  // namespace lazuli
