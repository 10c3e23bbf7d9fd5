// The C++ layer classes of lazuli::nn, mirroring the Python classes of lazuli.nn (same
// parameter names, shapes, defaults and initialisation). Each holds its parameters and
// settings and calls the math of lazuli/nn/functional.h (or the conv ops of lazuli/conv.h).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "lazuli/nn/functional.h"
#include "lazuli/nn/module.h"

namespace lazuli::nn {

// ---- linear layers ----

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  array operator()(const array& x) override { return x; }
};

// y = x W^T + b; W (output_dims, input_dims) and b uniform in +-1/sqrt(input_dims).
class Linear : public Module {
 public:
  Linear(int input_dims, int output_dims, bool bias = true);
  array operator()(const array& x) override;
};

// y[o] = x1^T W[o] x2 + b[o]; W (output_dims, input2_dims, input1_dims), uniform in
// +-1/sqrt(input1_dims).
class Bilinear : public Module {
 public:
  Bilinear(int input1_dims, int input2_dims, int output_dims, bool bias = true);
  array operator()(const array& x1, const array& x2);
};

// Rows of a (num_embeddings, dims) table drawn from N(0, 1/dims).
class Embedding : public Module {
 public:
  Embedding(int num_embeddings, int dims);
  array operator()(const array& indices) override;
  // x @ weight.T: the table used as an output projection (tied weights).
  array as_linear(const array& x) const;
};

// ---- dropout (active in training mode only) ----

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Dropout("Dropout", p, 0) {}
  array operator()(const array& x) override;

 protected:
  Dropout(const std::string& name, double p, int spatial_dims);

 private:
  double p_;
  int spatial_dims_;
};
// Zeroes whole channels of (N, H, W, C) or (H, W, C) inputs.
class Dropout2d : public Dropout {
 public:
  explicit Dropout2d(double p = 0.5) : Dropout("Dropout2d", p, 2) {}
};
// Zeroes whole channels of (N, D, H, W, C) or (D, H, W, C) inputs.
class Dropout3d : public Dropout {
 public:
  explicit Dropout3d(double p = 0.5) : Dropout("Dropout3d", p, 3) {}
};

// ---- normalisation (channels last) ----

class LayerNorm : public Module {
 public:
  LayerNorm(int dims, double eps = 1e-5, bool affine = true, bool bias = true);
  array operator()(const array& x) override;

 private:
  double eps_;
};

class RMSNorm : public Module {
 public:
  RMSNorm(int dims, double eps = 1e-5);
  array operator()(const array& x) override;

 private:
  double eps_;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int num_groups, int dims, double eps = 1e-5, bool affine = true, bool pytorch_compatible = false);
  array operator()(const array& x) override;

 private:
  int num_groups_;
  double eps_;
  bool pytorch_compatible_;
};

class InstanceNorm : public Module {
 public:
  InstanceNorm(int dims, double eps = 1e-5, bool affine = false);
  array operator()(const array& x) override;

 private:
  double eps_;
};

// Batch statistics in training (updating running_mean / running_var with `momentum`),
// the running ones in evaluation mode. The running statistics are parameters (saved
// with the weights) that stay frozen.
class BatchNorm : public Module {
 public:
  BatchNorm(int num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
            bool track_running_stats = true);
  array operator()(const array& x) override;

 private:
  double eps_;
  double momentum_;
  bool track_running_stats_;
};

// ---- convolutions (channels last) ----
// Weights (out_channels, *kernel_size, in_channels / groups), uniform in
// +-sqrt(1 / (in_channels * prod(kernel_size))); bias zero.

class Conv1d : public Module {
 public:
  Conv1d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         int groups = 1, bool bias = true);
  array operator()(const array& x) override;

 private:
  int stride_, padding_, dilation_, groups_;
};

class Conv2d : public Module {
 public:
  using Pair = std::pair<int, int>;
  Conv2d(int in_channels, int out_channels, Pair kernel_size, Pair stride = {1, 1}, Pair padding = {0, 0},
         Pair dilation = {1, 1}, int groups = 1, bool bias = true);
  Conv2d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         int groups = 1, bool bias = true)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride}, {padding, padding},
               {dilation, dilation}, groups, bias) {}
  array operator()(const array& x) override;

 private:
  Pair stride_, padding_, dilation_;
  int groups_;
};

class Conv3d : public Module {
 public:
  using Triple = std::tuple<int, int, int>;
  Conv3d(int in_channels, int out_channels, Triple kernel_size, Triple stride = {1, 1, 1},
         Triple padding = {0, 0, 0}, Triple dilation = {1, 1, 1}, bool bias = true);
  Conv3d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         bool bias = true)
      : Conv3d(in_channels, out_channels, {kernel_size, kernel_size, kernel_size}, {stride, stride, stride},
               {padding, padding, padding}, {dilation, dilation, dilation}, bias) {}
  array operator()(const array& x) override;

 private:
  Triple stride_, padding_, dilation_;
};

class ConvTranspose1d : public Module {
 public:
  ConvTranspose1d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0,
                  int dilation = 1, int output_padding = 0, bool bias = true);
  array operator()(const array& x) override;

 private:
  int stride_, padding_, dilation_, output_padding_;
};

class ConvTranspose2d : public Module {
 public:
  using Pair = std::pair<int, int>;
  ConvTranspose2d(int in_channels, int out_channels, Pair kernel_size, Pair stride = {1, 1}, Pair padding = {0, 0},
                  Pair dilation = {1, 1}, Pair output_padding = {0, 0}, bool bias = true);
  ConvTranspose2d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0,
                  int dilation = 1, int output_padding = 0, bool bias = true)
      : ConvTranspose2d(in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride}, {padding, padding},
                        {dilation, dilation}, {output_padding, output_padding}, bias) {}
  array operator()(const array& x) override;

 private:
  Pair stride_, padding_, dilation_, output_padding_;
};

class ConvTranspose3d : public Module {
 public:
  using Triple = std::tuple<int, int, int>;
  ConvTranspose3d(int in_channels, int out_channels, Triple kernel_size, Triple stride = {1, 1, 1},
                  Triple padding = {0, 0, 0}, Triple dilation = {1, 1, 1}, Triple output_padding = {0, 0, 0},
                  bool bias = true);
  ConvTranspose3d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0,
                  int dilation = 1, int output_padding = 0, bool bias = true)
      : ConvTranspose3d(in_channels, out_channels, {kernel_size, kernel_size, kernel_size},
                        {stride, stride, stride}, {padding, padding, padding}, {dilation, dilation, dilation},
                        {output_padding, output_padding, output_padding}, bias) {}
  array operator()(const array& x) override;

 private:
  Triple stride_, padding_, dilation_, output_padding_;
};

// ---- pooling (channels last; stride defaults to kernel_size) ----

class Pool : public Module {
 public:
  using PoolFn = array (*)(const array&, const std::vector<int>&, const std::vector<int>&, const std::vector<int>&,
                           S);
  // One value per spatial axis for each setting; a single value is used for every axis.
  Pool(const std::string& name, PoolFn pool, int spatial_dims, std::vector<int> kernel_size,
       std::optional<std::vector<int>> stride, std::vector<int> padding);
  array operator()(const array& x) override;

 private:
  PoolFn pool_;
  std::vector<int> kernel_size_, stride_, padding_;
};

// MaxPool1d(kernel_size, stride = kernel_size, padding = 0), and so on.
#define LAZULI_NN_POOL(Name, fn, dims)                                                                    \
  class Name : public Pool {                                                                              \
   public:                                                                                                \
    explicit Name(std::vector<int> kernel_size, std::optional<std::vector<int>> stride = std::nullopt,    \
                  std::vector<int> padding = {0})                                                         \
        : Pool(#Name, &fn, dims, std::move(kernel_size), std::move(stride), std::move(padding)) {}        \
    explicit Name(int kernel_size, std::optional<int> stride = std::nullopt, int padding = 0)             \
        : Name(std::vector<int>{kernel_size},                                                             \
               stride ? std::optional<std::vector<int>>(std::vector<int>{*stride}) : std::nullopt,         \
               std::vector<int>{padding}) {}                                                              \
  };
LAZULI_NN_POOL(MaxPool1d, max_pool, 1)
LAZULI_NN_POOL(MaxPool2d, max_pool, 2)
LAZULI_NN_POOL(MaxPool3d, max_pool, 3)
LAZULI_NN_POOL(AvgPool1d, avg_pool, 1)
LAZULI_NN_POOL(AvgPool2d, avg_pool, 2)
LAZULI_NN_POOL(AvgPool3d, avg_pool, 3)
#undef LAZULI_NN_POOL

// ---- activations ----

// A module without parameters that applies fn.
class Activation : public Module {
 public:
  Activation(const std::string& name, std::function<array(const array&)> fn)
      : Module(name), fn_(std::move(fn)) {}
  array operator()(const array& x) override { return fn_(x); }

 private:
  std::function<array(const array&)> fn_;
};

#define LAZULI_NN_ACTIVATION(Name, fn) \
  class Name : public Activation {     \
   public:                             \
    Name() : Activation(#Name, [](const array& x) { return lazuli::nn::fn(x); }) {} \
  };
LAZULI_NN_ACTIVATION(Sigmoid, sigmoid)
LAZULI_NN_ACTIVATION(Mish, mish)
LAZULI_NN_ACTIVATION(ReLU, relu)
LAZULI_NN_ACTIVATION(ReLU2, relu2)
LAZULI_NN_ACTIVATION(ReLU6, relu6)
LAZULI_NN_ACTIVATION(Softplus, softplus)
LAZULI_NN_ACTIVATION(Softsign, softsign)
LAZULI_NN_ACTIVATION(SiLU, silu)
LAZULI_NN_ACTIVATION(LogSigmoid, log_sigmoid)
LAZULI_NN_ACTIVATION(Tanh, tanh)
LAZULI_NN_ACTIVATION(Hardswish, hardswish)
LAZULI_NN_ACTIVATION(SELU, selu)
LAZULI_NN_ACTIVATION(HardTanh, hard_tanh)
LAZULI_NN_ACTIVATION(HardShrink, hard_shrink)
LAZULI_NN_ACTIVATION(Softmax, softmax)
LAZULI_NN_ACTIVATION(Softmin, softmin)
LAZULI_NN_ACTIVATION(LogSoftmax, log_softmax)
#undef LAZULI_NN_ACTIVATION

class GLU : public Activation {
 public:
  explicit GLU(int axis = -1) : Activation("GLU", [axis](const array& x) { return glu(x, axis); }) {}
};
class LeakyReLU : public Activation {
 public:
  explicit LeakyReLU(double negative_slope = 1e-2)
      : Activation("LeakyReLU", [negative_slope](const array& x) { return leaky_relu(x, negative_slope); }) {}
};
class ELU : public Activation {
 public:
  explicit ELU(double alpha = 1.0) : Activation("ELU", [alpha](const array& x) { return elu(x, alpha); }) {}
};
class CELU : public Activation {
 public:
  explicit CELU(double alpha = 1.0) : Activation("CELU", [alpha](const array& x) { return celu(x, alpha); }) {}
};
class Softshrink : public Activation {
 public:
  explicit Softshrink(double lambd = 0.5)
      : Activation("Softshrink", [lambd](const array& x) { return softshrink(x, lambd); }) {}
};
class Step : public Activation {
 public:
  explicit Step(double threshold = 0.0)
      : Activation("Step", [threshold](const array& x) { return step(x, threshold); }) {}
};
// approx: "none" (exact), "precise" or "tanh" (tanh approximation), "fast" (x sigmoid(1.702 x)).
class GELU : public Activation {
 public:
  explicit GELU(const std::string& approx = "none");
};
// max(x, 0) + a min(x, 0) with a learned `weight` a of num_parameters values.
class PReLU : public Module {
 public:
  explicit PReLU(int num_parameters = 1, double init = 0.25);
  array operator()(const array& x) override;
};

}  // namespace lazuli::nn
