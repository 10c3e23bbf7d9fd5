// CUDA backend: the kernel registry and the host-side helpers every family shares.
#include "lazuli/backend/cuda/host.h"

#include <map>
#include <mutex>
#include <stdexcept>
#include <typeindex>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/elementwise.h"

namespace lazuli::cuda {
namespace {
std::map<std::type_index, GpuKernel>& registry() {
  static auto* kernels = new std::map<std::type_index, GpuKernel>;  // filled by static initialisers
  return *kernels;
}
}  // namespace

bool register_gpu_kernel(const std::type_info& primitive, GpuKernel kernel) {
  if (!registry().emplace(primitive, kernel).second)
    throw std::logic_error(std::string("[cuda] Two GPU kernels registered for ") + primitive.name() + ".");
  return true;
}

const GpuKernel* find_gpu_kernel(const std::type_info& primitive) {
  auto it = registry().find(primitive);
  return it == registry().end() ? nullptr : &it->second;
}

cublasHandle_t cublas_handle(const GpuContext& ctx) {
  return per_stream<cublasHandle_t>(ctx, [&] {
    cublasHandle_t h;
    LAZULI_CUBLAS_CHECK(cublasCreate(&h));
    LAZULI_CUBLAS_CHECK(cublasSetStream(h, ctx.stream));
    // float32 stays float32: no TF32 tensor-core rounding unless a later option asks for it.
    LAZULI_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    // A workspace of its own lets cuBLAS pick its fastest (split-K, Hopper) kernels; 32 MiB
    // per stream, outside the allocator's cap.
    constexpr size_t kWorkspace = size_t{32} << 20;
    void* workspace = nullptr;
    LAZULI_CUDA_CHECK(cudaMalloc(&workspace, kWorkspace));
    LAZULI_CUBLAS_CHECK(cublasSetWorkspace(h, workspace, kWorkspace));
    return h;
  });
}

const void* data_of(const array& a) { return const_cast<array&>(a).raw_data(); }

bool row_major_dense(const array& a) { return a.flags().row_contiguous && a.data_size() == a.size(); }

MergedDims merge_dims(const Shape& shape, const std::vector<Strides>& strides, const std::string& op) {
  const size_t n = strides.size();
  MergedDims m{{}, std::vector<Strides>(n)};
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !m.shape.empty();
    for (size_t k = 0; merge && k < n; ++k) merge = m.strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      m.shape.back() *= shape[d];
      for (size_t k = 0; k < n; ++k) m.strides[k].back() = strides[k][d];
      continue;
    }
    if (m.shape.size() == kMaxDims)
      throw std::invalid_argument("[" + op + "] The GPU kernels take at most " + std::to_string(kMaxDims) +
                                  " non-mergeable dimensions; this layout has more.");
    m.shape.push_back(shape[d]);
    for (size_t k = 0; k < n; ++k) m.strides[k].push_back(strides[k][d]);
  }
  if (m.shape.empty()) {  // a single element
    m.shape.push_back(1);
    for (auto& s : m.strides) s.push_back(0);
  }
  return m;
}

template <int N>
Indexer<N> make_indexer(const Shape& shape, const std::array<Strides, N>& strides, const std::string& op) {
  MergedDims m = merge_dims(shape, std::vector<Strides>(strides.begin(), strides.end()), op);
  Indexer<N> ix;
  ix.ndim = static_cast<int>(m.shape.size());
  for (int d = 0; d < ix.ndim; ++d) {
    ix.shape[d] = m.shape[d];
    for (int k = 0; k < N; ++k) ix.strides[k][d] = m.strides[k][d];
  }
  return ix;
}
template Indexer<1> make_indexer<1>(const Shape&, const std::array<Strides, 1>&, const std::string&);
template Indexer<2> make_indexer<2>(const Shape&, const std::array<Strides, 2>&, const std::string&);
template Indexer<3> make_indexer<3>(const Shape&, const std::array<Strides, 3>&, const std::string&);

void convert_into(const array& in, array& out, cudaStream_t s) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto ix = make_indexer<1>(out.shape(), {cpu::broadcast_strides(in, out.shape())}, "astype");
  launch_convert(in.dtype(), out.dtype(), data_of(in), out.raw_data(), out.size(), ix, s);
}

void copy_strided(const void* src, const Strides& strides, const Shape& shape, Dtype t, void* dst, cudaStream_t s,
                  const std::string& op) {
  int64_t n = static_cast<int64_t>(shape_size(shape));
  if (n == 0) return;
  launch_convert(t, t, src, dst, n, make_indexer<1>(shape, {strides}, op), s);
}

array dense(const array& a, cudaStream_t s) {
  if (row_major_dense(a)) return a;
  array copy(a.shape(), a.dtype(), nullptr, {});
  convert_into(a, copy, s);
  return copy;
}

array dense_as(const array& a, Dtype t, cudaStream_t s) {
  if (a.dtype() == t) return dense(a, s);
  array copy(a.shape(), t, nullptr, {});
  convert_into(a, copy, s);
  return copy;
}

DeviceBuffer::DeviceBuffer(size_t bytes, cudaStream_t s) : stream_(s) {
  // The stream-ordered pool would hand its memory back to the driver at every
  // synchronisation (and map it again on the next call): keep it instead.
  static const bool pool_kept = [] {
    int device = 0;
    cudaMemPool_t pool;
    LAZULI_CUDA_CHECK(cudaGetDevice(&device));
    LAZULI_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    uint64_t keep = UINT64_MAX;
    LAZULI_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    return true;
  }();
  (void)pool_kept;
  LAZULI_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes > 0 ? bytes : 1, s));
}
DeviceBuffer::~DeviceBuffer() {
  if (cudaFreeAsync(ptr_, stream_) != cudaSuccess) cudaGetLastError();  // never throws
}

DeviceCopy::DeviceCopy(const void* host, size_t bytes, cudaStream_t s) : DeviceBuffer(bytes, s) {
  if (bytes > 0) LAZULI_CUDA_CHECK(cudaMemcpyAsync(as<void>(), host, bytes, cudaMemcpyHostToDevice, s));
}

}  // namespace lazuli::cuda
