// Bindings of lazuli::nn's recurrent layers, upsampling and quantized layers into
// lazuli.core._nn (the Python classes in lazuli.nn.layers hold the parameters).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lazuli/nn/functional.h"
#include "lazuli/quantized.h"
#include "nn_ops.h"

using lz::array;
namespace py = lz::py;
namespace fn = lz::nn;

namespace {

std::optional<array> maybe_array(nb::handle a) {
  if (a.is_none()) return std::nullopt;
  return py::to_array(a);
}

void init_recurrent(nb::module_& m) {
  m.def(
      "rnn",
      [](nb::handle x, nb::handle Wxh, nb::handle Whh, nb::handle bias, nb::handle hidden, nb::handle nonlinearity) {
        fn::Nonlinearity f;
        if (!nonlinearity.is_none()) {
          if (!PyCallable_Check(nonlinearity.ptr()))
            throw std::invalid_argument("[rnn] nonlinearity must be callable, got " + py::py_type_name(nonlinearity) +
                                        ".");
          nb::object callable = nb::borrow(nonlinearity);
          f = [callable](const array& a) { return py::to_array(callable(a)); };
        }
        return fn::rnn(py::to_array(x), py::to_array(Wxh), py::to_array(Whh), maybe_array(bias), maybe_array(hidden),
                       f);
      },
      "x"_a, "Wxh"_a, "Whh"_a, "bias"_a = nb::none(), "hidden"_a = nb::none(), "nonlinearity"_a = nb::none());
  m.def(
      "gru",
      [](nb::handle x, nb::handle Wx, nb::handle Wh, nb::handle b, nb::handle bhn, nb::handle hidden) {
        return fn::gru(py::to_array(x), py::to_array(Wx), py::to_array(Wh), maybe_array(b), maybe_array(bhn),
                       maybe_array(hidden));
      },
      "x"_a, "Wx"_a, "Wh"_a, "b"_a = nb::none(), "bhn"_a = nb::none(), "hidden"_a = nb::none());
  m.def(
      "lstm",
      [](nb::handle x, nb::handle Wx, nb::handle Wh, nb::handle bias, nb::handle hidden, nb::handle cell) {
        return fn::lstm(py::to_array(x), py::to_array(Wx), py::to_array(Wh), maybe_array(bias), maybe_array(hidden),
                        maybe_array(cell));
      },
      "x"_a, "Wx"_a, "Wh"_a, "bias"_a = nb::none(), "hidden"_a = nb::none(), "cell"_a = nb::none());
}

void init_upsample(nb::module_& m) {
  m.def(
      "upsample_nearest",
      [](nb::handle x, const std::vector<double>& scale_factor) {
        return fn::upsample_nearest(py::to_array(x), scale_factor);
      },
      "x"_a, "scale_factor"_a);
  using Interpolation = array (*)(const array&, const std::vector<double>&, bool, lz::StreamOrDevice);
  const std::pair<const char*, Interpolation> interpolations[] = {{"upsample_linear", &fn::upsample_linear},
                                                                  {"upsample_cubic", &fn::upsample_cubic}};
  for (auto [name, f] : interpolations)
    m.def(
        name,
        [f](nb::handle x, const std::vector<double>& scale_factor, bool align_corners) {
          return f(py::to_array(x), scale_factor, align_corners, {});
        },
        "x"_a, "scale_factor"_a, "align_corners"_a = false);
}

void init_quantized(nb::module_& m) {
  m.def(
      "quantized_linear",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle biases, nb::handle bias, int group_size, int bits,
         const std::string& mode) {
        return fn::quantized_linear(py::to_array(x), py::to_array(w), py::to_array(scales), maybe_array(biases),
                                    maybe_array(bias), group_size, bits, mode);
      },
      "x"_a, "w"_a, "scales"_a, nb::arg("biases").none(), nb::arg("bias").none(), "group_size"_a, "bits"_a,
      "mode"_a = "affine");
  m.def(
      "quantized_embedding",
      [](nb::handle indices, nb::handle w, nb::handle scales, nb::handle biases, int group_size, int bits,
         const std::string& mode) {
        return fn::quantized_embedding(py::to_array(indices), py::to_array(w), py::to_array(scales),
                                       maybe_array(biases), group_size, bits, mode);
      },
      "indices"_a, "w"_a, "scales"_a, nb::arg("biases").none(), "group_size"_a, "bits"_a, "mode"_a = "affine");
  m.def(
      "qq_linear",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle bias, int group_size, int bits,
         const std::string& mode) {
        return fn::qq_linear(py::to_array(x), py::to_array(w), maybe_array(scales), maybe_array(bias), group_size,
                             bits, mode);
      },
      "x"_a, "w"_a, nb::arg("scales").none(), nb::arg("bias").none(), "group_size"_a, "bits"_a, "mode"_a = "nvfp4");
  m.def(
      "qq_config",
      [](const std::string& mode, std::optional<int> group_size, std::optional<int> bits) {
        return lz::qq_config(mode, group_size, bits, "QQLinear");
      },
      "mode"_a, "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "The (group_size, bits) of a QQLinear in mode, checking them.");
}

}  // namespace

void init_nn_recurrent_ops(nb::module_& nn) {
  init_recurrent(nn);
  init_upsample(nn);
  init_quantized(nn);
}
