// CPU benchmarks for docs/benchmarks.md. Prints one JSON object per case:
// {"case": ..., "ms": median milliseconds}. benchmarks/run_cpu.sh runs this beside the
// same cases in NumPy and MLX and writes the table.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

// Row i is one-hot at i % classes.
static array one_hot_labels(int n, int classes) {
  array rows = remainder(reshape(arange(0, n), {n, 1}), array(classes));
  return astype(equal(rows, reshape(arange(0, classes), {1, classes})), float32);
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  const int n = 1 << 25;  // 32M elements

  if (want("exp")) {
    array x = astype(divide(arange(0.0, double(n), 1.0), array(float(n))), float32);
    eval(x);
    report("exp f32 32M", median_ms([&] { eval(exp(x)); }, 15));
  }
  if (want("add")) {
    array a = reshape(astype(arange(0.0, double(n), 1.0), float32), {4096, 8192});
    array row = astype(arange(0.0, 8192.0, 1.0), float32);
    eval(a, row);
    report("broadcast add f32 (4096x8192)+(8192)", median_ms([&] { eval(add(a, row)); }, 15));
  }
  if (want("sum")) {
    array m = reshape(astype(arange(0.0, 4096.0 * 4096.0, 1.0), float32), {4096, 4096});
    m = divide(m, array(1e6f));
    eval(m);
    report("sum axis=0 f32 4096x4096", median_ms([&] { eval(sum(m, 0)); }, 21));
    report("sum axis=1 f32 4096x4096", median_ms([&] { eval(sum(m, 1)); }, 21));
    report("sum all f32 4096x4096", median_ms([&] { eval(sum(m)); }, 21));
  }
  if (want("sort")) {
    // 1M pseudo-random float32 values: sin of a stretched ramp.
    array x = astype(multiply(sin(multiply(astype(arange(0.0, double(1 << 20), 1.0), float64), array(1.618))),
                              array(1000.0)), float32);
    eval(x);
    report("sort f32 1M", median_ms([&] { eval(sort(x)); }, 11));
    report("argsort f32 1M", median_ms([&] { eval(argsort(x)); }, 11));
  }
  if (want("gemm")) {
    array a = divide(reshape(astype(arange(0.0, 2048.0 * 2048.0, 1.0), float32), {2048, 2048}), array(4e6f));
    array b = transpose(a);
    b = contiguous(b);
    eval(a, b);
    report("sgemm 2048", median_ms([&] { eval(matmul(a, b)); }, 9));
  }
  if (want("mlp")) {
    // One MLP training step's loss (784-512-512-10, tanh, softmax cross-entropy, batch 256),
    // and the same with value_and_grad: the cost of the backward pass over the forward.
    auto init = [](int rows, int cols, int seed) {
      array w = sin(multiply(astype(reshape(arange(0, rows * cols), {rows, cols}), float32), array(0.37f * seed)));
      return multiply(w, array(1.f / std::sqrt(float(rows))));
    };
    std::vector<array> params{init(784, 512, 1), zeros({512}), init(512, 512, 2), zeros({512}), init(512, 10, 3), zeros({10})};
    array x = cos(reshape(astype(arange(0, 256 * 784), float32), {256, 784}));
    array labels = one_hot_labels(256, 10);
    eval(params);
    eval(x, labels);
    auto loss = [&](const std::vector<array>& p) {
      array h = tanh(add(matmul(x, p[0]), p[1]));
      h = tanh(add(matmul(h, p[2]), p[3]));
      array logits = add(matmul(h, p[4]), p[5]);
      array logp = subtract(logits, logsumexp(logits, 1, true));
      return std::vector<array>{negative(mean(sum(multiply(logp, labels), 1)))};
    };
    auto step = value_and_grad(loss, {0, 1, 2, 3, 4, 5});
    report("mlp forward (loss)", median_ms([&] { eval(loss(params)); }, 21));
    report("mlp value_and_grad", median_ms([&] {
      auto [v, g] = step(params);
      g.push_back(v[0]);
      eval(g);
    }, 21));
  }
  if (want("graph")) {
    // Cost of recording an op: build a long chain of adds without evaluating it.
    array x = ones({16});
    eval(x);
    const int ops = 100000;
    double ms = median_ms([&] {
      array y = x;
      for (int i = 0; i < ops; ++i) y = add(y, x);
    }, 7);
    // The timed lambda also destroys the unevaluated chain; report build+free per op.
    std::printf("{\"case\": \"graph build per op\", \"us\": %.4f}\n", ms * 1e3 / ops);
  }
  return 0;
}
