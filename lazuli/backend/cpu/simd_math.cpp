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

template <typename T>
bool unary_t(UnaryOp op, const T* in, T* out, size_t n) {
  switch (op) {
#define LAZULI_HWY_CASE(Op, Fn) \
  case UnaryOp::Op: apply(in, out, n, [](auto d, auto v) { return hn::Fn(d, v); }); return true;
    LAZULI_HWY_CASE(Exp, Exp)
    LAZULI_HWY_CASE(Expm1, Expm1)
    LAZULI_HWY_CASE(Log, Log)
    LAZULI_HWY_CASE(Log1p, Log1p)
    LAZULI_HWY_CASE(Log2, Log2)
    LAZULI_HWY_CASE(Log10, Log10)
    LAZULI_HWY_CASE(Tanh, Tanh)
    LAZULI_HWY_CASE(Sinh, Sinh)
    LAZULI_HWY_CASE(ArcSinh, Asinh)
    LAZULI_HWY_CASE(ArcCosh, Acosh)
    LAZULI_HWY_CASE(ArcTanh, Atanh)
    LAZULI_HWY_CASE(ArcSin, Asin)
    LAZULI_HWY_CASE(ArcCos, Acos)
    LAZULI_HWY_CASE(ArcTan, Atan)
#undef LAZULI_HWY_CASE
    case UnaryOp::Sqrt: apply(in, out, n, [](auto, auto v) { return hn::Sqrt(v); }); return true;
    case UnaryOp::Abs: apply(in, out, n, [](auto, auto v) { return hn::Abs(v); }); return true;
    case UnaryOp::Negative: apply(in, out, n, [](auto, auto v) { return hn::Neg(v); }); return true;
    case UnaryOp::Square: apply(in, out, n, [](auto, auto v) { return hn::Mul(v, v); }); return true;
    case UnaryOp::Sigmoid:
      apply(in, out, n, [](auto d, auto v) {
        // 1 / (1 + exp(-x)), with exp(-x) computed where it cannot overflow.
        auto one = hn::Set(d, T(1));
        auto e = hn::Exp(d, hn::Neg(hn::Abs(v)));
        auto pos = hn::Div(one, hn::Add(one, e));
        return hn::IfThenElse(hn::Ge(v, hn::Zero(d)), pos, hn::Sub(one, pos));
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
