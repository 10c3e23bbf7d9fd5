// CPU benchmarks of lazuli::nn: an MLP SGD training step built from the nn functions, and
// the forward passes of a few layers. JSON lines {"case", "ms"} as the other benches;
// benchmarks/peers_nn.py (NumPy, MLX) and peers_nn_torch.py time the same cases.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"
#include "lazuli/nn/functional.h"

using namespace lazuli;

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };

  if (want("mlp")) {
    // 784-512-512-10 ReLU MLP, batch 256, softmax cross-entropy, one SGD step (lr 0.1).
    const int batch = 256;
    std::vector<array> params = {
        nn::init::uniform({512, 784}, -0.035, 0.035), zeros({512}), nn::init::uniform({512, 512}, -0.044, 0.044),
        zeros({512}), nn::init::uniform({10, 512}, -0.044, 0.044), zeros({10})};
    array x = random::normal({batch, 784}, float32, 0.0, 1.0, random::key(0));
    array y = random::randint(0, 10, {batch}, int32, random::key(1));
    eval(params);
    eval(x, y);
    auto loss = [&](const std::vector<array>& p) {
      array h = nn::relu(nn::linear(x, p[0], p[1]));
      h = nn::relu(nn::linear(h, p[2], p[3]));
      return nn::cross_entropy(nn::linear(h, p[4], p[5]), y, std::nullopt, -1, 0.0, "mean");
    };
    auto step = value_and_grad(loss, {0, 1, 2, 3, 4, 5});
    double macs = double(batch) * (784 * 512 + 512 * 512 + 512 * 10);
    report("nn mlp sgd step 784-512-512-10 b256", median_ms([&] {
             auto [l, g] = step(params);
             for (size_t i = 0; i < params.size(); ++i) params[i] = subtract(params[i], multiply(array(0.1f), g[i]));
             eval(params);
           }, 21), 6 * macs);
  }
  if (want("layer_norm")) {
    array x = random::normal({1024, 1024}, float32, 0.0, 1.0, random::key(2));
    array w = ones({1024}), b = zeros({1024});
    eval(x, w, b);
    report("nn layer_norm 1024x1024", median_ms([&] { eval(nn::layer_norm(x, w, b)); }, 21));
  }
  if (want("gelu")) {
    array x = random::normal({1 << 22}, float32, 0.0, 1.0, random::key(3));
    eval(x);
    report("nn gelu 4M", median_ms([&] { eval(nn::gelu(x)); }, 21));
  }
  if (want("cross_entropy")) {
    array logits = random::normal({4096, 1000}, float32, 0.0, 1.0, random::key(4));
    array t = random::randint(0, 1000, {4096}, int32, random::key(5));
    eval(logits, t);
    report("nn cross_entropy 4096x1000",
           median_ms([&] { eval(nn::cross_entropy(logits, t, std::nullopt, -1, 0.0, "mean")); }, 21));
  }
  return 0;
}
