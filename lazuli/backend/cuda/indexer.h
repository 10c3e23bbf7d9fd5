// Internal to the CUDA backend: how a kernel finds the elements of strided operands. Plain
// C++, shared by the host code that builds an Indexer and the kernels that read it.
#pragma once
#include <cstdint>

namespace lazuli::cuda {

// Dimensions left after merging the ones every operand steps through evenly; broadcasting
// and transposes of more dims than this are rejected by the host side with a clear error.
constexpr int kMaxDims = 10;

// Where element i (row-major over the output shape) of each of N inputs lies, in elements
// from the input's first element. The output is always a fresh row-major buffer.
template <int N>
struct Indexer {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];
};

}  // namespace lazuli::cuda
