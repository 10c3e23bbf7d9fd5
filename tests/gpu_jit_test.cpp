// The CUDA JIT on the GPU: a kernel compiled by NVRTC (jit_test.cpp covers compilation and
// caching) is loaded, launched on a stream and computes what the CPU computes.
#include <cmath>

#include "gpu_test_util.h"
#ifdef LAZULI_CUDA
#include <cuda_runtime.h>

#include "lazuli/backend/cuda/jit.h"
#endif

namespace lazuli::gpu_test {

#ifdef LAZULI_CUDA
TEST_F(Gpu, JitKernelLaunches) {
  namespace jit = cuda::jit;
  const std::string source = R"(
#include "lazuli/backend/common/math.h"
template <typename F> __device__ void apply(const float* in, float* out, int n, F f) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = f(in[i]);
}
extern "C" __global__ void jit_exp(const float* in, float* out, int n) { apply(in, out, n, lazuli::math::Exp{}); }
extern "C" __global__ void jit_square(const float* in, float* out, int n) { apply(in, out, n, lazuli::math::Square{}); }
)";
  std::string image = jit::compile(source, "gpu_jit_test");
  const int n = 100003;  // not a multiple of the block size, more than one grid's pass
  float *in = nullptr, *out = nullptr;
  ASSERT_EQ(cudaMallocManaged(&in, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMallocManaged(&out, n * sizeof(float)), cudaSuccess);
  for (int i = 0; i < n; ++i) in[i] = -4.0f + 8.0f * i / n;
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  int count = n;
  void* args[] = {&in, &out, &count};
  for (const char* name : {"jit_exp", "jit_square"}) {
    CUfunction f = jit::function(image, name);
    EXPECT_EQ(jit::function(image, name), f);  // loaded once
    jit::launch(f, dim3(64), dim3(256), 0, stream, args);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    for (int i = 0; i < n; ++i) {
      float want = std::string(name) == "jit_exp" ? std::exp(in[i]) : in[i] * in[i];
      ASSERT_NEAR(out[i], want, 2e-6f * std::max(1.0f, std::fabs(want))) << name << " at " << i;
    }
  }
  EXPECT_THROW(jit::function(image, "no_such_kernel"), std::runtime_error);
  // Too many threads per block: the driver's error becomes an exception.
  EXPECT_THROW(jit::launch(jit::function(image, "jit_exp"), dim3(1), dim3(4096), 0, stream, args),
               std::runtime_error);
  cudaStreamDestroy(stream);
  cudaFree(in);
  cudaFree(out);
}
#endif

}  // namespace lazuli::gpu_test
