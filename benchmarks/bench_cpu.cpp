// CPU benchmarks for docs/benchmarks.md. Prints one JSON object per case:
// {"case": ..., "ms": median milliseconds}. benchmarks/run_cpu.sh runs this beside the
// same cases in NumPy and MLX and writes the table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"

using namespace lazuli;
using Clock = std::chrono::steady_clock;

static double median_ms(const std::function<void()>& f, int reps) {
  f();  // warm up: page in buffers, fill the allocator cache, start threads
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

static void report(const std::string& name, double ms) {
  std::printf("{\"case\": \"%s\", \"ms\": %.4f}\n", name.c_str(), ms);
  std::fflush(stdout);
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
  if (want("gemm")) {
    array a = divide(reshape(astype(arange(0.0, 2048.0 * 2048.0, 1.0), float32), {2048, 2048}), array(4e6f));
    array b = transpose(a);
    b = contiguous(b);
    eval(a, b);
    report("sgemm 2048", median_ms([&] { eval(matmul(a, b)); }, 9));
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
