// The C++ classes of lazuli/nn/layers_more.h: parameter names and shapes (those of the Python
// classes), each class against its functional form with the same parameters and against
// values worked out by hand, weights files, checkpointing, nn::quantize and the error paths.
#include <cmath>
#include <filesystem>
#include <limits>

#include "lazuli/nn/layers_more.h"
#include "lazuli/quantized.h"
#include "nn_test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
using lazuli::test::expect_values;
using lazuli::test::to_vector;
using lazuli::test::data;
using lazuli::test::expect_close;
using lazuli::test::keys;

namespace fs = std::filesystem;

namespace {

using Shapes = std::map<std::string, Shape>;

Shapes shapes_of(const nn::Params& params) {
  Shapes out;
  for (auto& [name, value] : params) out.emplace(name, value.shape());
  return out;
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("lazuli_layers_" + name)).string();
}

std::optional<array> opt(const nn::Params& p, const std::string& name) {
  return p.count(name) ? std::optional<array>(p.at(name)) : std::nullopt;
}

// The functional form of a MultiHeadAttention with parameters p under `prefix`.
nn::AttentionWeights attention_weights(const nn::Params& p, const std::string& prefix) {
  auto w = [&](const std::string& proj) { return p.at(prefix + proj + ".weight"); };
  auto b = [&](const std::string& proj) { return opt(p, prefix + proj + ".bias"); };
  return {w("query_proj"), w("key_proj"), w("value_proj"), w("out_proj"),
          b("query_proj"), b("key_proj"), b("value_proj"), b("out_proj")};
}

array layer_norm_at(const nn::Params& p, const std::string& prefix, const array& x) {
  return nn::layer_norm(x, p.at(prefix + ".weight"), p.at(prefix + ".bias"), 1e-5);
}

array mlp_at(const nn::Params& p, const std::string& prefix, const array& x) {
  array h = nn::relu(nn::linear(x, p.at(prefix + "linear1.weight"), p.at(prefix + "linear1.bias")));
  return nn::linear(h, p.at(prefix + "linear2.weight"), p.at(prefix + "linear2.bias"));
}

// TransformerEncoderLayer in functional form (dropout 0, relu).
array encoder_layer_reference(const nn::Params& p, const std::string& prefix, const array& x, const array& mask,
                              bool norm_first) {
  auto attention = [&](const array& q) {
    return nn::multi_head_attention(q, q, q, 2, attention_weights(p, prefix + "attention."), "", mask);
  };
  if (norm_first) {
    array h = x + attention(layer_norm_at(p, prefix + "ln1", x));
    return h + mlp_at(p, prefix, layer_norm_at(p, prefix + "ln2", h));
  }
  array h = layer_norm_at(p, prefix + "ln1", x + attention(x));
  return layer_norm_at(p, prefix + "ln2", h + mlp_at(p, prefix, h));
}

// TransformerDecoderLayer in functional form (dropout 0, relu).
array decoder_layer_reference(const nn::Params& p, const std::string& prefix, const array& x, const array& memory,
                              const array& x_mask, bool norm_first) {
  auto self_attention = [&](const array& q) {
    return nn::multi_head_attention(q, q, q, 2, attention_weights(p, prefix + "self_attention."), "", x_mask);
  };
  auto cross_attention = [&](const array& q) {
    return nn::multi_head_attention(q, memory, memory, 2, attention_weights(p, prefix + "cross_attention."));
  };
  if (norm_first) {
    array h = x + self_attention(layer_norm_at(p, prefix + "ln1", x));
    h = h + cross_attention(layer_norm_at(p, prefix + "ln2", h));
    return h + mlp_at(p, prefix, layer_norm_at(p, prefix + "ln3", h));
  }
  array y = self_attention(x);
  array h = layer_norm_at(p, prefix + "ln1", x + y);
  h = layer_norm_at(p, prefix + "ln2", h + cross_attention(y));
  return layer_norm_at(p, prefix + "ln3", h + mlp_at(p, prefix, h));
}

const Shapes kAttentionShapes8 = {
    {"key_proj.weight", {8, 8}}, {"out_proj.weight", {8, 8}}, {"query_proj.weight", {8, 8}},
    {"value_proj.weight", {8, 8}}};

Shapes prefixed(const std::string& prefix, const Shapes& shapes) {
  Shapes out;
  for (auto& [name, shape] : shapes) out.emplace(prefix + name, shape);
  return out;
}

Shapes merged(std::initializer_list<Shapes> parts) {
  Shapes out;
  for (auto& part : parts) out.insert(part.begin(), part.end());
  return out;
}

// The parameters of the Python TransformerEncoderLayer(8, 2, mlp_dims=16).
Shapes encoder_layer_shapes(const std::string& prefix) {
  return merged({prefixed(prefix + "attention.", kAttentionShapes8),
                 prefixed(prefix, {{"ln1.weight", {8}},
                                   {"ln1.bias", {8}},
                                   {"ln2.weight", {8}},
                                   {"ln2.bias", {8}},
                                   {"linear1.weight", {16, 8}},
                                   {"linear1.bias", {16}},
                                   {"linear2.weight", {8, 16}},
                                   {"linear2.bias", {8}}})});
}

}  // namespace

// ---------------------------------------------------------------- positional encodings

TEST(NnLayerClasses, RoPERotatesByPositionTimesFrequency) {
  nn::RoPE rope(2);
  EXPECT_TRUE(rope.parameters().empty());
  // (1, 0) at positions 0 and 1 with base^0 = 1: rotated by 0 and 1 radian.
  array x = array({1.0f, 0.0f, 1.0f, 0.0f}, {1, 2, 2});
  expect_values(rope(x), {1, 0, std::cos(1.0), std::sin(1.0)}, 1e-6);
  expect_values(rope(x, 2), {std::cos(2.0), std::sin(2.0), std::cos(3.0), std::sin(3.0)}, 1e-6);
  // Against fast::rope with the same settings.
  nn::RoPE traditional(4, true, 500.0, 0.5);
  array y = data({2, 3, 6});
  expect_close(traditional(y, 1), fast::rope(y, 4, true, 500.0f, 0.5f, 1));
}

TEST(NnLayerClasses, SinusoidalPositionalEncoding) {
  nn::SinusoidalPositionalEncoding pe(4);
  EXPECT_TRUE(pe.parameters().empty());
  double s = std::sqrt(2.0 / 4);
  // Position 0: sin 0 = 0, cos 0 = 1 for every frequency; the highest frequency is max_freq 1.
  array out = pe(array({0.0f, 1.0f}));
  EXPECT_EQ(out.shape(), (Shape{2, 4}));
  auto v = to_vector<double>(out);
  EXPECT_NEAR(v[0], 0, 1e-7);
  EXPECT_NEAR(v[2], s, 1e-7);
  EXPECT_NEAR(v[3], s, 1e-7);
  EXPECT_NEAR(v[4], std::sin(1.0) * s, 1e-6);
  EXPECT_NEAR(v[6], std::cos(1.0) * s, 1e-6);
  nn::SinusoidalPositionalEncoding custom(6, 0.01, 2.0, 0.5, true, true);
  array x = array({0.5f, 3.0f, 7.0f});
  expect_close(custom(x), nn::sinusoidal_positional_encoding(x, nn::sinusoidal_frequencies(6, 0.01, 2.0, true), 0.5,
                                                             true));
}

TEST(NnLayerClasses, ALiBiAddsLinearBiases) {
  nn::ALiBi alibi;
  array scores = zeros({1, 2, 2, 2});
  // Slopes 2^-4 and 2^-8 for two heads; bias -|i - j| * slope.
  expect_values(alibi(scores), {0, -1.0 / 16, -1.0 / 16, 0, 0, -1.0 / 256, -1.0 / 256, 0});
  expect_values(nn::ALiBi::create_alibi_slope(2), {1.0 / 16, 1.0 / 256});
  array mask = full({1, 1, 2, 2}, 1.0f);
  expect_close(alibi(scores, 0, mask), nn::alibi(scores, 0, mask));
  expect_close(nn::ALiBi::create_alibi_matrix(3, 3, 2, 1), nn::alibi_matrix(3, 3, 2, 1));
}

// ---------------------------------------------------------------- attention

TEST(NnLayerClasses, MultiHeadAttentionParametersAndDefaults) {
  nn::MultiHeadAttention mha(8, 2);
  EXPECT_EQ(shapes_of(mha.parameters()), kAttentionShapes8);
  nn::MultiHeadAttention wide(8, 2, 3, 5, std::nullopt, 6, 7, true);
  Shapes want = {{"query_proj.weight", {8, 3}}, {"query_proj.bias", {8}},  {"key_proj.weight", {8, 5}},
                 {"key_proj.bias", {8}},        {"value_proj.weight", {6, 5}}, {"value_proj.bias", {6}},
                 {"out_proj.weight", {7, 6}},   {"out_proj.bias", {7}}};
  EXPECT_EQ(shapes_of(wide.parameters()), want);
  auto msg = error_of<std::invalid_argument>([] { nn::MultiHeadAttention(6, 4); });
  EXPECT_TRUE(contains(msg, "[MultiHeadAttention] dims (6) must be divisible by num_heads (4)")) << msg;
}

TEST(NnLayerClasses, MultiHeadAttentionByHandAndAgainstFunctional) {
  // One head, identity projections: the output is the softmax-weighted mean of the values.
  nn::MultiHeadAttention mha(2, 1);
  array eye2 = eye(2);
  mha.update({{"query_proj.weight", eye2}, {"key_proj.weight", eye2}, {"value_proj.weight", eye2},
              {"out_proj.weight", eye2}});
  array q = array({1.0f, 1.0f}, {1, 1, 2});
  array kv = array({3.0f, 4.0f}, {1, 1, 2});
  expect_values(mha(q, kv, kv), {3, 4}, 1e-6);
  // Two keys with equal scores (q orthogonal to both): the plain mean.
  array keys = array({1.0f, -1.0f, -1.0f, 1.0f}, {1, 2, 2});
  array values = array({2.0f, 0.0f, 4.0f, 6.0f}, {1, 2, 2});
  expect_values(mha(q, keys, values), {3, 3}, 1e-6);

  nn::MultiHeadAttention biased(8, 2, std::nullopt, 6, std::nullopt, std::nullopt, std::nullopt, true);
  array x = data({2, 3, 8}, 2), m = data({2, 4, 6}, 3);
  auto w = attention_weights(biased.parameters(), "");
  expect_close(biased(x, m, m), nn::multi_head_attention(x, m, m, 2, w));
  array mask = nn::MultiHeadAttention::create_additive_causal_mask(3);
  array k3 = data({2, 3, 6}, 4), v3 = data({2, 3, 6}, 25);
  expect_close(biased(x, k3, v3, mask), nn::multi_head_attention(x, k3, v3, 2, w, "", mask));
  expect_close(mha(data({1, 3, 2}, 5), data({1, 3, 2}, 5), data({1, 3, 2}, 6), "causal"),
               mha(data({1, 3, 2}, 5), data({1, 3, 2}, 5), data({1, 3, 2}, 6),
                   nn::MultiHeadAttention::create_additive_causal_mask(3)));
}

TEST(NnLayerClasses, AdditiveCausalMask) {
  float low = std::numeric_limits<float>::lowest();
  expect_values(nn::MultiHeadAttention::create_additive_causal_mask(3), {0, low, low, 0, 0, low, 0, 0, 0});
  EXPECT_EQ(nn::MultiHeadAttention::create_additive_causal_mask(2, float16).dtype(), float16);
}

// ---------------------------------------------------------------- transformers

TEST(NnLayerClasses, TransformerEncoderLayerMatchesFunctionalForm) {
  for (bool norm_first : {true, false}) {
    nn::TransformerEncoderLayer layer(8, 2, 16, 0.0, nullptr, norm_first);
    EXPECT_EQ(shapes_of(layer.parameters()), encoder_layer_shapes(""));
    array x = data({2, 4, 8}, 7);
    array mask = nn::MultiHeadAttention::create_additive_causal_mask(4);
    expect_close(layer(x, mask), encoder_layer_reference(layer.parameters(), "", x, mask, norm_first), 1e-5);
  }
  // mlp_dims defaults to 4 * dims; the activation is used in the MLP.
  nn::TransformerEncoderLayer gelu_layer(8, 2, std::nullopt, 0.0, [](const array& x) { return nn::gelu(x); });
  EXPECT_EQ(gelu_layer.parameters().at("linear1.weight").shape(), (Shape{32, 8}));
  nn::TransformerEncoderLayer relu_layer(8, 2);
  relu_layer.update(gelu_layer.parameters());
  array x = data({1, 3, 8}, 8);
  EXPECT_GT(max(abs(gelu_layer(x, std::nullopt) - relu_layer(x, std::nullopt))).item<float>(), 1e-4);
}

TEST(NnLayerClasses, TransformerDecoderLayerMatchesFunctionalForm) {
  for (bool norm_first : {true, false}) {
    nn::TransformerDecoderLayer layer(8, 2, 16, 0.0, nullptr, norm_first);
    Shapes want = merged({prefixed("self_attention.", kAttentionShapes8),
                          prefixed("cross_attention.", kAttentionShapes8),
                          {{"ln1.weight", {8}}, {"ln1.bias", {8}}, {"ln2.weight", {8}}, {"ln2.bias", {8}},
                           {"ln3.weight", {8}}, {"ln3.bias", {8}}, {"linear1.weight", {16, 8}},
                           {"linear1.bias", {16}}, {"linear2.weight", {8, 16}}, {"linear2.bias", {8}}}});
    EXPECT_EQ(shapes_of(layer.parameters()), want);
    array x = data({2, 3, 8}, 9), memory = data({2, 5, 8}, 10);
    array mask = nn::MultiHeadAttention::create_additive_causal_mask(3);
    expect_close(layer(x, memory, mask, std::nullopt),
                 decoder_layer_reference(layer.parameters(), "", x, memory, mask, norm_first), 1e-5);
  }
}

TEST(NnLayerClasses, TransformerEncoderStacksLayersAndANorm) {
  nn::TransformerEncoder encoder(2, 8, 2, 16);
  Shapes want = merged({encoder_layer_shapes("layers.0."), encoder_layer_shapes("layers.1."),
                        {{"ln.weight", {8}}, {"ln.bias", {8}}}});
  EXPECT_EQ(shapes_of(encoder.parameters()), want);
  auto p = encoder.parameters();
  array x = data({2, 4, 8}, 11);
  array mask = nn::MultiHeadAttention::create_additive_causal_mask(4);
  array h = encoder_layer_reference(p, "layers.0.", x, mask, true);
  h = encoder_layer_reference(p, "layers.1.", h, mask, true);
  expect_close(encoder(x, mask), layer_norm_at(p, "ln", h), 1e-5);
  // "causal" is the same mask.
  expect_close(encoder(x, "causal"), encoder(x, mask), 1e-5);
}

TEST(NnLayerClasses, CheckpointedStacksGiveTheSameValuesAndGradients) {
  nn::TransformerEncoder plain(2, 8, 2, 16);
  nn::TransformerEncoder recomputed(2, 8, 2, 16, 0.0, nullptr, true, true);
  recomputed.update(plain.parameters());
  array x = data({2, 4, 8}, 12);
  array mask = nn::MultiHeadAttention::create_additive_causal_mask(4);
  auto grads_of = [&](nn::TransformerEncoder& model) {
    auto step = nn::value_and_grad(model, [&](const std::vector<array>& in) { return sum(model(in[0], mask)); });
    return step({x});
  };
  auto [value, grads] = grads_of(plain);
  auto [value_ckpt, grads_ckpt] = grads_of(recomputed);
  expect_close(value_ckpt, value, 1e-4);
  ASSERT_EQ(keys(grads), keys(grads_ckpt));
  for (auto& [name, g] : grads) expect_close(grads_ckpt.at(name), g, 1e-4);

  nn::TransformerDecoder decoder(1, 8, 2, 16);
  nn::TransformerDecoder decoder_ckpt(1, 8, 2, 16, 0.0, nullptr, true, true);
  decoder_ckpt.update(decoder.parameters());
  array memory = data({2, 5, 8}, 13);
  // Gradients reach the memory through the checkpointed layers.
  auto memory_grad = [&](nn::TransformerDecoder& model) {
    return grad([&](const std::vector<array>& in) { return sum(model(in[0], in[1], mask, std::nullopt)); },
                std::vector<int>{1})({x, memory})[0];
  };
  expect_close(memory_grad(decoder_ckpt), memory_grad(decoder), 1e-4);
}

TEST(NnLayerClasses, TransformerIsAnEncoderFeedingADecoder) {
  nn::Transformer model(8, 2, 1, 2, 16);
  auto names = keys(model.parameters());
  // Encoder: one layer of 12 and the final norm's 2; decoder: two layers of 18 and 2.
  EXPECT_EQ(names.size(), (12u + 2) + (2 * 18u + 2));
  EXPECT_TRUE(model.parameters().count("decoder.layers.1.cross_attention.out_proj.weight"));
  EXPECT_TRUE(model.parameters().count("encoder.ln.bias"));
  array src = data({2, 5, 8}, 14), tgt = data({2, 3, 8}, 15);
  array tgt_mask = nn::MultiHeadAttention::create_additive_causal_mask(3);
  array memory = model.child_as<nn::TransformerEncoder>("encoder")(src, std::nullopt);
  expect_close(model(src, tgt, std::nullopt, tgt_mask, std::nullopt),
               model.child_as<nn::TransformerDecoder>("decoder")(tgt, memory, tgt_mask, std::nullopt));
  // A custom encoder takes the default one's place.
  auto custom = std::make_shared<nn::TransformerEncoder>(3, 8, 2, 16);
  nn::Transformer with_custom(8, 2, 1, 1, 16, 0.0, nullptr, custom);
  EXPECT_TRUE(with_custom.parameters().count("encoder.layers.2.ln1.weight"));
  EXPECT_EQ(&with_custom.child("encoder"), custom.get());
}

TEST(NnLayerClasses, TransformerDropoutActsInTrainingOnly) {
  nn::TransformerEncoder encoder(1, 8, 2, 16, 0.5);
  array x = data({2, 4, 8}, 16);
  array a = encoder(x, std::nullopt), b = encoder(x, std::nullopt);
  EXPECT_GT(max(abs(a - b)).item<float>(), 1e-4);  // two dropout draws
  encoder.eval();
  nn::TransformerEncoder no_dropout(1, 8, 2, 16);
  no_dropout.update(encoder.parameters());
  expect_close(encoder(x, std::nullopt), no_dropout(x, std::nullopt));
}

// ---------------------------------------------------------------- recurrent layers

TEST(NnLayerClasses, RecurrentParameterNamesAndShapes) {
  EXPECT_EQ(shapes_of(nn::RNN(3, 4).parameters()), (Shapes{{"Wxh", {4, 3}}, {"Whh", {4, 4}}, {"bias", {4}}}));
  EXPECT_EQ(shapes_of(nn::RNN(3, 4, false).parameters()), (Shapes{{"Wxh", {4, 3}}, {"Whh", {4, 4}}}));
  EXPECT_EQ(shapes_of(nn::GRU(3, 4).parameters()),
            (Shapes{{"Wx", {12, 3}}, {"Wh", {12, 4}}, {"b", {12}}, {"bhn", {4}}}));
  EXPECT_EQ(shapes_of(nn::GRU(3, 4, false).parameters()), (Shapes{{"Wx", {12, 3}}, {"Wh", {12, 4}}}));
  EXPECT_EQ(shapes_of(nn::LSTM(3, 4).parameters()), (Shapes{{"Wx", {16, 3}}, {"Wh", {16, 4}}, {"bias", {16}}}));
  // Uniform in +-1/sqrt(hidden_size) = +-0.5.
  random::seed(3);
  nn::LSTM big(30, 4);
  for (auto& [name, p] : big.parameters()) {
    EXPECT_LE(max(abs(p)).item<float>(), 0.5f) << name;
    EXPECT_GT(max(abs(p)).item<float>(), 0.4f) << name;
  }
}

TEST(NnLayerClasses, RecurrentLayersMatchFunctionalAndHand) {
  nn::RNN rnn(1, 1);
  rnn.update({{"Wxh", array({1.0f}, {1, 1})}, {"Whh", array({0.5f}, {1, 1})}, {"bias", array({0.0f})}});
  // h1 = tanh(1), h2 = tanh(0 + 0.5 h1).
  expect_values(rnn(array({1.0f, 0.0f}, {2, 1})), {std::tanh(1.0), std::tanh(0.5 * std::tanh(1.0))}, 1e-6);
  nn::RNN relu_rnn(1, 1, true, [](const array& x) { return nn::relu(x); });
  relu_rnn.update(rnn.parameters());
  expect_values(relu_rnn(array({-1.0f, 2.0f}, {2, 1})), {0, 2}, 1e-6);

  array x = data({2, 5, 3}, 17), h0 = data({2, 4}, 18), c0 = data({2, 4}, 19);
  nn::RNN r(3, 4);
  auto p = r.parameters();
  expect_close(r(x, h0), nn::rnn(x, p.at("Wxh"), p.at("Whh"), p.at("bias"), h0));
  nn::GRU g(3, 4);
  p = g.parameters();
  expect_close(g(x), nn::gru(x, p.at("Wx"), p.at("Wh"), p.at("b"), p.at("bhn")));
  expect_close(g(x, h0), nn::gru(x, p.at("Wx"), p.at("Wh"), p.at("b"), p.at("bhn"), h0));
  nn::LSTM l(3, 4);
  p = l.parameters();
  auto [hidden, cell] = l(x, h0, c0);
  auto [want_hidden, want_cell] = nn::lstm(x, p.at("Wx"), p.at("Wh"), p.at("bias"), h0, c0);
  expect_close(hidden, want_hidden);
  expect_close(cell, want_cell);
  EXPECT_EQ(l(data({5, 3})).first.shape(), (Shape{5, 4}));
}

// ---------------------------------------------------------------- upsampling

TEST(NnLayerClasses, UpsampleByHandAndAgainstFunctional) {
  array x = array({1.0f, 2.0f}, {1, 2, 1});
  expect_values(nn::Upsample(2.0)(x), {1, 1, 2, 2});
  expect_values(nn::Upsample(2.0, "linear", true)(array({0.0f, 1.0f}, {1, 2, 1})), {0, 1.0 / 3, 2.0 / 3, 1}, 1e-6);
  array image = data({1, 3, 4, 2}, 20);
  expect_close(nn::Upsample({2.0, 1.5}, "linear")(image), nn::upsample_linear(image, {2.0, 1.5}, false));
  expect_close(nn::Upsample(2.0, "cubic", true)(image), nn::upsample_cubic(image, {2.0, 2.0}, true));
  expect_close(nn::Upsample({3.0, 2.0})(image), nn::upsample_nearest(image, {3.0, 2.0}));
  EXPECT_TRUE(nn::Upsample(2.0).parameters().empty());
}

TEST(NnLayerClasses, UpsampleErrors) {
  auto msg = error_of<std::invalid_argument>([] { nn::Upsample(2.0, "bilinear"); });
  EXPECT_TRUE(contains(msg, "unsupported upsampling algorithm: 'bilinear'")) << msg;
  msg = error_of<std::invalid_argument>([] { nn::Upsample({2.0, 0.0}); });
  EXPECT_TRUE(contains(msg, "positive and finite")) << msg;
  msg = error_of<std::invalid_argument>([] { auto layer = nn::Upsample(INFINITY); });
  EXPECT_TRUE(contains(msg, "positive and finite")) << msg;
  msg = error_of<std::invalid_argument>([] { nn::Upsample(2.0)(zeros({2, 3})); });
  EXPECT_TRUE(contains(msg, "at least 1 spatial dimension") && contains(msg, "(2, 3)")) << msg;
  msg = error_of<std::invalid_argument>([] { nn::Upsample({2.0, 2.0})(zeros({1, 4, 3})); });
  EXPECT_TRUE(contains(msg, "One scale per spatial dimension") && contains(msg, "1 spatial dimensions")) << msg;
}

// ---------------------------------------------------------------- quantized layers

TEST(NnLayerClasses, QuantizedLinearParametersAndValues) {
  nn::QuantizedLinear q(64, 8);
  EXPECT_EQ(shapes_of(q.parameters()),
            (Shapes{{"weight", {8, 8}}, {"scales", {8, 1}}, {"biases", {8, 1}}, {"bias", {8}}}));
  EXPECT_TRUE(q.trainable_parameters().empty());
  expect_values(q.parameters().at("bias"), std::vector<double>(8, 0.0));
  nn::Linear linear(64, 8);
  auto from = nn::QuantizedLinear::from_linear(linear, 32, 8);
  EXPECT_EQ(keys(from->trainable_parameters()), (std::vector<std::string>{"bias"}));
  EXPECT_EQ(from->group_size(), 32);
  EXPECT_EQ(from->bits(), 8);
  array x = data({3, 64}, 21);
  auto p = from->parameters();
  expect_close((*from)(x), nn::quantized_linear(x, p.at("weight"), p.at("scales"), p.at("biases"), p.at("bias"), 32, 8));
  expect_close((*from)(x), linear(x), 2e-2);
  // A floating-point mode has no biases.
  auto fp = nn::QuantizedLinear::from_linear(nn::Linear(64, 8, false), 32, 4, "mxfp4");
  EXPECT_EQ(keys(fp->parameters()), (std::vector<std::string>{"scales", "weight"}));
}

TEST(NnLayerClasses, QuantizedEmbeddingParametersAndValues) {
  nn::QuantizedEmbedding q(10, 64);
  EXPECT_EQ(shapes_of(q.parameters()), (Shapes{{"weight", {10, 8}}, {"scales", {10, 1}}, {"biases", {10, 1}}}));
  EXPECT_EQ(q.num_embeddings(), 10);
  EXPECT_EQ(q.dims(), 64);
  nn::Embedding embedding(10, 64);
  auto from = nn::QuantizedEmbedding::from_embedding(embedding, 64, 8);
  EXPECT_TRUE(from->trainable_parameters().empty());
  array ids = array({3, 0, 9}, {3}, int32);
  expect_close((*from)(ids), embedding(ids), 2e-2);
  auto p = from->parameters();
  expect_close((*from)(ids), nn::quantized_embedding(ids, p.at("weight"), p.at("scales"), p.at("biases"), 64, 8));
  array x = data({2, 64}, 22);
  expect_close(from->as_linear(x), embedding.as_linear(x), 0.1);
}

TEST(NnLayerClasses, QuantizeReplacesLinearAndEmbeddingLeaves) {
  random::seed(4);
  auto make = [] {
    return nn::Sequential(nn::Embedding(16, 64), nn::Linear(64, 64), nn::ReLU(), nn::Linear(64, 8));
  };
  nn::Sequential model = make();
  nn::Sequential reference = make();
  reference.update(model.parameters());
  nn::quantize(model, 64, 8);
  EXPECT_EQ(model[0].type_name(), "QuantizedEmbedding");
  EXPECT_EQ(model[1].type_name(), "QuantizedLinear");
  EXPECT_EQ(model[2].type_name(), "ReLU");
  EXPECT_EQ(model[3].type_name(), "QuantizedLinear");
  EXPECT_EQ(keys(model.trainable_parameters()), (std::vector<std::string>{"layers.1.bias", "layers.3.bias"}));
  array ids = array({1, 5, 15}, {3}, int32);
  expect_close(model(ids), reference(ids), 2e-2);

  // A predicate picks the layers; a selected layer that cannot be quantized is an error.
  nn::Sequential partial = make();
  nn::quantize(partial, 64, 4, "affine", [](const std::string& path, const nn::Module&) { return path == "layers.3"; });
  EXPECT_EQ(partial[1].type_name(), "Linear");
  EXPECT_EQ(partial[3].type_name(), "QuantizedLinear");
  EXPECT_EQ(partial.child_as<nn::QuantizedLinear>("layers.3").bits(), 4);
  auto msg = error_of<std::invalid_argument>([&] {
    nn::quantize(partial, 64, 4, "affine", [](const std::string& path, const nn::Module&) { return path == "layers.2"; });
  });
  EXPECT_TRUE(contains(msg, "[quantize] Unable to quantize module 'layers.2' of type ReLU")) << msg;
  // A bad group size is lazuli::quantize's error.
  EXPECT_THROW(nn::quantize(partial, 7, 4), std::invalid_argument);
}

// ---------------------------------------------------------------- weights files

TEST(NnLayerClasses, WeightsFilesRoundTrip) {
  nn::TransformerEncoder encoder(1, 8, 2, 16);
  nn::LSTM lstm(3, 5);
  std::string encoder_file = temp_path("encoder.safetensors"), lstm_file = temp_path("lstm.npz");
  encoder.save_weights(encoder_file);
  lstm.save_weights(lstm_file);
  nn::TransformerEncoder encoder2(1, 8, 2, 16);
  nn::LSTM lstm2(3, 5);
  encoder2.load_weights(encoder_file);
  lstm2.load_weights(lstm_file);
  array x = data({2, 4, 8}, 23), seq = data({2, 6, 3}, 24);
  expect_close(encoder2(x, "causal"), encoder(x, "causal"), 0);
  expect_close(lstm2(seq).first, lstm(seq).first, 0);
  // A model of another shape refuses them.
  nn::LSTM other(3, 6);
  auto msg = error_of<std::invalid_argument>([&] { other.load_weights(lstm_file); });
  EXPECT_TRUE(contains(msg, "expected shape (24, 6) but received shape (20, 5) for parameter Wh")) << msg;
  fs::remove(encoder_file);
  fs::remove(lstm_file);
}

// ---------------------------------------------------------------- gradients and dtypes

namespace {

// Expects the model's gradient of loss() at `name` to match central differences at a few
// entries (the parameters in float64).
void expect_finite_difference_grad(nn::Module& model, const std::function<array()>& loss, const std::string& name) {
  model.set_dtype(float64);
  auto step = nn::value_and_grad(model, [&](const std::vector<array>&) { return loss(); });
  array g = step({}).second.at(name);
  std::vector<double> values = to_vector<double>(model.parameters().at(name));
  auto grads = to_vector<double>(g);
  const double h = 1e-6;
  for (size_t i : {size_t(0), values.size() / 2, values.size() - 1}) {
    auto at = [&](double delta) {
      std::vector<double> v = values;
      v[i] += delta;
      model.update({{name, array(v.begin(), model.parameters().at(name).shape(), float64)}});
      return loss().item<double>();
    };
    double numeric = (at(h) - at(-h)) / (2 * h);
    model.update({{name, array(values.begin(), model.parameters().at(name).shape(), float64)}});
    EXPECT_NEAR(grads[i], numeric, 1e-5 * std::max(1.0, std::abs(numeric))) << name << "[" << i << "]";
  }
}

}  // namespace

TEST(NnLayerClasses, GradientsMatchFiniteDifferences) {
  nn::TransformerEncoderLayer layer(8, 2, 16);
  array x = astype(data({2, 3, 8}, 30), float64);
  array mask = nn::MultiHeadAttention::create_additive_causal_mask(3, float64);
  auto encoder_loss = [&] { return sum(square(layer(x, mask))); };
  for (auto name : {"attention.query_proj.weight", "linear1.bias", "ln2.weight"})
    expect_finite_difference_grad(layer, encoder_loss, name);
  nn::LSTM lstm(3, 4);
  array seq = astype(data({2, 5, 3}, 31), float64);
  auto lstm_loss = [&] {
    auto [hidden, cell] = lstm(seq);
    return sum(hidden * cell);
  };
  for (auto name : {"Wx", "Wh", "bias"}) expect_finite_difference_grad(lstm, lstm_loss, name);
}

TEST(NnLayerClasses, LowerPrecisionAndEmptyBatches) {
  nn::TransformerEncoder encoder(1, 8, 2, 16);
  array x = data({2, 4, 8}, 32);
  array want = encoder(x, "causal");
  encoder.set_dtype(bfloat16);
  array got = encoder(astype(x, bfloat16), "causal");
  EXPECT_EQ(got.dtype(), bfloat16);
  expect_close(astype(got, float32), want, 0.1);
  nn::LSTM lstm(3, 4);
  EXPECT_EQ(lstm(zeros({0, 5, 3})).first.shape(), (Shape{0, 5, 4}));
  nn::GRU gru(3, 4);
  EXPECT_EQ(gru(zeros({2, 0, 3})).shape(), (Shape{2, 0, 4}));
  EXPECT_EQ(encoder(zeros({0, 4, 8}, bfloat16), "causal").shape(), (Shape{0, 4, 8}));
}

TEST(NnLayerClasses, BadInputsNameTheOp) {
  // The layers pass bad inputs on to the functional forms, whose errors name them.
  nn::MultiHeadAttention mha(8, 2);
  array x = data({1, 3, 8});
  auto expect_error = [](const std::function<void()>& f, const std::string& part) {
    auto msg = error_of<std::invalid_argument>(f);
    EXPECT_TRUE(contains(msg, part)) << msg;
  };
  expect_error([&] { mha(x, x, x, "bogus"); }, "invalid mask mode 'bogus'");
  expect_error([&] { mha(x, data({1, 3, 6}), data({1, 3, 6})); }, "[matmul] Last axis of a (1, 3, 6)");
  expect_error([&] { nn::TransformerEncoder(1, 8, 2)(data({1, 3, 6}), std::nullopt); },
               "[layer_norm] weight must have the size of the last axis of x (6)");
  expect_error([&] { nn::LSTM(3, 4)(data({2, 5, 2})); }, "[lstm] input weight must have shape (4 * H, 2)");
  expect_error([&] { nn::GRU(3, 4)(data({2, 5, 3}), data({2, 3})); }, "[gru] initial hidden state of shape (2, 3)");
  expect_error([&] { nn::RNN(3, 4)(data({3})); }, "[rnn] input must have shape (..., L, D), got shape (3,)");
  expect_error([&] { nn::QuantizedLinear(48, 8); }, "[quantize] The last dimension of the matrix (48)");
  expect_error([&] { nn::QuantizedLinear(64, 8)(data({2, 32})); }, "[quantized_matmul] Last dimension of x");
  expect_error([&] { nn::QuantizedEmbedding(10, 64)(data({2})); }, "[quantized_embedding] indices must be integers");
  expect_error([&] { nn::RoPE(3)(data({1, 2, 4})); }, "[rope] dims must be even");
  expect_error([&] { nn::TransformerEncoderLayer(8, 2, 16, 1.5); }, "[Dropout] The dropout probability 1.5");
  expect_error([&] { nn::ALiBi()(data({2, 3}), 0); }, "[alibi] attention scores must have shape");
}
