// Recurrent layer and Upsample classes: parameters and settings; the math is
// lazuli/nn/functional.h's (recurrent.cpp, upsample.cpp).
#include <cmath>
#include <stdexcept>

#include "lazuli/nn/layers_more.h"

namespace lazuli::nn {

namespace {

// A recurrent weight uniform in +-1/sqrt(hidden_size), as the Python classes draw them.
array recurrent_init(int hidden_size, const Shape& shape) {
  float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hidden_size)));
  return random::uniform(array(-scale), array(scale), shape);
}

std::optional<array> optional_param(const Module& m, const std::string& name) {
  return m.has_param(name) ? std::optional<array>(m.param(name)) : std::nullopt;
}

std::string shape_text(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

// ---- recurrent layers ----

RNN::RNN(int input_size, int hidden_size, bool bias, Nonlinearity nonlinearity)
    : Module("RNN"), nonlinearity_(std::move(nonlinearity)) {
  set_param("Wxh", recurrent_init(hidden_size, {hidden_size, input_size}));
  set_param("Whh", recurrent_init(hidden_size, {hidden_size, hidden_size}));
  if (bias) set_param("bias", recurrent_init(hidden_size, {hidden_size}));
}

array RNN::operator()(const array& x, const std::optional<array>& hidden) {
  return rnn(x, param("Wxh"), param("Whh"), optional_param(*this, "bias"), hidden, nonlinearity_);
}

GRU::GRU(int input_size, int hidden_size, bool bias) : Module("GRU") {
  set_param("Wx", recurrent_init(hidden_size, {3 * hidden_size, input_size}));
  set_param("Wh", recurrent_init(hidden_size, {3 * hidden_size, hidden_size}));
  if (bias) {
    set_param("b", recurrent_init(hidden_size, {3 * hidden_size}));
    set_param("bhn", recurrent_init(hidden_size, {hidden_size}));
  }
}

array GRU::operator()(const array& x, const std::optional<array>& hidden) {
  return gru(x, param("Wx"), param("Wh"), optional_param(*this, "b"), optional_param(*this, "bhn"), hidden);
}

LSTM::LSTM(int input_size, int hidden_size, bool bias) : Module("LSTM") {
  set_param("Wx", recurrent_init(hidden_size, {4 * hidden_size, input_size}));
  set_param("Wh", recurrent_init(hidden_size, {4 * hidden_size, hidden_size}));
  if (bias) set_param("bias", recurrent_init(hidden_size, {4 * hidden_size}));
}

std::pair<array, array> LSTM::operator()(const array& x, const std::optional<array>& hidden,
                                         const std::optional<array>& cell) {
  return lstm(x, param("Wx"), param("Wh"), optional_param(*this, "bias"), hidden, cell);
}

// ---- upsampling ----

Upsample::Upsample(double scale_factor, const std::string& mode, bool align_corners)
    : Upsample(std::vector<double>{scale_factor}, mode, align_corners) {
  per_axis_ = false;
}

Upsample::Upsample(std::vector<double> scale_factor, const std::string& mode, bool align_corners)
    : Module("Upsample"), scale_factor_(std::move(scale_factor)), per_axis_(true), mode_(mode),
      align_corners_(align_corners) {
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    throw std::invalid_argument("[Upsample] Got unsupported upsampling algorithm: '" + mode +
                                "'; use one of ('nearest', 'linear', 'cubic').");
  for (double f : scale_factor_)
    if (!(f > 0 && f < INFINITY))
      throw std::invalid_argument("[Upsample] scale factors must be positive and finite, got " +
                                  std::to_string(f) + ".");
}

array Upsample::operator()(const array& x) {
  int spatial = static_cast<int>(x.ndim()) - 2;
  if (spatial <= 0)
    throw std::invalid_argument(
        "[Upsample] The input should have at least 1 spatial dimension, so at least 3 axes (N, *spatial, C), "
        "but its shape is " + shape_text(x.shape()) + ".");
  std::vector<double> factors = scale_factor_;
  if (!per_axis_)
    factors.assign(spatial, scale_factor_[0]);
  else if (static_cast<int>(factors.size()) != spatial)
    throw std::invalid_argument("[Upsample] One scale per spatial dimension is required but " +
                                std::to_string(factors.size()) + " scale factors were given and the input of shape " +
                                shape_text(x.shape()) + " has " + std::to_string(spatial) + " spatial dimensions.");
  if (mode_ == "nearest") return upsample_nearest(x, factors);
  if (mode_ == "linear") return upsample_linear(x, factors, align_corners_);
  return upsample_cubic(x, factors, align_corners_);
}

}  // namespace lazuli::nn
