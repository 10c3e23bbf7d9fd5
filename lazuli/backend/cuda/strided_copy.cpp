// CUDA backend: gather and dense_copy (strided_copy.h), over strided_copy.cu's kernel.
#include "lazuli/backend/cuda/strided_copy.h"

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/host.h"

namespace lazuli::cuda {

void gather(const void* src, const Strides& strides, const Shape& shape, int itemsize, void* dst, cudaStream_t s,
            const std::string& op) {
  auto ix = make_indexer<1>(shape, {strides}, op);
  launch_strided_copy(itemsize, src, dst, static_cast<int64_t>(shape_size(shape)), ix, s);
}

array dense_copy(const array& a, cudaStream_t s, const std::string& op) {
  if (row_major_dense(a)) return a;
  array copy(a.shape(), a.dtype(), nullptr, {});
  cpu::allocate(copy);
  if (copy.size() > 0) gather(data_of(a), a.strides(), a.shape(), static_cast<int>(a.itemsize()), copy.raw_data(), s, op);
  return copy;
}

}  // namespace lazuli::cuda
