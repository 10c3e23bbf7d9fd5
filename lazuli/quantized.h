// Quantization: weights packed into uint32 words with per-group scales (MLX's layout), matrix
// products against them, and float8 (e4m3) conversion.
//
// Modes (group size, bits; * marks the default):
//   "affine": groups of 32, 64* or 128; 2, 3, 4*, 5, 6 or 8 bits; w ~ scale * q + bias with a
//             scale and a bias per group (same dtype as w).
//   "mxfp4":  groups of 32, 4-bit e2m1 values, one e8m0 (power of two) uint8 scale per group.
//   "mxfp8":  groups of 32, 8-bit e4m3 values, one e8m0 uint8 scale per group.
//   "nvfp4":  groups of 16, 4-bit e2m1 values, one e4m3 uint8 scale per group, optionally
//             times a tensor-wide global_scale / (448 * 6).
// Layout: each row (last axis) of w is one little-endian bit stream; element i occupies bits
// [i*bits, (i+1)*bits), so for 2/4/8 bits element i of a word sits at bit (i % (32/bits))*bits,
// and 3/5/6-bit elements may straddle two words. w_q has shape w.shape[:-1] + (K*bits/32,) and
// scales/biases w.shape[:-1] + (K/group_size,).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/ops.h"

namespace lazuli {

// (w_q, scales, biases) for "affine", (w_q, scales) for the floating-point modes. group_size and
// bits default per mode (see above). global_scale (a float scalar) is for "nvfp4" only.
std::vector<array> quantize(const array& w, std::optional<int> group_size = std::nullopt,
                            std::optional<int> bits = std::nullopt, const std::string& mode = "affine",
                            const std::optional<array>& global_scale = std::nullopt, StreamOrDevice s = {});

// The float matrix that quantize() packed. dtype defaults to the scales' (and biases') dtype for
// "affine" and to bfloat16 for the floating-point modes.
array dequantize(const array& w, const array& scales, const std::optional<array>& biases = std::nullopt,
                 std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                 const std::string& mode = "affine", const std::optional<array>& global_scale = std::nullopt,
                 std::optional<Dtype> dtype = std::nullopt, StreamOrDevice s = {});

// x @ dequantize(w).T (transpose = true: w holds (N, K) rows) or x @ dequantize(w) (transpose =
// false: w holds (K, N)). Batch axes of x and w broadcast when w has more than two axes.
array quantized_matmul(const array& x, const array& w, const array& scales,
                       const std::optional<array>& biases = std::nullopt, bool transpose = true,
                       std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                       const std::string& mode = "affine", StreamOrDevice s = {});

// quantized_matmul with the batch matrices picked by index: out[i] = x[lhs[i]] @ w[rhs[i]](.T),
// indexing the flattened batch axes of x and w; the two index arrays broadcast together and
// default to every batch matrix in order. The result has shape indices.shape + (M, N).
array gather_qmm(const array& x, const array& w, const array& scales,
                 const std::optional<array>& biases = std::nullopt,
                 const std::optional<array>& lhs_indices = std::nullopt,
                 const std::optional<array>& rhs_indices = std::nullopt, bool transpose = true,
                 std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                 const std::string& mode = "affine", bool sorted_indices = false, StreamOrDevice s = {});

// x_q @ w_q.T with both operands rounded through a floating quantization mode ("nvfp4" or
// "mxfp8"; group_size and bits must be that mode's): x (float32, float16 or bfloat16, rows of K
// values on its last axis) is quantized on the fly; w is either a float (N, K) matrix, quantized
// on the fly, or one that quantize() already packed (uint32, with its scales). Batch axes of x
// and w broadcast as in matmul (MLX takes 2-D operands only). The product is taken in float32 and
// returned in x's dtype. global_scale_x / global_scale_w (nvfp4 only, both or neither) are the
// tensor-wide scales quantize() takes. Gradients are straight-through: the rounding counts as
// the identity, so d x = cotangent @ w_q and d w = cotangent.T @ x_q (w given as floats).
array qqmm(const array& x, const array& w, const std::optional<array>& scales = std::nullopt,
           std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
           const std::string& mode = "nvfp4", const std::optional<array>& global_scale_x = std::nullopt,
           const std::optional<array>& global_scale_w = std::nullopt, StreamOrDevice s = {});

// qqmm on the batch matrices of x and w picked by flat indices, as gather_mm: out[i] =
// qqmm(x[lhs[i]], w[rhs[i]]); the indices broadcast together and default to every batch matrix.
array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales = std::nullopt,
                  const std::optional<array>& lhs_indices = std::nullopt,
                  const std::optional<array>& rhs_indices = std::nullopt, std::optional<int> group_size = std::nullopt,
                  std::optional<int> bits = std::nullopt, const std::string& mode = "nvfp4",
                  const std::optional<array>& global_scale_x = std::nullopt,
                  const std::optional<array>& global_scale_w = std::nullopt, bool sorted_indices = false,
                  StreamOrDevice s = {});

// The (group_size, bits) qqmm uses for `mode` given the optional overrides; throws
// std::invalid_argument naming op for a mode other than "nvfp4" / "mxfp8" or mismatched values.
std::pair<int, int> qq_config(const std::string& mode, std::optional<int> group_size = std::nullopt,
                              std::optional<int> bits = std::nullopt, const std::string& op = "qqmm");

// float8 e4m3 (stored as uint8): round to nearest even, saturating at +-448 (infinities and NaN
// too, as in MLX). from_fp8 decodes back to a floating dtype.
array to_fp8(const array& x, StreamOrDevice s = {});
array from_fp8(const array& x, Dtype dtype = bfloat16, StreamOrDevice s = {});

}  // namespace lazuli
