// Fused programs on the GPU as one generated kernel (LAZULI_CUDA_JIT=1; fused_source.h):
// the same bytes as the interpreter, which runs each step as its own elementwise kernel,
// for every op over every dtype it takes, casts, selects, every way of reading an input,
// several outputs and trailing sums; and compiled functions agree with the CPU.
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>

#include "fused_test_util.h"
#include "gpu_test_util.h"
#include "lazuli/compile.h"

namespace lazuli::gpu_test {
namespace {

// LAZULI_CUDA_JIT for a scope (compiled.cpp reads it at every evaluation).
class JitSetting {
 public:
  explicit JitSetting(bool on) {
    if (const char* v = std::getenv("LAZULI_CUDA_JIT")) before_ = v;
    if (on) setenv("LAZULI_CUDA_JIT", "1", 1);
    else unsetenv("LAZULI_CUDA_JIT");
  }
  ~JitSetting() {
    if (before_) setenv("LAZULI_CUDA_JIT", before_->c_str(), 1);
    else unsetenv("LAZULI_CUDA_JIT");
  }

 private:
  std::optional<std::string> before_;
};

std::vector<array> evaluated(const std::function<std::vector<array>()>& f, bool jit) {
  JitSetting setting(jit);
  std::vector<array> out = f();
  eval(out);
  return out;
}

// f's outputs with the generated kernel and with the interpreter: the same bytes.
void expect_jit_exact(const std::function<std::vector<array>()>& f, const std::string& what) {
  std::vector<array> fused = evaluated(f, true), stepwise = evaluated(f, false);
  ASSERT_EQ(fused.size(), stepwise.size()) << what;
  for (size_t k = 0; k < fused.size(); ++k) {
    const array &a = fused[k], &b = stepwise[k];
    const std::string which = what + " output " + std::to_string(k);
    ASSERT_EQ(a.dtype(), b.dtype()) << which;
    ASSERT_EQ(a.shape(), b.shape()) << which;
    ASSERT_TRUE(a.flags().row_contiguous && b.flags().row_contiguous) << which;
    const size_t width = a.itemsize();
    const char* x = static_cast<const char*>(const_cast<array&>(a).raw_data());
    const char* y = static_cast<const char*>(const_cast<array&>(b).raw_data());
    for (size_t i = 0; i < a.size(); ++i)
      if (std::memcmp(x + i * width, y + i * width, width) != 0) {
        ADD_FAILURE() << which << ": element " << i << " differs (" << dtype_name(a.dtype()) << ")";
        break;
      }
  }
}

const Stream& gpu_stream() {
  static const Stream s = default_stream(kGpu);
  return s;
}

template <typename P, typename... A> std::shared_ptr<Primitive> prim(A... a) {
  return std::make_shared<P>(gpu_stream(), a...);
}

// The outputs of a Compiled program over `inputs` (run on the GPU's stream).
std::vector<array> run(const std::vector<FusedStep>& steps, const std::vector<int>& outputs,
                       const std::vector<array>& inputs) {
  std::vector<Dtype> in_dtypes;
  Shape shape;
  for (auto& x : inputs) in_dtypes.push_back(x.dtype()), shape = broadcast_shapes(shape, x.shape());
  auto c = std::make_shared<Compiled>(gpu_stream(), in_dtypes, steps, outputs);
  std::vector<Dtype> out_dtypes;
  for (int r : outputs) out_dtypes.push_back(r < static_cast<int>(inputs.size()) ? in_dtypes[r] : steps[r - inputs.size()].dtype);
  return array::make_arrays(std::vector<Shape>(outputs.size(), shape), out_dtypes, c, inputs);
}

using fused_test::every_dtype;

// The ways an input is read: dense, transposed (strided), a broadcast row, a scalar.
std::vector<std::pair<std::string, array>> layouts(Dtype t, uint64_t seed) {
  return {{"dense", sample({37, 129}, t, seed)},
          {"transposed", transpose(sample({129, 37}, t, seed + 1))},
          {"row", sample({129}, t, seed + 2)},
          {"scalar", sample({}, t, seed + 3)}};
}

TEST_F(Gpu, FusedUnaryOpsMatchTheInterpreter) {
  for (Dtype t : every_dtype()) {
    auto p = fused_test::unary_ops(t, gpu_stream());
    for (auto& [how, x] : layouts(t, 10))
      expect_jit_exact([&] { return run(p.steps, p.outputs, {x}); }, "unary ops, " + how + " " + dtype_name(t));
  }
}

TEST_F(Gpu, FusedBinaryOpsMatchTheInterpreter) {
  for (Dtype t : every_dtype()) {
    auto p = fused_test::binary_ops(t, gpu_stream());
    array rhs = sample_rhs({37, 129}, t, 21);
    for (auto& [how, x] : layouts(t, 20)) {
      expect_jit_exact([&] { return run(p.steps, p.outputs, {x, rhs}); }, "binary ops, " + how + " lhs " + dtype_name(t));
      expect_jit_exact([&] { return run(p.steps, p.outputs, {rhs, x}); }, "binary ops, " + how + " rhs " + dtype_name(t));
    }
  }
}

TEST_F(Gpu, FusedCastsAndSelectsMatchTheInterpreter) {
  for (Dtype from : every_dtype()) {
    auto p = fused_test::casts(from, gpu_stream());
    // Large values too, for the out-of-range float to integer rules.
    array big = from == bool_ ? sample({37, 129}, from, 31)
                              : astype(multiply(sample({37, 129}, float32, 31), array(1e6f)), from);
    for (auto& [how, x] : layouts(from, 30)) {
      expect_jit_exact([&] { return run(p.steps, p.outputs, {x}); }, "casts, " + how + " " + dtype_name(from));
    }
    expect_jit_exact([&] { return run(p.steps, p.outputs, {big}); }, "casts of large values from " + dtype_name(from));
    // where(c, x, y), the condition and values read in different ways.
    array c = sample({37, 129}, bool_, 32), y = sample({129}, from, 33);
    std::vector<FusedStep> select = {{prim<Select>(), {0, 1, 2}, from}};
    for (auto& [how, x] : layouts(from, 34))
      expect_jit_exact([&] { return run(select, {3}, {c, x, y}); }, "select, " + how + " " + dtype_name(from));
  }
}

// Chains where one kernel could contract a product into the next step's sum: stored
// between steps, it is rounded first, and so it is in the fused kernel.
TEST_F(Gpu, FusedChainsRoundEachStep) {
  for (Dtype t : {float16, bfloat16, float32, float64, complex64}) {
    std::vector<FusedStep> steps = {
        {prim<Binary>(BinaryOp::Multiply), {0, 1}, t},  // r3
        {prim<Binary>(BinaryOp::Add), {3, 2}, t},       // r4
        {prim<Binary>(BinaryOp::Multiply), {4, 4}, t},  // r5
        {prim<Binary>(BinaryOp::Subtract), {5, 0}, t},  // r6
    };
    array x = sample({300, 1001}, t, 40), y = sample({1001}, t, 41), z = transpose(sample({1001, 300}, t, 42));
    expect_jit_exact([&] { return run(steps, {6, 3}, {x, y, z}); }, "multiply-add chain " + dtype_name(t));
    if (t == float32 || t == float64) {
      auto summed = steps;
      summed.push_back({prim<Reduce>(ReduceOp::Sum, std::vector<int>{1}), {6}, t});
      auto sum_of = [&](const std::vector<array>& in) {
        auto c = std::make_shared<Compiled>(gpu_stream(), std::vector<Dtype>{t, t, t}, summed, std::vector<int>{7});
        return std::vector<array>{array({300, 1}, t, c, in)};
      };
      expect_jit_exact([&] { return sum_of({x, y, z}); }, "multiply-add chain summed " + dtype_name(t));
    }
  }
}

// Functions compile() fuses, on the GPU against the CPU: interpreted step by step, or (jit)
// as the generated kernels, which must also give the interpreter's bytes.
void compiled_functions_match_the_cpu(bool jit) {
  JitSetting setting(jit);
  const std::string label = jit ? "fused " : "compiled ";
  for (Dtype t : {float32, float64}) {
    auto make = [&](Device d) {
      return compile([d](const std::vector<array>& in) {
        array e = add(multiply(exp(in[0], d), in[1], d), sin(in[0], d), d);
        array w = where(greater(e, in[1], d), e, negative(e, d), d);
        array c = astype(astype(w, float32, d), in[0].dtype(), d);
        return std::vector<array>{c, multiply(c, e, d)};
      });
    };
    array x = sample({4, 33}, t, 50), y = sample({33}, t, 51);
    array big = sample({300, 60000}, t, 52);  // more elements than one grid covers
    for (int k = 0; k < 2; ++k) {
      compare([&](Device d) { return make(d)({x, y})[k]; }, label + dtype_name(t) + " output " + std::to_string(k));
      compare([&](Device d) { return make(d)({transpose(sample({33, 4}, t, 53)), y})[k]; },
              label + "transposed input " + dtype_name(t));
      compare([&](Device d) { return make(d)({array(1.5, t), array(-0.5, t)})[k]; }, label + "0-d " + dtype_name(t));
      compare([&](Device d) { return make(d)({sample({0, 33}, t, 54), y})[k]; }, label + "empty " + dtype_name(t));
    }
    compare([&](Device d) { return make(d)({big, array(0.5, t)})[0]; }, label + "big " + dtype_name(t));
    auto summed = [&](std::vector<int> axes) {
      return [axes](Device d) {
        return compile([d, axes](const std::vector<array>& in) {
          return std::vector<array>{sum(multiply(tanh(in[0], d), in[1], d), axes, true, d)};
        });
      };
    };
    array x3 = sample({5, 7, 300}, t, 55), y3 = sample({7, 300}, t, 56);
    compare([&](Device d) { return summed({1, 2})(d)({x3, y3})[0]; }, label + "sum " + dtype_name(t));
    compare([&](Device d) { return summed({0})(d)({x3, y3})[0]; }, label + "sum, leading axis " + dtype_name(t));
    compare([&](Device d) { return summed({1, 2})(d)({sample({2, 1, 1}, t, 57), y3})[0]; },
            label + "sum broadcast " + dtype_name(t));
    compare([&](Device d) { return summed({1, 2})(d)({sample({0, 7, 300}, t, 58), y3})[0]; },
            label + "sum empty " + dtype_name(t));
    compare([&](Device d) { return summed({1, 2})(d)({sample({5, 0, 300}, t, 59), sample({0, 300}, t, 60)})[0]; },
            label + "sum of empty rows " + dtype_name(t));
    compare([&](Device d) { return summed({1})(d)({sample({3, 2000000}, t, 61), array(2.0, t)})[0]; },
            label + "sum of long rows " + dtype_name(t));
    if (jit) {  // and the same bytes as the interpreter
      expect_jit_exact([&] { return make(kGpu)({big, array(0.5, t)}); }, "fused big " + dtype_name(t));
      expect_jit_exact([&] { return summed({1, 2})(kGpu)({x3, y3}); }, "fused sum " + dtype_name(t));
    }
  }
  array a = sample({6, 5}, float32, 62), b = sample({5}, float32, 63);
  auto logic = [](Device d) {
    return compile([d](const std::vector<array>& in) {
      array m = logical_and(greater(in[0], in[1], d), less(in[0], array(1.f), d), d);
      return std::vector<array>{logical_not(m, d)};
    });
  };
  compare([&](Device d) { return logic(d)({a, b})[0]; }, label + "bool");
}

TEST_F(Gpu, CompiledFunctionsMatchTheCpu) { compiled_functions_match_the_cpu(false); }
TEST_F(Gpu, FusedCompiledFunctionsMatchTheCpu) { compiled_functions_match_the_cpu(true); }

}  // namespace
}  // namespace lazuli::gpu_test
