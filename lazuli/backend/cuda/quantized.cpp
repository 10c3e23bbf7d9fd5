// CUDA backend: the quantization primitives' host side (layouts, index checks, cuBLAS).
// Quantized matrix products take one of two paths, as on the CPU:
// - affine 4- or 8-bit weights against at most kGemvMaxRows rows of x (transpose=true): the
//   matrix-vector kernel of quantized.cu, which reads each packed row once;
// - otherwise: the weight matrices dequantized to float32 temporaries, x converted to
//   float32, and one batched cuBLAS SGEMM over the products (float32 arithmetic, like the CPU).
#include <algorithm>
#include <climits>
#include <map>
#include <stdexcept>
#include <string>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/common/matrix_indices.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/quantized.h"
#include "lazuli/primitives/quantized.h"

namespace lazuli::cuda {
namespace {

bool affine(const QuantParams& p) { return p.mode == QuantizationMode::Affine; }

// w with its last two axes row-major (batch axes may be strided or broadcast).
array rows_dense(const array& w, cudaStream_t s) {
  int nd = static_cast<int>(w.ndim());
  bool ok = (w.strides()[nd - 1] == 1 || w.shape(nd - 1) == 1) &&
            (w.strides()[nd - 2] == w.shape(nd - 1) || w.shape(nd - 2) == 1);
  return ok ? w : dense(w, s);
}

template <typename T>
T* at(const array& a, int64_t offset = 0) {
  return static_cast<T*>(const_cast<array&>(a).raw_data()) + offset;
}

// The packed matrices of a QuantizedMatmul / GatherQMM: w keeps its batch layout (it may be
// large and broadcast), scales and biases are small and made dense.
struct Weights {
  array w;
  const array& scales_in;
  std::optional<array> biases_in;
  std::vector<int64_t> w_offsets;
  int64_t rows, words, len, groups;
  QuantParams p;
  Weights(const std::vector<array>& in, const QuantParams& params, cudaStream_t s)
      : w(rows_dense(in[1], s)), scales_in(in[2]), p(params) {
    if (affine(p)) biases_in = in[3];
    w_offsets = batch_offsets(w);
    rows = w.shape(-2), words = w.shape(-1), len = words * 32 / p.bits, groups = len / p.group_size;
  }
  int64_t count() const { return static_cast<int64_t>(w_offsets.size()); }
};

// out[i] = x[x_index[i]] (M x K) @ dequantize(w[w_index[i]])(.T) for every product i; x dense.
void quantized_products(const QuantParams& p, bool transpose, const array& x, const Weights& wt,
                        const std::vector<int64_t>& x_index, const std::vector<int64_t>& w_index, int64_t M,
                        array& out, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  const int64_t P = static_cast<int64_t>(x_index.size());
  const int64_t K = transpose ? wt.len : wt.rows, N = transpose ? wt.rows : wt.len;
  if (P == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), s));
    return;
  }
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX || P > INT_MAX)
    throw std::invalid_argument("[quantized_matmul] GPU dimensions must fit in 32 bits; got M=" + std::to_string(M) +
                                ", N=" + std::to_string(N) + ", K=" + std::to_string(K) + ".");
  const Dtype t = out.dtype();
  const int64_t matrix_groups = wt.rows * wt.groups;

  // The matrix-vector kernel: native x, scales and biases; each row 16-byte aligned.
  bool aligned = reinterpret_cast<uintptr_t>(data_of(wt.w)) % 16 == 0 &&
                 reinterpret_cast<uintptr_t>(data_of(x)) % 16 == 0;
  for (int64_t o : wt.w_offsets) aligned = aligned && o % 4 == 0;
  if (transpose && M <= kGemvMaxRows && gemv_supported(p, t) && aligned && P <= 65535) {
    array scales = dense_as(wt.scales_in, t, s), biases = dense_as(*wt.biases_in, t, s);
    std::vector<QmmProduct> prod(P);
    for (int64_t i = 0; i < P; ++i) {
      int64_t m = w_index[i];
      prod[i] = {x_index[i] * M * K, wt.w_offsets[m], m * matrix_groups, m * matrix_groups, i * M * N};
    }
    QmmProducts products;
    products.count = P;
    std::optional<DeviceCopy> table;
    if (P <= kInlineProducts) {
      std::copy(prod.begin(), prod.end(), products.inline_table);
    } else {
      table.emplace(prod.data(), P * sizeof(QmmProduct), s);
      products.table = table->as<QmmProduct>();
    }
    launch_qmm_gemv(p, t, data_of(x), at<uint32_t>(wt.w), data_of(scales), data_of(biases), out.raw_data(), products,
                    M, N, K, s);
    return;
  }

  // Dequantize each weight matrix the products use once, then one batched SGEMM.
  array scales = dense_as(wt.scales_in, affine(p) ? float32 : uint8, s);
  std::optional<array> biases;
  if (affine(p)) biases = dense_as(*wt.biases_in, float32, s);
  std::map<int64_t, int64_t> slot_of;  // weight matrix -> its dequantized copy
  for (int64_t m : w_index) slot_of.emplace(m, static_cast<int64_t>(slot_of.size()));
  const int64_t matrix = wt.rows * wt.len;
  array deq({static_cast<int32_t>(slot_of.size()), static_cast<int32_t>(wt.rows), static_cast<int32_t>(wt.len)},
            float32, nullptr, {});
  cpu::allocate(deq);
  for (auto [m, slot] : slot_of)
    launch_dequantize(p, at<uint32_t>(wt.w, wt.w_offsets[m]), wt.rows, wt.len,
                      affine(p) ? static_cast<const void*>(at<float>(scales, m * matrix_groups))
                                : static_cast<const void*>(at<uint8_t>(scales, m * matrix_groups)),
                      biases ? at<float>(*biases, m * matrix_groups) : nullptr, nullptr, float32,
                      at<float>(deq, slot * matrix), s);
  array xf = dense_as(x, float32, s);
  array outf = t == float32 ? out : array(out.shape(), float32, nullptr, {});
  cpu::allocate(outf);
  std::vector<const void*> host_pointers(3 * P);
  for (int64_t i = 0; i < P; ++i) {
    host_pointers[i] = at<float>(deq, slot_of.at(w_index[i]) * matrix);
    host_pointers[P + i] = at<float>(xf, x_index[i] * M * K);
    host_pointers[2 * P + i] = at<float>(outf, i * M * N);
  }
  DeviceCopy pointers(host_pointers.data(), 3 * P * sizeof(void*), s);
  const void** a = pointers.as<const void*>();
  const void** b = a + P;
  void** c = const_cast<void**>(a + 2 * P);
  // Row-major out (M x N) is column-major out^T = W x^T (transpose: W is N x K row-major,
  // i.e. a transposed K x N column-major matrix) or W^T-as-stored x^T (W is K x N row-major).
  const float one = 1.f, zero = 0.f;
  LAZULI_CUBLAS_CHECK(cublasGemmBatchedEx(
      cublas_handle(ctx), transpose ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, int(N), int(M), int(K), &one, a,
      CUDA_R_32F, transpose ? int(K) : int(N), b, CUDA_R_32F, int(K), &zero, c, CUDA_R_32F, int(N), int(P),
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  if (t != float32) convert_into(outf, out, s);
}

void eval_quantized_matmul(QuantizedMatmul& prim, const std::vector<array>& in, std::vector<array>& outs,
                           const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  const QuantParams& p = prim.params();
  Weights wt(in, p, ctx.stream);
  array x = dense(in[0], ctx.stream);
  int64_t K = x.shape(-1), N = out.shape(-1);
  std::vector<int64_t> x_index, w_index;
  int64_t M;
  if (wt.count() == 1) {  // one weight matrix: every row of x (all batch axes) is a row of the product
    M = K ? static_cast<int64_t>(x.size()) / K : static_cast<int64_t>(out.size()) / N;
    x_index = w_index = {0};
  } else {
    M = x.shape(-2);
    for (int64_t i = 0; i < wt.count(); ++i) x_index.push_back(i), w_index.push_back(i);
  }
  quantized_products(p, prim.transposed(), x, wt, x_index, w_index, M, out, ctx);
}

void eval_gather_qmm(GatherQMM& prim, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  array& out = outs[0];
  cpu::allocate(out);
  size_t n = in.size();
  const QuantParams& p = prim.params();
  Weights wt(in, p, s);
  array x = dense(in[0], s);
  array lhs = dense_as(in[n - 2], uint32, s), rhs = dense_as(in[n - 1], uint32, s);
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));  // the indices are read here
  int64_t M = x.shape(-2), K = x.shape(-1);
  int64_t x_count = M * K != 0 ? static_cast<int64_t>(x.size()) / (M * K) : 0;
  const uint32_t* li = at<uint32_t>(lhs);
  const uint32_t* ri = at<uint32_t>(rhs);
  std::vector<int64_t> x_index(lhs.size()), w_index(lhs.size());
  for (size_t i = 0; i < lhs.size(); ++i) {
    check_gather_qmm_indices(li[i], ri[i], x_count, M * K == 0, wt.count());
    x_index[i] = M * K > 0 ? li[i] : 0;
    w_index[i] = ri[i];
  }
  if (out.size() == 0) return;
  quantized_products(p, prim.transposed(), x, wt, x_index, w_index, M, out, ctx);
}

void eval_quantize(Quantize& prim, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  const QuantParams& p = prim.params();
  for (auto& o : outs) cpu::allocate(o);
  array w = dense(in[0], s);
  int64_t K = w.shape(-1), rows = K ? static_cast<int64_t>(w.size()) / K : 0;
  std::optional<array> global;
  if (in.size() > 1) global = dense_as(in[1], float32, s);
  launch_quantize(p, w.dtype(), data_of(w), rows, K, global ? at<float>(*global) : nullptr, at<uint32_t>(outs[0]),
                  outs[1].raw_data(), affine(p) ? outs[2].raw_data() : nullptr, s);
}

void eval_dequantize(Dequantize& prim, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  cudaStream_t s = ctx.stream;
  const QuantParams& p = prim.params();
  bool aff = affine(p);
  array& out = outs[0];
  cpu::allocate(out);
  array w = dense_as(in[0], uint32, s);
  array scales = dense_as(in[1], aff ? float32 : uint8, s);
  std::optional<array> biases, global;
  if (aff) biases = dense_as(in[2], float32, s);
  else if (in.size() > 2) global = dense_as(in[2], float32, s);
  int64_t words = w.shape(-1), len = words * 32 / p.bits;
  int64_t rows = words ? static_cast<int64_t>(w.size()) / words : 0;
  launch_dequantize(p, at<uint32_t>(w), rows, len, data_of(scales), biases ? at<float>(*biases) : nullptr,
                    global ? at<float>(*global) : nullptr, out.dtype(), out.raw_data(), s);
}

void eval_to_fp8(ToFP8&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array x = dense(in[0], ctx.stream);
  cpu::allocate(outs[0]);
  launch_to_fp8(x.dtype(), data_of(x), at<uint8_t>(outs[0]), static_cast<int64_t>(x.size()), ctx.stream);
}

void eval_from_fp8(FromFP8&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array x = dense(in[0], ctx.stream);
  cpu::allocate(outs[0]);
  launch_from_fp8(outs[0].dtype(), at<uint8_t>(x), outs[0].raw_data(), static_cast<int64_t>(x.size()), ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(Quantize, eval_quantize);
LAZULI_GPU_KERNEL(Dequantize, eval_dequantize);
LAZULI_GPU_KERNEL(QuantizedMatmul, eval_quantized_matmul);
LAZULI_GPU_KERNEL(GatherQMM, eval_gather_qmm);
LAZULI_GPU_KERNEL(ToFP8, eval_to_fp8);
LAZULI_GPU_KERNEL(FromFP8, eval_from_fp8);

}  // namespace lazuli::cuda
