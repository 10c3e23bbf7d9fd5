// Internal to the CUDA backend: the quantization kernels' launchers (quantized.cu). The
// host side (quantized.cpp) makes operands dense and works out each product's offsets; these
// only index and compute. Formats: lazuli/quantized.h; scalar rules: backend/common/quant.h.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "lazuli/dtype.h"
#include "lazuli/primitives/quantized.h"

namespace lazuli::cuda {

// Packs `rows` rows of `len` values (w dense, a floating dtype) into w_q; writes the group
// scales (w's dtype for affine, uint8 codes otherwise) and, for affine, the biases.
// `global` (nvfp4 only, may be null) points at the float32 global scale.
void launch_quantize(const QuantParams& p, Dtype t, const void* w, int64_t rows, int64_t len, const float* global,
                     uint32_t* wq, void* scales, void* biases, cudaStream_t s);

// Unpacks `rows` dense rows of `len` values into `out` (dtype `out_t`, row-major). Affine
// scales and biases arrive as dense float32; the floating-point modes' as uint8 codes
// (`biases` null), nvfp4 times the global scale when `global` is not null.
void launch_dequantize(const QuantParams& p, const uint32_t* w, int64_t rows, int64_t len, const void* scales,
                       const float* biases, const float* global, Dtype out_t, void* out, cudaStream_t s);

// One product of a batched quantized matmul: element offsets of its x matrix, its packed
// matrix (words), scales, biases (elements) and its output matrix.
struct QmmProduct {
  int64_t x, w, scales, biases, out;
};

// The products of one launch: up to kInlineProducts travel in the kernel's parameters (no
// copy to the device, the common single product included); more in a device table.
constexpr int kInlineProducts = 16;
struct QmmProducts {
  int64_t count = 0;
  const QmmProduct* table = nullptr;  // device memory, when count > kInlineProducts
  QmmProduct inline_table[kInlineProducts];
};

// out[p] (M x N) = x[p] (M x K) @ dequantize(w[p]).T for each product, M <= kGemvMaxRows:
// affine 4- or 8-bit codes, rows of K values 16-byte aligned; x, scales, biases and out of
// dtype t (float16, bfloat16 or float32).
constexpr int kGemvMaxRows = 8;
bool gemv_supported(const QuantParams& p, Dtype t);
void launch_qmm_gemv(const QuantParams& p, Dtype t, const void* x, const uint32_t* w, const void* scales,
                     const void* biases, void* out, const QmmProducts& products, int64_t M, int64_t N, int64_t K,
                     cudaStream_t s);

// float -> e4m3 codes and back (n dense elements of dtype t).
void launch_to_fp8(Dtype t, const void* x, uint8_t* out, int64_t n, cudaStream_t s);
void launch_from_fp8(Dtype t, const uint8_t* x, void* out, int64_t n, cudaStream_t s);

}  // namespace lazuli::cuda
