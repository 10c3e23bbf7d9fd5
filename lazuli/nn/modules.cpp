// The layer classes' parameters and settings; their math is lazuli/nn/functional.h's.
#include "lazuli/nn/modules.h"

#include <cmath>
#include <stdexcept>

#include "lazuli/conv.h"

namespace lazuli::nn {

namespace {

[[noreturn]] void fail(const std::string& layer, const std::string& msg) {
  throw std::invalid_argument("[" + layer + "] " + msg);
}

array uniform_init(const Shape& shape, double scale) {
  float s = static_cast<float>(scale);
  return random::uniform(array(-s), array(s), shape);
}

std::optional<array> optional_param(const Module& m, const std::string& name) {
  return m.has_param(name) ? std::optional<array>(m.param(name)) : std::nullopt;
}

array add_bias(const Module& m, const array& y) { return m.has_param("bias") ? y + m.param("bias") : y; }

// The convolution weight (out, *kernel, in_per_group), uniform in
// +-sqrt(1 / (in_channels * prod(kernel))) as the Python classes make it.
array conv_weight(int in_channels, int out_channels, const Shape& kernel, int in_per_group) {
  double count = in_channels;
  for (int k : kernel) count *= k;
  Shape shape{out_channels};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  shape.push_back(in_per_group);
  return uniform_init(shape, std::sqrt(1.0 / count));
}

void check_groups(const std::string& layer, int in_channels, int out_channels, int groups) {
  if (groups < 1 || in_channels % groups != 0)
    fail(layer, "The number of input channels (" + std::to_string(in_channels) +
                    ") must be divisible by the number of groups (" + std::to_string(groups) + ")");
  if (out_channels % groups != 0)
    fail(layer, "The number of output channels (" + std::to_string(out_channels) +
                    ") must be divisible by the number of groups (" + std::to_string(groups) + ")");
}

}  // namespace

// ---- linear layers ----

Linear::Linear(int input_dims, int output_dims, bool bias) : Module("Linear") {
  double scale = std::sqrt(1.0 / input_dims);
  set_param("weight", uniform_init({output_dims, input_dims}, scale));
  if (bias) set_param("bias", uniform_init({output_dims}, scale));
}

array Linear::operator()(const array& x) { return linear(x, param("weight"), optional_param(*this, "bias")); }

Bilinear::Bilinear(int input1_dims, int input2_dims, int output_dims, bool bias) : Module("Bilinear") {
  double scale = std::sqrt(1.0 / input1_dims);
  set_param("weight", uniform_init({output_dims, input2_dims, input1_dims}, scale));
  if (bias) set_param("bias", uniform_init({output_dims}, scale));
}

array Bilinear::operator()(const array& x1, const array& x2) {
  return bilinear(x1, x2, param("weight"), optional_param(*this, "bias"));
}

Embedding::Embedding(int num_embeddings, int dims) : Module("Embedding") {
  set_param("weight", random::normal({num_embeddings, dims}, float32, 0.0, std::sqrt(1.0 / dims)));
}

array Embedding::operator()(const array& indices) { return embedding(indices, param("weight")); }

array Embedding::as_linear(const array& x) const { return matmul(x, transpose(param("weight"))); }

// ---- dropout ----

Dropout::Dropout(const std::string& name, double p, int spatial_dims)
    : Module(name), p_(p), spatial_dims_(spatial_dims) {
  if (p < 0 || p >= 1) fail(name, "The dropout probability " + std::to_string(p) + " is not in [0, 1)");
}

array Dropout::operator()(const array& x) {
  if (spatial_dims_ > 0 && x.ndim() != static_cast<size_t>(spatial_dims_) + 1 &&
      x.ndim() != static_cast<size_t>(spatial_dims_) + 2)
    fail(type_name(), "Received input with " + std::to_string(x.ndim()) + " dimensions. Expected " +
                          std::to_string(spatial_dims_ + 1) + " or " + std::to_string(spatial_dims_ + 2) +
                          " dimensions.");
  if (p_ == 0 || !training()) return x;
  return dropout(x, p_, spatial_dims_);
}

// ---- normalisation ----

LayerNorm::LayerNorm(int dims, double eps, bool affine, bool bias) : Module("LayerNorm"), eps_(eps) {
  if (affine) {
    set_param("weight", ones({dims}));
    if (bias) set_param("bias", zeros({dims}));
  }
}

array LayerNorm::operator()(const array& x) {
  return layer_norm(x, optional_param(*this, "weight"), optional_param(*this, "bias"), eps_);
}

RMSNorm::RMSNorm(int dims, double eps) : Module("RMSNorm"), eps_(eps) { set_param("weight", ones({dims})); }

array RMSNorm::operator()(const array& x) { return rms_norm(x, param("weight"), eps_); }

GroupNorm::GroupNorm(int num_groups, int dims, double eps, bool affine, bool pytorch_compatible)
    : Module("GroupNorm"), num_groups_(num_groups), eps_(eps), pytorch_compatible_(pytorch_compatible) {
  if (affine) {
    set_param("bias", zeros({dims}));
    set_param("weight", ones({dims}));
  }
}

array GroupNorm::operator()(const array& x) {
  return group_norm(x, num_groups_, optional_param(*this, "weight"), optional_param(*this, "bias"), eps_,
                    pytorch_compatible_);
}

InstanceNorm::InstanceNorm(int dims, double eps, bool affine) : Module("InstanceNorm"), eps_(eps) {
  if (affine) {
    set_param("weight", ones({dims}));
    set_param("bias", zeros({dims}));
  }
}

array InstanceNorm::operator()(const array& x) {
  return instance_norm(x, optional_param(*this, "weight"), optional_param(*this, "bias"), eps_);
}

BatchNorm::BatchNorm(int num_features, double eps, double momentum, bool affine, bool track_running_stats)
    : Module("BatchNorm"), eps_(eps), momentum_(momentum), track_running_stats_(track_running_stats) {
  if (affine) {
    set_param("weight", ones({num_features}));
    set_param("bias", zeros({num_features}));
  }
  if (track_running_stats) {
    set_param("running_mean", zeros({num_features}));
    set_param("running_var", ones({num_features}));
    keep_frozen("running_mean");
    keep_frozen("running_var");
  }
}

array BatchNorm::operator()(const array& x) {
  if (x.ndim() < 2 || x.ndim() > 4)
    fail("BatchNorm", "Expected input tensor to have 2, 3 or 4 dimensions, but got " + std::to_string(x.ndim()));
  std::vector<int> axes;
  for (int i = 0; i + 1 < static_cast<int>(x.ndim()); ++i) axes.push_back(i);
  array batch_mean = mean(x, axes);
  array batch_var = var(x, axes);
  if (track_running_stats_ && training()) {
    set_param("running_mean", (1 - momentum_) * param("running_mean") + momentum_ * batch_mean);
    set_param("running_var", (1 - momentum_) * param("running_var") + momentum_ * batch_var);
  } else if (track_running_stats_) {
    batch_mean = param("running_mean");
    batch_var = param("running_var");
  }
  return batch_norm(x, batch_mean, batch_var, optional_param(*this, "weight"), optional_param(*this, "bias"), eps_);
}

// ---- convolutions ----

namespace {
Shape kernel_shape(std::pair<int, int> k) { return {k.first, k.second}; }
Shape kernel_shape(std::tuple<int, int, int> k) { return {std::get<0>(k), std::get<1>(k), std::get<2>(k)}; }
}  // namespace

Conv1d::Conv1d(int in_channels, int out_channels, int kernel_size, int stride, int padding, int dilation, int groups,
               bool bias)
    : Module("Conv1d"), stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
  check_groups("Conv1d", in_channels, out_channels, groups);
  set_param("weight", conv_weight(in_channels, out_channels, {kernel_size}, in_channels / groups));
  if (bias) set_param("bias", zeros({out_channels}));
}

array Conv1d::operator()(const array& x) {
  return add_bias(*this, conv1d(x, param("weight"), stride_, padding_, dilation_, groups_));
}

Conv2d::Conv2d(int in_channels, int out_channels, Pair kernel_size, Pair stride, Pair padding, Pair dilation,
               int groups, bool bias)
    : Module("Conv2d"), stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
  check_groups("Conv2d", in_channels, out_channels, groups);
  set_param("weight", conv_weight(in_channels, out_channels, kernel_shape(kernel_size), in_channels / groups));
  if (bias) set_param("bias", zeros({out_channels}));
}

array Conv2d::operator()(const array& x) {
  return add_bias(*this, conv2d(x, param("weight"), stride_, padding_, dilation_, groups_));
}

Conv3d::Conv3d(int in_channels, int out_channels, Triple kernel_size, Triple stride, Triple padding,
               Triple dilation, bool bias)
    : Module("Conv3d"), stride_(stride), padding_(padding), dilation_(dilation) {
  set_param("weight", conv_weight(in_channels, out_channels, kernel_shape(kernel_size), in_channels));
  if (bias) set_param("bias", zeros({out_channels}));
}

array Conv3d::operator()(const array& x) {
  return add_bias(*this, conv3d(x, param("weight"), stride_, padding_, dilation_));
}

ConvTranspose1d::ConvTranspose1d(int in_channels, int out_channels, int kernel_size, int stride, int padding,
                                 int dilation, int output_padding, bool bias)
    : Module("ConvTranspose1d"),
      stride_(stride),
      padding_(padding),
      dilation_(dilation),
      output_padding_(output_padding) {
  set_param("weight", conv_weight(in_channels, out_channels, {kernel_size}, in_channels));
  if (bias) set_param("bias", zeros({out_channels}));
}

array ConvTranspose1d::operator()(const array& x) {
  return add_bias(*this, conv_transpose1d(x, param("weight"), stride_, padding_, dilation_, output_padding_));
}

ConvTranspose2d::ConvTranspose2d(int in_channels, int out_channels, Pair kernel_size, Pair stride, Pair padding,
                                 Pair dilation, Pair output_padding, bool bias)
    : Module("ConvTranspose2d"),
      stride_(stride),
      padding_(padding),
      dilation_(dilation),
      output_padding_(output_padding) {
  set_param("weight", conv_weight(in_channels, out_channels, kernel_shape(kernel_size), in_channels));
  if (bias) set_param("bias", zeros({out_channels}));
}

array ConvTranspose2d::operator()(const array& x) {
  return add_bias(*this, conv_transpose2d(x, param("weight"), stride_, padding_, dilation_, output_padding_));
}

ConvTranspose3d::ConvTranspose3d(int in_channels, int out_channels, Triple kernel_size, Triple stride,
                                 Triple padding, Triple dilation, Triple output_padding, bool bias)
    : Module("ConvTranspose3d"),
      stride_(stride),
      padding_(padding),
      dilation_(dilation),
      output_padding_(output_padding) {
  set_param("weight", conv_weight(in_channels, out_channels, kernel_shape(kernel_size), in_channels));
  if (bias) set_param("bias", zeros({out_channels}));
}

array ConvTranspose3d::operator()(const array& x) {
  return add_bias(*this, conv_transpose3d(x, param("weight"), stride_, padding_, dilation_, output_padding_));
}

// ---- pooling ----

namespace {
// `value` with one entry per spatial axis (a single entry is repeated).
std::vector<int> per_axis(const std::string& layer, const char* what, std::vector<int> value, int n) {
  if (value.size() == 1) value.assign(n, value[0]);
  if (static_cast<int>(value.size()) != n)
    fail(layer, std::string("'") + what + "' must be an integer or a tuple containing " + std::to_string(n) +
                    (n == 1 ? " integer" : " integers"));
  return value;
}
}  // namespace

Pool::Pool(const std::string& name, PoolFn pool, int spatial_dims, std::vector<int> kernel_size,
           std::optional<std::vector<int>> stride, std::vector<int> padding)
    : Module(name),
      pool_(pool),
      kernel_size_(per_axis(name, "kernel_size", std::move(kernel_size), spatial_dims)),
      stride_(stride ? per_axis(name, "stride", std::move(*stride), spatial_dims) : kernel_size_),
      padding_(per_axis(name, "padding", std::move(padding), spatial_dims)) {}

array Pool::operator()(const array& x) { return pool_(x, kernel_size_, stride_, padding_, {}); }

// ---- activations ----

GELU::GELU(const std::string& approx)
    : Activation("GELU", [approx]() -> std::function<array(const array&)> {
        if (approx == "none") return [](const array& x) { return gelu(x); };
        if (approx == "precise" || approx == "tanh") return [](const array& x) { return gelu_approx(x); };
        if (approx == "fast") return [](const array& x) { return gelu_fast_approx(x); };
        fail("GELU", "The approximation should be in ['none', 'precise', 'tanh', 'fast'] but '" + approx +
                         "' was given");
      }()) {}

PReLU::PReLU(int num_parameters, double init) : Module("PReLU") {
  set_param("weight", full({num_parameters}, static_cast<float>(init)));
}

array PReLU::operator()(const array& x) { return prelu(x, param("weight")); }

}  // namespace lazuli::nn
