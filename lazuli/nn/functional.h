// Neural-network math in functional form: activations, losses, initialisers and the layers'
// forward passes. Everything is written with lazuli ops, so it is lazy and differentiable;
// the layer classes (Python lazuli.nn) only hold parameters and call these.
// Formulas and defaults follow MLX's nn.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/ops.h"
#include "lazuli/random.h"

namespace lazuli::nn {

using S = StreamOrDevice;
using OptArray = std::optional<array>;

// ---- activations ----
array sigmoid(const array& x, S s = {});
array relu(const array& x, S s = {});
array relu2(const array& x, S s = {});  // relu(x)^2
array relu6(const array& x, S s = {});  // min(max(x, 0), 6)
array leaky_relu(const array& x, double negative_slope = 0.01, S s = {});
array log_softmax(const array& x, int axis = -1, S s = {});
array elu(const array& x, double alpha = 1.0, S s = {});
array softmax(const array& x, int axis = -1, S s = {});
array softplus(const array& x, S s = {});  // log(1 + exp(x))
array softsign(const array& x, S s = {});  // x / (1 + |x|)
array softshrink(const array& x, double lambd = 0.5, S s = {});
array celu(const array& x, double alpha = 1.0, S s = {});
array silu(const array& x, S s = {});  // x * sigmoid(x)
array log_sigmoid(const array& x, S s = {});
array gelu(const array& x, S s = {});  // exact, with erf
array gelu_approx(const array& x, S s = {});  // tanh approximation
array gelu_fast_approx(const array& x, S s = {});  // x * sigmoid(1.702 x)
array glu(const array& x, int axis = -1, S s = {});  // a * sigmoid(b), (a, b) halves of x
array step(const array& x, double threshold = 0.0, S s = {});  // 1 where x > threshold (int32)
array selu(const array& x, S s = {});
array prelu(const array& x, const array& alpha, S s = {});
array mish(const array& x, S s = {});  // x * tanh(softplus(x))
array hardswish(const array& x, S s = {});
array hard_tanh(const array& x, double min_val = -1.0, double max_val = 1.0, S s = {});
array hard_shrink(const array& x, double lambd = 0.5, S s = {});
array softmin(const array& x, int axis = -1, S s = {});
array tanh(const array& x, S s = {});

// ---- losses ----
// `reduction` is "none" (elementwise losses), "mean" or "sum".
// Targets are class indices (logits.ndim - 1 dims) or probabilities (same shape as logits).
array cross_entropy(const array& logits, const array& targets, const OptArray& weights = std::nullopt,
                    int axis = -1, double label_smoothing = 0.0, const std::string& reduction = "none", S s = {});
array binary_cross_entropy(const array& inputs, const array& targets, const OptArray& weights = std::nullopt,
                           bool with_logits = true, const std::string& reduction = "mean", S s = {});
array l1_loss(const array& predictions, const array& targets, const std::string& reduction = "mean", S s = {});
array mse_loss(const array& predictions, const array& targets, const std::string& reduction = "mean", S s = {});
array nll_loss(const array& inputs, const array& targets, int axis = -1, const std::string& reduction = "none",
               S s = {});
array gaussian_nll_loss(const array& inputs, const array& targets, const array& vars, bool full = false,
                        double eps = 1e-6, const std::string& reduction = "mean", S s = {});
array kl_div_loss(const array& inputs, const array& targets, int axis = -1, const std::string& reduction = "none",
                  S s = {});
array smooth_l1_loss(const array& predictions, const array& targets, double beta = 1.0,
                     const std::string& reduction = "mean", S s = {});
array triplet_loss(const array& anchors, const array& positives, const array& negatives, int axis = -1, int p = 2,
                   double margin = 1.0, double eps = 1e-6, const std::string& reduction = "none", S s = {});
array hinge_loss(const array& inputs, const array& targets, const std::string& reduction = "none", S s = {});
array huber_loss(const array& inputs, const array& targets, double delta = 1.0, const std::string& reduction = "none",
                 S s = {});
array log_cosh_loss(const array& inputs, const array& targets, const std::string& reduction = "none", S s = {});
array cosine_similarity_loss(const array& x1, const array& x2, int axis = 1, double eps = 1e-8,
                             const std::string& reduction = "none", S s = {});
array margin_ranking_loss(const array& inputs1, const array& inputs2, const array& targets, double margin = 0.0,
                          const std::string& reduction = "none", S s = {});

// ---- layers' forward passes ----
// x @ weight.T + bias, weight of shape (out, in).
array linear(const array& x, const array& weight, const OptArray& bias = std::nullopt, S s = {});
// y[..., o] = x1 W[o] x2 + b[o], weight of shape (out, in2, in1).
array bilinear(const array& x1, const array& x2, const array& weight, const OptArray& bias = std::nullopt, S s = {});
// Rows of weight (num_embeddings, dims) at the integer indices.
array embedding(const array& indices, const array& weight, S s = {});
// Normalised over the last axis, then scaled and shifted.
array layer_norm(const array& x, const OptArray& weight, const OptArray& bias, double eps = 1e-5, S s = {});
array rms_norm(const array& x, const OptArray& weight, double eps = 1e-5, S s = {});
// Channels last: x of shape (batch, ..., dims), dims split in num_groups groups. MLX's
// default groups strided channels; pytorch_compatible groups consecutive ones.
array group_norm(const array& x, int num_groups, const OptArray& weight, const OptArray& bias, double eps = 1e-5,
                 bool pytorch_compatible = false, S s = {});
// Normalised over the spatial axes (all but the first and last).
array instance_norm(const array& x, const OptArray& weight, const OptArray& bias, double eps = 1e-5, S s = {});
// (x - mean) / sqrt(var + eps) * weight + bias with given statistics (over the last axis).
array batch_norm(const array& x, const array& mean, const array& var, const OptArray& weight, const OptArray& bias,
                 double eps = 1e-5, S s = {});
// Zeroes elements with probability p and scales the rest by 1 / (1 - p). spatial_dims = 0
// drops elements; 2 or 3 drops whole channels of channels-last images or volumes.
array dropout(const array& x, double p, int spatial_dims = 0, const random::Key& key = std::nullopt, S s = {});
// Max / mean over windows of the spatial axes of channels-last x (N, *spatial, C), one entry
// of kernel_size, stride and padding per spatial axis. Each spatial axis is padded on both
// sides by padding (-inf for max; zeros for the mean, and they count in it). (pooling.cpp)
array max_pool(const array& x, const std::vector<int>& kernel_size, const std::vector<int>& stride,
               const std::vector<int>& padding, S s = {});
array avg_pool(const array& x, const std::vector<int>& kernel_size, const std::vector<int>& stride,
               const std::vector<int>& padding, S s = {});

// ---- positional encodings and attention (transformer.cpp) ----
// Sinusoidal encoding: with y = x[..., None] * sigmas, [sin(y), cos(y)] (or cos first)
// along a new last axis, times scale. sinusoidal_frequencies gives the dims / 2 sigmas,
// geometric from max_freq down to min_freq (times 2 pi with full_turns).
array sinusoidal_frequencies(int dims, double min_freq = 1e-4, double max_freq = 1.0, bool full_turns = false,
                             S s = {});
array sinusoidal_positional_encoding(const array& x, const array& sigmas, double scale, bool cos_first = false,
                                     S s = {});
// ALiBi: slopes 2^(-8 h / num_heads), h = 1..num_heads, of shape (num_heads, 1, 1); the bias
// -|i - j| * slope of shape (1, num_heads, q_len - offset, k_len) for queries i in
// [offset, q_len) and keys j in [0, k_len); alibi adds it (and `mask`, if any) to scores of
// shape (batch, heads, queries, keys), whose queries start at `offset`.
array alibi_slope(int num_heads, S s = {});
array alibi_matrix(int q_len, int k_len, int num_heads, int offset, Dtype dtype = float32, S s = {});
array alibi(const array& scores, int offset = 0, const OptArray& mask = std::nullopt, S s = {});
// Additive causal mask (n, n): 0 on and below the diagonal, the lowest finite value of dtype above.
array additive_causal_mask(int n, Dtype dtype = float32, S s = {});
// Multi-head attention of MLX's nn.MultiHeadAttention: queries (B, L, *), keys and values
// (B, S, *) are projected (weights (out, in) as linear's), split into num_heads heads, passed
// to fast::scaled_dot_product_attention with scale 1 / sqrt(head dims) and the mask
// (mask_mode "" or "causal", as there), and the joined heads projected by out_weight.
struct AttentionWeights {
  array query_weight, key_weight, value_weight, out_weight;
  OptArray query_bias, key_bias, value_bias, out_bias;
};
array multi_head_attention(const array& queries, const array& keys, const array& values, int num_heads,
                           const AttentionWeights& weights, const std::string& mask_mode = "",
                           const OptArray& mask = std::nullopt, S s = {});

// (end of positional encodings and attention)

// ---- recurrent layers and upsampling (recurrent.cpp, upsample.cpp) ----
// Recurrent layers over x of shape (..., L, D), usually (N, L, D) or (L, D): they return the
// hidden state after every step, (..., L, H). Gate weights are stacked along the rows. As in
// MLX, when no initial hidden (cell) state is given the first step has no recurrent term at
// all, not even GRU's bhn; a given state broadcasts against x's batch axes.
using Nonlinearity = std::function<array(const array&)>;  // <functional> comes with array.h
// h_t = nonlinearity(x_t Wxh^T + h_{t-1} Whh^T + bias); Wxh (H, D), Whh (H, H), bias (H);
// the nonlinearity defaults to tanh.
array rnn(const array& x, const array& Wxh, const array& Whh, const OptArray& bias = std::nullopt,
          const OptArray& hidden = std::nullopt, const Nonlinearity& nonlinearity = nullptr, S s = {});
// Gates r, z, n: Wx (3H, D), Wh (3H, H), b (3H) and bhn (H), the bias of the n rows of Wh
// (inside r * (...)): n = tanh(x Wxn^T + bn + r * (h Whn^T + bhn)), h' = (1 - z) n + z h.
array gru(const array& x, const array& Wx, const array& Wh, const OptArray& b = std::nullopt,
          const OptArray& bhn = std::nullopt, const OptArray& hidden = std::nullopt, S s = {});
// Gates i, f, g, o: Wx (4H, D), Wh (4H, H), bias (4H). Returns (hidden, cell) at every step.
std::pair<array, array> lstm(const array& x, const array& Wx, const array& Wh, const OptArray& bias = std::nullopt,
                             const OptArray& hidden = std::nullopt, const OptArray& cell = std::nullopt, S s = {});

// Upsampling of channels-last x (N, *spatial, C): spatial axis i of size n becomes
// floor(scale_factor[i] * n) long (one factor per spatial axis). Nearest keeps the dtype;
// linear and cubic (a = -0.75, borders repeated) interpolate separably, axis by axis, with
// float32 weights, so their result is at least float32 (as MLX). align_corners maps the
// first and last samples of input and output onto each other instead of the pixel centres.
array upsample_nearest(const array& x, const std::vector<double>& scale_factor, S s = {});
array upsample_linear(const array& x, const std::vector<double>& scale_factor, bool align_corners = false, S s = {});
array upsample_cubic(const array& x, const std::vector<double>& scale_factor, bool align_corners = false, S s = {});

// Quantized layers (quantized.cpp) on weights packed by lazuli::quantize (lazuli/quantized.h):
// x @ dequantize(w).T + bias, and the dequantized rows of w at integer indices.
array quantized_linear(const array& x, const array& w, const array& scales, const OptArray& biases,
                       const OptArray& bias, int group_size, int bits, const std::string& mode = "affine", S s = {});
array quantized_embedding(const array& indices, const array& w, const array& scales, const OptArray& biases,
                          int group_size, int bits, const std::string& mode = "affine", S s = {});
// QQLinear: qqmm(x, w, scales) + bias, w a float weight (scales None) or a packed one.
array qq_linear(const array& x, const array& w, const OptArray& scales, const OptArray& bias, int group_size, int bits,
                const std::string& mode = "nvfp4", S s = {});

// (end of recurrent layers and upsampling)

// ---- initialisers: new arrays of the given shape ----
namespace init {
array constant(const Shape& shape, double value, Dtype dtype = float32, S s = {});
array normal(const Shape& shape, double mean = 0.0, double std = 1.0, Dtype dtype = float32,
             const random::Key& key = std::nullopt, S s = {});
array uniform(const Shape& shape, double low = 0.0, double high = 1.0, Dtype dtype = float32,
              const random::Key& key = std::nullopt, S s = {});
array identity(const Shape& shape, Dtype dtype = float32, S s = {});  // square matrices only
// fan_in = shape[-1] * receptive field, fan_out = shape[0] * receptive field (needs ndim >= 2).
std::pair<int64_t, int64_t> fan_in_fan_out(const Shape& shape);
array glorot_normal(const Shape& shape, double gain = 1.0, Dtype dtype = float32,
                    const random::Key& key = std::nullopt, S s = {});
array glorot_uniform(const Shape& shape, double gain = 1.0, Dtype dtype = float32,
                     const random::Key& key = std::nullopt, S s = {});
// mode "fan_in" or "fan_out".
array he_normal(const Shape& shape, const std::string& mode = "fan_in", double gain = 1.0, Dtype dtype = float32,
                const random::Key& key = std::nullopt, S s = {});
array he_uniform(const Shape& shape, const std::string& mode = "fan_in", double gain = 1.0, Dtype dtype = float32,
                 const random::Key& key = std::nullopt, S s = {});
// Normal values with ceil(sparsity * cols) zeros at random places in each row (2-d only).
array sparse(const Shape& shape, double sparsity, double mean = 0.0, double std = 1.0, Dtype dtype = float32,
             const random::Key& key = std::nullopt, S s = {});
// Rows (or columns) orthonormal, times gain (2-d only); via QR of a Gaussian matrix.
array orthogonal(const Shape& shape, double gain = 1.0, Dtype dtype = float32,
                 const random::Key& key = std::nullopt, S s = {});
}  // namespace init

}  // namespace lazuli::nn
