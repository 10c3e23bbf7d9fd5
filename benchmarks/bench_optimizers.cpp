// CPU benchmarks of lazuli::optimizers: one update of a 4M-element parameter (Adam, SGD with
// momentum, Lion) and one Muon update of a 1024 x 1024 matrix. JSON lines {"case", "ms"} as
// the other benches; benchmarks/peers_optimizers.py (MLX) and peers_optimizers_torch.py time
// the same cases. (The MLP training step with Adam, issue P6's target, is in bench_compile.cpp.)
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
  return 0;
}
