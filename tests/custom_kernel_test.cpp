// fast::cuda_kernel on the CPU machine: argument checks (every build), and with the CUDA
// backend built, that the programs it writes compile with NVRTC, that compile errors carry
// NVRTC's log, and that the node refuses the CPU, transforms and vmap clearly. Launches are
// tested in gpu_custom_kernel_test.cpp.
#include <cstdio>

#include "lazuli/export.h"
#include "lazuli/fast.h"
#include "lazuli/primitives/custom_kernel.h"
#include "lazuli/transforms.h"
#include "test_util.h"

namespace lazuli {
namespace {

using test::contains;
using test::error_of;

const std::string kExpBody = R"(
  auto elem = cooperative_groups::this_grid().thread_rank();
  if (elem < n) out[elem] = static_cast<T>(exp(static_cast<float>(inp[elem])));
)";

fast::CustomKernelFunction exp_kernel() {
  return fast::cuda_kernel("myexp", {"inp"}, {"out"}, "const size_t n = inp_shape[0];" + kExpBody);
}

// Calls `k` on `inputs` with one output like the first input, a 1-d launch over its size
// and a CPU stream (the program is written and compiled; nothing runs).
std::vector<array> call(const fast::CustomKernelFunction& k, const std::vector<array>& inputs,
                        fast::TemplateArg t = float32, std::array<int, 3> grid = {256, 1, 1},
                        std::array<int, 3> threadgroup = {256, 1, 1}) {
  return k(inputs, {inputs[0].shape()}, {inputs[0].dtype()}, grid, threadgroup, {{"T", t}}, std::nullopt, false,
           Device::cpu);
}

std::string invalid(const std::function<void()>& f) { return error_of<std::invalid_argument>(f); }

TEST(CustomKernel, RejectsBadDefinitions) {
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("", {"a"}, {"b"}, ""); }), "needs a name"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("my kernel", {"a"}, {"b"}, ""); }), "'my kernel'"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("k", {"a"}, {}, ""); }), "at least one output"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("k", {"a", "a"}, {"b"}, ""); }), "'a' is used twice"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("k", {"a"}, {"a"}, ""); }), "'a' is used twice"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("k", {"1a"}, {"b"}, ""); }), "'1a' is not a C++ identifier"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("k", {"a"}, {"b"}, "", "", true, -1); }), "shared_memory -1"));
  EXPECT_TRUE(contains(invalid([] { fast::cuda_kernel("k", {"a"}, {"b"}, "", "", true, 1 << 20); }), "shared_memory"));
}

TEST(CustomKernel, RejectsBadCalls) {
  auto k = exp_kernel();
  array x = array({1.0f, 2.0f, 3.0f}, {3});
  auto run = [&](std::vector<array> in, std::vector<Shape> shapes, std::vector<Dtype> dtypes, std::array<int, 3> grid,
                 std::array<int, 3> group, std::vector<std::pair<std::string, fast::TemplateArg>> t) {
    return invalid([&] { k(in, shapes, dtypes, grid, group, t, std::nullopt, false, Device::cpu); });
  };
  const std::array<int, 3> g{3, 1, 1}, b{32, 1, 1};
  std::vector<std::pair<std::string, fast::TemplateArg>> t{{"T", float32}};
  EXPECT_TRUE(contains(run({x, x}, {{3}}, {float32}, g, b, t), "got 2 inputs for 1 input names"));
  EXPECT_TRUE(contains(run({}, {{3}}, {float32}, g, b, t), "got 0 inputs for 1 input names"));
  EXPECT_TRUE(contains(run({x}, {{3}, {3}}, {float32}, g, b, t), "got 2 output shapes and 1 output dtypes"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32, float32}, g, b, t), "got 1 output shapes and 2 output dtypes"));
  EXPECT_TRUE(contains(run({x}, {{-3}}, {float32}, g, b, t), "negative dimensions (got -3)"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, {0, 1, 1}, b, t), "grid (0, 1, 1)"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, {32, 0, 1}, t), "threadgroup (32, 0, 1)"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, {2048, 1, 1}, t), "has 2048 threads"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, {64, 32, 1}, t), "has 2048 threads"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, {1, 1, 128}, t), "at most 64 in z"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, {1, 1 << 30, 1}, {1, 1, 1}, t), "65535 blocks"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, b, {{"T", float32}, {"T", 3}}), "'T' is used twice"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, b, {{"inp", 3}}), "'inp' is used twice"));
  EXPECT_TRUE(contains(run({x}, {{3}}, {float32}, g, b, {{"bad name", 3}}), "'bad name' is not a C++ identifier"));
  // The body reads inp_shape: inputs of more than 12 dimensions cannot pass theirs.
  array deep = zeros(Shape(13, 1), float32);
  EXPECT_TRUE(contains(run({deep}, {{1}}, {float32}, g, b, t), "has 13 dimensions"));
}

#ifdef LAZULI_CUDA
TEST(CustomKernel, ReturnsLazyOutputsOfCustomKernelNode) {
  array x = array({1.0f, 2.0f, 3.0f}, {3});
  auto k = fast::cuda_kernel("two_outputs", {"a"}, {"y", "z"}, "y[0] = a[0]; z[0] = 1;");
  auto outs = k({x}, {{3}, {2, 5}}, {float32, int64}, {1, 1, 1}, {1, 1, 1}, {}, 0.0f, false, Device::cpu);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].shape(), Shape({3}));
  EXPECT_EQ(outs[1].shape(), Shape({2, 5}));
  EXPECT_EQ(outs[1].dtype(), int64);
  auto* p = dynamic_cast<const CustomKernel*>(&outs[0].primitive());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->user_name(), "two_outputs");
  EXPECT_TRUE(contains(p->source(), "extern \"C\" __global__ void " + p->kernel_name() + "("));
  EXPECT_EQ(p->launch().init_value, 0.0f);
  // The CPU has no kernel for it.
  EXPECT_TRUE(contains(invalid([&] { outs[0].eval(); }), "[cuda_kernel] Custom CUDA kernels run on the GPU only."));
}

TEST(CustomKernel, GeneratedProgramsCompileForEveryDtype) {
  auto k = exp_kernel();
  for (Dtype t : {float32, float16, bfloat16, float64}) {
    SCOPED_TRACE(dtype_name(t));
    array x = astype(array({0.5f, 1.0f}, {2}), t);
    auto outs = call(k, {x}, t, {2, 1, 1}, {32, 1, 1});
    EXPECT_EQ(outs[0].dtype(), t);
  }
  // Every dtype as an input and an output in one program.
  std::vector<Dtype> all = {bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
                            float16, float32, float64, bfloat16, complex64};
  std::vector<std::string> in_names, out_names;
  std::vector<array> inputs;
  std::vector<Shape> shapes;
  std::string body;
  for (size_t i = 0; i < all.size(); ++i) {
    in_names.push_back("in" + std::to_string(i));
    out_names.push_back("out" + std::to_string(i));
    inputs.push_back(zeros({2}, all[i]));
    shapes.push_back({2});
    body += "out" + std::to_string(i) + "[0] = in" + std::to_string(i) + "[0];\n";
  }
  auto copy_all = fast::cuda_kernel("copy_all", in_names, out_names, body);
  auto outs = copy_all(inputs, shapes, all, {1, 1, 1}, {1, 1, 1}, {}, std::nullopt, false, Device::cpu);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(outs[i].dtype(), all[i]);
}

TEST(CustomKernel, TemplateArgumentsShapesHeaderSharedMemoryCompile) {
  const std::string header = R"(
#include "lazuli/backend/common/math.h"
template <typename U> __device__ U twice(U v) { return v + v; }
)";
  const std::string body = R"(
  extern __shared__ float scratch[];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  size_t total = 1;
  for (int d = 0; d < a_ndim; ++d) total *= a_shape[d];
  if (i >= total) return;
  size_t at = 0, rest = i;
  for (int d = a_ndim - 1; d >= 0; --d) { at += (rest % a_shape[d]) * a_strides[d]; rest /= a_shape[d]; }
  scratch[threadIdx.x] = static_cast<float>(a[at]);
  T v = static_cast<T>(lazuli::math::Square{}(scratch[threadIdx.x]));
  if constexpr (Doubled) v = twice(v);
  out[i] = v * static_cast<T>(Scale);
)";
  auto k = fast::cuda_kernel("templated", {"a"}, {"out"}, body, header, false, 256 * 4);
  array x = transpose(reshape(astype(arange(6), float32), {2, 3}));
  for (bool doubled : {false, true}) {
    auto outs = k({x}, {{3, 2}}, {float64}, {6, 1, 1}, {256, 1, 1},
                  {{"T", float64}, {"Doubled", doubled}, {"Scale", 3}}, std::nullopt, false, Device::cpu);
    auto* p = dynamic_cast<const CustomKernel*>(&outs[0].primitive());
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->input_meta()[0].shape && p->input_meta()[0].strides && p->input_meta()[0].ndim);
    EXPECT_TRUE(contains(p->source(), std::string("lazuli_custom_body<double, ") + (doubled ? "true" : "false") + ", 3>"));
  }
}

TEST(CustomKernel, CompileErrorsCarryTheLog) {
  auto k = fast::cuda_kernel("broken", {"a"}, {"b"}, "b[0] = a[0] + not_declared_anywhere;");
  std::string what = error_of<std::runtime_error>([&] { call(k, {array({1.0f}, {1})}); });
  EXPECT_TRUE(contains(what, "'broken'")) << what;
  EXPECT_TRUE(contains(what, "not_declared_anywhere")) << what;
}

TEST(CustomKernel, NoGradientNoVmap) {
  auto k = exp_kernel();
  Fn f = [&](const std::vector<array>& xs) { return call(k, xs); };
  array x = array({1.0f, 2.0f}, {2});
  EXPECT_TRUE(contains(invalid([&] { vjp(f, {x}, {x}); }), "has no gradient"));
  EXPECT_TRUE(contains(invalid([&] { jvp(f, {x}, {x}); }), "has no gradient"));
  EXPECT_TRUE(contains(invalid([&] { vmap(f)({reshape(x, {2, 1})}); }), "cannot be vmapped"));
}

TEST(CustomKernel, ExportsAndImports) {
  auto k = exp_kernel();
  Fn f = [&](const std::vector<array>& xs) {
    return k(xs, {xs[0].shape()}, {float32}, {4, 1, 1}, {32, 1, 1}, {{"T", float32}}, 1.5f, false, Device::cpu);
  };
  std::string file = ::testing::TempDir() + "custom_kernel_export.mlxfn";
  array x = array({1.0f, 2.0f, 3.0f, 4.0f}, {4});
  export_function(file, f, {x});
  auto imported = import_function(file);
  auto outs = imported({x});
  std::remove(file.c_str());
  ASSERT_EQ(outs.size(), 1u);
  auto* p = dynamic_cast<const CustomKernel*>(&outs[0].primitive());
  ASSERT_NE(p, nullptr);
  auto original = f({x});
  auto* q = dynamic_cast<const CustomKernel*>(&original[0].primitive());
  EXPECT_EQ(p->source(), q->source());
  EXPECT_EQ(p->kernel_name(), q->kernel_name());
  EXPECT_EQ(p->launch().grid, q->launch().grid);
  EXPECT_EQ(p->launch().threadgroup, q->launch().threadgroup);
  EXPECT_EQ(p->launch().init_value, 1.5f);
  EXPECT_TRUE(p->input_meta()[0].shape);
  // The imported kernel runs on the default device, as imported functions do.
  if (default_device() == Device::cpu) EXPECT_TRUE(contains(invalid([&] { outs[0].eval(); }), "run on the GPU only"));
  else test::expect_values(outs[0], {std::exp(1.0), std::exp(2.0), std::exp(3.0), std::exp(4.0)}, 1e-4);
}
#else
TEST(CustomKernel, NeedsCudaBuild) {
  auto k = exp_kernel();
  std::string what = error_of<std::runtime_error>([&] { call(k, {array({1.0f}, {1})}); });
  EXPECT_TRUE(contains(what, "built without CUDA")) << what;
}
#endif

}  // namespace
}  // namespace lazuli
