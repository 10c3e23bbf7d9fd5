// Value conversion between element types, written once for every backend.
#pragma once
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "lazuli/backend/common/math.h"  // float_to_int
#include "lazuli/dtype.h"

namespace lazuli {

template <typename T> struct is_complex_type : std::false_type {};
template <> struct is_complex_type<complex64_t> : std::true_type {};
template <typename T> struct is_half_type : std::false_type {};
template <> struct is_half_type<float16_t> : std::true_type {};
template <> struct is_half_type<bfloat16_t> : std::true_type {};

template <typename To, typename From>
inline To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_complex_type<From>::value) {
    if constexpr (is_complex_type<To>::value) return v;
    else if constexpr (std::is_same_v<To, bool>) return v != From(0);
    else return cast_value<To>(v.real());
  } else if constexpr (is_half_type<From>::value) {
    return cast_value<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (is_complex_type<To>::value) {
    return To(static_cast<float>(v), 0.f);
  } else if constexpr (is_half_type<To>::value) {
    return To(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return math::float_to_int<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace lazuli
