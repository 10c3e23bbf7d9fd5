// CPU benchmarks of convolution. Prints one JSON object per case:
// {"case": ..., "ms": median milliseconds, "flops": useful floating-point operations}.
// benchmarks/peers_conv_torch.py times the same cases in PyTorch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/conv.h"
#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

// Deterministic values in [-1, 1).
static array values(const Shape& shape, double phase) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return reshape(sin(multiply(astype(arange(0.0, double(n), 1.0), float32), array(float(phase)))), shape);
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };

  // The case: 3x3, 64 -> 64 channels, 32x32, batch 32, padding 1.
  const double conv2d_flops = 2.0 * 32 * 32 * 32 * 64 * 64 * 9;
  array x = values({32, 32, 32, 64}, 0.37), w = values({64, 3, 3, 64}, 0.11);
  eval(x, w);
  if (want("conv2d")) {
    report("conv2d 3x3 64->64 32x32 n32 f32", median_ms([&] { eval(conv2d(x, w, {1, 1}, {1, 1})); }, 21),
           conv2d_flops);
  }
  if (want("conv2d") || want("vjp")) {
    array ct = values({32, 32, 32, 64}, 0.23);
    eval(ct);
    auto f = [](const std::vector<array>& a) { return std::vector<array>{conv2d(a[0], a[1], {1, 1}, {1, 1})}; };
    // The forward pass and both gradients, as a training step runs them.
    report("conv2d 3x3 64->64 32x32 n32 f32 fwd+vjp (input+weight)", median_ms([&] {
             auto [outs, grads] = vjp(f, {x, w}, {ct});
             eval(outs[0], grads[0], grads[1]);
           }, 11),
           3 * conv2d_flops);
  }
  if (want("conv1d")) {
    array a = values({16, 1024, 128}, 0.31), k = values({128, 5, 128}, 0.07);
    eval(a, k);
    report("conv1d k5 128->128 L1024 n16 f32", median_ms([&] { eval(conv1d(a, k, 1, 2)); }, 21),
           2.0 * 16 * 1024 * 128 * 128 * 5);
  }
  if (want("conv_transpose2d")) {
    array a = values({32, 16, 16, 64}, 0.29), k = values({32, 3, 3, 64}, 0.13);
    eval(a, k);
    report("conv_transpose2d 3x3 s2 64->32 16x16 n32 f32",
           median_ms([&] { eval(conv_transpose2d(a, k, {2, 2}, {1, 1}, {1, 1}, {1, 1})); }, 21),
           2.0 * 32 * 16 * 16 * 64 * 32 * 9);
  }
  return 0;
}
