// CPU: the FFT primitive. Our own transform engine:
// - Complex lengths factor into radices 4, 2, 3, 5 and other odd primes, run as a Stockham
//   autosort FFT: each stage reads one buffer and writes the other in natural order, so no
//   bit reversal. Each stage's twiddles are computed once in double precision and kept in
//   a plan cached per length.
// - A length with a prime factor above kMaxRadix runs Bluestein's algorithm: the DFT as a
//   circular convolution with a chirp, done by FFTs of a 2/3/5-smooth length >= 2n - 1.
// - Real transforms of even length pack the n reals as n/2 complex numbers, transform
//   those, and separate the spectra of the even and odd samples (the inverse does the
//   reverse). Odd lengths go through the complex transform.
// - The radix 2/3/4/5 stages are vectorised with Highway (run-time dispatch; complex
//   numbers de-interleaved into real and imaginary vectors on load): over the stage's
//   stride where it holds a vector, over the butterflies in a line's first stage.
// - A line that is contiguous in the input and output is transformed where it lies. Lines
//   along a strided axis are gathered in blocks of B, interleaved ([length][B]), so that
//   one pass transforms all B at once with B-wide inner loops. Lines (or blocks) run in
//   parallel; a single long line splits each stage over the threads instead.
#define HWY_DISABLED_TARGETS (HWY_AVX3 | HWY_AVX3_DL | HWY_SSSE3)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "lazuli/backend/cpu/fft.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#ifndef LAZULI_FFT_SHARED
#define LAZULI_FFT_SHARED
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/fft.h"

namespace lazuli::cpu::fft_engine {

struct cf {
  float re, im;
};
inline cf operator+(cf a, cf b) { return {a.re + b.re, a.im + b.im}; }
inline cf operator-(cf a, cf b) { return {a.re - b.re, a.im - b.im}; }
inline cf operator*(cf a, float s) { return {a.re * s, a.im * s}; }
inline cf mul(cf a, cf b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
inline cf conj(cf a) { return {a.re, -a.im}; }

constexpr int kMaxRadix = 61;  // larger prime factors go to Bluestein

// One Stockham stage. Per line the current sub-length is radix * m, interleaved with
// stride s (s * radix * m == n); B interleaved lines multiply every stride by B.
struct Stage {
  int radix;
  int64_t m, s;
  std::vector<cf> tw;         // tw[p * (radix - 1) + k - 1] = w_{radix m}^{p k}
  // The first stage (s == 1) again, by k and split: re_by_k[(k - 1) * m + p] (and im).
  std::vector<float> re_by_k, im_by_k;
  std::vector<float> cs, sn;  // odd radix > 5: cos / sin of 2 pi jk / radix
};

struct Plan {
  int64_t n = 0;
  std::vector<Stage> stages;
  // Bluestein: chirp w_j = e^{-pi i j^2 / n}, and the FFT of the convolution kernel
  // conj(w) (wrapped to length m), scaled by 1/m.
  std::shared_ptr<const Plan> sub;
  std::vector<cf> chirp, kernel;
};

// ---- scalar complex helpers (the butterflies are below, per instruction set) -------------

template <bool Inv>
inline cf quarter(cf a) {
  if constexpr (Inv) return {-a.im, a.re};
  else return {a.im, -a.re};
}
// a * w forward, a * conj(w) inverse.
template <bool Inv>
inline cf twiddle(cf a, cf w) {
  if constexpr (Inv) return {a.re * w.re + a.im * w.im, a.im * w.re - a.re * w.im};
  else return mul(a, w);
}

// Odd radix r: the pairs (j, r - j) share their cosines and sines.
template <bool Inv>
inline void dft_odd(cf* a, int r, const float* cs, const float* sn) {
  cf sum[kMaxRadix], dif[kMaxRadix], out[kMaxRadix];
  const int h = (r - 1) / 2;
  cf dc = a[0];
  for (int j = 1; j <= h; ++j) {
    sum[j] = a[j] + a[r - j];
    dif[j] = a[j] - a[r - j];
    dc = dc + sum[j];
  }
  out[0] = dc;
  for (int k = 1; k <= h; ++k) {
    cf re = a[0], im{0, 0};
    for (int j = 1; j <= h; ++j) {
      re = re + sum[j] * cs[j * r + k];
      im = im + dif[j] * sn[j * r + k];
    }
    cf u = quarter<Inv>(im);
    out[k] = re + u;
    out[r - k] = re - u;
  }
  for (int k = 0; k < r; ++k) a[k] = out[k];
}

template <bool Inv>
void stage_generic(const Stage& st, const cf* x, cf* y, int64_t S, int64_t p0, int64_t p1) {
  const int r = st.radix;
  const int64_t m = st.m;
  for (int64_t p = p0; p < p1; ++p) {
    const cf* w = st.tw.data() + p * (r - 1);
    for (int64_t q = 0; q < S; ++q) {
      cf a[kMaxRadix];
      for (int j = 0; j < r; ++j) a[j] = x[q + S * (p + j * m)];
      dft_odd<Inv>(a, r, st.cs.data(), st.sn.data());
      cf* yp = y + q + S * r * p;
      yp[0] = a[0];
      for (int k = 1; k < r; ++k) yp[k * S] = twiddle<Inv>(a[k], w[k - 1]);
    }
  }
}

}  // namespace lazuli::cpu::fft_engine
#endif  // LAZULI_FFT_SHARED

// ---- vectorised stages (compiled once per instruction set) --------------------------------
HWY_BEFORE_NAMESPACE();
namespace lazuli::cpu::fft_engine::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;

// Lanes of complex numbers, split into real and imaginary parts.
template <class V>
struct VC {
  V re, im;
};
template <class V>
HWY_INLINE VC<V> operator+(VC<V> a, VC<V> b) {
  return {hn::Add(a.re, b.re), hn::Add(a.im, b.im)};
}
template <class V>
HWY_INLINE VC<V> operator-(VC<V> a, VC<V> b) {
  return {hn::Sub(a.re, b.re), hn::Sub(a.im, b.im)};
}
template <class V>
HWY_INLINE VC<V> operator*(VC<V> a, float s) {
  const V v = hn::Set(hn::DFromV<V>(), s);
  return {hn::Mul(a.re, v), hn::Mul(a.im, v)};
}
template <bool Inv, class V>
HWY_INLINE VC<V> quarter(VC<V> a) {
  if constexpr (Inv) return {hn::Neg(a.im), a.re};
  else return {a.im, hn::Neg(a.re)};
}
// a * w; the caller conjugates w for the inverse. No fused multiply-adds (and the file is
// built without contraction): the vector and scalar paths round alike, so a line's result
// does not depend on how many lines it is batched with.
template <class V>
HWY_INLINE VC<V> times(VC<V> a, V wr, V wi) {
  return {hn::Sub(hn::Mul(a.re, wr), hn::Mul(a.im, wi)), hn::Add(hn::Mul(a.re, wi), hn::Mul(a.im, wr))};
}

// Butterflies, written once for scalars (cf) and vectors (VC): a[j] (j < R) ->
// b[k] = sum_j a[j] w_R^{jk}, in place; w_R = e^{-2 pi i / R} forward, its conjugate for
// the inverse.
template <bool Inv, typename C>
HWY_INLINE void dft2(C* a) {
  C t = a[0] - a[1];
  a[0] = a[0] + a[1];
  a[1] = t;
}
template <bool Inv, typename C>
HWY_INLINE void dft3(C* a) {
  constexpr float h = 0.86602540378443864676f;  // sin(2 pi / 3)
  C t1 = a[1] + a[2];
  C t2 = a[0] - t1 * 0.5f;
  C t3 = quarter<Inv>(a[1] - a[2]) * h;
  a[0] = a[0] + t1;
  a[1] = t2 + t3;
  a[2] = t2 - t3;
}
template <bool Inv, typename C>
HWY_INLINE void dft4(C* a) {
  C t0 = a[0] + a[2], t1 = a[0] - a[2], t2 = a[1] + a[3], t3 = quarter<Inv>(a[1] - a[3]);
  a[0] = t0 + t2;
  a[2] = t0 - t2;
  a[1] = t1 + t3;
  a[3] = t1 - t3;
}
template <bool Inv, typename C>
HWY_INLINE void dft5(C* a) {
  constexpr float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;  // cos(2 pi / 5), cos(4 pi / 5)
  constexpr float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;   // sin(2 pi / 5), sin(4 pi / 5)
  C t1 = a[1] + a[4], t2 = a[2] + a[3], t3 = a[1] - a[4], t4 = a[2] - a[3];
  C r1 = a[0] + t1 * c1 + t2 * c2, r2 = a[0] + t1 * c2 + t2 * c1;
  C u1 = quarter<Inv>(t3 * s1 + t4 * s2), u2 = quarter<Inv>(t3 * s2 - t4 * s1);
  a[0] = a[0] + t1 + t2;
  a[1] = r1 + u1;
  a[4] = r1 - u1;
  a[2] = r2 + u2;
  a[3] = r2 - u2;
}
template <bool Inv, int R, typename C>
HWY_INLINE void dft_fixed(C* a) {
  if constexpr (R == 2) dft2<Inv>(a);
  else if constexpr (R == 3) dft3<Inv>(a);
  else if constexpr (R == 4) dft4<Inv>(a);
  else dft5<Inv>(a);
}

// Scalar stage over p in [p0, p1) with interleave S (= stage stride * lines):
// y[q + S (R p + k)] = w^{pk} DFT_R(x[q + S (p + j m)])_k.
template <bool Inv, int R>
void stage_scalar(const Stage& st, const cf* x, cf* y, int64_t S, int64_t q0, int64_t p0, int64_t p1) {
  const int64_t m = st.m;
  for (int64_t p = p0; p < p1; ++p) {
    const cf* w = st.tw.data() + p * (R - 1);
    for (int64_t q = q0; q < S; ++q) {
      cf a[R];
      for (int j = 0; j < R; ++j) a[j] = x[q + S * (p + j * m)];
      dft_fixed<Inv, R>(a);
      cf* yp = y + q + S * R * p;
      yp[0] = a[0];
      for (int k = 1; k < R; ++k) yp[k * S] = twiddle<Inv>(a[k], w[k - 1]);
    }
  }
}

// Vectorised over q (S >= lanes of DT): each load takes lanes consecutive q of one input.
template <bool Inv, int R, class DT>
void stage_vec(DT d, const Stage& st, const cf* x, cf* y, int64_t S, int64_t p0, int64_t p1) {
  using V = hn::Vec<DT>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t m = st.m, vec_end = S - S % N;
  for (int64_t p = p0; p < p1; ++p) {
    const cf* w = st.tw.data() + p * (R - 1);
    V wr[R], wi[R];
    for (int k = 1; k < R; ++k) {
      wr[k] = hn::Set(d, w[k - 1].re);
      wi[k] = hn::Set(d, Inv ? -w[k - 1].im : w[k - 1].im);
    }
    const cf* xp = x + S * p;
    cf* yp = y + S * R * p;
    for (int64_t q = 0; q < vec_end; q += N) {
      VC<V> a[R];
      for (int j = 0; j < R; ++j)
        hn::LoadInterleaved2(d, reinterpret_cast<const float*>(xp + q + S * m * j), a[j].re, a[j].im);
      dft_fixed<Inv, R>(a);
      hn::StoreInterleaved2(a[0].re, a[0].im, d, reinterpret_cast<float*>(yp + q));
      for (int k = 1; k < R; ++k) {
        VC<V> b = times(a[k], wr[k], wi[k]);
        hn::StoreInterleaved2(b.re, b.im, d, reinterpret_cast<float*>(yp + q + S * k));
      }
    }
    if (vec_end < S) stage_scalar<Inv, R>(st, x, y, S, vec_end, p, p + 1);
  }
}

// The first stage of a single line (S == 1), vectorised over p instead: the inputs
// x[p + j m] are consecutive in p, the twiddles come from the stage's table by k
// (re_by_k, im_by_k), and the R outputs of each p (y[R p + k]) are interleaved as
// 64-bit complex lanes.
template <bool Inv, int R>
void stage_first(const Stage& st, const cf* x, cf* y, int64_t p0, int64_t p1) {
#if HWY_TARGET == HWY_SCALAR
  stage_scalar<Inv, R>(st, x, y, 1, 0, p0, p1);
#else
  const D d;
  const hn::Repartition<double, D> d64;  // one complex number per lane
  using V = hn::Vec<D>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), H = N / 2;
  const int64_t m = st.m;
  const float* tr = st.re_by_k.data();
  const float* ti = st.im_by_k.data();
  HWY_ALIGN float buf[R][2 * hn::MaxLanes(d)];
  int64_t p = p0;
  for (; p + N <= p1; p += N) {
    VC<V> a[R];
    for (int j = 0; j < R; ++j) hn::LoadInterleaved2(d, reinterpret_cast<const float*>(x + p + j * m), a[j].re, a[j].im);
    dft_fixed<Inv, R>(a);
    hn::StoreInterleaved2(a[0].re, a[0].im, d, buf[0]);
    for (int k = 1; k < R; ++k) {
      const V wr = hn::LoadU(d, tr + (k - 1) * m + p);
      const V wi = Inv ? hn::Neg(hn::LoadU(d, ti + (k - 1) * m + p)) : hn::LoadU(d, ti + (k - 1) * m + p);
      VC<V> b = times(a[k], wr, wi);
      hn::StoreInterleaved2(b.re, b.im, d, buf[k]);
    }
    double* out = reinterpret_cast<double*>(y + R * p);
    for (int64_t h = 0; h < 2; ++h) {
      auto v = [&](int k) { return hn::Load(d64, reinterpret_cast<const double*>(buf[k]) + h * H); };
      if constexpr (R == 2) hn::StoreInterleaved2(v(0), v(1), d64, out + h * H * R);
      else if constexpr (R == 3) hn::StoreInterleaved3(v(0), v(1), v(2), d64, out + h * H * R);
      else hn::StoreInterleaved4(v(0), v(1), v(2), v(3), d64, out + h * H * R);
    }
  }
  if (p < p1) stage_scalar<Inv, R>(st, x, y, 1, 0, p, p1);
#endif
}

template <bool Inv>
void run_stage_t(const Stage& st, const cf* x, cf* y, int64_t S, int64_t p0, int64_t p1) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const hn::CappedTag<float, 4> d4;
  switch (st.radix) {
#define LAZULI_FFT_RADIX(R)                                                              \
  case R:                                                                                \
    if (S >= N) return stage_vec<Inv, R>(d, st, x, y, S, p0, p1);                        \
    if (S >= 4 && N > 4) return stage_vec<Inv, R>(d4, st, x, y, S, p0, p1);              \
    if (S == 1 && R <= 4 && !st.re_by_k.empty()) return stage_first<Inv, R>(st, x, y, p0, p1); \
    return stage_scalar<Inv, R>(st, x, y, S, 0, p0, p1);
    LAZULI_FFT_RADIX(2)
    LAZULI_FFT_RADIX(3)
    LAZULI_FFT_RADIX(4)
    LAZULI_FFT_RADIX(5)
#undef LAZULI_FFT_RADIX
    default: return stage_generic<Inv>(st, x, y, S, p0, p1);
  }
}

// out[j] = c2(c1(a[j]) * w[j]) for j < n, where c1 and c2 conjugate when asked.
void MulChirp(const cf* a, const cf* w, cf* out, int64_t n, bool conj_in, bool conj_out) {
  const D d;
  using V = hn::Vec<D>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t j = 0;
  for (; j + N <= n; j += N) {
    VC<V> x, c;
    hn::LoadInterleaved2(d, reinterpret_cast<const float*>(a + j), x.re, x.im);
    hn::LoadInterleaved2(d, reinterpret_cast<const float*>(w + j), c.re, c.im);
    if (conj_in) x.im = hn::Neg(x.im);
    VC<V> r = times(x, c.re, c.im);
    if (conj_out) r.im = hn::Neg(r.im);
    hn::StoreInterleaved2(r.re, r.im, d, reinterpret_cast<float*>(out + j));
  }
  for (; j < n; ++j) {
    cf r = mul(conj_in ? conj(a[j]) : a[j], w[j]);
    out[j] = conj_out ? conj(r) : r;
  }
}

void RunStage(const Stage& st, const cf* x, cf* y, int64_t S, int64_t p0, int64_t p1, bool inverse) {
  if (inverse) run_stage_t<true>(st, x, y, S, p0, p1);
  else run_stage_t<false>(st, x, y, S, p0, p1);
}

}  // namespace lazuli::cpu::fft_engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lazuli {
namespace cpu::fft_engine {
HWY_EXPORT(RunStage);
HWY_EXPORT(MulChirp);

namespace {

constexpr int64_t kSplitStages = 1 << 15;  // a single line this long splits its stages
constexpr size_t kCachedPlans = 64;        // lengths whose plans are kept
constexpr int64_t kMaxBlock = 32;          // strided lines transformed together

cf unit(double turns) {  // e^{-2 pi i turns}
  double a = -2.0 * M_PI * turns;
  return {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))};
}

std::vector<int> factorize(int64_t n) {
  std::vector<int> f;
  while (n % 4 == 0) f.push_back(4), n /= 4;
  if (n % 2 == 0) f.push_back(2), n /= 2;
  for (int p = 3; n > 1 && p <= kMaxRadix; p += 2)
    while (n % p == 0) f.push_back(p), n /= p;
  if (n > 1) f.clear();  // a large prime factor remains
  return f;
}

// The smallest n' >= n of the form 2^a 3^b 5^c with 2^a >= min(64, n'): the factors 4
// and 2 run first, so every later stage's stride is a multiple of 16 (whole vectors).
int64_t smooth_at_least(int64_t n) {
  int64_t best = 1;
  while (best < n) best *= 2;
  for (int64_t p5 = 1; p5 < best; p5 *= 5)
    for (int64_t p35 = p5; p35 < best; p35 *= 3) {
      int64_t v = p35 * 64;
      while (v < n) v *= 2;
      best = std::min(best, v);
    }
  return best;
}

std::shared_ptr<const Plan> get_plan(int64_t n);
// Unnormalised transform of `lines` interleaved lines ([n][lines]) of x into out; `work`
// holds as many points. x may be out.
void run_plan(const Plan& plan, const cf* x, cf* out, cf* work, int64_t lines, bool inverse, bool split);

std::shared_ptr<const Plan> make_plan(int64_t n) {
  auto plan = std::make_shared<Plan>();
  plan->n = n;
  std::vector<int> radices = n == 1 ? std::vector<int>{} : factorize(n);
  if (n > 1 && radices.empty()) {
    const int64_t m = smooth_at_least(2 * n - 1);
    plan->sub = get_plan(m);
    plan->chirp.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      // j^2 mod 2n keeps the angle small (and exact) for large j.
      int64_t q = static_cast<int64_t>((static_cast<unsigned __int128>(j) * j) % (2 * n));
      plan->chirp[j] = unit(static_cast<double>(q) / (2.0 * n));
    }
    std::vector<cf> b(m, cf{0, 0}), work(m);
    for (int64_t j = 0; j < n; ++j) {
      b[j] = conj(plan->chirp[j]);
      if (j > 0) b[m - j] = conj(plan->chirp[j]);
    }
    plan->kernel.resize(m);
    run_plan(*plan->sub, b.data(), plan->kernel.data(), work.data(), 1, false, false);
    for (auto& v : plan->kernel) v = v * (1.0f / static_cast<float>(m));
    return plan;
  }
  int64_t s = 1, len = n;
  for (int r : radices) {
    Stage st;
    st.radix = r;
    st.m = len / r;
    st.s = s;
    st.tw.resize(st.m * (r - 1));
    for (int64_t p = 0; p < st.m; ++p)
      for (int k = 1; k < r; ++k) st.tw[p * (r - 1) + k - 1] = unit(static_cast<double>(p * k) / len);
    if (s == 1 && r <= 4) {
      st.re_by_k.resize(st.m * (r - 1)), st.im_by_k.resize(st.m * (r - 1));
      for (int64_t p = 0; p < st.m; ++p)
        for (int k = 1; k < r; ++k) {
          st.re_by_k[(k - 1) * st.m + p] = st.tw[p * (r - 1) + k - 1].re;
          st.im_by_k[(k - 1) * st.m + p] = st.tw[p * (r - 1) + k - 1].im;
        }
    }
    if (r > 5) {
      st.cs.resize(r * r), st.sn.resize(r * r);
      for (int j = 0; j < r; ++j)
        for (int k = 0; k < r; ++k) {
          double a = 2.0 * M_PI * ((j * k) % r) / r;
          st.cs[j * r + k] = static_cast<float>(std::cos(a));
          st.sn[j * r + k] = static_cast<float>(std::sin(a));
        }
    }
    plan->stages.push_back(std::move(st));
    s *= r;
    len /= r;
  }
  return plan;
}

std::shared_ptr<const Plan> get_plan(int64_t n) {
  static std::mutex mu;
  static std::map<int64_t, std::shared_ptr<const Plan>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(n);
    if (it != cache.end()) return it->second;
  }
  auto plan = make_plan(n);  // outside the lock: Bluestein asks for its sub-plan
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kCachedPlans) cache.clear();  // plans in use live on in their owners
  return cache.emplace(n, plan).first->second;
}


// The points one line of the plan touches (Bluestein: its convolution length).
int64_t footprint(const Plan& plan) { return plan.sub ? plan.sub->n : plan.n; }

void run_plan(const Plan& plan, const cf* x, cf* out, cf* work, int64_t lines, bool inverse, bool split) {
  const int64_t n = plan.n, L = lines;
  if (plan.sub) {
    // Bluestein: X_k = w_k sum_j (x_j w_j) conj(w_{k-j}), a circular convolution of length
    // m; the inverse is conj(forward(conj(x))).
    const Plan& sub = *plan.sub;
    const int64_t m = sub.n;
    thread_local std::vector<cf> a, b, c;
    a.resize(m * L), b.resize(m * L), c.resize(m * L);
    // Each line's points times a per-point factor w (conjugating on the way in or out).
    auto scale_lines = [&](const cf* in, const cf* w, cf* o, int64_t points, bool conj_in, bool conj_out) {
      if (L == 1) return HWY_DYNAMIC_DISPATCH(MulChirp)(in, w, o, points, conj_in, conj_out);
      for (int64_t j = 0; j < points; ++j)
        for (int64_t c = 0; c < L; ++c) {
          cf r = mul(conj_in ? conj(in[j * L + c]) : in[j * L + c], w[j]);
          o[j * L + c] = conj_out ? conj(r) : r;
        }
    };
    scale_lines(x, plan.chirp.data(), a.data(), n, inverse, false);
    std::fill(a.begin() + n * L, a.end(), cf{0, 0});
    run_plan(sub, a.data(), b.data(), c.data(), L, false, split);
    scale_lines(b.data(), plan.kernel.data(), b.data(), m, false, false);
    run_plan(sub, b.data(), a.data(), c.data(), L, true, split);
    scale_lines(a.data(), plan.chirp.data(), out, n, false, inverse);
    return;
  }
  const size_t stages = plan.stages.size();
  if (stages == 0) {
    if (out != x) std::memcpy(out, x, sizeof(cf) * L);
    return;
  }
  // Stages alternate between `work` and `out` so that the last one writes `out`. When x is
  // out and the first stage would write out too, x moves to `work` first.
  const cf* src = x;
  if (x == out && stages % 2 == 1) {
    std::memcpy(work, x, sizeof(cf) * n * L);
    src = work;
  }
  for (size_t i = 0; i < stages; ++i) {
    const Stage& st = plan.stages[i];
    cf* dst = (stages - i) % 2 == 1 ? out : work;
    const int64_t S = st.s * L;
    if (split && n * L >= kSplitStages) {
      parallel_for(st.m, std::max<int64_t>(1, 8192 / (S * st.radix)), [&](int64_t p0, int64_t p1) {
        HWY_DYNAMIC_DISPATCH(RunStage)(st, src, dst, S, p0, p1, inverse);
      });
    } else {
      HWY_DYNAMIC_DISPATCH(RunStage)(st, src, dst, S, 0, st.m, inverse);
    }
    src = dst;
  }
}

// ---- real transforms of even length n = 2h ---------------------------------------------
// z_j = x_{2j} + i x_{2j+1} has Z = FFT_h(z); the spectra of the even and odd samples are
// E_k = (Z_k + conj Z_{h-k}) / 2 and O_k = (Z_k - conj Z_{h-k}) / 2i, and X_k = E_k + w_n^k O_k.

std::shared_ptr<const std::vector<cf>> real_twiddles(int64_t n) {  // w_n^k, k in [0, n/2]
  static std::mutex mu;
  static std::map<int64_t, std::shared_ptr<const std::vector<cf>>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kCachedPlans && !cache.count(n)) cache.clear();
  auto& slot = cache[n];
  if (!slot) {
    auto w = std::make_shared<std::vector<cf>>(n / 2 + 1);
    for (int64_t k = 0; k <= n / 2; ++k) (*w)[k] = unit(static_cast<double>(k) / n);
    slot = w;
  }
  return slot;
}

// Z: [h][L] (the packed lines' FFT) -> X: [h + 1][L].
void split_spectrum(const cf* Z, cf* X, const cf* w, int64_t h, int64_t L) {
  for (int64_t c = 0; c < L; ++c) {
    X[c] = {Z[c].re + Z[c].im, 0.f};
    X[h * L + c] = {Z[c].re - Z[c].im, 0.f};
  }
  for (int64_t k = 1; k < h; ++k)
    for (int64_t c = 0; c < L; ++c) {
      cf a = Z[k * L + c], b = conj(Z[(h - k) * L + c]);
      cf e = (a + b) * 0.5f, d = (a - b) * 0.5f;
      X[k * L + c] = e + mul(cf{d.im, -d.re}, w[k]);  // E + w^k (d / i)
    }
}

// X: [h + 1][L] (imaginary parts of X_0 and X_h ignored) -> Z: [h][L], the FFT of the
// packed lines.
void join_spectrum(const cf* X, cf* Z, const cf* w, int64_t h, int64_t L) {
  for (int64_t k = 0; k < h; ++k)
    for (int64_t c = 0; c < L; ++c) {
      cf a = X[k * L + c], b = conj(X[(h - k) * L + c]);
      if (k == 0) a.im = 0.f, b.im = 0.f;
      cf e = (a + b) * 0.5f;
      cf o = twiddle<true>((a - b) * 0.5f, w[k]);  // (a - b) conj(w^k) / 2
      Z[k * L + c] = e + cf{-o.im, o.re};           // E + i O
    }
}

// Per-thread scratch buffers that grow as needed.
cf* scratch(size_t n, int slot) {
  thread_local std::vector<cf> bufs[3];
  if (bufs[slot].size() < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

}  // namespace
}  // namespace cpu::fft_engine

using namespace cpu;
using namespace cpu::fft_engine;

void FFT::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  const int axis = axis_;
  const int64_t n = n_, h = n / 2;
  const int64_t in_len = in.shape()[axis], out_len = out.shape()[axis];
  const bool real_in = kind_ == FFTKind::RealForward, real_out = kind_ == FFTKind::RealInverse;
  const bool inverse = kind_ == FFTKind::Inverse || real_out;
  const bool packed = (real_in || real_out) && n % 2 == 0;  // the half-length trick
  auto plan = get_plan(packed ? h : n);
  std::shared_ptr<const std::vector<cf>> rw = packed ? real_twiddles(n) : nullptr;
  const int64_t len = plan->n;  // points per line of the complex transform

  const float* pf = static_cast<const float*>(const_cast<array&>(in).raw_data());
  const cf* pc = reinterpret_cast<const cf*>(pf);
  float* of = static_cast<float*>(out.raw_data());
  cf* oc = reinterpret_cast<cf*>(of);
  const int64_t in_step = in.strides()[axis], out_step = out.strides()[axis];
  const int64_t lines = static_cast<int64_t>(out.size()) / out_len;
  const float scale = inverse ? 1.0f / static_cast<float>(n) : 1.0f;

  // Lines per block: contiguous lines one at a time (read and written in place, every
  // stage vectorised); strided ones in blocks as large as keep the buffers in cache.
  int64_t block = kMaxBlock;
  while (block > 1 && block * footprint(*plan) > (int64_t{1} << 16)) block /= 2;
  block = std::min(block, lines);
  if (in_step == 1 && out_step == 1) block = 1;
  const bool split = lines < thread_count();

  const Shape& shape = in.shape();
  const int nd = static_cast<int>(shape.size());
  // Offsets (in elements) of line l: its index over the other axes, row-major.
  auto offsets = [&](int64_t l, int64_t& io, int64_t& oo) {
    io = 0, oo = 0;
    for (int d = nd - 1; d >= 0; --d) {
      if (d == axis) continue;
      int64_t i = l % shape[d];
      l /= shape[d];
      io += i * in.strides()[d];
      oo += i * out.strides()[d];
    }
  };

  const int64_t blocks = (lines + block - 1) / block;
  const int64_t cost = block * footprint(*plan) * 8;
  parallel_for(blocks, std::max<int64_t>(1, kGrain / cost), [&](int64_t b0, int64_t b1) {
    const int64_t rows = std::max(len, h + 1) + 1;
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t l0 = b * block, L = std::min(lines, l0 + block) - l0;
      int64_t io[kMaxBlock], oo[kMaxBlock];
      for (int64_t c = 0; c < L; ++c) offsets(l0 + c, io[c], oo[c]);
      cf* A = scratch(rows * L, 0);
      cf* W = scratch(rows * L, 1);
      cf* R = scratch(rows * L, 2);
      // A single line whose input (output) is contiguous is read (written) where it lies.
      const bool in_place_in = L == 1 && in_step == 1, in_place_out = L == 1 && out_step == 1;
      // Neighbouring lines (the usual case of a strided axis): rows of L elements to copy.
      bool rows_in = true, rows_out = true;
      for (int64_t c = 1; c < L; ++c) rows_in &= io[c] == io[0] + c, rows_out &= oo[c] == oo[0] + c;
      const float inv_h = 1.0f / static_cast<float>(std::max<int64_t>(h, 1));

      // 1. The complex transform's input, [points][L].
      const cf* src = A;
      if (real_in && packed) {
        if (in_place_in) src = reinterpret_cast<const cf*>(pf + io[0]);
        else
          for (int64_t j = 0; j < h; ++j)
            for (int64_t c = 0; c < L; ++c)
              A[j * L + c] = {pf[io[c] + 2 * j * in_step], pf[io[c] + (2 * j + 1) * in_step]};
      } else if (real_in) {
        for (int64_t t = 0; t < n; ++t)
          for (int64_t c = 0; c < L; ++c) A[t * L + c] = {pf[io[c] + t * in_step], 0.f};
      } else if (real_out && !packed) {
        // Odd n: the full Hermitian spectrum (X_0's imaginary part ignored).
        for (int64_t c = 0; c < L; ++c) A[c] = {pc[io[c]].re, 0.f};
        for (int64_t k = 1; k <= h; ++k)
          for (int64_t c = 0; c < L; ++c) {
            cf v = pc[io[c] + k * in_step];
            A[k * L + c] = v;
            A[(n - k) * L + c] = conj(v);
          }
      } else {
        const cf* X = pc + io[0];
        if (!in_place_in) {
          if (rows_in)
            for (int64_t t = 0; t < in_len; ++t) std::memcpy(A + t * L, pc + io[0] + t * in_step, sizeof(cf) * L);
          else
            for (int64_t t = 0; t < in_len; ++t)
              for (int64_t c = 0; c < L; ++c) A[t * L + c] = pc[io[c] + t * in_step];
          X = A;
        }
        src = X;
        if (real_out) {  // packed: fold the half spectrum into the packed lines' FFT
          join_spectrum(X, R, rw->data(), h, L);
          src = R, R = A;
        }
      }

      // 2. Transform, straight into the output where it is a contiguous complex line.
      // (An odd-length real output is narrower than the complex transform: not in place.)
      const bool transform_in_place = in_place_out && !real_in && (!real_out || packed);
      cf* res = !transform_in_place ? R : real_out ? reinterpret_cast<cf*>(of + oo[0]) : oc + oo[0];
      run_plan(*plan, src, res, W, L, inverse, split);

      // 3. Finish: separate the real input's spectra, scale the inverse, scatter.
      if (real_in && packed) {
        cf* X = in_place_out ? oc + oo[0] : A;
        split_spectrum(res, X, rw->data(), h, L);
        if (in_place_out) continue;
        res = X;
      }
      if (transform_in_place) {
        if (real_out) {
          float* x = of + oo[0];
          for (int64_t t = 0; t < n; ++t) x[t] *= inv_h;
        } else if (scale != 1.0f) {
          for (int64_t t = 0; t < n; ++t) res[t] = res[t] * scale;
        }
      } else if (real_out) {
        if (packed) {
          for (int64_t j = 0; j < h; ++j)
            for (int64_t c = 0; c < L; ++c) {
              of[oo[c] + 2 * j * out_step] = res[j * L + c].re * inv_h;
              of[oo[c] + (2 * j + 1) * out_step] = res[j * L + c].im * inv_h;
            }
        } else {
          for (int64_t t = 0; t < n; ++t)
            for (int64_t c = 0; c < L; ++c) of[oo[c] + t * out_step] = res[t * L + c].re * scale;
        }
      } else if (rows_out) {
        for (int64_t t = 0; t < out_len; ++t) {
          cf* o = oc + oo[0] + t * out_step;
          if (scale == 1.0f) std::memcpy(o, res + t * L, sizeof(cf) * L);
          else
            for (int64_t c = 0; c < L; ++c) o[c] = res[t * L + c] * scale;
        }
      } else {
        for (int64_t t = 0; t < out_len; ++t)
          for (int64_t c = 0; c < L; ++c) oc[oo[c] + t * out_step] = res[t * L + c] * scale;
      }
    }
  });
}

}  // namespace lazuli
#endif  // HWY_ONCE
