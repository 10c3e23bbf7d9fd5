#include <cuda_runtime.h>

#include "lazuli/backend/cuda/device.h"
#include "lazuli/backend/common/math.h"

namespace lazuli::cuda {

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error of a machine without a driver
      return 0;
    }
    return n;
  }();
  return count;
}

// The shared math compiles for the device too: one kernel instantiates a functor so the
// CI compile check keeps backend/common/math.h CUDA-clean.
__global__ void sigmoid_probe(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = lazuli::math::Sigmoid{}(x[i]);
}

}  // namespace lazuli::cuda
