// The C++ classes of lazuli::nn's newer layer families: positional encodings, attention and
// transformers (modules_transformer.cpp), recurrent layers and upsampling
// (modules_recurrent.cpp), quantized layers and nn::quantize (modules_quantized.cpp).
//
// As in modules.h, they mirror the Python classes of lazuli.nn (same constructor arguments,
// defaults, parameter names, shapes and initialisation), hold only parameters and settings,
// and call the math of lazuli/nn/functional.h and lazuli/fast.h. Weights files are shared
// with the Python classes. Layers with several inputs add their own operator() overloads.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lazuli/nn/modules.h"

namespace lazuli::nn {

// ---- positional encodings ----

// Rotary positional encoding of the first `dims` features (fast::rope); the angles are
// position * scale * base^(-2i / dims), positions starting at `offset`.
class RoPE : public Module {
 public:
  explicit RoPE(int dims, bool traditional = false, double base = 10000, double scale = 1.0);
  array operator()(const array& x) override { return (*this)(x, 0); }
  array operator()(const array& x, int offset);

 private:
  int dims_;
  bool traditional_;
  double base_, scale_;
};

// [sin(x sigma), cos(x sigma)] (or cos first) of positions x, times `scale` (default
// sqrt(2 / dims)); the dims / 2 frequencies sigma are a member, not a parameter.
class SinusoidalPositionalEncoding : public Module {
 public:
  explicit SinusoidalPositionalEncoding(int dims, double min_freq = 1e-4, double max_freq = 1.0,
                                        std::optional<double> scale = std::nullopt, bool cos_first = false,
                                        bool full_turns = false);
  array operator()(const array& x) override;

 private:
  array sigmas_;
  double scale_;
  bool cos_first_;
};

// Adds the linear attention biases -|i - j| * slope(head) (and `mask`) to attention scores
// (batch, heads, queries, keys) whose queries start at position `offset`.
class ALiBi : public Module {
 public:
  ALiBi() : Module("ALiBi") {}
  array operator()(const array& scores) override { return (*this)(scores, 0); }
  array operator()(const array& scores, int offset, const std::optional<array>& mask = std::nullopt);
  static array create_alibi_matrix(int q_sequence_length, int k_sequence_length, int num_heads, int offset,
                                   Dtype dtype = float32);
  static array create_alibi_slope(int num_heads);
};

// ---- attention and transformers ----

// An attention mask as Python's `mask` argument: none, "causal", or an additive or boolean
// array broadcastable to (batch, heads, queries, keys). Converts implicitly from each.
struct AttentionMask {
  AttentionMask() = default;
  AttentionMask(std::nullopt_t) {}
  AttentionMask(array mask) : mask(std::move(mask)) {}
  AttentionMask(std::string mode) : mode(std::move(mode)) {}
  AttentionMask(const char* mode) : mode(mode) {}
  std::string mode;  // "" or "causal"
  std::optional<array> mask;
};

// Scaled dot-product attention over num_heads heads, with queries, keys, values and output
// projected by Linear children query_proj, key_proj, value_proj, out_proj (biases only
// with `bias`). Unset (or 0) input sizes default as in Python: query and key inputs to
// dims, value inputs to the key inputs, value_dims and value_output_dims to dims.
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int dims, int num_heads, std::optional<int> query_input_dims = std::nullopt,
                     std::optional<int> key_input_dims = std::nullopt,
                     std::optional<int> value_input_dims = std::nullopt, std::optional<int> value_dims = std::nullopt,
                     std::optional<int> value_output_dims = std::nullopt, bool bias = false);
  array operator()(const array& queries, const array& keys, const array& values, const AttentionMask& mask = {});
  // (n, n): 0 where key <= query, the lowest finite value of dtype elsewhere.
  static array create_additive_causal_mask(int n, Dtype dtype = float32);
  int num_heads() const { return num_heads_; }

 private:
  int num_heads_;
};

// Self-attention and an MLP (mlp_dims, default 4 * dims; activation default relu), each in
// a residual branch with LayerNorm before (norm_first) or after the sum.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int dims, int num_heads, std::optional<int> mlp_dims = std::nullopt, double dropout = 0.0,
                          Nonlinearity activation = nullptr, bool norm_first = true);
  array operator()(const array& x, const AttentionMask& mask);

 private:
  Nonlinearity activation_;
  bool norm_first_;
};

// Self-attention, attention to the encoder's output (memory) and an MLP, each in a residual
// branch with LayerNorm before (norm_first) or after the sum.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int dims, int num_heads, std::optional<int> mlp_dims = std::nullopt, double dropout = 0.0,
                          Nonlinearity activation = nullptr, bool norm_first = true);
  array operator()(const array& x, const array& memory, const AttentionMask& x_mask,
                   const AttentionMask& memory_mask);

 private:
  Nonlinearity activation_;
  bool norm_first_;
};

// What Transformer needs of its encoder and decoder; custom ones derive from these.
class EncoderModule : public Module {
 public:
  using Module::Module;
  virtual array operator()(const array& x, const AttentionMask& mask) = 0;
};
class DecoderModule : public Module {
 public:
  using Module::Module;
  virtual array operator()(const array& x, const array& memory, const AttentionMask& x_mask,
                           const AttentionMask& memory_mask) = 0;
};

// num_layers TransformerEncoderLayers ("layers.0", ...) and a final LayerNorm "ln";
// `checkpoint` recomputes each layer's intermediate values in the backward pass.
class TransformerEncoder : public EncoderModule {
 public:
  TransformerEncoder(int num_layers, int dims, int num_heads, std::optional<int> mlp_dims = std::nullopt,
                     double dropout = 0.0, Nonlinearity activation = nullptr, bool norm_first = true,
                     bool checkpoint = false);
  array operator()(const array& x, const AttentionMask& mask) override;

 private:
  int num_layers_;
  bool checkpoint_;
};

class TransformerDecoder : public DecoderModule {
 public:
  TransformerDecoder(int num_layers, int dims, int num_heads, std::optional<int> mlp_dims = std::nullopt,
                     double dropout = 0.0, Nonlinearity activation = nullptr, bool norm_first = true,
                     bool checkpoint = false);
  array operator()(const array& x, const array& memory, const AttentionMask& x_mask,
                   const AttentionMask& memory_mask) override;

 private:
  int num_layers_;
  bool checkpoint_;
};

// An encoder (custom_encoder or a TransformerEncoder) whose output is the memory of a
// decoder (custom_decoder or a TransformerDecoder).
class Transformer : public Module {
 public:
  explicit Transformer(int dims = 512, int num_heads = 8, int num_encoder_layers = 6, int num_decoder_layers = 6,
                       std::optional<int> mlp_dims = std::nullopt, double dropout = 0.0,
                       Nonlinearity activation = nullptr, std::shared_ptr<EncoderModule> custom_encoder = nullptr,
                       std::shared_ptr<DecoderModule> custom_decoder = nullptr, bool norm_first = true,
                       bool checkpoint = false);
  array operator()(const array& src, const array& tgt, const AttentionMask& src_mask, const AttentionMask& tgt_mask,
                   const AttentionMask& memory_mask);
};

// ---- recurrent layers (inputs (N, L, D) or (L, D); the hidden state after every step) ----
// Weights uniform in +-1/sqrt(hidden_size).

// h_t = nonlinearity(x_t Wxh^T + h_{t-1} Whh^T + bias); nonlinearity default tanh.
class RNN : public Module {
 public:
  RNN(int input_size, int hidden_size, bool bias = true, Nonlinearity nonlinearity = nullptr);
  array operator()(const array& x) override { return (*this)(x, std::nullopt); }
  array operator()(const array& x, const std::optional<array>& hidden);

 private:
  Nonlinearity nonlinearity_;
};

// Gates r, z, n (rows of Wx, Wh, b); bhn is the hidden projection's bias inside n.
class GRU : public Module {
 public:
  GRU(int input_size, int hidden_size, bool bias = true);
  array operator()(const array& x) override { return (*this)(x, std::nullopt); }
  array operator()(const array& x, const std::optional<array>& hidden);
};

// Gates i, f, g, o (rows of Wx, Wh, bias). Returns (hidden, cell) at every step.
class LSTM : public Module {
 public:
  LSTM(int input_size, int hidden_size, bool bias = true);
  std::pair<array, array> operator()(const array& x, const std::optional<array>& hidden = std::nullopt,
                                     const std::optional<array>& cell = std::nullopt);
};

// ---- upsampling (channels last, (N, *spatial, C)) ----

// mode "nearest", "linear" or "cubic"; one scale factor for every spatial axis, or one per
// axis (then the input must have that many spatial axes).
class Upsample : public Module {
 public:
  explicit Upsample(double scale_factor, const std::string& mode = "nearest", bool align_corners = false);
  explicit Upsample(std::vector<double> scale_factor, const std::string& mode = "nearest",
                    bool align_corners = false);
  array operator()(const array& x) override;

 private:
  std::vector<double> scale_factor_;
  bool per_axis_;
  std::string mode_;
  bool align_corners_;
};

// ---- quantized layers (weights packed by lazuli::quantize; all frozen but a taken-over bias) ----

// Holds "weight", "scales" and (mode "affine") "biases" packed from a float weight.
class QuantizedModule : public Module {
 public:
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  const std::string& mode() const { return mode_; }

 protected:
  QuantizedModule(const std::string& name, int group_size, int bits, std::string mode);
  void set_weight(const array& weight);
  std::optional<array> biases() const;

 private:
  int group_size_, bits_;
  std::string mode_;
};

// Embedding with a quantized (num_embeddings, dims) table, drawn from N(0, 1/dims).
class QuantizedEmbedding : public QuantizedModule {
 public:
  QuantizedEmbedding(int num_embeddings, int dims, int group_size = 64, int bits = 4,
                     const std::string& mode = "affine");
  array operator()(const array& indices) override;
  // x @ dequantized weight.T: the table used as an output projection (tied weights).
  array as_linear(const array& x) const;
  static std::shared_ptr<QuantizedEmbedding> from_embedding(const Embedding& embedding, int group_size = 64,
                                                            int bits = 4, const std::string& mode = "affine");
  int num_embeddings() const { return num_embeddings_; }
  int dims() const { return dims_; }

 private:
  QuantizedEmbedding(const array& weight, int group_size, int bits, const std::string& mode);
  int num_embeddings_, dims_;
};

// Linear with a quantized (output_dims, input_dims) weight, uniform in +-1/sqrt(input_dims);
// a bias of zeros (frozen too) with `bias`.
class QuantizedLinear : public QuantizedModule {
 public:
  QuantizedLinear(int input_dims, int output_dims, bool bias = true, int group_size = 64, int bits = 4,
                  const std::string& mode = "affine");
  array operator()(const array& x) override;
  // The linear layer's bias, if any, is taken over and stays trainable.
  static std::shared_ptr<QuantizedLinear> from_linear(const Linear& linear, int group_size = 64, int bits = 4,
                                                      const std::string& mode = "affine");

 private:
  QuantizedLinear(const array& weight, int group_size, int bits, const std::string& mode);
};

// Linear on quantized inputs and weights (lazuli::qqmm, mode "nvfp4" or "mxfp8"): x_q W_q^T
// (+ bias, only when taken over from a Linear). In training mode "weight" holds the float
// (output_dims, input_dims) weight, quantized on the fly with straight-through gradients; eval()
// packs it ("weight" uint32 and "scales"), train() unpacks it again. No bias of its own, as in MLX.
class QQLinear : public Module {
 public:
  QQLinear(int input_dims, int output_dims, std::optional<int> group_size = std::nullopt,
           std::optional<int> bits = std::nullopt, const std::string& mode = "nvfp4");
  array operator()(const array& x) override;
  // Packs the float weight into "weight" and "scales" / back into a float weight; no-ops when
  // already in that form.
  void quantize();
  void dequantize();
  bool quantized() const { return has_param("scales"); }
  // A QQLinear with the linear layer's weight (and bias), in the linear layer's mode.
  static std::shared_ptr<QQLinear> from_linear(const Linear& linear, std::optional<int> group_size = std::nullopt,
                                               std::optional<int> bits = std::nullopt,
                                               const std::string& mode = "nvfp4");
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  const std::string& mode() const { return mode_; }

 protected:
  void on_training_mode(bool training) override;

 private:
  QQLinear(const array& weight, std::optional<int> group_size, std::optional<int> bits, const std::string& mode);
  int group_size_, bits_;
  std::string mode_;
};

// Replaces, in place, the leaf modules of `model` that predicate(dotted path, module)
// selects (default: every Linear and Embedding) by their quantized versions
// (QuantizedLinear::from_linear, QuantizedEmbedding::from_embedding). With quantize_input, a
// selected Linear becomes a QQLinear (inputs quantized too; modes "nvfp4" and "mxfp8") and a
// selected Embedding throws. A selected module of another type throws std::invalid_argument.
using QuantizePredicate = std::function<bool(const std::string& path, const Module& module)>;
void quantize(Module& model, int group_size = 64, int bits = 4, const std::string& mode = "affine",
              const QuantizePredicate& predicate = nullptr, bool quantize_input = false);

}  // namespace lazuli::nn
