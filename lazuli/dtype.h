// Element types, their categories and NumPy/MLX type promotion.
#pragma once
#include <complex>
#include <cstdint>
#include <string>

#include "lazuli/half.h"

namespace lazuli {

using complex64_t = std::complex<float>;

struct Dtype {
  enum class Val : uint8_t {
    bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
    float16, float32, float64, bfloat16, complex64,
  };
  enum class Kind : char { b = 'b', u = 'u', i = 'i', f = 'f', V = 'V', c = 'c' };

  Val val;
  uint8_t size;  // bytes per element
  constexpr Dtype(Val v, uint8_t s) : val(v), size(s) {}
  constexpr operator Val() const { return val; }
};

inline constexpr Dtype bool_{Dtype::Val::bool_, 1};
inline constexpr Dtype uint8{Dtype::Val::uint8, 1};
inline constexpr Dtype uint16{Dtype::Val::uint16, 2};
inline constexpr Dtype uint32{Dtype::Val::uint32, 4};
inline constexpr Dtype uint64{Dtype::Val::uint64, 8};
inline constexpr Dtype int8{Dtype::Val::int8, 1};
inline constexpr Dtype int16{Dtype::Val::int16, 2};
inline constexpr Dtype int32{Dtype::Val::int32, 4};
inline constexpr Dtype int64{Dtype::Val::int64, 8};
inline constexpr Dtype float16{Dtype::Val::float16, 2};
inline constexpr Dtype float32{Dtype::Val::float32, 4};
inline constexpr Dtype float64{Dtype::Val::float64, 8};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16, 2};
inline constexpr Dtype complex64{Dtype::Val::complex64, 8};
inline constexpr int num_dtypes = 14;

// Every dtype, in the order of Dtype::Val (handy for tests and tables).
const Dtype& dtype_from_index(int i);

enum class DtypeCategory {
  generic, number, integer, signedinteger, unsignedinteger, inexact, floating, complexfloating,
};

bool issubdtype(const Dtype& a, const Dtype& b);
bool issubdtype(const Dtype& a, DtypeCategory c);
bool issubdtype(DtypeCategory a, const Dtype& b);
bool issubdtype(DtypeCategory a, DtypeCategory b);

Dtype::Kind kindof(const Dtype& t);
bool is_floating_point(const Dtype& t);  // float16, bfloat16, float32, float64
bool is_complex(const Dtype& t);
bool is_integral(const Dtype& t);        // ints and bool
bool is_unsigned(const Dtype& t);        // unsigned ints and bool

// The dtype that both a and b convert to without loss where one exists, following MLX.
Dtype promote_types(const Dtype& a, const Dtype& b);
bool can_cast(const Dtype& from, const Dtype& to);  // safe (lossless) casting

std::string dtype_name(const Dtype& t);  // "float32"
std::string dtype_to_array_protocol(const Dtype& t);  // "<f4", as NumPy writes it

bool operator==(const Dtype& a, const Dtype& b);
bool operator!=(const Dtype& a, const Dtype& b);
std::ostream& operator<<(std::ostream& os, const Dtype& t);

struct finfo {
  explicit finfo(Dtype t);
  Dtype dtype;
  int bits;
  double min, max, eps, smallest_normal;
};

struct iinfo {
  explicit iinfo(Dtype t);
  Dtype dtype;
  int bits;
  int64_t min;
  uint64_t max;
};

// C++ element type of a dtype and back.
template <typename T> struct TypeToDtype;
#define LAZULI_TYPE_DTYPE(T, D) \
  template <> struct TypeToDtype<T> { static constexpr Dtype value = D; };
LAZULI_TYPE_DTYPE(bool, bool_)
LAZULI_TYPE_DTYPE(uint8_t, uint8)
LAZULI_TYPE_DTYPE(uint16_t, uint16)
LAZULI_TYPE_DTYPE(uint32_t, uint32)
LAZULI_TYPE_DTYPE(uint64_t, uint64)
LAZULI_TYPE_DTYPE(int8_t, int8)
LAZULI_TYPE_DTYPE(int16_t, int16)
LAZULI_TYPE_DTYPE(int32_t, int32)
LAZULI_TYPE_DTYPE(int64_t, int64)
LAZULI_TYPE_DTYPE(float16_t, float16)
LAZULI_TYPE_DTYPE(bfloat16_t, bfloat16)
LAZULI_TYPE_DTYPE(float, float32)
LAZULI_TYPE_DTYPE(double, float64)
LAZULI_TYPE_DTYPE(complex64_t, complex64)
#undef LAZULI_TYPE_DTYPE
template <typename T> inline constexpr Dtype dtype_of = TypeToDtype<T>::value;

// Calls f(T{}) with T the C++ type of `t`. Keeps dtype switches in one place.
template <typename F>
decltype(auto) dispatch_dtype(Dtype t, F&& f) {
  switch (t.val) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint16: return f(uint16_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::uint64: return f(uint64_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int16: return f(int16_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(float16_t{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    case Dtype::Val::complex64: return f(complex64_t{});
  }
  return f(float{});
}

}  // namespace lazuli
