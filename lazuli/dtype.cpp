#include "lazuli/dtype.h"

#include <cmath>
#include <limits>
#include <ostream>
#include <stdexcept>

namespace lazuli {

namespace {
constexpr Dtype all_dtypes[num_dtypes] = {bool_, uint8, uint16, uint32, uint64, int8, int16,
                                          int32, int64, float16, float32, float64, bfloat16,
                                          complex64};
constexpr const char* names[num_dtypes] = {
    "bool",    "uint8",   "uint16",  "uint32",  "uint64",  "int8",     "int16",
    "int32",   "int64",   "float16", "float32", "float64", "bfloat16", "complex64"};
int index(const Dtype& t) { return static_cast<int>(t.val); }
}  // namespace

const Dtype& dtype_from_index(int i) { return all_dtypes[i]; }

bool operator==(const Dtype& a, const Dtype& b) { return a.val == b.val; }
bool operator!=(const Dtype& a, const Dtype& b) { return a.val != b.val; }
std::string dtype_name(const Dtype& t) { return names[index(t)]; }
std::ostream& operator<<(std::ostream& os, const Dtype& t) { return os << dtype_name(t); }

Dtype::Kind kindof(const Dtype& t) {
  switch (t.val) {
    case Dtype::Val::bool_: return Dtype::Kind::b;
    case Dtype::Val::uint8: case Dtype::Val::uint16: case Dtype::Val::uint32:
    case Dtype::Val::uint64: return Dtype::Kind::u;
    case Dtype::Val::int8: case Dtype::Val::int16: case Dtype::Val::int32:
    case Dtype::Val::int64: return Dtype::Kind::i;
    case Dtype::Val::bfloat16: return Dtype::Kind::V;
    case Dtype::Val::complex64: return Dtype::Kind::c;
    default: return Dtype::Kind::f;
  }
}

bool is_floating_point(const Dtype& t) {
  auto k = kindof(t);
  return k == Dtype::Kind::f || k == Dtype::Kind::V;
}
bool is_complex(const Dtype& t) { return t == complex64; }
bool is_integral(const Dtype& t) { return !is_floating_point(t) && !is_complex(t); }
bool is_unsigned(const Dtype& t) { return kindof(t) == Dtype::Kind::u || t == bool_; }

std::string dtype_to_array_protocol(const Dtype& t) {
  if (t == bfloat16) return "<V2";
  if (t == bool_) return "|b1";
  char kind = static_cast<char>(kindof(t));
  std::string order = t.size == 1 ? "|" : "<";
  return order + kind + std::to_string(t.size);
}

Dtype promote_types(const Dtype& a, const Dtype& b) {
  if (a == b) return a;
  if (a == bool_) return b;
  if (b == bool_) return a;
  auto ka = kindof(a), kb = kindof(b);
  if (is_complex(a) || is_complex(b)) return complex64;
  bool fa = is_floating_point(a), fb = is_floating_point(b);
  if (fa && fb) {
    // float16 and bfloat16 have no common 16-bit type: both fit in float32.
    if (a.size == b.size) return float32;
    return a.size > b.size ? a : b;
  }
  if (fa) return a;
  if (fb) return b;
  // Both integers.
  if (ka == kb) return a.size >= b.size ? a : b;
  const Dtype& u = ka == Dtype::Kind::u ? a : b;
  const Dtype& s = ka == Dtype::Kind::u ? b : a;
  if (s.size > u.size) return s;
  switch (u.size) {
    case 1: return int16;
    case 2: return int32;
    case 4: return int64;
    default: return float32;  // no integer holds both uint64 and a signed type (MLX's rule)
  }
}

bool can_cast(const Dtype& from, const Dtype& to) {
  // NumPy's "safe" casting: every value of `from` is exactly representable in `to`.
  if (from == to || from == bool_) return true;
  if (to == bool_) return false;
  auto kf = kindof(from), kt = kindof(to);
  auto mantissa = [](const Dtype& t) {  // significand bits, sign excluded
    switch (t.val) {
      case Dtype::Val::float16: return 11;
      case Dtype::Val::bfloat16: return 8;
      case Dtype::Val::float32: case Dtype::Val::complex64: return 24;
      default: return 53;
    }
  };
  if (kf == Dtype::Kind::u || kf == Dtype::Kind::i) {
    int bits = 8 * from.size - (kf == Dtype::Kind::i ? 1 : 0);
    if (kt == Dtype::Kind::u) return kf == Dtype::Kind::u && to.size >= from.size;
    if (kt == Dtype::Kind::i) return to.size > from.size || (kf == Dtype::Kind::i && to.size == from.size);
    return mantissa(to) >= bits;
  }
  if (kt == Dtype::Kind::u || kt == Dtype::Kind::i) return false;  // float to int
  if (from == complex64) return false;                             // only complex64 holds it
  if (to == complex64) return from != float64;
  if (from == bfloat16) return to == float32 || to == float64;      // float16 lacks its range
  if (from == float16) return to == float32 || to == float64;       // bfloat16 lacks its precision
  return to.size > from.size;
}

static DtypeCategory category_of(const Dtype& t) {
  switch (kindof(t)) {
    case Dtype::Kind::b: return DtypeCategory::generic;
    case Dtype::Kind::u: return DtypeCategory::unsignedinteger;
    case Dtype::Kind::i: return DtypeCategory::signedinteger;
    case Dtype::Kind::c: return DtypeCategory::complexfloating;
    default: return DtypeCategory::floating;
  }
}

bool issubdtype(DtypeCategory a, DtypeCategory b) {
  if (a == b || b == DtypeCategory::generic) return true;
  switch (a) {
    case DtypeCategory::signedinteger:
    case DtypeCategory::unsignedinteger:
      return b == DtypeCategory::integer || b == DtypeCategory::number;
    case DtypeCategory::floating:
    case DtypeCategory::complexfloating:
      return b == DtypeCategory::inexact || b == DtypeCategory::number;
    case DtypeCategory::integer:
    case DtypeCategory::inexact:
      return b == DtypeCategory::number;
    default: return false;
  }
}
bool issubdtype(const Dtype& a, DtypeCategory c) {
  if (a == bool_) return c == DtypeCategory::generic;
  return issubdtype(category_of(a), c);
}
bool issubdtype(const Dtype& a, const Dtype& b) { return a == b; }
bool issubdtype(DtypeCategory, const Dtype&) { return false; }

finfo::finfo(Dtype t) : dtype(t) {
  switch (t.val) {
    case Dtype::Val::float16:
      bits = 16; max = 65504.0; eps = std::ldexp(1.0, -10); smallest_normal = std::ldexp(1.0, -14);
      break;
    case Dtype::Val::bfloat16:
      bits = 16; max = 3.3895313892515355e38; eps = std::ldexp(1.0, -7);
      smallest_normal = std::numeric_limits<float>::min();
      break;
    case Dtype::Val::float32: case Dtype::Val::complex64:
      bits = t == complex64 ? 64 : 32; max = std::numeric_limits<float>::max();
      eps = std::numeric_limits<float>::epsilon(); smallest_normal = std::numeric_limits<float>::min();
      if (t == complex64) dtype = float32;
      break;
    case Dtype::Val::float64:
      bits = 64; max = std::numeric_limits<double>::max();
      eps = std::numeric_limits<double>::epsilon(); smallest_normal = std::numeric_limits<double>::min();
      break;
    default:
      throw std::invalid_argument("[finfo] finfo is only for inexact dtypes, got " + dtype_name(t) + ".");
  }
  min = -max;
}

iinfo::iinfo(Dtype t) : dtype(t) {
  if (!is_integral(t) || t == bool_)
    throw std::invalid_argument("[iinfo] iinfo is only for integer dtypes, got " + dtype_name(t) + ".");
  bits = 8 * t.size;
  if (is_unsigned(t)) {
    min = 0;
    max = bits == 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << bits) - 1;
  } else {
    min = bits == 64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (bits - 1));
    max = bits == 64 ? uint64_t(std::numeric_limits<int64_t>::max()) : (uint64_t{1} << (bits - 1)) - 1;
  }
}

}  // namespace lazuli
