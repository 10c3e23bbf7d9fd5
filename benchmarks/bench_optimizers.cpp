// CPU benchmarks of lazuli::optimizers: one update of a 4M-element parameter (Adam, SGD with
// momentum, Lion) and one Muon update of a 1024 x 1024 matrix. JSON lines {"case", "ms"} as
// the other benches; benchmarks/peers_optimizers.py (MLX) and peers_optimizers_torch.py time
// the same cases, and a 784-512-512-10 MLP training step with Adam (issue P6's target).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"
#include "lazuli/nn/functional.h"
#include "lazuli/nn/optimizers.h"

using namespace lazuli;
namespace opt = lazuli::optimizers;

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  const int n = 1 << 22;
  const double f32 = 4.0 * n;
  array w = random::normal({n}, float32, 0.0, 1.0, random::key(0));
  array g = random::normal({n}, float32, 0.0, 1.0, random::key(1));
  array m = zeros({n}), v = zeros({n});
  array lr(0.001f), step(static_cast<uint64_t>(1), uint64);
  eval(w, g, m, v);

  if (want("adam")) {
    // Reads w, g, m, v and writes w, m, v: 7 arrays of n floats.
    report("optim adam step 4M", median_ms([&] {
             auto u = opt::adam(w, g, m, v, lr, step, 0.9, 0.999, 1e-8, true);
             eval(u.parameter, u.state[0], u.state[1]);
           }, 21), 0, 7 * f32);
  }
  if (want("sgd")) {
    report("optim sgd momentum step 4M", median_ms([&] {
             auto u = opt::sgd(w, g, v, lr, 0.9, 1e-4);
             eval(u.parameter, u.state[0]);
           }, 21), 0, 5 * f32);
  }
  if (want("lion")) {
    report("optim lion step 4M", median_ms([&] {
             auto u = opt::lion(w, g, m, lr, 0.9, 0.99, 0.01);
             eval(u.parameter, u.state[0]);
           }, 21), 0, 5 * f32);
  }
  if (want("muon")) {
    const int k = 1024;
    array mw = random::normal({k, k}, float32, 0.0, 0.02, random::key(2));
    array mg = random::normal({k, k}, float32, 0.0, 1.0, random::key(3));
    array mv = zeros({k, k});
    eval(mw, mg, mv);
    // Five Newton-Schulz steps of three k^3 matmuls each (2 k^3 flops apiece).
    report("optim muon step 1024x1024", median_ms([&] {
             auto u = opt::muon(mw, mg, mv, lr, 0.95, 0.01);
             eval(u.parameter, u.state[0]);
           }, 5), 5 * 3 * 2.0 * k * k * k);
  }
  if (want("mlp")) {
    // 784-512-512-10 ReLU MLP, batch 256, softmax cross-entropy, one Adam step (lr 1e-3).
    const int batch = 256;
    std::vector<array> params = {
        nn::init::uniform({512, 784}, -0.035, 0.035), zeros({512}), nn::init::uniform({512, 512}, -0.044, 0.044),
        zeros({512}), nn::init::uniform({10, 512}, -0.044, 0.044), zeros({10})};
    std::vector<array> ms, vs;
    for (const array& p : params) {
      ms.push_back(zeros_like(p));
      vs.push_back(zeros_like(p));
    }
    array x = random::normal({batch, 784}, float32, 0.0, 1.0, random::key(4));
    array y = random::randint(0, 10, {batch}, int32, random::key(5));
    eval(params);
    eval(ms);
    eval(vs);
    eval(x, y);
    auto loss = [&](const std::vector<array>& p) {
      array h = nn::relu(nn::linear(x, p[0], p[1]));
      h = nn::relu(nn::linear(h, p[2], p[3]));
      return nn::cross_entropy(nn::linear(h, p[4], p[5]), y, std::nullopt, -1, 0.0, "mean");
    };
    auto grad_step = value_and_grad(loss, {0, 1, 2, 3, 4, 5});
    int t = 0;
    double macs = double(batch) * (784 * 512 + 512 * 512 + 512 * 10);
    report("nn mlp adam step 784-512-512-10 b256", median_ms([&] {
             auto [l, g] = grad_step(params);
             array count(static_cast<uint64_t>(++t), uint64);
             std::vector<array> all;
             for (size_t i = 0; i < params.size(); ++i) {
               auto u = opt::adam(params[i], g[i], ms[i], vs[i], lr, count, 0.9, 0.999, 1e-8, true);
               params[i] = u.parameter, ms[i] = u.state[0], vs[i] = u.state[1];
               all.insert(all.end(), {params[i], ms[i], vs[i]});
             }
             eval(all);
           }, 21), 6 * macs);
  }
  return 0;
}
