// Highway's vector math for the hot transcendental functions. Only AVX2, SSE4 and the
// baseline are built: enough for x86 servers, and it keeps this file quick to compile.
#define HWY_DISABLED_TARGETS (HWY_AVX3 | HWY_AVX3_DL | HWY_SSSE3)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "lazuli/backend/cpu/simd_math.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cpu/simd_math.h"

HWY_BEFORE_NAMESPACE();
namespace lazuli::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// out[i] = f(d, in[i]) in full vectors, the tail through a masked partial load.
template <typename T, typename F>
void apply(const T* in, T* out, size_t n, F f) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(f(d, hn::LoadU(d, in + i)), d, out + i);
  if (i < n) {
    HWY_ALIGN T buf[hn::MaxLanes(d)] = {};
    for (size_t k = i; k < n; ++k) buf[k - i] = in[k];
    hn::Store(f(d, hn::Load(d, buf)), d, buf);
    for (size_t k = i; k < n; ++k) out[k] = buf[k - i];
  }
}

// As apply, for Highway functions that are only right on part of the line (their documented
// valid range): `ok` marks the inputs f handles, and a vector with any other lane (inf, NaN,
// a domain error, an overflowing argument) is computed by the scalar functor S instead, so
// special values match the scalar kernels. The tail is scalar. `in` may alias `out`.
template <typename S, typename T, typename F, typename Ok>
void apply_checked(const T* in, T* out, size_t n, F f, Ok ok) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto v = hn::LoadU(d, in + i);
    if (HWY_LIKELY(hn::AllTrue(d, ok(d, v)))) {
      hn::StoreU(f(d, v), d, out + i);
    } else {
      HWY_ALIGN T buf[hn::MaxLanes(d)];
      hn::Store(v, d, buf);
      for (size_t k = 0; k < lanes; ++k) out[i + k] = S{}(buf[k]);
    }
  }
  for (; i < n; ++i) out[i] = S{}(in[i]);
}

template <typename T>
bool unary_t(UnaryOp op, const T* in, T* out, size_t n) {
  switch (op) {
#define LAZULI_HWY_CASE(Op, Fn) \
  case UnaryOp::Op: apply(in, out, n, [](auto d, auto v) { return hn::Fn(d, v); }); return true;
    LAZULI_HWY_CASE(Tanh, Tanh)
    LAZULI_HWY_CASE(ArcSin, Asin)
    LAZULI_HWY_CASE(ArcCos, Acos)
    LAZULI_HWY_CASE(ArcTan, Atan)
#undef LAZULI_HWY_CASE
    // Highway's valid ranges (hwy/contrib/math/math-inl.h); other inputs go scalar.
#define LAZULI_HWY_CHECKED(Op, Fn, OK)                                                      \
  case UnaryOp::Op:                                                                          \
    apply_checked<math::Op>(in, out, n, [](auto d, auto v) { return hn::Fn(d, v); },         \
                            [](auto d, auto v) { return OK; });                              \
    return true;
    // Exp: also below the normal range, where Highway gives a subnormal for exp(-inf).
    LAZULI_HWY_CHECKED(Exp, Exp,
                       hn::And(hn::Ge(v, hn::Set(d, T(sizeof(T) == 4 ? -87 : -708))),
                               hn::Le(v, hn::Set(d, T(sizeof(T) == 4 ? 88 : 709)))))
    case UnaryOp::Expm1:  // keeps the sign of zero, which Highway's Expm1 drops
      apply_checked<math::Expm1>(
          in, out, n, [](auto d, auto v) { return hn::IfThenElse(hn::Eq(v, hn::Zero(d)), v, hn::Expm1(d, v)); },
          [](auto d, auto v) { return hn::Le(v, hn::Set(d, T(sizeof(T) == 4 ? 104 : 706))); });
      return true;
    LAZULI_HWY_CHECKED(Log, Log, hn::And(hn::Gt(v, hn::Zero(d)), hn::Lt(v, hn::Inf(d))))
    LAZULI_HWY_CHECKED(Log2, Log2, hn::And(hn::Gt(v, hn::Zero(d)), hn::Lt(v, hn::Inf(d))))
    LAZULI_HWY_CHECKED(Log10, Log10, hn::And(hn::Gt(v, hn::Zero(d)), hn::Lt(v, hn::Inf(d))))
    LAZULI_HWY_CHECKED(Log1p, Log1p, hn::And(hn::Gt(v, hn::Set(d, T(-1))), hn::Lt(v, hn::Inf(d))))
    LAZULI_HWY_CHECKED(Sinh, Sinh, hn::Le(hn::Abs(v), hn::Set(d, T(sizeof(T) == 4 ? 88 : 709))))
    LAZULI_HWY_CHECKED(ArcSinh, Asinh, hn::Lt(hn::Abs(v), hn::Inf(d)))
    LAZULI_HWY_CHECKED(ArcCosh, Acosh, hn::And(hn::Ge(v, hn::Set(d, T(1))), hn::Lt(v, hn::Inf(d))))
    LAZULI_HWY_CHECKED(ArcTanh, Atanh, hn::Lt(hn::Abs(v), hn::Set(d, T(1))))
#undef LAZULI_HWY_CHECKED
    case UnaryOp::Sqrt: apply(in, out, n, [](auto, auto v) { return hn::Sqrt(v); }); return true;
    case UnaryOp::Abs: apply(in, out, n, [](auto, auto v) { return hn::Abs(v); }); return true;
    case UnaryOp::Negative: apply(in, out, n, [](auto, auto v) { return hn::Neg(v); }); return true;
    case UnaryOp::Square: apply(in, out, n, [](auto, auto v) { return hn::Mul(v, v); }); return true;
    case UnaryOp::Sigmoid:
      apply_checked<math::Sigmoid>(in, out, n, [](auto d, auto v) {
        // 1 / (1 + exp(-x)), with exp(-x) computed where it cannot overflow.
        auto one = hn::Set(d, T(1));
        auto e = hn::Exp(d, hn::Neg(hn::Abs(v)));
        auto pos = hn::Div(one, hn::Add(one, e));
        // For x < 0, e / (1 + e): 1 - pos would cancel to 0 for large |x|.
        return hn::IfThenElse(hn::Ge(v, hn::Zero(d)), pos, hn::Mul(e, pos));
      }, [](auto d, auto v) {  // NaN and tails where exp(-|x|) leaves the normal range go scalar
        return hn::Le(hn::Abs(v), hn::Set(d, T(sizeof(T) == 4 ? 87 : 708)));
      });
      return true;
    default: return false;
  }
}

bool SimdUnary(UnaryOp op, bool is_double, const void* in, void* out, size_t n) {
  if (is_double) return unary_t(op, static_cast<const double*>(in), static_cast<double*>(out), n);
  return unary_t(op, static_cast<const float*>(in), static_cast<float*>(out), n);
}

}  // namespace lazuli::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lazuli::cpu {
HWY_EXPORT(SimdUnary);

bool simd_supported(UnaryOp op) {
  float x = 1.f;
  return HWY_DYNAMIC_DISPATCH(SimdUnary)(op, false, &x, &x, 0);
}

void simd_unary(UnaryOp op, Dtype dtype, const void* in, void* out, size_t n) {
  bool is_double = dtype == float64;
  size_t item = dtype.size;
  parallel_for(static_cast<int64_t>(n), kGrain, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(SimdUnary)(op, is_double, static_cast<const char*>(in) + b * item,
                                    static_cast<char*>(out) + b * item, static_cast<size_t>(e - b));
  });
}
}  // namespace lazuli::cpu
#endif
