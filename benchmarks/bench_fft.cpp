// CPU benchmarks of the FFT family. Prints one JSON object per case: {"case", "ms",
// "flops"} with the conventional 5 n log2 n flops per complex transform of length n (half
// that for a real one). benchmarks/peers_fft.py runs the same cases in NumPy and MLX.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/fft.h"
#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

// 5 n log2 n per complex transform of length n, times the number of transforms.
static double fft_flops(double n, double count, bool real = false) {
  return (real ? 2.5 : 5.0) * n * std::log2(n) * count;
}

static array complex_signal(const Shape& shape) {
  size_t n = 1;
  for (auto d : shape) n *= d;
  array t = reshape(astype(arange(0.0, double(n), 1.0), float32), shape);
  array z = add(astype(sin(multiply(t, array(0.37f))), complex64),
                multiply(astype(cos(multiply(t, array(1.618f))), complex64), array(complex64_t(0, 1))));
  eval(z);
  return z;
}

static array real_signal(const Shape& shape) {
  size_t n = 1;
  for (auto d : shape) n *= d;
  array r = sin(multiply(reshape(astype(arange(0.0, double(n), 1.0), float32), shape), array(0.37f)));
  eval(r);
  return r;
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };

  if (want("fft c64 1M")) {
    array x = complex_signal({1 << 20});
    report("fft c64 1M (2^20)", median_ms([&] { eval(fft::fft(x)); }, 11), fft_flops(1 << 20, 1));
  }
  if (want("fft c64 1024x1024")) {
    array x = complex_signal({1024, 1024});
    report("fft c64 1024x1024 axis=-1", median_ms([&] { eval(fft::fft(x)); }, 11), fft_flops(1024, 1024));
    report("fft c64 1024x1024 axis=0", median_ms([&] { eval(fft::fft(x, 0)); }, 11), fft_flops(1024, 1024));
    report("fft2 c64 1024x1024", median_ms([&] { eval(fft::fft2(x)); }, 11), fft_flops(1024, 2048));
  }
  if (want("rfft")) {
    array r = real_signal({1 << 20});
    report("rfft f32 1M (2^20)", median_ms([&] { eval(fft::rfft(r)); }, 11), fft_flops(1 << 20, 1, true));
    array c = fft::rfft(r);
    eval(c);
    report("irfft c64 1M (2^20)", median_ms([&] { eval(fft::irfft(c)); }, 11), fft_flops(1 << 20, 1, true));
  }
  if (want("1000x1000")) {
    array x = complex_signal({1000, 1000});
    report("fft c64 1000x1000 axis=-1", median_ms([&] { eval(fft::fft(x)); }, 11), fft_flops(1000, 1000));
  }
  if (want("prime")) {
    array x = complex_signal({64, 10007});
    report("fft c64 64x10007 (prime)", median_ms([&] { eval(fft::fft(x)); }, 11), fft_flops(10007, 64));
  }
  return 0;
}
