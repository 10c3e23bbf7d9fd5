// Python bindings of lazuli::nn's functional math into the private submodule lazuli.core._nn.
// The public names (lazuli.nn.relu, lazuli.nn.losses.*, lazuli.nn.init.*, the layers) are
// defined by the Python package lazuli.nn on top of these.
#include "nn_ops.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>

#include "convert.h"
#include "lazuli/nn/functional.h"
#include "lazuli/nn/optimizers.h"

using lz::array;
using lz::Dtype;
using lz::Shape;
namespace py = lz::py;
namespace fn = lz::nn;

std::optional<array> opt_array(nb::handle a) {
  if (a.is_none()) return std::nullopt;
  return py::to_array(a);
}

namespace {

Shape shape_of(nb::handle obj, const char* op) {
  try {
    if (!PyUnicode_Check(obj.ptr())) return py::to_shape(obj);
  } catch (const std::bad_cast&) {
  }
  throw nb::type_error((std::string("[") + op + "] shape must be a sequence of ints.").c_str());
}

using Unary = array (*)(const array&, lz::StreamOrDevice);
using WithAxis = array (*)(const array&, int, lz::StreamOrDevice);
using WithScalar = array (*)(const array&, double, lz::StreamOrDevice);
using Pair = array (*)(const array&, const array&, const std::string&, lz::StreamOrDevice);

void init_activations(nb::module_& m) {
  const std::pair<const char*, Unary> unary[] = {
      {"sigmoid", &fn::sigmoid},         {"relu", &fn::relu},       {"relu2", &fn::relu2},
      {"relu6", &fn::relu6},             {"softplus", &fn::softplus}, {"softsign", &fn::softsign},
      {"silu", &fn::silu},               {"log_sigmoid", &fn::log_sigmoid}, {"gelu", &fn::gelu},
      {"gelu_approx", &fn::gelu_approx}, {"gelu_fast_approx", &fn::gelu_fast_approx},
      {"selu", &fn::selu},               {"mish", &fn::mish},       {"hardswish", &fn::hardswish},
      {"tanh", &fn::tanh},
  };
  for (auto [name, f] : unary)
    m.def(name, [f](nb::handle x) { return f(py::to_array(x), {}); }, "x"_a);

  const std::pair<const char*, WithAxis> with_axis[] = {
      {"log_softmax", &fn::log_softmax}, {"softmax", &fn::softmax}, {"softmin", &fn::softmin}, {"glu", &fn::glu}};
  for (auto [name, f] : with_axis)
    m.def(name, [f](nb::handle x, int axis) { return f(py::to_array(x), axis, {}); }, "x"_a, "axis"_a = -1);

  struct Scalar {
    const char* name;
    WithScalar f;
    const char* arg;
    double dflt;
  };
  const Scalar with_scalar[] = {
      {"leaky_relu", &fn::leaky_relu, "negative_slope", 0.01}, {"elu", &fn::elu, "alpha", 1.0},
      {"celu", &fn::celu, "alpha", 1.0},                       {"softshrink", &fn::softshrink, "lambd", 0.5},
      {"hard_shrink", &fn::hard_shrink, "lambd", 0.5},         {"step", &fn::step, "threshold", 0.0},
  };
  for (const Scalar& a : with_scalar)
    m.def(a.name, [f = a.f](nb::handle x, double v) { return f(py::to_array(x), v, {}); }, "x"_a,
          nb::arg(a.arg) = a.dflt);

  m.def("prelu", [](nb::handle x, nb::handle alpha) { return fn::prelu(py::to_array(x), py::to_array(alpha)); },
        "x"_a, "alpha"_a);
  m.def(
      "hard_tanh",
      [](nb::handle x, double lo, double hi) { return fn::hard_tanh(py::to_array(x), lo, hi); }, "x"_a,
      "min_val"_a = -1.0, "max_val"_a = 1.0);
}

void init_losses(nb::module_& m) {
  m.def(
      "cross_entropy",
      [](nb::handle logits, nb::handle targets, nb::handle weights, int axis, double label_smoothing,
         const std::string& reduction) {
        return fn::cross_entropy(py::to_array(logits), py::to_array(targets), opt_array(weights), axis,
                                 label_smoothing, reduction);
      },
      "logits"_a, "targets"_a, "weights"_a = nb::none(), "axis"_a = -1, "label_smoothing"_a = 0.0,
      "reduction"_a = "none");
  m.def(
      "binary_cross_entropy",
      [](nb::handle inputs, nb::handle targets, nb::handle weights, bool with_logits, const std::string& reduction) {
        return fn::binary_cross_entropy(py::to_array(inputs), py::to_array(targets), opt_array(weights),
                                        with_logits, reduction);
      },
      "inputs"_a, "targets"_a, "weights"_a = nb::none(), "with_logits"_a = true, "reduction"_a = "mean");

  struct PairLoss {
    const char* name;
    Pair f;
    const char* a;
    const char* b;
    const char* reduction;
  };
  const PairLoss pairs[] = {
      {"l1_loss", &fn::l1_loss, "predictions", "targets", "mean"},
      {"mse_loss", &fn::mse_loss, "predictions", "targets", "mean"},
      {"hinge_loss", &fn::hinge_loss, "inputs", "targets", "none"},
      {"log_cosh_loss", &fn::log_cosh_loss, "inputs", "targets", "none"},
  };
  for (const PairLoss& p : pairs)
    m.def(
        p.name,
        [f = p.f](nb::handle a, nb::handle b, const std::string& reduction) {
          return f(py::to_array(a), py::to_array(b), reduction, {});
        },
        nb::arg(p.a), nb::arg(p.b), nb::arg("reduction") = p.reduction);

  m.def(
      "nll_loss",
      [](nb::handle inputs, nb::handle targets, int axis, const std::string& reduction) {
        return fn::nll_loss(py::to_array(inputs), py::to_array(targets), axis, reduction);
      },
      "inputs"_a, "targets"_a, "axis"_a = -1, "reduction"_a = "none");
  m.def(
      "gaussian_nll_loss",
      [](nb::handle inputs, nb::handle targets, nb::handle vars, bool full, double eps, const std::string& reduction) {
        return fn::gaussian_nll_loss(py::to_array(inputs), py::to_array(targets), py::to_array(vars), full, eps,
                                     reduction);
      },
      "inputs"_a, "targets"_a, "vars"_a, "full"_a = false, "eps"_a = 1e-6, "reduction"_a = "mean");
  m.def(
      "kl_div_loss",
      [](nb::handle inputs, nb::handle targets, int axis, const std::string& reduction) {
        return fn::kl_div_loss(py::to_array(inputs), py::to_array(targets), axis, reduction);
      },
      "inputs"_a, "targets"_a, "axis"_a = -1, "reduction"_a = "none");
  m.def(
      "smooth_l1_loss",
      [](nb::handle predictions, nb::handle targets, double beta, const std::string& reduction) {
        return fn::smooth_l1_loss(py::to_array(predictions), py::to_array(targets), beta, reduction);
      },
      "predictions"_a, "targets"_a, "beta"_a = 1.0, "reduction"_a = "mean");
  m.def(
      "triplet_loss",
      [](nb::handle anchors, nb::handle positives, nb::handle negatives, int axis, int p, double margin, double eps,
         const std::string& reduction) {
        return fn::triplet_loss(py::to_array(anchors), py::to_array(positives), py::to_array(negatives), axis, p,
                                margin, eps, reduction);
      },
      "anchors"_a, "positives"_a, "negatives"_a, "axis"_a = -1, "p"_a = 2, "margin"_a = 1.0, "eps"_a = 1e-6,
      "reduction"_a = "none");
  m.def(
      "huber_loss",
      [](nb::handle inputs, nb::handle targets, double delta, const std::string& reduction) {
        return fn::huber_loss(py::to_array(inputs), py::to_array(targets), delta, reduction);
      },
      "inputs"_a, "targets"_a, "delta"_a = 1.0, "reduction"_a = "none");
  m.def(
      "cosine_similarity_loss",
      [](nb::handle x1, nb::handle x2, int axis, double eps, const std::string& reduction) {
        return fn::cosine_similarity_loss(py::to_array(x1), py::to_array(x2), axis, eps, reduction);
      },
      "x1"_a, "x2"_a, "axis"_a = 1, "eps"_a = 1e-8, "reduction"_a = "none");
  m.def(
      "margin_ranking_loss",
      [](nb::handle inputs1, nb::handle inputs2, nb::handle targets, double margin, const std::string& reduction) {
        return fn::margin_ranking_loss(py::to_array(inputs1), py::to_array(inputs2), py::to_array(targets), margin,
                                       reduction);
      },
      "inputs1"_a, "inputs2"_a, "targets"_a, "margin"_a = 0.0, "reduction"_a = "none");
}

void init_layers(nb::module_& m) {
  m.def(
      "linear",
      [](nb::handle x, nb::handle weight, nb::handle bias) {
        return fn::linear(py::to_array(x), py::to_array(weight), opt_array(bias));
      },
      "x"_a, "weight"_a, "bias"_a = nb::none());
  m.def(
      "bilinear",
      [](nb::handle x1, nb::handle x2, nb::handle weight, nb::handle bias) {
        return fn::bilinear(py::to_array(x1), py::to_array(x2), py::to_array(weight), opt_array(bias));
      },
      "x1"_a, "x2"_a, "weight"_a, "bias"_a = nb::none());
  m.def(
      "embedding", [](nb::handle indices, nb::handle weight) {
        return fn::embedding(py::to_array(indices), py::to_array(weight));
      },
      "indices"_a, "weight"_a);
  m.def(
      "layer_norm",
      [](nb::handle x, nb::handle weight, nb::handle bias, double eps) {
        return fn::layer_norm(py::to_array(x), opt_array(weight), opt_array(bias), eps);
      },
      "x"_a, "weight"_a = nb::none(), "bias"_a = nb::none(), "eps"_a = 1e-5);
  m.def(
      "rms_norm",
      [](nb::handle x, nb::handle weight, double eps) { return fn::rms_norm(py::to_array(x), opt_array(weight), eps); },
      "x"_a, "weight"_a = nb::none(), "eps"_a = 1e-5);
  m.def(
      "group_norm",
      [](nb::handle x, int num_groups, nb::handle weight, nb::handle bias, double eps, bool pytorch_compatible) {
        return fn::group_norm(py::to_array(x), num_groups, opt_array(weight), opt_array(bias), eps,
                              pytorch_compatible);
      },
      "x"_a, "num_groups"_a, "weight"_a = nb::none(), "bias"_a = nb::none(), "eps"_a = 1e-5,
      "pytorch_compatible"_a = false);
  m.def(
      "instance_norm",
      [](nb::handle x, nb::handle weight, nb::handle bias, double eps) {
        return fn::instance_norm(py::to_array(x), opt_array(weight), opt_array(bias), eps);
      },
      "x"_a, "weight"_a = nb::none(), "bias"_a = nb::none(), "eps"_a = 1e-5);
  m.def(
      "batch_norm",
      [](nb::handle x, nb::handle mean, nb::handle var, nb::handle weight, nb::handle bias, double eps) {
        return fn::batch_norm(py::to_array(x), py::to_array(mean), py::to_array(var), opt_array(weight),
                              opt_array(bias), eps);
      },
      "x"_a, "mean"_a, "var"_a, "weight"_a = nb::none(), "bias"_a = nb::none(), "eps"_a = 1e-5);
  m.def(
      "dropout",
      [](nb::handle x, double p, int spatial_dims, nb::handle key) {
        return fn::dropout(py::to_array(x), p, spatial_dims, opt_array(key));
      },
      "x"_a, "p"_a, "spatial_dims"_a = 0, "key"_a = nb::none());
  m.def(
      "max_pool",
      [](nb::handle x, const std::vector<int>& kernel_size, const std::vector<int>& stride,
         const std::vector<int>& padding) { return fn::max_pool(py::to_array(x), kernel_size, stride, padding); },
      "x"_a, "kernel_size"_a, "stride"_a, "padding"_a);
  m.def(
      "avg_pool",
      [](nb::handle x, const std::vector<int>& kernel_size, const std::vector<int>& stride,
         const std::vector<int>& padding) { return fn::avg_pool(py::to_array(x), kernel_size, stride, padding); },
      "x"_a, "kernel_size"_a, "stride"_a, "padding"_a);
}

void init_initializers(nb::module_& m) {
  namespace ini = lz::nn::init;
  m.def(
      "init_constant",
      [](nb::handle shape, double value, Dtype dtype) { return ini::constant(shape_of(shape, "init.constant"), value, dtype); },
      "shape"_a, "value"_a, "dtype"_a = lz::float32);
  m.def(
      "init_normal",
      [](nb::handle shape, double mean, double std, Dtype dtype, nb::handle key) {
        return ini::normal(shape_of(shape, "init.normal"), mean, std, dtype, opt_array(key));
      },
      "shape"_a, "mean"_a = 0.0, "std"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_uniform",
      [](nb::handle shape, double low, double high, Dtype dtype, nb::handle key) {
        return ini::uniform(shape_of(shape, "init.uniform"), low, high, dtype, opt_array(key));
      },
      "shape"_a, "low"_a = 0.0, "high"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_identity",
      [](nb::handle shape, Dtype dtype) { return ini::identity(shape_of(shape, "init.identity"), dtype); }, "shape"_a,
      "dtype"_a = lz::float32);
  m.def(
      "init_glorot_normal",
      [](nb::handle shape, double gain, Dtype dtype, nb::handle key) {
        return ini::glorot_normal(shape_of(shape, "init.glorot_normal"), gain, dtype, opt_array(key));
      },
      "shape"_a, "gain"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_glorot_uniform",
      [](nb::handle shape, double gain, Dtype dtype, nb::handle key) {
        return ini::glorot_uniform(shape_of(shape, "init.glorot_uniform"), gain, dtype, opt_array(key));
      },
      "shape"_a, "gain"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_he_normal",
      [](nb::handle shape, const std::string& mode, double gain, Dtype dtype, nb::handle key) {
        return ini::he_normal(shape_of(shape, "init.he_normal"), mode, gain, dtype, opt_array(key));
      },
      "shape"_a, "mode"_a = "fan_in", "gain"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_he_uniform",
      [](nb::handle shape, const std::string& mode, double gain, Dtype dtype, nb::handle key) {
        return ini::he_uniform(shape_of(shape, "init.he_uniform"), mode, gain, dtype, opt_array(key));
      },
      "shape"_a, "mode"_a = "fan_in", "gain"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_sparse",
      [](nb::handle shape, double sparsity, double mean, double std, Dtype dtype, nb::handle key) {
        return ini::sparse(shape_of(shape, "init.sparse"), sparsity, mean, std, dtype, opt_array(key));
      },
      "shape"_a, "sparsity"_a, "mean"_a = 0.0, "std"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
  m.def(
      "init_orthogonal",
      [](nb::handle shape, double gain, Dtype dtype, nb::handle key) {
        return ini::orthogonal(shape_of(shape, "init.orthogonal"), gain, dtype, opt_array(key));
      },
      "shape"_a, "gain"_a = 1.0, "dtype"_a = lz::float32, "key"_a = nb::none());
}


// Optimizer updates: each returns (new parameter, [new state arrays]) in the C++ order.
using Result = std::pair<array, std::vector<array>>;
Result result(lz::optimizers::Update u) { return {u.parameter, u.state}; }

void init_optimizers(nb::module_& m) {
  namespace opt = lz::optimizers;
  using H = nb::handle;
  auto A = [](H h) { return py::to_array(h); };
  m.def("sgd", [A](H w, H g, H v, H lr, double momentum, double wd, double dampening, bool nesterov) {
    return result(opt::sgd(A(w), A(g), A(v), A(lr), momentum, wd, dampening, nesterov));
  }, "parameter"_a, "gradient"_a, "v"_a, "learning_rate"_a, "momentum"_a, "weight_decay"_a, "dampening"_a, "nesterov"_a);
  m.def("rmsprop", [A](H w, H g, H v, H lr, double alpha, double eps) {
    return result(opt::rmsprop(A(w), A(g), A(v), A(lr), alpha, eps));
  }, "parameter"_a, "gradient"_a, "v"_a, "learning_rate"_a, "alpha"_a, "eps"_a);
  m.def("adagrad", [A](H w, H g, H v, H lr, double eps) {
    return result(opt::adagrad(A(w), A(g), A(v), A(lr), eps));
  }, "parameter"_a, "gradient"_a, "v"_a, "learning_rate"_a, "eps"_a);
  m.def("adadelta", [A](H w, H g, H v, H u, H lr, double rho, double eps) {
    return result(opt::adadelta(A(w), A(g), A(v), A(u), A(lr), rho, eps));
  }, "parameter"_a, "gradient"_a, "v"_a, "u"_a, "learning_rate"_a, "rho"_a, "eps"_a);
  m.def("adam", [A](H w, H g, H mm, H v, H lr, H step, double b1, double b2, double eps, bool bc) {
    return result(opt::adam(A(w), A(g), A(mm), A(v), A(lr), A(step), b1, b2, eps, bc));
  }, "parameter"_a, "gradient"_a, "m"_a, "v"_a, "learning_rate"_a, "step"_a, "beta1"_a, "beta2"_a, "eps"_a,
     "bias_correction"_a);
  m.def("adamw", [A](H w, H g, H mm, H v, H lr, H step, double b1, double b2, double eps, double wd, bool bc) {
    return result(opt::adamw(A(w), A(g), A(mm), A(v), A(lr), A(step), b1, b2, eps, wd, bc));
  }, "parameter"_a, "gradient"_a, "m"_a, "v"_a, "learning_rate"_a, "step"_a, "beta1"_a, "beta2"_a, "eps"_a,
     "weight_decay"_a, "bias_correction"_a);
  m.def("adamax", [A](H w, H g, H mm, H v, H lr, double b1, double b2, double eps) {
    return result(opt::adamax(A(w), A(g), A(mm), A(v), A(lr), b1, b2, eps));
  }, "parameter"_a, "gradient"_a, "m"_a, "v"_a, "learning_rate"_a, "beta1"_a, "beta2"_a, "eps"_a);
  m.def("lion", [A](H w, H g, H mm, H lr, double b1, double b2, double wd) {
    return result(opt::lion(A(w), A(g), A(mm), A(lr), b1, b2, wd));
  }, "parameter"_a, "gradient"_a, "m"_a, "learning_rate"_a, "beta1"_a, "beta2"_a, "weight_decay"_a);
  auto adafactor_options = [](double eps1, double eps2, double clip, double decay, std::optional<double> beta1,
                              double wd, bool scale, bool relative, bool warmup) {
    return opt::AdafactorOptions{eps1, eps2, clip, decay, beta1, wd, scale, relative, warmup};
  };
  m.def("adafactor_init", [A, adafactor_options](H w, std::optional<double> beta1) {
    return opt::adafactor_init(A(w), adafactor_options(1e-30, 1e-3, 1.0, -0.8, beta1, 0.0, true, true, false));
  }, "parameter"_a, "beta_1"_a.none());
  m.def("adafactor", [A, adafactor_options](H w, H g, std::vector<array> state, H lr, H step, double eps1, double eps2,
                                             double clip, double decay, std::optional<double> beta1, double wd,
                                             bool scale, bool relative, bool warmup) {
    std::optional<array> rate;
    if (!lr.is_none()) rate = A(lr);
    return result(opt::adafactor(A(w), A(g), state, rate, A(step),
                                 adafactor_options(eps1, eps2, clip, decay, beta1, wd, scale, relative, warmup)));
  }, "parameter"_a, "gradient"_a, "state"_a, "learning_rate"_a.none(), "step"_a, "eps1"_a, "eps2"_a,
     "clip_threshold"_a, "decay_rate"_a, "beta_1"_a.none(), "weight_decay"_a, "scale_parameter"_a,
     "relative_step"_a, "warmup_init"_a);
  m.def("newton_schulz5", [A](H x, int steps) { return opt::newton_schulz5(A(x), steps); }, "x"_a, "steps"_a = 5);
  m.def("muon", [A](H w, H g, H v, H lr, double momentum, double wd, bool nesterov, int ns_steps) {
    return result(opt::muon(A(w), A(g), A(v), A(lr), momentum, wd, nesterov, ns_steps));
  }, "parameter"_a, "gradient"_a, "v"_a, "learning_rate"_a, "momentum"_a, "weight_decay"_a, "nesterov"_a,
     "ns_steps"_a);
  m.def("clip_grad_norm", [](std::vector<array> grads, double max_norm) {
    return opt::clip_grad_norm(grads, max_norm);
  }, "gradients"_a, "max_norm"_a);
}

}  // namespace

void init_nn_ops(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("_nn", "C++ math behind lazuli.nn (private; use lazuli.nn).");
  init_activations(m);
  init_losses(m);
  init_layers(m);
  init_initializers(m);
  init_optimizers(m);
  init_nn_transformer_ops(m);
  init_nn_recurrent_ops(m);
}
