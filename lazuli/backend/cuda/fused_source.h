// Internal to the CUDA backend: the CUDA C++ source of one kernel for a whole fused program
// (Compiled), compiled at run time (jit.h). Each step applies the same functor
// (backend/common/math.h) and the same conversions (convert.cuh) as the elementwise
// kernels, and its result is held in the step's dtype before the next step reads it, so
// the fused kernel gives what running the steps one kernel at a time gives, bit for bit.
// Plain C++: generating a kernel needs no GPU.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/backend/cuda/indexer.h"

namespace lazuli {
class Compiled;
}

namespace lazuli::cuda {

// How the kernel reads one input at element i of the (broadcast) output shape.
enum class Access : uint8_t {
  Dense,    // row-major with the output's shape: element i
  Scalar,   // one value, read once
  Strided,  // through the kernel's FusedIndex (any strides, 0 on broadcast axes)
};

// What a fused kernel is specialised for besides its program: how each input is read. The
// sizes and strides themselves are run-time arguments, so one kernel serves every shape of
// its layout class.
struct FusedLayout {
  std::vector<Access> inputs;
  bool operator==(const FusedLayout& other) const { return inputs == other.inputs; }
};

// The strided inputs' index, as the kernel's argument of type FusedIndex: int64 words only
// (no padding), the shape merged over the dimensions every strided input steps through
// evenly, then each strided input's strides (kMaxDims words each).
struct FusedIndex {
  std::vector<int64_t> words;
  int64_t ndim() const { return words.empty() ? 0 : words[0]; }
};

// The layout of `inputs` read over `shape`, and the index of its Strided ones (empty when
// there are none). Throws std::invalid_argument past kMaxDims unmergeable dimensions.
FusedLayout fused_layout(const std::vector<array>& inputs, const Shape& shape);
FusedIndex fused_index(const std::vector<array>& inputs, const FusedLayout& layout, const Shape& shape);

struct FusedKernel {
  std::string name;    // extern "C" name: a hash of the program, its dtypes and its layout
  std::string source;  // includes convert.cuh (and through it math.h)
};

// The kernel of `c` for `layout`. Elementwise programs:
//   name(const In0* in0, ..., Out0* out0, ..., int64 n, [FusedIndex ix,] unsigned zero)
// one thread per element (grid-stride). Programs ending in a sum over trailing axes (the
// summed axes are the last ones of the broadcast shape):
//   name(const In0* in0, ..., Out* out, int64 rows, int64 row_len, [FusedIndex ix,] unsigned zero)
// one block per row (grid-stride over rows), each thread summing its elements in float64,
// then a shared-memory tree: the order of the row-sum kernel that the interpreter uses. `zero` must be 0 (see fused_source.cpp). Throws
// std::logic_error for a step it has no code for.
FusedKernel fused_kernel_source(const Compiled& c, const FusedLayout& layout);

// Threads per block of every fused kernel (the sum's tree needs exactly this many).
constexpr int kFusedThreads = 256;

}  // namespace lazuli::cuda
