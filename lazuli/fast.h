// lazuli::fast: MLX's mx.fast ops (normalisations, rotary embedding, attention), with
// MLX's signatures and semantics. They are composed of lazuli ops, so they are lazy and
// differentiable; this composition is the CPU path and the reference that fused GPU
// kernels must match. 16-bit inputs are computed in float32 and rounded back.
#pragma once
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/device.h"

namespace lazuli::fast {

// x / sqrt(mean(x^2) + eps) over the last axis, times weight (1-d, size x.shape[-1]).
array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s = {});

// (x - mean) / sqrt(var + eps) over the last axis, times weight plus bias (both 1-d).
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s = {});

// Rotary positional encoding of x (batch, ..., sequence, features): the first `dims`
// features of the token at position p = offset + index are rotated by angles
// p * scale * f_i, f_i = base^(-2i / dims) or 1 / freqs[i]; the rest pass unchanged.
// traditional rotates consecutive pairs (x[2i], x[2i+1]), otherwise (x[i], x[i + dims/2]).
// Exactly one of base and freqs is given. An array offset is a scalar or has one integer
// per batch entry (x.shape[0]).
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});

// softmax(scale * q k^T + mask) v with q (B, n_q_heads, q_len, D), k (B, n_kv_heads, k_len,
// D), v (B, n_kv_heads, k_len, D_v); n_kv_heads divides n_q_heads (grouped-query heads).
// mask_mode "" (mask: none, or an array broadcastable to (B, n_q_heads, q_len, k_len): bool
// keeps where true, otherwise added) or "causal" (query i sees keys j <= i + max(k_len -
// q_len, 0), i.e. aligned bottom-right). sinks (n_q_heads,): one extra logit per head that
// takes part in the softmax but carries no value. The softmax is computed in float32.
array scaled_dot_product_attention(const array& queries, const array& keys, const array& values, float scale,
                                   const std::string& mask_mode = "",
                                   const std::optional<array>& mask = std::nullopt,
                                   const std::optional<array>& sinks = std::nullopt, StreamOrDevice s = {});

// ---- custom CUDA kernels (MLX's mx.fast.cuda_kernel) ----

// A template argument of a custom kernel: an int or bool becomes a constant, a Dtype a type.
using TemplateArg = std::variant<int, bool, Dtype>;

// A custom kernel, ready to run: (inputs, output_shapes, output_dtypes, grid, threadgroup,
// template_args, init_value, verbose, stream) -> outputs. grid counts threads, as MLX's
// does (blocks = ceil(grid / threadgroup)); init_value fills every output before the launch
// (otherwise outputs start uninitialised); verbose prints the generated source.
using CustomKernelFunction = std::function<std::vector<array>(
    const std::vector<array>& inputs, const std::vector<Shape>& output_shapes,
    const std::vector<Dtype>& output_dtypes, std::array<int, 3> grid, std::array<int, 3> threadgroup,
    const std::vector<std::pair<std::string, TemplateArg>>& template_args, std::optional<float> init_value,
    bool verbose, StreamOrDevice s)>;

// A kernel whose body is `source` (CUDA C++), with `header` (helper functions, includes)
// before it. Lazuli writes the signature: per input `const T* name` (T from the input's
// dtype) followed, where the body mentions them, by `name_shape` (int32_t[]), `name_strides`
// (int64_t[], in elements) and `name_ndim` (int); then per output `T* name`. Template
// arguments are visible by name in the body. The program includes cooperative_groups.h,
// cuda_fp16.h (__half), cuda_bf16.h (__nv_bfloat16) and cuda/std/complex (complex64), and
// may include "lazuli/backend/common/math.h". ensure_row_contiguous gives the kernel
// row-major copies of strided inputs; shared_memory is the dynamic shared memory in bytes.
// atomic_outputs is accepted for code written for metal_kernel: CUDA's atomics (atomicAdd)
// take the plain T* outputs, so it changes nothing. The kernel is compiled when called (the
// compiled program is cached, see docs/gpu.md) and runs on the GPU only.
CustomKernelFunction cuda_kernel(const std::string& name, const std::vector<std::string>& input_names,
                                 const std::vector<std::string>& output_names, const std::string& source,
                                 const std::string& header = "", bool ensure_row_contiguous = true,
                                 int shared_memory = 0, bool atomic_outputs = false);

}  // namespace lazuli::fast
