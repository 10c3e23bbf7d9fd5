// Arrays over device-only CUDA memory (what a DLPack import of a PyTorch or CuPy tensor
// wraps): GPU kernels read it in place; CPU kernels and host reads see staged host copies.
#include <cuda_runtime.h>

#include "gpu_test_util.h"
#include "lazuli/device_memory.h"

namespace lazuli {
namespace {

using namespace gpu_test;

// `values` in fresh cudaMalloc'd memory, wrapped without a copy; *freed turns true once the
// last array over it is gone.
array device_only(const std::vector<float>& values, Shape shape, std::shared_ptr<bool> freed = nullptr) {
  void* p = nullptr;
  size_t bytes = values.size() * sizeof(float);
  EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, values.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
  return array(p, std::move(shape), float32, [freed](void* q) {
    EXPECT_EQ(cudaFree(q), cudaSuccess);
    if (freed) *freed = true;
  });
}

// The elements in row-major order, read on the host (test::to_vector reads in place).
std::vector<float> host_values(const array& a) {
  array c = contiguous(a);
  c.eval();
  c = host_readable(c);
  EXPECT_NE(memory_kind(c), MemoryKind::device_only);
  const float* p = static_cast<const float*>(c.raw_data());
  return std::vector<float>(p, p + c.size());
}

TEST_F(Gpu, DeviceMemoryKinds) {
  array own = arange(4.0f);
  own.eval();
  EXPECT_EQ(memory_kind(own), MemoryKind::managed);
  array x = device_only({1, 2, 3, 4}, {4});
  EXPECT_EQ(memory_kind(x), MemoryKind::device_only);
  EXPECT_EQ(memory_kind(slice(x, {1}, {3})), MemoryKind::host) << "unevaluated: no buffer yet";
  EXPECT_GE(cuda_device(), 0);
}

TEST_F(Gpu, DeviceOnlyInputsOnBothStreams) {
  array x = device_only({1, -2, 3, -4, 5, -6}, {2, 3});
  for (Device d : {kCpu, kGpu}) {
    std::string on = d == kCpu ? " on the CPU" : " on the GPU";
    EXPECT_EQ(host_values(add(x, array(1.0f), d)), (std::vector<float>{2, -1, 4, -3, 6, -5})) << "add" << on;
    EXPECT_EQ(host_values(sum(x, 0, false, d)), (std::vector<float>{-3, 3, -3})) << "sum" << on;
    EXPECT_EQ(host_values(multiply(transpose(x, d), array(2.0f), d)), (std::vector<float>{2, -8, -4, 10, 6, -12}))
        << "transpose" << on;
    EXPECT_EQ(host_values(abs(slice(x, {0, 1}, {2, 3}, d), d)), (std::vector<float>{2, 3, 5, 6})) << "slice" << on;
  }
  EXPECT_EQ(slice(x, {1, 2}, {2, 3}).item<float>(), -6.0f) << "item stages the host read";
  EXPECT_TRUE(test::contains(to_string(x), "-6")) << to_string(x);
}

TEST_F(Gpu, HostReadableKeepsTheLayout) {
  std::vector<float> span(12);
  for (int i = 0; i < 12; ++i) span[i] = float(i);
  array base = device_only(span, {12});
  array view = as_strided(base, {3, 2}, {4, 2}, 1, kGpu);  // elements 1, 3, 5, 7, 9, 11
  view.eval();
  ASSERT_EQ(memory_kind(view), MemoryKind::device_only) << "a GPU view shares the device-only buffer";
  array staged = host_readable(view);
  EXPECT_EQ(memory_kind(staged), MemoryKind::managed);
  EXPECT_EQ(staged.strides(), view.strides());
  EXPECT_EQ(host_values(staged), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  auto staged_inputs = host_readable(std::vector<array>{arange(2.0f), view});
  ASSERT_TRUE(staged_inputs.has_value());
  EXPECT_EQ(memory_kind((*staged_inputs)[1]), MemoryKind::managed);
}

TEST_F(Gpu, DeviceOnlyMemoryFreedWithTheLastArray) {
  auto freed = std::make_shared<bool>(false);
  {
    array x = device_only({1, 2}, {2}, freed);
    array y = add(x, array(1.0f), kCpu);
    y.eval();
    EXPECT_EQ(host_values(y), (std::vector<float>{2, 3}));
    EXPECT_FALSE(*freed);
  }
  synchronize();
  EXPECT_TRUE(*freed);
}

}  // namespace
}  // namespace lazuli
