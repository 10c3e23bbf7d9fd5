// The scalar body of every elementwise op, written once. The CPU backend calls these
// functors in its loops; the CUDA backend compiles the same header for the device.
// 16-bit floats reach these functors as float (the kernels convert around them).
#pragma once
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>

#ifdef __CUDACC__
#include <cuda/std/complex>
#define LAZULI_HD __host__ __device__
#else
#define LAZULI_HD
#endif

namespace lazuli::math {

// Complex math: std::complex on the CPU; in CUDA code the functors meet cuda::std::complex
// (the same layout), whose functions also compile for the device.
#ifdef __CUDACC__
namespace cplx = ::cuda::std;
#else
namespace cplx = std;
#endif

// Which element kinds a functor accepts: kernels instantiate only these.
enum Kinds : int { kBool = 1, kInt = 2, kFloat = 4, kComplex = 8, kNumeric = kInt | kFloat | kComplex };

template <typename T> inline constexpr bool is_cplx = !std::is_arithmetic_v<T>;
template <typename T> inline constexpr int kind_of =
    std::is_same_v<T, bool> ? kBool : std::is_integral_v<T> ? kInt : std::is_floating_point_v<T> ? kFloat : kComplex;

using std::abs;

// Float to integer conversion giving what NumPy gives on x86 where C++ leaves it undefined
// (out of range, NaN): shared by the CPU casts (cast.h) and the CUDA kernels.
template <typename To, typename From> LAZULI_HD To float_to_int(From v) {
  using L = std::numeric_limits<To>;
  if constexpr (std::is_signed_v<To>) {
    if (v >= From(L::min()) && v < -From(L::min())) return static_cast<To>(v);
    return L::min();
  } else {
    if (v > From(-1) && v < From(L::max()) + From(1)) return static_cast<To>(v);
    if (v >= From(-9.2233720368547758e18) && v < From(9.2233720368547758e18))
      return static_cast<To>(static_cast<int64_t>(v));
    return To(0);
  }
}

// ---- unary ----
struct Abs {
  static constexpr int kinds = kNumeric;
  template <typename T> LAZULI_HD auto operator()(T x) const {
    if constexpr (is_cplx<T>) return cplx::abs(x);
    else if constexpr (std::is_unsigned_v<T>) return x;
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(x < 0 ? -x : x);
    else return std::fabs(x);
  }
};
struct Negative {
  static constexpr int kinds = kNumeric;
  template <typename T> LAZULI_HD T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(T(0) - x);  // wraps for unsigned
    else return -x;
  }
};
struct Sign {
  static constexpr int kinds = kNumeric;
  template <typename T> LAZULI_HD T operator()(T x) const {
    if constexpr (is_cplx<T>) return x == T(0) ? x : x / cplx::abs(x);
    else if constexpr (std::is_unsigned_v<T>) return x != 0;
    else if constexpr (std::is_integral_v<T>) return static_cast<T>((x > 0) - (x < 0));
    else return x > 0 ? T(1) : (x < 0 ? T(-1) : x);  // keeps 0, -0 and NaN
  }
};
struct Square {
  static constexpr int kinds = kNumeric | kBool;
  template <typename T> LAZULI_HD T operator()(T x) const { return static_cast<T>(x * x); }
};

#define LAZULI_STD_UNARY(Name, fn, KINDS)                                                     \
  struct Name {                                                                              \
    static constexpr int kinds = KINDS;                                                      \
    template <typename T> LAZULI_HD T operator()(T x) const { return std::fn(x); }           \
  };
#define LAZULI_STD_UNARY_C(Name, fn)                                                          \
  struct Name {                                                                              \
    static constexpr int kinds = kFloat | kComplex;                                          \
    template <typename T> LAZULI_HD T operator()(T x) const {                                \
      if constexpr (is_cplx<T>) return cplx::fn(x);                                          \
      else return std::fn(x);                                                                \
    }                                                                                        \
  };
LAZULI_STD_UNARY_C(Sqrt, sqrt)
LAZULI_STD_UNARY_C(Exp, exp)
LAZULI_STD_UNARY_C(Log, log)
LAZULI_STD_UNARY_C(Log10, log10)
LAZULI_STD_UNARY_C(Sin, sin)
LAZULI_STD_UNARY_C(Cos, cos)
LAZULI_STD_UNARY_C(Tan, tan)
LAZULI_STD_UNARY_C(ArcSin, asin)
LAZULI_STD_UNARY_C(ArcCos, acos)
LAZULI_STD_UNARY_C(ArcTan, atan)
LAZULI_STD_UNARY_C(Sinh, sinh)
LAZULI_STD_UNARY_C(Cosh, cosh)
LAZULI_STD_UNARY_C(Tanh, tanh)
LAZULI_STD_UNARY_C(ArcSinh, asinh)
LAZULI_STD_UNARY_C(ArcCosh, acosh)
LAZULI_STD_UNARY_C(ArcTanh, atanh)
LAZULI_STD_UNARY(Erf, erf, kFloat)
LAZULI_STD_UNARY(Floor, floor, kFloat)
LAZULI_STD_UNARY(Ceil, ceil, kFloat)
LAZULI_STD_UNARY(Round, nearbyint, kFloat)  // half to even, as NumPy rounds
#undef LAZULI_STD_UNARY
#undef LAZULI_STD_UNARY_C

// Complex expm1, log1p and log2 as NumPy defines them (exp(z) - 1, log(1 + z), log(z) / ln 2),
// with expm1 and log1p kept accurate near z = 0 where the plain forms cancel.
struct Expm1 {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T z) const {
    if constexpr (is_cplx<T>) {
      // Re: e^x cos y - 1 = expm1(x) cos y - 2 sin^2(y / 2); Im: e^x sin y.
      auto x = z.real(), y = z.imag(), h = std::sin(y / 2);
      auto re = std::expm1(x) * std::cos(y) - 2 * h * h;
      return T(re, std::exp(x) * std::sin(y));
    } else {
      return std::expm1(z);
    }
  }
};
struct Log1p {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T z) const {
    if constexpr (is_cplx<T>) {
      auto x = z.real(), y = z.imag();
      using R = decltype(x);
      if (!(std::fabs(x) < R(0.5) && std::fabs(y) < R(0.5))) return cplx::log(T(1) + z);
      // |1 + z|^2 = 1 + (2x + x^2 + y^2): the log of that small excess, without forming 1 + ...
      return T(R(0.5) * std::log1p(x * (2 + x) + y * y), std::atan2(y, 1 + x));
    } else {
      return std::log1p(z);
    }
  }
};
struct Log2 {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T z) const {
    if constexpr (is_cplx<T>) return cplx::log(z) * decltype(z.real())(1.4426950408889634);  // 1 / ln 2
    else return std::log2(z);
  }
};

struct Rsqrt {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T x) const {
    if constexpr (is_cplx<T>) return T(1) / cplx::sqrt(x);
    else return T(1) / std::sqrt(x);
  }
};
struct Reciprocal {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T x) const { return T(1) / x; }
};
struct Sigmoid {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T x) const {
    // Never exponentiates a number of large positive real part, so no overflow to inf/inf.
    if constexpr (is_cplx<T>) {
      if (x.real() >= 0) return T(1) / (T(1) + cplx::exp(-x));
      T e = cplx::exp(x);
      return e / (T(1) + e);
    } else {
      T e = std::exp(-std::fabs(x));
      return x >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
    }
  }
};
struct ErfInv {
  static constexpr int kinds = kFloat;
  template <typename T> LAZULI_HD T operator()(T y) const {
    if (!(y > T(-1) && y < T(1))) {
      if (y == T(1)) return std::numeric_limits<T>::infinity();
      if (y == T(-1)) return -std::numeric_limits<T>::infinity();
      return std::numeric_limits<T>::quiet_NaN();
    }
    // Giles' single-precision approximation, then Newton steps on erf(x) - y for accuracy.
    // Solved for a = |y| (erfinv is odd): near a = 1 the residual is taken as
    // (1 - a) - erfc(x), both terms exact or accurate, where erf(x) - a would cancel to noise.
    double a = std::fabs(double(y));
    double w = -std::log((1.0 - a) * (1.0 + a)), p;
    if (w < 5.0) {
      w -= 2.5;
      p = 2.81022636e-08;
      p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
      p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
      p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    } else {
      w = std::sqrt(w) - 3.0;
      p = -0.000200214257;
      p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
      p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
      p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    }
    double x = p * a;
    // Newton until a step is below 1e-9 relative, then one more (quadratic convergence
    // takes that to ~1e-18); at most 8.
    for (int i = 0, close = 0; i < 8 && close < 2; ++i) {  // d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
      double slope = 1.1283791670955126 * std::exp(-x * x), step;
      if (a < 0.5) {
        step = (std::erf(x) - a) / slope;
      } else {
        // Newton on log(erfc(x)) = log(1 - a), nearly quadratic in x: it converges in a few
        // steps even from the rough start beyond Giles' single-precision range (1 - a < 1e-7).
        double c = std::erfc(x);
        step = (std::log(1.0 - a) - std::log(c)) * c / slope;
      }
      x -= step;
      if (close || std::fabs(step) < 1e-9 * x) ++close;
    }
    return static_cast<T>(std::copysign(x, double(y)));  // keeps -0
  }
};
struct LogicalNot {
  static constexpr int kinds = kBool | kNumeric;
  template <typename T> LAZULI_HD bool operator()(T x) const { return x == T(0); }
};
struct BitwiseInvert {
  static constexpr int kinds = kBool | kInt;
  template <typename T> LAZULI_HD T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return !x;
    else return static_cast<T>(~x);
  }
};
struct IsNan {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD bool operator()(T x) const {
    if constexpr (is_cplx<T>) return std::isnan(x.real()) || std::isnan(x.imag());
    else return std::isnan(x);
  }
};
struct IsInf {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD bool operator()(T x) const {
    if constexpr (is_cplx<T>) return std::isinf(x.real()) || std::isinf(x.imag());
    else return std::isinf(x);
  }
};
struct IsPosInf {
  static constexpr int kinds = kFloat;
  template <typename T> LAZULI_HD bool operator()(T x) const { return x == std::numeric_limits<T>::infinity(); }
};
struct IsNegInf {
  static constexpr int kinds = kFloat;
  template <typename T> LAZULI_HD bool operator()(T x) const { return x == -std::numeric_limits<T>::infinity(); }
};
struct Conjugate {
  static constexpr int kinds = kComplex;
  template <typename T> LAZULI_HD T operator()(T x) const { return cplx::conj(x); }
};
struct Real {
  static constexpr int kinds = kComplex;
  template <typename T> LAZULI_HD auto operator()(T x) const { return x.real(); }
};
struct Imag {
  static constexpr int kinds = kComplex;
  template <typename T> LAZULI_HD auto operator()(T x) const { return x.imag(); }
};

// ---- binary ----
#define LAZULI_SIMPLE_BINARY(Name, expr, KINDS)                                               \
  struct Name {                                                                              \
    static constexpr int kinds = KINDS;                                                      \
    template <typename T> LAZULI_HD auto operator()(T a, T b) const { return expr; }         \
  };
LAZULI_SIMPLE_BINARY(Add, static_cast<T>(a + b), kNumeric | kBool)
LAZULI_SIMPLE_BINARY(Subtract, static_cast<T>(a - b), kNumeric)
LAZULI_SIMPLE_BINARY(Multiply, static_cast<T>(a * b), kNumeric | kBool)
LAZULI_SIMPLE_BINARY(Equal, a == b, kNumeric | kBool)
LAZULI_SIMPLE_BINARY(NotEqual, a != b, kNumeric | kBool)
LAZULI_SIMPLE_BINARY(Less, a < b, kInt | kFloat | kBool)
LAZULI_SIMPLE_BINARY(LessEqual, a <= b, kInt | kFloat | kBool)
LAZULI_SIMPLE_BINARY(Greater, a > b, kInt | kFloat | kBool)
LAZULI_SIMPLE_BINARY(GreaterEqual, a >= b, kInt | kFloat | kBool)
LAZULI_SIMPLE_BINARY(LogicalAnd, a && b, kBool)
LAZULI_SIMPLE_BINARY(LogicalOr, a || b, kBool)
LAZULI_SIMPLE_BINARY(LogicalXor, a != b, kBool)
LAZULI_SIMPLE_BINARY(BitwiseAnd, static_cast<T>(a & b), kInt | kBool)
LAZULI_SIMPLE_BINARY(BitwiseOr, static_cast<T>(a | b), kInt | kBool)
LAZULI_SIMPLE_BINARY(BitwiseXor, static_cast<T>(a ^ b), kInt | kBool)
#undef LAZULI_SIMPLE_BINARY

struct Divide {
  static constexpr int kinds = kFloat | kComplex;
  template <typename T> LAZULI_HD T operator()(T a, T b) const { return a / b; }
};
struct FloorDivide {
  static constexpr int kinds = kInt | kFloat;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return 0;  // NumPy's answer; never a hardware trap
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return static_cast<T>(T(0) - static_cast<std::make_unsigned_t<T>>(a));
        T q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? T(q - 1) : q;
      } else {
        return a / b;
      }
    } else {
      return std::floor(a / b);
    }
  }
};
struct Remainder {
  static constexpr int kinds = kInt | kFloat;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return 0;
        T r = a % b;
        return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
      } else {
        return a % b;
      }
    } else {
      T r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      else if (r == 0) r = std::copysign(T(0), b);  // a zero takes the divisor's sign too
      return r;  // sign of the divisor, as Python and NumPy
    }
  }
};
struct Power {
  static constexpr int kinds = kNumeric;
  template <typename T> LAZULI_HD T operator()(T base, T exp) const {
    if constexpr (std::is_integral_v<T>) {
      if constexpr (std::is_signed_v<T>) {
        if (exp < 0) return base == 1 ? T(1) : base == -1 ? T(exp % 2 ? -1 : 1) : T(0);
      }
      T result = 1;
      while (exp) {  // square and multiply, wrapping like NumPy
        if (exp & 1) result = static_cast<T>(result * base);
        exp >>= 1;
        base = static_cast<T>(base * base);
      }
      return result;
    } else if constexpr (is_cplx<T>) {
      return cplx::pow(base, exp);
    } else {
      // Exact where the product is: CUDA's pow may miss by an ulp even for x^1 (glibc's
      // pow is correctly rounded, so the CPU's answers do not change).
      if (exp == T(1)) return base;
      if (exp == T(2)) return base * base;
      return std::pow(base, exp);
    }
  }
};
struct Maximum {
  static constexpr int kinds = kInt | kFloat | kBool;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return a > b ? a : b;
  }
};
struct Minimum {
  static constexpr int kinds = kInt | kFloat | kBool;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return a < b ? a : b;
  }
};
struct ArcTan2 {
  static constexpr int kinds = kFloat;
  template <typename T> LAZULI_HD T operator()(T a, T b) const { return std::atan2(a, b); }
};
struct LogAddExp {
  static constexpr int kinds = kFloat;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    T hi = a > b ? a : b, lo = a > b ? b : a;
    if (std::isinf(hi)) return hi;  // also keeps inf - inf out of exp below
    return hi + std::log1p(std::exp(lo - hi));
  }
};
struct LeftShift {
  static constexpr int kinds = kInt;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    // Shifting by the width or more is undefined in C++; NumPy gives 0.
    if (b < 0 || b >= T(sizeof(T) * 8)) return 0;
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) << b);
  }
};
struct RightShift {
  static constexpr int kinds = kInt;
  template <typename T> LAZULI_HD T operator()(T a, T b) const {
    if (b < 0 || b >= T(sizeof(T) * 8)) return (std::is_signed_v<T> && a < 0) ? T(-1) : T(0);
    return static_cast<T>(a >> b);
  }
};

}  // namespace lazuli::math
