// Highway's vector math for the hot transcendental functions. AVX-512 (16 float lanes, what
// current x86 servers have), AVX2, SSE4 and the baseline are built; the other targets are
// left out to keep this file quick to compile.
#define HWY_DISABLED_TARGETS (HWY_AVX3_DL | HWY_SSSE3)
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

// ---- erf and erfinv ----------------------------------------------------------------------
// Our own fits (relative least squares on Chebyshev nodes in 50-digit arithmetic, by
// mpmath), coefficients from the highest degree down for Horner's rule:
//   |x| < 1:  erf(x)  = x P(x^2)
//   |x| >= 1: erfc(x) = exp(-x^2) R(1/x)  (R ~ erfcx, smooth and slowly varying), and
//             erf(x) = 1 - erfc(x) until erfc(x) drops below half an ulp of 1 (x >= 4 for
//             float32, 6 for float64); float64 splits R at 2.5.
//   erfinv(y) = y p(w), w = -log((1 - y)(1 + y)), p a polynomial in w - 2.5 for w < 5, else
//             in sqrt(w) - 3 (Giles' scheme, our coefficients); float64 then takes one
//             Halley step on erf(x) = y (erfc(x) = 1 - y in the tail, where 1 - y is exact).
// ErfSmall32: max relative error of the fit 1.2e-9
constexpr float kErfSmall32[] = {7.847259127e-5f, -0.0008008189323f, 0.005188098889f, -0.02685369110f, 0.1128358225f, -0.3761262557f, 0.1283791671f};  // the last is 2/sqrt(pi) - 1: see ErfSmallRatio
// ErfcTail32: max relative error of the fit 1.7e-8; variable 1/x - 0.625
constexpr float kErfcTail32[] = {0.02967723592f, -0.007066989337f, -0.02808263107f, 0.04465386903f, -0.04682009162f, 0.02325898723f, 0.04376211707f, -0.1723935196f, 0.3822838229f, 0.3059529889f};
// ErfInvCentral32: max relative error of the fit 2.6e-9
constexpr float kErfInvCentral32[] = {3.657043771e-10f, -8.748171286e-9f, 1.757296362e-8f, 4.655460625e-7f, -3.432122698e-6f, -4.960293771e-6f, 0.0002182772237f, -0.001252747460f, -0.004177335343f, 0.2466402889f, 1.501409353f};
// ErfInvCentral64: max relative error of the fit 2.6e-9
constexpr double kErfInvCentral64[] = {3.65704377062993995809e-10, -8.74817128643586836538e-9, 1.75729636205098924911e-8, 4.65546062530301039923e-7, -0.00000343212269835772844558, -0.00000496029377127688545216, 0.000218277223728033236656, -0.00125274746045879792374, -0.00417733534252850308423, 0.246640288940860203648, 1.50140935303648287701};
// ErfInvTail32: max relative error of the fit 1.7e-9
constexpr float kErfInvTail32[] = {-2.957772416e-5f, 0.0001615393863f, -0.0002779170066f, -0.0001216065885f, 0.001475640495f, -0.003566230552f, 0.005687526789f, -0.007642944469f, 0.009445316954f, 1.001675247f, 2.832976801f};
// ErfInvTail64: max relative error of the fit 3.1e-8
constexpr double kErfInvTail64[] = {-4.11435947283158562901e-7, 0.00000656073849121266618467, -0.0000433577878071841658876, 0.000147426037750794519875, -0.000229751319743661145243, -0.000125786190312186580693, 0.00142943288068228290530, -0.00355310402957673059949, 0.00570542656873351298531, -0.00764766854159845432856, 0.00944263916554058477027, 1.00167558879346768335, 2.83297687384146374271};
// ErfSmall64: max relative error of the fit 1.3e-19
constexpr double kErfSmall64[] = {5.94350823398178282572e-11, -1.13646075206056004976e-9, 1.46576001657785584334e-8, -1.63499827418976883038e-7, 0.00000164609687219756004969, -0.0000149255932459235017654, 0.000120553310257937976613, -0.000854832697843069396526, 0.00522397762477531913935, -0.0268661706450723108797, 0.112837916709548543082, -0.376126389031837475360, 0.12837916709551257390};  // 2/sqrt(pi) - 1
// ErfcFar64: max relative error of the fit 7.5e-19; variable 1/x - 0.283333333333333333333
constexpr double kErfcFar64[] = {7.69875548813982868176, -5.29387052457283301640, 1.16368167845955082144, 0.980779248488195199253, -1.29319433349812107367, 0.697461949375214491858, -0.0204521621147294804854, -0.324358323319326334021, 0.304604025248582789532, -0.0890931496391344410713, -0.121864675732628212529, 0.194088112235718572426, -0.0857553699163377556262, -0.171306146688410040900, 0.507031019978494740170, 0.154087411169192187290};
// ErfcNear64: max relative error of the fit 1.9e-19; variable 1/x - 0.7
constexpr double kErfcNear64[] = {0.00203520059816052155959, -0.00753790858532344037663, 0.0101374014140543724594, -0.00881297144715408481076, 0.00587204635658149565236, -0.00168709950578522372048, -0.00345769862657776148689, 0.00848083167919993157031, -0.0120401099599420268105, 0.0128159933663055367638, -0.00974143904618935550328, 0.00236230012346104045858, 0.00871005121347777520900, -0.0212705063866361526916, 0.0309222843204207515705, -0.0304213279638295960069, 0.00897882831615242119520, 0.0484597324931088165681, -0.161938452190433706083, 0.357195661469207531625, 0.333673652541460308757};

// 1/x - the centre of each R's interval (the fits' variable).
constexpr float kErfcTail32Centre = 0.625f;
constexpr double kErfcFar64Centre = 0.283333333333333333333, kErfcNear64Centre = 0.7;

// Horner's rule on coefficients from the highest degree down.
template <class D, typename T, size_t N>
HWY_INLINE hn::Vec<D> Poly(D d, hn::Vec<D> x, const T (&c)[N]) {
  auto r = hn::Set(d, c[0]);
  for (size_t k = 1; k < N; ++k) r = hn::MulAdd(r, x, hn::Set(d, c[k]));
  return r;
}

// exp(-a^2) without the error of rounding a^2: a^2 = hi + lo exactly (an FMA), and
// exp(-hi - lo) = exp(-hi) (1 - lo) to within lo^2. Needs 0 <= a <= 6.
template <class D>
HWY_INLINE hn::Vec<D> ExpNegSquare(D d, hn::Vec<D> a) {
  auto hi = hn::Mul(a, a);
  auto lo = hn::MulSub(a, a, hi);
  auto e = hn::Exp(d, hn::Neg(hi));
  return hn::NegMulAdd(e, lo, e);
}

// erfc(a) for 1 <= a <= the bound where erf rounds to 1, given e = exp(-a^2).
template <class D>
HWY_INLINE hn::Vec<D> ErfcTail(D d, hn::Vec<D> a, hn::Vec<D> e) {
  using T = hn::TFromD<D>;
  auto inv = hn::Div(hn::Set(d, T(1)), a);
  if constexpr (sizeof(T) == 4) {
    return hn::Mul(e, Poly(d, hn::Sub(inv, hn::Set(d, kErfcTail32Centre)), kErfcTail32));
  } else {
    auto near = hn::Lt(a, hn::Set(d, 2.5));
    hn::Vec<D> r;
    if (hn::AllTrue(d, near)) {
      r = Poly(d, hn::Sub(inv, hn::Set(d, kErfcNear64Centre)), kErfcNear64);
    } else if (hn::AllFalse(d, near)) {
      r = Poly(d, hn::Sub(inv, hn::Set(d, kErfcFar64Centre)), kErfcFar64);
    } else {
      r = hn::IfThenElse(near, Poly(d, hn::Sub(inv, hn::Set(d, kErfcNear64Centre)), kErfcNear64),
                         Poly(d, hn::Sub(inv, hn::Set(d, kErfcFar64Centre)), kErfcFar64));
    }
    return hn::Mul(e, r);
  }
}

// erf(a) / a - 1 for |a| < 1, as a polynomial in a^2. The fits' constant terms hold
// 2/sqrt(pi) - 1: erf(a) = a + a q rounds only the smaller term a q, which keeps float32
// within an ulp where a (2/sqrt(pi) + ...) would round twice at full size.
template <class D>
HWY_INLINE hn::Vec<D> ErfSmallRatio(D d, hn::Vec<D> a2) {
  if constexpr (sizeof(hn::TFromD<D>) == 4) return Poly(d, a2, kErfSmall32);
  else return Poly(d, a2, kErfSmall64);
}

template <class D>
HWY_INLINE hn::Vec<D> Erf(D d, hn::Vec<D> x) {
  using T = hn::TFromD<D>;
  const auto one = hn::Set(d, T(1));
  const auto bound = hn::Set(d, T(sizeof(T) == 4 ? 4 : 6));
  auto a = hn::Abs(x);
  auto small = hn::Lt(a, one);
  hn::Vec<D> r;
  if (hn::AllTrue(d, small)) {
    r = hn::MulAdd(a, ErfSmallRatio(d, hn::Mul(a, a)), a);
  } else {
    auto t = hn::Min(hn::Max(a, one), bound);  // in the tail's range whatever a is (NaN too)
    auto tail = hn::Sub(one, ErfcTail(d, t, ExpNegSquare(d, t)));
    r = hn::IfThenElse(hn::Ge(a, bound), one, tail);
    if (!hn::AllFalse(d, small)) r = hn::IfThenElse(small, hn::MulAdd(a, ErfSmallRatio(d, hn::Mul(a, a)), a), r);
    r = hn::IfThenElse(hn::IsNaN(x), x, r);
  }
  return hn::CopySign(r, x);  // erf is odd; keeps -0
}

// For |y| < 1 (the caller sends the rest to the scalar functor). float32 runs this in
// float64 lanes (apply_checked_in_double): its own float32 evaluation is 3 ulp off.
template <class D>
HWY_INLINE hn::Vec<D> ErfInv(D d, hn::Vec<D> y) {
  using T = hn::TFromD<D>;
  const auto one = hn::Set(d, T(1));
  auto a = hn::Abs(y);
  auto w = hn::Neg(hn::Log(d, hn::Mul(hn::Sub(one, a), hn::Add(one, a))));
  auto central = hn::Lt(w, hn::Set(d, T(5)));
  auto central_p = [&] {
    auto v = hn::Sub(w, hn::Set(d, T(2.5)));
    if constexpr (sizeof(T) == 4) return Poly(d, v, kErfInvCentral32);
    else return Poly(d, v, kErfInvCentral64);
  };
  auto tail_p = [&] {
    auto v = hn::Sub(hn::Sqrt(w), hn::Set(d, T(3)));
    if constexpr (sizeof(T) == 4) return Poly(d, v, kErfInvTail32);
    else return Poly(d, v, kErfInvTail64);
  };
  hn::Vec<D> p;
  if (hn::AllTrue(d, central)) p = central_p();
  else if (hn::AllFalse(d, central)) p = tail_p();
  else p = hn::IfThenElse(central, central_p(), tail_p());
  auto x = hn::Mul(p, a);
  if constexpr (sizeof(T) == 8) {
    // Halley's step for f(x) = erf(x) - a: x -= f / (f' + x f), as f'' = -2x f'. The
    // starting error (~3e-8) cubed is far below an ulp. In the tail f = (1 - a) - erfc(x),
    // both terms accurate, so the step is as good near a = 1 as near 0.
    auto e = ExpNegSquare(d, hn::Min(x, hn::Set(d, T(6))));
    auto near_zero = hn::Lt(x, one);
    hn::Vec<D> f;
    if (hn::AllTrue(d, near_zero)) {
      f = hn::MulAdd(x, ErfSmallRatio(d, hn::Mul(x, x)), hn::Sub(x, a));
    } else {
      f = hn::Sub(hn::Sub(one, a), ErfcTail(d, hn::Max(x, one), e));
      if (!hn::AllFalse(d, near_zero)) f = hn::IfThenElse(near_zero, hn::MulAdd(x, ErfSmallRatio(d, hn::Mul(x, x)), hn::Sub(x, a)), f);
    }
    auto fprime = hn::Mul(hn::Set(d, T(1.1283791670955126)), e);
    x = hn::Sub(x, hn::Div(f, hn::MulAdd(x, f, fprime)));
  }
  return hn::CopySign(x, y);
}

// As apply_checked for float32 data computed in float64 lanes, a vector of doubles at a time.
template <typename S, typename F, typename Ok>
void apply_checked_in_double(const float* in, float* out, size_t n, F f, Ok ok) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const size_t lanes = hn::Lanes(dd);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto v = hn::PromoteTo(dd, hn::LoadU(df, in + i));
    if (HWY_LIKELY(hn::AllTrue(dd, ok(dd, v)))) {
      hn::StoreU(hn::DemoteTo(df, f(dd, v)), df, out + i);
    } else {
      for (size_t k = 0; k < lanes; ++k) out[i + k] = S{}(in[i + k]);
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
    case UnaryOp::Erf: apply(in, out, n, [](auto d, auto v) { return Erf(d, v); }); return true;
    case UnaryOp::ErfInv: {  // +-1, beyond and NaN go to the scalar functor
      auto f = [](auto d, auto v) { return ErfInv(d, v); };
      auto ok = [](auto d, auto v) { return hn::Lt(hn::Abs(v), hn::Set(d, 1.0)); };
      if constexpr (sizeof(T) == 4) apply_checked_in_double<math::ErfInv>(in, out, n, f, ok);
      else apply_checked<math::ErfInv>(in, out, n, f, ok);
      return true;
    }
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

void simd_unary_serial(UnaryOp op, Dtype dtype, const void* in, void* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(SimdUnary)(op, dtype == float64, in, out, n);
}

void simd_unary(UnaryOp op, Dtype dtype, const void* in, void* out, size_t n) {
  size_t item = dtype.size;
  parallel_for(static_cast<int64_t>(n), kGrain, [&](int64_t b, int64_t e) {
    simd_unary_serial(op, dtype, static_cast<const char*>(in) + b * item, static_cast<char*>(out) + b * item,
                      static_cast<size_t>(e - b));
  });
}
}  // namespace lazuli::cpu
#endif
