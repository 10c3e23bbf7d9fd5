// CUDA backend: row sums for fused programs that end in a sum over trailing axes. A block
// per row (grid-stride over rows), float64 partial sums, a shared-memory tree at the end.
#include "lazuli/backend/cuda/compiled.h"
#include "lazuli/backend/cuda/device_util.cuh"

namespace lazuli::cuda {
namespace {

template <typename T>
__global__ void row_sums_kernel(const T* in, T* out, int64_t rows, int64_t row_len) {
  __shared__ double part[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* x = in + r * row_len;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < row_len; i += blockDim.x) sum += x[i];
    part[threadIdx.x] = sum;
    __syncthreads();
    for (int w = kThreads / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[r] = static_cast<T>(part[0]);
    __syncthreads();  // part is reused by the next row
  }
}

}  // namespace

void launch_row_sums(Dtype t, const void* in, void* out, int64_t rows, int64_t row_len, cudaStream_t s) {
  if (rows == 0) return;
  int blocks = static_cast<int>(std::min<int64_t>(rows, 65536));
  if (t == float32)
    row_sums_kernel<float><<<blocks, kThreads, 0, s>>>(static_cast<const float*>(in), static_cast<float*>(out), rows,
                                                        row_len);
  else if (t == float64)
    row_sums_kernel<double><<<blocks, kThreads, 0, s>>>(static_cast<const double*>(in), static_cast<double*>(out),
                                                         rows, row_len);
  else
    throw std::logic_error("[compile] A fused sum of " + dtype_name(t) + " has no GPU kernel.");
  check_launch("sum");
}

}  // namespace lazuli::cuda
