// CUDA backend: the strided copy by element width (strided_copy.h).
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/strided_copy.h"

namespace lazuli::cuda {
namespace {

template <int Bytes> struct alignas(Bytes) word {
  unsigned char b[Bytes];
};

template <typename W> __global__ void strided_copy_kernel(const W* src, W* dst, int64_t n, Indexer<1> ix) {
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[1];
    offsets(i, ix, off);
    dst[i] = src[off[0]];
  }
}

template <typename W> void copy_as(const void* src, void* dst, int64_t n, const Indexer<1>& ix, cudaStream_t s) {
  strided_copy_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<const W*>(src), static_cast<W*>(dst), n, ix);
  check_launch("strided_copy_kernel");
}

}  // namespace

void launch_strided_copy(int itemsize, const void* src, void* dst, int64_t n, const Indexer<1>& ix, cudaStream_t s) {
  if (n == 0) return;
  switch (itemsize) {
    case 1: return copy_as<word<1>>(src, dst, n, ix, s);
    case 2: return copy_as<word<2>>(src, dst, n, ix, s);
    case 4: return copy_as<word<4>>(src, dst, n, ix, s);
    case 8: return copy_as<word<8>>(src, dst, n, ix, s);
    case 16: return copy_as<word<16>>(src, dst, n, ix, s);
  }
  throw std::invalid_argument("[strided_copy] unsupported element width " + std::to_string(itemsize) + ".");
}

}  // namespace lazuli::cuda
