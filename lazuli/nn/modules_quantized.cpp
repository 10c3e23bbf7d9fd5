// Quantized layer classes and nn::quantize; the math is lazuli/nn/functional.h's
// (quantized.cpp) and the packing lazuli::quantize's.
#include <cmath>
#include <stdexcept>
#include <tuple>

#include "lazuli/nn/layers_more.h"
#include "lazuli/quantized.h"

namespace lazuli::nn {

QuantizedModule::QuantizedModule(const std::string& name, int group_size, int bits, std::string mode)
    : Module(name), group_size_(group_size), bits_(bits), mode_(std::move(mode)) {}

void QuantizedModule::set_weight(const array& weight) {
  std::vector<array> packed = lazuli::quantize(weight, group_size_, bits_, mode_);
  set_param("weight", packed[0]);
  set_param("scales", packed[1]);
  if (packed.size() > 2) set_param("biases", packed[2]);
}

std::optional<array> QuantizedModule::biases() const {
  return has_param("biases") ? std::optional<array>(param("biases")) : std::nullopt;
}

// ---- QuantizedEmbedding ----

QuantizedEmbedding::QuantizedEmbedding(const array& weight, int group_size, int bits, const std::string& mode)
    : QuantizedModule("QuantizedEmbedding", group_size, bits, mode) {
  if (weight.ndim() != 2)
    throw std::invalid_argument("[QuantizedEmbedding] the embedding table must be 2-d, got " +
                                std::to_string(weight.ndim()) + " dimensions.");
  num_embeddings_ = weight.shape(0);
  dims_ = weight.shape(1);
  set_weight(weight);
  freeze();
}

QuantizedEmbedding::QuantizedEmbedding(int num_embeddings, int dims, int group_size, int bits,
                                       const std::string& mode)
    : QuantizedEmbedding(random::normal({num_embeddings, dims}, float32, 0.0, std::sqrt(1.0 / dims)), group_size,
                         bits, mode) {}

array QuantizedEmbedding::operator()(const array& indices) {
  return quantized_embedding(indices, param("weight"), param("scales"), biases(), group_size(), bits(), mode());
}

array QuantizedEmbedding::as_linear(const array& x) const {
  return quantized_linear(x, param("weight"), param("scales"), biases(), std::nullopt, group_size(), bits(), mode());
}

std::shared_ptr<QuantizedEmbedding> QuantizedEmbedding::from_embedding(const Embedding& embedding, int group_size,
                                                                       int bits, const std::string& mode) {
  return std::shared_ptr<QuantizedEmbedding>(new QuantizedEmbedding(embedding.param("weight"), group_size, bits, mode));
}

// ---- QuantizedLinear ----

QuantizedLinear::QuantizedLinear(const array& weight, int group_size, int bits, const std::string& mode)
    : QuantizedModule("QuantizedLinear", group_size, bits, mode) {
  set_weight(weight);
  freeze();
}

QuantizedLinear::QuantizedLinear(int input_dims, int output_dims, bool bias, int group_size, int bits,
                                 const std::string& mode)
    : QuantizedModule("QuantizedLinear", group_size, bits, mode) {
  float scale = static_cast<float>(std::sqrt(1.0 / input_dims));
  set_weight(random::uniform(array(-scale), array(scale), {output_dims, input_dims}));
  if (bias) set_param("bias", zeros({output_dims}));
  freeze();
}

array QuantizedLinear::operator()(const array& x) {
  std::optional<array> bias = has_param("bias") ? std::optional<array>(param("bias")) : std::nullopt;
  return quantized_linear(x, param("weight"), param("scales"), biases(), bias, group_size(), bits(), mode());
}

std::shared_ptr<QuantizedLinear> QuantizedLinear::from_linear(const Linear& linear, int group_size, int bits,
                                                              const std::string& mode) {
  std::shared_ptr<QuantizedLinear> layer(new QuantizedLinear(linear.param("weight"), group_size, bits, mode));
  // Set after freezing, so that it stays trainable.
  if (linear.has_param("bias")) layer->set_param("bias", linear.param("bias"));
  return layer;
}

// ---- QQLinear ----

QQLinear::QQLinear(const array& weight, std::optional<int> group_size, std::optional<int> bits,
                   const std::string& mode)
    : Module("QQLinear"), mode_(mode) {
  std::tie(group_size_, bits_) = qq_config(mode, group_size, bits, "QQLinear");
  set_param("weight", weight);
}

QQLinear::QQLinear(int input_dims, int output_dims, std::optional<int> group_size, std::optional<int> bits,
                   const std::string& mode)
    : QQLinear(random::uniform(array(-static_cast<float>(std::sqrt(1.0 / input_dims))),
                               array(static_cast<float>(std::sqrt(1.0 / input_dims))), {output_dims, input_dims}),
               group_size, bits, mode) {}

array QQLinear::operator()(const array& x) {
  auto optional = [&](const char* name) { return has_param(name) ? std::optional<array>(param(name)) : std::nullopt; };
  return qq_linear(x, param("weight"), optional("scales"), optional("bias"), group_size_, bits_, mode_);
}

void QQLinear::quantize() {
  if (quantized()) return;
  std::vector<array> packed = lazuli::quantize(param("weight"), group_size_, bits_, mode_);
  set_param("weight", packed[0]);
  set_param("scales", packed[1]);
}

void QQLinear::dequantize() {
  if (!quantized()) return;
  set_param("weight", lazuli::dequantize(param("weight"), param("scales"), std::nullopt, group_size_, bits_, mode_));
  remove_param("scales");
}

void QQLinear::on_training_mode(bool training) { training ? dequantize() : quantize(); }

std::shared_ptr<QQLinear> QQLinear::from_linear(const Linear& linear, std::optional<int> group_size,
                                                std::optional<int> bits, const std::string& mode) {
  std::shared_ptr<QQLinear> layer(new QQLinear(linear.param("weight"), group_size, bits, mode));
  if (linear.has_param("bias")) layer->set_param("bias", linear.param("bias"));
  layer->train(linear.training());
  return layer;
}

// ---- quantize ----

void quantize(Module& model, int group_size, int bits, const std::string& mode, const QuantizePredicate& predicate,
              bool quantize_input) {
  std::map<std::string, ModulePtr> replacements;
  for (auto& [path, m] : model.leaf_modules()) {
    auto* linear = dynamic_cast<const Linear*>(m);
    auto* embedding = dynamic_cast<const Embedding*>(m);
    if (!(predicate ? predicate(path, *m) : linear || embedding)) continue;
    if (linear && quantize_input)
      replacements.emplace(path, QQLinear::from_linear(*linear, group_size, bits, mode));
    else if (linear)
      replacements.emplace(path, QuantizedLinear::from_linear(*linear, group_size, bits, mode));
    else if (embedding && quantize_input)
      throw std::invalid_argument("[quantize] quantize_input is only supported for Linear layers, not the " +
                                  m->type_name() + " at '" + path + "'.");
    else if (embedding)
      replacements.emplace(path, QuantizedEmbedding::from_embedding(*embedding, group_size, bits, mode));
    else
      throw std::invalid_argument("[quantize] Unable to quantize module '" + path + "' of type " + m->type_name() +
                                  ".");
  }
  model.update_modules(replacements);
}

}  // namespace lazuli::nn
