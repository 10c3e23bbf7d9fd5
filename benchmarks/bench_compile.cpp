// CPU benchmarks of compile (issue P7): the 6-op chain tanh(x*2+1)*exp(-x)+x over 32M
// float32 elements eager and compiled, and the 784-512-512-10 MLP Adam training step eager
// and compiled. benchmarks/peers_compile.py times the chain in NumPy and MLX.
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;
namespace opt = lazuli::optimizers;

namespace {
array chain(const array& x) {
  return add(multiply(tanh(add(multiply(x, array(2.0f)), array(1.0f))), exp(negative(x))), x);
}
}  // namespace

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  if (want("chain")) {
    const int n = 1 << 25;
    array x = random::normal({n}, float32, 0.0, 1.0, random::key(0));
    eval(x);
    const double bytes = 2.0 * 4 * n;  // read x, write the result
    report_bytes("chain tanh(x*2+1)*exp(-x)+x 32M f32 eager", median_ms([&] { eval(chain(x)); }, 7), bytes);
    auto compiled = compile([](const std::vector<array>& in) { return std::vector<array>{chain(in[0])}; });
    report_bytes("chain tanh(x*2+1)*exp(-x)+x 32M f32 compiled", median_ms([&] { eval(compiled({x})); }, 7), bytes);
    // With a mean at the end: the sum reads the chain tile by tile, nothing is stored.
    auto mean_chain = [](const std::vector<array>& in) { return std::vector<array>{mean(chain(in[0]))}; };
    report_bytes("mean of the chain 32M f32 eager", median_ms([&] { eval(mean_chain({x})); }, 7), 4.0 * n);
    auto compiled_mean = compile(mean_chain);
    report_bytes("mean of the chain 32M f32 compiled", median_ms([&] { eval(compiled_mean({x})); }, 7), 4.0 * n);
  }
  if (want("mlp")) {
    // 784-512-512-10 ReLU MLP, batch 256, softmax cross-entropy, one Adam step (lr 1e-3):
    // arguments and results are (6 parameters, 6 first moments, 6 second moments, x, y, t).
    const int batch = 256;
    std::vector<array> state = {
        nn::init::uniform({512, 784}, -0.035, 0.035), zeros({512}), nn::init::uniform({512, 512}, -0.044, 0.044),
        zeros({512}), nn::init::uniform({10, 512}, -0.044, 0.044), zeros({10})};
    for (int k = 0; k < 12; ++k) state.push_back(zeros_like(state[k % 6]));
    state.push_back(random::normal({batch, 784}, float32, 0.0, 1.0, random::key(4)));
    state.push_back(random::randint(0, 10, {batch}, int32, random::key(5)));
    state.push_back(array(static_cast<uint64_t>(0), uint64));
    eval(state);
    auto step = [](const std::vector<array>& in) {
      const array &x = in[18], &y = in[19];
      auto loss = [&](const std::vector<array>& p) {
        array h = nn::relu(nn::linear(x, p[0], p[1]));
        h = nn::relu(nn::linear(h, p[2], p[3]));
        return nn::cross_entropy(nn::linear(h, p[4], p[5]), y, std::nullopt, -1, 0.0, "mean");
      };
      auto [l, g] = value_and_grad(loss, {0, 1, 2, 3, 4, 5})(in);
      array t = add(in[20], array(static_cast<uint64_t>(1), uint64));
      std::vector<array> out(in.size(), l);
      for (int i = 0; i < 6; ++i) {
        auto u = opt::adam(in[i], g[i], in[6 + i], in[12 + i], array(0.001f), t, 0.9, 0.999, 1e-8, true);
        out[i] = u.parameter, out[6 + i] = u.state[0], out[12 + i] = u.state[1];
      }
      out[18] = x, out[19] = y, out[20] = t;
      out.push_back(l);
      return out;
    };
    const double flops = 6.0 * batch * (784 * 512 + 512 * 512 + 512 * 10);
    auto run = [&](const Fn& f) {
      return median_ms([&] {
        auto out = f(state);
        out.pop_back();  // the loss
        state = out;
        eval(state);
      }, 21);
    };
    report("nn mlp adam step 784-512-512-10 b256", run(step), flops);
    report("nn mlp adam step 784-512-512-10 b256 compiled", run(compile(step)), flops);
  }
  return 0;
}
