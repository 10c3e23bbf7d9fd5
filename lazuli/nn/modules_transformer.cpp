// Positional encodings, attention and transformer classes: parameters and wiring; the math
// is lazuli/nn/functional.h's (transformer.cpp) and fast::rope.
#include <cmath>
#include <stdexcept>

#include "lazuli/fast.h"
#include "lazuli/nn/layers_more.h"

namespace lazuli::nn {

namespace {

// Python's `value or fallback`: an unset or zero value takes the fallback.
int or_default(std::optional<int> value, int fallback) { return value && *value != 0 ? *value : fallback; }

// The Linear child `name` of m as its (weight, bias) for multi_head_attention.
std::pair<array, std::optional<array>> projection(const Module& m, const std::string& name) {
  const Module& linear = m.child(name);
  return {linear.param("weight"), linear.has_param("bias") ? std::optional<array>(linear.param("bias")) : std::nullopt};
}

// The layers' MLP block: linear2(dropout(activation(linear1(x)))).
array feed_forward(const Module& layer, const Nonlinearity& activation, const array& x, const std::string& dropout) {
  return layer.child("linear2")(layer.child(dropout)(activation(layer.child("linear1")(x))));
}

// The Python layers' activation default.
Nonlinearity activation_or_relu(Nonlinearity activation) {
  if (activation) return activation;
  return [](const array& x) { return relu(x); };
}

}  // namespace

// ---- positional encodings ----

RoPE::RoPE(int dims, bool traditional, double base, double scale)
    : Module("RoPE"), dims_(dims), traditional_(traditional), base_(base), scale_(scale) {}

array RoPE::operator()(const array& x, int offset) {
  return fast::rope(x, dims_, traditional_, static_cast<float>(base_), static_cast<float>(scale_), offset);
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int dims, double min_freq, double max_freq,
                                                           std::optional<double> scale, bool cos_first,
                                                           bool full_turns)
    : Module("SinusoidalPositionalEncoding"),
      sigmas_(sinusoidal_frequencies(dims, min_freq, max_freq, full_turns)),
      scale_(scale && *scale != 0 ? *scale : std::sqrt(2.0 / dims)),
      cos_first_(cos_first) {}

array SinusoidalPositionalEncoding::operator()(const array& x) {
  return sinusoidal_positional_encoding(x, sigmas_, scale_, cos_first_);
}

array ALiBi::operator()(const array& scores, int offset, const std::optional<array>& mask) {
  return alibi(scores, offset, mask);
}

array ALiBi::create_alibi_matrix(int q_sequence_length, int k_sequence_length, int num_heads, int offset,
                                 Dtype dtype) {
  return alibi_matrix(q_sequence_length, k_sequence_length, num_heads, offset, dtype);
}

array ALiBi::create_alibi_slope(int num_heads) { return alibi_slope(num_heads); }

// ---- attention ----

MultiHeadAttention::MultiHeadAttention(int dims, int num_heads, std::optional<int> query_input_dims,
                                       std::optional<int> key_input_dims, std::optional<int> value_input_dims,
                                       std::optional<int> value_dims, std::optional<int> value_output_dims, bool bias)
    : Module("MultiHeadAttention"), num_heads_(num_heads) {
  if (num_heads <= 0 || dims % num_heads != 0)
    throw std::invalid_argument("[MultiHeadAttention] dims (" + std::to_string(dims) +
                                ") must be divisible by num_heads (" + std::to_string(num_heads) + ").");
  int query_in = or_default(query_input_dims, dims);
  int key_in = or_default(key_input_dims, dims);
  int value_in = or_default(value_input_dims, key_in);
  int value_hidden = or_default(value_dims, dims);
  int value_out = or_default(value_output_dims, dims);
  register_module("query_proj", std::make_shared<Linear>(query_in, dims, bias));
  register_module("key_proj", std::make_shared<Linear>(key_in, dims, bias));
  register_module("value_proj", std::make_shared<Linear>(value_in, value_hidden, bias));
  register_module("out_proj", std::make_shared<Linear>(value_hidden, value_out, bias));
}

array MultiHeadAttention::operator()(const array& queries, const array& keys, const array& values,
                                     const AttentionMask& mask) {
  auto [qw, qb] = projection(*this, "query_proj");
  auto [kw, kb] = projection(*this, "key_proj");
  auto [vw, vb] = projection(*this, "value_proj");
  auto [ow, ob] = projection(*this, "out_proj");
  AttentionWeights weights{qw, kw, vw, ow, qb, kb, vb, ob};
  return multi_head_attention(queries, keys, values, num_heads_, weights, mask.mode, mask.mask);
}

array MultiHeadAttention::create_additive_causal_mask(int n, Dtype dtype) { return additive_causal_mask(n, dtype); }

// ---- transformer layers ----

TransformerEncoderLayer::TransformerEncoderLayer(int dims, int num_heads, std::optional<int> mlp_dims,
                                                 double dropout, Nonlinearity activation, bool norm_first)
    : Module("TransformerEncoderLayer"), activation_(activation_or_relu(std::move(activation))), norm_first_(norm_first) {
  int hidden = or_default(mlp_dims, 4 * dims);
  register_module("attention", std::make_shared<MultiHeadAttention>(dims, num_heads));
  register_module("ln1", std::make_shared<LayerNorm>(dims));
  register_module("ln2", std::make_shared<LayerNorm>(dims));
  register_module("linear1", std::make_shared<Linear>(dims, hidden));
  register_module("linear2", std::make_shared<Linear>(hidden, dims));
  register_module("dropout1", std::make_shared<Dropout>(dropout));
  register_module("dropout2", std::make_shared<Dropout>(dropout));
}

array TransformerEncoderLayer::operator()(const array& x, const AttentionMask& mask) {
  auto& attention = child_as<MultiHeadAttention>("attention");
  Module &ln1 = child("ln1"), &ln2 = child("ln2"), &dropout1 = child("dropout1");
  if (norm_first_) {
    array y = ln1(x);
    array h = x + dropout1(attention(y, y, y, mask));
    return h + feed_forward(*this, activation_, ln2(h), "dropout2");
  }
  array h = ln1(x + dropout1(attention(x, x, x, mask)));
  return ln2(h + feed_forward(*this, activation_, h, "dropout2"));
}

TransformerDecoderLayer::TransformerDecoderLayer(int dims, int num_heads, std::optional<int> mlp_dims,
                                                 double dropout, Nonlinearity activation, bool norm_first)
    : Module("TransformerDecoderLayer"), activation_(activation_or_relu(std::move(activation))), norm_first_(norm_first) {
  int hidden = or_default(mlp_dims, 4 * dims);
  register_module("self_attention", std::make_shared<MultiHeadAttention>(dims, num_heads));
  register_module("cross_attention", std::make_shared<MultiHeadAttention>(dims, num_heads));
  for (const char* name : {"ln1", "ln2", "ln3"}) register_module(name, std::make_shared<LayerNorm>(dims));
  register_module("linear1", std::make_shared<Linear>(dims, hidden));
  register_module("linear2", std::make_shared<Linear>(hidden, dims));
  for (const char* name : {"dropout1", "dropout2", "dropout3"}) register_module(name, std::make_shared<Dropout>(dropout));
}

array TransformerDecoderLayer::operator()(const array& x, const array& memory, const AttentionMask& x_mask,
                                          const AttentionMask& memory_mask) {
  auto& self_attention = child_as<MultiHeadAttention>("self_attention");
  auto& cross_attention = child_as<MultiHeadAttention>("cross_attention");
  Module &ln1 = child("ln1"), &ln2 = child("ln2"), &ln3 = child("ln3");
  Module &dropout1 = child("dropout1"), &dropout2 = child("dropout2");
  if (norm_first_) {
    array y = ln1(x);
    array h = x + dropout1(self_attention(y, y, y, x_mask));
    y = ln2(h);
    h = h + dropout2(cross_attention(y, memory, memory, memory_mask));
    return h + feed_forward(*this, activation_, ln3(h), "dropout3");
  }
  array y = dropout1(self_attention(x, x, x, x_mask));
  array h = ln1(x + y);
  // As in MLX and the Python class, the post-norm cross-attention queries are the
  // self-attention branch y rather than the normalised sum.
  y = dropout2(cross_attention(y, memory, memory, memory_mask));
  h = ln2(h + y);
  return ln3(h + feed_forward(*this, activation_, h, "dropout3"));
}

// ---- layer stacks ----

namespace {

std::string layer_name(int i) { return "layers." + std::to_string(i); }

// The masks again with their arrays taken from `inputs`, starting at `next`.
AttentionMask rebind(const AttentionMask& mask, const std::vector<array>& inputs, size_t& next) {
  if (!mask.mask) return mask;
  AttentionMask out = mask;
  out.mask = inputs.at(next++);
  return out;
}

// forward(inputs followed by the masks' arrays), through checkpoint when asked (so the
// mask arrays are inputs of the checkpointed function too, not captured constants).
array run_layer(Module& layer, bool use_checkpoint, std::vector<array> inputs,
                std::initializer_list<const AttentionMask*> masks, const ForwardFn& forward) {
  for (auto* m : masks)
    if (m->mask) inputs.push_back(*m->mask);
  return use_checkpoint ? checkpoint(layer, forward)(inputs) : forward(inputs);
}

}  // namespace

TransformerEncoder::TransformerEncoder(int num_layers, int dims, int num_heads, std::optional<int> mlp_dims,
                                       double dropout, Nonlinearity activation, bool norm_first, bool checkpoint)
    : EncoderModule("TransformerEncoder"), num_layers_(num_layers), checkpoint_(checkpoint) {
  for (int i = 0; i < num_layers; ++i)
    register_module(layer_name(i), std::make_shared<TransformerEncoderLayer>(dims, num_heads, mlp_dims, dropout,
                                                                              activation, norm_first));
  register_module("ln", std::make_shared<LayerNorm>(dims));
}

array TransformerEncoder::operator()(const array& x, const AttentionMask& mask) {
  array h = x;
  for (int i = 0; i < num_layers_; ++i) {
    auto& layer = child_as<TransformerEncoderLayer>(layer_name(i));
    h = run_layer(layer, checkpoint_, {h}, {&mask}, [&layer, mask](const std::vector<array>& in) {
      size_t next = 1;
      return layer(in[0], rebind(mask, in, next));
    });
  }
  return child("ln")(h);
}

TransformerDecoder::TransformerDecoder(int num_layers, int dims, int num_heads, std::optional<int> mlp_dims,
                                       double dropout, Nonlinearity activation, bool norm_first, bool checkpoint)
    : DecoderModule("TransformerDecoder"), num_layers_(num_layers), checkpoint_(checkpoint) {
  for (int i = 0; i < num_layers; ++i)
    register_module(layer_name(i), std::make_shared<TransformerDecoderLayer>(dims, num_heads, mlp_dims, dropout,
                                                                              activation, norm_first));
  register_module("ln", std::make_shared<LayerNorm>(dims));
}

array TransformerDecoder::operator()(const array& x, const array& memory, const AttentionMask& x_mask,
                                     const AttentionMask& memory_mask) {
  array h = x;
  for (int i = 0; i < num_layers_; ++i) {
    auto& layer = child_as<TransformerDecoderLayer>(layer_name(i));
    h = run_layer(layer, checkpoint_, {h, memory}, {&x_mask, &memory_mask},
                  [&layer, x_mask, memory_mask](const std::vector<array>& in) {
                    size_t next = 2;
                    AttentionMask self_mask = rebind(x_mask, in, next);
                    AttentionMask cross_mask = rebind(memory_mask, in, next);
                    return layer(in[0], in[1], self_mask, cross_mask);
                  });
  }
  return child("ln")(h);
}

Transformer::Transformer(int dims, int num_heads, int num_encoder_layers, int num_decoder_layers,
                         std::optional<int> mlp_dims, double dropout, Nonlinearity activation,
                         std::shared_ptr<EncoderModule> custom_encoder, std::shared_ptr<DecoderModule> custom_decoder,
                         bool norm_first, bool checkpoint)
    : Module("Transformer") {
  if (!custom_encoder)
    custom_encoder = std::make_shared<TransformerEncoder>(num_encoder_layers, dims, num_heads, mlp_dims, dropout,
                                                          activation, norm_first, checkpoint);
  if (!custom_decoder)
    custom_decoder = std::make_shared<TransformerDecoder>(num_decoder_layers, dims, num_heads, mlp_dims, dropout,
                                                          activation, norm_first, checkpoint);
  register_module("encoder", std::move(custom_encoder));
  register_module("decoder", std::move(custom_decoder));
}

array Transformer::operator()(const array& src, const array& tgt, const AttentionMask& src_mask,
                              const AttentionMask& tgt_mask, const AttentionMask& memory_mask) {
  array memory = child_as<EncoderModule>("encoder")(src, src_mask);
  return child_as<DecoderModule>("decoder")(tgt, memory, tgt_mask, memory_mask);
}

}  // namespace lazuli::nn
