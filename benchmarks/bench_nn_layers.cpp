// CPU benchmarks of lazuli::nn's recurrent, upsampling and quantized layers (forward passes):
// an LSTM, bilinear and nearest 2x upsampling of channels-last images, and a 4-bit
// QuantizedLinear against the float32 Linear at batch 1. JSON lines {"case", "ms", work} as
// the other benches; benchmarks/peers_nn_layers.py (MLX) and peers_nn_layers_torch.py time
// the same cases.
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"
#include "lazuli/nn/functional.h"
#include "lazuli/quantized.h"

using namespace lazuli;

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };

  if (want("lstm")) {
    const int batch = 32, len = 64, in = 256, hidden = 256;
    array x = random::normal({batch, len, in}, float32, 0.0, 1.0, random::key(0));
    array Wx = nn::init::uniform({4 * hidden, in}, -0.0625, 0.0625);
    array Wh = nn::init::uniform({4 * hidden, hidden}, -0.0625, 0.0625);
    array bias = nn::init::uniform({4 * hidden}, -0.0625, 0.0625);
    eval(x, Wx, Wh, bias);
    double flops = 2.0 * batch * len * (in + hidden) * 4 * hidden;
    report("lstm forward b32 seq64 256-256", median_ms([&] {
             auto [h, c] = nn::lstm(x, Wx, Wh, bias);
             eval(h, c);
           }, 11), flops);
  }
  // Channels-last images (8, 64, 64, 32) to (8, 128, 128, 32).
  array img = random::normal({8, 64, 64, 32}, float32, 0.0, 1.0, random::key(1));
  eval(img);
  double img_bytes = 4.0 * 8 * 64 * 64 * 32 * (1 + 4);  // read the input, write 4x as much
  if (want("upsample")) {
    report_bytes("upsample bilinear x2 8x64x64x32",
                 median_ms([&] { eval(nn::upsample_linear(img, {2.0, 2.0})); }, 21), img_bytes);
    report_bytes("upsample nearest x2 8x64x64x32",
                 median_ms([&] { eval(nn::upsample_nearest(img, {2.0, 2.0})); }, 21), img_bytes);
  }
  if (want("linear")) {
    const int n = 4096, k = 4096;
    array w = random::normal({n, k}, float32, 0.0, 0.02, random::key(2));
    array b = zeros({n});
    array x = random::normal({1, k}, float32, 0.0, 1.0, random::key(3));
    auto q = quantize(w, 64, 4);
    eval(w, b, x, q[0], q[1], q[2]);
    double io = 4.0 * (k + 2 * n);
    report_bytes("qlinear 4-bit g64 batch 1 4096x4096",
                 median_ms([&] { eval(nn::quantized_linear(x, q[0], q[1], q[2], b, 64, 4)); }, 21),
                 double(n) * k / 2 + 2.0 * 4 * n * (k / 64) + io);
    report_bytes("linear f32 batch 1 4096x4096", median_ms([&] { eval(nn::linear(x, w, b)); }, 21),
                 4.0 * n * k + io);
  }
  return 0;
}
