// CPU benchmarks of lazuli::fast (composed of lazuli ops): attention, the two
// normalisations and rotary embedding. JSON lines {"case", "ms", ...} as the other benches;
// benchmarks/peers_fast.py (MLX) and peers_fast_torch.py (PyTorch) time the same cases.
#include <string>

#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  auto normal = [](const Shape& shape, uint64_t seed) {
    array a = random::normal(shape, float32, 0.0, 1.0, random::key(seed));
    eval(a);
    return a;
  };

  if (want("sdpa")) {
    // batch 4, 8 heads, 256 tokens, head dim 64, causal; flops of the two matmuls in full.
    const int b = 4, h = 8, n = 256, d = 64;
    array q = normal({b, h, n, d}, 0), k = normal({b, h, n, d}, 1), v = normal({b, h, n, d}, 2);
    report("fast sdpa b4 h8 s256 d64 causal", median_ms([&] {
             eval(fast::scaled_dot_product_attention(q, k, v, 0.125f, "causal"));
           }, 11), 4.0 * b * h * n * n * d);
  }
  if (want("rms_norm") || want("layer_norm")) {
    array x = normal({4096, 4096}, 3), w = normal({4096}, 4), bias = normal({4096}, 5);
    double bytes = 2.0 * x.nbytes();  // read x, write y
    if (want("rms_norm"))
      report_bytes("fast rms_norm 4096x4096", median_ms([&] { eval(fast::rms_norm(x, w, 1e-5f)); }, 11), bytes);
    if (want("layer_norm"))
      report_bytes("fast layer_norm 4096x4096",
                   median_ms([&] { eval(fast::layer_norm(x, w, bias, 1e-5f)); }, 11), bytes);
  }
  if (want("rope")) {
    array x = normal({4, 8, 256, 64}, 6);
    report_bytes("fast rope b4 h8 s256 d64", median_ms([&] {
                   eval(fast::rope(x, 64, false, 10000.0f, 1.0f, 0));
                 }, 11), 2.0 * x.nbytes());
  }
  return 0;
}
