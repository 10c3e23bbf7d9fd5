// CPU: the FFT primitive. Our own transform engine:
// - Complex lengths factor into radices 4, 2, 3, 5 and other odd primes, run as a Stockham
//   autosort FFT (each stage reads one buffer and writes the other in natural order, so no
//   bit reversal). Each stage's twiddles are computed once in double precision and kept in
//   a plan cached per length.
// - A length with a prime factor above kMaxRadix runs Bluestein's algorithm: the DFT as a
//   convolution with a chirp, done by power-of-two FFTs of at least 2n - 1 points.
// - Real transforms of even length pack the n reals as n/2 complex numbers, transform
//   those, and separate the even and odd halves' spectra (and the reverse for the inverse).
//   Odd lengths go through the complex transform.
// Lines along the axis run in parallel; a single long line splits each stage instead.
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/fft.h"

namespace lazuli {
using namespace cpu;

namespace {

struct cf {
  float re, im;
};
inline cf operator+(cf a, cf b) { return {a.re + b.re, a.im + b.im}; }
inline cf operator-(cf a, cf b) { return {a.re - b.re, a.im - b.im}; }
inline cf operator*(cf a, float s) { return {a.re * s, a.im * s}; }
inline cf mul(cf a, cf b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
inline cf conj(cf a) { return {a.re, -a.im}; }
// a * w for the forward transform, a * conj(w) for the inverse.
template <bool Inv>
inline cf twiddle(cf a, cf w) {
  if constexpr (Inv) return {a.re * w.re + a.im * w.im, a.im * w.re - a.re * w.im};
  else return mul(a, w);
}
// a * (-i) forward, a * (+i) inverse: the quarter turn of the transform's direction.
template <bool Inv>
inline cf quarter(cf a) {
  if constexpr (Inv) return {-a.im, a.re};
  else return {a.im, -a.re};
}

cf unit(double turns) {  // e^{-2 pi i turns}
  double a = -2.0 * M_PI * turns;
  return {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))};
}

constexpr int kMaxRadix = 61;  // larger prime factors go to Bluestein

// One Stockham stage: the current sub-length is radix * m, interleaved with stride s
// (s * radix * m == n).
struct Stage {
  int radix;
  int64_t m, s;
  std::vector<cf> tw;            // tw[p * (radix - 1) + k - 1] = w_{radix m}^{p k}
  std::vector<float> cs, sn;     // generic odd radix: cos / sin of 2 pi jk / radix
};

struct Plan {
  int64_t n = 0;
  std::vector<Stage> stages;
  // Bluestein: chirp w_j = e^{-pi i j^2 / n}, and the FFT of the convolution kernel
  // conj(w) (wrapped to length m), scaled by 1/m.
  std::shared_ptr<const Plan> sub;
  std::vector<cf> chirp, kernel;
};

std::vector<int> factorize(int64_t n) {
  std::vector<int> f;
  while (n % 4 == 0) f.push_back(4), n /= 4;
  if (n % 2 == 0) f.push_back(2), n /= 2;
  for (int p = 3; n > 1 && p <= kMaxRadix; p += 2)
    while (n % p == 0) f.push_back(p), n /= p;
  if (n > 1) f.clear();  // a large prime factor remains
  return f;
}

std::shared_ptr<const Plan> make_plan(int64_t n);
// Unnormalised transform of x (n points) into out; `work` holds n points. x may be out.
template <bool Inv>
void run_plan(const Plan& plan, const cf* x, cf* out, cf* work, bool split);

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
  return cache.emplace(n, plan).first->second;
}

std::shared_ptr<const Plan> make_plan(int64_t n) {
  auto plan = std::make_shared<Plan>();
  plan->n = n;
  std::vector<int> radices = n == 1 ? std::vector<int>{} : factorize(n);
  if (n > 1 && radices.empty()) {
    int64_t m = 1;
    while (m < 2 * n - 1) m *= 2;
    plan->sub = get_plan(m);
    plan->chirp.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      // j^2 mod 2n keeps the angle small (and exact) for large j.
      int64_t q = static_cast<int64_t>((static_cast<unsigned __int128>(j) * j) % (2 * n));
      plan->chirp[j] = unit(static_cast<double>(q) / (2.0 * n));
    }
    std::vector<cf> b(m, cf{0, 0});
    for (int64_t j = 0; j < n; ++j) {
      b[j] = conj(plan->chirp[j]);
      if (j > 0) b[m - j] = conj(plan->chirp[j]);
    }
    plan->kernel.resize(m);
    std::vector<cf> work(m);
    run_plan<false>(*plan->sub, b.data(), plan->kernel.data(), work.data(), false);
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

// ---- butterflies ------------------------------------------------------------------------
// a[j] = x[j * m] (j < r) -> b[k] = sum_j a[j] w_r^{jk}, written at y[k * ys].

template <bool Inv>
inline void dft2(cf* a) {
  cf t = a[0] - a[1];
  a[0] = a[0] + a[1];
  a[1] = t;
}
template <bool Inv>
inline void dft3(cf* a) {
  constexpr float h = 0.86602540378443864676f;  // sin(2 pi / 3)
  cf t1 = a[1] + a[2];
  cf t2 = a[0] - t1 * 0.5f;
  cf t3 = quarter<Inv>(a[1] - a[2]) * h;
  a[0] = a[0] + t1;
  a[1] = t2 + t3;
  a[2] = t2 - t3;
}
template <bool Inv>
inline void dft4(cf* a) {
  cf t0 = a[0] + a[2], t1 = a[0] - a[2], t2 = a[1] + a[3], t3 = quarter<Inv>(a[1] - a[3]);
  a[0] = t0 + t2;
  a[2] = t0 - t2;
  a[1] = t1 + t3;
  a[3] = t1 - t3;
}
template <bool Inv>
inline void dft5(cf* a) {
  constexpr float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;
  constexpr float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;
  cf t1 = a[1] + a[4], t2 = a[2] + a[3], t3 = a[1] - a[4], t4 = a[2] - a[3];
  cf r1 = a[0] + t1 * c1 + t2 * c2, r2 = a[0] + t1 * c2 + t2 * c1;
  cf u1 = quarter<Inv>(t3 * s1 + t4 * s2), u2 = quarter<Inv>(t3 * s2 - t4 * s1);
  a[0] = a[0] + t1 + t2;
  a[1] = r1 + u1;
  a[4] = r1 - u1;
  a[2] = r2 + u2;
  a[3] = r2 - u2;
}
// Odd radix r: pairs (j, r - j) share their cosines and sines.
template <bool Inv>
inline void dft_odd(cf* a, int r, const float* cs, const float* sn) {
  cf sum[kMaxRadix], dif[kMaxRadix], out[kMaxRadix];
  int h = (r - 1) / 2;
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

// Stage over p in [p0, p1): y[q + s (r p + k)] = w^{pk} * DFT_r(x[q + s (p + j m)])_k.
template <bool Inv, int R>
void stage_fixed(const Stage& st, const cf* x, cf* y, int64_t p0, int64_t p1) {
  const int64_t m = st.m, s = st.s;
  const cf* tw = st.tw.data();
  for (int64_t p = p0; p < p1; ++p) {
    cf w[R];
    for (int k = 1; k < R; ++k) w[k] = tw[p * (R - 1) + k - 1];
    const cf* xp = x + s * p;
    cf* yp = y + s * R * p;
    for (int64_t q = 0; q < s; ++q) {
      cf a[R];
      for (int j = 0; j < R; ++j) a[j] = xp[q + j * s * m];
      if constexpr (R == 2) dft2<Inv>(a);
      else if constexpr (R == 3) dft3<Inv>(a);
      else if constexpr (R == 4) dft4<Inv>(a);
      else dft5<Inv>(a);
      yp[q] = a[0];
      for (int k = 1; k < R; ++k) yp[q + k * s] = twiddle<Inv>(a[k], w[k]);
    }
  }
}

template <bool Inv>
void stage_generic(const Stage& st, const cf* x, cf* y, int64_t p0, int64_t p1) {
  const int r = st.radix;
  const int64_t m = st.m, s = st.s;
  for (int64_t p = p0; p < p1; ++p) {
    const cf* w = st.tw.data() + p * (r - 1);
    for (int64_t q = 0; q < s; ++q) {
      cf a[kMaxRadix];
      for (int j = 0; j < r; ++j) a[j] = x[q + s * (p + j * m)];
      dft_odd<Inv>(a, r, st.cs.data(), st.sn.data());
      cf* yp = y + q + s * r * p;
      yp[0] = a[0];
      for (int k = 1; k < r; ++k) yp[k * s] = twiddle<Inv>(a[k], w[k - 1]);
    }
  }
}

template <bool Inv>
void run_stage(const Stage& st, const cf* x, cf* y, int64_t p0, int64_t p1) {
  switch (st.radix) {
    case 2: return stage_fixed<Inv, 2>(st, x, y, p0, p1);
    case 3: return stage_fixed<Inv, 3>(st, x, y, p0, p1);
    case 4: return stage_fixed<Inv, 4>(st, x, y, p0, p1);
    case 5: return stage_fixed<Inv, 5>(st, x, y, p0, p1);
    default: return stage_generic<Inv>(st, x, y, p0, p1);
  }
}

constexpr int64_t kSplitStages = 1 << 15;  // a line this long splits its stages over threads

template <bool Inv>
void run_plan(const Plan& plan, const cf* x, cf* out, cf* work, bool split) {
  const int64_t n = plan.n;
  if (plan.sub) {
    // Bluestein: X_k = w_k sum_j (x_j w_j) conj(w_{k-j}), a circular convolution of length
    // m. The inverse is conj(forward(conj(x))).
    const Plan& sub = *plan.sub;
    const int64_t m = sub.n;
    thread_local std::vector<cf> a, b;
    a.resize(m), b.resize(m);
    for (int64_t j = 0; j < n; ++j) a[j] = mul(Inv ? conj(x[j]) : x[j], plan.chirp[j]);
    std::fill(a.begin() + n, a.end(), cf{0, 0});
    run_plan<false>(sub, a.data(), a.data(), b.data(), split);
    for (int64_t j = 0; j < m; ++j) a[j] = mul(a[j], plan.kernel[j]);
    run_plan<true>(sub, a.data(), a.data(), b.data(), split);
    for (int64_t k = 0; k < n; ++k) {
      cf r = mul(a[k], plan.chirp[k]);
      out[k] = Inv ? conj(r) : r;
    }
    return;
  }
  const size_t stages = plan.stages.size();
  if (stages == 0) {
    if (out != x) out[0] = x[0];
    return;
  }
  // Stages alternate between `work` and `out` so that the last one writes `out`. When x is
  // out and the first stage would write out too, x moves to `work` first.
  const cf* src = x;
  if (x == out && stages % 2 == 1) {
    std::memcpy(work, x, sizeof(cf) * n);
    src = work;
  }
  for (size_t i = 0; i < stages; ++i) {
    const Stage& st = plan.stages[i];
    cf* dst = (stages - i) % 2 == 1 ? out : work;
    if (split && n >= kSplitStages) {
      parallel_for(st.m, std::max<int64_t>(1, 4096 / (st.s * st.radix)),
                   [&](int64_t p0, int64_t p1) { run_stage<Inv>(st, src, dst, p0, p1); });
    } else {
      run_stage<Inv>(st, src, dst, 0, st.m);
    }
    src = dst;
  }
}


// ---- real transforms (even n = 2h) --------------------------------------------------------
// z_j = x_{2j} + i x_{2j+1} has Z = FFT_h(z); with E, O the spectra of the even and odd
// samples, E_k = (Z_k + conj Z_{h-k}) / 2, O_k = (Z_k - conj Z_{h-k}) / 2i, X_k = E_k + w_n^k O_k.

struct RealPlan {
  std::shared_ptr<const Plan> half;
  std::vector<cf> w;  // w_n^k, k in [0, h]
};

std::shared_ptr<const RealPlan> get_real_plan(int64_t n) {
  static std::mutex mu;
  static std::map<int64_t, std::shared_ptr<const RealPlan>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(n);
    if (it != cache.end()) return it->second;
  }
  auto rp = std::make_shared<RealPlan>();
  int64_t h = n / 2;
  rp->half = get_plan(h);
  rp->w.resize(h + 1);
  for (int64_t k = 0; k <= h; ++k) rp->w[k] = unit(static_cast<double>(k) / n);
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(n, rp).first->second;
}

// x: n reals (even n) -> X: h + 1 complex. work: 2h complex.
void real_forward_even(const RealPlan& rp, const float* x, cf* X, cf* work, bool split) {
  const int64_t h = rp.half->n;
  const cf* z = reinterpret_cast<const cf*>(x);
  cf* Z = work;
  run_plan<false>(*rp.half, z, Z, X, split);  // X (h + 1 points) as scratch
  X[0] = {Z[0].re + Z[0].im, 0.f};
  X[h] = {Z[0].re - Z[0].im, 0.f};
  for (int64_t k = 1; k < h; ++k) {
    cf a = Z[k], b = conj(Z[h - k]);
    cf e = (a + b) * 0.5f;
    cf d = (a - b) * 0.5f;
    cf o{d.im, -d.re};  // d / i
    X[k] = e + mul(o, rp.w[k]);
  }
}

// X: h + 1 complex (imaginary parts of X_0 and X_h ignored) -> x: n reals, scaled by 1/n.
void real_inverse_even(const RealPlan& rp, const cf* X, float* x, cf* work, bool split) {
  const int64_t h = rp.half->n;
  cf* Z = work;
  cf x0{X[0].re, 0.f}, xh{X[h].re, 0.f};
  for (int64_t k = 0; k < h; ++k) {
    cf a = k == 0 ? x0 : X[k], b = conj(k == 0 ? xh : X[h - k]);
    cf e = (a + b) * 0.5f;
    cf o = twiddle<true>((a - b) * 0.5f, rp.w[k]);  // (a - b) conj(w^k) / 2
    Z[k] = e + cf{-o.im, o.re};                      // E + i O
  }
  cf* z = reinterpret_cast<cf*>(x);
  run_plan<true>(*rp.half, Z, z, work + h, split);
  const float scale = 1.0f / static_cast<float>(h);
  for (int64_t j = 0; j < 2 * h; ++j) x[j] *= scale;
}

// ---- lines ------------------------------------------------------------------------------

// Per-thread scratch that grows as needed.
cf* scratch(size_t n, int slot) {
  thread_local std::vector<cf> bufs[3];
  if (bufs[slot].size() < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

// One line of the transform: `in` (contiguous, in_len elements of the input type) -> `out`
// (contiguous, out_len elements of the output type).
struct LineFFT {
  FFTKind kind;
  int64_t n;
  std::shared_ptr<const Plan> plan;          // complex lengths (and odd real ones)
  std::shared_ptr<const RealPlan> real;      // even real lengths

  LineFFT(FFTKind k, int64_t n_) : kind(k), n(n_) {
    bool is_real = k == FFTKind::RealForward || k == FFTKind::RealInverse;
    if (is_real && n % 2 == 0) real = get_real_plan(n);
    else plan = get_plan(n);
  }

  void operator()(const void* in, void* out, bool split) const {
    const int64_t h = n / 2;
    switch (kind) {
      case FFTKind::Forward:
      case FFTKind::Inverse: {
        const cf* x = static_cast<const cf*>(in);
        cf* y = static_cast<cf*>(out);
        if (kind == FFTKind::Forward) run_plan<false>(*plan, x, y, scratch(n, 0), split);
        else {
          run_plan<true>(*plan, x, y, scratch(n, 0), split);
          const float scale = 1.0f / static_cast<float>(n);
          for (int64_t k = 0; k < n; ++k) y[k] = y[k] * scale;
        }
        return;
      }
      case FFTKind::RealForward: {
        const float* x = static_cast<const float*>(in);
        cf* y = static_cast<cf*>(out);
        if (real) return real_forward_even(*real, x, y, scratch(2 * h, 0), split);
        cf* z = scratch(n, 1);
        for (int64_t j = 0; j < n; ++j) z[j] = {x[j], 0.f};
        cf* Z = scratch(n, 2);
        run_plan<false>(*plan, z, Z, scratch(n, 0), split);
        std::memcpy(y, Z, sizeof(cf) * (h + 1));
        return;
      }
      case FFTKind::RealInverse: {
        const cf* X = static_cast<const cf*>(in);
        float* y = static_cast<float*>(out);
        if (real) return real_inverse_even(*real, X, y, scratch(2 * h, 0), split);
        // Odd n: the full Hermitian spectrum (X_0's imaginary part ignored), then complex.
        cf* Z = scratch(n, 1);
        Z[0] = {X[0].re, 0.f};
        for (int64_t k = 1; k <= h; ++k) Z[k] = X[k], Z[n - k] = conj(X[k]);
        cf* z = scratch(n, 2);
        run_plan<true>(*plan, Z, z, scratch(n, 0), split);
        const float scale = 1.0f / static_cast<float>(n);
        for (int64_t j = 0; j < n; ++j) y[j] = z[j].re * scale;
        return;
      }
    }
  }
};

}  // namespace

void FFT::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  const int axis = axis_;
  const int64_t in_len = in.shape()[axis], out_len = out.shape()[axis];
  const size_t in_size = kind_ == FFTKind::RealForward ? sizeof(float) : sizeof(cf);
  const size_t out_size = kind_ == FFTKind::RealInverse ? sizeof(float) : sizeof(cf);
  const char* px = static_cast<const char*>(const_cast<array&>(in).raw_data());
  char* po = static_cast<char*>(out.raw_data());
  const int64_t in_step = in.strides()[axis], out_step = out.strides()[axis];
  const int64_t lines = static_cast<int64_t>(out.size()) / out_len;
  LineFFT line(kind_, n_);

  // Offsets (in elements) of line `l`: every index of the shape with `axis` fixed at 0, in
  // row-major order.
  const Shape& shape = in.shape();
  const int nd = static_cast<int>(shape.size());
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
  const bool split = lines < thread_count();
  // Lines in blocks: neighbouring lines are usually neighbours in memory, so gathering a
  // block one axis step at a time reads (and writes) whole cache lines.
  constexpr int64_t kBlock = 8;
  const bool direct_in = in_step == 1, direct_out = out_step == 1;
  const int64_t work_per_line = std::max<int64_t>(1, n_ * 4);
  parallel_for((lines + kBlock - 1) / kBlock, std::max<int64_t>(1, kGrain / (kBlock * work_per_line)),
               [&](int64_t b0, int64_t b1) {
                 std::vector<char> ibuf, obuf;
                 if (!direct_in) ibuf.resize(kBlock * in_len * in_size);
                 if (!direct_out) obuf.resize(kBlock * out_len * out_size);
                 for (int64_t b = b0; b < b1; ++b) {
                   int64_t l0 = b * kBlock, l1 = std::min(lines, l0 + kBlock);
                   int64_t io[kBlock], oo[kBlock];
                   for (int64_t l = l0; l < l1; ++l) offsets(l, io[l - l0], oo[l - l0]);
                   const int64_t cnt = l1 - l0;
                   if (!direct_in)
                     for (int64_t t = 0; t < in_len; ++t)
                       for (int64_t c = 0; c < cnt; ++c)
                         std::memcpy(&ibuf[(c * in_len + t) * in_size], px + (io[c] + t * in_step) * in_size, in_size);
                   for (int64_t c = 0; c < cnt; ++c) {
                     const void* src = direct_in ? px + io[c] * in_size : ibuf.data() + c * in_len * in_size;
                     void* dst = direct_out ? po + oo[c] * out_size : obuf.data() + c * out_len * out_size;
                     line(src, dst, split);
                   }
                   if (!direct_out)
                     for (int64_t t = 0; t < out_len; ++t)
                       for (int64_t c = 0; c < cnt; ++c)
                         std::memcpy(po + (oo[c] + t * out_step) * out_size, &obuf[(c * out_len + t) * out_size], out_size);
                 }
               });
}

}  // namespace lazuli
