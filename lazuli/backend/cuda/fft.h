// Internal to the CUDA backend: the FFT family's small kernels (fft.cu); cuFFT does the
// transforms (fft.cpp).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace lazuli::cuda {

// x[i] *= f for the n floats of x.
void launch_scale_floats(float* x, int64_t n, float f, cudaStream_t s);
// Zeroes the imaginary part of points `first` and `second` (second < 0: none) of each of
// `lines` complex lines of `length` points (interleaved re, im floats).
void launch_clear_imag(float* x, int64_t lines, int64_t length, int64_t first, int64_t second, cudaStream_t s);

}  // namespace lazuli::cuda
