// CPU benchmarks of quantization: quantized_matmul (4-bit affine, group 64) against the float32
// matmul of the same shape, at batch 1 (the decoding case: a GEMV bound by reading w) and batch
// 32, plus quantize and dequantize throughput. One JSON object per case with the bytes the case
// must move at least, for the bandwidth column.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "lazuli/quantized.h"

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

static void report(const std::string& name, double ms, double bytes) {
  std::printf("{\"case\": \"%s\", \"ms\": %.4f, \"bytes\": %.0f}\n", name.c_str(), ms, bytes);
  std::fflush(stdout);
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  const int n = 4096, k = 4096;
  array w = random::normal({n, k}, float32, 0.0, 0.02, random::key(1));
  auto q = quantize(w, 64, 4);
  eval(w, q[0], q[1], q[2]);
  double w4_bytes = double(n) * k / 2 + 2.0 * 4 * n * (k / 64);  // codes + scales + biases
  for (int m : {1, 32}) {
    array x = random::normal({m, k}, float32, 0.0, 1.0, random::key(2));
    eval(x);
    std::string b = " batch " + std::to_string(m) + " 4096x4096";
    double io = 4.0 * m * (k + n);
    if (want("qmm"))
      report("qmm 4-bit g64" + b, median_ms([&] { eval(quantized_matmul(x, q[0], q[1], q[2])); }, 21), w4_bytes + io);
    if (want("matmul"))
      report("matmul f32" + b, median_ms([&] { eval(matmul(x, transpose(w))); }, 21), 4.0 * n * k + io);
  }
  if (want("quantize")) {
    report("quantize 4-bit g64 4096x4096", median_ms([&] { eval(quantize(w, 64, 4)); }, 7), 4.0 * n * k + w4_bytes);
    report("dequantize 4-bit g64 4096x4096", median_ms([&] { eval(dequantize(q[0], q[1], q[2])); }, 7),
           4.0 * n * k + w4_bytes);
  }
}
