// CPU benchmarks of the einsum family: a 3-operand einsum chain whose contraction order
// matters, a mixture-of-experts gather_mm, and the Walsh-Hadamard transform. One JSON line per case:
// {"case", "ms", "flops"}; benchmarks/peers_einsum.py runs the same cases in NumPy and MLX.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/einsum.h"
#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

// Deterministic values in [-1, 1).
static array values(const Shape& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  array i = astype(arange(0.0, double(n), 1.0), float32);
  return reshape(sin(multiply(i, array(0.618f))), shape);
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };

  if (want("einsum")) {
    array a = values({256, 1024}), b = values({1024, 1024}), c = values({1024, 32});
    eval(a, b, c);
    // The best order contracts b with c first: 2*(1024*1024*32 + 256*1024*32) flops.
    double flops = 2.0 * (1024.0 * 1024 * 32 + 256.0 * 1024 * 32);
    report("einsum ij,jk,kl->il 256x1024,1024x1024,1024x32 f32",
           median_ms([&] { eval(einsum("ij,jk,kl->il", {a, b, c})); }, 21), flops);
  }
  if (want("einsum")) {
    // Attention scores: a batched contraction over the last axis of both operands.
    array q = values({8, 16, 256, 64}), k = values({8, 16, 256, 64});
    eval(q, k);
    report("einsum bhqd,bhkd->bhqk 8x16x256x64 f32",
           median_ms([&] { eval(einsum("bhqd,bhkd->bhqk", {q, k})); }, 11), 2.0 * 8 * 16 * 256 * 256 * 64);
  }
  if (want("gather_mm")) {
    // Mixture-of-experts routing: 1024 token rows, each through one of 8 expert matrices.
    array x = values({1024, 1, 512}), w = values({8, 512, 512});
    array expert = astype(remainder(divide(arange(0, 1024), array(128)), array(8)), uint32);  // sorted
    eval(x, w, expert);
    report("gather_mm 1024x(1x512) @ 8x(512x512) f32",
           median_ms([&] { eval(gather_mm(x, w, std::nullopt, expert, true)); }, 11), 2.0 * 1024 * 512 * 512);
    // The same routing, unsorted: token i goes to expert (i * 5) % 8.
    array scattered = astype(remainder(multiply(arange(0, 1024), array(5)), array(8)), uint32);
    eval(scattered);
    report("gather_mm unsorted 1024x(1x512) @ 8x(512x512) f32",
           median_ms([&] { eval(gather_mm(x, w, std::nullopt, scattered)); }, 11), 2.0 * 1024 * 512 * 512);
  }
  if (want("hadamard")) {
    array x = values({4096, 4096});
    eval(x);
    // n log2(n) additions per row.
    double flops = 4096.0 * 4096 * 12;
    report("hadamard_transform f32 4096x4096", median_ms([&] { eval(hadamard_transform(x)); }, 11), flops);
  }
}
