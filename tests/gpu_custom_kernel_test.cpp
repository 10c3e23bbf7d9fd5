// fast::cuda_kernel on the GPU: user kernels compiled by NVRTC and launched by the
// CustomKernel node give what the same computation gives with Lazuli's CPU ops.
#include <cstdio>

#include "gpu_test_util.h"
#include "lazuli/export.h"
#include "lazuli/fast.h"

namespace lazuli::gpu_test {
namespace {

using Templates = std::vector<std::pair<std::string, fast::TemplateArg>>;

const std::string kExpBody = R"(
  auto elem = cooperative_groups::this_grid().thread_rank();
  if (elem < size_t(inp_shape[0]) * inp_shape[1]) out[elem] = static_cast<T>(exp(static_cast<float>(inp[elem])));
)";

fast::CustomKernelFunction exp_kernel(bool contiguous = true) {
  return fast::cuda_kernel("myexp", {"inp"}, {"out"}, kExpBody, "", contiguous);
}

array run1(const fast::CustomKernelFunction& k, const array& x, Dtype out_dtype, const Templates& t,
           std::optional<float> init = std::nullopt, Shape out_shape = {}) {
  int64_t n = static_cast<int64_t>(x.size());
  auto outs = k({x}, {out_shape.empty() ? x.shape() : out_shape}, {out_dtype}, {static_cast<int>(n), 1, 1},
                {256, 1, 1}, t, init, false, kGpu);
  return outs[0];
}

}  // namespace

TEST_F(Gpu, CustomKernelElementwiseExp) {
  // 2-d inputs, sizes below one block and not a multiple of the block size.
  for (Shape shape : {Shape{16, 16}, Shape{1, 1}, Shape{700, 1003}}) {
    for (Dtype t : {float32, float16, bfloat16, float64}) {
      SCOPED_TRACE(dtype_name(t) + " " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]));
      array x = sample(shape, t, 3);
      array got = run1(exp_kernel(), x, t, {{"T", t}});
      // The kernel computes exp in float32 whatever T is: float64 is checked at float32's precision.
      Dtype at = t == float64 ? float32 : t;
      expect_same(exp(astype(x, at, kCpu), kCpu), astype(got, at, kCpu), "exp");
    }
  }
}

TEST_F(Gpu, CustomKernelMakesStridedInputsRowContiguous) {
  array x = transpose(sample({40, 30}, float32, 4));  // a transposed view
  expect_same(exp(x, kCpu), run1(exp_kernel(true), x, float32, {{"T", float32}}), "transposed input");
  array b = broadcast_to(sample({1, 30}, float32, 5), {20, 30});
  expect_same(exp(b, kCpu), run1(exp_kernel(true), b, float32, {{"T", float32}}), "broadcast input");
}

TEST_F(Gpu, CustomKernelReadsShapesAndStrides) {
  // With ensure_row_contiguous=false the kernel gets the view itself and walks its strides;
  // template arguments choose the output type, a flag and a constant.
  const std::string body = R"(
  size_t i = blockIdx.x * blockDim.x + threadIdx.x;
  size_t total = 1;
  for (int d = 0; d < a_ndim; ++d) total *= a_shape[d];
  if (i >= total) return;
  int64_t at = 0;
  size_t rest = i;
  for (int d = a_ndim - 1; d >= 0; --d) { at += int64_t(rest % a_shape[d]) * a_strides[d]; rest /= a_shape[d]; }
  T v = static_cast<T>(a[at]) * static_cast<T>(a[at]);
  if constexpr (Doubled) v = v + v;
  out[i] = v * static_cast<T>(Scale);
)";
  auto k = fast::cuda_kernel("strided_square", {"a"}, {"out"}, body, "", /*ensure_row_contiguous=*/false);
  array base = sample({6, 50, 7}, float32, 6);
  array x = slice(transpose(base, {2, 0, 1}), {1, 0, 3}, {7, 6, 50}, {2, 1, 3});  // offset, permuted, stepped
  for (bool doubled : {false, true}) {
    array got = run1(k, x, float64, {{"T", float64}, {"Doubled", doubled}, {"Scale", 3}});
    array want = multiply(square(astype(x, float64, kCpu), kCpu), array(doubled ? 6.0 : 3.0), kCpu);
    expect_same(want, got, doubled ? "doubled" : "plain");
  }
}

TEST_F(Gpu, CustomKernelInitValueAndAtomicOutputs) {
  // A sum and a histogram by atomicAdd into outputs that init_value filled first.
  const std::string body = R"(
  size_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= x_shape[0]) return;
  atomicAdd(&total[0], x[i]);
  atomicAdd(&counts[static_cast<int>(x[i]) % 8], 1);
)";
  auto k = fast::cuda_kernel("sum_hist", {"x"}, {"total", "counts"}, body, "", true, 0, /*atomic_outputs=*/true);
  const int n = 100003;
  array x = floor(multiply(random::uniform({n}, float32, random::key(7)), array(16.0f)));
  auto outs = k({x}, {{1}, {8}}, {float32, int32}, {n, 1, 1}, {128, 1, 1}, {}, 5.0f, false, kGpu);
  array want_total = add(sum(x, false, kCpu), array(5.0f), kCpu);
  expect_same(reshape(want_total, {1}, kCpu), outs[0], "sum");  // float32 sums of integers: exact
  std::vector<double> hist(8, 5.0);  // init_value 5 in every bin
  for (float v : test::to_vector<float>(x)) hist[static_cast<int>(v) % 8] += 1;
  test::expect_values(outs[1], hist);
  // Without init_value, a kernel that writes every element needs none.
  auto fill = fast::cuda_kernel("fill", {"x"}, {"y"}, "y[threadIdx.x] = x[0] + threadIdx.x;");
  auto ys = fill({array(2.0f)}, {{32}}, {float32}, {32, 1, 1}, {32, 1, 1}, {}, std::nullopt, false, kGpu);
  std::vector<double> want(32);
  for (int i = 0; i < 32; ++i) want[i] = 2.0 + i;
  test::expect_values(ys[0], want);
}

TEST_F(Gpu, CustomKernelDynamicSharedMemory) {
  // 64 KiB of dynamic shared memory (past the 48 KiB that needs opting in): a block
  // reverses its 16384 floats through it.
  const std::string body = R"(
  extern __shared__ float buffer[];
  const int n = 16384;
  for (int i = threadIdx.x; i < n; i += blockDim.x) buffer[i] = x[i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = buffer[n - 1 - i];
)";
  auto k = fast::cuda_kernel("reverse", {"x"}, {"y"}, body, "", true, 65536);
  array x = sample({16384}, float32, 8);
  auto ys = k({x}, {{16384}}, {float32}, {1024, 1, 1}, {1024, 1, 1}, {}, std::nullopt, false, kGpu);
  auto values = test::to_vector<double>(x);
  test::expect_values(ys[0], std::vector<double>(values.rbegin(), values.rend()));
}

TEST_F(Gpu, CustomKernelRunsAfterExportAndImport) {
  auto k = exp_kernel();
  Fn f = [&](const std::vector<array>& xs) {
    return k(xs, {xs[0].shape()}, {float32}, {static_cast<int>(xs[0].size()), 1, 1}, {256, 1, 1},
             {{"T", float32}}, std::nullopt, false, kGpu);
  };
  std::string file = ::testing::TempDir() + "gpu_custom_kernel.mlxfn";
  array x = sample({30, 20}, float32, 9);
  export_function(file, f, {x});
  auto g = import_function(file);
  std::remove(file.c_str());
  expect_same(exp(x, kCpu), g({x})[0], "imported");
}

}  // namespace lazuli::gpu_test
