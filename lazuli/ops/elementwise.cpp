// Elementwise ops: dtype rules and broadcasting checks; the math is in the primitives.
#include <cmath>

#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

namespace {

array unary(UnaryOp op, const array& a, Dtype out, S s) {
  return make_node<Unary>({a}, out, s, op);
}

// Integer and bool inputs of a floating-point function compute in float32.
array to_inexact(const array& a, S s) {
  return is_integral(a.dtype()) ? astype(a, float32, s) : a;
}

void no_complex(const array& a, const char* op) {
  if (is_complex(a.dtype())) fail(op, "complex64 inputs are not supported.");
}
void no_bool(const array& a, const char* op) {
  if (a.dtype() == bool_) fail(op, "bool inputs are not supported.");
}
void integral_only(const array& a, const char* op) {
  if (!is_integral(a.dtype())) fail(op, "needs integer or bool inputs, got " + dtype_name(a.dtype()) + ".");
}

array float_unary(UnaryOp op, const array& a, const char* name, S s, bool complex_ok = false) {
  if (!complex_ok) no_complex(a, name);
  array x = to_inexact(a, s);
  return unary(op, x, x.dtype(), s);
}

array binary(BinaryOp op, array a, array b, Dtype compute, Dtype out, S s) {
  if (a.dtype() != compute) a = astype(a, compute, s);
  if (b.dtype() != compute) b = astype(b, compute, s);
  return make_node<Binary>({a, b}, out, s, op);
}

// Checks broadcasting up front so the error names the op.
Dtype common(const array& a, const array& b, const char* op) {
  try {
    broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument&) {
    fail(op, "Shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " cannot be broadcast.");
  }
  return promote_types(a.dtype(), b.dtype());
}

array arith(BinaryOp op, const array& a, const array& b, const char* name, S s) {
  Dtype t = common(a, b, name);
  return binary(op, a, b, t, t, s);
}

array float_binary(BinaryOp op, const array& a, const array& b, const char* name, S s) {
  Dtype t = common(a, b, name);
  if (is_complex(t)) fail(name, "complex64 inputs are not supported.");
  if (is_integral(t)) t = float32;
  return binary(op, a, b, t, t, s);
}

array compare(BinaryOp op, const array& a, const array& b, const char* name, S s) {
  Dtype t = common(a, b, name);
  if (is_complex(t) && op != BinaryOp::Equal && op != BinaryOp::NotEqual)
    fail(name, "complex64 inputs cannot be ordered.");
  return binary(op, a, b, t, bool_, s);
}

array bitwise(BinaryOp op, const array& a, const array& b, const char* name, S s, bool bool_ok) {
  Dtype t = common(a, b, name);
  if (!is_integral(t) || (!bool_ok && t == bool_))
    fail(name, "needs integer inputs, got " + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ".");
  return binary(op, a, b, t, t, s);
}

}  // namespace

array astype(array a, Dtype dtype, S s) {
  if (a.dtype() == dtype) return a;
  return make_node<AsType>({a}, dtype, s, dtype);
}

array view(const array& a, Dtype dtype, S s) {
  if (a.dtype() == dtype) return a;
  if (a.dtype().size != dtype.size) {
    if (a.ndim() == 0)
      fail("view", "Cannot view a 0-d " + dtype_name(a.dtype()) + " array as " + dtype_name(dtype) + ".");
    size_t bytes = size_t(a.shape().back()) * a.itemsize();
    if (bytes % dtype.size != 0)
      fail("view", "The last axis of " + std::to_string(bytes) + " bytes does not divide into " +
                       dtype_name(dtype) + " elements.");
    return make_node<View>({contiguous(a, false, s)}, dtype, s, dtype);
  }
  return make_node<View>({a}, dtype, s, dtype);
}

Dtype result_type(const std::vector<array>& arrays) {
  if (arrays.empty()) fail("result_type", "needs at least one array.");
  Dtype t = arrays[0].dtype();
  for (auto& a : arrays) t = promote_types(t, a.dtype());
  return t;
}

// ---- unary ----
array abs(const array& a, S s) {
  if (is_unsigned(a.dtype())) return a;
  return unary(UnaryOp::Abs, a, is_complex(a.dtype()) ? float32 : a.dtype(), s);
}
array negative(const array& a, S s) {
  no_bool(a, "negative");
  return unary(UnaryOp::Negative, a, a.dtype(), s);
}
array sign(const array& a, S s) {
  if (a.dtype() == bool_) return a;  // MLX: the sign of a bool is itself
  return unary(UnaryOp::Sign, a, a.dtype(), s);
}
array square(const array& a, S s) { return unary(UnaryOp::Square, a, a.dtype(), s); }
array sqrt(const array& a, S s) { return float_unary(UnaryOp::Sqrt, a, "sqrt", s, true); }
array rsqrt(const array& a, S s) { return float_unary(UnaryOp::Rsqrt, a, "rsqrt", s, true); }
array reciprocal(const array& a, S s) { return float_unary(UnaryOp::Reciprocal, a, "reciprocal", s, true); }
array exp(const array& a, S s) { return float_unary(UnaryOp::Exp, a, "exp", s, true); }
array expm1(const array& a, S s) { return float_unary(UnaryOp::Expm1, a, "expm1", s, true); }
array log(const array& a, S s) { return float_unary(UnaryOp::Log, a, "log", s, true); }
array log1p(const array& a, S s) { return float_unary(UnaryOp::Log1p, a, "log1p", s, true); }
array log2(const array& a, S s) { return float_unary(UnaryOp::Log2, a, "log2", s, true); }
array log10(const array& a, S s) { return float_unary(UnaryOp::Log10, a, "log10", s, true); }
array sin(const array& a, S s) { return float_unary(UnaryOp::Sin, a, "sin", s, true); }
array cos(const array& a, S s) { return float_unary(UnaryOp::Cos, a, "cos", s, true); }
array tan(const array& a, S s) { return float_unary(UnaryOp::Tan, a, "tan", s, true); }
array arcsin(const array& a, S s) { return float_unary(UnaryOp::ArcSin, a, "arcsin", s, true); }
array arccos(const array& a, S s) { return float_unary(UnaryOp::ArcCos, a, "arccos", s, true); }
array arctan(const array& a, S s) { return float_unary(UnaryOp::ArcTan, a, "arctan", s, true); }
array sinh(const array& a, S s) { return float_unary(UnaryOp::Sinh, a, "sinh", s, true); }
array cosh(const array& a, S s) { return float_unary(UnaryOp::Cosh, a, "cosh", s, true); }
array tanh(const array& a, S s) { return float_unary(UnaryOp::Tanh, a, "tanh", s, true); }
array arcsinh(const array& a, S s) { return float_unary(UnaryOp::ArcSinh, a, "arcsinh", s, true); }
array arccosh(const array& a, S s) { return float_unary(UnaryOp::ArcCosh, a, "arccosh", s, true); }
array arctanh(const array& a, S s) { return float_unary(UnaryOp::ArcTanh, a, "arctanh", s, true); }
array sigmoid(const array& a, S s) { return float_unary(UnaryOp::Sigmoid, a, "sigmoid", s, true); }
array erf(const array& a, S s) { return float_unary(UnaryOp::Erf, a, "erf", s); }
array erfinv(const array& a, S s) { return float_unary(UnaryOp::ErfInv, a, "erfinv", s); }

array floor(const array& a, S s) {
  no_complex(a, "floor");
  return is_integral(a.dtype()) ? a : unary(UnaryOp::Floor, a, a.dtype(), s);
}
array ceil(const array& a, S s) {
  no_complex(a, "ceil");
  return is_integral(a.dtype()) ? a : unary(UnaryOp::Ceil, a, a.dtype(), s);
}
array trunc(const array& a, S s) {
  no_complex(a, "trunc");
  if (is_integral(a.dtype())) return a;
  return where(less(a, zeros({}, a.dtype(), s), s), ceil(a, s), floor(a, s), s);
}
array round(const array& a, int decimals, S s) {
  no_complex(a, "round");
  if (is_integral(a.dtype())) return a;
  if (decimals == 0) return unary(UnaryOp::Round, a, a.dtype(), s);
  array scale(std::pow(10.0, decimals), a.dtype());
  return divide(unary(UnaryOp::Round, multiply(a, scale, s), a.dtype(), s), scale, s);
}
array round(const array& a, S s) { return round(a, 0, s); }
array degrees(const array& a, S s) {
  no_complex(a, "degrees");
  array x = to_inexact(a, s);
  return multiply(x, array(180.0 / M_PI, x.dtype()), s);
}
array radians(const array& a, S s) {
  no_complex(a, "radians");
  array x = to_inexact(a, s);
  return multiply(x, array(M_PI / 180.0, x.dtype()), s);
}
array logical_not(const array& a, S s) { return unary(UnaryOp::LogicalNot, a, bool_, s); }
array bitwise_invert(const array& a, S s) {
  integral_only(a, "bitwise_invert");
  return unary(UnaryOp::BitwiseInvert, a, a.dtype(), s);
}
array isnan(const array& a, S s) {
  return is_integral(a.dtype()) ? zeros(a.shape(), bool_, s) : unary(UnaryOp::IsNan, a, bool_, s);
}
array isinf(const array& a, S s) {
  return is_integral(a.dtype()) ? zeros(a.shape(), bool_, s) : unary(UnaryOp::IsInf, a, bool_, s);
}
array isposinf(const array& a, S s) {
  no_complex(a, "isposinf");
  return is_integral(a.dtype()) ? zeros(a.shape(), bool_, s) : unary(UnaryOp::IsPosInf, a, bool_, s);
}
array isneginf(const array& a, S s) {
  no_complex(a, "isneginf");
  return is_integral(a.dtype()) ? zeros(a.shape(), bool_, s) : unary(UnaryOp::IsNegInf, a, bool_, s);
}
array isfinite(const array& a, S s) {
  if (is_integral(a.dtype())) return ones(a.shape(), bool_, s);
  return logical_not(logical_or(isnan(a, s), isinf(a, s), s), s);
}
array conjugate(const array& a, S s) {
  return is_complex(a.dtype()) ? unary(UnaryOp::Conjugate, a, a.dtype(), s) : a;
}
array real(const array& a, S s) { return is_complex(a.dtype()) ? unary(UnaryOp::Real, a, float32, s) : a; }
array imag(const array& a, S s) {
  return is_complex(a.dtype()) ? unary(UnaryOp::Imag, a, float32, s) : zeros_like(a, s);
}

// ---- binary ----
array add(const array& a, const array& b, S s) { return arith(BinaryOp::Add, a, b, "add", s); }
// Bool with bool: MLX computes these in bool, each element the arithmetic result cast back to
// bool (a - b is nonzero where they differ, a ** b is 1 unless 0 ** 1); floor_divide returns
// the dividend, as MLX does (true // false stays true).
array subtract(const array& a, const array& b, S s) {
  if (a.dtype() == bool_ && b.dtype() == bool_) {
    common(a, b, "subtract");
    return not_equal(a, b, s);
  }
  return arith(BinaryOp::Subtract, a, b, "subtract", s);
}
array multiply(const array& a, const array& b, S s) { return arith(BinaryOp::Multiply, a, b, "multiply", s); }
array divide(const array& a, const array& b, S s) {
  Dtype t = common(a, b, "divide");
  if (is_integral(t)) t = float32;
  return binary(BinaryOp::Divide, a, b, t, t, s);
}
array floor_divide(const array& a, const array& b, S s) {
  Dtype t = common(a, b, "floor_divide");
  if (t == bool_) return broadcast_to(a, broadcast_shapes(a.shape(), b.shape()), s);
  if (is_complex(t)) fail("floor_divide", "needs real numeric inputs, got " + dtype_name(t) + ".");
  return binary(BinaryOp::FloorDivide, a, b, t, t, s);
}
array remainder(const array& a, const array& b, S s) {
  Dtype t = common(a, b, "remainder");
  if (is_complex(t) || t == bool_) fail("remainder", "needs real numeric inputs, got " + dtype_name(t) + ".");
  return binary(BinaryOp::Remainder, a, b, t, t, s);
}
std::vector<array> divmod(const array& a, const array& b, S s) {
  Dtype t = common(a, b, "divmod");
  if (is_complex(t) || t == bool_) fail("divmod", "needs real numeric inputs, got " + dtype_name(t) + ".");
  std::vector<array> inputs{astype(a, t, s), astype(b, t, s)};
  auto p = std::make_shared<DivMod>(to_stream(s));
  return array::make_arrays(p->output_shapes(inputs), {t, t}, p, inputs);
}
array power(const array& a, const array& b, S s) {
  Dtype t = common(a, b, "power");
  if (t == bool_) return logical_or(a, logical_not(b, s), s);
  return binary(BinaryOp::Power, a, b, t, t, s);
}
array maximum(const array& a, const array& b, S s) {
  if (is_complex(common(a, b, "maximum"))) fail("maximum", "complex64 inputs cannot be ordered.");
  return arith(BinaryOp::Maximum, a, b, "maximum", s);
}
array minimum(const array& a, const array& b, S s) {
  if (is_complex(common(a, b, "minimum"))) fail("minimum", "complex64 inputs cannot be ordered.");
  return arith(BinaryOp::Minimum, a, b, "minimum", s);
}
array arctan2(const array& a, const array& b, S s) { return float_binary(BinaryOp::ArcTan2, a, b, "arctan2", s); }
array logaddexp(const array& a, const array& b, S s) {
  return float_binary(BinaryOp::LogAddExp, a, b, "logaddexp", s);
}
array equal(const array& a, const array& b, S s) { return compare(BinaryOp::Equal, a, b, "equal", s); }
array not_equal(const array& a, const array& b, S s) { return compare(BinaryOp::NotEqual, a, b, "not_equal", s); }
array less(const array& a, const array& b, S s) { return compare(BinaryOp::Less, a, b, "less", s); }
array less_equal(const array& a, const array& b, S s) { return compare(BinaryOp::LessEqual, a, b, "less_equal", s); }
array greater(const array& a, const array& b, S s) { return compare(BinaryOp::Greater, a, b, "greater", s); }
array greater_equal(const array& a, const array& b, S s) {
  return compare(BinaryOp::GreaterEqual, a, b, "greater_equal", s);
}
array logical_and(const array& a, const array& b, S s) {
  common(a, b, "logical_and");
  return binary(BinaryOp::LogicalAnd, a, b, bool_, bool_, s);
}
array logical_or(const array& a, const array& b, S s) {
  common(a, b, "logical_or");
  return binary(BinaryOp::LogicalOr, a, b, bool_, bool_, s);
}
array logical_xor(const array& a, const array& b, S s) {
  common(a, b, "logical_xor");
  return binary(BinaryOp::LogicalXor, a, b, bool_, bool_, s);
}
array bitwise_and(const array& a, const array& b, S s) {
  return bitwise(BinaryOp::BitwiseAnd, a, b, "bitwise_and", s, true);
}
array bitwise_or(const array& a, const array& b, S s) { return bitwise(BinaryOp::BitwiseOr, a, b, "bitwise_or", s, true); }
array bitwise_xor(const array& a, const array& b, S s) {
  return bitwise(BinaryOp::BitwiseXor, a, b, "bitwise_xor", s, true);
}
array left_shift(const array& a, const array& b, S s) {
  return bitwise(BinaryOp::LeftShift, a, b, "left_shift", s, false);
}
array right_shift(const array& a, const array& b, S s) {
  return bitwise(BinaryOp::RightShift, a, b, "right_shift", s, false);
}

array where(const array& condition, const array& x, const array& y, S s) {
  Shape out;
  try {
    out = broadcast_shapes(broadcast_shapes(condition.shape(), x.shape()), y.shape());
  } catch (const std::invalid_argument&) {
    fail("where", "Shapes " + shape_str(condition.shape()) + ", " + shape_str(x.shape()) + " and " +
                      shape_str(y.shape()) + " cannot be broadcast.");
  }
  Dtype t = promote_types(x.dtype(), y.dtype());
  return make_node<Select>({astype(condition, bool_, s), astype(x, t, s), astype(y, t, s)}, t, s);
}

array clip(const array& a, const std::optional<array>& a_min, const std::optional<array>& a_max, S s) {
  if (!a_min && !a_max) fail("clip", "needs at least one of a_min and a_max.");
  array out = a;
  if (a_min) out = maximum(out, *a_min, s);
  if (a_max) out = minimum(out, *a_max, s);
  return out;
}

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, S s) {
  Dtype t = common(a, b, "isclose");
  if (is_integral(t)) t = float32;
  array x = astype(a, t, s), y = astype(b, t, s);
  // |a - b| <= atol + rtol * |b|, with equal infinities close and NaNs close if asked.
  array diff = abs(subtract(x, y, s), s);
  array tol = add(array(atol, float32), multiply(array(rtol, float32), abs(y, s), s), s);
  // An infinity is close only to itself: inf <= atol + rtol * inf must not count.
  array finite = logical_not(logical_or(isinf(x, s), isinf(y, s), s), s);
  array out = logical_and(less_equal(diff, tol, s), finite, s);
  out = logical_or(out, equal(x, y, s), s);
  if (equal_nan) out = logical_or(out, logical_and(isnan(x, s), isnan(y, s), s), s);
  return out;
}

array allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, S s) {
  return all(isclose(a, b, rtol, atol, equal_nan, s), false, s);
}

array array_equal(const array& a, const array& b, bool equal_nan, S s) {
  if (a.shape() != b.shape()) return array(false);
  array eq = equal(a, b, s);
  if (equal_nan) eq = logical_or(eq, logical_and(isnan(a, s), isnan(b, s), s), s);
  return all(eq, false, s);
}

array operator-(const array& a) { return negative(a); }
array operator!(const array& a) { return logical_not(a); }
array operator~(const array& a) { return bitwise_invert(a); }
array operator+(const array& a, const array& b) { return add(a, b); }
array operator-(const array& a, const array& b) { return subtract(a, b); }
array operator*(const array& a, const array& b) { return multiply(a, b); }
array operator/(const array& a, const array& b) { return divide(a, b); }
array operator%(const array& a, const array& b) { return remainder(a, b); }
array operator==(const array& a, const array& b) { return equal(a, b); }
array operator!=(const array& a, const array& b) { return not_equal(a, b); }
array operator<(const array& a, const array& b) { return less(a, b); }
array operator<=(const array& a, const array& b) { return less_equal(a, b); }
array operator>(const array& a, const array& b) { return greater(a, b); }
array operator>=(const array& a, const array& b) { return greater_equal(a, b); }
array operator&&(const array& a, const array& b) { return logical_and(a, b); }
array operator||(const array& a, const array& b) { return logical_or(a, b); }
array operator&(const array& a, const array& b) { return bitwise_and(a, b); }
array operator|(const array& a, const array& b) { return bitwise_or(a, b); }
array operator^(const array& a, const array& b) { return bitwise_xor(a, b); }
array operator<<(const array& a, const array& b) { return left_shift(a, b); }
array operator>>(const array& a, const array& b) { return right_shift(a, b); }

}  // namespace lazuli
