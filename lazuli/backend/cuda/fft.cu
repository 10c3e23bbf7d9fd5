// CUDA backend: the FFT family's helper kernels (fft.h).
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/fft.h"

namespace lazuli::cuda {
namespace {

__global__ void scale_floats_kernel(float* x, int64_t n, float f) {
  LAZULI_GRID_STRIDE(i, n) x[i] *= f;
}
__global__ void clear_imag_kernel(float* x, int64_t lines, int64_t length, int64_t first, int64_t second) {
  LAZULI_GRID_STRIDE(l, lines) {
    x[2 * (l * length + first) + 1] = 0.f;
    if (second >= 0) x[2 * (l * length + second) + 1] = 0.f;
  }
}

}  // namespace

void launch_scale_floats(float* x, int64_t n, float f, cudaStream_t s) {
  if (n == 0) return;
  scale_floats_kernel<<<blocks_for(n), kThreads, 0, s>>>(x, n, f);
  check_launch("scale_floats_kernel");
}
void launch_clear_imag(float* x, int64_t lines, int64_t length, int64_t first, int64_t second, cudaStream_t s) {
  if (lines == 0) return;
  clear_imag_kernel<<<blocks_for(lines), kThreads, 0, s>>>(x, lines, length, first, second);
  check_launch("clear_imag_kernel");
}

}  // namespace lazuli::cuda
