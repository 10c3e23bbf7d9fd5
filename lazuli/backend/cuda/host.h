// Internal to the CUDA backend: what every kernel family's host code shares, and the
// registry through which a family offers its kernels. A family is one .cpp (host side:
// layouts, library calls) and usually one .cu (kernels) in this folder; it registers each
// primitive it runs with LAZULI_GPU_KERNEL, and nothing else needs to list it.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <typeinfo>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/backend/cuda/indexer.h"

namespace lazuli {
class Primitive;
}

namespace lazuli::cuda {

// What a kernel gets besides its primitive and arrays. Inputs are readable by the device
// (memory a caller lent is staged first); outputs are not yet allocated.
struct GpuContext {
  cudaStream_t stream;
  int stream_index;  // the Lazuli stream: per-stream library handles (cuBLAS, ...) key on it
};
using GpuKernel = void (*)(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                           const GpuContext& ctx);
// Returns true, so it can initialise a static; a second kernel for one primitive is a bug.
bool register_gpu_kernel(const std::type_info& primitive, GpuKernel kernel);
const GpuKernel* find_gpu_kernel(const std::type_info& primitive);

// Registers `function(Prim&, inputs, outputs, ctx)` as the GPU kernel of primitive class Prim.
#define LAZULI_GPU_KERNEL(Prim, function)                                                                       \
  static const bool lazuli_gpu_kernel_##Prim = ::lazuli::cuda::register_gpu_kernel(                            \
      typeid(Prim), [](::lazuli::Primitive& p, const std::vector<::lazuli::array>& in,                           \
                       std::vector<::lazuli::array>& out, const ::lazuli::cuda::GpuContext& ctx) {               \
        function(static_cast<Prim&>(p), in, out, ctx);                                                           \
      })

// The `Handle` of a Lazuli stream (a library handle bound to its CUDA stream), made by
// `make()` on first use and kept for the life of the process (like the streams): each
// stream runs on its own worker thread, and a library handle is not to be shared between
// threads. One map per call site (each passes its own lambda).
template <typename Handle, typename Make>
Handle per_stream(const GpuContext& ctx, Make&& make) {
  static std::mutex mutex;
  static auto* handles = new std::map<int, Handle>;  // never destroyed: workers outlive statics
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles->find(ctx.stream_index);
  if (it == handles->end()) it = handles->emplace(ctx.stream_index, make()).first;
  return it->second;
}

// ---- host-side helpers for the kernels' launches ----

// The cuBLAS handle of a Lazuli stream, bound to its CUDA stream (default math: float32
// is not rounded to TF32).
cublasHandle_t cublas_handle(const GpuContext& ctx);

const void* data_of(const array& a);  // the first element (offset applied)
bool row_major_dense(const array& a);

// The dimensions of `shape` left after dropping those of size 1 and merging those that
// every operand steps through evenly, with each operand's strides over them, so dense and
// scalar operands index as one flat dimension; throws naming `op` past kMaxDims. A single
// element is one dimension of size 1 (strides 0).
struct MergedDims {
  std::vector<int64_t> shape;    // (merged sizes may pass int32)
  std::vector<Strides> strides;  // per operand
};
MergedDims merge_dims(const Shape& shape, const std::vector<Strides>& strides, const std::string& op);

// merge_dims as the Indexer that kernels take.
template <int N>
Indexer<N> make_indexer(const Shape& shape, const std::array<Strides, N>& strides, const std::string& op);
extern template Indexer<1> make_indexer<1>(const Shape&, const std::array<Strides, 1>&, const std::string&);
extern template Indexer<2> make_indexer<2>(const Shape&, const std::array<Strides, 2>&, const std::string&);
extern template Indexer<3> make_indexer<3>(const Shape&, const std::array<Strides, 3>&, const std::string&);

// Allocates `out` (row-major) and fills it with `in` converted to out's dtype, broadcast to
// out's shape, on the device: the way to make any input dense for a library call.
void convert_into(const array& in, array& out, cudaStream_t s);
// `a` itself when row-major dense, else a dense device copy.
array dense(const array& a, cudaStream_t s);
// `a` itself when row-major dense and of dtype t, else a dense device copy converted to t.
array dense_as(const array& a, Dtype t, cudaStream_t s);
// Copies the elements of dtype t at `src`, laid out by `strides` (in elements) over
// `shape`, into `dst`, row-major over `shape`, on the device; `op` names the caller.
void copy_strided(const void* src, const Strides& strides, const Shape& shape, Dtype t, void* dst, cudaStream_t s,
                  const std::string& op);

// Scratch device memory of one node, from the stream-ordered pool: allocated on the
// node's stream and freed on it when the buffer leaves scope, so the kernels launched
// before the free finish with it first. Never null (CUB reads a null scratch pointer as a
// size query), even for 0 bytes.
class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, cudaStream_t s);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

// A DeviceBuffer holding a copy of `bytes` host bytes: small tables (offsets, pointers) a
// node's kernels read. Not managed memory: pages the host writes on every call would fault
// over to the GPU each time, at a cost of tens of microseconds.
class DeviceCopy : public DeviceBuffer {
 public:
  DeviceCopy(const void* host, size_t bytes, cudaStream_t s);
};

}  // namespace lazuli::cuda
