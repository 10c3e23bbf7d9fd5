// Fourier transforms: values against a float64 direct DFT, the real transforms, sizes and
// axes, layouts, errors, and the FFT primitive's checker cases.
#include <complex>

#include "checker.h"
#include "lazuli/fft.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;
using cd = std::complex<double>;

namespace {

// Deterministic complex test signal of length n.
std::vector<cd> signal(int64_t n, int seed) {
  std::vector<cd> v(n);
  uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
  auto next = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return double(s % 1000003) / 1000003.0 * 2 - 1;
  };
  for (auto& x : v) x = {next(), next()};
  return v;
}

// Direct DFT in double (sign -1 forward, +1 inverse, unnormalised).
std::vector<cd> dft(const std::vector<cd>& x, int sign) {
  int64_t n = static_cast<int64_t>(x.size());
  std::vector<cd> out(n), w(n);
  for (int64_t j = 0; j < n; ++j) w[j] = std::polar(1.0, sign * 2.0 * M_PI * double(j) / double(n));
  for (int64_t k = 0; k < n; ++k) {
    cd acc = 0;
    for (int64_t j = 0, jk = 0; j < n; ++j, jk = (jk + k) % n) acc += x[j] * w[jk];
    out[k] = acc;
  }
  return out;
}

array to_array(const std::vector<cd>& v, Shape shape) {
  std::vector<complex64_t> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = complex64_t(float(v[i].real()), float(v[i].imag()));
  return array(f.begin(), std::move(shape), complex64);
}

// Largest |got - want| relative to the largest |want|.
double rel_error(const array& got, const std::vector<cd>& want) {
  auto g = to_vector<complex64_t>(got);
  EXPECT_EQ(g.size(), want.size());
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < want.size() && i < g.size(); ++i) {
    err = std::max(err, std::abs(cd(g[i].real(), g[i].imag()) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

double tolerance(int64_t n) { return 2e-6 * (1 + std::log2(double(n))); }

}  // namespace

TEST(Fft, ComplexLengthsMatchDirectDft) {
  for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 25, 49, 60, 97, 121, 128, 210, 1000, 1024, 2310,
                    4096, 10007}) {
    SCOPED_TRACE(n);
    auto x = signal(n, int(n));
    array a = to_array(x, {int32_t(n)});
    EXPECT_LT(rel_error(fft::fft(a), dft(x, -1)), tolerance(n));
    auto inv = dft(x, +1);
    for (auto& v : inv) v /= double(n);
    EXPECT_LT(rel_error(fft::ifft(a), inv), tolerance(n));
  }
}

TEST(Fft, RealTransformsMatchDirectDft) {
  for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 17, 97, 128, 1000, 1024, 10007}) {
    SCOPED_TRACE(n);
    auto x = signal(n, int(n) + 7);
    for (auto& v : x) v = v.real();
    std::vector<float> xf(n);
    for (int64_t i = 0; i < n; ++i) xf[i] = float(x[i].real());
    array a(xf.begin(), {int32_t(n)}, float32);
    auto full = dft(x, -1);
    std::vector<cd> half(full.begin(), full.begin() + n / 2 + 1);
    array X = fft::rfft(a);
    EXPECT_EQ(X.shape(), (Shape{int32_t(n / 2 + 1)}));
    EXPECT_LT(rel_error(X, half), tolerance(n));
    // irfft(rfft(x), n) == x
    array back = fft::irfft(X, int(n), -1);
    EXPECT_EQ(back.dtype(), float32);
    EXPECT_LT(rel_error(astype(back, complex64), x), tolerance(n));
  }
}

TEST(Fft, IrfftIgnoresImaginaryPartsOfTheEnds) {
  // NumPy's convention: X_0's and (even n) X_{n/2}'s imaginary parts do not matter.
  array X = array({complex64_t(1, 5), complex64_t(2, 1), complex64_t(3, -4)});
  array Y = array({complex64_t(1, 0), complex64_t(2, 1), complex64_t(3, 0)});
  EXPECT_TRUE(allclose(fft::irfft(X), fft::irfft(Y)).item<bool>());
  // Odd n: only X_0.
  EXPECT_TRUE(allclose(fft::irfft(X, 5, -1), fft::irfft(array({complex64_t(1, 0), complex64_t(2, 1), complex64_t(3, -4)}), 5, -1))
                  .item<bool>());
}

TEST(Fft, SizesTruncateOrPad) {
  auto x = signal(6, 3);
  array a = to_array(x, {6});
  std::vector<cd> cut(x.begin(), x.begin() + 4), padded = x;
  padded.resize(9, 0);
  EXPECT_LT(rel_error(fft::fft(a, 4, 0), dft(cut, -1)), 1e-5);
  EXPECT_LT(rel_error(fft::fft(a, 9, 0), dft(padded, -1)), 1e-5);
  // irfft's input is resized to n/2 + 1 before the transform.
  EXPECT_EQ(fft::irfft(a, 4, 0).shape(), (Shape{4}));
  EXPECT_EQ(fft::irfft(a, 15, 0).shape(), (Shape{15}));
  EXPECT_EQ(fft::irfft(a).shape(), (Shape{10}));
  EXPECT_EQ(fft::rfft(ones({3, 8}), 5, 1).shape(), (Shape{3, 3}));
}

TEST(Fft, AxesAndBatches) {
  // fftn over a 3-D array equals 1-D transforms along each axis in turn.
  auto x = signal(4 * 6 * 5, 11);
  array a = to_array(x, {4, 6, 5});
  array step = fft::fft(fft::fft(fft::fft(a, 0), 1), 2);
  EXPECT_TRUE(allclose(fft::fftn(a), step, 1e-4, 1e-4).item<bool>());
  EXPECT_TRUE(allclose(fft::ifftn(fft::fftn(a)), a, 1e-4, 1e-5).item<bool>());
  EXPECT_TRUE(allclose(fft::fft2(a), fft::fft(fft::fft(a, 1), 2), 1e-4, 1e-4).item<bool>());
  EXPECT_TRUE(allclose(fft::fftn(a, {0, 2}), fft::fft(fft::fft(a, 0), 2), 1e-4, 1e-4).item<bool>());
  // Axis 1 of a 3-D array, against each line's DFT.
  array y = fft::fft(a, 1);
  auto got = to_vector<complex64_t>(y);
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 5; ++k) {
      std::vector<cd> line(6);
      for (int j = 0; j < 6; ++j) line[j] = x[(i * 6 + j) * 5 + k];
      auto want = dft(line, -1);
      for (int j = 0; j < 6; ++j) EXPECT_LT(std::abs(cd(got[(i * 6 + j) * 5 + k]) - want[j]), 1e-4);
    }
  // Real n-D: rfftn's last axis halves; irfftn inverts it.
  array r = real(a);
  array R = fft::rfftn(r);
  EXPECT_EQ(R.shape(), (Shape{4, 6, 3}));
  EXPECT_TRUE(allclose(R, slice(fft::fftn(astype(r, complex64)), {0, 0, 0}, {4, 6, 3}), 1e-4, 1e-4).item<bool>());
  EXPECT_TRUE(allclose(fft::irfftn(R, {4, 6, 5}, {0, 1, 2}), r, 1e-4, 1e-5).item<bool>());
  // The real axis is the last of `axes`, not the array's last.
  array R0 = fft::rfftn(r, {2, 0});
  EXPECT_EQ(R0.shape(), (Shape{3, 6, 5}));
  EXPECT_TRUE(allclose(fft::irfft2(R0, {5, 4}, {2, 0}), r, 1e-4, 1e-5).item<bool>());
}

TEST(Fft, NonContiguousInputs) {
  auto x = signal(8 * 12, 5);
  array a = to_array(x, {8, 12});
  array t = transpose(a);  // (12, 8) view
  array want = fft::fft(contiguous(t), 1);
  EXPECT_TRUE(allclose(fft::fft(t, 1), want, 1e-5, 1e-5).item<bool>());
  array strided = slice(a, {0, 0}, {8, 12}, {2, 3});
  EXPECT_TRUE(allclose(fft::fft(strided), fft::fft(contiguous(strided)), 1e-5, 1e-5).item<bool>());
  EXPECT_TRUE(allclose(fft::rfft(real(t), 0), fft::rfft(contiguous(real(t)), 0), 1e-5, 1e-5).item<bool>());
}

TEST(Fft, DtypesAndEmpty) {
  array i = array({1, 2, 3, 4});
  EXPECT_EQ(fft::fft(i).dtype(), complex64);
  EXPECT_EQ(fft::rfft(i).dtype(), complex64);
  EXPECT_EQ(fft::irfft(i).dtype(), float32);
  expect_values(real(fft::fft(i)), {10, -2, -2, -2}, 1e-5);
  expect_values(imag(fft::fft(i)), {0, 2, 0, -2}, 1e-5);
  expect_values(real(fft::fft(array({true, false}))), {1, 1});
  // Empty batch: an empty result; an empty transformed axis: an error.
  EXPECT_EQ(fft::fft(zeros({0, 8})).shape(), (Shape{0, 8}));
  EXPECT_EQ(fft::rfft(zeros({0, 8})).shape(), (Shape{0, 5}));
  expect_throws_naming([] { return fft::fft(zeros({8, 0})); }, "fft");
}

TEST(Fft, Errors) {
  array a = zeros({4, 4});
  expect_throws_naming([&] { return fft::fft(a, 0, -1); }, "fft");
  expect_throws_naming([&] { return fft::ifft(a, -3, -1); }, "ifft");
  expect_throws_naming([&] { return fft::fft(a, 2); }, "fft");
  expect_throws_naming([&] { return fft::fft(array(1.0f)); }, "fft");
  expect_throws_naming([&] { return fft::fftn(array(1.0f)); }, "fftn");
  expect_throws_naming([&] { return fft::fft2(a, {0, 0}); }, "fft2");
  expect_throws_naming([&] { return fft::fftn(a, {4, 4}, {0}); }, "fftn");
  expect_throws_naming([&] { return fft::fftn(a, {0, 1, 2}); }, "fftn");
  expect_throws_naming([&] { return fft::rfftn(a, {4, 4, 4}, {0, 1, -3}); }, "rfftn");
  expect_throws_naming([&] { return fft::irfft(zeros({4, 1})); }, "irfft");
  expect_throws_naming([&] { return fft::fftshift(a, {2}); }, "fftshift");
  expect_throws_naming([] { return fft::fftfreq(0); }, "fftfreq");
  auto msg = error_of<std::invalid_argument>([&] { fft::fft(a, 0, -1); });
  EXPECT_TRUE(contains(msg, "0")) << msg;
}

TEST(Fft, FrequenciesAndShifts) {
  expect_values(fft::fftfreq(5, 0.5), {0, 0.4, 0.8, -0.8, -0.4}, 1e-6);
  expect_values(fft::fftfreq(4), {0, 0.25, -0.5, -0.25}, 1e-7);
  expect_values(fft::rfftfreq(5, 0.5), {0, 0.4, 0.8}, 1e-6);
  expect_values(fft::rfftfreq(4), {0, 0.25, 0.5}, 1e-7);
  EXPECT_EQ(fft::fftfreq(4).dtype(), float32);
  array a = arange(5);
  expect_values(fft::fftshift(a), {3, 4, 0, 1, 2});
  expect_values(fft::ifftshift(fft::fftshift(a)), {0, 1, 2, 3, 4});
  array b = reshape(arange(6), {2, 3});
  expect_values(fft::fftshift(b, {1}), {2, 0, 1, 5, 3, 4});
  expect_values(fft::fftshift(b), {5, 3, 4, 2, 0, 1});
}

TEST(Fft, LargeSingleLineSplitsAcrossThreads) {
  int64_t n = 1 << 17;
  auto x = signal(n, 2);
  array a = to_array(x, {int32_t(n)});
  array back = fft::ifft(fft::fft(a));
  EXPECT_TRUE(allclose(back, a, 1e-4, 1e-5).item<bool>());
  // Spot-check a few frequencies against the direct sum.
  auto X = to_vector<complex64_t>(fft::fft(a));
  for (int64_t k : {int64_t(0), int64_t(1), int64_t(12345), n - 1}) {
    cd acc = 0;
    for (int64_t j = 0; j < n; ++j) {
      double ang = -2.0 * M_PI * double((j * k) % n) / double(n);
      acc += x[j] * cd(std::cos(ang), std::sin(ang));
    }
    EXPECT_LT(std::abs(cd(X[k]) - acc), 1e-5 * std::sqrt(double(n)) * 20);
  }
}

TEST(Fft, Gradients) {
  // sum |fft(x)|^2 = n sum x^2 (Parseval): gradient 2 n x.
  array x = filled({8}, -1, 1, 3);
  auto f = [](const array& v) {
    array y = fft::fft(v);
    return sum(add(square(real(y)), square(imag(y))));
  };
  array g = grad(f)(astype(x, float32));
  EXPECT_TRUE(allclose(g, multiply(astype(x, float32), array(16.0f)), 1e-4, 1e-4).item<bool>());
}

namespace {
// A real function of a complex result that mixes real and imaginary parts (so the
// cotangent reaching the FFT is complex).
array mix(const array& y) { return astype(add(real(y), multiply(imag(y), array(0.7f))), float64); }
array cplx(const array& x) {
  return add(astype(x, complex64), multiply(astype(square(x), complex64), array(complex64_t(0, 1))));
}
}  // namespace

LAZULI_CHECKER_CASES(fft) {
  auto fft_case = [&](Shape shape, std::function<array(const array&)> f, bool transposed = false) {
    Case c{{shape}, -1, 1, unary_fn(f), true, transposed};
    c.single_precision = true;
    add("FFT", c);
  };
  fft_case({3, 8}, [](const array& x) { return mix(fft::fft(cplx(x))); });
  fft_case({3, 6}, [](const array& x) { return mix(fft::ifft(cplx(x), 5, 0)); });
  fft_case({4, 5}, [](const array& x) { return mix(fft::fft2(cplx(x), {3, 7}, {0, 1})); }, true);
  fft_case({2, 8}, [](const array& x) { return mix(fft::rfft(x)); });
  fft_case({2, 7}, [](const array& x) { return mix(fft::rfft(x)); });
  fft_case({3, 5}, [](const array& x) { return fft::irfft(cplx(x), 8, -1); });
  fft_case({3, 5}, [](const array& x) { return fft::irfft(cplx(x), 9, -1); });
  fft_case({4, 6}, [](const array& x) { return mix(fft::rfftn(x)); }, true);
  fft_case({4, 6}, [](const array& x) { return fft::irfft2(cplx(x)); });
}
