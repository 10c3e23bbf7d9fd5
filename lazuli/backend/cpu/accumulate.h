// Internal: the combining operations of reductions and scans (an identity and a binary
// combine), shared so that sum, prod, max and min mean the same in both.
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

namespace lazuli::cpu {

struct SumOp {
  template <typename T> static T init() { return T(0); }
  template <typename T> static T combine(T a, T b) {
    if constexpr (std::is_same_v<T, bool>) return a || b;
    else return a + b;
  }
};
struct ProdOp {
  template <typename T> static T init() { return T(1); }
  template <typename T> static T combine(T a, T b) {
    if constexpr (std::is_same_v<T, bool>) return a && b;
    else return a * b;
  }
};
// Max and min propagate NaN, as NumPy does.
struct MaxOp {
  template <typename T> static T init() {
    if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  }
  template <typename T> static T combine(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
      if (b != b) return b;
    return b > a ? b : a;
  }
};
struct MinOp {
  template <typename T> static T init() {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  }
  template <typename T> static T combine(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
      if (b != b) return b;
    return b < a ? b : a;
  }
};
struct AndOp {
  template <typename T> static T init() { return true; }
  template <typename T> static T combine(T a, T b) { return a && b; }
};
struct OrOp {
  template <typename T> static T init() { return false; }
  template <typename T> static T combine(T a, T b) { return a || b; }
};
// log(exp(a) + exp(b)) without overflow (floating point only).
struct LogAddExpOp {
  template <typename T> static T init() { return -std::numeric_limits<T>::infinity(); }
  template <typename T> static T combine(T a, T b) {
    if (a != a || b != b) return std::numeric_limits<T>::quiet_NaN();
    T hi = a > b ? a : b, lo = a > b ? b : a;
    if (std::isinf(hi)) return hi;  // +inf, or both -inf
    return hi + std::log1p(std::exp(lo - hi));
  }
};

}  // namespace lazuli::cpu
