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

#include "bench_util.h"
#include "lazuli/lazuli.h"
#include "lazuli/quantized.h"

using namespace lazuli;

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
      report_bytes("qmm 4-bit g64" + b, median_ms([&] { eval(quantized_matmul(x, q[0], q[1], q[2])); }, 21), w4_bytes + io);
    if (want("matmul"))
      report_bytes("matmul f32" + b, median_ms([&] { eval(matmul(x, transpose(w))); }, 21), 4.0 * n * k + io);
  }
  // Other formats at batch 1.
  if (want("qmm")) {
    array x = random::normal({1, k}, float32, 0.0, 1.0, random::key(3));
    eval(x);
    auto q8 = quantize(w, 64, 8);
    auto q3 = quantize(w, 64, 3);
    auto f4 = quantize(w, 32, 4, "mxfp4");
    eval(q8[0], q8[1], q8[2], q3[0], q3[1], q3[2], f4[0], f4[1]);
    double groups = 2.0 * 4 * n * (k / 64);
    report_bytes("qmm 8-bit g64 batch 1 4096x4096", median_ms([&] { eval(quantized_matmul(x, q8[0], q8[1], q8[2], true, 64, 8)); }, 21),
           double(n) * k + groups);
    report_bytes("qmm 3-bit g64 batch 1 4096x4096", median_ms([&] { eval(quantized_matmul(x, q3[0], q3[1], q3[2], true, 64, 3)); }, 21),
           double(n) * k * 3 / 8 + groups);
    report_bytes("qmm mxfp4 batch 1 4096x4096",
           median_ms([&] { eval(quantized_matmul(x, f4[0], f4[1], std::nullopt, true, 32, 4, "mxfp4")); }, 21),
           double(n) * k / 2 + double(n) * k / 32);
  }
  if (want("quantize")) {
    report_bytes("quantize 4-bit g64 4096x4096", median_ms([&] { eval(quantize(w, 64, 4)); }, 7), 4.0 * n * k + w4_bytes);
    report_bytes("dequantize 4-bit g64 4096x4096", median_ms([&] { eval(dequantize(q[0], q[1], q[2])); }, 7),
           4.0 * n * k + w4_bytes);
  }
}
