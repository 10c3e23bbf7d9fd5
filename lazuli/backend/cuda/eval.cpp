// CUDA backend: how each primitive with a GPU kernel runs. Layouts are worked out here on
// the host; the kernels (kernels.cu, cuBLAS) only compute. Every GPU node ends by waiting
// for its CUDA stream, so an output marked available is finished data that CPU nodes may
// read (buffers are managed memory, shared by both).
#include <array>
#include <climits>
#include <map>
#include <mutex>
#include <string>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/device.h"
#include "lazuli/backend/cuda/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli::cuda {
namespace {

// Merges the dimensions of `shape` that every operand steps through evenly (as the CPU's
// for_each_run does), so dense and scalar operands index as one flat dimension.
template <int N>
Indexer<N> make_indexer(const Shape& shape, const std::array<Strides, N>& strides, const std::string& op) {
  Indexer<N> ix;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = ix.ndim > 0;
    for (int k = 0; merge && k < N; ++k) merge = ix.strides[k][ix.ndim - 1] == strides[k][d] * shape[d];
    if (merge) {
      ix.shape[ix.ndim - 1] *= shape[d];
      for (int k = 0; k < N; ++k) ix.strides[k][ix.ndim - 1] = strides[k][d];
      continue;
    }
    if (ix.ndim == kMaxDims)
      throw std::invalid_argument("[" + op + "] The GPU kernels take at most " + std::to_string(kMaxDims) +
                                  " non-mergeable dimensions; this layout has more.");
    ix.shape[ix.ndim] = shape[d];
    for (int k = 0; k < N; ++k) ix.strides[k][ix.ndim] = strides[k][d];
    ++ix.ndim;
  }
  if (ix.ndim == 0) {  // a single element
    ix.ndim = 1;
    ix.shape[0] = 1;
    for (int k = 0; k < N; ++k) ix.strides[k][0] = 0;
  }
  return ix;
}

const void* data_of(const array& a) { return const_cast<array&>(a).raw_data(); }

// Buffers from the allocator are managed memory, which kernels address directly; memory a
// caller lent (an array over a pointer) or a memory-mapped file is not, and a kernel
// reading it would fault and take the whole CUDA context down with it.
bool device_accessible(const array& a) {
  const void* p = data_of(a);
  if (!p || a.size() == 0) return true;
  cudaPointerAttributes attr;
  LAZULI_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  return attr.type == cudaMemoryTypeManaged || attr.type == cudaMemoryTypeDevice ||
         attr.type == cudaMemoryTypeHost;  // pinned host memory is mapped for the device
}
// A row-major copy in managed memory, made on the host.
array staged(const array& a) {
  array copy(a.shape(), a.dtype(), nullptr, {});
  cpu::allocate(copy);
  if (copy.size() > 0) cpu::copy_to(a, copy, copy.strides(), 0);
  return copy;
}

void eval_unary(const Unary& p, const array& in, array& out, cudaStream_t s) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto ix = make_indexer<1>(out.shape(), {cpu::broadcast_strides(in, out.shape())}, p.name());
  launch_unary(p.op(), in.dtype(), out.dtype(), data_of(in), out.raw_data(), out.size(), ix, s);
}

void eval_binary(const Binary& p, const array& a, const array& b, array& out, cudaStream_t s) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto ix = make_indexer<2>(out.shape(), {cpu::broadcast_strides(a, out.shape()), cpu::broadcast_strides(b, out.shape())},
                            p.name());
  launch_binary(p.op(), a.dtype(), out.dtype(), data_of(a), data_of(b), out.raw_data(), out.size(), ix, s);
}

void eval_select(const std::vector<array>& in, array& out, cudaStream_t s) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  std::array<Strides, 3> st;
  for (int k = 0; k < 3; ++k) st[k] = cpu::broadcast_strides(in[k], out.shape());
  auto ix = make_indexer<3>(out.shape(), st, "where");
  launch_select(out.itemsize(), data_of(in[0]), data_of(in[1]), data_of(in[2]), out.raw_data(), out.size(), ix, s);
}

// Converts (or copies) `in` into the fresh row-major buffer of `out`.
void convert_into(const array& in, array& out, cudaStream_t s) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto ix = make_indexer<1>(out.shape(), {cpu::broadcast_strides(in, out.shape())}, "astype");
  launch_convert(in.dtype(), out.dtype(), data_of(in), out.raw_data(), out.size(), ix, s);
}

bool row_major_dense(const array& a) { return a.flags().row_contiguous && a.data_size() == a.size(); }

// ---- matmul through cuBLAS ----

cublasHandle_t cublas_handle(int stream_index, cudaStream_t s) {
  // One handle per stream: each stream runs on its own worker thread, and a handle is
  // not to be shared between threads.
  static std::mutex mutex;
  static auto* handles = new std::map<int, cublasHandle_t>;  // never destroyed, like the streams
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles->find(stream_index);
  if (it != handles->end()) return it->second;
  cublasHandle_t h;
  LAZULI_CUBLAS_CHECK(cublasCreate(&h));
  LAZULI_CUBLAS_CHECK(cublasSetStream(h, s));
  // float32 stays float32: no TF32 tensor-core rounding unless a later option asks for it.
  LAZULI_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  handles->emplace(stream_index, h);
  return h;
}

// An operand as cuBLAS reads it: a dense row-major matrix per batch entry, `batch_stride`
// elements apart (0 when every batch entry is the same matrix). Other layouts are copied.
struct Operand {
  array data;
  long long batch_stride;
};
Operand matmul_operand(const array& x, cudaStream_t s) {
  int nd = static_cast<int>(x.ndim());
  int64_t rows = x.shape(nd - 2), cols = x.shape(nd - 1);
  if (row_major_dense(x)) return {x, rows * cols};
  bool matrix_dense = (cols == 1 || x.strides(nd - 1) == 1) && (rows == 1 || x.strides(nd - 2) == cols);
  bool batch_broadcast = true;
  for (int d = 0; d < nd - 2; ++d) batch_broadcast = batch_broadcast && (x.shape(d) == 1 || x.strides(d) == 0);
  if (matrix_dense && batch_broadcast) return {x, 0};
  array copy(x.shape(), x.dtype(), nullptr, {});
  convert_into(x, copy, s);
  return {copy, rows * cols};
}

void eval_matmul(const Matmul& p, const std::vector<array>& inputs, array& out, cudaStream_t s) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  cudaDataType_t type;
  cublasComputeType_t compute;
  if (t == float32) type = CUDA_R_32F, compute = CUBLAS_COMPUTE_32F;
  else if (t == float64) type = CUDA_R_64F, compute = CUBLAS_COMPUTE_64F;
  else if (t == float16) type = CUDA_R_16F, compute = CUBLAS_COMPUTE_32F;
  else if (t == bfloat16) type = CUDA_R_16BF, compute = CUBLAS_COMPUTE_32F;
  else if (t == complex64) type = CUDA_C_32F, compute = CUBLAS_COMPUTE_32F;
  else
    throw std::invalid_argument("[matmul] " + dtype_name(t) +
                                " is not supported on the GPU (float32, float64, float16, bfloat16 and complex64 are).");
  int nd = static_cast<int>(out.ndim());
  int64_t m = out.shape(nd - 2), n = out.shape(nd - 1), k = inputs[0].shape(-1);
  int64_t batch = out.size() / (m * n);
  if (k == 0) {  // an empty sum
    LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), s));
    return;
  }
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || batch > INT_MAX)
    throw std::invalid_argument("[matmul] GPU matmul dimensions must fit in 32 bits; got m=" + std::to_string(m) +
                                ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                                ", batch=" + std::to_string(batch) + ".");
  Operand a = matmul_operand(inputs[0], s), b = matmul_operand(inputs[1], s);
  // Row-major C = A B is column-major C^T = B^T A^T: pass B first, no transposes.
  double alpha64 = 1, beta64 = 0;
  float alpha32[2] = {1, 0}, beta32[2] = {0, 0};  // real and complex scalars alike
  const void* alpha = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&alpha64) : alpha32;
  const void* beta = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&beta64) : beta32;
  LAZULI_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_handle(p.stream().index, s), CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(m), int(k), alpha,
      data_of(b.data), type, int(n), b.batch_stride, data_of(a.data), type, int(k), a.batch_stride, beta,
      out.raw_data(), type, int(n), m * n, int(batch), compute, CUBLAS_GEMM_DEFAULT));
  // A copied operand is freed when this returns: the GEMM must be done reading it.
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));
}

// Primitives that only make a new view of their input's buffer (or, for an incompatible
// reshape, a host copy): they run as on the CPU, over the same managed memory.
bool is_view(const Primitive& p) {
  return dynamic_cast<const Broadcast*>(&p) || dynamic_cast<const Reshape*>(&p) ||
         dynamic_cast<const Transpose*>(&p) || dynamic_cast<const Slice*>(&p) ||
         dynamic_cast<const AsStrided*>(&p) || dynamic_cast<const View*>(&p) ||
         dynamic_cast<const StopGradient*>(&p);
}

}  // namespace

bool eval_gpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (is_view(p)) {
    p.eval_cpu(inputs, outputs);
    return true;
  }
  bool has_kernel = dynamic_cast<Unary*>(&p) || dynamic_cast<Binary*>(&p) || dynamic_cast<Select*>(&p) ||
                    dynamic_cast<AsType*>(&p) || dynamic_cast<Copy*>(&p) || dynamic_cast<Matmul*>(&p);
  if (!has_kernel) return false;
  LAZULI_CUDA_CHECK(cudaSetDevice(p.device().index));
  cudaStream_t s = stream_of(p.stream().index);
  std::vector<array> in = inputs;
  for (auto& a : in)
    if (!device_accessible(a)) a = staged(a);
  if (auto* u = dynamic_cast<Unary*>(&p)) eval_unary(*u, in[0], outputs[0], s);
  else if (auto* b = dynamic_cast<Binary*>(&p)) eval_binary(*b, in[0], in[1], outputs[0], s);
  else if (dynamic_cast<Select*>(&p)) eval_select(in, outputs[0], s);
  else if (auto* mm = dynamic_cast<Matmul*>(&p)) eval_matmul(*mm, in, outputs[0], s);
  else convert_into(in[0], outputs[0], s);  // AsType, Copy
  // Correctness first: the node is done when its kernels are.
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));
  return true;
}

}  // namespace lazuli::cuda
